/*
 * plugin.c — the itunes importer as a revive plugin: the SDK glue around itunes_backup.
 *
 * Each capability function opens the backup with a context whose callbacks reach the
 * host (events, progress, cancellation, the password through host->secret), runs one
 * operation, and turns the library's error into host->fail(). Option and result keys are
 * listed in docs/itunes.md. The plugin keeps no state between calls beyond the host
 * table, so calls from several device sessions may overlap.
 */
#include "itunes.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Derived password keys, kept for the life of the plugin (the run) so that verify then
 * import of one encrypted backup asks once and runs PBKDF2 once. Keyed by SHA-256 of the
 * keybag; never written anywhere; wiped at fini. */
enum { KEY_CACHE = 8 };
typedef struct pstate {
    const revive_host *host;
    pthread_mutex_t mu;
    struct {
        bool used;
        uint8_t id[32], key[32];
    } keys[KEY_CACHE];
    unsigned next;
} pstate;

typedef struct callctx {
    const revive_host *host;
    revive_call *call;
    struct pstate *ps;
} callctx;

static void cb_event(void *ud, const char *type, const revive_field *f, size_t n)
{
    callctx *k = ud;
    k->host->event(k->call, type, f, n);
}

static void cb_progress(void *ud, const char *phase, uint64_t done, uint64_t total,
                        const char *unit)
{
    callctx *k = ud;
    k->host->progress(k->call, phase, done, total, unit);
}

static bool cb_cancelled(void *ud)
{
    callctx *k = ud;
    return k->host->cancelled(k->call);
}

static int cb_secret(void *ud, const char *purpose, char *buf, size_t cap)
{
    callctx *k = ud;
    if (!REVIVE_HAS_FIELD(k->host, revive_host, secret) || !k->host->secret)
        return REVIVE_E_PASSWORD_NEEDED;
    return k->host->secret(k->call, purpose, buf, cap);
}

static pstate *state_of(void *ud);

static bool cb_key_get(void *ud, const uint8_t id[32], uint8_t key[32])
{
    pstate *ps = state_of(ud);
    bool hit = false;
    pthread_mutex_lock(&ps->mu);
    for (unsigned i = 0; i < KEY_CACHE && !hit; i++)
        if (ps->keys[i].used && !memcmp(ps->keys[i].id, id, 32)) {
            memcpy(key, ps->keys[i].key, 32);
            hit = true;
        }
    pthread_mutex_unlock(&ps->mu);
    return hit;
}

static void cb_key_put(void *ud, const uint8_t id[32], const uint8_t key[32])
{
    pstate *ps = state_of(ud);
    pthread_mutex_lock(&ps->mu);
    unsigned i = ps->next++ % KEY_CACHE;
    ps->keys[i].used = true;
    memcpy(ps->keys[i].id, id, 32);
    memcpy(ps->keys[i].key, key, 32);
    pthread_mutex_unlock(&ps->mu);
}

static void cb_result(void *ud, const revive_field *f)
{
    callctx *k = ud;
    k->host->result(k->call, f);
}

static pstate *state_of(void *ud)
{
    return ((callctx *)ud)->ps;
}

static void setup(ib_ctx *c, callctx *k, void *state, revive_call *call)
{
    pstate *ps = state;
    k->host = ps->host;
    k->call = call;
    k->ps = ps;
    ib_ctx_init(c);
    c->ud = k;
    c->event = cb_event;
    c->progress = cb_progress;
    c->cancelled = cb_cancelled;
    c->secret = cb_secret;
    c->key_get = cb_key_get;
    c->key_put = cb_key_put;
}

static int finish(ib_ctx *c, callctx *k, int rc)
{
    if (rc)
        rc = k->host->fail(k->call, rc, c->err.origin[0] ? c->err.origin : "itunes",
                           c->err.origin_code, "%s",
                           c->err.message[0] ? c->err.message : revive_error_message(rc));
    ib_ctx_fini(c);
    return rc;
}

static const char *opt_str(const revive_field *o, size_t n, const char *key)
{
    const revive_field *f = revive_field_find(o, n, key);
    return f && f->type == REVIVE_VAL_STR && f->v.s && *f->v.s ? f->v.s : NULL;
}

static int64_t opt_int(const revive_field *o, size_t n, const char *key, int64_t dflt)
{
    const revive_field *f = revive_field_find(o, n, key);
    return f && f->type == REVIVE_VAL_INT ? f->v.i : dflt;
}

static void open_opts(const revive_field *o, size_t n, bool keys, ib_open_opts *oo)
{
    memset(oo, 0, sizeof(*oo));
    oo->udid = opt_str(o, n, "udid");
    oo->need_keys = keys;
    int64_t m = opt_int(o, n, "max_unpacked", 0);
    oo->limits.max_total = m > 0 ? (uint64_t)m : 0;
}

static void res_int(callctx *k, const char *key, int64_t v)
{
    revive_field f = REVIVE_FIELD_INT(key, v);
    k->host->result(k->call, &f);
}

static void res_str(callctx *k, const char *key, const char *v)
{
    revive_field f = REVIVE_FIELD_STR(key, v);
    k->host->result(k->call, &f);
}

static int it_probe(void *state, revive_call *call, const char *path)
{
    (void)state; (void)call;
    return path ? ib_probe(path) : 0;
}

static int it_inspect(void *state, revive_call *call, const char *path,
                      const revive_field *opts, size_t nopts)
{
    ib_ctx c;
    callctx k;
    setup(&c, &k, state, call);
    ib_open_opts oo;
    open_opts(opts, nopts, false, &oo);
    oo.allow_locked = true; /* facts from the plists even without the password */
    oo.manifest_only = true; /* an archive's content is not unpacked for this */
    ib_backup b;
    int rc = ib_open(&c, path, &oo, &b);
    if (!rc) {
        rc = ib_inspect(&c, &b, cb_result, &k);
        ib_close(&b);
    }
    return finish(&c, &k, rc);
}

static int it_verify(void *state, revive_call *call, const char *path,
                     const revive_field *opts, size_t nopts)
{
    ib_ctx c;
    callctx k;
    setup(&c, &k, state, call);
    ib_open_opts oo;
    open_opts(opts, nopts, false, &oo);
    oo.manifest_only = true; /* archives: content is hashed as it streams, not unpacked */
    ib_backup b;
    int rc = ib_open(&c, path, &oo, &b);
    if (!rc) {
        rc = ib_verify(&c, &b, (unsigned)opt_int(opts, nopts, "threads", 0));
        ib_close(&b);
        res_int(&k, "problems", c.problems);
        revive_field f = REVIVE_FIELD_BOOL("ok", rc == REVIVE_OK);
        k.host->result(call, &f);
    }
    return finish(&c, &k, rc);
}

static int it_import(void *state, revive_call *call, const char *path, const char *out_dir,
                     const revive_field *opts, size_t nopts)
{
    ib_ctx c;
    callctx k;
    setup(&c, &k, state, call);
    if (!out_dir || !*out_dir)
        return finish(&c, &k, ib_fail(&c, REVIVE_E_INVALID, "itunes", 0,
                                      "import needs an output folder"));
    ib_open_opts oo;
    open_opts(opts, nopts, true, &oo);
    oo.manifest_only = true; /* archives: content streams out, never unpacked */
    ib_backup b;
    int rc = ib_open(&c, path, &oo, &b);
    if (!rc) {
        uint64_t files = 0, bytes = 0;
        rc = ib_import(&c, &b, out_dir, &files, &bytes);
        ib_close(&b);
        if (!rc) {
            res_str(&k, "path", out_dir);
            res_int(&k, "files", (int64_t)files);
            res_int(&k, "bytes", (int64_t)bytes);
            res_int(&k, "warnings", c.warnings);
        }
    }
    return finish(&c, &k, rc);
}

static int it_list(void *state, revive_call *call, const char *path,
                   const revive_field *opts, size_t nopts)
{
    ib_ctx c;
    callctx k;
    setup(&c, &k, state, call);
    ib_open_opts oo;
    open_opts(opts, nopts, false, &oo);
    oo.manifest_only = true;
    ib_backup b;
    int rc = ib_open(&c, path, &oo, &b);
    if (!rc) {
        rc = ib_list(&c, &b, opt_str(opts, nopts, "domain"), opt_str(opts, nopts, "pattern"));
        ib_close(&b);
    }
    return finish(&c, &k, rc);
}

static int it_extract(void *state, revive_call *call, const char *path,
                      const revive_field *opts, size_t nopts)
{
    ib_ctx c;
    callctx k;
    setup(&c, &k, state, call);
    const char *out = opt_str(opts, nopts, "out");
    if (!out)
        return finish(&c, &k, ib_fail(&c, REVIVE_E_INVALID, "itunes", 0,
                                      "extract needs the option out (the folder to write to)"));
    ib_open_opts oo;
    open_opts(opts, nopts, true, &oo);
    oo.manifest_only = true; /* archives: content streams out, never unpacked */
    ib_backup b;
    int rc = ib_open(&c, path, &oo, &b);
    if (!rc) {
        uint64_t files = 0, bytes = 0;
        rc = ib_extract_threads(&c, &b, opt_str(opts, nopts, "domain"),
                                opt_str(opts, nopts, "pattern"), out,
                                (unsigned)opt_int(opts, nopts, "threads", 0), &files, &bytes);
        ib_close(&b);
        res_str(&k, "path", out);
        res_int(&k, "files", (int64_t)files);
        res_int(&k, "bytes", (int64_t)bytes);
    }
    return finish(&c, &k, rc);
}

static const revive_importer importer = {
    .size = sizeof(revive_importer),
    .name = "itunes",
    .description = "iTunes/Finder backups: Manifest.db (iOS 10+) and Manifest.mbdb (iOS 5-9), "
                   "encrypted or not, folders, snapshots, zip and tar",
    .probe = it_probe,
    .inspect = it_inspect,
    .verify = it_verify,
    .import = it_import,
    .list = it_list,
    .extract = it_extract,
};

static const revive_importer *const importers[] = { &importer, NULL };

static int it_init(const revive_host *host, void **state, revive_error *err)
{
    (void)err;
    pstate *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return REVIVE_E_NO_MEMORY;
    ps->host = host;
    pthread_mutex_init(&ps->mu, NULL);
    *state = ps;
    return REVIVE_OK;
}

static void it_fini(void *state)
{
    pstate *ps = state;
    OPENSSL_cleanse(ps->keys, sizeof(ps->keys));
    pthread_mutex_destroy(&ps->mu);
    free(ps);
}

static const revive_plugin descriptor = {
    REVIVE_PLUGIN_HEADER,
    .name = "itunes",
    .version = "0.1.0",
    .license = "LGPL-2.1-or-later",
    .description = "importer for iTunes/Finder backups",
    .flags = 0,
    .init = it_init,
    .fini = it_fini,
    .importers = importers,
};

REVIVE_PLUGIN(descriptor)
