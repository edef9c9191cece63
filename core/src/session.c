/*
 * The engine side of a playbook run.
 *
 * A playbook calls verbs ("exit_recovery", "restore_firmware", ...); this file turns each
 * into a call on the plugin that can do it, on the phone as it is *now*: the session holds
 * the ECID, and every call looks the phone up afresh in the registry, because between two
 * steps it may have left normal mode for recovery, or vanished. Answers come back as
 * fields; errors keep the plugin's origin code and text.
 */
#include "session.h"
#include "call.h"
#include "cancel.h"
#include "config.h"
#include "dirs.h"
#include "error.h"
#include "events.h"
#include "hostcheck.h"
#include "log.h"
#include "models.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t rv_person_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The session's clock. Against a simulator whose device time runs N times faster than real
 * time (a scenario's time_scale), the engine's clock runs at the same pace
 * (REVIVE_TIME_SCALE=N, set by `revive --sim`), so a playbook's "wait up to 300 s for the
 * boot" means 300 seconds of the phone's time, and a dry run of a whole ladder takes
 * seconds. With a real phone the scale is 1.
 */
static double time_scale(void)
{
    static double scale;
    if (scale == 0) {
        const char *v = getenv("REVIVE_TIME_SCALE");
        double x = v ? strtod(v, NULL) : 1.0;
        scale = x >= 1.0 && x <= 100000.0 ? x : 1.0;
    }
    return scale;
}

/* The heavy-phase limit: a counting gate. */
static pthread_mutex_t heavy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t heavy_free = PTHREAD_COND_INITIALIZER;
static int heavy_limit = 0; /* 0: no limit */
static int heavy_running;

void rv_session_set_heavy_limit(int n)
{
    pthread_mutex_lock(&heavy_lock);
    heavy_limit = n > 0 ? n : 0;
    pthread_cond_broadcast(&heavy_free);
    pthread_mutex_unlock(&heavy_lock);
}

static bool is_heavy(const char *verb)
{
    return strcmp(verb, "backup") == 0 || strcmp(verb, "restore_backup") == 0 ||
           strcmp(verb, "restore_firmware") == 0 || strcmp(verb, "fetch") == 0;
}

/* Wait for a heavy slot; false if cancelled while waiting. */
static bool heavy_acquire(rv_session *s, const char *verb)
{
    pthread_mutex_lock(&heavy_lock);
    bool told = false;
    while (heavy_limit > 0 && heavy_running >= heavy_limit && !rv_cancelled()) {
        if (!told) {
            revive_field f[] = { REVIVE_FIELD_STR("verb", verb),
                                 REVIVE_FIELD_STR("message", "waiting: other phones are using the USB bus and disk"),
                                 REVIVE_FIELD_INT("running", heavy_running), REVIVE_FIELD_INT("limit", heavy_limit) };
            pthread_mutex_unlock(&heavy_lock);
            rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, "waiting", f, 4);
            pthread_mutex_lock(&heavy_lock);
            told = true;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000 * 1000;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&heavy_free, &heavy_lock, &ts);
    }
    bool ok = !rv_cancelled();
    if (ok)
        heavy_running++;
    pthread_mutex_unlock(&heavy_lock);
    if (ok && told)
        rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, "running", NULL, 0);
    return ok;
}

static void heavy_release(void)
{
    pthread_mutex_lock(&heavy_lock);
    heavy_running--;
    pthread_cond_broadcast(&heavy_free);
    pthread_mutex_unlock(&heavy_lock);
}

void rv_session_init(rv_session *s, rv_plugins *plugins, rv_registry *reg, const rv_device *dev)
{
    memset(s, 0, sizeof *s);
    s->plugins = plugins;
    s->reg = reg;
    s->ecid = dev->id.ecid;
    snprintf(s->udid, sizeof s->udid, "%s", dev->id.udid);
    rv_device_label(&dev->id, s->label, sizeof s->label);
    s->interactive = isatty(STDIN_FILENO);
}

/* The phone as the registry sees it now; REVIVE_E_DISCONNECTED if it is not attached. */
static int current(rv_session *s, rv_device *out, revive_error *err)
{
    rv_device *v;
    size_t n = rv_registry_snapshot(s->reg, &v, false);
    int rc = rv_fail(err, REVIVE_E_DISCONNECTED, NULL, 0,
                     "device %s is not connected (check the cable; a port on the computer, not a hub)", s->label);
    for (size_t i = 0; i < n; i++) {
        if ((s->ecid && v[i].id.ecid == s->ecid) || (!s->ecid && s->udid[0] && strcmp(v[i].id.udid, s->udid) == 0)) {
            *out = v[i];
            if (!s->ecid && v[i].id.ecid)
                s->ecid = v[i].id.ecid;
            rc = REVIVE_OK;
            if (err)
                rv_error_clear(err);
            break;
        }
    }
    free(v);
    return rc;
}

typedef void (*put_fn)(void *ud, const revive_field *f);

static void put_all(const rv_fields *f, put_fn put, void *ud)
{
    for (size_t i = 0; i < f->n; i++)
        put(ud, &f->v[i]);
}

/* Copy the call's error out (or make one from the code). */
static int finish(revive_call *call, int rc, revive_error *err)
{
    if (rc != REVIVE_OK && err)
        *err = call->err.code ? call->err : (revive_error){ .size = sizeof(revive_error), .code = rc };
    return rc;
}

static int transport_info(rv_session *s, const rv_device *d, rv_fields *out, revive_error *err)
{
    const rv_plugin *p = d->transport_plugin;
    char ecid[32];
    snprintf(ecid, sizeof ecid, "%" PRIX64, d->id.ecid);
    rv_fields_put_str(out, "mode", rv_mode_name(d->id.mode));
    rv_fields_put_int(out, "ecid", (int64_t)d->id.ecid);
    rv_fields_put_str(out, "ecid_hex", ecid);
    if (d->id.udid[0])
        rv_fields_put_str(out, "udid", d->id.udid);
    if (d->id.product_type[0])
        rv_fields_put_str(out, "product_type", d->id.product_type);
    if (d->id.hardware_model[0])
        rv_fields_put_str(out, "hardware_model", d->id.hardware_model);
    if (!p->transport.info)
        return REVIVE_OK;
    revive_call call;
    rv_call_init(&call, s->run_id, s->label, p->desc.name);
    rv_plugin_enter(p);
    int rc = p->transport.info(p->state, &call, &d->id);
    rv_plugin_leave(p);
    if (rc == REVIVE_OK) {
        for (size_t i = 0; i < call.results.n; i++)
            rv_fields_put(out, &call.results.v[i]);
        /* What the registry knows (from our model table) when the transport could not say. */
        const char *pt = rv_fields_str(out, "product_type");
        if (d->id.product_type[0] && (!pt || !*pt))
            rv_fields_put_str(out, "product_type", d->id.product_type);
        /* The runtime's names for two SDK keys. */
        const revive_field *b = rv_fields_get(out, "battery_level");
        if (b && b->type == REVIVE_VAL_INT)
            rv_fields_put_int(out, "battery_percent", b->v.i);
        const revive_field *fr = rv_fields_get(out, "storage_free");
        if (fr && fr->type == REVIVE_VAL_INT)
            rv_fields_put_int(out, "free_bytes", fr->v.i);
    }
    rc = finish(&call, rc, err);
    rv_call_free(&call);
    return rc;
}

typedef int (*action_fn)(void *, revive_call *, const revive_device_id *);

static int transport_action(rv_session *s, const char *verb, size_t off, revive_error *err)
{
    rv_device d;
    int rc = current(s, &d, err);
    if (rc != REVIVE_OK)
        return rc;
    const rv_plugin *p = d.transport_plugin;
    action_fn fn = *(const action_fn *)((const char *)&p->transport + off);
    if (!fn)
        return rv_fail(err, REVIVE_E_UNSUPPORTED, p->desc.name, 0, "the %s transport cannot %s", p->desc.name, verb);
    revive_call call;
    rv_call_init(&call, s->run_id, s->label, p->desc.name);
    int slot = rv_inflight_begin_fmt("%s on %s", verb, s->label);
    rv_plugin_enter(p);
    rc = fn(p->state, &call, &d.id);
    rv_plugin_leave(p);
    rv_inflight_end(slot);
    rc = finish(&call, rc, err);
    rv_call_free(&call);
    return rc;
}

static const char *arg_str(const revive_field *a, size_t n, const char *key)
{
    const revive_field *f = revive_field_find(a, n, key);
    return f && f->type == REVIVE_VAL_STR ? f->v.s : NULL;
}

static bool arg_bool(const revive_field *a, size_t n, const char *key)
{
    const revive_field *f = revive_field_find(a, n, key);
    return f && ((f->type == REVIVE_VAL_BOOL && f->v.b) || (f->type == REVIVE_VAL_INT && f->v.i));
}

/* A restore method's restore() or backup(), on the phone as it is now. */
static int method_call(rv_session *s, const char *name, bool backup, const char *dir, const rv_fields *opts,
                       put_fn put, void *ud, revive_error *err)
{
    const rv_plugin *owner = NULL;
    const revive_restore_method *m = rv_find_method(s->plugins, name, &owner);
    if (!m || (backup ? !m->backup : !m->restore))
        return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0, "no plugin offers the '%s' method%s", name,
                       backup ? " with backups" : "");
    rv_device d;
    int rc = current(s, &d, err);
    if (rc != REVIVE_OK)
        return rc;
    revive_call call;
    rv_call_init(&call, s->run_id, s->label, owner->desc.name);
    int slot = rv_inflight_begin_fmt("%s %s on %s", backup ? "backup" : "restore", name, s->label);
    rv_plugin_enter(owner);
    rc = backup ? m->backup(owner->state, &call, &d.id, dir, opts->v, opts->n)
                : m->restore(owner->state, &call, &d.id, opts->v, opts->n);
    rv_plugin_leave(owner);
    rv_inflight_end(slot);
    if (rc == REVIVE_OK)
        put_all(&call.results, put, ud);
    rc = finish(&call, rc, err);
    rv_call_free(&call);
    return rc;
}

/* Under `revive --sim`, firmware queries are answered with the simulator's synthetic IPSW
 * for the model (see core/cli/sim.c); true if it answered. */
static bool sim_firmware(rv_session *s, const char *spec, put_fn put, void *ud)
{
    const char *dir = getenv("REVIVE_SIM_FIRMWARE_DIR");
    if (!dir || strncmp(spec, "firmware:", 9) != 0)
        return false;
    char product[64];
    const char *colon = strchr(spec + 9, ':');
    size_t len = colon ? (size_t)(colon - (spec + 9)) : strlen(spec + 9);
    if (len == 0 || len >= sizeof product)
        return false;
    memcpy(product, spec + 9, len);
    product[len] = '\0';
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.ipsw", dir, product);
    struct stat st;
    if (strchr(product, '/') || stat(path, &st) != 0)
        return false;
    char msg[4200];
    snprintf(msg, sizeof msg, "simulator: %s is answered with the synthetic IPSW %s", spec, path);
    revive_field ev = REVIVE_FIELD_STR("message", msg);
    rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, "log", &ev, 1);
    if (put) {
        revive_field p = REVIVE_FIELD_STR("path", path);
        revive_field v = REVIVE_FIELD_STR("version", "17.0");
        put(ud, &p);
        put(ud, &v);
    }
    return true;
}

static int source_fetch(rv_session *s, const char *spec, put_fn put, void *ud, revive_error *err)
{
    if (sim_firmware(s, spec, put, ud))
        return REVIVE_OK;
    const rv_plugin *owner = NULL;
    const revive_source *src = rv_find_source(s->plugins, spec, &owner);
    if (!src || !src->fetch)
        return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0, "no source plugin understands '%s'", spec);
    revive_call call;
    rv_call_init(&call, s->run_id, s->label, owner->desc.name);
    int slot = rv_inflight_begin_fmt("download %s", spec);
    rv_plugin_enter(owner);
    int rc = src->fetch(owner->state, &call, spec, NULL, 0);
    rv_plugin_leave(owner);
    rv_inflight_end(slot);
    if (rc == REVIVE_OK && !rv_fields_str(&call.results, "path"))
        rc = rv_fail(&call.err, REVIVE_E_PLUGIN, owner->desc.name, 0, "the source answered no path");
    if (rc == REVIVE_OK && put)
        put_all(&call.results, put, ud);
    rc = finish(&call, rc, err);
    rv_call_free(&call);
    return rc;
}

/* put() that keeps the path answered by a fetch. */
static void keep_path(void *ud, const revive_field *f)
{
    if (f->type == REVIVE_VAL_STR && strcmp(f->key, "path") == 0)
        snprintf((char *)ud, 4096, "%s", f->v.s);
}

static int importer_call(rv_session *s, const char *verb, const char *path, const char *out,
                         put_fn put, void *ud, revive_error *err)
{
    const rv_plugin *owner = NULL;
    const revive_importer *best = rv_probe_importer(s->plugins, path, s->run_id, s->label, &owner);
    if (!best)
        return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0, "no importer recognises %s as a backup", path);
    revive_call call;
    rv_call_init(&call, s->run_id, s->label, owner->desc.name);
    rv_plugin_enter(owner);
    int rc;
    if (strcmp(verb, "import") == 0)
        rc = best->import ? best->import(owner->state, &call, path, out, NULL, 0) : REVIVE_E_UNSUPPORTED;
    else
        rc = best->verify ? best->verify(owner->state, &call, path, NULL, 0) : REVIVE_E_UNSUPPORTED;
    rv_plugin_leave(owner);
    if (strcmp(verb, "verify") == 0) {
        /* A verify that found problems is an answer, not a fault: ok=false with the detail. */
        revive_field ok = REVIVE_FIELD_BOOL("ok", rc == REVIVE_OK);
        put(ud, &ok);
        if (rc == REVIVE_E_CORRUPT) {
            revive_field detail = REVIVE_FIELD_STR("detail", call.err.message);
            put(ud, &detail);
            rc = REVIVE_OK;
        }
    } else if (rc == REVIVE_OK) {
        revive_field p = REVIVE_FIELD_STR("path", out);
        put(ud, &p);
        put_all(&call.results, put, ud);
    }
    rc = finish(&call, rc, err);
    rv_call_free(&call);
    return rc;
}

/* Report one check as a "check" event; warnings are also shown to the person. */
static void report_check(rv_session *s, const rv_hostcheck *c)
{
    static const char *const words[] = { "ok", "warn", "fail" };
    revive_field f[] = { REVIVE_FIELD_STR("name", c->name), REVIVE_FIELD_STR("status", words[c->status]),
                         REVIVE_FIELD_STR("message", c->message), REVIVE_FIELD_STR("remedy", c->remedy) };
    rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, "check", f, c->remedy[0] ? 4 : 3);
    if (c->status == RV_CHECK_WARN) {
        char msg[2900];
        snprintf(msg, sizeof msg, "%s%s%s", c->message, c->remedy[0] ? " — " : "", c->remedy);
        revive_field w = REVIVE_FIELD_STR("message", msg);
        rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, "warning", &w, 1);
    }
}

/*
 * Preflight: the checks that prevent the interruptions revive exists to repair, made before
 * long or destructive work (the playbook runtime calls it before backups and restores).
 * Host: free space where the files go, mains power, the phone not behind a hub. Device:
 * battery, and free storage for a backup about to be restored. A failed check is an error
 * with the code a playbook can branch on (no_space_host, low_battery, no_space_device,
 * policy); warnings go to the person and the run goes on.
 */
static int preflight(rv_session *s, const revive_field *a, size_t n, put_fn put, void *ud, revive_error *err)
{
    const char *what = arg_str(a, n, "for");
    if (!what)
        what = "restore_firmware";
    const revive_field *bytes_f = revive_field_find(a, n, "bytes");
    uint64_t bytes = bytes_f && bytes_f->type == REVIVE_VAL_INT && bytes_f->v.i > 0 ? (uint64_t)bytes_f->v.i : 0;
    rv_fields info;
    rv_fields_init(&info);
    rv_device d;
    bool readable = current(s, &d, NULL) == REVIVE_OK && d.id.mode == REVIVE_MODE_NORMAL;
    if (readable)
        transport_info(s, &d, &info, NULL);
    int rc = REVIVE_OK;
    rv_hostcheck c;

    /* Host disk: firmware goes to the cache, backups and imports to the data directory. */
    const char *dir = strcmp(what, "restore_firmware") == 0 || strcmp(what, "fetch") == 0 ? rv_dir(REVIVE_DIR_CACHE)
                                                                                           : rv_dir(REVIVE_DIR_DATA);
    if (dir) {
        if (strcmp(what, "restore_firmware") == 0) {
            rv_check_restore_disk(&c, dir, bytes);
        } else {
            uint64_t need = bytes;
            const revive_field *tot = rv_fields_get(&info, "storage_total"), *fr = rv_fields_get(&info, "storage_free");
            if (!need && strcmp(what, "backup") == 0 && tot && fr && tot->v.i > fr->v.i)
                need = (uint64_t)(tot->v.i - fr->v.i); /* what the phone holds */
            rv_check_disk(&c, dir, need, 1000000000ull);
        }
        report_check(s, &c);
        if (c.status == RV_CHECK_FAIL)
            rc = rv_fail(err, REVIVE_E_NO_SPACE_HOST, NULL, 0, "%s — %s", c.message, c.remedy);
    }

    /* Mains power: a laptop on battery is the commonest cut-off restore. */
    rv_check_power(&c);
    const char *require_ac = rv_config_get("preflight.require_ac");
    if (c.status != RV_CHECK_OK && require_ac && strcmp(require_ac, "true") == 0)
        c.status = RV_CHECK_FAIL;
    report_check(s, &c);
    if (rc == REVIVE_OK && c.status == RV_CHECK_FAIL)
        rc = rv_fail(err, REVIVE_E_POLICY, NULL, 0, "%s — %s", c.message, c.remedy);

    /* The phone's USB path: hubs drop phones mid-transfer. Only a phone on this computer's
     * own bus can be judged. */
    if (!getenv("REVIVE_SIM_ACTIVE") && !getenv("SIMDEVD_CONTROL")) {
        rv_check_usb_path(&c, s->udid[0] ? s->udid : NULL, s->ecid);
        report_check(s, &c);
    }

    /* The phone: battery, and room for the data a backup restore puts back. */
    const revive_field *bat = rv_fields_get(&info, "battery_level");
    if (bat && bat->type == REVIVE_VAL_INT) {
        const revive_field *ch = rv_fields_get(&info, "charging");
        const char *min = rv_config_get("preflight.min_battery");
        rv_check_device_battery(&c, (int)bat->v.i, ch && ch->type == REVIVE_VAL_BOOL && ch->v.b, min ? atoi(min) : 20);
        report_check(s, &c);
        if (rc == REVIVE_OK && c.status == RV_CHECK_FAIL)
            rc = rv_fail(err, REVIVE_E_LOW_BATTERY, NULL, 0, "%s — %s", c.message, c.remedy);
    }
    const revive_field *fr = rv_fields_get(&info, "storage_free");
    if (strcmp(what, "restore_backup") == 0 && bytes && fr && fr->type == REVIVE_VAL_INT) {
        rv_check_device_storage(&c, (uint64_t)fr->v.i, bytes);
        report_check(s, &c);
        if (rc == REVIVE_OK && c.status == RV_CHECK_FAIL)
            rc = rv_fail(err, REVIVE_E_NO_SPACE_DEVICE, NULL, 0, "%s — %s", c.message, c.remedy);
    }
    if (rc == REVIVE_OK) {
        revive_field ok = REVIVE_FIELD_BOOL("ok", true);
        put(ud, &ok);
        const char *keys[] = { "battery_level", "storage_free" };
        for (size_t i = 0; i < 2; i++) {
            const revive_field *x = rv_fields_get(&info, keys[i]);
            if (x)
                put(ud, x);
        }
    }
    rv_fields_free(&info);
    return rc;
}

static int device_call(rv_session *s, const char *verb, const revive_field *a, size_t n, put_fn put, void *ud,
                       revive_error *err);

static int op_device_call(void *ctx, const char *verb, const revive_field *a, size_t n, put_fn put, void *ud,
                          revive_error *err)
{
    rv_session *s = ctx;
    if (!is_heavy(verb))
        return device_call(s, verb, a, n, put, ud, err);
    if (!heavy_acquire(s, verb))
        return rv_fail(err, REVIVE_E_CANCELLED, NULL, 0, "cancelled while waiting for a turn");
    int rc = device_call(s, verb, a, n, put, ud, err);
    heavy_release();
    return rc;
}

static int device_call(rv_session *s, const char *verb, const revive_field *a, size_t n, put_fn put, void *ud,
                       revive_error *err)
{
    rv_device d;
    if (strcmp(verb, "mode") == 0) {
        revive_field f = REVIVE_FIELD_STR("mode", current(s, &d, NULL) == REVIVE_OK ? rv_mode_name(d.id.mode) : "off");
        put(ud, &f);
        return REVIVE_OK;
    }
    if (strcmp(verb, "info") == 0) {
        int rc = current(s, &d, err);
        if (rc != REVIVE_OK)
            return rc;
        rv_fields f;
        rv_fields_init(&f);
        rc = transport_info(s, &d, &f, err);
        put_all(&f, put, ud);
        rv_fields_free(&f);
        return rc;
    }
    if (strcmp(verb, "enter_recovery") == 0)
        return transport_action(s, verb, offsetof(revive_transport, enter_recovery), err);
    if (strcmp(verb, "exit_recovery") == 0)
        return transport_action(s, verb, offsetof(revive_transport, exit_recovery), err);
    if (strcmp(verb, "reboot") == 0)
        return transport_action(s, verb, offsetof(revive_transport, reboot), err);
    if (strcmp(verb, "shutdown") == 0)
        return transport_action(s, verb, offsetof(revive_transport, shutdown), err);
    if (strcmp(verb, "getvar") == 0 || strcmp(verb, "setvar") == 0) {
        const char *name = arg_str(a, n, "name"), *value = arg_str(a, n, "value");
        if (!name || (verb[0] == 's' && !value))
            return rv_fail(err, REVIVE_E_INVALID, NULL, 0, "%s needs name%s", verb, verb[0] == 's' ? " and value" : "");
        int rc = current(s, &d, err);
        if (rc != REVIVE_OK)
            return rc;
        const rv_plugin *p = d.transport_plugin;
        if (verb[0] == 'g' ? !p->transport.getvar : !p->transport.setvar)
            return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0, "the %s transport cannot %s", p->desc.name, verb);
        revive_call call;
        rv_call_init(&call, s->run_id, s->label, p->desc.name);
        rv_plugin_enter(p);
        rc = verb[0] == 'g' ? p->transport.getvar(p->state, &call, &d.id, name)
                            : p->transport.setvar(p->state, &call, &d.id, name, value, true);
        rv_plugin_leave(p);
        if (rc == REVIVE_OK && verb[0] == 'g') {
            const char *v = rv_fields_str(&call.results, name);
            revive_field f = REVIVE_FIELD_STR("value", v ? v : "");
            put(ud, &f);
        }
        rc = finish(&call, rc, err);
        rv_call_free(&call);
        return rc;
    }
    if (strcmp(verb, "backup") == 0) {
        const char *dir = arg_str(a, n, "dir");
        char def[4200];
        if (!dir) {
            snprintf(def, sizeof def, "%s/backups/%s", rv_dir(REVIVE_DIR_DATA) ? rv_dir(REVIVE_DIR_DATA) : ".", s->label);
            dir = def;
        }
        rv_fields o;
        rv_fields_init(&o);
        int rc = method_call(s, "backup", true, dir, &o, put, ud, err);
        rv_fields_free(&o);
        return rc;
    }
    if (strcmp(verb, "restore_backup") == 0) {
        const char *path = arg_str(a, n, "path");
        if (!path)
            return rv_fail(err, REVIVE_E_INVALID, NULL, 0, "restore_backup needs path");
        rv_fields o;
        rv_fields_init(&o);
        rv_fields_put_str(&o, "dir", path);
        for (size_t i = 0; i < n; i++)
            if (strcmp(a[i].key, "path") != 0 && !rv_field_is_secret(a[i].key))
                rv_fields_put(&o, &a[i]);
        int rc = method_call(s, "backup", false, NULL, &o, put, ud, err);
        rv_fields_free(&o);
        return rc;
    }
    if (strcmp(verb, "restore_firmware") == 0) {
        const char *fw = arg_str(a, n, "firmware");
        if (!fw)
            return rv_fail(err, REVIVE_E_INVALID, NULL, 0, "restore_firmware needs firmware (a path or a catalog query)");
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s", fw);
        if (stat(fw, &st) != 0 && strchr(fw, ':')) {
            int rc = source_fetch(s, fw, keep_path, path, err);
            if (rc != REVIVE_OK)
                return rc;
        }
        rv_fields o;
        rv_fields_init(&o);
        rv_fields_put_str(&o, "ipsw", path);
        rv_fields_put_bool(&o, "erase", arg_bool(a, n, "erase"));
        int rc = method_call(s, "firmware", false, NULL, &o, put, ud, err);
        rv_fields_free(&o);
        return rc;
    }
    if (strcmp(verb, "fetch") == 0) {
        const char *q = arg_str(a, n, "query");
        if (!q)
            return rv_fail(err, REVIVE_E_INVALID, NULL, 0, "fetch needs query");
        return source_fetch(s, q, put, ud, err);
    }
    if (strcmp(verb, "verify_backup") == 0 || strcmp(verb, "import") == 0) {
        const char *path = arg_str(a, n, "path");
        if (!path)
            return rv_fail(err, REVIVE_E_INVALID, NULL, 0, "%s needs path", verb);
        char out[4200];
        snprintf(out, sizeof out, "%s/imports/%s-%ld", rv_dir(REVIVE_DIR_DATA) ? rv_dir(REVIVE_DIR_DATA) : ".", s->label,
                 (long)time(NULL));
        return importer_call(s, verb[0] == 'v' ? "verify" : "import", path, out, put, ud, err);
    }
    if (strcmp(verb, "preflight") == 0)
        return preflight(s, a, n, put, ud, err);
    return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0, "unknown device verb '%s'", verb);
}

static unsigned mode_mask(const char *const *modes)
{
    unsigned m = 0;
    for (size_t i = 0; modes && modes[i]; i++) {
        int x = rv_mode_parse(modes[i]);
        if (x >= 0)
            m |= 1u << x;
    }
    return m;
}

static bool wants_off(const char *const *modes)
{
    for (size_t i = 0; modes && modes[i]; i++)
        if (strcmp(modes[i], "off") == 0)
            return true;
    return false;
}

static int op_wait_mode(void *ctx, const char *const *modes, double timeout_s, revive_error *err)
{
    rv_session *s = ctx;
    if (wants_off(modes)) {
        /* "off": wait until the phone is no longer attached. */
        double end = rv_monotonic() + timeout_s / time_scale();
        rv_device d;
        while (current(s, &d, NULL) == REVIVE_OK) {
            if (rv_cancelled())
                return rv_fail(err, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
            if (rv_monotonic() >= end)
                return rv_fail(err, REVIVE_E_TIMEOUT, NULL, 0, "the device stayed connected");
            usleep(50 * 1000);
        }
        return REVIVE_OK;
    }
    return rv_registry_wait(s->reg, s->ecid, s->udid, mode_mask(modes), timeout_s / time_scale(), NULL, err);
}

static void op_event(void *ctx, const char *type, const revive_field *f, size_t n)
{
    rv_session *s = ctx;
    rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, type, f, n);
}

static int op_confirm(void *ctx, const char *question, bool *yes, revive_error *err)
{
    rv_session *s = ctx;
    if (s->yes) {
        *yes = true;
        return REVIVE_OK;
    }
    if (!s->interactive) {
        *yes = false;
        rv_warn("[%s] %s — no one to ask (not a terminal); run with --yes to consent", s->label, question);
        return REVIVE_OK;
    }
    pthread_mutex_lock(&rv_person_lock);
    fprintf(stderr, "[%s] %s [y/N] ", s->label, question);
    fflush(stderr);
    char line[32];
    bool got = fgets(line, sizeof line, stdin) != NULL;
    pthread_mutex_unlock(&rv_person_lock);
    if (rv_cancelled())
        return rv_fail(err, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
    *yes = got && (line[0] == 'y' || line[0] == 'Y');
    return REVIVE_OK;
}

static int op_prompt_until(void *ctx, const char *title, const char *const *lines, const char *const *modes,
                           double timeout_s, revive_error *err)
{
    rv_session *s = ctx;
    revive_field f[20];
    char keys[18][12];
    size_t n = 0;
    f[n++] = (revive_field)REVIVE_FIELD_STR("title", title ? title : "");
    for (size_t i = 0; lines && lines[i] && n < 18; i++) {
        snprintf(keys[n], sizeof keys[n], "line%zu", i + 1);
        f[n] = (revive_field)REVIVE_FIELD_STR(keys[n], lines[i]);
        n++;
    }
    f[n++] = (revive_field)REVIVE_FIELD_REAL("timeout", timeout_s);
    pthread_mutex_lock(&rv_person_lock);
    rv_emit(s->run_id[0] ? s->run_id : NULL, s->label, "prompt", f, n);
    pthread_mutex_unlock(&rv_person_lock);
    /* A person's hands work in real time, even against a simulator whose device time is
     * faster: the wait for what they do is not scaled. */
    return op_wait_mode(ctx, modes, timeout_s * time_scale(), err);
}

static bool op_cancelled(void *ctx)
{
    (void)ctx;
    return rv_cancelled();
}

static double op_now(void *ctx)
{
    (void)ctx;
    return rv_monotonic() * time_scale();
}

static void op_sleep(void *ctx, double secs)
{
    (void)ctx;
    double end = rv_monotonic() + secs / time_scale();
    while (!rv_cancelled()) {
        double left = end - rv_monotonic();
        if (left <= 0)
            break;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)((left < 0.05 ? left : 0.05) * 1e9) };
        nanosleep(&ts, NULL);
    }
}

static const struct rv_engine_ops session_ops = {
    .size = sizeof(struct rv_engine_ops),
    .device_call = op_device_call,
    .wait_mode = op_wait_mode,
    .event = op_event,
    .confirm = op_confirm,
    .prompt_until = op_prompt_until,
    .cancelled = op_cancelled,
    .now = op_now,
    .sleep = op_sleep,
};

const struct rv_engine_ops *rv_session_ops(void) { return &session_ops; }
