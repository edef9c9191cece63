/* Events: the JSON Lines format, progress rate/ETA/throttling, terminal rendering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "events.h"
#include "term.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *capture(void (*emit)(void), int (*sink)(FILE *))
{
    FILE *f = tmpfile();
    assert_non_null(f);
    int id = sink(f);
    emit();
    rv_events_remove_sink(id);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return buf;
}

static void emit_one(void)
{
    revive_field f[] = { REVIVE_FIELD_STR("step", "exit recovery"), REVIVE_FIELD_INT("attempt", 2),
                         REVIVE_FIELD_STR("password", "never") };
    rv_emit("run-1", "ecid:1C2D", "step_started", f, 3);
}

static void json_line_format(void **s)
{
    (void)s;
    char *out = capture(emit_one, rv_events_json_sink);
    /* exactly one line */
    assert_non_null(strchr(out, '\n'));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "step_started");
    assert_string_equal(json_string_value(json_object_get(o, "run")), "run-1");
    assert_string_equal(json_string_value(json_object_get(o, "device")), "ecid:1C2D");
    const char *t = json_string_value(json_object_get(o, "time"));
    assert_int_equal(strlen(t), strlen("2026-01-01T00:00:00.000Z"));
    json_t *fields = json_object_get(o, "fields");
    assert_int_equal(json_integer_value(json_object_get(fields, "attempt")), 2);
    assert_null(json_object_get(fields, "password"));
    json_decref(o);
    free(out);
}

static rv_progress prog;
static int nprogress;
static double last_percent;
static void count_sink(const rv_event *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "progress") != 0)
        return;
    nprogress++;
    const revive_field *p = revive_field_find(ev->fields, ev->n, "percent");
    if (p)
        last_percent = p->v.r;
}

static void progress_is_throttled_and_finishes(void **s)
{
    (void)s;
    rv_term_force(0);
    memset(&prog, 0, sizeof prog);
    int id = rv_events_add_sink(count_sink, NULL);
    nprogress = 0;
    for (uint64_t i = 0; i <= 100000; i += 10)
        rv_progress_report(&prog, NULL, NULL, "download", i, 100000, "bytes");
    rv_events_remove_sink(id);
    /* Not on a terminal: one event per 5% at most, plus the first; and the last is 100%. */
    assert_true(nprogress >= 20 && nprogress <= 23);
    assert_true(last_percent == 100.0);
    rv_term_force(-1);
}

static void emit_progress(void)
{
    revive_field f[] = { REVIVE_FIELD_STR("phase", "backup"), REVIVE_FIELD_INT("done", 500000000),
                         REVIVE_FIELD_INT("total", 2000000000), REVIVE_FIELD_STR("unit", "bytes"),
                         REVIVE_FIELD_REAL("percent", 25.0), REVIVE_FIELD_REAL("rate", 50e6),
                         REVIVE_FIELD_REAL("eta", 30.0) };
    rv_emit(NULL, "iPhone12,1", "progress", f, 7);
}

static void terminal_plain_progress_line(void **s)
{
    (void)s;
    rv_term_force(0);
    char *out = capture(emit_progress, rv_events_terminal_sink);
    assert_string_equal(out, "[iPhone12,1] backup:  25.0% (500.0 MB of 2.0 GB, 50.0 MB/s, ETA 0:30)\n");
    free(out);
    rv_term_force(1);
    out = capture(emit_progress, rv_events_terminal_sink);
    assert_non_null(strstr(out, "[######..................]"));
    assert_non_null(strstr(out, "\r\033[K"));
    free(out);
    rv_term_force(-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_line_format),
        cmocka_unit_test(progress_is_throttled_and_finishes),
        cmocka_unit_test(terminal_plain_progress_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
