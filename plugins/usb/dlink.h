/*
 * dlink.h — DeviceLink, the message layer under mobilebackup2, spoken over a raw
 * connection (see dlink.c for why not through libimobiledevice's mobilebackup2 client).
 */
#ifndef REVIVE_USB_DLINK_H
#define REVIVE_USB_DLINK_H

#include "usb.h"

#include <sys/types.h>
#include <plist/plist.h>

typedef struct usb_dlink {
    const usb_state *st;
    revive_call *call;
    idevice_connection_t conn;
    int fd;                 /* the socket when the service runs without SSL, else -1 */
    double timeout;         /* seconds one receive may wait for the device */
} usb_dlink;

/* Connect to an already started service, do the DeviceLink version exchange and the
 * mobilebackup2 Hello. Records the error through host->fail on failure. */
int dl_open(usb_dlink *dl, const usb_state *st, revive_call *call, idevice_t dev,
            lockdownd_service_descriptor_t svc);
void dl_close(usb_dlink *dl);

int dl_send_plist(usb_dlink *dl, plist_t msg);
/* Receive one message; REVIVE_E_TIMEOUT if nothing came within `timeout` seconds (the
 * caller may wait again), REVIVE_E_DISCONNECTED if the device went away. */
int dl_recv_plist(usb_dlink *dl, plist_t *out, double timeout);

int dl_send_raw(usb_dlink *dl, const void *buf, size_t len);
int dl_recv_raw(usb_dlink *dl, void *buf, size_t len);
/* Send len bytes of a file from offset off (sendfile when the socket is plain). */
int dl_send_file(usb_dlink *dl, int filefd, off_t off, size_t len);

int dl_process_message(usb_dlink *dl, plist_t dict);                 /* steals dict */
int dl_status(usb_dlink *dl, int64_t code, const char *text, plist_t extra); /* steals extra */
int dl_request(usb_dlink *dl, const char *request, const char *target, const char *source,
               plist_t options);                                      /* steals options */

/* Name of a DL message ("DLMessageUploadFiles") or NULL. */
const char *dl_message_name(plist_t msg);

#endif /* REVIVE_USB_DLINK_H */
