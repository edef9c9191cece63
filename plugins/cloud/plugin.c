/*
 * plugin.c — the cloud plugin: revive's "source" capability over cloud_core.
 *
 * handles() claims http(s) URLs and firmware:<ProductType>:<latest|VERSION|BUILD>;
 * fetch() turns one into a verified file (opts sha1, sha256, out, cacert,
 * allow_unverified); list() sends one "item" event per firmware of a model. Option,
 * result and config keys are documented in docs/cloud.md.
 */
#include "cloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const revive_host *host;

typedef struct call_ctx {
    revive_call *call;
} call_ctx;

static void io_progress(void *ud, uint64_t done, uint64_t total)
{
    host->progress(((call_ctx *)ud)->call, "download", done, total, "bytes");
}

static bool io_cancelled(void *ud)
{
    return host->cancelled(((call_ctx *)ud)->call);
}

static void io_log(void *ud, int level, const char *msg)
{
    host->log(((call_ctx *)ud)->call, level, "%s", msg); /* the core prefixes the plugin name */
}

static const char *cfg(void *ud, const char *key)
{
    return host->config(((call_ctx *)ud)->call, key);
}

static uint64_t cfg_u64(call_ctx *cx, const char *key, uint64_t def)
{
    const char *v = cfg(cx, key);
    if (!v || !*v)
        return def;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end == 'K' || *end == 'k')
        x <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        x <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        x <<= 30, end++;
    return *end || v[0] == '-' ? def : (uint64_t)x;
}

static const char *opt_str(const revive_field *o, size_t n, const char *key)
{
    const revive_field *f = revive_field_find(o, n, key);
    return f && f->type == REVIVE_VAL_STR && f->v.s && f->v.s[0] ? f->v.s : NULL;
}

static bool opt_bool(const revive_field *o, size_t n, const char *key)
{
    const revive_field *f = revive_field_find(o, n, key);
    return f && ((f->type == REVIVE_VAL_BOOL && f->v.b) || (f->type == REVIVE_VAL_INT && f->v.i));
}

/* Pass a cloud_core error on through the host, keeping its origin. */
static int report(revive_call *call, const revive_error *e)
{
    return host->fail(call, e->code, e->origin[0] ? e->origin : "cloud", e->origin_code, "%s",
                      e->message);
}

static int handles(void *state, const char *spec)
{
    return spec && (cloud_is_url(spec) || strncmp(spec, "firmware:", 9) == 0);
}

static void put_str(revive_call *call, const char *k, const char *v)
{
    revive_field f = REVIVE_FIELD_STR(k, v);
    host->result(call, &f);
}

static void put_int(revive_call *call, const char *k, int64_t v)
{
    revive_field f = REVIVE_FIELD_INT(k, v);
    host->result(call, &f);
}

static void put_bool(revive_call *call, const char *k, bool v)
{
    revive_field f = REVIVE_FIELD_BOOL(k, v);
    host->result(call, &f);
}

static int open_cache(call_ctx *cx, cloud_cache *cache, revive_error *err)
{
    char root[1024];
    const char *dir = cfg(cx, "cloud.cache_dir");
    if (dir && *dir)
        snprintf(root, sizeof(root), "%s", dir);
    else {
        const char *base = host->dir(REVIVE_DIR_CACHE);
        if (!base)
            return cloud_fail(err, REVIVE_E_IO, "cloud", 0, "no cache directory from the host");
        snprintf(root, sizeof(root), "%s/cloud", base);
    }
    return cloud_cache_open(cache, root, cfg_u64(cx, "cloud.cache_max", 64ull << 30),
                            cfg_u64(cx, "cloud.space_margin", 256ull << 20), err);
}

static int fetch(void *state, revive_call *call, const char *spec, const revive_field *opts,
                 size_t nopts)
{
    call_ctx cx = { call };
    cloud_io io = { &cx, io_progress, io_cancelled, io_log };
    cloud_net_opts no;
    cloud_net_opts_init(&no, cfg, &cx);
    if (opt_str(opts, nopts, "cacert"))
        no.cacert = opt_str(opts, nopts, "cacert");
    revive_error err = { sizeof(err), 0, 0, "", "" };
    cloud_cache cache;
    int rc = open_cache(&cx, &cache, &err);
    if (rc)
        return report(call, &err);
    const char *base = cfg(&cx, "cloud.catalog_url");
    cloud_fetch_req req = {
        .spec = spec,
        .sha1 = opt_str(opts, nopts, "sha1"),
        .sha256 = opt_str(opts, nopts, "sha256"),
        .out_dir = opt_str(opts, nopts, "out"),
        .catalog_base = base && *base ? base : CLOUD_DEFAULT_CATALOG,
        .allow_unverified = opt_bool(opts, nopts, "allow_unverified"),
    };
    cloud_fetch_res *res = calloc(1, sizeof(*res));
    if (!res)
        return host->fail(call, REVIVE_E_NO_MEMORY, "cloud", 0, "out of memory");
    rc = cloud_fetch(&no, &cache, &req, &io, res, &err);
    if (rc == REVIVE_OK) {
        put_str(call, "path", res->path);
        put_int(call, "size", (int64_t)res->dig.size);
        put_str(call, "sha1", res->dig.sha1);
        if (res->dig.sha256[0])
            put_str(call, "sha256", res->dig.sha256);
        put_bool(call, "verified", res->verified);
        put_bool(call, "cached", res->from_cache);
        put_str(call, "url", res->url);
        if (res->version[0]) {
            put_str(call, "version", res->version);
            put_str(call, "build", res->build);
        }
        put_int(call, "downloaded", (int64_t)res->stats.body_bytes);
        put_int(call, "resumed_from", (int64_t)res->stats.resumed_from);
    } else
        rc = report(call, &err);
    free(res);
    return rc;
}

static int list(void *state, revive_call *call, const char *query, const revive_field *opts,
                size_t nopts)
{
    call_ctx cx = { call };
    cloud_io io = { &cx, NULL, io_cancelled, io_log };
    cloud_net_opts no;
    cloud_net_opts_init(&no, cfg, &cx);
    if (opt_str(opts, nopts, "cacert"))
        no.cacert = opt_str(opts, nopts, "cacert");
    char model[32], what[32];
    if (query && strncmp(query, "firmware:", 9) == 0) {
        if (!cloud_query_parse(query, model, sizeof(model), what, sizeof(what)))
            return host->fail(call, REVIVE_E_INVALID, "cloud", 0,
                              "\"%s\" is not firmware:<ProductType>", query);
    } else if (query && strlen(query) < sizeof(model) && cloud_model_valid(query))
        snprintf(model, sizeof(model), "%s", query);
    else
        return host->fail(call, REVIVE_E_INVALID, "cloud", 0,
                          "\"%s\" is not a product type such as iPhone12,1",
                          query ? query : "(null)");
    const char *base = cfg(&cx, "cloud.catalog_url");
    cloud_catalog cat;
    revive_error err = { sizeof(err), 0, 0, "", "" };
    if (cloud_catalog_fetch(&no, base && *base ? base : CLOUD_DEFAULT_CATALOG, model, &io, &cat,
                            &err) != REVIVE_OK)
        return report(call, &err);
    for (size_t i = 0; i < cat.count; i++) {
        const cloud_firmware *f = &cat.fw[i];
        revive_field ev[] = {
            REVIVE_FIELD_STR("identifier", f->identifier[0] ? f->identifier : model),
            REVIVE_FIELD_STR("version", f->version),
            REVIVE_FIELD_STR("build", f->build),
            REVIVE_FIELD_STR("url", f->url),
            REVIVE_FIELD_STR("sha1", f->sha1),
            REVIVE_FIELD_INT("size", (int64_t)f->size),
            REVIVE_FIELD_BOOL("signed", f->is_signed),
            REVIVE_FIELD_STR("released", f->released),
        };
        host->event(call, "item", ev, sizeof(ev) / sizeof(ev[0]));
    }
    put_str(call, "model", model);
    if (cat.name[0])
        put_str(call, "name", cat.name);
    put_int(call, "count", (int64_t)cat.count);
    cloud_catalog_free(&cat);
    return REVIVE_OK;
}

static const revive_source cloud_source = {
    .size = sizeof(revive_source),
    .name = "cloud",
    .description = "firmware catalogs (ipsw.me v4 format) and resumable, verified, cached "
                   "downloads over HTTP(S)",
    .handles = handles,
    .fetch = fetch,
    .list = list,
};

static const revive_source *const sources[] = { &cloud_source, NULL };

static int init(const revive_host *h, void **state, revive_error *err)
{
    if (!REVIVE_HAS_FIELD(h, revive_host, result)) {
        if (err)
            cloud_fail(err, REVIVE_E_PLUGIN_ABI, "cloud", 0, "the host table is too old");
        return REVIVE_E_PLUGIN_ABI;
    }
    host = h;
    *state = NULL;
    return REVIVE_OK;
}

static void fini(void *state)
{
}

static const revive_plugin cloud_plugin = {
    REVIVE_PLUGIN_HEADER,
    .name = "cloud",
    .version = "0.1.0",
    .license = "LGPL-2.1-or-later",
    .description = "firmware and backups from remote stores: resumable, verified, cached",
    .init = init,
    .fini = fini,
    .sources = sources,
};

REVIVE_PLUGIN(cloud_plugin)
