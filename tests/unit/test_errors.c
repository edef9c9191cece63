/* The error list: append-only numbering, unique names, messages, retry flags. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "error.h"
#include <string.h>

static void numbers_are_dense_and_names_unique(void **s)
{
    (void)s;
    for (int i = 0; i < REVIVE_E__COUNT; i++) {
        const char *n = revive_error_name(i);
        assert_true(i == 1 || strcmp(n, "unknown") != 0); /* every code has its own name */
        for (int k = 0; k < i; k++)
            assert_string_not_equal(n, revive_error_name(k));
        assert_true(strlen(revive_error_message(i)) > 3);
    }
    assert_string_equal(revive_error_name(REVIVE_E__COUNT + 5), "unknown");
}

/* Published codes keep their numbers forever; this pins a few (append-only list). */
static void published_numbers_never_change(void **s)
{
    (void)s;
    assert_int_equal(REVIVE_E_DISCONNECTED, 2);
    assert_int_equal(REVIVE_E_CHECKSUM, 10);
    assert_int_equal(REVIVE_E_WRONG_PASSWORD, 14);
    assert_int_equal(REVIVE_E_PLUGIN_ABI, 20);
    assert_int_equal(REVIVE_E_NEEDS_PERSON, 31);
    assert_string_equal(revive_error_name(REVIVE_E_NOT_SIGNED), "not_signed");
}

static void retry_flags(void **s)
{
    (void)s;
    assert_true(revive_error_retryable(REVIVE_E_DISCONNECTED));
    assert_true(revive_error_retryable(REVIVE_E_TIMEOUT));
    assert_false(revive_error_retryable(REVIVE_E_WRONG_PASSWORD));
    assert_false(revive_error_retryable(REVIVE_E_NOT_SIGNED));
    assert_false(revive_error_retryable(REVIVE_E__COUNT + 1));
}

static void fail_keeps_origin(void **s)
{
    (void)s;
    revive_error e;
    assert_int_equal(rv_fail(&e, REVIVE_E_PROTOCOL, "lockdownd", -17, "bad answer from %s", "abc"), REVIVE_E_PROTOCOL);
    assert_int_equal(e.size, sizeof e);
    assert_string_equal(e.origin, "lockdownd");
    assert_int_equal(e.origin_code, -17);
    char buf[256];
    rv_error_describe(&e, buf, sizeof buf);
    assert_string_equal(buf, "bad answer from abc [protocol; lockdownd code -17]");
    char longmsg[2000];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    rv_fail(&e, REVIVE_E_IO, NULL, 0, "%s", longmsg);
    assert_int_equal(strlen(e.message), sizeof e.message - 1); /* truncated, terminated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_are_dense_and_names_unique),
        cmocka_unit_test(published_numbers_never_change),
        cmocka_unit_test(retry_flags),
        cmocka_unit_test(fail_keeps_origin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
