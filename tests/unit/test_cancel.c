/* SIGINT only sets a flag; the second one reports what is in flight instead of killing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cancel.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void wait_for(const char *path, const char *needle)
{
    for (int i = 0; i < 200; i++) { /* the watcher thread prints; give it up to 2 s */
        if (strstr(slurp(path), needle))
            return;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    fail_msg("'%s' never appeared; stderr was: %s", needle, slurp(path));
}

static void second_sigint_reports_inflight(void **s)
{
    (void)s;
    char path[] = "/tmp/revive-cancel-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);

    assert_int_equal(rv_cancel_install(), 0);
    rv_cancel_reset();
    assert_false(rv_cancelled());
    int slot = rv_inflight_begin("restore firmware on 1A2B3C4D5E71");
    assert_true(slot >= 0);

    raise(SIGINT); /* would kill the process without the handler */
    assert_true(rv_cancelled());
    wait_for(path, "stopping at the next safe point");
    raise(SIGINT);
    wait_for(path, "restore firmware on 1A2B3C4D5E71");

    rv_inflight_end(slot);
    raise(SIGTERM);
    wait_for(path, "nothing is in flight");

    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    unlink(path);
    rv_cancel_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(second_sigint_reports_inflight) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
