/*
 * rv_check: `revive check PLAYBOOK` without a device. Loads the playbook in the same
 * sandbox a run uses (so syntax, the header and its params/policy are checked by the very
 * code that runs them), then runs the static scan in check.lua over its text.
 */
#include "api.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char rvl_lua_check[];
extern const size_t rvl_lua_check_len;

struct report {
    char *buf;
    size_t cap, used;
    int findings;
};

static void add(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct report *r, const char *fmt, ...)
{
    r->findings++;
    if (!r->buf || r->cap == 0 || r->used + 1 >= r->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->used, r->cap - r->used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    r->used += (size_t)n < r->cap - r->used ? (size_t)n : r->cap - r->used - 1;
    if (r->used + 1 < r->cap) {
        r->buf[r->used++] = '\n';
        r->buf[r->used] = '\0';
    }
}

/* "message\nstack traceback..." -> its first line */
static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1024 * 1024 + 1);
    *len = buf ? fread(buf, 1, 1024 * 1024, f) : 0;
    fclose(f);
    if (buf)
        buf[*len] = '\0';
    return buf;
}

int rv_check(const char *playbook_path, const char *const *lib_path, char *report,
             size_t report_cap, revive_error *err)
{
    struct report r = {report, report_cap, 0, 0};
    if (report && report_cap)
        report[0] = '\0';
    if (!playbook_path)
        return rvl_fail(err, REVIVE_E_INVALID, "check", "which playbook?");
    size_t len;
    char *source = slurp(playbook_path, &len);
    if (!source)
        return rvl_fail(err, REVIVE_E_NOT_FOUND, "check", "cannot read %s", playbook_path);

    const char *none[] = {NULL};
    struct rv_run_config cfg = {.size = sizeof cfg, .playbook = playbook_path, .lib_path = lib_path,
                                .params = none, .state_dir = ""};
    struct rvl_run run = {.cfg = &cfg};
    struct rvl_limits lim = {.instructions = 50u * 1000 * 1000, .memory = (size_t)64 << 20};
    rvl_sandbox *sb = rvl_sandbox_new(&lim, NULL, NULL, lib_path);
    if (!sb) {
        free(source);
        return rvl_fail(err, REVIVE_E_NO_MEMORY, "check", "no memory for a Lua state");
    }
    rvl_sandbox_set_user(sb, &run);
    lua_State *L = rvl_sandbox_state(sb);
    revive_error e;
    int rc = rvl_install_api(sb, &run, &e);
    if (rc) {
        rvl_sandbox_free(sb);
        free(source);
        if (err)
            *err = e;
        return rc;
    }
    int runner = lua_gettop(L);
    char name[1100];
    snprintf(name, sizeof name, "@%s", playbook_path);
    if (rvl_sandbox_load(sb, source, len, name, 0, &e) != REVIVE_OK) {
        first_line(e.message);
        add(&r, "%s", e.message); /* "path:line: ..." from the Lua parser */
        goto done;
    }
    /* Run the chunk (it builds the header through playbook{}), then scan the text either
     * way: a playbook that fails to load still gets every finding the scan can make. */
    bool have_policy = false;
    if (rvl_sandbox_pcall(sb, 0, 1, &e) != REVIVE_OK) {
        first_line(e.message);
        add(&r, "%s: loading it failed: %s", playbook_path, e.message);
    } else {
        lua_getfield(L, runner, "describe");
        lua_insert(L, -2);
        if (rvl_sandbox_pcall(sb, 1, 1, &e) != REVIVE_OK) {
            first_line(e.message);
            add(&r, "%s: %s", playbook_path, e.message);
        } else {
            lua_getfield(L, -1, "policy");
            lua_replace(L, -2);
            have_policy = true;
        }
    }
    if (!have_policy)
        lua_pushboolean(L, 0); /* policy unknown: no policy findings */
    int policy = lua_gettop(L);
    if (rvl_sandbox_load(sb, rvl_lua_check, rvl_lua_check_len, "=check", 0, &e) != REVIVE_OK)
        goto internal;
    lua_pushlstring(L, source, len);
    rvl_sandbox_push_env(sb);
    lua_pushvalue(L, policy);
    if (rvl_sandbox_pcall(sb, 3, 1, &e) != REVIVE_OK)
        goto internal;
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "line");
        lua_getfield(L, -2, "message");
        add(&r, "%s:%lld: %s", playbook_path, (long long)lua_tointeger(L, -2), lua_tostring(L, -1));
        lua_pop(L, 3);
    }
    goto done;
internal:
    first_line(e.message);
    add(&r, "%s: the checker itself failed: %s", playbook_path, e.message);
done:
    rvl_sandbox_free(sb);
    free(source);
    if (r.findings)
        return rvl_fail(err, REVIVE_E_PLAYBOOK, "check", "%s: %d finding%s", playbook_path, r.findings,
                        r.findings == 1 ? "" : "s");
    return REVIVE_OK;
}
