/* The itunes plugin as the core will see it: loaded with dlopen, checked through its one
 * exported symbol, given a small host table written here (the core's loader is not used),
 * and driven through probe / inspect / verify / import / list / extract. The host records
 * every fail(), event and result so the test can check what the plugin said, and that it
 * handed back the call handle it was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

#include <dlfcn.h>

static int call_marker;
#define CALL ((revive_call *)&call_marker)

static struct {
    int fail_code;
    char fail_msg[512];
    unsigned problems, items, results, warnings, wrong_call;
    char format[64];
    int64_t files;
    bool ok;
    const char *password;
    unsigned secret_calls;
} H;

static void h_log(revive_call *call, int level, const char *fmt, ...)
{
    (void)call; (void)level; (void)fmt;
}

static int h_fail(revive_call *call, int code, const char *origin, int oc, const char *fmt, ...)
{
    (void)origin; (void)oc;
    if (call != CALL)
        H.wrong_call++;
    H.fail_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(H.fail_msg, sizeof(H.fail_msg), fmt, ap);
    va_end(ap);
    return code;
}

static void h_progress(revive_call *call, const char *phase, uint64_t d, uint64_t t,
                       const char *unit)
{
    (void)phase; (void)d; (void)t; (void)unit;
    if (call != CALL)
        H.wrong_call++;
}

static void h_event(revive_call *call, const char *type, const revive_field *f, size_t n)
{
    (void)f; (void)n;
    if (call != CALL)
        H.wrong_call++;
    if (!strcmp(type, "problem"))
        H.problems++;
    else if (!strcmp(type, "item"))
        H.items++;
    else if (!strcmp(type, "warning"))
        H.warnings++;
}

static bool h_cancelled(revive_call *call)
{
    (void)call;
    return false;
}

static const char *h_config(revive_call *call, const char *key)
{
    (void)call; (void)key;
    return NULL;
}

static const char *h_dir(int which)
{
    (void)which;
    return "/tmp";
}

static int h_result(revive_call *call, const revive_field *f)
{
    if (call != CALL)
        H.wrong_call++;
    H.results++;
    if (!strcmp(f->key, "format") && f->type == REVIVE_VAL_STR)
        snprintf(H.format, sizeof(H.format), "%s", f->v.s);
    if (!strcmp(f->key, "files") && f->type == REVIVE_VAL_INT)
        H.files = f->v.i;
    if (!strcmp(f->key, "ok") && f->type == REVIVE_VAL_BOOL)
        H.ok = f->v.b;
    return REVIVE_OK;
}

static int h_secret(revive_call *call, const char *purpose, char *buf, size_t cap)
{
    (void)purpose;
    if (call != CALL)
        H.wrong_call++;
    H.secret_calls++;
    if (!H.password)
        return REVIVE_E_PASSWORD_NEEDED;
    snprintf(buf, cap, "%s", H.password);
    return REVIVE_OK;
}

static const revive_host host = {
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

static void *handle;
static const revive_importer *imp;
static void *state;
static char *t, *plain, *enc;

static int setup(void **s)
{
    (void)s;
    handle = dlopen(ITUNES_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return -1;
    }
    revive_plugin_entry_fn entry = (revive_plugin_entry_fn)dlsym(handle, REVIVE_PLUGIN_ENTRY_NAME);
    if (!entry)
        return -1;
    const revive_plugin *p = entry();
    if (p->size < sizeof(revive_plugin) || p->abi_major != REVIVE_ABI_MAJOR ||
        strcmp(p->name, "itunes"))
        return -1;
    revive_error err = { .size = sizeof(err) };
    if (p->init(&host, &state, &err) != REVIVE_OK)
        return -1;
    imp = p->importers[0];
    if (!imp || p->importers[1] || strcmp(imp->name, "itunes"))
        return -1;
    t = tmpdir_new();
    plain = path2(t, "plain");
    enc = path2(t, "enc");
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    ib_ctx c;
    ib_ctx_init(&c);
    int rc = ib_gen_write_files(&c, plain, &o, sample_files(), SAMPLE_N);
    o.password = "plugin-pw";
    rc |= ib_gen_write_files(&c, enc, &o, sample_files(), SAMPLE_N);
    ib_ctx_fini(&c);
    return rc;
}

static int teardown(void **s)
{
    (void)s;
    const revive_plugin *p = ((revive_plugin_entry_fn)dlsym(handle, REVIVE_PLUGIN_ENTRY_NAME))();
    p->fini(state);
    ib_rmtree(t);
    free(plain);
    free(enc);
    free(t);
    /* the plugin stays loaded: OpenSSL and libplist keep per-thread state until exit */
    return 0;
}

static void reset(void)
{
    memset(&H, 0, sizeof(H));
}

static void only_one_symbol_and_probe(void **s)
{
    (void)s;
    /* hidden visibility: the library's functions are not exported */
    assert_null(dlsym(handle, "ib_open"));
    assert_int_equal(imp->probe(state, CALL, plain), 100);
    assert_int_equal(imp->probe(state, CALL, t), 0); /* "plain"/"enc" are not UDID names */
    assert_int_equal(imp->probe(state, CALL, "/nonexistent"), 0);
}

static void inspect_and_verify(void **s)
{
    (void)s;
    reset();
    assert_int_equal(imp->inspect(state, CALL, plain, NULL, 0), REVIVE_OK);
    assert_string_equal(H.format, "itunes-db");
    assert_int_equal(H.files, 7);
    reset();
    assert_int_equal(imp->verify(state, CALL, plain, NULL, 0), REVIVE_OK);
    assert_true(H.ok);
    assert_int_equal(H.problems, 0);
    /* the real fixture: problems as events, CORRUPT through fail() */
    const char *root = getenv("REVIVE_FIXTURES");
    assert_non_null(root);
    char *fx = path2(root, "real-ios14-backup");
    reset();
    revive_field opts[] = { REVIVE_FIELD_INT("threads", 2) };
    assert_int_equal(imp->verify(state, CALL, fx, opts, 1), REVIVE_E_CORRUPT);
    assert_int_equal(H.fail_code, REVIVE_E_CORRUPT);
    assert_int_equal(H.problems, 1091);
    assert_false(H.ok);
    free(fx);
    assert_int_equal(H.wrong_call, 0);
}

static void encrypted_through_secret(void **s)
{
    (void)s;
    reset();
    /* inspect without a password: the plists' facts, no counts */
    assert_int_equal(imp->inspect(state, CALL, enc, NULL, 0), REVIVE_OK);
    assert_string_equal(H.format, "itunes-db");
    assert_int_equal(H.files, 0);
    assert_int_equal(H.secret_calls, 1);
    reset();
    assert_int_equal(imp->verify(state, CALL, enc, NULL, 0), REVIVE_E_PASSWORD_NEEDED);
    assert_int_equal(H.fail_code, REVIVE_E_PASSWORD_NEEDED);
    reset();
    H.password = "not-it";
    char *out = path2(t, "imported");
    assert_int_equal(imp->import(state, CALL, enc, out, NULL, 0), REVIVE_E_WRONG_PASSWORD);
    assert_int_equal(H.secret_calls, 1);
    assert_non_null(strstr(H.fail_msg, "password is wrong"));
    assert_null(strstr(H.fail_msg, "not-it")); /* the password is never echoed */
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    reset();
    H.password = "plugin-pw";
    assert_int_equal(imp->import(state, CALL, enc, out, NULL, 0), REVIVE_OK);
    assert_int_equal(H.files, 7);
    reset();
    assert_int_equal(imp->verify(state, CALL, out, NULL, 0), REVIVE_OK);
    assert_int_equal(H.secret_calls, 0); /* the import is plain */
    /* the key derived for the import is kept for the run: no second prompt, no PBKDF2 */
    reset();
    assert_int_equal(imp->verify(state, CALL, enc, NULL, 0), REVIVE_OK);
    assert_int_equal(H.secret_calls, 0);
    assert_true(H.ok);
    free(out);
    assert_int_equal(H.wrong_call, 0);
}

static void list_and_extract(void **s)
{
    (void)s;
    reset();
    revive_field lo[] = { REVIVE_FIELD_STR("domain", "HomeDomain"),
                          REVIVE_FIELD_STR("pattern", "Library/*") };
    assert_int_equal(imp->list(state, CALL, plain, lo, 2), REVIVE_OK);
    assert_int_equal(H.items, 6);
    reset();
    char *out = path2(t, "x");
    revive_field eo[] = { REVIVE_FIELD_STR("domain", "AppDomain-com.example.app"),
                          REVIVE_FIELD_STR("out", out) };
    H.password = "plugin-pw";
    assert_int_equal(imp->extract(state, CALL, enc, eo, 2), REVIVE_OK);
    assert_int_equal(H.files, 1);
    char *f = path2(out, "AppDomain-com.example.app/Documents/a.txt");
    assert_true(file_equals(f, (const uint8_t *)"hello\n", 6));
    reset();
    assert_int_equal(imp->extract(state, CALL, plain, NULL, 0), REVIVE_E_INVALID);
    assert_non_null(strstr(H.fail_msg, "out"));
    free(f);
    free(out);
}

int main(void)
{
    setenv("TMPDIR", "/tmp", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_one_symbol_and_probe),
        cmocka_unit_test(inspect_and_verify),
        cmocka_unit_test(encrypted_through_secret),
        cmocka_unit_test(list_and_extract),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
