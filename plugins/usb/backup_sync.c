/*
 * backup_sync.c — opening and closing a backup/restore session with a device.
 *
 * Order as iTunes (and idevicebackup2) does it: post "syncWillStart", open
 * /com.apple.itunes.lock_sync over AFC and take an exclusive lock on it (so no other
 * sync runs meanwhile; the device may hold it briefly, hence the retries), post
 * "syncDidStart", start com.apple.mobilebackup2 with the pairing record's escrow bag
 * (lets the device back up while locked), and at the end unlock and post
 * "syncDidFinish". notification_proxy and AFC are courtesy: a device without them still
 * gets its backup, with a log line saying so.
 */
#include "backup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void post(usb_sync *sy, const char *what)
{
    if (sy->np)
        np_post_notification(sy->np, what);
}

int usb_sync_begin(usb_state *st, revive_call *call, const revive_device_id *id, usb_sync *sy,
                   usb_dlink *dl)
{
    memset(sy, 0, sizeof *sy);
    memset(dl, 0, sizeof *dl);
    dl->fd = -1;
    lockdownd_client_t ld = NULL;
    int rc = usb_lockdown_open(st, call, id->udid, &sy->dev, &ld);
    if (rc != REVIVE_OK)
        return rc;

    lockdownd_get_value(ld, NULL, NULL, &sy->values);
    plist_t we = NULL;
    if (lockdownd_get_value(ld, "com.apple.mobile.backup", "WillEncrypt", &we) == LOCKDOWN_E_SUCCESS &&
        we && plist_get_node_type(we) == PLIST_BOOLEAN) {
        uint8_t b = 0;
        plist_get_bool_val(we, &b);
        sy->will_encrypt = b != 0;
    }
    plist_free(we);
    plist_t du = NULL;
    if (lockdownd_get_value(ld, "com.apple.disk_usage", NULL, &du) == LOCKDOWN_E_SUCCESS && du &&
        plist_get_node_type(du) == PLIST_DICT) {
        uint64_t cap = 0, avail = 0;
        plist_t n = plist_dict_get_item(du, "TotalDataCapacity");
        if (n && plist_get_node_type(n) == PLIST_UINT)
            plist_get_uint_val(n, &cap);
        n = plist_dict_get_item(du, "TotalDataAvailable");
        if (n && plist_get_node_type(n) == PLIST_UINT)
            plist_get_uint_val(n, &avail);
        if (cap > avail)
            sy->data_used = cap - avail;
    }
    plist_free(du);

    lockdownd_service_descriptor_t svc = NULL;
    if (lockdownd_start_service(ld, NP_SERVICE_NAME, &svc) == LOCKDOWN_E_SUCCESS && svc) {
        np_client_new(sy->dev, svc, &sy->np);
        lockdownd_service_descriptor_free(svc);
        svc = NULL;
    } else {
        st->host->log(call, REVIVE_LOG_DEBUG, "no notification_proxy; going on without sync notifications");
    }
    if (lockdownd_start_service(ld, AFC_SERVICE_NAME, &svc) == LOCKDOWN_E_SUCCESS && svc) {
        afc_client_new(sy->dev, svc, &sy->afc);
        lockdownd_service_descriptor_free(svc);
        svc = NULL;
    } else {
        st->host->log(call, REVIVE_LOG_DEBUG, "no AFC; going on without the sync lock");
    }

    post(sy, NP_SYNC_WILL_START);
    if (sy->afc && afc_file_open(sy->afc, "/com.apple.itunes.lock_sync", AFC_FOPEN_RW, &sy->lockfile) ==
                       AFC_E_SUCCESS && sy->lockfile) {
        post(sy, NP_SYNC_LOCK_REQUEST);
        afc_error_t ae = AFC_E_OP_WOULD_BLOCK;
        for (int i = 0; i < 50 && ae == AFC_E_OP_WOULD_BLOCK; i++) {
            ae = afc_file_lock(sy->afc, sy->lockfile, AFC_LOCK_EX);
            if (ae == AFC_E_OP_WOULD_BLOCK) {
                struct timespec ts = { 0, 200 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
        }
        if (ae != AFC_E_SUCCESS) {
            afc_file_close(sy->afc, sy->lockfile);
            sy->lockfile = 0;
            lockdownd_client_free(ld);
            usb_sync_end(st, call, sy, dl);
            return st->host->fail(call, ae == AFC_E_OP_WOULD_BLOCK ? REVIVE_E_BUSY : REVIVE_E_PROTOCOL,
                                  "afc", ae,
                                  "the device is busy with another sync (the sync lock stayed taken): "
                                  "close iTunes/Finder or other backup tools and try again");
        }
        post(sy, NP_SYNC_DID_START);
    }

    lockdownd_error_t le = lockdownd_start_service_with_escrow_bag(ld, "com.apple.mobilebackup2", &svc);
    if (le != LOCKDOWN_E_SUCCESS) {
        st->host->log(call, REVIVE_LOG_DEBUG, "mobilebackup2 with escrow bag: %s; trying without",
                      lockdownd_strerror(le));
        le = lockdownd_start_service(ld, "com.apple.mobilebackup2", &svc);
    }
    lockdownd_client_free(ld);
    if (le != LOCKDOWN_E_SUCCESS || !svc) {
        usb_sync_end(st, call, sy, dl);
        return usb_fail_lockdown(st, call, le, "starting com.apple.mobilebackup2");
    }
    rc = dl_open(dl, st, call, sy->dev, svc);
    lockdownd_service_descriptor_free(svc);
    if (rc != REVIVE_OK) {
        usb_sync_end(st, call, sy, dl);
        return rc;
    }
    return REVIVE_OK;
}

void usb_sync_end(usb_state *st, revive_call *call, usb_sync *sy, usb_dlink *dl)
{
    (void)st;
    (void)call;
    if (dl)
        dl_close(dl);
    if (sy->afc && sy->lockfile) {
        afc_file_lock(sy->afc, sy->lockfile, AFC_LOCK_UN);
        afc_file_close(sy->afc, sy->lockfile);
        sy->lockfile = 0;
        post(sy, NP_SYNC_DID_FINISH);
    }
    if (sy->afc)
        afc_client_free(sy->afc);
    if (sy->np)
        np_client_free(sy->np);
    sy->afc = NULL;
    sy->np = NULL;
    plist_free(sy->values);
    sy->values = NULL;
    if (sy->dev)
        idevice_free(sy->dev);
    sy->dev = NULL;
}
