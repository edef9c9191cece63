/* Every loader refusal, each with a plugin built with exactly that defect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loader.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir(void)
{
    const char *d = getenv("REVIVE_TEST_PLUGINS");
    assert_non_null(d);
    return d;
}

/* Load one plugin file into a fresh set; expect `code` and, on refusal, `needle` in the
 * reason and the file's path named. */
static void expect(const char *file, int code, const char *needle)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir(), file);
    rv_plugins set = { 0 };
    int rc = rv_plugins_load_file(&set, path);
    assert_int_equal(rc, code);
    if (code == REVIVE_OK) {
        assert_int_equal(set.n, 1);
        assert_int_equal(set.nrefused, 0);
    } else {
        assert_int_equal(set.n, 0);
        assert_int_equal(set.nrefused, 1);
        assert_string_equal(set.refused[0].path, path);
        if (!strstr(set.refused[0].reason, needle))
            fail_msg("reason '%s' lacks '%s'", set.refused[0].reason, needle);
    }
    rv_plugins_unload(&set);
}

static void good_loads(void **s)          { (void)s; expect("good.so", REVIVE_OK, NULL); }
static void no_entry(void **s)            { (void)s; expect("no_entry.so", REVIVE_E_PLUGIN_ABI, "no 'revive_plugin_entry' symbol"); }
static void other_major(void **s)         { (void)s; expect("other_major.so", REVIVE_E_PLUGIN_ABI, "another major"); }
static void newer_minor(void **s)         { (void)s; expect("newer_minor.so", REVIVE_E_PLUGIN_ABI, "newer than this revive"); }
static void too_small(void **s)           { (void)s; expect("too_small.so", REVIVE_E_PLUGIN_ABI, "descriptor too small"); }
static void init_fails(void **s)          { (void)s; expect("init_fails.so", REVIVE_E_UNSUPPORTED, "needs a device it cannot find"); }
static void bad_name(void **s)            { (void)s; expect("bad_name.so", REVIVE_E_PLUGIN_ABI, "is not 1-31 characters"); }
static void small_table(void **s)         { (void)s; expect("small_table.so", REVIVE_E_PLUGIN_ABI, "importer table #0 is 8 bytes"); }
static void unresolved(void **s)          { (void)s; expect("unresolved.so", REVIVE_E_PLUGIN, "revive_test_symbol_that_does_not_exist"); }

static void duplicate_name(void **s)
{
    (void)s;
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/dup_first.so", dir());
    snprintf(b, sizeof b, "%s/dup_second.so", dir());
    rv_plugins set = { 0 };
    assert_int_equal(rv_plugins_load_file(&set, a), REVIVE_OK);
    assert_int_equal(rv_plugins_load_file(&set, b), REVIVE_E_PLUGIN);
    assert_int_equal(set.n, 1);
    assert_non_null(strstr(set.refused[0].reason, "already loaded from"));
    assert_non_null(strstr(set.refused[0].reason, a));
    rv_plugins_unload(&set);
}

/* Copy good.so into a fresh directory so its modes can be changed. */
static void copy_good(char *tmpdir, char *dst)
{
    strcpy(tmpdir, "/tmp/revive-loader-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    sprintf(dst, "%s/good.so", tmpdir);
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/good.so", dir());
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    chmod(dst, 0755);
    chmod(tmpdir, 0755);
}

static void writable_file(void **s)
{
    (void)s;
    char tmp[PATH_MAX], path[PATH_MAX + 16];
    copy_good(tmp, path);
    rv_plugins set = { 0 };
    assert_int_equal(rv_plugins_load_file(&set, path), REVIVE_OK);
    rv_plugins_unload(&set);
    chmod(path, 0757);
    assert_int_equal(rv_plugins_load_file(&set, path), REVIVE_E_PERMISSION);
    assert_non_null(strstr(set.refused[0].reason, "writable by every user"));
    assert_non_null(strstr(set.refused[0].reason, "chmod o-w"));
    rv_plugins_unload(&set);
    unlink(path);
    rmdir(tmp);
}

static void writable_dir(void **s)
{
    (void)s;
    char tmp[PATH_MAX], path[PATH_MAX + 16];
    copy_good(tmp, path);
    chmod(tmp, 0777);
    rv_plugins set = { 0 };
    assert_int_equal(rv_plugins_load_file(&set, path), REVIVE_E_PERMISSION);
    assert_non_null(strstr(set.refused[0].reason, "its directory"));
    rv_plugins_unload(&set);
    unlink(path);
    rmdir(tmp);
}

/* A whole directory: the good ones load, every bad one is refused, none stops another. */
static void directory_refusals_do_not_stop_others(void **s)
{
    (void)s;
    const char *dirs[] = { dir() };
    rv_plugins set = { 0 };
    rv_plugins_load(&set, dirs, 1);
    assert_non_null(rv_plugins_find(&set, "good"));
    assert_non_null(rv_plugins_find(&set, "dup"));
    assert_int_equal(set.n, 2);
    assert_int_equal(set.nrefused, 9);
    rv_plugins_unload(&set);
}

/* An accepted plugin's tables are copied into zeroed core-size structs. */
static void copies_are_core_size(void **s)
{
    (void)s;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/good.so", dir());
    rv_plugins set = { 0 };
    assert_int_equal(rv_plugins_load_file(&set, path), REVIVE_OK);
    const rv_plugin *p = set.v[0];
    assert_int_equal(p->desc.size, sizeof(revive_plugin));
    assert_int_equal(p->nimporters, 1);
    assert_int_equal(p->importers[0].size, sizeof(revive_importer));
    assert_null(p->importers[0].extract);
    assert_false(p->has_transport);
    assert_non_null(rv_find_importer(&set, "test", NULL));
    rv_plugins_unload(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_loads),
        cmocka_unit_test(no_entry),
        cmocka_unit_test(other_major),
        cmocka_unit_test(newer_minor),
        cmocka_unit_test(too_small),
        cmocka_unit_test(init_fails),
        cmocka_unit_test(bad_name),
        cmocka_unit_test(small_table),
        cmocka_unit_test(unresolved),
        cmocka_unit_test(duplicate_name),
        cmocka_unit_test(writable_file),
        cmocka_unit_test(writable_dir),
        cmocka_unit_test(directory_refusals_do_not_stop_others),
        cmocka_unit_test(copies_are_core_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
