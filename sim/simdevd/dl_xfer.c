/* dl_xfer.c: DeviceLink file transfer, device side (format in dl_xfer.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dl.h"
#include "dl_xfer.h"

#define BLOCK 65536

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t rd32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int send_name(int fd, const char *name)
{
    size_t n = strlen(name);
    unsigned char hdr[4];
    be32(hdr, (uint32_t)n);
    return (dl_write_full(fd, hdr, 4) == 0 && dl_write_full(fd, name, n) == 0) ? 0 : -1;
}

static int send_code(int fd, unsigned char code, const void *data, uint32_t n)
{
    unsigned char hdr[5];
    be32(hdr, n + 1);
    hdr[4] = code;
    if (dl_write_full(fd, hdr, 5) != 0)
        return -1;
    return n ? dl_write_full(fd, data, n) : 0;
}

int dl_upload_begin(int fd, plist_t files, double progress, uint64_t total_bytes)
{
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageUploadFiles"));
    plist_array_append_item(a, files ? plist_copy(files) : plist_new_dict());
    plist_array_append_item(a, plist_new_real(progress));
    plist_array_append_item(a, plist_new_uint(total_bytes));
    int rc = dl_send(fd, a);
    plist_free(a);
    return rc;
}

int dl_upload_file(int fd, const char *device_name, const char *host_path, int src_fd, uint64_t size,
                   dl_progress_fn progress, void *ctx)
{
    if (send_name(fd, device_name) != 0 || send_name(fd, host_path) != 0)
        return -1;
    unsigned char *buf = malloc(BLOCK + 5);
    if (!buf)
        return -1;
    uint64_t done = 0;
    int rc = 0;
    while (done < size) {
        size_t want = size - done < BLOCK ? (size_t)(size - done) : BLOCK;
        ssize_t r = read(src_fd, buf + 5, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* the file shrank under us: tell the host this file failed */
            const char *msg = "file changed while it was being backed up";
            rc = send_code(fd, DL_CODE_ERROR_REMOTE, msg, (uint32_t)strlen(msg));
            free(buf);
            return rc;
        }
        be32(buf, (uint32_t)r + 1);
        buf[4] = DL_CODE_FILE_DATA;
        if (dl_write_full(fd, buf, (size_t)r + 5) != 0) {
            rc = -1;
            break;
        }
        done += (uint64_t)r;
        if (progress && !progress(ctx, (uint64_t)r)) {
            rc = -2;
            break;
        }
    }
    free(buf);
    if (rc != 0)
        return rc;
    return send_code(fd, DL_CODE_SUCCESS, NULL, 0);
}

int dl_upload_buffer(int fd, const char *device_name, const char *host_path, const void *buf, uint64_t size)
{
    if (send_name(fd, device_name) != 0 || send_name(fd, host_path) != 0)
        return -1;
    const unsigned char *p = buf;
    uint64_t done = 0;
    while (done < size) {
        uint32_t n = size - done < BLOCK ? (uint32_t)(size - done) : BLOCK;
        if (send_code(fd, DL_CODE_FILE_DATA, p + done, n) != 0)
            return -1;
        done += n;
    }
    return send_code(fd, DL_CODE_SUCCESS, NULL, 0);
}

int dl_upload_end(int fd, int64_t *status, char **desc, int timeout_ms)
{
    unsigned char zero[4] = { 0, 0, 0, 0 };
    if (dl_write_full(fd, zero, 4) != 0)
        return -1;
    return dl_recv_status(fd, status, desc, NULL, timeout_ms);
}

int dl_download_begin(int fd, plist_t paths, double progress)
{
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageDownloadFiles"));
    plist_array_append_item(a, plist_copy(paths));
    plist_array_append_item(a, plist_new_dict());
    plist_array_append_item(a, plist_new_real(progress));
    int rc = dl_send(fd, a);
    plist_free(a);
    return rc;
}

int dl_download_next(int fd, char **path, int timeout_ms)
{
    *path = NULL;
    unsigned char hdr[4];
    if (dl_read_full(fd, hdr, 4, timeout_ms) != 0)
        return -1;
    uint32_t n = rd32(hdr);
    if (n == 0)
        return 0;
    if (n > DL_MAX_NAME)
        return -1;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return -1;
    if (dl_read_full(fd, s, n, timeout_ms) != 0) {
        free(s);
        return -1;
    }
    s[n] = '\0';
    if (strlen(s) != n) {   /* a NUL inside a name */
        free(s);
        return -1;
    }
    *path = s;
    return 1;
}

int dl_download_body(int fd, dl_sink_fn sink, void *sink_ctx, dl_progress_fn progress, void *ctx,
                     struct dl_file_result *res, int timeout_ms)
{
    memset(res, 0, sizeof *res);
    unsigned char *buf = malloc(BLOCK);
    if (!buf)
        return -1;
    int rc = -1;
    for (;;) {
        unsigned char hdr[5];
        if (dl_read_full(fd, hdr, 5, timeout_ms) != 0)
            break;
        uint32_t n = rd32(hdr);
        if (n == 0)
            break;   /* a block always carries its code byte */
        uint32_t len = n - 1;
        unsigned char code = hdr[4];
        if (code == DL_CODE_SUCCESS) {
            if (len != 0)
                break;
            res->ok = true;
            rc = 0;
            break;
        }
        if (code == DL_CODE_ERROR_LOCAL || code == DL_CODE_ERROR_REMOTE) {
            /* keep what fits of the text, drain the rest */
            uint32_t keep = len < sizeof res->error - 1 ? len : (uint32_t)sizeof res->error - 1;
            if (dl_read_full(fd, res->error, keep, timeout_ms) != 0)
                break;
            res->error[keep] = '\0';
            uint32_t left = len - keep;
            int drained = 0;
            while (left > 0) {
                uint32_t k = left < BLOCK ? left : BLOCK;
                if (dl_read_full(fd, buf, k, timeout_ms) != 0) {
                    drained = -1;
                    break;
                }
                left -= k;
            }
            if (drained == 0) {
                if (!res->error[0])
                    snprintf(res->error, sizeof res->error, "host error code 0x%02x", code);
                rc = 0;
            }
            break;
        }
        if (code != DL_CODE_FILE_DATA)
            break;   /* unknown code: the stream cannot be trusted any more */
        uint32_t left = len;
        int failed = 0;
        while (left > 0) {
            uint32_t k = left < BLOCK ? left : BLOCK;
            if (dl_read_full(fd, buf, k, timeout_ms) != 0) {
                failed = 1;
                break;
            }
            if (!res->sink_failed && sink && sink(sink_ctx, buf, k) != 0)
                res->sink_failed = true;
            res->bytes += k;
            left -= k;
        }
        if (failed)
            break;
        if (progress && !progress(ctx, len)) {
            rc = -2;
            break;
        }
    }
    free(buf);
    return rc;
}

int dl_download_end(int fd, int64_t *status, char **desc, plist_t *payload, int timeout_ms)
{
    return dl_recv_status(fd, status, desc, payload, timeout_ms);
}
