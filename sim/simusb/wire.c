/* wire.c: framing of libsimusb's messages to simdevd (see wire.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

int simusb_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!path || strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len, int timeout_ms)
{
    char *p = buf;
    while (len > 0) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int simusb_send(int fd, plist_t msg)
{
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(msg, &bin, &len);
    if (!bin || len == 0 || len > SIMUSB_FRAME_MAX) {
        free(bin);
        return -1;
    }
    unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len };
    int rc = write_all(fd, hdr, 4) == 0 && write_all(fd, bin, len) == 0 ? 0 : -1;
    free(bin);
    return rc;
}

int simusb_recv(int fd, plist_t *out, int timeout_ms)
{
    unsigned char hdr[4];
    *out = NULL;
    if (read_all(fd, hdr, 4, timeout_ms) != 0)
        return -1;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0 || len > SIMUSB_FRAME_MAX)
        return -1;
    char *buf = malloc(len);
    if (!buf)
        return -1;
    if (read_all(fd, buf, len, timeout_ms) != 0) {
        free(buf);
        return -1;
    }
    plist_t p = NULL;
    if (len >= 8 && memcmp(buf, "bplist00", 8) == 0)
        plist_from_bin(buf, len, &p);
    else
        plist_from_xml(buf, len, &p);
    free(buf);
    if (!p || plist_get_node_type(p) != PLIST_DICT) {
        if (p)
            plist_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

plist_t simusb_call(int fd, plist_t request)
{
    plist_t reply = NULL;
    /* Answers come at once, except for uploads a slow-transfer fault throttles. */
    if (simusb_send(fd, request) != 0 || simusb_recv(fd, &reply, 10 * 60 * 1000) != 0)
        return NULL;
    return reply;
}

int64_t simusb_dict_int(plist_t dict, const char *key, int64_t dflt)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_UINT)
        return dflt;
    uint64_t v = 0;
    plist_get_uint_val(n, &v);
    return (int64_t)v;
}

const char *simusb_dict_str(plist_t dict, const char *key)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    return plist_get_string_ptr(n, NULL);
}
