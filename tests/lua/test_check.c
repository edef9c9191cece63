/* `revive check`: every shipped playbook passes; each kind of mistake is reported with
 * its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runtime.h"

#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char libdir[PATH_MAX], scripts[PATH_MAX], tmp[64];
static char report[8192];
static revive_error err;

static int check(const char *path)
{
    const char *lib[] = {libdir, NULL};
    memset(&err, 0, sizeof err);
    return rv_check(path, lib, report, sizeof report, &err);
}

static void test_every_shipped_playbook_passes(void **s)
{
    (void)s;
    char pattern[PATH_MAX + 8];
    snprintf(pattern, sizeof pattern, "%s/*.lua", scripts);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    static const char *const needed[] = {"interrupted-restore.lua", "stuck-in-recovery.lua",
        "safe-restore.lua", "update.lua", "dfu-restore.lua", "factory-reset.lua",
        "restore-backup.lua", NULL};
    for (const char *const *n = needed; *n; n++) {
        bool found = false;
        for (size_t i = 0; i < g.gl_pathc; i++)
            found = found || strcmp(strrchr(g.gl_pathv[i], '/') + 1, *n) == 0;
        if (!found)
            fail_msg("shipped playbook %s is missing", *n);
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int rc = check(g.gl_pathv[i]);
        if (rc != REVIVE_OK)
            fail_msg("%s: %s\n%s", g.gl_pathv[i], err.message, report);
    }
    globfree(&g);
}

static void expect_finding(const char *text, const char *want)
{
    char path[128];
    snprintf(path, sizeof path, "%s/bad.lua", tmp);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    int rc = check(path);
    if (rc != REVIVE_E_PLAYBOOK || !strstr(report, want))
        fail_msg("expected a finding '%s' for:\n%s\ngot rc %d, report:\n%s", want, text, rc, report);
    unlink(path);
}

#define OK_HEAD "return playbook { name = 'x', summary = 'y',\n"

static void test_mistakes_are_found(void **s)
{
    (void)s;
    expect_finding(OK_HEAD "run = function() return outcome.fixed() end", "bad.lua:2:");      /* syntax */
    expect_finding(OK_HEAD "run = function()\n  devise.mode()\nend }", "bad.lua:3: unknown name 'devise'");
    expect_finding(OK_HEAD "run = function()\n  device.restor_firmware{}\nend }",
                   "bad.lua:3: device.restor_firmware is not part of the playbook API");
    expect_finding(OK_HEAD "run = function()\n  person.dfuu()\nend }", "person.dfuu");
    expect_finding("count = 0\n" OK_HEAD "run = function() end }", "bad.lua:1: assignment to the global 'count'");
    expect_finding("function helper() end\n" OK_HEAD "run = function() end }", "global function 'helper'");
    expect_finding(OK_HEAD "run = function()\n  device.restore_backup{path = 'x'}\nend }",
                   "needs policy = { restore_backup = true }");
    expect_finding(OK_HEAD "run = function()\n  device.restore_firmware{erase = true}\nend }",
                   "needs policy = { erase = true }");
    expect_finding(OK_HEAD "params = { n = { type = 'integer', default = 'three' } },\n run = function() end }",
                   "default three is not a integer");
    expect_finding(OK_HEAD "params = { n = { type = 'colour' } },\n run = function() end }", "type is one of");
    expect_finding(OK_HEAD "policy = { erase_everything = true },\n run = function() end }", "policy key");
    expect_finding("return { name = 'x' }", "must end with `return playbook");
    expect_finding("return playbook { summary = 'y', run = function() end }", "name is lowercase");
    /* Strings and comments do not count as code. */
    char path[128];
    snprintf(path, sizeof path, "%s/good.lua", tmp);
    FILE *f = fopen(path, "w");
    fputs("-- undefined_thing in a comment\n--[[ another_one ]]\n"
          "local helper = 'not_a_name here'\n"
          OK_HEAD "run = function(p)\n  local t = { key = 1, [2] = helper }\n"
          "  for i, v in ipairs(t) do log('%s %s', i, v) end\n"
          "  return outcome.fixed(string.format('%d', #t) .. [[ long string_name ]])\nend }\n", f);
    fclose(f);
    if (check(path) != REVIVE_OK)
        fail_msg("a correct playbook was reported:\n%s", report);
    unlink(path);
    /* goto and labels, <const>, methods, long brackets, escapes, hex and exponents. */
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/lua/data/gnarly.lua", src ? src : ".");
    if (check(path) != REVIVE_OK)
        fail_msg("a correct playbook was reported:\n%s", report);
}

int main(void)
{
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(libdir, sizeof libdir, "%s/scripts/lib", src ? src : ".");
    snprintf(scripts, sizeof scripts, "%s/scripts", src ? src : ".");
    snprintf(tmp, sizeof tmp, "/tmp/rv-check-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_shipped_playbook_passes),
        cmocka_unit_test(test_mistakes_are_found),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmp);
    return rc;
}
