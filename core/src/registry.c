#include "registry.h"
#include "call.h"
#include "cancel.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "models.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct watch_ctx {
    rv_registry *r;
    const rv_plugin *plugin;
} watch_ctx;

struct rv_registry {
    rv_plugins *plugins;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    rv_device *v;
    size_t n, cap;
    rv_registry_fn obs;
    void *obs_ud;
    watch_ctx *watches; /* one per transport plugin that watches */
    size_t nwatches;
};

const char *rv_mode_name(int mode)
{
    switch (mode) {
    case REVIVE_MODE_NORMAL:   return "normal";
    case REVIVE_MODE_RECOVERY: return "recovery";
    case REVIVE_MODE_DFU:      return "dfu";
    case REVIVE_MODE_RESTORE:  return "restore";
    case REVIVE_MODE_OFF:      return "off";
    default:                   return "unknown";
    }
}

int rv_mode_parse(const char *name)
{
    for (int m = REVIVE_MODE_UNKNOWN; m <= REVIVE_MODE_OFF; m++)
        if (strcasecmp(name, rv_mode_name(m)) == 0)
            return m;
    return -1;
}

void rv_device_label(const revive_device_id *id, char *buf, size_t cap)
{
    if (id->ecid)
        snprintf(buf, cap, "%" PRIX64, id->ecid);
    else if (id->udid[0])
        snprintf(buf, cap, "%s", id->udid);
    else
        snprintf(buf, cap, "?");
}

rv_registry *rv_registry_new(rv_plugins *plugins)
{
    rv_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->plugins = plugins;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->changed, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

void rv_registry_free(rv_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nwatches; i++) {
        const rv_plugin *p = r->watches[i].plugin;
        if (p->transport.unwatch)
            p->transport.unwatch(p->state);
    }
    free(r->watches);
    pthread_cond_destroy(&r->changed);
    pthread_mutex_destroy(&r->lock);
    free(r->v);
    free(r);
}

/* Lock held. The record this appearance belongs to, or NULL. */
static rv_device *find(rv_registry *r, const revive_device_id *id)
{
    for (size_t i = 0; i < r->n; i++) {
        rv_device *d = &r->v[i];
        if (id->ecid && d->id.ecid == id->ecid)
            return d;
    }
    for (size_t i = 0; i < r->n; i++) {
        rv_device *d = &r->v[i];
        if (id->udid[0] && strcmp(d->id.udid, id->udid) == 0 && (!id->ecid || !d->id.ecid))
            return d;
    }
    return NULL;
}

#define KEEP_STR(field) do { if (id->field[0]) memcpy(d->id.field, id->field, sizeof d->id.field); } while (0)

/* Lock held. */
static void merge(rv_registry *r, const rv_plugin *p, int what, const revive_device_id *id)
{
    rv_device *d = find(r, id);
    rv_debug("registry: %s ecid %llX udid '%s' mode %s (known as %s)",
             what == REVIVE_DETACHED ? "detached" : what == REVIVE_ATTACHED ? "attached" : "changed",
             (unsigned long long)id->ecid, id->udid, rv_mode_name(id->mode),
             d ? (d->present ? rv_mode_name(d->id.mode) : "absent") : "new");
    if (what == REVIVE_DETACHED) {
        /* A stale detach (the phone already came back in another mode) changes nothing. */
        /* A detach names the mode of the appearance that left (UNKNOWN or OFF: it cannot
         * say). One for a mode the phone has already left is late news of the old
         * appearance and changes nothing. */
        bool says_mode = id->mode != REVIVE_MODE_UNKNOWN && id->mode != REVIVE_MODE_OFF;
        if (!d || !d->present || (says_mode && id->mode != d->id.mode))
            return;
        d->present = false;
    } else {
        if (!d) {
            rv_device *nv = r->n == r->cap ? realloc(r->v, (r->cap ? r->cap * 2 : 8) * sizeof *nv) : r->v;
            if (!nv)
                return;
            if (r->n == r->cap)
                r->cap = r->cap ? r->cap * 2 : 8;
            r->v = nv;
            d = &r->v[r->n++];
            memset(d, 0, sizeof *d);
            d->id.size = sizeof d->id;
        }
        if (id->ecid)
            d->id.ecid = id->ecid;
        KEEP_STR(udid);
        KEEP_STR(product_type);
        KEEP_STR(hardware_model);
        KEEP_STR(serial);
        KEEP_STR(location);
        if (id->cpid)
            d->id.cpid = id->cpid;
        if (id->bdid)
            d->id.bdid = id->bdid;
        d->id.mode = id->mode;
        if (!d->id.product_type[0] && d->id.cpid) {
            /* Recovery/DFU appearances name the chip and board; our table knows models
             * that the installed libirecovery may not. */
            const rv_model *m = rv_model_by_chip(d->id.cpid, d->id.bdid);
            if (m) {
                snprintf(d->id.product_type, sizeof d->id.product_type, "%s", m->product_type);
                if (!d->id.hardware_model[0] && m->board)
                    snprintf(d->id.hardware_model, sizeof d->id.hardware_model, "%s", m->board);
            }
        }
        snprintf(d->id.transport, sizeof d->id.transport, "%s", p->transport.name ? p->transport.name : p->desc.name);
        d->present = true;
        d->transport_plugin = p;
    }
    d->last_change = rv_monotonic();
    d->generation++;
    if (r->obs)
        r->obs(d, what, r->obs_ud);
    pthread_cond_broadcast(&r->changed);
}

static void on_hotplug(void *core_data, int what, const revive_device_id *dev)
{
    watch_ctx *w = core_data;
    if (!dev)
        return;
    pthread_mutex_lock(&w->r->lock);
    merge(w->r, w->plugin, what, dev);
    pthread_mutex_unlock(&w->r->lock);
}

int rv_registry_scan(rv_registry *r, revive_error *err)
{
    bool any_transport = false;
    int last_rc = REVIVE_OK;
    for (size_t i = 0; i < r->plugins->n; i++) {
        rv_plugin *p = r->plugins->v[i];
        if (!p->has_transport || !p->transport.list)
            continue;
        any_transport = true;
        revive_device_id ids[64];
        memset(ids, 0, sizeof ids);
        for (size_t k = 0; k < 64; k++)
            ids[k].size = sizeof ids[k];
        size_t count = 0;
        revive_call call;
        rv_call_init(&call, NULL, NULL, p->desc.name);
        rv_plugin_enter(p);
        int rc = p->transport.list(p->state, &call, ids, 64, &count);
        rv_plugin_leave(p);
        if (rc != REVIVE_OK) {
            last_rc = rc;
            if (err)
                *err = call.err.code ? call.err : (revive_error){ .size = sizeof(revive_error), .code = rc };
            rv_call_free(&call);
            continue;
        }
        rv_call_free(&call);
        if (count > 64)
            count = 64;
        pthread_mutex_lock(&r->lock);
        /* What this transport no longer lists has gone. */
        for (size_t k = 0; k < r->n; k++) {
            rv_device *d = &r->v[k];
            if (!d->present || d->transport_plugin != p)
                continue;
            bool seen = false;
            for (size_t j = 0; j < count && !seen; j++)
                seen = (ids[j].ecid && ids[j].ecid == d->id.ecid) ||
                       (ids[j].udid[0] && strcmp(ids[j].udid, d->id.udid) == 0);
            if (!seen) {
                d->present = false;
                d->generation++;
            }
        }
        for (size_t j = 0; j < count; j++)
            merge(r, p, REVIVE_ATTACHED, &ids[j]);
        pthread_mutex_unlock(&r->lock);
    }
    if (!any_transport)
        return rv_fail(err, REVIVE_E_NOT_FOUND, NULL, 0,
                       "no transport plugin is loaded ('revive plugins' shows what loaded and why not)");
    return last_rc;
}

int rv_registry_watch(rv_registry *r)
{
    for (size_t i = 0; i < r->plugins->n; i++) {
        rv_plugin *p = r->plugins->v[i];
        if (!p->has_transport || !p->transport.watch)
            continue;
        watch_ctx *nw = realloc(r->watches, (r->nwatches + 1) * sizeof *nw);
        if (!nw)
            return REVIVE_E_NO_MEMORY;
        r->watches = nw;
        /* The array may move; the plugin keeps a pointer, so give each its own block. */
        watch_ctx *ctx = &r->watches[r->nwatches];
        ctx->r = r;
        ctx->plugin = p;
        r->nwatches++;
    }
    /* Start only once the array is final, so the pointers handed out stay valid. */
    for (size_t i = 0; i < r->nwatches; i++) {
        const rv_plugin *p = r->watches[i].plugin;
        int rc = p->transport.watch(p->state, on_hotplug, &r->watches[i]);
        if (rc != REVIVE_OK)
            rv_warn("%s: hotplug not available (%s); revive will poll", p->desc.name, revive_error_name(rc));
    }
    return REVIVE_OK;
}

size_t rv_registry_snapshot(rv_registry *r, rv_device **out, bool include_absent)
{
    pthread_mutex_lock(&r->lock);
    rv_device *copy = calloc(r->n ? r->n : 1, sizeof *copy);
    size_t n = 0;
    for (size_t i = 0; copy && i < r->n; i++)
        if (include_absent || r->v[i].present)
            copy[n++] = r->v[i];
    pthread_mutex_unlock(&r->lock);
    *out = copy;
    return n;
}

static bool selector_matches(const rv_device *d, const char *sel, bool exact)
{
    char hex[32], dec[32], hex0x[34];
    snprintf(hex, sizeof hex, "%" PRIX64, d->id.ecid);
    snprintf(hex0x, sizeof hex0x, "0x%" PRIX64, d->id.ecid);
    snprintf(dec, sizeof dec, "%" PRIu64, d->id.ecid);
    size_t len = strlen(sel);
    if (exact)
        return (d->id.ecid && (strcasecmp(sel, hex) == 0 || strcasecmp(sel, hex0x) == 0 || strcmp(sel, dec) == 0)) ||
               (d->id.udid[0] && strcasecmp(sel, d->id.udid) == 0);
    return (d->id.ecid && (strncasecmp(sel, hex, len) == 0 || strncasecmp(sel, hex0x, len) == 0)) ||
           (d->id.udid[0] && strncasecmp(sel, d->id.udid, len) == 0);
}

int rv_registry_select(rv_registry *r, const char *sel, rv_device *out, revive_error *err)
{
    rv_device *v;
    size_t n = rv_registry_snapshot(r, &v, false);
    size_t hits = 0, hit = 0;
    for (int pass = 0; pass < 2 && hits == 0; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (!sel || selector_matches(&v[i], sel, pass == 0)) {
                hits++;
                hit = i;
            }
        }
        if (!sel)
            break;
    }
    int rc = REVIVE_OK;
    if (hits == 1) {
        *out = v[hit];
    } else if (hits == 0) {
        rc = sel ? rv_fail(err, REVIVE_E_NO_DEVICE, NULL, 0,
                           "no attached device matches '%s' ('revive devices' lists them)", sel)
                 : rv_fail(err, REVIVE_E_NO_DEVICE, NULL, 0,
                           "no device found: connect the phone with a cable (a port on the computer, "
                           "not a hub), unlock it, and check 'revive doctor'");
    } else {
        char list[400] = "";
        size_t len = 0;
        for (size_t i = 0; i < n && len < sizeof list - 40; i++) {
            if (sel && !selector_matches(&v[i], sel, false))
                continue;
            char label[80];
            rv_device_label(&v[i].id, label, sizeof label);
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (%s, %s)", len ? ", " : "", label,
                                    v[i].id.product_type[0] ? v[i].id.product_type : "?", rv_mode_name(v[i].id.mode));
        }
        rc = rv_fail(err, REVIVE_E_INVALID, NULL, 0, "%zu devices match; name one by ECID or UDID: %s", hits, list);
    }
    free(v);
    return rc;
}

int rv_registry_wait(rv_registry *r, uint64_t ecid, const char *udid, unsigned modes, double timeout_s,
                     rv_device *out, revive_error *err)
{
    double deadline = rv_monotonic() + timeout_s, last_scan = 0;
    bool polling = r->nwatches == 0;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        for (size_t i = 0; i < r->n; i++) {
            rv_device *d = &r->v[i];
            bool same = (ecid && d->id.ecid == ecid) || (!ecid && udid && *udid && strcmp(d->id.udid, udid) == 0);
            if (same && d->present && (modes & (1u << d->id.mode))) {
                if (out)
                    *out = *d;
                pthread_mutex_unlock(&r->lock);
                return REVIVE_OK;
            }
        }
        double now = rv_monotonic();
        if (rv_cancelled()) {
            pthread_mutex_unlock(&r->lock);
            return rv_fail(err, REVIVE_E_CANCELLED, NULL, 0, "cancelled while waiting for the device");
        }
        if (now >= deadline) {
            pthread_mutex_unlock(&r->lock);
            return rv_fail(err, REVIVE_E_TIMEOUT, NULL, 0, "the device did not appear in the expected mode within %.0f s",
                           timeout_s);
        }
        if (polling && now - last_scan >= 0.25) {
            pthread_mutex_unlock(&r->lock);
            rv_registry_scan(r, NULL);
            pthread_mutex_lock(&r->lock);
            last_scan = now;
            continue;
        }
        double slice = deadline - now < 0.1 ? deadline - now : 0.1;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(slice * 1e9);
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r->changed, &r->lock, &ts);
    }
}

void rv_registry_observe(rv_registry *r, rv_registry_fn fn, void *ud)
{
    pthread_mutex_lock(&r->lock);
    r->obs = fn;
    r->obs_ud = ud;
    pthread_mutex_unlock(&r->lock);
}
