/* iboot.h: the recovery/DFU side of simdevd (S2), shared by iboot.c and restore.c.
 *
 * iboot.c serves the usb socket (sim_usb_serve in world.h) for libsimusb; restore.c is
 * the device side of a firmware restore. Both reach the phone only through world.h.
 */
#ifndef SIM_IBOOT_H
#define SIM_IBOOT_H

#include <stdbool.h>
#include <stdint.h>

#include <plist/plist.h>

#include "world.h"

/* USB product ids of an Apple device in recovery (iBoot) and DFU (SecureROM) mode. */
#define SIM_PID_RECOVERY 0x1281
#define SIM_PID_DFU 0x1227

/* The phone re-enumerates on USB without changing mode (iBoot jumped to a new image, a
 * bus reset): clients holding a handle lose it and hotplug listeners see it leave and
 * come back. Lock held. */
void sim_iboot_reenumerate(struct sim_world *w, struct sim_device *d);

/* Forgets any image uploaded to the phone and resets its DFU state machine (a reboot,
 * power loss or restore). Lock held. */
void sim_iboot_reset(struct sim_device *d);

/* The USB serial string iBoot or the SecureROM reports ("CPID:8030 CPRV:11 ... ECID:...
 * ..."), as libirecovery parses it. Lock held. */
void sim_iboot_serial(struct sim_device *d, char *out, size_t len);

/* Framing shared by the usb socket and restored: a 4-byte big-endian length, then a plist
 * (binary or XML; at most 1 MiB + 4 KiB in). recv gives a dictionary or NULL (closed, an
 * hour without a message or 30 s in the middle of one, too long, not a plist, not a
 * dictionary); send gives 0 or -1. */
plist_t sim_iboot_frame_recv(int fd);
int sim_iboot_frame_send(int fd, plist_t msg, bool xml);

#endif
