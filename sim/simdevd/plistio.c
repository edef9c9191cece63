/* plistio.c: lockdownd's framing (4-byte big-endian length, then a plist) with every
 * length from the client checked, and plain full reads/writes with a timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "simcore.h"

int sim_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int sim_write_full(int fd, const void *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        ssize_t n = send(fd, (const char *)buf + put, len - put, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        put += (size_t)n;
    }
    return 0;
}

int sim_plist_recv(int fd, plist_t *out, int timeout_ms)
{
    *out = NULL;
    uint32_t be;
    if (sim_read_full(fd, &be, 4, timeout_ms) != 0)
        return -1;
    uint32_t len = ntohl(be);
    if (len == 0 || len > SIM_PLIST_MAX)
        return -1;
    char *buf = malloc(len);
    if (!buf)
        return -1;
    if (sim_read_full(fd, buf, len, 5000) != 0) {
        free(buf);
        return -1;
    }
    plist_t p = NULL;
    sim_plist_from_bytes(buf, len, &p);
    free(buf);
    if (!p)
        return -1;
    *out = p;
    return 0;
}

int sim_plist_send(int fd, plist_t p)
{
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(p, &xml, &len);
    if (!xml)
        return -1;
    uint32_t be = htonl(len);
    int r = sim_write_full(fd, &be, 4);
    if (r == 0)
        r = sim_write_full(fd, xml, len);
    free(xml);
    return r;
}

char *sim_plist_get_string(plist_t dict, const char *key)
{
    if (!dict || plist_get_node_type(dict) != PLIST_DICT)
        return NULL;
    plist_t n = plist_dict_get_item(dict, key);
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    char *s = NULL;
    plist_get_string_val(n, &s);
    return s;
}
