/*
 * test_download.c — cloud_core against a real misbehaving HTTP(S) server on 127.0.0.1.
 *
 * Every case checks what a user would: the outcome (file delivered and verified, or the
 * right error), how much came over the wire where resuming is the point, and that the
 * cache never holds an unverified file and no part is left corrupt.
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
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define A_SIZE (3u << 20)
#define B_SIZE ((3u << 20) + 12345)

static const char *dir;
static server srv;
static char sha_a[41], sha_b[41], path_a[600], path_b[600], cache_root[600], out_dir[600];
static cloud_net_opts net;
static cloud_cache cache;
static cloud_fetch_res res;
static revive_error err;

static int group_setup(void **state)
{
    dir = scratch_new();
    make_file(dir, "a.bin", A_SIZE, 1, sha_a);
    make_file(dir, "b.bin", B_SIZE, 2, sha_b);
    snprintf(path_a, sizeof(path_a), "%s/root/a.bin", dir);
    snprintf(path_b, sizeof(path_b), "%s/root/b.bin", dir);
    snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
    if (server_start(&srv, dir, false) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    server_stop(&srv);
    scratch_remove(dir);
    return 0;
}

static int case_setup(void **state)
{
    static int n;
    snprintf(cache_root, sizeof(cache_root), "%s/cache/%d", dir, ++n);
    test_net_opts(&net);
    memset(&err, 0, sizeof(err));
    revive_error e;
    return cloud_cache_open(&cache, cache_root, 0, 0, &e);
}

static int case_teardown(void **state)
{
    const char *srcs[] = { path_a, path_b, NULL };
    assert_cache_sound(cache_root, srcs);
    return 0;
}

static int fetch_io(const char *url, const char *sha1, const char *out, const cloud_io *io)
{
    cloud_fetch_req req = { .spec = url, .sha1 = sha1, .out_dir = out };
    return cloud_fetch(&net, &cache, &req, io, &res, &err);
}

static int fetch(const char *url, const char *sha1)
{
    return fetch_io(url, sha1, NULL, NULL);
}

static void assert_delivered(const char *sha1, long long size)
{
    assert_true(res.verified);
    assert_string_equal(res.dig.sha1, sha1);
    assert_int_equal(file_size(res.path), size);
    cloud_digest d;
    revive_error e;
    assert_int_equal(cloud_hash_file(res.path, false, &d, &e), REVIVE_OK);
    assert_string_equal(d.sha1, sha1);
}

static void test_plain_then_cached(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_false(res.from_cache);
    assert_int_equal(res.stats.body_bytes, A_SIZE);
    assert_int_equal(cache_count(cache_root, "files", ""), 1);
    assert_int_equal(fetch_io(url_of(&srv, "/a.bin"), sha_a, out_dir, NULL), REVIVE_OK);
    assert_true(res.from_cache);
    assert_int_equal(res.stats.body_bytes, 0);
    char want[700];
    snprintf(want, sizeof(want), "%s/a.bin", out_dir);
    assert_string_equal(res.path, want);
    assert_delivered(sha_a, A_SIZE);
    unlink(want);
}

static void test_drop_retried_in_same_run(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000&drop_times=1"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.attempts, 2);
    assert_int_equal(res.stats.body_bytes, A_SIZE); /* nothing downloaded twice */
}

static void test_drop_resumed_next_run(void **state)
{
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1500000"), sha_a), REVIVE_E_NETWORK);
    assert_string_equal(err.origin, "curl");
    assert_int_equal(err.origin_code, 18); /* CURLE_PARTIAL_FILE */
    assert_int_equal(cache_count(cache_root, "files", ""), 0);
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 1);
    const char *srcs[] = { path_a, NULL };
    assert_cache_sound(cache_root, srcs);
    /* a later run (same URL, now healthy) resumes where the part ends */
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.resumed_from, 1500000);
    assert_int_equal(res.stats.body_bytes, A_SIZE - 1500000);
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 0);
}

static void test_stall_detected_and_resumed(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?stall=700000&stall_secs=4"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_true(res.stats.attempts >= 2);
    assert_int_equal(res.stats.body_bytes, A_SIZE);
}

static void test_server_ignores_range(void **state)
{
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000"), sha_a), REVIVE_E_NETWORK);
    assert_int_equal(fetch(url_of(&srv, "/a.bin?norange=1"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.restarts, 1);
    assert_int_equal(res.stats.body_bytes, A_SIZE); /* the whole file, written from zero */
}

static void test_no_validators_no_resume(void **state)
{
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000&noetag=1"), sha_a), REVIVE_E_NETWORK);
    assert_int_equal(fetch(url_of(&srv, "/a.bin?noetag=1"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.resumed_from, 0);
    assert_int_equal(res.stats.body_bytes, A_SIZE);
}

static void test_resume_on_last_modified(void **state)
{
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000&validator=lastmod"), sha_a),
                     REVIVE_E_NETWORK);
    assert_int_equal(fetch(url_of(&srv, "/a.bin?validator=lastmod"), sha_a), REVIVE_OK);
    assert_int_equal(res.stats.resumed_from, 1000000);
    assert_int_equal(res.stats.body_bytes, A_SIZE - 1000000);
    assert_delivered(sha_a, A_SIZE);
}

static void test_weak_etag_not_resumed(void **state)
{
    /* RFC 9110: a weak validator may not be used in If-Range, so no resume from it */
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000&validator=weak"), sha_a),
                     REVIVE_E_NETWORK);
    assert_int_equal(fetch(url_of(&srv, "/a.bin?validator=weak"), sha_a), REVIVE_OK);
    assert_int_equal(res.stats.resumed_from, 0);
    assert_int_equal(res.stats.body_bytes, A_SIZE);
    assert_delivered(sha_a, A_SIZE);
}

static void test_proxy_from_environment(void **state)
{
    /* A second server plays the proxy: it serves the absolute-form request
     * "GET http://127.0.0.1:1/a.bin" from its own root. Port 1 is never reached. */
    server proxy;
    assert_int_equal(server_start(&proxy, dir, false), 0);
    char purl[64];
    snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", proxy.port);
    setenv("http_proxy", purl, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    int rc = fetch("http://127.0.0.1:1/a.bin", sha_a);
    unsetenv("http_proxy");
    setenv("no_proxy", "127.0.0.1", 1);
    long long through = server_sent(&proxy, "/a.bin");
    server_stop(&proxy);
    assert_int_equal(rc, REVIVE_OK);
    assert_int_equal(through, A_SIZE);
    assert_delivered(sha_a, A_SIZE);
}

static void test_416_restarts(void **state)
{
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000"), sha_a), REVIVE_E_NETWORK);
    net.max_attempts = 3;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?status416=1"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.restarts, 1);
}

static void test_overlong_length_completes_by_416(void **state)
{
    /* The server announces more than it has: the transfer ends short, the resume asks
     * past the end, 416 names the real size, which the part already has. */
    assert_int_equal(fetch(url_of(&srv, "/a.bin?len_delta=5000"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.body_bytes, A_SIZE);
}

static void test_short_length_is_checksum_error(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?len_delta=-5000"), sha_a), REVIVE_E_CHECKSUM);
    assert_int_equal(cache_count(cache_root, "files", ""), 0);
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 0);
}

static void test_file_changed_between_requests(void **state)
{
    /* first response is a.bin, cut; the resume's If-Range no longer matches, so the
     * server sends b.bin whole: the part restarts instead of splicing */
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000&drop_times=1&swap=b.bin"), sha_b),
                     REVIVE_OK);
    assert_delivered(sha_b, B_SIZE);
    assert_int_equal(res.stats.restarts, 1);
}

static void test_file_changed_wrong_checksum(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?drop=1000000&drop_times=1&swap=b.bin&x=2"), sha_a),
                     REVIVE_E_CHECKSUM);
    assert_non_null(strstr(err.message, "does not match"));
    assert_int_equal(cache_count(cache_root, "files", ""), 0);
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 0);
}

static void test_corrupt_once_then_good(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?corrupt=123456&corrupt_times=1"), sha_a),
                     REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(res.stats.body_bytes, 2ull * A_SIZE);
}

static void test_corrupt_always_fails(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?corrupt=77"), sha_a), REVIVE_E_CHECKSUM);
    assert_int_equal(err.code, REVIVE_E_CHECKSUM);
    assert_int_equal(cache_count(cache_root, "files", ""), 0);
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 0);
}

static void test_5xx_then_recover(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin?fail=500&fail_times=2"), sha_a), REVIVE_OK);
    assert_int_equal(res.stats.attempts, 3);
    assert_delivered(sha_a, A_SIZE);
    assert_int_equal(fetch(url_of(&srv, "/b.bin?fail=503&fail_times=1"), sha_b), REVIVE_OK);
    assert_int_equal(res.stats.attempts, 2);
}

static void test_5xx_forever_gives_up(void **state)
{
    net.max_attempts = 3;
    assert_int_equal(fetch(url_of(&srv, "/a.bin?fail=500&fail_times=100"), sha_a),
                     REVIVE_E_NETWORK);
    assert_string_equal(err.origin, "http");
    assert_int_equal(err.origin_code, 500);
    assert_int_equal(res.stats.attempts, 3);
}

static void test_404_not_retried(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/missing.bin"), sha_a), REVIVE_E_NOT_FOUND);
    assert_int_equal(res.stats.attempts, 1);
    assert_int_equal(err.origin_code, 404);
    assert_string_equal(err.origin, "http");
}

static void test_redirect_followed(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/redirect?to=/a.bin"), sha_a), REVIVE_OK);
    assert_delivered(sha_a, A_SIZE);
}

static void test_redirect_loop_fails_clearly(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/loop/0"), sha_a), REVIVE_E_LIMIT);
    assert_int_equal(res.stats.attempts, 1);
    assert_string_equal(err.origin, "curl");
    assert_int_equal(err.origin_code, 47); /* CURLE_TOO_MANY_REDIRECTS */
    assert_non_null(strstr(err.message, "redirect"));
}

static int cancel_after;
static uint64_t seen;
static void count_progress(void *ud, uint64_t done, uint64_t total)
{
    seen = done;
}
static bool cancel_when(void *ud)
{
    return seen >= (uint64_t)cancel_after;
}

static void test_cancel_leaves_resumable_part(void **state)
{
    cancel_after = 1000000;
    seen = 0;
    cloud_io io = { NULL, count_progress, cancel_when, NULL };
    /* a stall keeps the transfer open so the cancel lands mid-body */
    assert_int_equal(fetch_io(url_of(&srv, "/a.bin?stall=1200000&stall_secs=3"), sha_a, NULL, &io),
                     REVIVE_E_CANCELLED);
    assert_non_null(strstr(err.message, "resume"));
    char part[1200];
    cloud_cache_paths(&cache, "sha1-x", NULL, part, NULL, NULL, sizeof(part));
    assert_int_equal(cache_count(cache_root, "parts", ".part"), 1);
    const char *srcs[] = { path_a, NULL };
    assert_cache_sound(cache_root, srcs);
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), sha_a), REVIVE_OK);
    assert_true(res.stats.resumed_from >= 1000000);
    assert_int_equal(res.stats.body_bytes, A_SIZE - res.stats.resumed_from);
    assert_delivered(sha_a, A_SIZE);
}

static void test_no_space(void **state)
{
    cache.margin = 1ull << 60; /* more than any disk */
    assert_int_equal(fetch(url_of(&srv, "/b.bin?x=space"), sha_b), REVIVE_E_NO_SPACE_HOST);
    assert_non_null(strstr(err.message, "free"));
    assert_int_equal(res.stats.body_bytes, 0); /* refused once the length was known */
    char part[1200];
    snprintf(part, sizeof(part), "%s/parts/sha1-%s.part", cache_root, sha_b);
    assert_true(file_size(part) <= 0);
    assert_int_equal(cache_count(cache_root, "files", ""), 0);
}

static void test_unverified_needs_consent(void **state)
{
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), NULL), REVIVE_E_INVALID);
    cloud_fetch_req req = { .spec = url_of(&srv, "/a.bin"), .out_dir = out_dir,
                            .allow_unverified = true };
    assert_int_equal(cloud_fetch(&net, &cache, &req, NULL, &res, &err), REVIVE_OK);
    assert_false(res.verified);
    assert_string_equal(res.dig.sha1, sha_a);
    assert_int_equal(cache_count(cache_root, "files", ""), 0); /* never cached */
    assert_int_equal(file_size(res.path), A_SIZE);
    unlink(res.path);
}

static void test_bad_input_refused(void **state)
{
    assert_int_equal(fetch("file:///etc/passwd", sha_a), REVIVE_E_INVALID);
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), "abc"), REVIVE_E_INVALID);
    assert_int_equal(fetch("ftp://127.0.0.1/x", sha_a), REVIVE_E_INVALID);
}

static void test_lru_eviction(void **state)
{
    cache.max_bytes = A_SIZE + B_SIZE - 1; /* room for one of the two */
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), sha_a), REVIVE_OK);
    assert_int_equal(fetch(url_of(&srv, "/b.bin"), sha_b), REVIVE_OK);
    assert_int_equal(cache_count(cache_root, "files", ""), 1);
    assert_true(res.verified);
    char file[1200];
    cloud_cache_paths(&cache, "sha1-x", file, NULL, NULL, NULL, sizeof(file));
    snprintf(file, sizeof(file), "%s/files/sha1-%s", cache_root, sha_b);
    assert_int_equal(file_size(file), B_SIZE); /* the newest stays */
    cache.max_bytes = 0;
}

static void test_abandoned_part_removed(void **state)
{
    net.max_attempts = 1;
    assert_int_equal(fetch(url_of(&srv, "/b.bin?drop=100000"), sha_b), REVIVE_E_NETWORK);
    char part[1200], meta[1200];
    snprintf(part, sizeof(part), "%s/parts/sha1-%s.part", cache_root, sha_b);
    snprintf(meta, sizeof(meta), "%s/parts/sha1-%s.meta", cache_root, sha_b);
    assert_int_equal(file_size(part), 100000);
    /* a recent part survives another entry being added */
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), sha_a), REVIVE_OK);
    assert_int_equal(file_size(part), 100000);
    /* one untouched for longer than CLOUD_STALE_PART_DAYS does not */
    struct timespec old[2] = { { time(NULL) - (CLOUD_STALE_PART_DAYS + 1) * 86400L, 0 },
                               { time(NULL) - (CLOUD_STALE_PART_DAYS + 1) * 86400L, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, part, old, 0), 0);
    char file[1200];
    snprintf(file, sizeof(file), "%s/files/sha1-%s", cache_root, sha_a);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(fetch(url_of(&srv, "/a.bin"), sha_a), REVIVE_OK);
    assert_int_equal(file_size(part), -1);
    assert_int_equal(file_size(meta), -1);
}

static void test_two_runs_share_one_download(void **state)
{
    long long before = server_sent(&srv, "/b.bin");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* another revive run: slow download of the same file */
        int rc = fetch(url_of(&srv, "/b.bin?stall=1500000&stall_secs=0.6"), sha_b);
        _exit(rc == REVIVE_OK && !res.from_cache ? 0 : 1);
    }
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
    /* this run waits on the key's lock, then finds the verified file in the cache */
    assert_int_equal(fetch(url_of(&srv, "/b.bin"), sha_b), REVIVE_OK);
    assert_true(res.from_cache);
    assert_int_equal(res.stats.body_bytes, 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(server_sent(&srv, "/b.bin") - before, B_SIZE); /* downloaded once */
    assert_delivered(sha_b, B_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, case_setup, case_teardown)
        T(test_plain_then_cached),
        T(test_drop_retried_in_same_run),
        T(test_drop_resumed_next_run),
        T(test_stall_detected_and_resumed),
        T(test_server_ignores_range),
        T(test_no_validators_no_resume),
        T(test_resume_on_last_modified),
        T(test_weak_etag_not_resumed),
        T(test_proxy_from_environment),
        T(test_416_restarts),
        T(test_overlong_length_completes_by_416),
        T(test_short_length_is_checksum_error),
        T(test_file_changed_between_requests),
        T(test_file_changed_wrong_checksum),
        T(test_corrupt_once_then_good),
        T(test_corrupt_always_fails),
        T(test_5xx_then_recover),
        T(test_5xx_forever_gives_up),
        T(test_404_not_retried),
        T(test_redirect_followed),
        T(test_redirect_loop_fails_clearly),
        T(test_cancel_leaves_resumable_part),
        T(test_no_space),
        T(test_unverified_needs_consent),
        T(test_bad_input_refused),
        T(test_lru_eviction),
        T(test_abandoned_part_removed),
        T(test_two_runs_share_one_download),
#undef T
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
