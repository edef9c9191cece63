/*
 * The `host` table: the C primitives prelude.lua builds the playbook API from.
 *
 * Each one turns Lua values into the engine's terms (runtime.h), calls the engine, and
 * turns the answer back. Two rules keep this safe:
 * - no Lua API call happens while the engine is inside an ops function: answers are copied
 *   into C memory first (struct answers) and pushed afterwards, so a Lua error can never
 *   unwind through the engine's frames;
 * - expected failures come back as `nil, error object`; only misuse (bad arguments) raises.
 */
#include "api.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define RVL_MAX_FIELDS 32
#define RVL_MAX_LIST 64

static struct rvl_run *run_of(lua_State *L)
{
    return rvl_sandbox_user(rvl_sandbox_of(L));
}

static const struct rv_engine_ops *ops_of(lua_State *L, void **ctx)
{
    struct rvl_run *run = run_of(L);
    if (!run || !run->ops)
        rvl_raise(L, REVIVE_E_UNSUPPORTED, "no device here: `revive check` does not run device "
                  "calls (use `revive test` with a simulator scenario)");
    *ctx = run->ctx;
    return run->ops;
}

/* Table at idx {key = bool|integer|number|string} -> fields (pointers into the table). */
static size_t to_fields(lua_State *L, int idx, revive_field *f)
{
    size_t n = 0;
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            rvl_raise(L, REVIVE_E_INVALID, "argument keys must be names");
        if (n == RVL_MAX_FIELDS)
            rvl_raise(L, REVIVE_E_INVALID, "more than %d arguments", RVL_MAX_FIELDS);
        f[n].key = lua_tostring(L, -2);
        switch (lua_type(L, -1)) {
        case LUA_TBOOLEAN:
            f[n].type = REVIVE_VAL_BOOL;
            f[n].v.b = lua_toboolean(L, -1);
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                f[n].type = REVIVE_VAL_INT;
                f[n].v.i = lua_tointeger(L, -1);
            } else {
                f[n].type = REVIVE_VAL_REAL;
                f[n].v.r = lua_tonumber(L, -1);
            }
            break;
        case LUA_TSTRING:
            f[n].type = REVIVE_VAL_STR;
            f[n].v.s = lua_tostring(L, -1);
            break;
        default:
            rvl_raise(L, REVIVE_E_INVALID, "argument '%s' is a %s; arguments are booleans, numbers "
                      "or strings", f[n].key, luaL_typename(L, -1));
        }
        n++;
        lua_pop(L, 1);
    }
    return n;
}

/* Table at idx of strings (or one string) -> NULL-terminated list (pointers into Lua). */
static void to_list(lua_State *L, int idx, const char **list, const char *what)
{
    size_t n = 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        list[n++] = lua_tostring(L, idx);
    } else {
        luaL_checktype(L, idx, LUA_TTABLE);
        lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
        if (len >= RVL_MAX_LIST)
            rvl_raise(L, REVIVE_E_INVALID, "too many %s", what);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, idx, i);
            if (lua_type(L, -1) != LUA_TSTRING)
                rvl_raise(L, REVIVE_E_INVALID, "%s must be strings", what);
            list[n++] = lua_tostring(L, -1);
            lua_pop(L, 1); /* still referenced by the table */
        }
    }
    list[n] = NULL;
}

/* Answers copied out of the engine's callback. */
struct answers {
    revive_field f[RVL_MAX_FIELDS];
    size_t n;
    bool overflow;
};

static void put_answer(void *ud, const revive_field *f)
{
    struct answers *a = ud;
    if (!f || !f->key || a->n == RVL_MAX_FIELDS) {
        a->overflow = true;
        return;
    }
    revive_field *d = &a->f[a->n];
    *d = *f;
    d->key = strdup(f->key);
    if (f->type == REVIVE_VAL_STR)
        d->v.s = strdup(f->v.s ? f->v.s : "");
    if (!d->key || (f->type == REVIVE_VAL_STR && !d->v.s)) {
        free((void *)d->key);
        a->overflow = true;
        return;
    }
    a->n++;
}

static void free_answers(struct answers *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free((void *)a->f[i].key);
        if (a->f[i].type == REVIVE_VAL_STR)
            free((void *)a->f[i].v.s);
    }
    a->n = 0;
}

static void push_field_value(lua_State *L, const revive_field *f)
{
    switch (f->type) {
    case REVIVE_VAL_BOOL: lua_pushboolean(L, f->v.b); break;
    case REVIVE_VAL_INT: lua_pushinteger(L, f->v.i); break;
    case REVIVE_VAL_REAL: lua_pushnumber(L, f->v.r); break;
    case REVIVE_VAL_STR: lua_pushstring(L, f->v.s); break;
    default: lua_pushboolean(L, 1);
    }
}

static int push_failure(lua_State *L, int rc, revive_error *err)
{
    if (err->code == REVIVE_OK || err->size == 0)
        rvl_fail(err, rc, "engine", "%s", revive_error_message(rc));
    lua_pushnil(L);
    rvl_push_revive_error(L, err);
    return 2;
}

static void clear(revive_error *err)
{
    memset(err, 0, sizeof *err);
    err->size = sizeof *err;
}

/* [-(1|2), +(1|2)] host.call(verb, args) -> answers table | nil, error */
static int l_host_call(lua_State *L)
{
    const char *verb = luaL_checkstring(L, 1);
    revive_field args[RVL_MAX_FIELDS];
    size_t nargs = to_fields(L, 2, args);
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    struct answers *a = calloc(1, sizeof *a);
    if (!a)
        return rvl_raise(L, REVIVE_E_NO_MEMORY, "no memory for a device answer");
    revive_error err;
    clear(&err);
    int rc = ops->device_call(ctx, verb, args, nargs, put_answer, a, &err);
    struct answers copy = *a; /* pushed below; freed whether or not a Lua error follows */
    free(a);
    if (rc != REVIVE_OK) {
        free_answers(&copy);
        return push_failure(L, rc, &err);
    }
    if (!lua_checkstack(L, 4)) {
        free_answers(&copy);
        return rvl_raise(L, REVIVE_E_NO_MEMORY, "Lua stack");
    }
    lua_createtable(L, 0, (int)copy.n);
    for (size_t i = 0; i < copy.n; i++) {
        lua_pushstring(L, copy.f[i].key);
        push_field_value(L, &copy.f[i]);
        lua_rawset(L, -3);
    }
    free_answers(&copy); /* the pushes above copy; on a memory error the state dies anyway */
    return 1;
}

/* [-2, +(1|2)] host.wait_mode(modes, timeout_s) -> true | nil, error */
static int l_host_wait_mode(lua_State *L)
{
    const char *modes[RVL_MAX_LIST + 1];
    to_list(L, 1, modes, "modes");
    double timeout = luaL_checknumber(L, 2);
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    revive_error err;
    clear(&err);
    int rc = ops->wait_mode(ctx, modes, timeout, &err);
    if (rc != REVIVE_OK)
        return push_failure(L, rc, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* [-4, +(1|2)] host.prompt_until(title, lines, modes, timeout_s) -> true | nil, error */
static int l_host_prompt_until(lua_State *L)
{
    const char *title = luaL_checkstring(L, 1);
    const char *lines[RVL_MAX_LIST + 1], *modes[RVL_MAX_LIST + 1];
    to_list(L, 2, lines, "lines");
    to_list(L, 3, modes, "modes");
    double timeout = luaL_checknumber(L, 4);
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    revive_error err;
    clear(&err);
    int rc = ops->prompt_until(ctx, title, lines, modes, timeout, &err);
    if (rc != REVIVE_OK)
        return push_failure(L, rc, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* [-1, +(1|2)] host.confirm(question) -> boolean | nil, error */
static int l_host_confirm(lua_State *L)
{
    const char *q = luaL_checkstring(L, 1);
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    revive_error err;
    clear(&err);
    bool yes = false;
    int rc = ops->confirm(ctx, q, &yes, &err);
    if (rc != REVIVE_OK)
        return push_failure(L, rc, &err);
    lua_pushboolean(L, yes);
    return 1;
}

/* [-2, +0] host.event(type, fields) */
static int l_host_event(lua_State *L)
{
    const char *type = luaL_checkstring(L, 1);
    revive_field f[RVL_MAX_FIELDS];
    size_t n = to_fields(L, 2, f);
    struct rvl_run *run = run_of(L);
    if (run && run->ops && run->ops->event)
        run->ops->event(run->ctx, type, f, n);
    return 0;
}

/* [-1, +0] host.sleep(seconds) */
static int l_host_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    if (s > 0)
        ops->sleep(ctx, s);
    return 0;
}

/* [-0, +1] host.now() -> monotonic seconds from the engine */
static int l_host_now(lua_State *L)
{
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    lua_pushnumber(L, ops->now(ctx));
    return 1;
}

/* [-0, +1] host.cancelled() -> boolean */
static int l_host_cancelled(lua_State *L)
{
    void *ctx;
    const struct rv_engine_ops *ops = ops_of(L, &ctx);
    lua_pushboolean(L, ops->cancelled && ops->cancelled(ctx));
    return 1;
}

/* [-2, +1] host.journal(type, fields) -> seq; raises if the record cannot be made durable */
static int l_host_journal(lua_State *L)
{
    const char *type = luaL_checkstring(L, 1);
    struct rvl_run *run = run_of(L);
    if (!run || !run->journal) {
        lua_pushinteger(L, 0);
        return 1;
    }
    char why[160] = "";
    json_t *fields = lua_isnoneornil(L, 2) ? json_object() : rvl_to_json(L, 2, why, sizeof why);
    if (!fields)
        return rvl_raise(L, REVIVE_E_INVALID, "cannot journal a %s record: %s", type, why);
    if (!json_is_object(fields)) {
        json_decref(fields);
        return rvl_raise(L, REVIVE_E_INVALID, "a journal record's fields must be a table of names");
    }
    revive_error err;
    int rc = rv_journal_append(run->journal, type, fields, &err);
    json_decref(fields);
    if (rc != REVIVE_OK) {
        rvl_push_revive_error(L, &err);
        return lua_error(L);
    }
    lua_pushinteger(L, (lua_Integer)rv_journal_count(run->journal));
    return 1;
}

/* [-(1..3), +1] host.error(name or code, message [, origin]) -> error object */
static int l_host_error(lua_State *L)
{
    int code = REVIVE_E_PLAYBOOK;
    if (lua_isinteger(L, 1)) {
        code = (int)lua_tointeger(L, 1);
    } else {
        const char *name = luaL_checkstring(L, 1);
        int c;
        for (c = 0; c < REVIVE_E__COUNT; c++)
            if (strcmp(revive_error_name(c), name) == 0)
                break;
        if (c == REVIVE_E__COUNT)
            return rvl_raise(L, REVIVE_E_INVALID, "unknown error name '%s' (see errors.names)", name);
        code = c;
    }
    if (code < 0 || code >= REVIVE_E__COUNT)
        code = REVIVE_E_UNKNOWN;
    rvl_push_error(L, code, luaL_optstring(L, 3, "playbook"), 0, luaL_optstring(L, 2, NULL));
    return 1;
}

/* [-1, +1] host.is_error(v) -> boolean: made by revive (not a look-alike table) */
static int l_host_is_error(lua_State *L)
{
    lua_pushboolean(L, rvl_is_error(L, 1));
    return 1;
}

static const luaL_Reg host_funcs[] = {
    {"call", l_host_call},
    {"wait_mode", l_host_wait_mode},
    {"prompt_until", l_host_prompt_until},
    {"confirm", l_host_confirm},
    {"event", l_host_event},
    {"sleep", l_host_sleep},
    {"now", l_host_now},
    {"cancelled", l_host_cancelled},
    {"journal", l_host_journal},
    {"error", l_host_error},
    {"is_error", l_host_is_error},
    {NULL, NULL},
};

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

static void set_bool(lua_State *L, const char *k, bool v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

void rvl_push_host(lua_State *L, struct rvl_run *run)
{
    const struct rv_run_config *cfg = run->cfg;
    lua_newtable(L);
    luaL_setfuncs(L, host_funcs, 0);

    lua_newtable(L); /* config */
    set_str(L, "playbook", cfg->playbook);
    set_str(L, "sha256", run->sha256);
    set_str(L, "run_id", run->journal ? rv_journal_run_id(run->journal) : NULL);
    set_bool(L, "resume", cfg->resume);
    set_bool(L, "force", cfg->force);
    set_bool(L, "yes", cfg->yes);
    set_bool(L, "waive_backup", cfg->waive_backup);
    set_bool(L, "check", run->ops == NULL);
    lua_newtable(L);
    for (const char *const *p = cfg->params; p && *p; p++) {
        const char *eq = strchr(*p, '='); /* rv_run checked the form */
        if (!eq)
            continue;
        lua_pushlstring(L, *p, (size_t)(eq - *p));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "params");
    lua_setfield(L, -2, "config");

    if (run->records)
        rvl_push_json(L, run->records);
    else
        lua_newtable(L);
    lua_setfield(L, -2, "records");

    lua_newtable(L); /* error names, for errors.names */
    for (int c = 0; c < REVIVE_E__COUNT; c++) {
        lua_pushinteger(L, c);
        lua_setfield(L, -2, revive_error_name(c));
    }
    lua_setfield(L, -2, "codes");
}
