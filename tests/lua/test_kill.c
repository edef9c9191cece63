/*
 * Kill the engine at many moments of a run and resume: the run completes, and no
 * destructive operation that finished runs again.
 *
 * The run is the shipped interrupted-restore on a phone that is in normal mode but does
 * not answer: the ladder fails through update restores, a force restart and DFU until
 * the factory reset (an erase, with consent via --yes) fixes it, and the backup taken at
 * the start is restored (a second destructive operation). The fake phone lives in shared
 * memory so it survives its engine, as a real phone does. A child process runs the
 * playbook and SIGKILLs itself at its k-th call across the engine boundary; then a new
 * child resumes. 30+ values of k are drawn with a fixed seed from every call a whole run
 * makes, plus the first and the last.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_engine.h"
#include <journal.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], state[128], book[PATH_MAX], libdir[PATH_MAX];
static struct fake *F;

static void fresh(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state);
    assert_int_equal(system(cmd), 0);
    fake_init(F);
    F->broken = true;
}

/* Runs (or resumes) in a child; returns its wait status. The outcome goes to *outcome. */
static int child_run(bool resume, const char *run_id, char *outcome)
{
    char *shared_outcome = (char *)(F + 1);
    shared_outcome[0] = '\0';
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *path[] = {libdir, NULL};
        /* A phone that does not answer cannot tell its model: give the firmware as a file. */
        const char *fw[] = {"firmware=/firmware/fake.ipsw", NULL};
        const char *none[] = {NULL};
        struct rv_run_config cfg = {.size = sizeof cfg, .playbook = book, .lib_path = path,
            .params = resume ? none : fw, .state_dir = state, .run_id = run_id, .resume = resume, .yes = true};
        revive_error err;
        int rc = rv_run(&cfg, &fake_ops, F, shared_outcome, 32, &err);
        if (rc != REVIVE_OK)
            fprintf(stderr, "run failed: %s\n", err.message);
        _exit(rc == REVIVE_OK ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    snprintf(outcome, 32, "%s", shared_outcome);
    return st;
}

static void only_run_id(char *id, size_t cap)
{
    json_t *runs;
    revive_error err;
    assert_int_equal(rv_journal_runs(state, &runs, &err), REVIVE_OK);
    assert_int_equal(json_array_size(runs), 1);
    snprintf(id, cap, "%s", json_string_value(json_object_get(json_array_get(runs, 0), "id")));
    json_decref(runs);
}

static bool ended(const char *id)
{
    char path[PATH_MAX];
    json_t *recs;
    revive_error err;
    assert_true(rv_journal_path(state, id, path, sizeof path));
    assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_OK);
    json_t *last = json_array_get(recs, json_array_size(recs) - 1);
    bool done = last && json_is_string(json_object_get(last, "outcome"));
    json_decref(recs);
    return done;
}

static void test_kill_anywhere_then_resume(void **s)
{
    (void)s;
    char outcome[32], id[64];
    /* One whole run, to count its calls and check the scenario does what it should. */
    fresh();
    int st = child_run(false, NULL, outcome);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_string_equal(outcome, "fixed");
    assert_int_equal(F->erases_done, 1);
    assert_int_equal(F->backup_restores_done, 1);
    int total = 0;
    F->kill_at = 0;
    /* Count the calls: run again with a counter and no kill. */
    fresh();
    F->kill_at = -1; /* count but never match */
    child_run(false, NULL, outcome);
    total = F->calls;
    assert_true(total > 40);

    srand(20261125);
    int points = 0;
    for (int i = 0; i < 32; i++) {
        int k = i == 0 ? 1 : i == 1 ? total : 1 + rand() % total;
        fresh();
        F->kill_at = k;
        st = child_run(false, NULL, outcome);
        if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
            fail_msg("kill point %d of %d: the engine was not killed", k, total);
        only_run_id(id, sizeof id);
        F->kill_at = 0;
        F->calls = 0;
        if (!ended(id)) { /* killed after its outcome record: complete already */
            st = child_run(true, id, outcome);
            if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || strcmp(outcome, "fixed") != 0)
                fail_msg("kill point %d of %d: the resumed run did not complete (outcome '%s')", k, total, outcome);
        }
        if (F->erases_done != 1 || F->backup_restores_done != 1)
            fail_msg("kill point %d of %d: erases %d, backup restores %d (each must be exactly 1)", k,
                     total, F->erases_done, F->backup_restores_done);
        char path[PATH_MAX];
        json_t *recs;
        revive_error err;
        assert_true(rv_journal_path(state, id, path, sizeof path));
        assert_int_equal(rv_journal_read(path, &recs, NULL, &err), REVIVE_OK);
        json_t *last = json_array_get(recs, json_array_size(recs) - 1);
        assert_string_equal(json_string_value(json_object_get(last, "outcome")), "fixed");
        json_decref(recs);
        points++;
    }
    assert_true(points >= 30);
}

int main(void)
{
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(libdir, sizeof libdir, "%s/scripts/lib", src ? src : ".");
    snprintf(book, sizeof book, "%s/scripts/interrupted-restore.lua", src ? src : ".");
    snprintf(dir, sizeof dir, "/tmp/rv-kill-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(state, sizeof state, "%s/state", dir);
    F = mmap(NULL, sizeof *F + 64, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (F == MAP_FAILED)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_anywhere_then_resume),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
