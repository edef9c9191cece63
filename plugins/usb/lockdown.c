/*
 * lockdown.c — a device in normal mode: pairing, information, and the actions lockdownd
 * and diagnostics_relay offer (enter recovery, reboot, shut down).
 *
 * Everything goes through a lockdownd *session* (lockdownd_client_new_with_handshake):
 * since iOS 14.5 a phone ignores EnterRecovery from an unpaired, session-less client,
 * which is why Debian's ideviceenterrecovery (1.3.0) silently does nothing there.
 *
 * Pairing: a device that never trusted this host answers the first Pair request with
 * "dialog response pending" and shows "Trust This Computer?". We raise one "prompt"
 * event (kind "trust") and keep asking once a second until the person taps Trust
 * (success), Don't Trust (REVIVE_E_REFUSED), the call is cancelled, or
 * usb.pair_timeout seconds pass (REVIVE_E_TIMEOUT).
 */
#include "usb.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libimobiledevice/diagnostics_relay.h>
#include <plist/plist.h>

#define USB_LABEL "revive"

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

static void prompt(const usb_state *st, revive_call *call, const char *kind, const char *udid,
                   const char *message, double timeout)
{
    revive_field f[] = {
        REVIVE_FIELD_STR("kind", kind),
        REVIVE_FIELD_STR("udid", udid),
        REVIVE_FIELD_STR("message", message),
        REVIVE_FIELD_INT("timeout", (int64_t)timeout),
    };
    st->host->event(call, "prompt", f, sizeof f / sizeof f[0]);
}

/* Pair this host with the device, showing the Trust prompt as long as it takes. */
static int pair(usb_state *st, revive_call *call, idevice_t dev, const char *udid)
{
    double timeout = usb_config_seconds(st, call, "usb.pair_timeout", 120.0);
    double poll = usb_config_seconds(st, call, "usb.pair_poll", 1.0);
    double deadline = usb_now() + timeout;
    bool asked_trust = false, asked_unlock = false;
    lockdownd_client_t ld = NULL;
    lockdownd_error_t e = lockdownd_client_new(dev, &ld, USB_LABEL);
    if (e != LOCKDOWN_E_SUCCESS)
        return usb_fail_lockdown(st, call, e, "connecting to lockdownd to pair");

    for (;;) {
        e = lockdownd_pair(ld, NULL);
        if (e == LOCKDOWN_E_SUCCESS)
            break;
        if (e == LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING) {
            if (!asked_trust) {
                prompt(st, call, "trust", udid,
                       "Unlock the phone and tap \"Trust\" on the \"Trust This Computer?\" dialog, "
                       "then enter its passcode", timeout);
                asked_trust = true;
            }
        } else if (e == LOCKDOWN_E_PASSWORD_PROTECTED) {
            if (!asked_unlock) {
                prompt(st, call, "unlock", udid,
                       "Unlock the phone with its passcode so it can show the Trust dialog", timeout);
                asked_unlock = true;
            }
        } else {
            lockdownd_client_free(ld);
            if (e == LOCKDOWN_E_USER_DENIED_PAIRING)
                return st->host->fail(call, REVIVE_E_REFUSED, "lockdownd", e,
                                      "the person tapped \"Don't Trust\" on the phone (lockdownd %d): "
                                      "unplug and replug it and tap \"Trust\" to let revive use it", e);
            return usb_fail_lockdown(st, call, e, "pairing with the device");
        }
        if (st->host->cancelled(call)) {
            lockdownd_client_free(ld);
            return st->host->fail(call, REVIVE_E_CANCELLED, "lockdownd", e,
                                  "cancelled while waiting for \"Trust\" on the phone");
        }
        if (usb_now() >= deadline) {
            lockdownd_client_free(ld);
            return st->host->fail(call, REVIVE_E_TIMEOUT, "lockdownd", e,
                                  "nobody tapped \"Trust\" on the phone within %.0f s (lockdownd %d: %s); "
                                  "unlock it, tap \"Trust\" and run the command again", timeout, e,
                                  lockdownd_strerror(e));
        }
        sleep_s(poll);
    }
    lockdownd_client_free(ld);
    if (asked_trust || asked_unlock) {
        revive_field f[] = { REVIVE_FIELD_STR("udid", udid) };
        st->host->event(call, "trusted", f, 1);
    }
    st->host->log(call, REVIVE_LOG_INFO, "paired with %s", udid);
    return REVIVE_OK;
}

int usb_lockdown_open(usb_state *st, revive_call *call, const char *udid, idevice_t *out_dev,
                      lockdownd_client_t *out_ld)
{
    *out_dev = NULL;
    *out_ld = NULL;
    if (!udid || !*udid)
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0,
                              "a device in normal mode needs its UDID; none was given");
    idevice_t dev = NULL;
    idevice_error_t ie = idevice_new_with_options(&dev, udid, IDEVICE_LOOKUP_USBMUX);
    if (ie != IDEVICE_E_SUCCESS)
        return usb_fail_idevice(st, call, ie, "opening the device");

    char *record = NULL;
    uint32_t rlen = 0;
    bool have_record = usbmuxd_read_pair_record(udid, &record, &rlen) == 0 && record;
    free(record);
    if (!have_record) {
        int rc = pair(st, call, dev, udid);
        if (rc != REVIVE_OK) {
            idevice_free(dev);
            return rc;
        }
    }
    lockdownd_client_t ld = NULL;
    lockdownd_error_t e = lockdownd_client_new_with_handshake(dev, &ld, USB_LABEL);
    if (have_record && (e == LOCKDOWN_E_INVALID_HOST_ID || e == LOCKDOWN_E_INVALID_PAIR_RECORD)) {
        /* The phone forgot us (erased, or trust reset): pair again, once. */
        st->host->log(call, REVIVE_LOG_INFO, "%s no longer trusts this computer; pairing again", udid);
        usbmuxd_delete_pair_record(udid);
        int rc = pair(st, call, dev, udid);
        if (rc != REVIVE_OK) {
            idevice_free(dev);
            return rc;
        }
        e = lockdownd_client_new_with_handshake(dev, &ld, USB_LABEL);
    }
    if (e != LOCKDOWN_E_SUCCESS) {
        idevice_free(dev);
        return usb_fail_lockdown(st, call, e, "opening a lockdownd session");
    }
    *out_dev = dev;
    *out_ld = ld;
    return REVIVE_OK;
}

static plist_t get(lockdownd_client_t ld, const char *domain, const char *key)
{
    plist_t v = NULL;
    if (lockdownd_get_value(ld, domain, key, &v) != LOCKDOWN_E_SUCCESS) {
        plist_free(v);
        return NULL;
    }
    return v;
}

static void put_str(const usb_state *st, revive_call *call, const char *key, plist_t node)
{
    if (node && plist_get_node_type(node) == PLIST_STRING) {
        char *s = NULL;
        plist_get_string_val(node, &s);
        usb_result_str(st, call, key, s);
        free(s);
    }
}

static bool node_uint(plist_t node, uint64_t *v)
{
    if (!node)
        return false;
    if (plist_get_node_type(node) == PLIST_UINT) {
        plist_get_uint_val(node, v);
        return true;
    }
    return false;
}

static bool node_bool(plist_t node, bool *v)
{
    if (node && plist_get_node_type(node) == PLIST_BOOLEAN) {
        uint8_t b = 0;
        plist_get_bool_val(node, &b);
        *v = b != 0;
        return true;
    }
    return false;
}

int usb_lockdown_info(usb_state *st, revive_call *call, const revive_device_id *id)
{
    idevice_t dev = NULL;
    lockdownd_client_t ld = NULL;
    int rc = usb_lockdown_open(st, call, id->udid, &dev, &ld);
    if (rc != REVIVE_OK)
        return rc;

    plist_t all = get(ld, NULL, NULL);
    if (!all || plist_get_node_type(all) != PLIST_DICT) {
        plist_free(all);
        lockdownd_client_free(ld);
        idevice_free(dev);
        return st->host->fail(call, REVIVE_E_PROTOCOL, "lockdownd", 0,
                              "lockdownd gave no device values; the device may have disconnected");
    }
    usb_result_str(st, call, "mode", "normal");
    put_str(st, call, "udid", plist_dict_get_item(all, "UniqueDeviceID"));
    put_str(st, call, "product_type", plist_dict_get_item(all, "ProductType"));
    put_str(st, call, "hardware_model", plist_dict_get_item(all, "HardwareModel"));
    put_str(st, call, "ios_version", plist_dict_get_item(all, "ProductVersion"));
    put_str(st, call, "build_version", plist_dict_get_item(all, "BuildVersion"));
    put_str(st, call, "serial", plist_dict_get_item(all, "SerialNumber"));
    put_str(st, call, "activation_state", plist_dict_get_item(all, "ActivationState"));
    put_str(st, call, "device_name", plist_dict_get_item(all, "DeviceName"));
    uint64_t u;
    bool b;
    char hex[32];
    if (node_uint(plist_dict_get_item(all, "UniqueChipID"), &u)) {
        snprintf(hex, sizeof hex, "0x%" PRIX64, u);
        usb_result_str(st, call, "ecid", hex);
    }
    if (node_uint(plist_dict_get_item(all, "ChipID"), &u))
        usb_result_int(st, call, "cpid", (int64_t)u);
    if (node_uint(plist_dict_get_item(all, "BoardId"), &u))
        usb_result_int(st, call, "bdid", (int64_t)u);
    if (node_bool(plist_dict_get_item(all, "PasswordProtected"), &b))
        usb_result_bool(st, call, "passcode_set", b);

    /* Marketing name from libirecovery's model table, which stops at the models it knew. */
    plist_t pt = plist_dict_get_item(all, "ProductType");
    if (pt && plist_get_node_type(pt) == PLIST_STRING) {
        char *s = NULL;
        plist_get_string_val(pt, &s);
        irecv_device_t model = NULL;
        if (s && irecv_devices_get_device_by_product_type(s, &model) == IRECV_E_SUCCESS && model &&
            model->display_name)
            usb_result_str(st, call, "marketing_name", model->display_name);
        else
            usb_result_bool(st, call, "model_unknown_to_libirecovery", true);
        free(s);
    }
    plist_free(all);

    plist_t v = get(ld, "com.apple.mobile.battery", "BatteryCurrentCapacity");
    if (node_uint(v, &u))
        usb_result_int(st, call, "battery_level", (int64_t)u);
    plist_free(v);
    v = get(ld, "com.apple.mobile.battery", "BatteryIsCharging");
    if (node_bool(v, &b))
        usb_result_bool(st, call, "charging", b);
    plist_free(v);

    plist_t disk = get(ld, "com.apple.disk_usage", NULL);
    if (disk && plist_get_node_type(disk) == PLIST_DICT) {
        if (node_uint(plist_dict_get_item(disk, "TotalDiskCapacity"), &u))
            usb_result_int(st, call, "storage_total", (int64_t)u);
        if (node_uint(plist_dict_get_item(disk, "AmountDataAvailable"), &u))
            usb_result_int(st, call, "storage_free", (int64_t)u);
    }
    plist_free(disk);

    v = get(ld, "com.apple.mobile.backup", "WillEncrypt");
    usb_result_bool(st, call, "backup_encrypted", node_bool(v, &b) && b);
    plist_free(v);

    usb_result_bool(st, call, "paired", true);
    lockdownd_client_free(ld);
    idevice_free(dev);
    return REVIVE_OK;
}

int usb_lockdown_enter_recovery(usb_state *st, revive_call *call, const revive_device_id *id)
{
    idevice_t dev = NULL;
    lockdownd_client_t ld = NULL;
    int rc = usb_lockdown_open(st, call, id->udid, &dev, &ld);
    if (rc != REVIVE_OK)
        return rc;
    lockdownd_error_t e = lockdownd_enter_recovery(ld);
    lockdownd_client_free(ld);
    idevice_free(dev);
    if (e != LOCKDOWN_E_SUCCESS)
        return usb_fail_lockdown(st, call, e, "asking the device to enter recovery mode");
    st->host->log(call, REVIVE_LOG_INFO, "%s acknowledged EnterRecovery", id->udid);
    return REVIVE_OK;
}

int usb_lockdown_power(usb_state *st, revive_call *call, const revive_device_id *id, bool off)
{
    idevice_t dev = NULL;
    lockdownd_client_t ld = NULL;
    int rc = usb_lockdown_open(st, call, id->udid, &dev, &ld);
    if (rc != REVIVE_OK)
        return rc;
    lockdownd_service_descriptor_t svc = NULL;
    lockdownd_error_t e = lockdownd_start_service(ld, "com.apple.mobile.diagnostics_relay", &svc);
    if (e != LOCKDOWN_E_SUCCESS) /* iOS before 5 named it differently */
        e = lockdownd_start_service(ld, "com.apple.iosdiagnostics.relay", &svc);
    lockdownd_client_free(ld);
    if (e != LOCKDOWN_E_SUCCESS) {
        idevice_free(dev);
        return usb_fail_lockdown(st, call, e, "starting diagnostics_relay");
    }
    diagnostics_relay_client_t diag = NULL;
    diagnostics_relay_error_t de = diagnostics_relay_client_new(dev, svc, &diag);
    lockdownd_service_descriptor_free(svc);
    if (de == DIAGNOSTICS_RELAY_E_SUCCESS)
        de = off ? diagnostics_relay_shutdown(diag, 0) : diagnostics_relay_restart(diag, 0);
    if (diag) {
        diagnostics_relay_goodbye(diag);
        diagnostics_relay_client_free(diag);
    }
    idevice_free(dev);
    if (de != DIAGNOSTICS_RELAY_E_SUCCESS)
        return st->host->fail(call, de == DIAGNOSTICS_RELAY_E_MUX_ERROR ? REVIVE_E_DISCONNECTED
                                                                         : REVIVE_E_REFUSED,
                              "diagnostics_relay", de, "the device did not accept %s (diagnostics_relay %d)",
                              off ? "Shutdown" : "Restart", de);
    return REVIVE_OK;
}
