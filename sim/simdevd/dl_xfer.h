/* dl_xfer.h: DeviceLink file transfer, device side.
 *
 * File contents do not travel inside plists. After a DLMessageUploadFiles (device to
 * host) or a DLMessageDownloadFiles (host to device) message, the sender streams, for
 * each file:
 *     [u32 BE length][name bytes]                (upload: device name, then backup path;
 *                                                  download: the backup path)
 *     [u32 BE n+1][0x0c][n bytes of content]     repeated, any block size
 *     [u32 BE 1][0x00]                           file complete
 *   or [u32 BE n+1][0x06 or 0x0b][n bytes of error text]   file failed
 * and ends the batch with a zero u32. The receiver then answers with a
 * DLMessageStatusResponse (code 0, or -13 "Multi status" with a dict of per-file errors).
 */
#ifndef SIM_DL_XFER_H
#define SIM_DL_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include <plist/plist.h>

#define DL_CODE_SUCCESS 0x00
#define DL_CODE_ERROR_LOCAL 0x06
#define DL_CODE_ERROR_REMOTE 0x0b
#define DL_CODE_FILE_DATA 0x0c

#define DL_MAX_NAME 4096      /* longest path a host may name (idevicebackup2 uses the same) */

/* Called after each block moved; returns false to abort the transfer at once (a fault
 * fired). `bytes` is the size of the block. */
typedef bool (*dl_progress_fn)(void *ctx, uint64_t bytes);

/* --- upload: device to host --- */
/* ["DLMessageUploadFiles", files, progress, total_bytes] */
int dl_upload_begin(int fd, plist_t files, double progress, uint64_t total_bytes);
/* Streams src_fd (size bytes) as one file; 0, -1 on a broken connection, -2 when
 * progress asked to abort. */
int dl_upload_file(int fd, const char *device_name, const char *host_path, int src_fd, uint64_t size,
                   dl_progress_fn progress, void *ctx);
/* Same from memory. */
int dl_upload_buffer(int fd, const char *device_name, const char *host_path, const void *buf, uint64_t size);
/* Ends the batch and reads the host's status: 0 and *status set, or -1. */
int dl_upload_end(int fd, int64_t *status, char **desc, int timeout_ms);

/* --- download: host to device --- */
/* ["DLMessageDownloadFiles", paths, {}, progress] */
int dl_download_begin(int fd, plist_t paths, double progress);
/* Reads the next file header: 1 and *path (malloc'd) when a file follows, 0 at the end
 * of the batch, -1 on error. */
int dl_download_next(int fd, char **path, int timeout_ms);

/* Content of one file arrives here; return -1 to refuse more (the rest is drained). */
typedef int (*dl_sink_fn)(void *ctx, const void *buf, size_t len);
struct dl_file_result {
    bool ok;                 /* the host sent the whole file */
    bool sink_failed;        /* the sink refused part of it */
    uint64_t bytes;          /* content bytes received */
    char error[256];         /* the host's error text when !ok */
};
/* Reads one file's blocks into sink. 0 (see *res), -1 on a broken connection or a
 * protocol error, -2 when progress asked to abort. */
int dl_download_body(int fd, dl_sink_fn sink, void *sink_ctx, dl_progress_fn progress, void *ctx,
                     struct dl_file_result *res, int timeout_ms);
/* Reads the host's DLMessageStatusResponse after a batch. */
int dl_download_end(int fd, int64_t *status, char **desc, plist_t *payload, int timeout_ms);

#endif
