/* wire.h: libsimusb's side of the usb socket: plists framed by a 4-byte big-endian length
 * (the protocol is described in docs/simulator-recovery.md). */
#ifndef SIMUSB_WIRE_H
#define SIMUSB_WIRE_H

#include <stdint.h>

#include <plist/plist.h>

#define SIMUSB_FRAME_MAX (4u * 1024u * 1024u)

/* Connects to the Unix socket at path; -1 with errno set on failure. */
int simusb_connect(const char *path);
int simusb_send(int fd, plist_t msg);
/* 0 and a plist in *out; -1 when the peer closed, timed out (timeout_ms; <0 = wait
 * forever) or sent something that is not a plist of an allowed size. */
int simusb_recv(int fd, plist_t *out, int timeout_ms);
/* One request, one answer (a dict). NULL when the connection failed. */
plist_t simusb_call(int fd, plist_t request);

/* Dict accessors that tolerate missing or mistyped keys. */
int64_t simusb_dict_int(plist_t dict, const char *key, int64_t dflt);
const char *simusb_dict_str(plist_t dict, const char *key);  /* NULL if absent; owned by dict */

#endif
