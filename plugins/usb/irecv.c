/*
 * irecv.c — devices in recovery (iBoot) and DFU (SecureROM) mode, through libirecovery.
 *
 * libirecovery 1.0.0 has no "list devices" call; it has device events
 * (irecv_device_event_subscribe), whose first subscriber makes it enumerate what is
 * already plugged in. So the plugin subscribes once, on first need (a watch, or a list
 * while libusb sees a recovery/DFU device), keeps a registry of the devices it was told
 * about, and answers list() from it once the first enumeration has reported what libusb
 * sees (waiting at most usb.irecv_settle seconds). The same events feed the hotplug watch. The identity is the ECID in the USB
 * serial string ("CPID:8030 ... ECID:001A2B3C4D5E6F70 ... SRTG:[iBoot-...]").
 *
 * An action opens the device by ECID (irecv_open_with_ecid, a few quick tries), does one thing
 * and closes it: a device rebooting or being unplugged never leaves a handle behind.
 */
#include "usb.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

static revive_mode mode_of(int irecv_mode)
{
    switch (irecv_mode) {
    case IRECV_K_DFU_MODE:
    case IRECV_K_WTF_MODE:
        return REVIVE_MODE_DFU;
    case IRECV_K_RECOVERY_MODE_1:
    case IRECV_K_RECOVERY_MODE_2:
    case IRECV_K_RECOVERY_MODE_3:
    case IRECV_K_RECOVERY_MODE_4:
        return REVIVE_MODE_RECOVERY;
    default:
        return REVIVE_MODE_UNKNOWN;
    }
}

/* Read "TAG:hex" out of a serial string; true if found. */
static bool serial_hex(const char *serial, const char *tag, uint64_t *out)
{
    const char *p = serial;
    size_t tl = strlen(tag);
    while ((p = strstr(p, tag)) != NULL) {
        if (p == serial || p[-1] == ' ') {
            p += tl;
            char *end = NULL;
            unsigned long long v = strtoull(p, &end, 16);
            if (end != p) {
                *out = v;
                return true;
            }
        }
        p += tl;
    }
    return false;
}

void usb_rec_parse_serial(const char *serial, revive_device_id *id)
{
    uint64_t v;
    if (!serial)
        return;
    usb_copy(id->serial, sizeof id->serial, serial);
    if (serial_hex(serial, "ECID:", &v))
        id->ecid = v;
    if (serial_hex(serial, "CPID:", &v))
        id->cpid = (uint32_t)v;
    if (serial_hex(serial, "BDID:", &v))
        id->bdid = (uint32_t)v;
}

static void fill_model(revive_device_id *id)
{
    irecv_device_t model = NULL;
    irecv_device_t all = irecv_devices_get_all();
    for (size_t i = 0; all && all[i].product_type; i++) {
        if (all[i].chip_id == id->cpid && all[i].board_id == id->bdid) {
            model = &all[i];
            break;
        }
    }
    if (model) {
        usb_copy(id->product_type, sizeof id->product_type, model->product_type);
        usb_copy(id->hardware_model, sizeof id->hardware_model, model->hardware_model);
    }
}

static void id_from_info(const struct irecv_device_info *info, int imode, revive_device_id *id)
{
    memset(id, 0, sizeof *id);
    id->size = sizeof *id;
    id->mode = mode_of(imode);
    if (info) {
        if (info->serial_string)
            usb_rec_parse_serial(info->serial_string, id);
        id->ecid = info->ecid ? info->ecid : id->ecid;
        id->cpid = info->cpid ? info->cpid : id->cpid;
        id->bdid = info->bdid ? info->bdid : id->bdid;
    }
    snprintf(id->location, sizeof id->location, "irecv:%016" PRIx64, id->ecid);
    fill_model(id);
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

static void on_irecv_event(const irecv_device_event_t *ev, void *user)
{
    usb_state *st = user;
    revive_device_id id;
    id_from_info(ev->device_info, (int)ev->mode, &id);
    if (ev->type == IRECV_DEVICE_ADD) {
        bool known = false;
        pthread_mutex_lock(&st->lock);
        for (size_t i = 0; i < st->nrec; i++) {
            if (st->rec[i].id.ecid == id.ecid) {
                st->rec[i].id = id;
                known = true;
            }
        }
        if (!known && st->nrec < USB_MAX_DEVICES)
            st->rec[st->nrec++].id = id;
        pthread_mutex_unlock(&st->lock);
        notify(st, known ? REVIVE_CHANGED : REVIVE_ATTACHED, &id);
    } else if (ev->type == IRECV_DEVICE_REMOVE) {
        pthread_mutex_lock(&st->lock);
        bool found = false;
        for (size_t i = 0; i < st->nrec; i++) {
            if (st->rec[i].id.ecid == id.ecid) {
                id = st->rec[i].id;
                st->rec[i] = st->rec[--st->nrec];
                found = true;
                break;
            }
        }
        pthread_mutex_unlock(&st->lock);
        /* A detach names the mode of the appearance that left (the core ignores a late
         * detach of a mode the phone has already left); unknown when we never saw it. */
        if (!found)
            id.mode = REVIVE_MODE_UNKNOWN;
        notify(st, REVIVE_DETACHED, &id);
    }
}

/* What libusb sees of recovery/DFU devices, without libirecovery: how many there are and
 * whether this user may open them. libirecovery 1.0.0 answers "unable to connect" both
 * for "no such device" and for "access denied", and list() must know how many devices
 * its first enumeration will report; this tells both apart cheaply. */
typedef struct rec_probe {
    int devices;        /* Apple devices in recovery, DFU or WTF mode */
    int denied;         /* of which this user may not open */
} rec_probe;

static bool recovery_pid(uint16_t pid)
{
    return pid == IRECV_K_RECOVERY_MODE_1 || pid == IRECV_K_RECOVERY_MODE_2 ||
           pid == IRECV_K_RECOVERY_MODE_3 || pid == IRECV_K_RECOVERY_MODE_4 ||
           pid == IRECV_K_DFU_MODE || pid == IRECV_K_WTF_MODE;
}

static rec_probe probe_usb(bool try_open)
{
    rec_probe r = { 0, 0 };
    libusb_context *ctx = NULL;
    if (libusb_init(&ctx) != 0)
        return r;
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd) != 0 || dd.idVendor != 0x05ac ||
            !recovery_pid(dd.idProduct))
            continue;
        r.devices++;
        if (try_open) {
            libusb_device_handle *h = NULL;
            int e = libusb_open(list[i], &h);
            if (e == LIBUSB_ERROR_ACCESS)
                r.denied++;
            if (h)
                libusb_close(h);
        }
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    return r;
}

int usb_rec_start(usb_state *st)
{
    pthread_mutex_lock(&st->lock);
    bool started = st->irecv_ctx != NULL;
    pthread_mutex_unlock(&st->lock);
    if (started)
        return REVIVE_OK;
    irecv_device_event_context_t ctx = NULL;
    irecv_error_t e = irecv_device_event_subscribe(&ctx, on_irecv_event, st);
    if (e != IRECV_E_SUCCESS)
        return usb_fail_irecv(st, NULL, e, "watching for devices in recovery/DFU mode");
    pthread_mutex_lock(&st->lock);
    if (st->irecv_ctx) { /* another thread won the race */
        pthread_mutex_unlock(&st->lock);
        irecv_device_event_unsubscribe(ctx);
        return REVIVE_OK;
    }
    st->irecv_ctx = ctx;
    st->irecv_started = usb_now();
    pthread_mutex_unlock(&st->lock);
    return REVIVE_OK;
}

void usb_rec_stop(usb_state *st)
{
    pthread_mutex_lock(&st->lock);
    irecv_device_event_context_t ctx = st->irecv_ctx;
    st->irecv_ctx = NULL;
    pthread_mutex_unlock(&st->lock);
    if (ctx)
        irecv_device_event_unsubscribe(ctx);
}

int usb_rec_list(usb_state *st, revive_call *call, revive_device_id *out, size_t cap, size_t *count)
{
    *count = 0;
    pthread_mutex_lock(&st->lock);
    bool started = st->irecv_ctx != NULL;
    pthread_mutex_unlock(&st->lock);
    if (!started && probe_usb(false).devices == 0)
        return REVIVE_OK; /* nothing in recovery/DFU: no event thread for a one-shot list */
    int rc = usb_rec_start(st);
    if (rc != REVIVE_OK)
        return rc;
    /* Wait for libirecovery's first enumeration only as long as it still owes us devices
     * that libusb already sees (none present: no wait at all). */
    double settle = usb_config_seconds(st, call, "usb.irecv_settle", 1.0);
    pthread_mutex_lock(&st->lock);
    double deadline = st->irecv_started + settle;
    pthread_mutex_unlock(&st->lock);
    if (usb_now() < deadline) {
        rec_probe pr = probe_usb(false);
        for (;;) {
            pthread_mutex_lock(&st->lock);
            size_t have = st->nrec;
            pthread_mutex_unlock(&st->lock);
            if ((int)have >= pr.devices || usb_now() >= deadline)
                break;
            struct timespec ts = { 0, 20 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->nrec; i++)
        if (out && i < cap)
            out[i] = st->rec[i].id;
    *count = st->nrec;
    pthread_mutex_unlock(&st->lock);
    return REVIVE_OK;
}

/* Open the recovery/DFU device with this ECID (0 = the only one). */
static int open_dev(usb_state *st, revive_call *call, const revive_device_id *id, irecv_client_t *c)
{
    *c = NULL;
    irecv_error_t e = IRECV_E_UNABLE_TO_CONNECT;
    /* a device that just changed mode may still be enumerating: a few quick tries (not
     * irecv_open_with_ecid_and_attempts, which sleeps a whole second between tries) */
    for (int i = 0; i < 3; i++) {
        e = irecv_open_with_ecid(c, id->ecid);
        if (e == IRECV_E_SUCCESS)
            return REVIVE_OK;
        if (*c) {
            irecv_close(*c);
            *c = NULL;
        }
        struct timespec ts = { 0, 200 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (e == IRECV_E_UNABLE_TO_CONNECT) {
        rec_probe pr = probe_usb(true);
        if (pr.denied)
            return usb_fail_irecv(st, call, IRECV_E_UNABLE_TO_CONNECT, "opening the device in recovery/DFU mode");
        e = IRECV_E_NO_DEVICE; /* libirecovery's "unable to connect" meant "not found" */
    }
    return usb_fail_irecv(st, call, e, "opening the device in recovery/DFU mode");
}

static void put_env(usb_state *st, revive_call *call, irecv_client_t c, const char *var,
                    const char *key)
{
    char *v = NULL;
    if (irecv_getenv(c, var, &v) == IRECV_E_SUCCESS && v && *v) /* iBoot answers "" when unset */
        usb_result_str(st, call, key, v);
    free(v);
}

int usb_rec_info(usb_state *st, revive_call *call, const revive_device_id *id)
{
    irecv_client_t c = NULL;
    int rc = open_dev(st, call, id, &c);
    if (rc != REVIVE_OK)
        return rc;
    int imode = 0;
    irecv_get_mode(c, &imode);
    const struct irecv_device_info *info = irecv_get_device_info(c);
    revive_device_id now;
    id_from_info(info, imode, &now);
    char buf[64];
    usb_result_str(st, call, "mode", usb_mode_name(now.mode));
    snprintf(buf, sizeof buf, "0x%" PRIX64, now.ecid);
    usb_result_str(st, call, "ecid", buf);
    usb_result_int(st, call, "cpid", now.cpid);
    usb_result_int(st, call, "bdid", now.bdid);
    if (info && info->serial_string)
        usb_result_str(st, call, "usb_serial", info->serial_string);
    if (info && info->srnm)
        usb_result_str(st, call, "serial", info->srnm);
    if (info && info->srtg) {
        /* "SRTG:[iBoot-6723.102.4]": the boot ROM's tag in DFU, iBoot's in recovery */
        usb_copy(buf, sizeof buf, info->srtg[0] == '[' ? info->srtg + 1 : info->srtg);
        char *b = strchr(buf, ']');
        if (b)
            *b = '\0';
        usb_result_str(st, call, now.mode == REVIVE_MODE_DFU ? "securerom_version" : "iboot_version", buf);
    }
    irecv_device_t model = NULL;
    if (irecv_devices_get_device_by_client(c, &model) == IRECV_E_SUCCESS && model) {
        usb_result_str(st, call, "product_type", model->product_type);
        usb_result_str(st, call, "hardware_model", model->hardware_model);
        usb_result_str(st, call, "marketing_name", model->display_name);
    } else {
        /* libirecovery 1.0.0 stops at the iPhone 11 generation. */
        usb_result_bool(st, call, "model_unknown_to_libirecovery", true);
    }
    if (now.mode == REVIVE_MODE_RECOVERY) {
        put_env(st, call, c, "auto-boot", "auto_boot");
        put_env(st, call, c, "boot-args", "boot_args");
        put_env(st, call, c, "build-version", "build_version");
        put_env(st, call, c, "build-style", "build_style");
    }
    irecv_close(c);
    return REVIVE_OK;
}

/* NVRAM names are plain words; values may not carry quotes or control characters, since
 * libirecovery builds an iBoot command line out of them. */
static bool valid_var(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

static bool valid_value(const char *v)
{
    if (!v || strlen(v) > 255)
        return false;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == 0x7f)
            return false;
    return true;
}

int usb_rec_getvar(usb_state *st, revive_call *call, const revive_device_id *id, const char *name)
{
    if (!valid_var(name))
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0,
                              "\"%s\" is not an NVRAM variable name (letters, digits, - _ .)",
                              name ? name : "");
    irecv_client_t c = NULL;
    int rc = open_dev(st, call, id, &c);
    if (rc != REVIVE_OK)
        return rc;
    char *v = NULL;
    irecv_error_t e = irecv_getenv(c, name, &v);
    irecv_close(c);
    if (e != IRECV_E_SUCCESS) {
        free(v);
        return usb_fail_irecv(st, call, e, "reading an NVRAM variable");
    }
    if (!v)
        return st->host->fail(call, REVIVE_E_NOT_FOUND, "irecv", 0, "NVRAM variable %s is not set", name);
    usb_result_str(st, call, name, v);
    free(v);
    return REVIVE_OK;
}

int usb_rec_setvar(usb_state *st, revive_call *call, const revive_device_id *id, const char *name,
                   const char *value, bool save)
{
    if (!valid_var(name))
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0,
                              "\"%s\" is not an NVRAM variable name (letters, digits, - _ .)",
                              name ? name : "");
    if (!valid_value(value))
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0,
                              "the value for %s has quotes or control characters or is too long", name);
    irecv_client_t c = NULL;
    int rc = open_dev(st, call, id, &c);
    if (rc != REVIVE_OK)
        return rc;
    irecv_error_t e = irecv_setenv(c, name, value);
    if (e == IRECV_E_SUCCESS && save)
        e = irecv_saveenv(c);
    irecv_close(c);
    if (e != IRECV_E_SUCCESS)
        return usb_fail_irecv(st, call, e, save ? "writing and saving an NVRAM variable"
                                                : "writing an NVRAM variable");
    return REVIVE_OK;
}

/* The device resets its USB port while acting on "reboot", so the acknowledgement may be
 * lost in a stalled pipe; that is the reboot happening, not a failure. */
static int do_reboot(usb_state *st, revive_call *call, irecv_client_t c)
{
    irecv_error_t e = irecv_reboot(c);
    if (e == IRECV_E_PIPE || e == IRECV_E_USB_STATUS) {
        st->host->log(call, REVIVE_LOG_DEBUG, "reboot: USB reset while acknowledging (irecv %d)", e);
        e = IRECV_E_SUCCESS;
    }
    if (e != IRECV_E_SUCCESS)
        return usb_fail_irecv(st, call, e, "asking the device to reboot");
    return REVIVE_OK;
}

int usb_rec_reboot(usb_state *st, revive_call *call, const revive_device_id *id)
{
    irecv_client_t c = NULL;
    int rc = open_dev(st, call, id, &c);
    if (rc != REVIVE_OK)
        return rc;
    rc = do_reboot(st, call, c);
    irecv_close(c);
    return rc;
}

int usb_rec_exit(usb_state *st, revive_call *call, const revive_device_id *id)
{
    irecv_client_t c = NULL;
    int rc = open_dev(st, call, id, &c);
    if (rc != REVIVE_OK)
        return rc;
    irecv_error_t e = irecv_setenv(c, "auto-boot", "true");
    if (e == IRECV_E_SUCCESS)
        e = irecv_saveenv(c);
    if (e != IRECV_E_SUCCESS) {
        irecv_close(c);
        return usb_fail_irecv(st, call, e, "setting auto-boot=true");
    }
    rc = do_reboot(st, call, c);
    irecv_close(c);
    return rc;
}
