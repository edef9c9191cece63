/* dl.h: the DeviceLink layer, device side.
 *
 * DeviceLink is how mobilebackup2 (and other "DL" services) talk: every message is a
 * plist framed by a 32-bit big-endian length, and every message is an array whose first
 * item is a string naming it ("DLMessageVersionExchange", "DLMessageProcessMessage",
 * "DLMessageUploadFiles", ...). The device speaks first: it offers its version, the host
 * answers "DLVersionsOk", the device says "DLMessageDeviceReady". File contents travel
 * outside plists, as raw length-prefixed blocks on the same connection (dl_xfer.c).
 *
 * Everything received is hostile: sizes are bounded, types are checked, a read waits at
 * most the given timeout, and any error means the caller drops the connection.
 */
#ifndef SIM_DL_H
#define SIM_DL_H

#include <stddef.h>
#include <stdint.h>

#include <plist/plist.h>

#define DL_MAX_MESSAGE (32u * 1024u * 1024u)   /* largest plist a host may send */
#define DL_TIMEOUT_MS 30000                    /* how long the device waits for the host */

/* Raw I/O with a timeout (ms, <0 = wait forever). 0 on success, -1 when the peer closed,
 * the timeout passed or the socket failed. */
int dl_read_full(int fd, void *buf, size_t len, int timeout_ms);
int dl_write_full(int fd, const void *buf, size_t len);

/* One framed plist: sent as binary; received as binary or XML. */
int dl_send(int fd, plist_t msg);
int dl_recv(int fd, plist_t *out, int timeout_ms);

/* The message name of a DL array ("DLMessage..."), or NULL when msg is not one. The
 * pointer lives as long as msg. */
const char *dl_message_name(plist_t msg);

/* Device side of the version exchange: offers (major, minor), expects DLVersionsOk,
 * then sends DLMessageDeviceReady. 0 or -1. */
int dl_device_handshake(int fd, uint64_t major, uint64_t minor, int timeout_ms);

/* ["DLMessageProcessMessage", dict] */
int dl_send_process_message(int fd, plist_t dict);
/* Receives a DLMessageProcessMessage and returns a copy of its dict (caller frees), or
 * receives DLMessageDisconnect (returns 1, *dict NULL). -1 on anything else. */
int dl_recv_process_message(int fd, plist_t *dict, int timeout_ms);

/* Receives the host's ["DLMessageStatusResponse", code, description, payload].
 * code is signed (hosts send errno-like negatives through an unsigned node); desc is
 * malloc'd or NULL when the host sent the empty marker; payload is a copy or NULL. */
int dl_recv_status(int fd, int64_t *code, char **desc, plist_t *payload, int timeout_ms);

/* ["DLMessageDisconnect", "___EmptyParameterString___"] */
int dl_send_disconnect(int fd);

/* The marker DeviceLink uses for an absent string parameter. */
#define DL_EMPTY_PARAM "___EmptyParameterString___"

#endif
