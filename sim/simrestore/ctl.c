/* ctl.c: the control socket client used by sim-idevicerestore (see ctl.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define LINE_MAX_BYTES (1024 * 1024)

int ctl_connect(const char *path)
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

int ctl_send(int fd, json_t *req)
{
    char *s = json_dumps(req, JSON_COMPACT);
    if (!s)
        return -1;
    size_t len = strlen(s);
    s[len] = '\0';
    int rc = 0;
    const char *p = s;
    size_t left = len;
    while (left > 0 && rc == 0) {
        ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    if (rc == 0 && send(fd, "\n", 1, MSG_NOSIGNAL) != 1)
        rc = -1;
    free(s);
    return rc;
}

json_t *ctl_recv(int fd)
{
    size_t cap = 256, len = 0;
    char *line = malloc(cap);
    if (!line)
        return NULL;
    for (;;) {
        char c;
        ssize_t n = recv(fd, &c, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(line);
            return NULL;
        }
        if (c == '\n')
            break;
        if (len + 1 >= cap) {
            if (cap >= LINE_MAX_BYTES) {
                free(line);
                return NULL;
            }
            char *bigger = realloc(line, cap * 2);
            if (!bigger) {
                free(line);
                return NULL;
            }
            line = bigger;
            cap *= 2;
        }
        line[len++] = c;
    }
    line[len] = '\0';
    json_t *j = json_loads(line, 0, NULL);
    free(line);
    return j;
}

json_t *ctl_call(const char *path, json_t *req)
{
    int fd = ctl_connect(path);
    if (fd < 0)
        return NULL;
    json_t *last = NULL;
    if (ctl_send(fd, req) == 0) {
        json_t *j;
        while ((j = ctl_recv(fd))) {
            bool final = json_object_get(j, "ok") != NULL;
            json_decref(last);
            last = j;
            if (final)
                break;
        }
    }
    close(fd);
    return last;
}
