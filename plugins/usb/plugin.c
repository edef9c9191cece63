/*
 * plugin.c — the usb plugin's descriptor and the transport's dispatch by mode.
 *
 * One plugin, three capabilities: the transport "usb" (normal and restore mode through
 * usbmuxd, recovery and DFU through libirecovery) and the restore methods "backup"
 * (mobilebackup2, host side) and "firmware" (idevicerestore as a child process).
 * Each transport action looks at the mode the core says the device is in and goes to the
 * library that speaks to that mode; an action that the mode cannot do fails with
 * REVIVE_E_WRONG_MODE naming the mode it needs.
 */
#include "usb.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ helpers ------ */

double usb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void usb_copy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

bool usb_opt_bool(const revive_field *o, size_t n, const char *key, bool dflt)
{
    const revive_field *f = revive_field_find(o, n, key);
    if (!f)
        return dflt;
    switch (f->type) {
    case REVIVE_VAL_BOOL: return f->v.b;
    case REVIVE_VAL_INT:  return f->v.i != 0;
    case REVIVE_VAL_STR:
        return f->v.s && (!strcmp(f->v.s, "1") || !strcmp(f->v.s, "true") || !strcmp(f->v.s, "yes"));
    default: return dflt;
    }
}

const char *usb_opt_str(const revive_field *o, size_t n, const char *key)
{
    const revive_field *f = revive_field_find(o, n, key);
    return (f && f->type == REVIVE_VAL_STR) ? f->v.s : NULL;
}

int64_t usb_opt_int(const revive_field *o, size_t n, const char *key, int64_t dflt)
{
    const revive_field *f = revive_field_find(o, n, key);
    if (!f)
        return dflt;
    if (f->type == REVIVE_VAL_INT)
        return f->v.i;
    if (f->type == REVIVE_VAL_REAL)
        return (int64_t)f->v.r;
    if (f->type == REVIVE_VAL_STR && f->v.s) {
        char *end = NULL;
        long long v = strtoll(f->v.s, &end, 0);
        if (end && end != f->v.s && *end == '\0')
            return v;
    }
    return dflt;
}

double usb_config_seconds(const usb_state *st, revive_call *call, const char *key, double dflt)
{
    const char *v = st->host->config ? st->host->config(call, key) : NULL;
    if (!v || !*v)
        return dflt;
    char *end = NULL;
    double d = strtod(v, &end);
    if (!end || end == v || *end != '\0' || d < 0) {
        st->host->log(call, REVIVE_LOG_WARN, "config %s=\"%s\" is not a number of seconds; using %g",
                      key, v, dflt);
        return dflt;
    }
    return d;
}

void usb_result_str(const usb_state *st, revive_call *call, const char *key, const char *v)
{
    if (!v)
        return;
    revive_field f = REVIVE_FIELD_STR(key, v);
    st->host->result(call, &f);
}

void usb_result_int(const usb_state *st, revive_call *call, const char *key, int64_t v)
{
    revive_field f = REVIVE_FIELD_INT(key, v);
    st->host->result(call, &f);
}

void usb_result_bool(const usb_state *st, revive_call *call, const char *key, bool v)
{
    revive_field f = REVIVE_FIELD_BOOL(key, v);
    st->host->result(call, &f);
}

const char *usb_mode_name(revive_mode m)
{
    switch (m) {
    case REVIVE_MODE_NORMAL:   return "normal";
    case REVIVE_MODE_RECOVERY: return "recovery";
    case REVIVE_MODE_DFU:      return "dfu";
    case REVIVE_MODE_RESTORE:  return "restore";
    case REVIVE_MODE_OFF:      return "off";
    default:                   return "unknown";
    }
}

static int wrong_mode(const usb_state *st, revive_call *call, const revive_device_id *dev,
                      const char *action, const char *needs)
{
    return st->host->fail(call, REVIVE_E_WRONG_MODE, NULL, 0,
                          "%s needs the device in %s mode; it is in %s mode", action, needs,
                          usb_mode_name(dev->mode));
}

/* --------------------------------------------------------------- transport ------ */

static int t_list(void *state, revive_call *call, revive_device_id *out, size_t cap, size_t *count)
{
    usb_state *st = state;
    size_t nmux = 0, nrec = 0;
    *count = 0;
    int rc = usb_mux_list(st, call, out, cap, &nmux);
    if (rc != REVIVE_OK)
        return rc;
    size_t used = nmux < cap ? nmux : cap;
    rc = usb_rec_list(st, call, out ? out + used : NULL, cap - used, &nrec);
    if (rc != REVIVE_OK)
        return rc;
    *count = nmux + nrec;
    return REVIVE_OK;
}

static int t_watch(void *state, revive_hotplug_fn fn, void *core_data)
{
    usb_state *st = state;
    pthread_mutex_lock(&st->lock);
    if (st->watch_fn) {
        pthread_mutex_unlock(&st->lock);
        return st->host->fail(NULL, REVIVE_E_BUSY, NULL, 0, "usb: a watch is already running");
    }
    st->watch_fn = fn;
    st->watch_data = core_data;
    pthread_mutex_unlock(&st->lock);

    int rc = usb_rec_start(st);
    if (rc == REVIVE_OK) {
        /* Devices already in recovery were registered before this watch: report them. */
        pthread_mutex_lock(&st->lock);
        for (size_t i = 0; i < st->nrec; i++)
            fn(core_data, REVIVE_ATTACHED, &st->rec[i].id);
        pthread_mutex_unlock(&st->lock);
        rc = usb_mux_watch_start(st);
    }
    if (rc != REVIVE_OK) {
        pthread_mutex_lock(&st->lock);
        st->watch_fn = NULL;
        st->watch_data = NULL;
        pthread_mutex_unlock(&st->lock);
    }
    return rc;
}

static void t_unwatch(void *state)
{
    usb_state *st = state;
    usb_mux_watch_stop(st);
    pthread_mutex_lock(&st->lock);
    st->watch_fn = NULL;
    st->watch_data = NULL;
    pthread_mutex_unlock(&st->lock);
}

static int t_info(void *state, revive_call *call, const revive_device_id *dev)
{
    usb_state *st = state;
    switch (dev->mode) {
    case REVIVE_MODE_NORMAL:
        return usb_lockdown_info(st, call, dev);
    case REVIVE_MODE_RECOVERY:
    case REVIVE_MODE_DFU:
        return usb_rec_info(st, call, dev);
    case REVIVE_MODE_RESTORE: {
        /* The restore ramdisk answers restored, not lockdownd: only the identity is known. */
        char ecid[32];
        snprintf(ecid, sizeof ecid, "0x%" PRIx64, dev->ecid);
        usb_result_str(st, call, "mode", "restore");
        usb_result_str(st, call, "udid", dev->udid);
        if (dev->ecid)
            usb_result_str(st, call, "ecid", ecid);
        if (dev->product_type[0])
            usb_result_str(st, call, "product_type", dev->product_type);
        return REVIVE_OK;
    }
    case REVIVE_MODE_UNKNOWN:
        return st->host->fail(call, REVIVE_E_BUSY, NULL, 0,
                              "the device is on USB but answers neither lockdownd nor restored (it may "
                              "be booting): wait a moment and try again");
    default:
        return st->host->fail(call, REVIVE_E_NO_DEVICE, NULL, 0,
                              "the device is not on the bus (mode %s)", usb_mode_name(dev->mode));
    }
}

static int t_enter_recovery(void *state, revive_call *call, const revive_device_id *dev)
{
    usb_state *st = state;
    if (dev->mode == REVIVE_MODE_RECOVERY)
        return REVIVE_OK; /* already there: running it again is safe */
    if (dev->mode != REVIVE_MODE_NORMAL)
        return wrong_mode(st, call, dev, "enter recovery", "normal");
    return usb_lockdown_enter_recovery(st, call, dev);
}

static int t_exit_recovery(void *state, revive_call *call, const revive_device_id *dev)
{
    usb_state *st = state;
    if (dev->mode == REVIVE_MODE_NORMAL)
        return REVIVE_OK;
    if (dev->mode == REVIVE_MODE_DFU)
        return st->host->fail(call, REVIVE_E_WRONG_MODE, NULL, 0,
                              "the device is in DFU mode, which has no auto-boot to turn on: force "
                              "restart it (or restore firmware) to leave DFU");
    if (dev->mode != REVIVE_MODE_RECOVERY)
        return wrong_mode(st, call, dev, "exit recovery", "recovery");
    return usb_rec_exit(st, call, dev);
}

static int t_reboot(void *state, revive_call *call, const revive_device_id *dev)
{
    usb_state *st = state;
    if (dev->mode == REVIVE_MODE_NORMAL)
        return usb_lockdown_power(st, call, dev, false);
    if (dev->mode == REVIVE_MODE_RECOVERY)
        return usb_rec_reboot(st, call, dev);
    return wrong_mode(st, call, dev, "reboot", "normal or recovery");
}

static int t_shutdown(void *state, revive_call *call, const revive_device_id *dev)
{
    usb_state *st = state;
    if (dev->mode == REVIVE_MODE_NORMAL)
        return usb_lockdown_power(st, call, dev, true);
    return st->host->fail(call, REVIVE_E_UNSUPPORTED, NULL, 0,
                          "a device in %s mode cannot be shut down over USB; hold the side (or "
                          "top) button with a volume button until it turns off",
                          usb_mode_name(dev->mode));
}

static int t_getvar(void *state, revive_call *call, const revive_device_id *dev, const char *name)
{
    usb_state *st = state;
    if (dev->mode != REVIVE_MODE_RECOVERY)
        return wrong_mode(st, call, dev, "reading an NVRAM variable", "recovery");
    return usb_rec_getvar(st, call, dev, name);
}

static int t_setvar(void *state, revive_call *call, const revive_device_id *dev, const char *name,
                    const char *value, bool save)
{
    usb_state *st = state;
    if (dev->mode != REVIVE_MODE_RECOVERY)
        return wrong_mode(st, call, dev, "writing an NVRAM variable", "recovery");
    return usb_rec_setvar(st, call, dev, name, value, save);
}

static const revive_transport usb_transport = {
    .size = sizeof(revive_transport),
    .name = "usb",
    .list = t_list,
    .watch = t_watch,
    .unwatch = t_unwatch,
    .info = t_info,
    .enter_recovery = t_enter_recovery,
    .exit_recovery = t_exit_recovery,
    .reboot = t_reboot,
    .shutdown = t_shutdown,
    .getvar = t_getvar,
    .setvar = t_setvar,
};

/* ---------------------------------------------------------- restore methods ------ */

static const revive_restore_method usb_method_backup = {
    .size = sizeof(revive_restore_method),
    .name = "backup",
    .description = "take a full backup over mobilebackup2, or restore one onto the device",
    .flags = REVIVE_RESTORE_CAN_BACKUP | REVIVE_RESTORE_DESTRUCTIVE,
    .restore = usb_backup_restore,
    .backup = usb_backup_take,
};

static const revive_restore_method usb_method_firmware = {
    .size = sizeof(revive_restore_method),
    .name = "firmware",
    .description = "restore (update or erase) iOS from an IPSW through idevicerestore",
    .flags = REVIVE_RESTORE_DESTRUCTIVE,
    .restore = usb_firmware_restore,
    .backup = NULL,
};

static const revive_restore_method *const usb_methods[] = {
    &usb_method_backup, &usb_method_firmware, NULL
};

/* --------------------------------------------------------------- lifecycle ------ */

static int usb_init(const revive_host *host, void **state, revive_error *err)
{
    if (!host || !REVIVE_HAS_FIELD(host, revive_host, secret)) {
        if (err) {
            err->code = REVIVE_E_PLUGIN_ABI;
            usb_copy(err->message, sizeof err->message,
                     "usb: the host table is older than ABI 1.0 (no secret service)");
        }
        return REVIVE_E_PLUGIN_ABI;
    }
    usb_state *st = calloc(1, sizeof *st);
    if (!st)
        return host->fail(NULL, REVIVE_E_NO_MEMORY, NULL, 0, "usb: out of memory");
    st->host = host;
    pthread_mutex_init(&st->lock, NULL);
    *state = st;
    return REVIVE_OK;
}

static void usb_fini(void *state)
{
    usb_state *st = state;
    if (!st)
        return;
    t_unwatch(st);
    usb_rec_stop(st);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static const revive_plugin usb_plugin = {
    REVIVE_PLUGIN_HEADER,
    .name = "usb",
    .version = "0.1.0",
    .license = "LGPL-2.1-or-later",
    .description = "Apple devices over USB: usbmuxd/lockdownd, recovery/DFU, mobilebackup2, idevicerestore",
    .flags = 0,
    .init = usb_init,
    .fini = usb_fini,
    .transport = &usb_transport,
    .restore_methods = usb_methods,
    .sources = NULL,
    .importers = NULL,
};

REVIVE_PLUGIN(usb_plugin)
