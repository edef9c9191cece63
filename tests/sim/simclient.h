/* simclient.h: a tiny client of simdevd for the tests in this folder: start a daemon in a
 * temp dir, speak usbmux/lockdown/control frames by hand (so that tests can also send
 * what no library would). */
#ifndef SIMCLIENT_H
#define SIMCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <plist/plist.h>

struct simd {
    pid_t pid;
    char dir[256];
    char mux[300], ctl[300];
};

/* Starts $REVIVE_BUILD_DIR/simdevd --foreground with the scenario (a path, or JSON text
 * written to a temp file when it starts with '{'). Returns 0 when the control socket answers. */
int simd_start(struct simd *s, const char *scenario);
void simd_stop(struct simd *s);
int simd_alive(struct simd *s);

int unix_connect(const char *path);
int read_all(int fd, void *buf, size_t len, int timeout_ms);
int write_all(int fd, const void *buf, size_t len);

/* usbmux: send a raw message; receive one message's plist (NULL on failure). */
int mux_send(int fd, uint32_t version, uint32_t type, uint32_t tag, const void *payload, uint32_t len);
int mux_send_plist(int fd, uint32_t tag, plist_t p);
plist_t mux_recv_plist(int fd, int timeout_ms);
/* The "Number" of a Result reply, or -1. */
long mux_result(plist_t reply);
/* ListDevices on a fresh connection; returns the device count or -1. *first_id gets the
 * first DeviceID. */
int mux_list(struct simd *s, uint32_t *first_id);
/* Connect to port on device id; returns the raw fd or -1 (result in *result). */
int mux_connect(struct simd *s, uint32_t id, uint16_t port, long *result);

/* lockdown framing */
int ld_send(int fd, plist_t p);
plist_t ld_recv(int fd, int timeout_ms);
/* QueryType on a fresh lockdown connection: 0 if the answer is right. */
int ld_query_ok(struct simd *s);

/* control: one request line, the last answer line parsed by the caller as text. */
int ctl_request(struct simd *s, const char *line, char *out, size_t outlen);

#endif
