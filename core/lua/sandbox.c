/*
 * The sandbox: one Lua 5.4 state per device session, holding only what a playbook needs.
 *
 * Design, and why:
 * - Limits that a playbook cannot catch. A custom allocator caps memory (as HAProxy does);
 *   a count hook every RVL_HOOK_EVERY instructions charges the budget and checks the
 *   deadline and the engine's cancellation. Once one trips it stays tripped: the hook
 *   raises again at the next instruction, and the sandbox's own pcall, xpcall,
 *   coroutine.resume and coroutine.close re-raise instead of returning false, so
 *   `while true do pcall(loop) end` cannot outlive its budget. Hooks are inherited by
 *   coroutines (lua_newthread copies them), so a loop inside a coroutine is charged too.
 * - Nothing reachable that can escape: the state opens base, string, table, math, utf8
 *   and coroutine only (no io, os, debug, package). The playbook's _ENV is a fresh table of
 *   allowed names with a guard metatable (unknown globals and new globals are errors, as
 *   in Redis); the libraries it sees are copies, so changing them changes nothing for
 *   the runtime's own Lua code. The string metatable is protected, string.dump is gone,
 *   load takes text only (mode "t", never bytecode, which can crash the VM) and never
 *   the real globals, setmetatable refuses __gc (finalisers run at unpredictable times,
 *   which would break replay), and math.random is gone for the same reason.
 * - Every error a playbook sees is an error object (errobj.c): the message handler turns
 *   strings into objects and adds a traceback; it never calls a playbook's metamethods.
 * - require loads text modules only from the configured playbook path, with names of
 *   [a-z0-9_.] and the resolved file checked to be inside the directory searched.
 */
#include "sandbox.h"

#include <errno.h>
#include <limits.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RVL_HOOK_EVERY 1000
#define RVL_MAX_SOURCE (1024 * 1024)

struct rvl_sandbox {
    lua_State *L;
    struct rvl_limits lim;
    const struct rv_engine_ops *ops;
    void *ctx;
    size_t used;
    uint64_t count;
    enum rvl_trip trip;
    char **lib_path;
    int env_ref;    /* the guarded playbook _ENV */
    int loaded_ref; /* require's cache */
    void *user;
};

/* ---- limits ---------------------------------------------------------------------- */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rvl_sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (sb->lim.memory && nsize > old && sb->used - old + nsize > sb->lim.memory) {
        if (sb->trip == RVL_TRIP_NONE && sb->L)
            sb->trip = RVL_TRIP_MEMORY;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        sb->used = sb->used - old + nsize;
    return p;
}

static const char *trip_text(const rvl_sandbox *sb, char *buf, size_t cap)
{
    switch (sb->trip) {
    case RVL_TRIP_INSTRUCTIONS:
        snprintf(buf, cap, "the playbook used up its instruction budget (%llu instructions); "
                 "look for a loop that never ends, or raise the budget",
                 (unsigned long long)sb->lim.instructions);
        break;
    case RVL_TRIP_MEMORY:
        snprintf(buf, cap, "the playbook reached its memory cap (%zu bytes)", sb->lim.memory);
        break;
    case RVL_TRIP_DEADLINE:
        snprintf(buf, cap, "the run passed its deadline");
        break;
    case RVL_TRIP_CANCELLED:
        snprintf(buf, cap, "the run was cancelled");
        break;
    default:
        snprintf(buf, cap, "no limit");
    }
    return buf;
}

static int trip_code(const rvl_sandbox *sb)
{
    return sb->trip == RVL_TRIP_CANCELLED ? REVIVE_E_CANCELLED : REVIVE_E_LIMIT;
}

static void check_limits(rvl_sandbox *sb)
{
    if (sb->trip != RVL_TRIP_NONE)
        return;
    if (sb->lim.instructions && sb->count > sb->lim.instructions)
        sb->trip = RVL_TRIP_INSTRUCTIONS;
    else if (sb->ops && sb->ops->cancelled && sb->ops->cancelled(sb->ctx))
        sb->trip = RVL_TRIP_CANCELLED;
    else if (sb->lim.deadline > 0 && sb->ops && sb->ops->now && sb->ops->now(sb->ctx) > sb->lim.deadline)
        sb->trip = RVL_TRIP_DEADLINE;
}

static int raise_trip(lua_State *L, rvl_sandbox *sb)
{
    char msg[256];
    rvl_push_error(L, trip_code(sb), "sandbox", sb->trip, trip_text(sb, msg, sizeof msg));
    return lua_error(L);
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    rvl_sandbox *sb = rvl_sandbox_of(L);
    sb->count += RVL_HOOK_EVERY;
    check_limits(sb);
    if (sb->trip != RVL_TRIP_NONE)
        raise_trip(L, sb);
}

/* ---- protected calls ------------------------------------------------------------- */

/* [-1, +1] message handler: whatever was raised becomes an error object with a traceback. */
static int l_msgh(lua_State *L)
{
    if (!rvl_is_error(L, 1)) {
        const char *name = NULL, *msg = NULL;
        if (lua_type(L, 1) == LUA_TSTRING) {
            msg = lua_tostring(L, 1);
        } else if (lua_type(L, 1) == LUA_TTABLE) {
            lua_pushliteral(L, "message");
            lua_rawget(L, 1);
            lua_pushliteral(L, "name");
            lua_rawget(L, 1);
            msg = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        }
        char buf[300];
        if (!msg) {
            snprintf(buf, sizeof buf, "a %s was raised as an error (raise errors.new(name, message))",
                     luaL_typename(L, 1));
            msg = buf;
        }
        int code = REVIVE_E_PLAYBOOK;
        for (int c = 0; name && c < REVIVE_E__COUNT; c++)
            if (strcmp(revive_error_name(c), name) == 0)
                code = c;
        rvl_push_error(L, code, "lua", 0, msg);
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    lua_pushliteral(L, "traceback");
    lua_rawget(L, 1);
    bool has = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!has) {
        luaL_traceback(L, L, NULL, 1);
        lua_pushliteral(L, "traceback");
        lua_insert(L, -2);
        lua_rawset(L, 1);
    }
    lua_settop(L, 1);
    return 1;
}

/* Shared end of pcall/xpcall: stack [msgh, true, results...] or [msgh, true, err]. */
static int finish_pcall(lua_State *L, int status, lua_KContext extra)
{
    rvl_sandbox *sb = rvl_sandbox_of(L);
    if (status != LUA_OK && status != LUA_YIELD) {
        if (status == LUA_ERRMEM && sb->trip == RVL_TRIP_NONE)
            sb->trip = RVL_TRIP_MEMORY;
        if (sb->trip != RVL_TRIP_NONE)
            return lua_error(L); /* limits are not for the playbook to catch */
        if (extra == 2) { /* xpcall: the playbook's handler sees the error object */
            lua_pushvalue(L, 3);
            lua_pushvalue(L, -2);
            lua_call(L, 1, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    if (extra == 2)
        lua_remove(L, 3); /* the playbook's handler */
    return lua_gettop(L) - 1;
}

/* [-(n), +(1|r)] pcall(f, ...): true, results or false, error object. */
static int l_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushcfunction(L, l_msgh);
    lua_pushboolean(L, 1);
    lua_rotate(L, 1, 2); /* [msgh, true, f, args...] */
    int status = lua_pcallk(L, lua_gettop(L) - 3, LUA_MULTRET, 1, 1, finish_pcall);
    return finish_pcall(L, status, 1);
}

/* [-(n), +(1|r)] xpcall(f, h, ...): as pcall; h receives the error object. */
static int l_xpcall(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushcfunction(L, l_msgh);
    lua_pushboolean(L, 1);
    lua_rotate(L, 1, 2); /* [msgh, true, f, h, args...] */
    lua_pushvalue(L, 3);
    lua_remove(L, 3);
    lua_insert(L, 4);    /* [msgh, true, h, f, args...] */
    int status = lua_pcallk(L, lua_gettop(L) - 4, LUA_MULTRET, 1, 2, finish_pcall);
    return finish_pcall(L, status, 2);
}

/* [-(n), +r] coroutine.resume / coroutine.close wrapper (the original is upvalue 1):
 * a tripped limit inside the coroutine is raised here instead of returned. */
static int l_co_guarded(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    rvl_sandbox *sb = rvl_sandbox_of(L);
    if (lua_toboolean(L, 1) == 0 && sb->trip != RVL_TRIP_NONE)
        return raise_trip(L, sb);
    return lua_gettop(L);
}

/* [-(2), +1] setmetatable(t, mt) refusing __gc (finalisers would run at random times). */
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return rvl_raise(L, REVIVE_E_UNSAFE, "__gc metamethods are not allowed in playbooks");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* [-(1..4), +(1|2)] load(text [, chunkname [, mode [, env]]]): text only, never bytecode;
 * env defaults to the playbook environment. Returns f or nil, error object. */
static int l_load(lua_State *L)
{
    rvl_sandbox *sb = rvl_sandbox_of(L);
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (!s || lua_type(L, 1) != LUA_TSTRING)
        return rvl_raise(L, REVIVE_E_UNSAFE, "load takes a string of Lua text only");
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0) {
        lua_pushnil(L);
        rvl_push_error(L, REVIVE_E_UNSAFE, "sandbox", 0, "load: only text chunks (mode \"t\") are allowed");
        return 2;
    }
    if (len > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        rvl_push_error(L, REVIVE_E_UNSAFE, "sandbox", 0, "load: binary chunks are not allowed");
        return 2;
    }
    int env = lua_gettop(L) >= 4 ? 4 : 0;
    if (!env) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_ref);
        env = lua_gettop(L);
    }
    if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
        revive_error e;
        rvl_fail(&e, REVIVE_E_PLAYBOOK, "lua", "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushnil(L);
        rvl_push_revive_error(L, &e);
        return 2;
    }
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

/* ---- require --------------------------------------------------------------------- */

static bool module_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > 100 || name[0] == '.' || name[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
        if (c == '.' && name[i + 1] == '.')
            return false;
    }
    return true;
}

static bool inside(const char *dir, const char *file)
{
    char rd[PATH_MAX], rf[PATH_MAX];
    if (!realpath(dir, rd) || !realpath(file, rf))
        return false;
    size_t n = strlen(rd);
    return strncmp(rd, rf, n) == 0 && rf[n] == '/';
}

/* [-1, +1] require(name): a module from the playbook path, loaded once. */
static int l_require(lua_State *L)
{
    rvl_sandbox *sb = rvl_sandbox_of(L);
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    if (!module_name_ok(name, len))
        return rvl_raise(L, REVIVE_E_UNSAFE, "require '%s': module names are lowercase letters, "
                         "digits, '_' and '.' only", name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->loaded_ref);
    int cache = lua_gettop(L);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, cache) != LUA_TNIL) {
        if (lua_type(L, -1) == LUA_TLIGHTUSERDATA)
            return rvl_raise(L, REVIVE_E_PLAYBOOK, "require '%s': circular require", name);
        return 1;
    }
    lua_pop(L, 1);
    char rel[128];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *p = rel; *p; p++)
        if (*p == '.')
            *p = '/';
    for (char **dir = sb->lib_path; dir && *dir; dir++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s.lua", *dir, rel) >= (int)sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!inside(*dir, path))
            return rvl_raise(L, REVIVE_E_UNSAFE, "require '%s': %s resolves outside %s", name, path, *dir);
        revive_error e;
        if (rvl_sandbox_load_file(sb, path, 0, &e) != REVIVE_OK) {
            rvl_push_revive_error(L, &e);
            return lua_error(L);
        }
        lua_pushvalue(L, 1);
        lua_pushlightuserdata(L, sb); /* "loading" marker */
        lua_rawset(L, cache);
        lua_pushvalue(L, 1);
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushboolean(L, 1);
        }
        lua_pushvalue(L, 1);
        lua_pushvalue(L, -2);
        lua_rawset(L, cache);
        return 1;
    }
    return rvl_raise(L, REVIVE_E_NOT_FOUND, "require '%s': no %s.lua in the playbook path", name, rel);
}

/* ---- the environment ------------------------------------------------------------- */

/* [-2, +0] __index of the guarded _ENV: reading an unknown global is an error. */
static int l_guard_index(lua_State *L)
{
    return rvl_raise(L, REVIVE_E_PLAYBOOK, "unknown global '%s' (a typo, or a missing 'local'?)",
                     lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

/* [-3, +0] __newindex of the guarded _ENV: creating a global is an error. */
static int l_guard_newindex(lua_State *L)
{
    return rvl_raise(L, REVIVE_E_PLAYBOOK, "assignment to undeclared global '%s'; use 'local'",
                     lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
}

static const luaL_Reg guard_meta[] = {
    {"__index", l_guard_index},
    {"__newindex", l_guard_newindex},
    {NULL, NULL},
};

static const char *const base_allowed[] = {
    "assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "rawset",
    "select", "tonumber", "tostring", "type", "getmetatable", "_VERSION", NULL,
};

static const luaL_Reg base_wrapped[] = {
    {"pcall", l_pcall},
    {"xpcall", l_xpcall},
    {"load", l_load},
    {"require", l_require},
    {NULL, NULL},
};

/* Copy the library table at the top into a new table, leaving out `omit`; the copy
 * replaces the original on the stack. */
static void copy_lib(lua_State *L, const char *const *omit)
{
    int src = lua_gettop(L);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        bool skip = false;
        for (const char *const *o = omit; o && *o && lua_type(L, -2) == LUA_TSTRING; o++)
            skip = skip || strcmp(lua_tostring(L, -2), *o) == 0;
        if (skip) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, src + 1);
    }
    lua_remove(L, src);
}

static void build_env(rvl_sandbox *sb)
{
    lua_State *L = sb->L;
    lua_newtable(L);
    int env = lua_gettop(L);
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    for (const char *const *n = base_allowed; *n; n++) {
        lua_getfield(L, g, *n);
        lua_setfield(L, env, *n);
    }
    for (const luaL_Reg *r = base_wrapped; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, env, r->name);
    }
    lua_getfield(L, g, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setfield(L, env, "setmetatable");

    static const char *const string_omit[] = {"dump", NULL};
    static const char *const math_omit[] = {"random", "randomseed", NULL};
    struct { const char *name; const char *const *omit; } libs[] = {
        {LUA_STRLIBNAME, string_omit}, {LUA_TABLIBNAME, NULL}, {LUA_MATHLIBNAME, math_omit},
        {LUA_UTF8LIBNAME, NULL}, {LUA_COLIBNAME, NULL},
    };
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, libs[i].name);
        lua_remove(L, -2);
        copy_lib(L, libs[i].omit);
        if (strcmp(libs[i].name, LUA_COLIBNAME) == 0) {
            static const char *const guarded[] = {"resume", "close"};
            for (size_t k = 0; k < 2; k++) {
                lua_getfield(L, -1, guarded[k]);
                lua_pushcclosure(L, l_co_guarded, 1);
                lua_setfield(L, -2, guarded[k]);
            }
        }
        lua_setfield(L, env, libs[i].name);
    }
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");

    lua_newtable(L);
    luaL_setfuncs(L, guard_meta, 0);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, env);

    lua_settop(L, env);
    sb->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1); /* the global table */
}

static void open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},          {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},    {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 0);
        lua_pop(L, 1);
    }
    /* The real string table: no dump, whatever the playbook's copy says. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 2);
    /* getmetatable("") gives false, not the table whose __index is the string library. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* The real globals keep base functions the playbook never sees; drop the risky ones
     * so that no later mistake can hand them out. */
    static const char *const drop[] = {"dofile", "loadfile", "load", "collectgarbage", "print", NULL};
    lua_pushglobaltable(L);
    for (const char *const *d = drop; *d; d++) {
        lua_pushnil(L);
        lua_setfield(L, -2, *d);
    }
    lua_pop(L, 1);
}

/* [-0, +0] lua_atpanic handler: should never run (everything runs under pcall). */
static int l_panic(lua_State *L)
{
    fprintf(stderr, "revive: unprotected Lua error: %s\n",
            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)");
    abort();
}

static int l_setup(lua_State *L)
{
    rvl_sandbox *sb = lua_touserdata(L, 1);
    open_libs(L);
    build_env(sb);
    lua_newtable(L);
    sb->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

rvl_sandbox *rvl_sandbox_new(const struct rvl_limits *lim, const struct rv_engine_ops *ops,
                             void *ctx, const char *const *lib_path)
{
    rvl_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NULL;
    sb->lim = *lim;
    sb->ops = ops;
    sb->ctx = ctx;
    size_t n = 0;
    while (lib_path && lib_path[n])
        n++;
    sb->lib_path = calloc(n + 1, sizeof *sb->lib_path);
    if (!sb->lib_path)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!(sb->lib_path[i] = strdup(lib_path[i])))
            goto fail;
    /* Set-up needs a few hundred KiB; the cap applies from the first instruction on. */
    size_t cap = sb->lim.memory;
    sb->lim.memory = 0;
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L)
        goto fail;
    *(rvl_sandbox **)lua_getextraspace(sb->L) = sb;
    lua_atpanic(sb->L, l_panic);
    lua_pushcfunction(sb->L, l_setup);
    lua_pushlightuserdata(sb->L, sb);
    if (lua_pcall(sb->L, 1, 0, 0) != LUA_OK)
        goto fail;
    sb->lim.memory = cap;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, RVL_HOOK_EVERY);
    return sb;
fail:
    rvl_sandbox_free(sb);
    return NULL;
}

void rvl_sandbox_free(rvl_sandbox *sb)
{
    if (!sb)
        return;
    if (sb->L)
        lua_close(sb->L);
    for (char **p = sb->lib_path; p && *p; p++)
        free(*p);
    free(sb->lib_path);
    free(sb);
}

lua_State *rvl_sandbox_state(rvl_sandbox *sb) { return sb->L; }
rvl_sandbox *rvl_sandbox_of(lua_State *L) { return *(rvl_sandbox **)lua_getextraspace(L); }
enum rvl_trip rvl_sandbox_tripped(const rvl_sandbox *sb) { return sb->trip; }
uint64_t rvl_sandbox_instructions(const rvl_sandbox *sb) { return sb->count; }
size_t rvl_sandbox_memory(const rvl_sandbox *sb) { return sb->used; }
void rvl_sandbox_set_user(rvl_sandbox *sb, void *user) { sb->user = user; }
void *rvl_sandbox_user(const rvl_sandbox *sb) { return sb->user; }

const struct rv_engine_ops *rvl_sandbox_ops(const rvl_sandbox *sb, void **ctx)
{
    if (ctx)
        *ctx = sb->ctx;
    return sb->ops;
}

void rvl_sandbox_set_global(rvl_sandbox *sb, const char *name)
{
    lua_State *L = sb->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_ref);
    lua_insert(L, -2);
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void rvl_sandbox_push_env(rvl_sandbox *sb)
{
    lua_rawgeti(sb->L, LUA_REGISTRYINDEX, sb->env_ref);
}

int rvl_sandbox_load(rvl_sandbox *sb, const char *buf, size_t len, const char *chunkname,
                     int env_idx, revive_error *err)
{
    lua_State *L = sb->L;
    if (env_idx)
        env_idx = lua_absindex(L, env_idx);
    if (len > 0 && buf[0] == LUA_SIGNATURE[0])
        return rvl_fail(err, REVIVE_E_UNSAFE, "sandbox", "%s: binary chunks are not allowed", chunkname);
    if (luaL_loadbufferx(L, buf, len, chunkname, "t") != LUA_OK) {
        rvl_fail(err, REVIVE_E_PLAYBOOK, "lua", "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return REVIVE_E_PLAYBOOK;
    }
    if (env_idx)
        lua_pushvalue(L, env_idx);
    else
        rvl_sandbox_push_env(sb);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return REVIVE_OK;
}

int rvl_sandbox_load_file(rvl_sandbox *sb, const char *path, int env_idx, revive_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rvl_fail(err, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "sandbox",
                        "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(RVL_MAX_SOURCE + 1);
    size_t len = buf ? fread(buf, 1, RVL_MAX_SOURCE + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf)
        return rvl_fail(err, REVIVE_E_NO_MEMORY, "sandbox", "no memory to read %s", path);
    if (bad || len > RVL_MAX_SOURCE) {
        free(buf);
        return rvl_fail(err, bad ? REVIVE_E_IO : REVIVE_E_LIMIT, "sandbox",
                        bad ? "cannot read %s" : "%s is larger than 1 MiB", path);
    }
    char name[PATH_MAX + 2];
    snprintf(name, sizeof name, "@%s", path);
    int rc = rvl_sandbox_load(sb, buf, len, name, env_idx, err);
    free(buf);
    return rc;
}

int rvl_sandbox_pcall(rvl_sandbox *sb, int nargs, int nresults, revive_error *err)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, l_msgh);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    if (status == LUA_ERRMEM && sb->trip == RVL_TRIP_NONE)
        sb->trip = RVL_TRIP_MEMORY;
    if (status != LUA_OK) {
        if (sb->trip != RVL_TRIP_NONE) {
            char msg[256];
            rvl_fail(err, trip_code(sb), "sandbox", "%s", trip_text(sb, msg, sizeof msg));
        } else {
            rvl_error_to_revive(L, -1, err);
        }
        lua_settop(L, base - 1);
        return err ? err->code : (sb->trip ? trip_code(sb) : REVIVE_E_PLAYBOOK);
    }
    lua_remove(L, base);
    return REVIVE_OK;
}
