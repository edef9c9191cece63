/* Every `lua` example in docs/playbooks.md passes `revive check` and runs to an outcome
 * against the fake phone. Fragments become the body of a run function; blocks that
 * contain `return playbook` are whole files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake_engine.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char libdir[PATH_MAX], docs[PATH_MAX], dir[64];

static const char *WRAP_HEAD =
    "return playbook { name = 'doc-example', summary = 'an example from docs/playbooks.md',\n"
    "  params = { firmware = { type = 'string', default = 'latest' } },\n"
    "  policy = { erase = true, factory_reset = true, restore_backup = true },\n"
    "  run = function(p)\ndo\n";
static const char *WRAP_TAIL = "\nend\nreturn outcome.fixed()\nend }\n";

static void run_example(const char *code, int line)
{
    char book[128], state[128], report[4096];
    snprintf(book, sizeof book, "%s/example.lua", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    FILE *f = fopen(book, "w");
    assert_non_null(f);
    bool whole = strstr(code, "return playbook") != NULL;
    fprintf(f, "%s%s%s", whole ? "" : WRAP_HEAD, code, whole ? "" : WRAP_TAIL);
    fclose(f);
    const char *lib[] = {libdir, NULL};
    revive_error err;
    if (rv_check(book, lib, report, sizeof report, &err) != REVIVE_OK)
        fail_msg("docs/playbooks.md example at line %d does not pass check:\n%s", line, report);
    struct fake F;
    fake_init(&F);
    const char *none[] = {NULL};
    struct rv_run_config cfg = {.size = sizeof cfg, .playbook = book, .lib_path = lib, .params = none,
                                .state_dir = state, .yes = true};
    char outcome[32];
    int rc = rv_run(&cfg, &fake_ops, &F, outcome, sizeof outcome, &err);
    if (rc != REVIVE_OK)
        fail_msg("docs/playbooks.md example at line %d does not run: %s", line, err.message);
    unlink(book);
}

static void test_every_example_runs(void **s)
{
    (void)s;
    FILE *f = fopen(docs, "r");
    assert_non_null(f);
    char line[1024], code[16384];
    size_t used = 0;
    int n = 0, lineno = 0, start = 0;
    bool in = false;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        const char *t = line + strspn(line, " ");
        if (!in && strncmp(t, "```lua", 6) == 0) {
            in = true;
            used = 0;
            code[0] = '\0';
            start = lineno;
        } else if (in && strncmp(t, "```", 3) == 0) {
            in = false;
            run_example(code, start);
            n++;
        } else if (in) {
            size_t len = strlen(line);
            assert_true(used + len < sizeof code);
            memcpy(code + used, line, len + 1);
            used += len;
        }
    }
    fclose(f);
    assert_true(n >= 30); /* one per function, at least */
}

int main(void)
{
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(libdir, sizeof libdir, "%s/scripts/lib", src ? src : ".");
    snprintf(docs, sizeof docs, "%s/docs/playbooks.md", src ? src : ".");
    snprintf(dir, sizeof dir, "/tmp/rv-docs-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_example_runs)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
