/* mb2.h: what the mobilebackup2 device-side files share (mb2.c: the service, Hello,
 * Info and List; mb2_backup.c; mb2_restore.c). Not part of the module contract. */
#ifndef SIM_MB2_H
#define SIM_MB2_H

#include <stdbool.h>
#include <stdint.h>

#include <plist/plist.h>

#include "world.h"

/* mobilebackup2 ErrorCode values the simulated device reports (docs/simulator-backup.md
 * says which are seen on real devices and which are the simulator's own). */
enum {
    MB2_OK = 0,
    MB2_ERR_NO_COMMON_VERSION = 1,   /* Hello: no protocol version in common */
    MB2_ERR_NOT_SIMULATED = 2,       /* a request the simulator does not implement */
    MB2_ERR_RESTORE_MOVE = 102,      /* restored files could not be moved into place */
    MB2_ERR_STATUS = 103,            /* Status.plist unreadable or not "finished" */
    MB2_ERR_HOST_FULL = 105,         /* not enough free space on the computer */
    MB2_ERR_DEVICE_FULL = 106,       /* not enough free space on the phone for a restore */
    MB2_ERR_PASSWORD = 206,          /* encrypted backup: no password, or the wrong one */
    MB2_ERR_BACKUP_DATA = 205,       /* backup properties/database unreadable, transfers failed */
    MB2_ERR_BAD_REQUEST = 207,       /* a request without the fields it needs */
};

struct mb2_session {
    struct sim_world *w;
    struct sim_device *d;
    int fd;
    struct sim_device snap;          /* the device as it was when the request came */
    char work[4200];                 /* private scratch folder, removed at the end */
    bool reboot_after;               /* a restore asked for a reboot once the host is gone */
    bool aborted;                    /* a fault fired: drop the connection at once */
};

/* Appends a line to the device's operation log (takes the lock). */
void mb2_log(struct mb2_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends the final DLMessageProcessMessage of a request. */
int mb2_send_result(struct mb2_session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* True when id is a plausible device identifier (what goes into host paths). */
bool mb2_identifier_ok(const char *id);
/* Option helpers: a bool from dict[key] or def. */
bool mb2_opt_bool(plist_t dict, const char *key, bool def);

/* Downloads host files (paths relative to the backup folder) into local files; missing
 * ones are reported through ok[i] = false. 0, or -1 when the connection broke. */
int mb2_fetch_small(struct mb2_session *s, const char *const *paths, const char *const *dest, bool *ok, size_t n);

/* Reads a plist file (XML or binary, at most DL_MAX_MESSAGE bytes), or NULL. */
plist_t mb2_read_plist_file(const char *path);

/* The backup a request names: SourceIdentifier, else TargetIdentifier; NULL if none. */
const char *mb2_request_source(plist_t req);

/* Host requests. Each ends with mb2_send_result unless the connection broke. */
void mb2_backup(struct mb2_session *s, plist_t request);
void mb2_restore(struct mb2_session *s, plist_t request);

#endif
