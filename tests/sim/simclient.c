/* simclient.c: see simclient.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simclient.h"

int unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int read_all(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        ssize_t n = send(fd, (const char *)buf + put, len - put, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        put += (size_t)n;
    }
    return 0;
}

int simd_start(struct simd *s, const char *scenario)
{
    memset(s, 0, sizeof *s);
    const char *build = getenv("REVIVE_BUILD_DIR");
    if (!build) {
        fprintf(stderr, "REVIVE_BUILD_DIR is not set\n");
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "/tmp/simtest.XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    char scen[400];
    if (scenario[0] == '{') {
        snprintf(scen, sizeof scen, "%s/scenario.json", s->dir);
        FILE *f = fopen(scen, "w");
        if (!f)
            return -1;
        fputs(scenario, f);
        fclose(f);
    } else {
        snprintf(scen, sizeof scen, "%s", scenario);
    }
    char exe[600], simdir[300];
    snprintf(exe, sizeof exe, "%s/simdevd", build);
    snprintf(simdir, sizeof simdir, "%s/sim", s->dir);
    snprintf(s->mux, sizeof s->mux, "%s/usbmuxd.sock", simdir);
    snprintf(s->ctl, sizeof s->ctl, "%s/control.sock", simdir);
    s->pid = fork();
    if (s->pid == 0) {
        execl(exe, exe, "--scenario", scen, "--dir", simdir, "--foreground", "--quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int fd = unix_connect(s->ctl);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (!simd_alive(s))
            return -1;
        usleep(10000);
    }
    return -1;
}

int simd_alive(struct simd *s)
{
    int st;
    return s->pid > 0 && waitpid(s->pid, &st, WNOHANG) == 0;
}

void simd_stop(struct simd *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
        s->pid = 0;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

int mux_send(int fd, uint32_t version, uint32_t type, uint32_t tag, const void *payload, uint32_t len)
{
    uint32_t h[4] = { 16 + len, version, type, tag };
    if (write_all(fd, h, sizeof h) != 0)
        return -1;
    return len ? write_all(fd, payload, len) : 0;
}

int mux_send_plist(int fd, uint32_t tag, plist_t p)
{
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(p, &xml, &len);
    int r = mux_send(fd, 1, 8, tag, xml, len);
    free(xml);
    return r;
}

plist_t mux_recv_plist(int fd, int timeout_ms)
{
    uint32_t h[4];
    if (read_all(fd, h, sizeof h, timeout_ms) != 0 || h[0] < 16 || h[0] > (1u << 20))
        return NULL;
    uint32_t n = h[0] - 16;
    char *buf = malloc(n + 1);
    if (!buf || read_all(fd, buf, n, timeout_ms) != 0) {
        free(buf);
        return NULL;
    }
    plist_t p = NULL;
    if (h[2] == 8)
        plist_from_xml(buf, n, &p);
    else if (h[2] == 1 && n == 4) {   /* binary result */
        uint32_t v;
        memcpy(&v, buf, 4);
        p = plist_new_dict();
        plist_dict_set_item(p, "MessageType", plist_new_string("Result"));
        plist_dict_set_item(p, "Number", plist_new_uint(v));
    }
    free(buf);
    return p;
}

long mux_result(plist_t reply)
{
    plist_t n = reply ? plist_dict_get_item(reply, "Number") : NULL;
    uint64_t v;
    if (!n || plist_get_node_type(n) != PLIST_UINT)
        return -1;
    plist_get_uint_val(n, &v);
    return (long)v;
}

static plist_t request(const char *type)
{
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "MessageType", plist_new_string(type));
    plist_dict_set_item(p, "ProgName", plist_new_string("simtest"));
    return p;
}

int mux_list(struct simd *s, uint32_t *first_id)
{
    int fd = unix_connect(s->mux);
    if (fd < 0)
        return -1;
    plist_t p = request("ListDevices");
    mux_send_plist(fd, 1, p);
    plist_free(p);
    plist_t r = mux_recv_plist(fd, 3000);
    close(fd);
    plist_t list = r ? plist_dict_get_item(r, "DeviceList") : NULL;
    if (!list || plist_get_node_type(list) != PLIST_ARRAY) {
        plist_free(r);
        return -1;
    }
    int n = (int)plist_array_get_size(list);
    if (n > 0 && first_id) {
        uint64_t id = 0;
        plist_get_uint_val(plist_dict_get_item(plist_array_get_item(list, 0), "DeviceID"), &id);
        *first_id = (uint32_t)id;
    }
    plist_free(r);
    return n;
}

int mux_connect(struct simd *s, uint32_t id, uint16_t port, long *result)
{
    int fd = unix_connect(s->mux);
    if (fd < 0)
        return -1;
    plist_t p = request("Connect");
    plist_dict_set_item(p, "DeviceID", plist_new_uint(id));
    plist_dict_set_item(p, "PortNumber", plist_new_uint(htons(port)));
    mux_send_plist(fd, 2, p);
    plist_free(p);
    plist_t r = mux_recv_plist(fd, 3000);
    long res = mux_result(r);
    plist_free(r);
    if (result)
        *result = res;
    if (res != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int ld_send(int fd, plist_t p)
{
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(p, &xml, &len);
    uint32_t be = htonl(len);
    int r = write_all(fd, &be, 4);
    if (r == 0)
        r = write_all(fd, xml, len);
    free(xml);
    return r;
}

plist_t ld_recv(int fd, int timeout_ms)
{
    uint32_t be;
    if (read_all(fd, &be, 4, timeout_ms) != 0)
        return NULL;
    uint32_t n = ntohl(be);
    if (n == 0 || n > (1u << 24))
        return NULL;
    char *buf = malloc(n);
    if (!buf || read_all(fd, buf, n, timeout_ms) != 0) {
        free(buf);
        return NULL;
    }
    plist_t p = NULL;
    plist_from_xml(buf, n, &p);
    free(buf);
    return p;
}

int ld_query_ok(struct simd *s)
{
    uint32_t id = 0;
    if (mux_list(s, &id) < 1)
        return -1;
    int fd = mux_connect(s, id, 62078, NULL);
    if (fd < 0)
        return -1;
    plist_t q = plist_new_dict();
    plist_dict_set_item(q, "Request", plist_new_string("QueryType"));
    ld_send(fd, q);
    plist_free(q);
    plist_t r = ld_recv(fd, 3000);
    close(fd);
    plist_t t = r ? plist_dict_get_item(r, "Type") : NULL;
    char *type = NULL;
    if (t)
        plist_get_string_val(t, &type);
    int ok = type && strcmp(type, "com.apple.mobile.lockdown") == 0;
    free(type);
    plist_free(r);
    return ok ? 0 : -1;
}

int ctl_request(struct simd *s, const char *line, char *out, size_t outlen)
{
    int fd = unix_connect(s->ctl);
    if (fd < 0)
        return -1;
    write_all(fd, line, strlen(line));
    write_all(fd, "\n", 1);
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(fd, out + got, outlen - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == outlen - 1)
            break;
    }
    out[got] = '\0';
    close(fd);
    return got ? 0 : -1;
}
