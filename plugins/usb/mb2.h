/*
 * mb2.h — the host side of a mobilebackup2 exchange: after Backup or Restore is
 * requested, the device drives, asking the host to send files, receive files, list,
 * create, move, remove and copy items under the backup root. mb2.c answers those
 * requests until the device reports its result.
 */
#ifndef REVIVE_USB_MB2_H
#define REVIVE_USB_MB2_H

#include "dlink.h"

typedef struct mb2_session {
    usb_state *st;
    revive_call *call;
    usb_dlink dl;
    const char *root;        /* backup root: the folder that holds <udid>/ */
    bool read_only;          /* restore: the source backup is never written */
    const char *phase;       /* progress phase: "backup" or "restore" */

    uint64_t bytes_done, bytes_total;
    uint64_t files_done, files_total;
    uint64_t reserve;        /* stop a backup when the host's free space falls below this */
    uint64_t since_check;    /* bytes written since the last free-space check */

    bool finished;           /* the device sent its final ProcessMessage */
    int64_t device_code;     /* its ErrorCode (0 = success) */
    char device_text[512];   /* its ErrorDescription */
    int refused_writes;      /* write requests refused because read_only */

    char *buf;               /* transfer buffer */
    size_t bufcap;
} mb2_session;

/* Answer the device's requests until it reports a result (REVIVE_OK with s->finished set;
 * the device's own error code is in s->device_code) or the exchange fails (a revive code,
 * recorded through host->fail). */
int mb2_run(mb2_session *s);

/* Free bytes on the file system holding path, or UINT64_MAX if unknown. */
uint64_t mb2_free_space(const char *path);

/* Read a (binary or XML) plist file of at most 64 MiB; NULL if absent or invalid. */
plist_t mb2_read_plist(const char *path);
/* Write a plist as XML aside and rename it into place; 0 or an errno. */
int mb2_write_plist(const char *path, plist_t p);
/* Whether `rel` is a safe relative path below the backup root. */
bool mb2_path_safe(const char *rel);
/* mkdir -p; 0 or an errno */
int mb2_mkdirs(const char *path, mode_t mode);

#endif /* REVIVE_USB_MB2_H */
