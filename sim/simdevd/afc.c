/* afc.c: com.apple.afc on the simulated phone, as far as a backup and restore need it
 * (idevicebackup2 takes /com.apple.itunes.lock_sync with an exclusive lock, reads
 * /iTunes_Control files for Info.plist, writes /iTunesRestore/RestoreApplications.plist).
 *
 * Every packet starts with a 40-byte little-endian header: "CFA6LPAA", the entire
 * length, the length of header plus its data part, a packet number the reply repeats,
 * and the operation. Paths travel NUL-terminated in the data part; file contents of a
 * write travel after it. Replies are STATUS (an 8-byte AFC error code), DATA,
 * FILE_OPEN_RES (the handle) or FILE_TELL_RES. A file lock is flock() on the handle's
 * descriptor, so two connections contend as on a phone (LOCK_NB gives "would block").
 * Paths are resolved below the media folder; ".." is refused, and nothing here makes
 * links, so nothing inside points out.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afc.h"
#include "data.h"
#include "dl.h"
#include "world.h"

#define MAX_HANDLES 64
#define MAX_READ (1024u * 1024u)

struct afc_conn {
    struct sim_world *w;
    struct sim_device *d;
    int fd;
    char root[4200];
    int handles[MAX_HANDLES];      /* fd per handle number - 1; -1 = free */
};

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static int send_packet(struct afc_conn *c, uint64_t num, uint64_t op, const void *data, size_t len)
{
    unsigned char hdr[AFC_HEADER_SIZE];
    memcpy(hdr, AFC_MAGIC, 8);
    put_le64(hdr + 8, AFC_HEADER_SIZE + len);
    put_le64(hdr + 16, AFC_HEADER_SIZE + len);
    put_le64(hdr + 24, num);
    put_le64(hdr + 32, op);
    if (dl_write_full(c->fd, hdr, sizeof hdr) != 0)
        return -1;
    return len ? dl_write_full(c->fd, data, len) : 0;
}

static int send_u64(struct afc_conn *c, uint64_t num, uint64_t op, uint64_t v)
{
    unsigned char b[8];
    put_le64(b, v);
    return send_packet(c, num, op, b, 8);
}

static int send_status(struct afc_conn *c, uint64_t num, uint64_t code)
{
    return send_u64(c, num, AFC_OP_STATUS, code);
}

static uint64_t errno_to_afc(int e)
{
    switch (e) {
    case ENOENT: return AFC_ERR_NOT_FOUND;
    case EISDIR: return AFC_ERR_IS_DIR;
    case EACCES: case EPERM: return AFC_ERR_PERM_DENIED;
    case EEXIST: return AFC_ERR_EXISTS;
    case ENOSPC: return AFC_ERR_NO_SPACE;
    case ENOTEMPTY: return AFC_ERR_DIR_NOT_EMPTY;
    case EWOULDBLOCK: return AFC_ERR_WOULD_BLOCK;
    case ENAMETOOLONG: case EINVAL: return AFC_ERR_INVALID_ARG;
    default: return AFC_ERR_IO;
    }
}

/* Resolves an AFC path (absolute or relative to the media root) to a host path. */
static int resolve(struct afc_conn *c, const char *afc_path, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "%s", c->root);
    const char *p = afc_path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        if (cl == 2 && p[0] == '.' && p[1] == '.') {
            errno = EACCES;
            return -1;
        }
        if (!(cl == 1 && p[0] == '.')) {
            if (n + 1 + cl >= len) {
                errno = ENAMETOOLONG;
                return -1;
            }
            out[n++] = '/';
            memcpy(out + n, p, cl);
            n += cl;
            out[n] = '\0';
        }
        p += cl;
    }
    return 0;
}

/* The NUL-terminated string at the start of data (len bytes), or NULL. */
static const char *cstr(const unsigned char *data, size_t len, size_t *used)
{
    const unsigned char *z = memchr(data, 0, len);
    if (!z)
        return NULL;
    if (used)
        *used = (size_t)(z - data) + 1;
    return (const char *)data;
}

static int handle_fd(struct afc_conn *c, uint64_t h)
{
    if (h == 0 || h > MAX_HANDLES)
        return -1;
    return c->handles[h - 1];
}

static void add_kv(FILE *m, const char *k, const char *v)
{
    fputs(k, m);
    fputc('\0', m);
    fputs(v, m);
    fputc('\0', m);
}

static int op_file_info(struct afc_conn *c, uint64_t num, const char *host)
{
    struct stat st;
    if (lstat(host, &st) != 0)
        return send_status(c, num, errno_to_afc(errno));
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return send_status(c, num, AFC_ERR_NO_RESOURCES);
    char v[64];
    snprintf(v, sizeof v, "%lld", (long long)st.st_size);
    add_kv(m, "st_size", v);
    snprintf(v, sizeof v, "%lld", (long long)st.st_blocks);
    add_kv(m, "st_blocks", v);
    snprintf(v, sizeof v, "%lu", (unsigned long)st.st_nlink);
    add_kv(m, "st_nlink", v);
    add_kv(m, "st_ifmt", S_ISDIR(st.st_mode) ? "S_IFDIR" : "S_IFREG");
    snprintf(v, sizeof v, "%lld", (long long)st.st_mtime * 1000000000LL);
    add_kv(m, "st_mtime", v);
    add_kv(m, "st_birthtime", v);
    fclose(m);
    int rc = send_packet(c, num, AFC_OP_DATA, buf, len);
    free(buf);
    return rc;
}

static int op_device_info(struct afc_conn *c, uint64_t num)
{
    sim_lock(c->w);
    char model[32];
    snprintf(model, sizeof model, "%s", c->d->product_type);
    uint64_t total = c->d->storage_total, avail = c->d->storage_free;
    sim_unlock(c->w);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return send_status(c, num, AFC_ERR_NO_RESOURCES);
    char v[32];
    add_kv(m, "Model", model);
    snprintf(v, sizeof v, "%llu", (unsigned long long)total);
    add_kv(m, "FSTotalBytes", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)avail);
    add_kv(m, "FSFreeBytes", v);
    add_kv(m, "FSBlockSize", "4096");
    fclose(m);
    int rc = send_packet(c, num, AFC_OP_DATA, buf, len);
    free(buf);
    return rc;
}

static int op_read_dir(struct afc_conn *c, uint64_t num, const char *host)
{
    DIR *d = opendir(host);
    if (!d)
        return send_status(c, num, errno_to_afc(errno));
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        closedir(d);
        return send_status(c, num, AFC_ERR_NO_RESOURCES);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        fputs(e->d_name, m);
        fputc('\0', m);
    }
    closedir(d);
    fclose(m);
    int rc = send_packet(c, num, AFC_OP_DATA, buf, len);
    free(buf);
    return rc;
}

static int open_flags(uint64_t mode)
{
    switch (mode) {
    case 1: return O_RDONLY;
    case 2: return O_RDWR | O_CREAT;
    case 3: return O_WRONLY | O_CREAT | O_TRUNC;
    case 4: return O_RDWR | O_CREAT | O_TRUNC;
    case 5: return O_WRONLY | O_APPEND | O_CREAT;
    case 6: return O_RDWR | O_APPEND | O_CREAT;
    default: return -1;
    }
}

/* One request. Returns -1 to drop the connection. */
static int dispatch(struct afc_conn *c, uint64_t num, uint64_t op, const unsigned char *data, size_t dlen,
                    const unsigned char *payload, size_t plen)
{
    char host[4400], host2[4400];
    const char *path;
    size_t used = 0;
    switch (op) {
    case AFC_OP_GET_DEVINFO:
        return op_device_info(c, num);
    case AFC_OP_GET_FILE_INFO:
    case AFC_OP_READ_DIR:
    case AFC_OP_MAKE_DIR:
    case AFC_OP_REMOVE_PATH:
    case AFC_OP_REMOVE_PATH_AND_CONTENTS:
        path = cstr(data, dlen, NULL);
        if (!path)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        if (resolve(c, path, host, sizeof host) != 0)
            return send_status(c, num, errno_to_afc(errno));
        if (op == AFC_OP_GET_FILE_INFO)
            return op_file_info(c, num, host);
        if (op == AFC_OP_READ_DIR)
            return op_read_dir(c, num, host);
        if (op == AFC_OP_MAKE_DIR) {
            char child[4410];
            snprintf(child, sizeof child, "%s/x", host);
            int r = sim_data_mkparents(child);
            return send_status(c, num, r == 0 ? AFC_OK : errno_to_afc(errno));
        }
        if (strcmp(host, c->root) == 0)
            return send_status(c, num, AFC_ERR_PERM_DENIED);
        if (op == AFC_OP_REMOVE_PATH_AND_CONTENTS)
            return send_status(c, num, sim_data_rmtree(host) == 0 ? AFC_OK : errno_to_afc(errno));
        {
            struct stat st;
            int r = lstat(host, &st) != 0 ? -1 : S_ISDIR(st.st_mode) ? rmdir(host) : unlink(host);
            return send_status(c, num, r == 0 ? AFC_OK : errno_to_afc(errno));
        }
    case AFC_OP_RENAME_PATH: {
        path = cstr(data, dlen, &used);
        const char *to = path ? cstr(data + used, dlen - used, NULL) : NULL;
        if (!to)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        if (resolve(c, path, host, sizeof host) != 0 || resolve(c, to, host2, sizeof host2) != 0)
            return send_status(c, num, errno_to_afc(errno));
        return send_status(c, num, rename(host, host2) == 0 ? AFC_OK : errno_to_afc(errno));
    }
    case AFC_OP_FILE_OPEN: {
        if (dlen < 9)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        int flags = open_flags(le64(data));
        path = cstr(data + 8, dlen - 8, NULL);
        if (flags < 0 || !path)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        if (resolve(c, path, host, sizeof host) != 0)
            return send_status(c, num, errno_to_afc(errno));
        int slot = -1;
        for (int i = 0; i < MAX_HANDLES && slot < 0; i++)
            if (c->handles[i] < 0)
                slot = i;
        if (slot < 0)
            return send_status(c, num, AFC_ERR_NO_RESOURCES);
        int fd = open(host, flags | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return send_status(c, num, errno_to_afc(errno));
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            close(fd);
            return send_status(c, num, AFC_ERR_IS_DIR);
        }
        c->handles[slot] = fd;
        return send_u64(c, num, AFC_OP_FILE_OPEN_RES, (uint64_t)slot + 1);
    }
    default:
        break;
    }
    /* handle operations: the handle is the first 8 bytes */
    if (op != AFC_OP_FILE_CLOSE && op != AFC_OP_FILE_LOCK && op != AFC_OP_FILE_READ && op != AFC_OP_FILE_WRITE &&
        op != AFC_OP_FILE_SEEK && op != AFC_OP_FILE_TELL && op != AFC_OP_FILE_SET_SIZE)
        return send_status(c, num, AFC_ERR_NOT_SUPPORTED);
    if (dlen < 8)
        return send_status(c, num, AFC_ERR_INVALID_ARG);
    uint64_t h = le64(data);
    int fd = handle_fd(c, h);
    if (fd < 0)
        return send_status(c, num, AFC_ERR_INVALID_ARG);
    switch (op) {
    case AFC_OP_FILE_CLOSE:
        close(fd);
        c->handles[h - 1] = -1;
        return send_status(c, num, AFC_OK);
    case AFC_OP_FILE_LOCK: {
        if (dlen < 16)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        uint64_t lop = le64(data + 8);
        int how = (lop & 2) ? LOCK_EX : (lop & 1) ? LOCK_SH : (lop & 8) ? LOCK_UN : -1;
        if (how < 0)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        if (lop & 4)
            how |= LOCK_NB;
        return send_status(c, num, flock(fd, how) == 0 ? AFC_OK : errno_to_afc(errno));
    }
    case AFC_OP_FILE_READ: {
        if (dlen < 16)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        uint64_t want = le64(data + 8);
        if (want > MAX_READ)
            want = MAX_READ;
        unsigned char *buf = malloc(want ? want : 1);
        if (!buf)
            return send_status(c, num, AFC_ERR_NO_RESOURCES);
        ssize_t r = read(fd, buf, want);
        int rc = r < 0 ? send_status(c, num, AFC_ERR_READ) : send_packet(c, num, AFC_OP_DATA, buf, (size_t)r);
        free(buf);
        return rc;
    }
    case AFC_OP_FILE_WRITE: {
        size_t off = 0;
        while (off < plen) {
            ssize_t w = write(fd, payload + off, plen - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return send_status(c, num, errno_to_afc(errno));
            off += (size_t)w;
        }
        return send_status(c, num, AFC_OK);
    }
    case AFC_OP_FILE_SEEK: {
        if (dlen < 24)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        uint64_t whence = le64(data + 8);
        int64_t offset = (int64_t)le64(data + 16);
        if (whence > 2)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        return send_status(c, num, lseek(fd, offset, (int)whence) >= 0 ? AFC_OK : AFC_ERR_INVALID_ARG);
    }
    case AFC_OP_FILE_TELL: {
        off_t pos = lseek(fd, 0, SEEK_CUR);
        return pos < 0 ? send_status(c, num, AFC_ERR_IO) : send_u64(c, num, AFC_OP_FILE_TELL_RES, (uint64_t)pos);
    }
    case AFC_OP_FILE_SET_SIZE: {
        if (dlen < 16)
            return send_status(c, num, AFC_ERR_INVALID_ARG);
        uint64_t size = le64(data + 8);
        if (size > (1ull << 40))
            return send_status(c, num, AFC_ERR_NO_SPACE);
        return send_status(c, num, ftruncate(fd, (off_t)size) == 0 ? AFC_OK : errno_to_afc(errno));
    }
    default:
        return send_status(c, num, AFC_ERR_NOT_SUPPORTED);
    }
}

static void serve(struct sim_world *w, struct sim_device *d, int fd)
{
    struct afc_conn c = { .w = w, .d = d, .fd = fd };
    for (int i = 0; i < MAX_HANDLES; i++)
        c.handles[i] = -1;
    sim_lock(w);
    char data_dir[4096];
    snprintf(data_dir, sizeof data_dir, "%s", d->data_dir);
    sim_unlock(w);
    snprintf(c.root, sizeof c.root, "%s/media", dirname(data_dir));
    char probe[4300];
    snprintf(probe, sizeof probe, "%s/x", c.root);
    if (sim_data_mkparents(probe) != 0) {
        close(fd);
        return;
    }
    unsigned char *buf = NULL;
    for (;;) {
        unsigned char hdr[AFC_HEADER_SIZE];
        if (dl_read_full(fd, hdr, sizeof hdr, -1) != 0)
            break;
        if (memcmp(hdr, AFC_MAGIC, 8) != 0)
            break;   /* not AFC: a phone drops the connection */
        uint64_t entire = le64(hdr + 8), this_len = le64(hdr + 16), num = le64(hdr + 24), op = le64(hdr + 32);
        if (this_len < AFC_HEADER_SIZE || entire < this_len || entire > AFC_MAX_PACKET + AFC_HEADER_SIZE)
            break;
        size_t body = (size_t)(entire - AFC_HEADER_SIZE);
        free(buf);
        buf = malloc(body + 1);
        if (!buf || (body && dl_read_full(fd, buf, body, DL_TIMEOUT_MS) != 0))
            break;
        buf[body] = 0;
        size_t dlen = (size_t)(this_len - AFC_HEADER_SIZE);
        if (dispatch(&c, num, op, buf, dlen, buf + dlen, body - dlen) != 0)
            break;
    }
    free(buf);
    for (int i = 0; i < MAX_HANDLES; i++)
        if (c.handles[i] >= 0)
            close(c.handles[i]);   /* closing also drops its flock */
    close(fd);
}

__attribute__((constructor)) static void register_afc(void)
{
    sim_service_register("com.apple.afc", serve);
}
