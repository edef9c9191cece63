/* mb2_manifest.h: the files that describe an iOS 10+ backup, written and read the way
 * the device does.
 *
 *   Manifest.db    SQLite, table Files(fileID, domain, relativePath, flags, file): one row
 *                  per file (flags 1) and folder (flags 2); `file` is an MBFile object
 *                  archived with NSKeyedArchiver as a binary plist. fileID is the
 *                  lowercase hex SHA-1 of "domain-relativePath", and a file's content is
 *                  stored in the backup at <udid>/<fileID[0..1]>/<fileID>.
 *   Manifest.plist the device's identity (Lockdown), IsEncrypted, versions, date.
 *   Status.plist   SnapshotState ("new" while uploading, "finished" when whole), UUID.
 */
#ifndef SIM_MB2_MANIFEST_H
#define SIM_MB2_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plist/plist.h>

#include "world.h"

#define MB2_FLAG_FILE 1
#define MB2_FLAG_DIR 2

struct mb2_entry {
    char *domain;
    char *relpath;
    char file_id[41];
    uint32_t flags;            /* MB2_FLAG_* */
    uint32_t mode;             /* st_mode */
    uint64_t size;
    int64_t mtime;
    bool has_digest;
    unsigned char digest[20];  /* SHA-1 of the content (files of unencrypted backups) */
    bool has_key;
    unsigned char enc_key[44]; /* EncryptionKey: class (LE) + wrapped file key (encrypted backups) */
};

void mb2_file_id(const char *domain, const char *relpath, char out[41]);

/* NSKeyedArchiver MBFile for one entry (inode: any stable number). */
plist_t mb2_mbfile_new(const struct mb2_entry *e, uint64_t inode);
/* Reads Size, Mode, RelativePath and Digest back from an archived MBFile. 0 or -1
 * (with a reason in err) for anything that is not a well-formed archive. */
int mb2_mbfile_parse(const void *blob, size_t len, struct mb2_entry *out, char *err, size_t errlen);

/* Writes a Manifest.db with these entries at path (aside, then renamed). 0 or -1. */
int mb2_manifest_db_write(const char *path, const struct mb2_entry *entries, size_t n, char *err, size_t errlen);
/* Reads every row of a Manifest.db (entries' domain/relpath/fileID/flags from the
 * columns, size/mode/digest from the MBFile). 0 or -1 with a reason. */
int mb2_manifest_db_read(const char *path, struct mb2_entry **out, size_t *n, char *err, size_t errlen);
void mb2_entries_free(struct mb2_entry *entries, size_t n);

/* Manifest.plist and Status.plist contents for a backup of d (lock held for d). */
plist_t mb2_manifest_plist_new(const struct sim_device *d, bool encrypted);
/* Adds BackupKeyBag and ManifestKey (class + wrapped key) to an encrypted Manifest.plist. */
void mb2_manifest_plist_set_keys(plist_t manifest, const unsigned char *keybag, size_t keybag_len,
                                 const unsigned char manifest_key[44]);
plist_t mb2_status_plist_new(const char *snapshot_state, bool full, const char *uuid);

#endif
