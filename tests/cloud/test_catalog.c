/*
 * test_catalog.c — ipsw.me v4 catalogs: recorded documents (good and malformed), queries,
 * and "latest signed firmware" resolved from a catalog served on loopback, downloaded
 * through a faulty connection, verified and cached.
 */
#include "harness.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", getenv("CLOUD_TEST_DATA"), name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static int parse_file(const char *name, cloud_catalog *cat, revive_error *err)
{
    size_t len;
    char *buf = slurp(name, &len);
    int rc = cloud_catalog_parse(buf, len, cat, err);
    free(buf);
    return rc;
}

static void test_recorded_catalog(void **state)
{
    cloud_catalog cat;
    revive_error err;
    assert_int_equal(parse_file("iPhone12,1.json", &cat, &err), REVIVE_OK);
    assert_string_equal(cat.identifier, "iPhone12,1");
    assert_string_equal(cat.name, "iPhone 11");
    assert_int_equal(cat.count, 5);
    assert_string_equal(cat.fw[0].version, "17.1.1");
    assert_string_equal(cat.fw[0].build, "21B91");
    assert_int_equal(cat.fw[0].size, 7065462835ull);
    assert_true(cat.fw[0].is_signed);
    assert_false(cat.fw[2].is_signed);
    assert_true(cloud_hex_valid(cat.fw[1].sha1, 40)); /* upper case in the document */
    assert_int_equal(strlen(cat.fw[0].sha256), 64);
    assert_non_null(strstr(cat.fw[4].url, "iPhone12,1_13.0_17A577_Restore.ipsw"));

    const cloud_firmware *f;
    assert_int_equal(cloud_catalog_select(&cat, "latest", &f, &err), REVIVE_OK);
    assert_string_equal(f->build, "21B91");
    assert_int_equal(cloud_catalog_select(&cat, "17.0.3", &f, &err), REVIVE_OK);
    assert_string_equal(f->build, "21A360");
    assert_false(f->is_signed);
    assert_int_equal(cloud_catalog_select(&cat, "21b80", &f, &err), REVIVE_OK);
    assert_string_equal(f->version, "17.1");
    assert_int_equal(cloud_catalog_select(&cat, "99.9", &f, &err), REVIVE_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "99.9"));
    cloud_catalog_free(&cat);
}

static void test_latest_is_highest_version(void **state)
{
    cloud_catalog cat;
    revive_error err;
    const cloud_firmware *f;
    assert_int_equal(parse_file("version_order.json", &cat, &err), REVIVE_OK);
    assert_int_equal(cloud_catalog_select(&cat, "latest", &f, &err), REVIVE_OK);
    assert_string_equal(f->version, "16.10"); /* not 16.9, not the first listed */
    cloud_catalog_free(&cat);
}

static void test_nothing_signed(void **state)
{
    cloud_catalog cat;
    revive_error err;
    const cloud_firmware *f;
    assert_int_equal(parse_file("none_signed.json", &cat, &err), REVIVE_OK);
    assert_int_equal(cloud_catalog_select(&cat, "latest", &f, &err), REVIVE_E_NOT_SIGNED);
    cloud_catalog_free(&cat);
    assert_int_equal(parse_file("empty_firmwares.json", &cat, &err), REVIVE_OK);
    assert_int_equal(cloud_catalog_select(&cat, "latest", &f, &err), REVIVE_E_NOT_FOUND);
    cloud_catalog_free(&cat);
}

static void test_malformed_refused(void **state)
{
    static const char *const bad[] = {
        "malformed_truncated.json", "malformed_not_object.json",
        "malformed_no_firmwares.json", "malformed_firmwares_object.json",
        "malformed_bad_sha1.json", "malformed_short_sha256.json", "malformed_file_url.json",
        "malformed_negative_size.json", "malformed_string_size.json",
        "malformed_signed_string.json", "malformed_missing_version.json",
        "malformed_missing_url.json", "malformed_entry_not_object.json",
        "malformed_nul_in_build.json", "malformed_long_version.json",
        "malformed_duplicate_key.json", "malformed_empty.json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cloud_catalog cat;
        revive_error err = { 0 };
        int rc = parse_file(bad[i], &cat, &err);
        if (rc != REVIVE_E_CORRUPT)
            fail_msg("%s: expected corrupt, got %s", bad[i], revive_error_name(rc));
        assert_true(err.message[0] != 0);
        assert_null(cat.fw);
    }
}

static void test_queries(void **state)
{
    char m[32], w[32];
    assert_true(cloud_query_parse("firmware:iPhone12,1:latest", m, sizeof(m), w, sizeof(w)));
    assert_string_equal(m, "iPhone12,1");
    assert_string_equal(w, "latest");
    assert_true(cloud_query_parse("firmware:iPad8,9:17.1.1", m, sizeof(m), w, sizeof(w)));
    assert_string_equal(w, "17.1.1");
    assert_true(cloud_query_parse("firmware:iPhone12,1", m, sizeof(m), w, sizeof(w)));
    assert_string_equal(w, "latest");
    assert_false(cloud_query_parse("firmware:iPhone12:latest", m, sizeof(m), w, sizeof(w)));
    assert_false(cloud_query_parse("firmware:../x,1:latest", m, sizeof(m), w, sizeof(w)));
    assert_false(cloud_query_parse("firmware:iPhone12,1:a/b", m, sizeof(m), w, sizeof(w)));
    assert_false(cloud_query_parse("firmware::latest", m, sizeof(m), w, sizeof(w)));
    assert_false(cloud_query_parse("https://x", m, sizeof(m), w, sizeof(w)));
    char url[256];
    assert_int_equal(cloud_catalog_url("https://api.ipsw.me/v4/", "iPhone12,1", url, sizeof(url)),
                     REVIVE_OK);
    assert_string_equal(url, "https://api.ipsw.me/v4/device/iPhone12,1?type=ipsw");
}

/* ---- end to end: catalog and firmware from the loopback server ---- */

static void write_catalog(const char *dir, const char *model, const char *url, const char *sha1,
                          long long size)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/root/device", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/root/device/%s", dir, model);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"name\":\"iPhone 11\",\"identifier\":\"%s\",\"firmwares\":["
            "{\"identifier\":\"%s\",\"version\":\"17.1\",\"buildid\":\"21B80\","
            "\"sha1sum\":\"%s\",\"filesize\":%lld,\"url\":\"%s\",\"signed\":true},"
            "{\"identifier\":\"%s\",\"version\":\"13.0\",\"buildid\":\"17A577\","
            "\"sha1sum\":\"%s\",\"filesize\":%lld,\"url\":\"%s\",\"signed\":false}]}\n",
            model, model, sha1, size, url, model, sha1, size, url);
    fclose(f);
}

static void test_latest_signed_end_to_end(void **state)
{
    const char *dir = scratch_new();
    char sha[41], sha2[41], base[256], cache_root[600], part_src[600], part_src2[600];
    make_file(dir, "fw.ipsw", 2u << 20, 7, sha);
    make_file(dir, "fw2.ipsw", 1u << 20, 8, sha2);
    server s;
    assert_int_equal(server_start(&s, dir, false), 0);
    snprintf(base, sizeof(base), "%s", url_of(&s, "%s", ""));
    /* the firmware URL drops once mid-way and answers 503 first: faults on the way */
    write_catalog(dir, "iPhone12,1", url_of(&s, "/fw.ipsw?drop=900000&drop_times=1&fail=503"),
                  sha, 2 << 20);
    write_catalog(dir, "iPhone9,9", url_of(&s, "/fw2.ipsw"), sha2, (1 << 20) + 1);

    cloud_net_opts o;
    test_net_opts(&o);
    cloud_cache cache;
    revive_error err = { 0 };
    snprintf(cache_root, sizeof(cache_root), "%s/cache", dir);
    assert_int_equal(cloud_cache_open(&cache, cache_root, 0, 0, &err), REVIVE_OK);
    cloud_fetch_req req = { .spec = "firmware:iPhone12,1:latest", .catalog_base = base };
    static cloud_fetch_res res;
    assert_int_equal(cloud_fetch(&o, &cache, &req, NULL, &res, &err), REVIVE_OK);
    assert_true(res.verified);
    assert_string_equal(res.version, "17.1");
    assert_string_equal(res.build, "21B80");
    assert_string_equal(res.dig.sha1, sha);
    assert_int_equal(file_size(res.path), 2 << 20);
    assert_int_equal(res.stats.body_bytes, 2 << 20);

    /* the catalog says a size the server does not have: refused, nothing kept */
    req.spec = "firmware:iPhone9,9:13.0";
    assert_int_equal(cloud_fetch(&o, &cache, &req, NULL, &res, &err), REVIVE_E_CHECKSUM);
    assert_non_null(strstr(err.message, "expected"));
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 0);
    /* a model the catalog does not know */
    req.spec = "firmware:iPhone1,1:latest";
    assert_int_equal(cloud_fetch(&o, &cache, &req, NULL, &res, &err), REVIVE_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "iPhone1,1"));
    /* a catalog that is not JSON */
    char path[700];
    snprintf(path, sizeof(path), "%s/root/device/iPhone8,1", dir);
    FILE *f = fopen(path, "w");
    fputs("<html>mirror error</html>", f);
    fclose(f);
    req.spec = "firmware:iPhone8,1:latest";
    assert_int_equal(cloud_fetch(&o, &cache, &req, NULL, &res, &err), REVIVE_E_CORRUPT);

    snprintf(part_src, sizeof(part_src), "%s/root/fw.ipsw", dir);
    snprintf(part_src2, sizeof(part_src2), "%s/root/fw2.ipsw", dir);
    const char *srcs[] = { part_src, part_src2, NULL };
    assert_cache_sound(cache_root, srcs);
    assert_int_equal(cache_count(cache_root, "files", ""), 1);
    server_stop(&s);
    scratch_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_catalog),
        cmocka_unit_test(test_latest_is_highest_version),
        cmocka_unit_test(test_nothing_signed),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_latest_signed_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
