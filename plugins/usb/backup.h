/*
 * backup.h — shared by backup.c (take a backup) and backup_restore.c (restore one):
 * opening a sync with the device the way iTunes does (notification_proxy "sync will
 * start", the AFC sync lock, then mobilebackup2), and closing it again.
 */
#ifndef REVIVE_USB_BACKUP_H
#define REVIVE_USB_BACKUP_H

#include "mb2.h"

#include <libimobiledevice/afc.h>
#include <libimobiledevice/notification_proxy.h>

typedef struct usb_sync {
    idevice_t dev;
    np_client_t np;
    afc_client_t afc;
    uint64_t lockfile;
    plist_t values;        /* lockdown's GetValue(NULL, NULL), for Info.plist */
    bool will_encrypt;     /* com.apple.mobile.backup WillEncrypt */
    uint64_t data_used;    /* bytes of user data on the phone (disk_usage), 0 if unknown */
} usb_sync;

/* Open lockdownd (pairing if needed), take the sync lock, start mobilebackup2 and do its
 * handshake into dl. On failure everything is released and the error recorded. */
int usb_sync_begin(usb_state *st, revive_call *call, const revive_device_id *id, usb_sync *sy,
                   usb_dlink *dl);
void usb_sync_end(usb_state *st, revive_call *call, usb_sync *sy, usb_dlink *dl);

#endif /* REVIVE_USB_BACKUP_H */
