/* Sandbox escapes and limits: every attempt must fail cleanly (an error code, no crash,
 * no hang), and the ordinary things a playbook does must keep working. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static double fake_clock;
static bool fake_cancel;
static double t_now(void *ctx) { (void)ctx; return fake_clock += 0.001; }
static bool t_cancelled(void *ctx) { (void)ctx; return fake_cancel; }
static const struct rv_engine_ops ops = {
    .size = sizeof ops, .now = t_now, .cancelled = t_cancelled,
};

static revive_error err;
static char libdir[64];

/* Run `code` in a fresh sandbox; returns the status and leaves err filled. If the chunk
 * returns a value, *truthy tells whether it was true. */
static int run_with(const char *code, uint64_t budget, size_t mem, double deadline, bool *truthy)
{
    struct rvl_limits lim = {budget, mem, deadline};
    const char *path[] = {libdir, NULL};
    rvl_sandbox *sb = rvl_sandbox_new(&lim, &ops, NULL, path);
    assert_non_null(sb);
    memset(&err, 0, sizeof err);
    int rc = rvl_sandbox_load(sb, code, strlen(code), "=test", 0, &err);
    if (rc == REVIVE_OK) {
        rc = rvl_sandbox_pcall(sb, 0, 1, &err);
        if (rc == REVIVE_OK) {
            if (truthy)
                *truthy = lua_toboolean(rvl_sandbox_state(sb), -1);
            lua_pop(rvl_sandbox_state(sb), 1);
        }
    }
    rvl_sandbox_free(sb);
    return rc;
}

static int run(const char *code) { return run_with(code, 10 * 1000 * 1000, 8u << 20, 0, NULL); }

static void expect_true(const char *code)
{
    bool ok = false;
    int rc = run_with(code, 10 * 1000 * 1000, 8u << 20, 0, &ok);
    if (rc != REVIVE_OK || !ok)
        fail_msg("expected true from: %s\n(rc %d: %s)", code, rc, err.message);
}

static void expect_fail(const char *code, int want)
{
    int rc = run(code);
    if (rc != want)
        fail_msg("expected %s from: %s\ngot %s: %s", revive_error_name(want), code,
                 revive_error_name(rc), err.message);
}

static void test_ordinary_lua_works(void **s)
{
    (void)s;
    expect_true("local t = {} for i = 1, 10 do t[#t+1] = i end return #t == 10");
    expect_true("return ('abc'):upper() == 'ABC' and string.format('%d', 3) == '3'");
    expect_true("return math.floor(2.5) == 2 and utf8.char(65) == 'A' and table.concat({1,2}, ',') == '1,2'");
    expect_true("local ok, e = pcall(error, 'boom') return not ok and e.name == 'playbook' and e.message:find('boom') ~= nil");
    expect_true("local co = coroutine.wrap(function() coroutine.yield(1) end) return co() == 1");
    expect_true("local ok, v = xpcall(function() error('x') end, function(e) return 'handled ' .. e.message end) return not ok and v:find('handled') == 1");
    expect_true("local f = load('return 1 + 1') return f() == 2");
    expect_true("return select('#', pcall(function() return 1, 2, 3 end)) == 4");
    /* Yields pass through the sandbox's pcall and xpcall (they are continuation-aware). */
    expect_true("local co = coroutine.wrap(function() local ok, v = pcall(function() return coroutine.yield(1) + 1 end) "
                "coroutine.yield(ok and v) end) return co() == 1 and co(41) == 42");
    expect_true("local co = coroutine.wrap(function() xpcall(function() coroutine.yield('in') end, function() end) return 'out' end) "
                "return co() == 'in' and co() == 'out'");
}

static void test_bytecode_refused(void **s)
{
    (void)s;
    expect_true("return string.dump == nil and ('').dump == nil");
    expect_true("local f, e = load('\\27Lua\\84\\0') return f == nil and e.name == 'unsafe'");
    expect_true("local f, e = load('return 1', 'x', 'b') return f == nil and e.name == 'unsafe'");
    expect_true("local f, e = load('return 1', 'x', 'bt') return f == nil and e.name == 'unsafe'");
    expect_fail("return load(function() return nil end)", REVIVE_E_UNSAFE);
    /* Bytecode handed straight to the loader is refused too. */
    assert_int_equal(run("\x1bLua"), REVIVE_E_UNSAFE);
}

static void test_dangerous_libraries_absent(void **s)
{
    (void)s;
    static const char *const names[] = {"io", "os", "debug", "package", "dofile", "loadfile",
                                        "collectgarbage", "loadstring", "module", "setfenv", NULL};
    for (const char *const *n = names; *n; n++) {
        char code[128];
        snprintf(code, sizeof code, "return %s", *n);
        expect_fail(code, REVIVE_E_PLAYBOOK);
        snprintf(code, sizeof code, "return rawget(_G, '%s') == nil and rawget(_ENV, '%s') == nil", *n, *n);
        expect_true(code);
    }
    expect_true("return math.random == nil and math.randomseed == nil");
}

static void test_env_tricks(void **s)
{
    (void)s;
    expect_fail("return load('return io')()", REVIVE_E_PLAYBOOK);
    expect_true("return getmetatable(_ENV) == false and getmetatable(_G) == false");
    expect_fail("setmetatable(_G, nil)", REVIVE_E_PLAYBOOK);
    expect_fail("x = 1", REVIVE_E_PLAYBOOK);
    expect_fail("return undefined_name", REVIVE_E_PLAYBOOK);
    /* A function loaded with a nil environment cannot reach anything. */
    expect_fail("local f = load('return os', 'x', 't', nil) return f()", REVIVE_E_PLAYBOOK);
    /* Rebinding the playbook's own libraries changes only its copy. */
    expect_true("string.upper = function() return 'pwned' end return ('a'):upper() == 'A'");
    expect_true("local t = {} for k in pairs(_G) do t[#t+1] = k end "
                "for _, k in ipairs(t) do if k == 'io' or k == 'os' or k == 'debug' then return false end end return #t > 10");
}

static void test_string_metatable(void **s)
{
    (void)s;
    expect_true("return getmetatable('') == false");
    expect_fail("getmetatable('').__index.upper = nil", REVIVE_E_PLAYBOOK);
    expect_fail("setmetatable('', {})", REVIVE_E_PLAYBOOK);
}

static void test_runaway_loops_hit_budget(void **s)
{
    (void)s;
    assert_int_equal(run("while true do end"), REVIVE_E_LIMIT);
    assert_non_null(strstr(err.message, "instruction budget"));
    /* Catching the limit does not help. */
    assert_int_equal(run("while true do pcall(function() while true do end end) end"), REVIVE_E_LIMIT);
    assert_int_equal(run("while true do xpcall(function() while true do end end, function() end) end"), REVIVE_E_LIMIT);
    assert_int_equal(run("local co = coroutine.create(function() while true do end end) "
                         "while true do coroutine.resume(co) end"), REVIVE_E_LIMIT);
    assert_int_equal(run("local f = coroutine.wrap(function() while true do end end) while true do pcall(f) end"),
                     REVIVE_E_LIMIT);
    /* A to-be-closed variable cannot keep a dying run alive. */
    assert_int_equal(run("while true do local x <close> = setmetatable({}, {__close = function() while true do end end}) end"),
                     REVIVE_E_LIMIT);
}

static void test_memory_bombs_hit_cap(void **s)
{
    (void)s;
    assert_int_equal(run("local t = {} while true do t[#t + 1] = ('x'):rep(4096) .. #t end"), REVIVE_E_LIMIT);
    assert_non_null(strstr(err.message, "memory"));
    assert_int_equal(run("return ('x'):rep(1 << 30)"), REVIVE_E_LIMIT);
    assert_int_equal(run("local s = 'x' while true do pcall(function() s = s .. s end) end"), REVIVE_E_LIMIT);
    assert_int_equal(run("local t = {} while true do pcall(function() t[#t+1] = {} end) end"), REVIVE_E_LIMIT);
}

static void test_deadline_and_cancel(void **s)
{
    (void)s;
    fake_clock = 0;
    assert_int_equal(run_with("while true do end", 0, 0, 1.0, NULL), REVIVE_E_LIMIT);
    assert_non_null(strstr(err.message, "deadline"));
    fake_cancel = true;
    assert_int_equal(run_with("while true do end", 0, 0, 0, NULL), REVIVE_E_CANCELLED);
    fake_cancel = false;
}

static void test_error_object_abuse(void **s)
{
    (void)s;
    /* A hostile __tostring on a raised table is never called. */
    assert_int_equal(run("error(setmetatable({}, {__tostring = function() while true do end end}))"),
                     REVIVE_E_PLAYBOOK);
    assert_non_null(strstr(err.message, "table was raised"));
    assert_int_equal(run("error(setmetatable({message = 'm'}, {__index = function() error('no') end}))"),
                     REVIVE_E_PLAYBOOK);
    assert_true(strncmp(err.message, "m\nstack traceback", 17) == 0);
    /* Finalisers are refused (they would run at random times). */
    expect_fail("setmetatable({}, {__gc = function() end})", REVIVE_E_UNSAFE);
    /* Error objects keep their metatable to themselves. */
    expect_true("local _, e = pcall(error, 'x') return getmetatable(e) == 'revive.error' and tostring(e):find('playbook: ') == 1");
    expect_fail("local _, e = pcall(error, 'x') setmetatable(e, {})", REVIVE_E_PLAYBOOK);
    /* Raising a non-table, non-string, or a look-alike with an absurd code. */
    expect_fail("error(nil)", REVIVE_E_PLAYBOOK);
    expect_fail("error(coroutine.create(function() end))", REVIVE_E_PLAYBOOK);
    expect_fail("error({code = 1e300, message = 3})", REVIVE_E_PLAYBOOK);
    /* A named failure keeps its name. */
    expect_fail("error({name = 'timeout', message = 'slow'})", REVIVE_E_TIMEOUT);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_require(void **s)
{
    (void)s;
    char p[256];
    snprintf(p, sizeof p, "%s/util", libdir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/util/math2.lua", libdir);
    write_file(p, "local M = {} function M.twice(x) return 2 * x end return M");
    snprintf(p, sizeof p, "%s/leak.lua", libdir);
    symlink("/etc/hostname", p);
    expect_true("local m = require('util.math2') return m.twice(21) == 42 and require('util.math2') == m");
    expect_fail("require('../../etc/passwd')", REVIVE_E_UNSAFE);
    expect_fail("require('/etc/passwd')", REVIVE_E_UNSAFE);
    expect_fail("require('Util.Math2')", REVIVE_E_UNSAFE);
    expect_fail("require('util..math2')", REVIVE_E_UNSAFE);
    expect_fail("require('leak')", REVIVE_E_UNSAFE);
    expect_fail("require('os')", REVIVE_E_NOT_FOUND);
    expect_fail("require('io')", REVIVE_E_NOT_FOUND);
    snprintf(p, sizeof p, "%s/leak.lua", libdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/util/math2.lua", libdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/util", libdir);
    rmdir(p);
}

int main(void)
{
    snprintf(libdir, sizeof libdir, "/tmp/rv-sandbox-XXXXXX");
    if (!mkdtemp(libdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordinary_lua_works),
        cmocka_unit_test(test_bytecode_refused),
        cmocka_unit_test(test_dangerous_libraries_absent),
        cmocka_unit_test(test_env_tricks),
        cmocka_unit_test(test_string_metatable),
        cmocka_unit_test(test_runaway_loops_hit_budget),
        cmocka_unit_test(test_memory_bombs_hit_cap),
        cmocka_unit_test(test_deadline_and_cancel),
        cmocka_unit_test(test_error_object_abuse),
        cmocka_unit_test(test_require),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(libdir);
    return rc;
}
