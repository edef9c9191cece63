/* ctl.h: a client of simdevd's control socket (one JSON object per line each way). */
#ifndef SIMRESTORE_CTL_H
#define SIMRESTORE_CTL_H

#include <jansson.h>

/* Connects to $SIMDEVD_CONTROL; -1 with errno on failure. */
int ctl_connect(const char *path);
int ctl_send(int fd, json_t *req);          /* does not steal req */
/* The next JSON line (NULL when the connection ended or the line is not JSON). */
json_t *ctl_recv(int fd);
/* One request, its last answer (an object with "ok"); NULL on failure. */
json_t *ctl_call(const char *path, json_t *req);

#endif
