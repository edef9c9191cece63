/* Run journals: durable appends, a torn last line tolerated, tampering refused, locks,
 * run listings and timelines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "journal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char state[64];
static revive_error err;

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **s)
{
    (void)s;
    snprintf(state, sizeof state, "/tmp/rv-journal-XXXXXX");
    return mkdtemp(state) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    rm_rf(state);
    return 0;
}

/* Count the newline-terminated lines of a file through a descriptor of our own. */
static size_t lines_on_disk(const char *path)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    size_t c = 0;
    for (ssize_t i = 0; i < n; i++)
        c += buf[i] == '\n';
    return c;
}

static rv_journal *new_run(const char *id, int records)
{
    rv_journal *j;
    assert_int_equal(rv_journal_create(state, id, &j, &err), REVIVE_OK);
    json_t *f = json_pack("{s:s, s:{s:s}}", "playbook", "/x/p.lua", "params", "a", "1");
    assert_int_equal(rv_journal_append(j, "run_started", f, &err), REVIVE_OK);
    json_decref(f);
    for (int i = 1; i < records; i++) {
        f = json_pack("{s:s, s:i}", "step", "backup", "n", i);
        assert_int_equal(rv_journal_append(j, i % 2 ? "step_started" : "step_finished", f, &err), REVIVE_OK);
        json_decref(f);
    }
    return j;
}

static void test_each_record_is_on_disk_when_append_returns(void **s)
{
    (void)s;
    rv_journal *j;
    assert_int_equal(rv_journal_create(state, NULL, &j, &err), REVIVE_OK);
    assert_true(rv_journal_id_ok(rv_journal_run_id(j)));
    for (int i = 1; i <= 5; i++) {
        json_t *f = json_pack("{s:i}", "n", i);
        assert_int_equal(rv_journal_append(j, "note", f, &err), REVIVE_OK);
        json_decref(f);
        assert_int_equal(lines_on_disk(rv_journal_file(j)), (size_t)i);
    }
    json_t *recs;
    bool torn = true;
    assert_int_equal(rv_journal_read(rv_journal_file(j), &recs, &torn, &err), REVIVE_OK);
    assert_false(torn);
    assert_int_equal(json_array_size(recs), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 4), "n")), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "prev")), "");
    json_decref(recs);
    rv_journal_close(j);
}

static void test_torn_last_line_is_tolerated_and_cut_on_resume(void **s)
{
    (void)s;
    rv_journal *j = new_run("torn", 3);
    char path[256];
    snprintf(path, sizeof path, "%s", rv_journal_file(j));
    rv_journal_close(j);
    FILE *f = fopen(path, "a");
    fputs("{\"seq\":4,\"time\":1.0,\"type\":\"step_fini", f); /* the crash */
    fclose(f);
    json_t *recs;
    bool torn = false;
    assert_int_equal(rv_journal_read(path, &recs, &torn, &err), REVIVE_OK);
    assert_true(torn);
    assert_int_equal(json_array_size(recs), 3);
    json_decref(recs);
    assert_int_equal(rv_journal_resume(state, "torn", &j, &recs, &err), REVIVE_OK);
    assert_int_equal(json_array_size(recs), 3);
    json_decref(recs);
    assert_int_equal(rv_journal_append(j, "resumed", NULL, &err), REVIVE_OK);
    rv_journal_close(j);
    assert_int_equal(rv_journal_read(path, &recs, &torn, &err), REVIVE_OK);
    assert_false(torn);
    assert_int_equal(json_array_size(recs), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 3), "type")), "resumed");
    json_decref(recs);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static void test_tampering_is_refused(void **s)
{
    (void)s;
    rv_journal *j = new_run("tamper", 4);
    char path[256];
    snprintf(path, sizeof path, "%s", rv_journal_file(j));
    rv_journal_close(j);
    char orig[65536];
    snprintf(orig, sizeof orig, "%s", slurp(path));
    json_t *recs;

    /* A changed value in a middle record. */
    char *t = strdup(orig);
    char *p = strstr(t, "\"n\":1");
    assert_non_null(p);
    p[4] = '7';
    spit(path, t);
    assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_E_CORRUPT);
    assert_non_null(strstr(err.message, "line 3"));
    assert_int_equal(rv_journal_resume(state, "tamper", &j, &recs, &err), REVIVE_E_CORRUPT);

    /* A removed record. */
    strcpy(t, orig);
    char *l2 = strchr(t, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    memmove(l2, l3, strlen(l3) + 1);
    spit(path, t);
    assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_E_CORRUPT);
    assert_non_null(strstr(err.message, "sequence"));

    /* A middle line that is not JSON (not a torn tail: it has its newline). */
    strcpy(t, orig);
    l2 = strchr(t, '\n') + 1;
    l2[0] = '#';
    spit(path, t);
    assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_E_CORRUPT);
    free(t);

    /* Unchanged, it reads. */
    spit(path, orig);
    assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_OK);
    json_decref(recs);
}

static void test_one_writer_per_run(void **s)
{
    (void)s;
    rv_journal *j = new_run("locked", 2), *k;
    json_t *recs;
    assert_int_equal(rv_journal_resume(state, "locked", &k, &recs, &err), REVIVE_E_BUSY);
    assert_int_equal(rv_journal_create(state, "locked", &k, &err), REVIVE_E_BUSY);
    rv_journal_close(j);
    assert_int_equal(rv_journal_resume(state, "locked", &k, &recs, &err), REVIVE_OK);
    assert_int_equal(rv_journal_count(k), 2);
    json_decref(recs);
    rv_journal_close(k);
    assert_int_equal(rv_journal_create(state, "../evil", &k, &err), REVIVE_E_INVALID);
    assert_int_equal(rv_journal_resume(state, "nope", &k, &recs, &err), REVIVE_E_NOT_FOUND);
}

static void test_runs_listing_and_timeline(void **s)
{
    (void)s;
    rv_journal *a = new_run("a-finished", 3);
    json_t *f = json_pack("{s:s, s:{s:{s:{s:s, s:s}}}}", "step", "restore", "values", "2", "__error",
                          "name", "timeout", "message", "too slow");
    assert_int_equal(rv_journal_append(a, "step_finished", f, &err), REVIVE_OK);
    json_decref(f);
    f = json_pack("{s:s}", "outcome", "fixed");
    assert_int_equal(rv_journal_append(a, "outcome", f, &err), REVIVE_OK);
    json_decref(f);
    char path[256];
    snprintf(path, sizeof path, "%s", rv_journal_file(a));
    rv_journal_close(a);
    rv_journal *b = new_run("b-interrupted", 2);
    rv_journal_close(b);
    rv_journal *c = new_run("c-running", 2);

    json_t *runs;
    assert_int_equal(rv_journal_runs(state, &runs, &err), REVIVE_OK);
    assert_int_equal(json_array_size(runs), 3);
    json_t *r0 = json_array_get(runs, 0), *r1 = json_array_get(runs, 1), *r2 = json_array_get(runs, 2);
    assert_string_equal(json_string_value(json_object_get(r0, "state")), "finished");
    assert_string_equal(json_string_value(json_object_get(r0, "outcome")), "fixed");
    assert_string_equal(json_string_value(json_object_get(r0, "playbook")), "/x/p.lua");
    assert_string_equal(json_string_value(json_object_get(r1, "state")), "interrupted");
    assert_string_equal(json_string_value(json_object_get(r2, "state")), "running");
    json_decref(runs);
    rv_journal_close(c);

    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(rv_journal_timeline(path, out, &err), REVIVE_OK);
    fclose(out);
    assert_non_null(strstr(buf, "run_started"));
    assert_non_null(strstr(buf, "outcome=fixed"));
    assert_non_null(strstr(buf, "step=backup"));
    assert_non_null(strstr(buf, "step=restore error=timeout: too slow"));
    free(buf);
}

static void test_sha256(void **s)
{
    (void)s;
    char path[128], hex[65];
    snprintf(path, sizeof path, "%s/abc", state);
    spit(path, "abc");
    assert_int_equal(rv_journal_sha256_file(path, hex, &err), REVIVE_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_record_is_on_disk_when_append_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_line_is_tolerated_and_cut_on_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampering_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_writer_per_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_listing_and_timeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sha256, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
