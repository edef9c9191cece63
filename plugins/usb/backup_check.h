/* backup_check.h — checking a backup folder before restoring it (see backup_check.c). */
#ifndef REVIVE_USB_BACKUP_CHECK_H
#define REVIVE_USB_BACKUP_CHECK_H

#include "mb2.h"

typedef struct backup_facts {
    bool encrypted;
    bool manifest_encrypted;        /* Manifest.db itself is encrypted: files not checked */
    uint64_t files, bytes;          /* what lies in the folder (what the device may ask for) */
    uint64_t listed;                /* files Manifest.db lists */
    uint64_t missing, wrong_size, size_unknown;
    char first_problem[600];
} backup_facts;

/* Check DIR/<UDID> (udir). REVIVE_OK, or the first reason a device would refuse it
 * (recorded through host->fail). Never writes anything. */
int backup_check(const usb_state *st, revive_call *call, const char *udir, backup_facts *f);

#endif
