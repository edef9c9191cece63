/*
 * test_tls.c — HTTPS with a shop's own CA: a certificate from a CA the system does not
 * know is refused (and not retried) unless that CA is given with cacert.
 */
#include "harness.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

static void test_tls_needs_the_shops_ca(void **state)
{
    const char *dir = scratch_new();
    char sha[41], ca[600], cache_root[600], src[600];
    assert_int_equal(make_certs(dir), 0);
    make_file(dir, "fw.ipsw", 1u << 20, 3, sha);
    server s;
    assert_int_equal(server_start(&s, dir, true), 0);
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cache_root, sizeof(cache_root), "%s/cache", dir);
    snprintf(src, sizeof(src), "%s/root/fw.ipsw", dir);

    cloud_net_opts o;
    test_net_opts(&o);
    o.cacert = "/nonexistent-system-store-is-used"; /* replaced below */
    cloud_net_opts_init(&o, NULL, NULL);
    o.retry_base_ms = 10;
    cloud_cache cache;
    revive_error err = { 0 };
    assert_int_equal(cloud_cache_open(&cache, cache_root, 0, 0, &err), REVIVE_OK);
    static cloud_fetch_res res;
    cloud_fetch_req req = { .spec = url_of(&s, "/fw.ipsw"), .sha1 = sha };

    assert_int_equal(cloud_fetch(&o, &cache, &req, NULL, &res, &err), REVIVE_E_PERMISSION);
    assert_string_equal(err.origin, "curl");
    assert_int_equal(err.origin_code, 60); /* CURLE_PEER_FAILED_VERIFICATION */
    assert_non_null(strstr(err.message, "--cacert"));
    assert_int_equal(res.stats.attempts, 1); /* not worth retrying */
    assert_int_equal(cache_count(cache_root, "files", ""), 0);

    o.cacert = ca;
    assert_int_equal(cloud_fetch(&o, &cache, &req, NULL, &res, &err), REVIVE_OK);
    assert_true(res.verified);
    assert_string_equal(res.dig.sha1, sha);

    /* resumable over TLS too */
    cloud_fetch_req again = { .spec = url_of(&s, "/fw.ipsw?drop=300000&drop_times=1"),
                              .sha256 = NULL, .sha1 = sha };
    char file[1200];
    snprintf(file, sizeof(file), "%s/files/sha1-%s", cache_root, sha);
    assert_int_equal(remove(file), 0);
    assert_int_equal(cloud_fetch(&o, &cache, &again, NULL, &res, &err), REVIVE_OK);
    assert_int_equal(res.stats.attempts, 2);
    assert_int_equal(res.stats.body_bytes, 1u << 20);

    const char *srcs[] = { src, NULL };
    assert_cache_sound(cache_root, srcs);
    server_stop(&s);
    scratch_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_needs_the_shops_ca),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
