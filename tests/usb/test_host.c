/* test_host.c — see test_host.h. */
#include "test_host.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char key[64]; char *value; } cfg[32];
static char *secret_value;
/* host.h promises config strings live for the process: replaced ones are kept here and
 * freed at exit */
static char *graveyard[512];
static size_t ngrave;

static void bury(char *p)
{
    if (p && ngrave < sizeof graveyard / sizeof graveyard[0])
        graveyard[ngrave++] = p;
}

static void cleanup(void)
{
    for (size_t i = 0; i < ngrave; i++)
        free(graveyard[i]);
    for (size_t i = 0; i < 32; i++)
        free(cfg[i].value);
    free(secret_value);
}

void th_config_set(const char *key, const char *value)
{
    static bool registered;
    pthread_mutex_lock(&cfg_lock);
    if (!registered) {
        atexit(cleanup);
        registered = true;
    }
    for (size_t i = 0; i < 32; i++) {
        if (cfg[i].value && !strcmp(cfg[i].key, key)) {
            bury(cfg[i].value);
            cfg[i].value = value ? strdup(value) : NULL;
            pthread_mutex_unlock(&cfg_lock);
            return;
        }
    }
    for (size_t i = 0; value && i < 32; i++) {
        if (!cfg[i].value) {
            snprintf(cfg[i].key, sizeof cfg[i].key, "%s", key);
            cfg[i].value = strdup(value);
            break;
        }
    }
    pthread_mutex_unlock(&cfg_lock);
}

void th_secret_set(const char *s)
{
    bury(secret_value);
    secret_value = s ? strdup(s) : NULL;
}

static void h_log(revive_call *call, int level, const char *fmt, ...)
{
    (void)call;
    if (level > REVIVE_LOG_INFO && !getenv("TH_DEBUG"))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  [plugin log %d] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int h_fail(revive_call *call, int code, const char *origin, int origin_code, const char *fmt, ...)
{
    revive_error e = { .size = sizeof e, .code = code, .origin_code = origin_code };
    snprintf(e.origin, sizeof e.origin, "%s", origin ? origin : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    fprintf(stderr, "  [plugin fail] %s (%s %d): %s\n", revive_error_name(code), e.origin, origin_code, e.message);
    if (call) {
        pthread_mutex_lock(&call->lock);
        call->err = e; /* the last failure wins, as in the core (it is the summary) */
        pthread_mutex_unlock(&call->lock);
    }
    return code;
}

static void h_progress(revive_call *call, const char *phase, uint64_t done, uint64_t total, const char *unit)
{
    (void)unit;
    if (!call)
        return;
    pthread_mutex_lock(&call->lock);
    snprintf(call->last_phase, sizeof call->last_phase, "%s", phase);
    call->progress_calls++;
    call->last_done = done;
    call->last_total = total;
    if (call->cancel_phase[0] && !strncmp(phase, call->cancel_phase, strlen(call->cancel_phase)) &&
        done >= call->cancel_at)
        call->cancel = true;
    pthread_mutex_unlock(&call->lock);
}

static void h_event(revive_call *call, const char *type, const revive_field *f, size_t n)
{
    if (!call)
        return;
    pthread_mutex_lock(&call->lock);
    if (call->nevents < TH_MAX_EVENTS) {
        th_event *e = &call->events[call->nevents++];
        memset(e, 0, sizeof *e);
        snprintf(e->type, sizeof e->type, "%s", type);
        const revive_field *k = revive_field_find(f, n, "kind");
        if (k && k->type == REVIVE_VAL_STR)
            snprintf(e->kind, sizeof e->kind, "%s", k->v.s);
        const revive_field *m = revive_field_find(f, n, "message");
        if (m && m->type == REVIVE_VAL_STR)
            snprintf(e->text, sizeof e->text, "%s", m->v.s);
    }
    pthread_mutex_unlock(&call->lock);
}

static bool h_cancelled(revive_call *call)
{
    return call && call->cancel;
}

static const char *h_config(revive_call *call, const char *key)
{
    (void)call;
    const char *v = NULL;
    pthread_mutex_lock(&cfg_lock);
    for (size_t i = 0; i < 32; i++)
        if (cfg[i].value && !strcmp(cfg[i].key, key))
            v = cfg[i].value;
    pthread_mutex_unlock(&cfg_lock);
    return v;
}

static const char *h_dir(int which)
{
    (void)which;
    return "/tmp";
}

static int h_result(revive_call *call, const revive_field *f)
{
    if (!call)
        return REVIVE_OK;
    pthread_mutex_lock(&call->lock);
    if (call->nresults < TH_MAX_FIELDS) {
        th_field *r = &call->results[call->nresults++];
        memset(r, 0, sizeof *r);
        snprintf(r->key, sizeof r->key, "%s", f->key);
        r->type = f->type;
        if (f->type == REVIVE_VAL_INT)
            r->i = f->v.i;
        else if (f->type == REVIVE_VAL_BOOL)
            r->b = f->v.b;
        else if (f->type == REVIVE_VAL_REAL)
            r->r = f->v.r;
        else if (f->type == REVIVE_VAL_STR)
            snprintf(r->s, sizeof r->s, "%s", f->v.s ? f->v.s : "");
    }
    pthread_mutex_unlock(&call->lock);
    return REVIVE_OK;
}

static int h_secret(revive_call *call, const char *purpose, char *buf, size_t cap)
{
    (void)call;
    (void)purpose;
    if (!secret_value)
        return REVIVE_E_PASSWORD_NEEDED;
    snprintf(buf, cap, "%s", secret_value);
    return REVIVE_OK;
}

static const revive_host host_table = {
    .size = sizeof(revive_host),
    .abi_major = REVIVE_ABI_MAJOR,
    .abi_minor = REVIVE_ABI_MINOR,
    .log = h_log,
    .fail = h_fail,
    .progress = h_progress,
    .event = h_event,
    .cancelled = h_cancelled,
    .config = h_config,
    .dir = h_dir,
    .result = h_result,
    .secret = h_secret,
};

const revive_host *th_host(void)
{
    return &host_table;
}

void th_load(th_plugin *p, const char *path)
{
    memset(p, 0, sizeof *p);
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->dl) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        abort();
    }
    revive_plugin_entry_fn entry = (revive_plugin_entry_fn)(uintptr_t)dlsym(p->dl, REVIVE_PLUGIN_ENTRY_NAME);
    if (!entry) {
        fprintf(stderr, "%s: no %s\n", path, REVIVE_PLUGIN_ENTRY_NAME);
        abort();
    }
    p->desc = entry();
    if (!p->desc || p->desc->size < sizeof(revive_plugin) || p->desc->abi_major != REVIVE_ABI_MAJOR) {
        fprintf(stderr, "%s: bad descriptor\n", path);
        abort();
    }
    revive_error err = { .size = sizeof err };
    if (p->desc->init(&host_table, &p->state, &err) != REVIVE_OK) {
        fprintf(stderr, "%s: init failed: %s\n", path, err.message);
        abort();
    }
}

void th_unload(th_plugin *p)
{
    if (p->desc && p->desc->fini)
        p->desc->fini(p->state);
    /* not unloaded: sanitizers then still name the plugin's frames in their reports */
    (void)p->dl;
    memset(p, 0, sizeof *p);
}

revive_call *th_call_new(void)
{
    revive_call *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    pthread_mutex_init(&c->lock, NULL);
    c->err.size = sizeof c->err;
    return c;
}

void th_call_free(revive_call *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const th_field *th_result(revive_call *c, const char *key)
{
    for (size_t i = 0; i < c->nresults; i++)
        if (!strcmp(c->results[i].key, key))
            return &c->results[i];
    return NULL;
}

size_t th_count_events(revive_call *c, const char *type, const char *kind)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nevents; i++)
        if (!strcmp(c->events[i].type, type) && (!kind || !strcmp(c->events[i].kind, kind)))
            n++;
    pthread_mutex_unlock(&c->lock);
    return n;
}
