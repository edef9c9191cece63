/*
 * test_plugin.c — the cloud plugin as the core will see it: dlopen'ed, its one entry
 * symbol checked, init() given a host table written here (the core's loader is not used),
 * then source.handles/fetch/list driven with options and config keys as documented in
 * docs/cloud.md, answers collected through host->result() and "item" events.
 */
#include "harness.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the test host ---- */

static char cfg_cache[600], cfg_catalog[300];
static revive_error last_err;
static int progress_calls, items;
static uint64_t progress_done;
static char item_version[32];
static bool item_signed;
static char results[32][2][512];
static int nresults;
static bool cancel_now;

static void h_log(revive_call *c, int level, const char *fmt, ...) REVIVE_PRINTF(3, 4);
static int h_fail(revive_call *c, int code, const char *origin, int origin_code, const char *fmt,
                  ...) REVIVE_PRINTF(5, 6);

static void h_log(revive_call *c, int level, const char *fmt, ...)
{
    if (getenv("CLOUD_TEST_VERBOSE")) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

static int h_fail(revive_call *c, int code, const char *origin, int origin_code, const char *fmt,
                  ...)
{
    last_err.code = code;
    last_err.origin_code = origin_code;
    snprintf(last_err.origin, sizeof(last_err.origin), "%s", origin ? origin : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_err.message, sizeof(last_err.message), fmt, ap);
    va_end(ap);
    return code;
}

static void h_progress(revive_call *c, const char *phase, uint64_t done, uint64_t total,
                       const char *unit)
{
    assert_string_equal(phase, "download");
    assert_string_equal(unit, "bytes");
    assert_true(total == 0 || done <= total);
    progress_calls++;
    progress_done = done;
}

static void h_event(revive_call *c, const char *type, const revive_field *f, size_t n)
{
    if (strcmp(type, "item") != 0)
        return;
    if (items++ == 0) {
        const revive_field *v = revive_field_find(f, n, "version");
        const revive_field *s = revive_field_find(f, n, "signed");
        assert_non_null(v);
        assert_non_null(s);
        assert_non_null(revive_field_find(f, n, "build"));
        assert_non_null(revive_field_find(f, n, "url"));
        assert_non_null(revive_field_find(f, n, "sha1"));
        assert_non_null(revive_field_find(f, n, "size"));
        snprintf(item_version, sizeof(item_version), "%s", v->v.s);
        item_signed = s->v.b;
    }
}

static bool h_cancelled(revive_call *c)
{
    return cancel_now;
}

static const char *h_config(revive_call *c, const char *key)
{
    if (strcmp(key, "cloud.cache_dir") == 0)
        return cfg_cache;
    if (strcmp(key, "cloud.catalog_url") == 0)
        return cfg_catalog;
    if (strcmp(key, "cloud.retry_base_ms") == 0)
        return "10";
    return NULL;
}

static const char *h_dir(int which)
{
    return cfg_cache;
}

static int h_result(revive_call *c, const revive_field *f)
{
    if (nresults >= 32)
        return REVIVE_E_NO_MEMORY;
    snprintf(results[nresults][0], 512, "%s", f->key);
    switch (f->type) {
    case REVIVE_VAL_STR: snprintf(results[nresults][1], 512, "%s", f->v.s); break;
    case REVIVE_VAL_INT: snprintf(results[nresults][1], 512, "%lld", (long long)f->v.i); break;
    case REVIVE_VAL_BOOL: snprintf(results[nresults][1], 512, "%s", f->v.b ? "true" : "false"); break;
    default: results[nresults][1][0] = 0;
    }
    nresults++;
    return REVIVE_OK;
}

static int h_secret(revive_call *c, const char *purpose, char *buf, size_t cap)
{
    return REVIVE_E_PASSWORD_NEEDED;
}

static const revive_host host = {
    .size = sizeof(revive_host), .abi_major = REVIVE_ABI_MAJOR, .abi_minor = REVIVE_ABI_MINOR,
    .log = h_log, .fail = h_fail, .progress = h_progress, .event = h_event,
    .cancelled = h_cancelled, .config = h_config, .dir = h_dir, .result = h_result,
    .secret = h_secret,
};

static const char *result(const char *key)
{
    for (int i = 0; i < nresults; i++)
        if (strcmp(results[i][0], key) == 0)
            return results[i][1];
    return NULL;
}

static void reset(void)
{
    memset(&last_err, 0, sizeof(last_err));
    nresults = items = progress_calls = 0;
    progress_done = 0;
    cancel_now = false;
}

/* ---- the plugin ---- */

static void *so;
static const revive_source *src;
static void *pstate;
static const char *dir;
static server srv;
static char sha_fw[41];

static int setup(void **state)
{
    so = dlopen(getenv("CLOUD_PLUGIN"), RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return -1;
    }
    revive_plugin_entry_fn entry = (revive_plugin_entry_fn)dlsym(so, REVIVE_PLUGIN_ENTRY_NAME);
    if (!entry)
        return -1;
    const revive_plugin *p = entry();
    if (p->size < sizeof(revive_plugin) || p->abi_major != REVIVE_ABI_MAJOR ||
        strcmp(p->name, "cloud") != 0 || !p->sources || !p->sources[0])
        return -1;
    revive_error err = { sizeof(err), 0, 0, "", "" };
    if (p->init(&host, &pstate, &err) != REVIVE_OK)
        return -1;
    src = p->sources[0];
    dir = scratch_new();
    make_file(dir, "iPhone12,1_17.1_21B80_Restore.ipsw", 1500000, 11, sha_fw);
    if (server_start(&srv, dir, false) != 0)
        return -1;
    snprintf(cfg_cache, sizeof(cfg_cache), "%s/cache", dir);
    snprintf(cfg_catalog, sizeof(cfg_catalog), "%s", url_of(&srv, "%s", ""));
    char path[700];
    snprintf(path, sizeof(path), "%s/root/device", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/root/device/iPhone12,1", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"name\":\"iPhone 11\",\"identifier\":\"iPhone12,1\",\"firmwares\":["
            "{\"identifier\":\"iPhone12,1\",\"version\":\"17.1\",\"buildid\":\"21B80\","
            "\"sha1sum\":\"%s\",\"filesize\":1500000,\"url\":\"%s\",\"signed\":true},"
            "{\"identifier\":\"iPhone12,1\",\"version\":\"13.0\",\"buildid\":\"17A577\","
            "\"sha1sum\":\"%s\",\"filesize\":1500000,\"url\":\"%s\",\"signed\":false}]}\n",
            sha_fw, url_of(&srv, "/iPhone12,1_17.1_21B80_Restore.ipsw?drop=600000&drop_times=1"),
            sha_fw, url_of(&srv, "/iPhone12,1_17.1_21B80_Restore.ipsw"));
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    server_stop(&srv);
    scratch_remove(dir);
    if (so)
        dlclose(so);
    return 0;
}

static void test_handles(void **state)
{
    assert_true(src->handles(pstate, "https://updates.cdn-apple.com/x.ipsw"));
    assert_true(src->handles(pstate, "HTTP://mirror.local/x.ipsw"));
    assert_true(src->handles(pstate, "firmware:iPhone12,1:latest"));
    assert_false(src->handles(pstate, "/tmp/x.ipsw"));
    assert_false(src->handles(pstate, "ftp://x/y"));
    assert_false(src->handles(pstate, NULL));
}

static void test_fetch_query_through_plugin(void **state)
{
    reset();
    char out[700];
    snprintf(out, sizeof(out), "%s/out", dir);
    revive_field opts[] = { REVIVE_FIELD_STR("out", out) };
    revive_call *call = (revive_call *)&host; /* any non-NULL handle: opaque to the plugin */
    assert_int_equal(src->fetch(pstate, call, "firmware:iPhone12,1:latest", opts, 1), REVIVE_OK);
    char want[800];
    snprintf(want, sizeof(want), "%s/iPhone12,1_17.1_21B80_Restore.ipsw", out);
    assert_string_equal(result("path"), want);
    assert_string_equal(result("sha1"), sha_fw);
    assert_string_equal(result("size"), "1500000");
    assert_string_equal(result("verified"), "true");
    assert_string_equal(result("cached"), "false");
    assert_string_equal(result("version"), "17.1");
    assert_string_equal(result("build"), "21B80");
    assert_string_equal(result("downloaded"), "1500000");
    assert_true(progress_calls > 0);
    assert_int_equal(file_size(want), 1500000);

    /* again by URL and checksum: from the cache */
    reset();
    revive_field o2[] = { REVIVE_FIELD_STR("sha1", sha_fw) };
    assert_int_equal(src->fetch(pstate, call, url_of(&srv, "/iPhone12,1_17.1_21B80_Restore.ipsw"),
                                o2, 1), REVIVE_OK);
    assert_string_equal(result("cached"), "true");
    assert_non_null(strstr(result("path"), "/cache/files/sha1-"));
}

static void test_errors_through_plugin(void **state)
{
    revive_call *call = (revive_call *)&host;
    reset();
    /* (not sha_fw: that one is in the cache, which is keyed by checksum, not URL) */
    revive_field o[] = { REVIVE_FIELD_STR("sha1", "1111111111111111111111111111111111111111") };
    assert_int_equal(src->fetch(pstate, call, url_of(&srv, "/nope.ipsw"), o, 1),
                     REVIVE_E_NOT_FOUND);
    assert_int_equal(last_err.code, REVIVE_E_NOT_FOUND);
    assert_string_equal(last_err.origin, "http");
    assert_int_equal(last_err.origin_code, 404);
    assert_null(result("path")); /* nothing answered */

    reset();
    revive_field bad[] = { REVIVE_FIELD_STR("sha1", "0000000000000000000000000000000000000000") };
    assert_int_equal(src->fetch(pstate, call, url_of(&srv, "/iPhone12,1_17.1_21B80_Restore.ipsw?c=1"),
                                bad, 1), REVIVE_E_CHECKSUM);
    assert_null(result("path"));

    reset();
    assert_int_equal(src->fetch(pstate, call, url_of(&srv, "/iPhone12,1_17.1_21B80_Restore.ipsw"),
                                NULL, 0), REVIVE_E_INVALID);
    assert_non_null(strstr(last_err.message, "sha1"));

    reset();
    cancel_now = true;
    revive_field o3[] = { REVIVE_FIELD_STR("sha256", "aa00000000000000000000000000000000000000000000000000000000000000") };
    assert_int_equal(src->fetch(pstate, call, url_of(&srv, "/iPhone12,1_17.1_21B80_Restore.ipsw?c=2"),
                                o3, 1), REVIVE_E_CANCELLED);
    assert_int_equal(last_err.code, REVIVE_E_CANCELLED);
}

static void test_list_through_plugin(void **state)
{
    revive_call *call = (revive_call *)&host;
    reset();
    assert_int_equal(src->list(pstate, call, "iPhone12,1", NULL, 0), REVIVE_OK);
    assert_int_equal(items, 2);
    assert_string_equal(item_version, "17.1");
    assert_true(item_signed);
    assert_string_equal(result("count"), "2");
    assert_string_equal(result("name"), "iPhone 11");
    reset();
    assert_int_equal(src->list(pstate, call, "firmware:iPhone12,1", NULL, 0), REVIVE_OK);
    assert_int_equal(items, 2);
    reset();
    assert_int_equal(src->list(pstate, call, "iPhone99,9", NULL, 0), REVIVE_E_NOT_FOUND);
    assert_int_equal(items, 0);
    assert_string_equal(last_err.origin, "http"); /* the library's word is kept */
    assert_int_equal(last_err.origin_code, 404);
    assert_non_null(strstr(last_err.message, "iPhone99,9"));
    reset();
    assert_int_equal(src->list(pstate, call, "../../etc", NULL, 0), REVIVE_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_fetch_query_through_plugin),
        cmocka_unit_test(test_errors_through_plugin),
        cmocka_unit_test(test_list_through_plugin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
