/*
 * muxd.c — devices in normal and restore mode, found through usbmuxd.
 *
 * usbmuxd lists every Apple device that runs an OS (iOS or the restore ramdisk). Which of
 * the two it is, is told by the service that answers on the lockdown port: lockdownd
 * ("com.apple.mobile.lockdown") in normal mode, restored ("com.apple.mobile.restored")
 * in restore mode. The ECID (the identity across modes) is lockdown's UniqueChipID, or
 * HardwareInfo.UniqueChipID from restored.
 *
 * Listing never starts a pairing (that would pop the Trust dialog on every `revive
 * devices`): with a pairing record it opens a session, without one it asks an unpaired
 * lockdownd for what it tells anybody.
 *
 * Hotplug comes from usbmuxd_events_subscribe; the registry remembers each handle's
 * identity so that a removal, which names only the handle, can be reported in full.
 */
#include "usb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libimobiledevice/restore.h>
#include <plist/plist.h>

#define USB_LABEL "revive"

static void dict_str(plist_t dict, const char *key, char *out, size_t cap)
{
    plist_t n = plist_dict_get_item(dict, key);
    if (n && plist_get_node_type(n) == PLIST_STRING) {
        char *s = NULL;
        plist_get_string_val(n, &s);
        usb_copy(out, cap, s);
        free(s);
    }
}

static uint64_t dict_uint(plist_t dict, const char *key)
{
    plist_t n = plist_dict_get_item(dict, key);
    uint64_t v = 0;
    if (n && plist_get_node_type(n) == PLIST_UINT)
        plist_get_uint_val(n, &v);
    return v;
}

static void fill_from_values(plist_t all, revive_device_id *id)
{
    if (!all || plist_get_node_type(all) != PLIST_DICT)
        return;
    id->ecid = dict_uint(all, "UniqueChipID");
    id->cpid = (uint32_t)dict_uint(all, "ChipID");
    id->bdid = (uint32_t)dict_uint(all, "BoardId");
    dict_str(all, "ProductType", id->product_type, sizeof id->product_type);
    dict_str(all, "HardwareModel", id->hardware_model, sizeof id->hardware_model);
    dict_str(all, "SerialNumber", id->serial, sizeof id->serial);
}

static void identify_restore(idevice_t dev, revive_device_id *id)
{
    restored_client_t rc = NULL;
    if (restored_client_new(dev, &rc, USB_LABEL) != RESTORE_E_SUCCESS)
        return;
    plist_t hw = NULL;
    if (restored_query_value(rc, "HardwareInfo", &hw) == RESTORE_E_SUCCESS && hw) {
        plist_t inner = plist_get_node_type(hw) == PLIST_DICT ? plist_dict_get_item(hw, "HardwareInfo") : NULL;
        plist_t d = inner ? inner : hw;
        if (plist_get_node_type(d) == PLIST_DICT) {
            id->ecid = dict_uint(d, "UniqueChipID");
            id->cpid = (uint32_t)dict_uint(d, "ChipID");
            id->bdid = (uint32_t)dict_uint(d, "BoardID");
            dict_str(d, "ProductType", id->product_type, sizeof id->product_type);
        }
    }
    plist_free(hw);
    restored_client_free(rc);
}

/* Since the A12 (iPhone XS), a UDID is "<CPID, 8 hex>-<ECID, 16 hex>": an unpaired phone
 * that will not tell its UniqueChipID still gives its ECID away, so the core can merge
 * its appearances across modes. */
static void ids_from_udid(const char *udid, revive_device_id *id)
{
    if (strlen(udid) != 25 || udid[8] != '-')
        return;
    for (int i = 0; i < 25; i++)
        if (i != 8 && !((udid[i] >= '0' && udid[i] <= '9') || (udid[i] >= 'A' && udid[i] <= 'F') ||
                        (udid[i] >= 'a' && udid[i] <= 'f')))
            return;
    if (!id->ecid)
        id->ecid = strtoull(udid + 9, NULL, 16);
    if (!id->cpid)
        id->cpid = (uint32_t)strtoul(udid, NULL, 16);
}

void usb_mux_identify(usb_state *st, const char *udid, uint32_t handle, revive_device_id *id)
{
    (void)st;
    memset(id, 0, sizeof *id);
    id->size = sizeof *id;
    id->mode = REVIVE_MODE_NORMAL;
    usb_copy(id->udid, sizeof id->udid, udid);
    snprintf(id->location, sizeof id->location, "usbmux:%u", handle);

    idevice_t dev = NULL;
    if (idevice_new_with_options(&dev, udid, IDEVICE_LOOKUP_USBMUX) != IDEVICE_E_SUCCESS) {
        ids_from_udid(udid, id);
        return;
    }
    lockdownd_client_t ld = NULL;
    if (lockdownd_client_new(dev, &ld, USB_LABEL) != LOCKDOWN_E_SUCCESS) {
        /* nothing that speaks lockdownd: restored alone, or nobody (mode unknown) */
        restored_client_t rc = NULL;
        if (restored_client_new(dev, &rc, USB_LABEL) == RESTORE_E_SUCCESS) {
            restored_client_free(rc);
            id->mode = REVIVE_MODE_RESTORE;
            identify_restore(dev, id);
        } else {
            id->mode = REVIVE_MODE_UNKNOWN;
        }
        idevice_free(dev);
        ids_from_udid(udid, id);
        return;
    }
    char *type = NULL;
    lockdownd_query_type(ld, &type);
    if (type && !strcmp(type, "com.apple.mobile.restored")) {
        free(type);
        lockdownd_client_free(ld);
        id->mode = REVIVE_MODE_RESTORE;
        identify_restore(dev, id);
        idevice_free(dev);
        ids_from_udid(udid, id);
        return;
    }
    free(type);

    /* Paired already? Then a session gives every value; never pair from here. */
    char *record = NULL;
    uint32_t rlen = 0;
    if (usbmuxd_read_pair_record(udid, &record, &rlen) == 0 && record) {
        free(record);
        lockdownd_client_t sess = NULL;
        if (lockdownd_client_new_with_handshake(dev, &sess, USB_LABEL) == LOCKDOWN_E_SUCCESS) {
            lockdownd_client_free(ld);
            ld = sess;
        }
    }
    plist_t all = NULL;
    if (lockdownd_get_value(ld, NULL, NULL, &all) == LOCKDOWN_E_SUCCESS)
        fill_from_values(all, id);
    plist_free(all);
    lockdownd_client_free(ld);
    idevice_free(dev);
    ids_from_udid(udid, id);
}

int usb_mux_list(usb_state *st, revive_call *call, revive_device_id *out, size_t cap, size_t *count)
{
    usbmuxd_device_info_t *list = NULL;
    *count = 0;
    int n = usbmuxd_get_device_list(&list);
    if (n < 0)
        return usb_fail_usbmuxd(st, call, "listing devices");
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (list[i].conn_type != CONNECTION_TYPE_USB)
            continue; /* Wi-Fi sync devices are not this transport's */
        if (out && k < cap)
            usb_mux_identify(st, list[i].udid, list[i].handle, &out[k]);
        k++;
    }
    usbmuxd_device_list_free(&list);
    *count = k;
    return REVIVE_OK;
}

static void notify(usb_state *st, int what, const revive_device_id *id)
{
    pthread_mutex_lock(&st->lock);
    revive_hotplug_fn fn = st->watch_fn;
    void *data = st->watch_data;
    pthread_mutex_unlock(&st->lock);
    if (fn)
        fn(data, what, id);
}

static void on_mux_event(const usbmuxd_event_t *ev, void *user)
{
    usb_state *st = user;
    if (ev->device.conn_type != CONNECTION_TYPE_USB)
        return;
    revive_device_id id;
    if (ev->event == UE_DEVICE_ADD || ev->event == UE_DEVICE_PAIRED) {
        usb_mux_identify(st, ev->device.udid, ev->device.handle, &id);
        bool known = false;
        pthread_mutex_lock(&st->lock);
        for (size_t i = 0; i < st->nmux; i++) {
            if (st->mux[i].handle == ev->device.handle) {
                st->mux[i].id = id;
                known = true;
            }
        }
        if (!known && st->nmux < USB_MAX_DEVICES) {
            st->mux[st->nmux].handle = ev->device.handle;
            st->mux[st->nmux].id = id;
            st->nmux++;
        }
        pthread_mutex_unlock(&st->lock);
        notify(st, known ? REVIVE_CHANGED : REVIVE_ATTACHED, &id);
    } else if (ev->event == UE_DEVICE_REMOVE) {
        bool found = false;
        pthread_mutex_lock(&st->lock);
        for (size_t i = 0; i < st->nmux; i++) {
            if (st->mux[i].handle == ev->device.handle) {
                id = st->mux[i].id;
                st->mux[i] = st->mux[--st->nmux];
                found = true;
                break;
            }
        }
        pthread_mutex_unlock(&st->lock);
        if (!found) {
            memset(&id, 0, sizeof id);
            id.size = sizeof id;
            usb_copy(id.udid, sizeof id.udid, ev->device.udid);
            snprintf(id.location, sizeof id.location, "usbmux:%u", ev->device.handle);
            id.mode = REVIVE_MODE_UNKNOWN;
        }
        /* found: the record's mode, so the core can tell a late detach from a real one */
        notify(st, REVIVE_DETACHED, &id);
    }
}

int usb_mux_watch_start(usb_state *st)
{
    usbmuxd_subscription_context_t ctx = NULL;
    int rc = usbmuxd_events_subscribe(&ctx, on_mux_event, st);
    if (rc != 0 || !ctx)
        return usb_fail_usbmuxd(st, NULL, "watching for devices");
    pthread_mutex_lock(&st->lock);
    st->mux_ctx = ctx;
    pthread_mutex_unlock(&st->lock);
    return REVIVE_OK;
}

void usb_mux_watch_stop(usb_state *st)
{
    pthread_mutex_lock(&st->lock);
    usbmuxd_subscription_context_t ctx = st->mux_ctx;
    st->mux_ctx = NULL;
    pthread_mutex_unlock(&st->lock);
    if (ctx)
        usbmuxd_events_unsubscribe(ctx);
    pthread_mutex_lock(&st->lock);
    st->nmux = 0;
    pthread_mutex_unlock(&st->lock);
}
