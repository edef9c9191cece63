/* dl.c: DeviceLink framing and the messages every DL service shares (see dl.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dl.h"
#include "world.h"

int dl_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t r = recv(fd, p + got, len - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int dl_write_full(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int dl_send(int fd, plist_t msg)
{
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(msg, &bin, &len);
    if (!bin)
        return -1;
    unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 8), (unsigned char)len };
    int rc = (dl_write_full(fd, hdr, 4) == 0 && dl_write_full(fd, bin, len) == 0) ? 0 : -1;
    free(bin);
    return rc;
}

int dl_recv(int fd, plist_t *out, int timeout_ms)
{
    *out = NULL;
    unsigned char hdr[4];
    if (dl_read_full(fd, hdr, 4, timeout_ms) != 0)
        return -1;
    uint32_t len = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) | hdr[3];
    if (len == 0 || len > DL_MAX_MESSAGE)
        return -1;
    char *buf = malloc(len);
    if (!buf)
        return -1;
    if (dl_read_full(fd, buf, len, timeout_ms) != 0) {
        free(buf);
        return -1;
    }
    plist_t p = NULL;
    /* through the nesting guard: libplist 2.2 overflows its stack on deep input */
    if (sim_plist_from_bytes(buf, len, (sim_plist_t *)&p) != 0)
        p = NULL;
    free(buf);
    if (!p)
        return -1;
    *out = p;
    return 0;
}

const char *dl_message_name(plist_t msg)
{
    if (!msg || plist_get_node_type(msg) != PLIST_ARRAY || plist_array_get_size(msg) < 1)
        return NULL;
    plist_t n = plist_array_get_item(msg, 0);
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    const char *s = plist_get_string_ptr(n, NULL);
    if (!s || strncmp(s, "DL", 2) != 0)
        return NULL;
    return s;
}

int dl_device_handshake(int fd, uint64_t major, uint64_t minor, int timeout_ms)
{
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageVersionExchange"));
    plist_array_append_item(a, plist_new_uint(major));
    plist_array_append_item(a, plist_new_uint(minor));
    int rc = dl_send(fd, a);
    plist_free(a);
    if (rc != 0)
        return -1;
    plist_t reply = NULL;
    if (dl_recv(fd, &reply, timeout_ms) != 0)
        return -1;
    const char *name = dl_message_name(reply);
    plist_t ok = plist_array_get_size(reply) >= 2 ? plist_array_get_item(reply, 1) : NULL;
    const char *oks = (ok && plist_get_node_type(ok) == PLIST_STRING) ? plist_get_string_ptr(ok, NULL) : NULL;
    rc = (name && strcmp(name, "DLMessageVersionExchange") == 0 && oks && strcmp(oks, "DLVersionsOk") == 0) ? 0 : -1;
    plist_free(reply);
    if (rc != 0)
        return -1;
    a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageDeviceReady"));
    rc = dl_send(fd, a);
    plist_free(a);
    return rc;
}

int dl_send_process_message(int fd, plist_t dict)
{
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageProcessMessage"));
    plist_array_append_item(a, plist_copy(dict));
    int rc = dl_send(fd, a);
    plist_free(a);
    return rc;
}

int dl_recv_process_message(int fd, plist_t *dict, int timeout_ms)
{
    *dict = NULL;
    plist_t msg = NULL;
    if (dl_recv(fd, &msg, timeout_ms) != 0)
        return -1;
    const char *name = dl_message_name(msg);
    int rc = -1;
    if (name && strcmp(name, "DLMessageDisconnect") == 0) {
        rc = 1;
    } else if (name && strcmp(name, "DLMessageProcessMessage") == 0 && plist_array_get_size(msg) == 2) {
        plist_t d = plist_array_get_item(msg, 1);
        if (d && plist_get_node_type(d) == PLIST_DICT) {
            *dict = plist_copy(d);
            rc = 0;
        }
    }
    plist_free(msg);
    return rc;
}

int dl_recv_status(int fd, int64_t *code, char **desc, plist_t *payload, int timeout_ms)
{
    *code = -1;
    if (desc)
        *desc = NULL;
    if (payload)
        *payload = NULL;
    plist_t msg = NULL;
    if (dl_recv(fd, &msg, timeout_ms) != 0)
        return -1;
    const char *name = dl_message_name(msg);
    if (!name || strcmp(name, "DLMessageStatusResponse") != 0 || plist_array_get_size(msg) < 2) {
        plist_free(msg);
        return -1;
    }
    plist_t c = plist_array_get_item(msg, 1);
    if (plist_get_node_type(c) == PLIST_UINT) {
        uint64_t v = 0;
        plist_get_uint_val(c, &v);
        *code = (int64_t)v;   /* hosts put negative ints in here: two's complement */
    } else {
        plist_free(msg);
        return -1;
    }
    if (desc && plist_array_get_size(msg) >= 3) {
        plist_t s = plist_array_get_item(msg, 2);
        if (plist_get_node_type(s) == PLIST_STRING) {
            const char *str = plist_get_string_ptr(s, NULL);
            if (str && strcmp(str, DL_EMPTY_PARAM) != 0)
                *desc = strdup(str);
        }
    }
    if (payload && plist_array_get_size(msg) >= 4)
        *payload = plist_copy(plist_array_get_item(msg, 3));
    plist_free(msg);
    return 0;
}

int dl_send_disconnect(int fd)
{
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageDisconnect"));
    plist_array_append_item(a, plist_new_string(DL_EMPTY_PARAM));
    int rc = dl_send(fd, a);
    plist_free(a);
    return rc;
}
