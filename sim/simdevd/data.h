/* data.h: the simulated phone's user data, kept as real files on the host.
 *
 * A device's data lives under d->data_dir, one folder per backup domain
 * ("HomeDomain", "CameraRollDomain", "AppDomain-com.example.app", ...) holding the
 * files by their path inside that domain, exactly as mobilebackup2 names them
 * (domain + relativePath). Backup reads these files, restore writes them, and a digest
 * over all of them lets tests assert "no data lost" or "the second phone now holds the
 * first phone's data".
 *
 * These functions take no lock and touch only the files: callers hold the world lock
 * only long enough to copy d->data_dir if they need to.
 */
#ifndef SIM_DATA_H
#define SIM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "world.h"

/* Replaces the device's data with `files` files of `bytes` bytes in total, generated
 * deterministically from `seed` (same seed, count and size: same files, byte for byte).
 * Returns 0, or -1 with errno set. */
int sim_data_seed(struct sim_device *d, uint64_t seed, int files, uint64_t bytes);

/* SHA-256 (lowercase hex) over every regular file, in byte order of "domain/path":
 * the path, the permission bits, the size and the content of each. Two phones with the
 * same digest hold the same data. Returns 0 or -1. */
int sim_data_digest(struct sim_device *d, char out[65]);

/* Removes every file and folder under data_dir (data_dir itself stays). 0 or -1. */
int sim_data_erase(struct sim_device *d);

/* One file of the device's data. */
struct sim_data_file {
    char *domain;          /* "HomeDomain" */
    char *relpath;         /* "Library/SMS/sms.db" */
    uint32_t mode;         /* st_mode (type and permission bits) */
    uint64_t size;
    int64_t mtime;         /* seconds since 1970 */
};

/* Lists the regular files under a data directory, sorted by domain then path.
 * Returns 0 and a malloc'd array (free with sim_data_list_free), or -1. */
int sim_data_list(const char *data_dir, struct sim_data_file **out, size_t *count);
void sim_data_list_free(struct sim_data_file *files, size_t count);

/* True when domain and relpath are safe to place under a data directory: a domain is
 * one non-empty path component of letters, digits and "-._"; a relpath is relative,
 * without "." or ".." components, empty components or NUL, and under 1024 bytes.
 * Everything a host sends (restore) goes through this before it touches a file. */
int sim_data_name_ok(const char *domain, const char *relpath);

/* Makes every missing folder of `path` up to (not including) its last component. */
int sim_data_mkparents(const char *path);

/* Removes a tree (not following symlinks); a missing tree is not an error. */
int sim_data_rmtree(const char *path);

/* Backup domains the device restores only when asked to restore system files. */
int sim_data_domain_is_system(const char *domain);

#endif
