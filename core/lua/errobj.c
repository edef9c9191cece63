/*
 * Error objects as playbooks see them.
 *
 * Every failure reaches Lua as a table {name, message, code, origin, origin_code, retry,
 * step} (expected failures are returned as `nil, err`; faults are raised). The metatable is
 * kept in the registry and protected (__metatable), so a playbook can read and make error
 * objects but never reach or replace the metatable. Code here never calls a metamethod of
 * a value it did not make: a raised table with a hostile __tostring is read with raw
 * accesses only.
 */
#include "sandbox.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RVL_ERROR_MT "revive.error"

int rvl_fail(revive_error *err, int code, const char *origin, const char *fmt, ...)
{
    if (!err)
        return code;
    memset(err, 0, sizeof *err);
    err->size = sizeof *err;
    err->code = code;
    snprintf(err->origin, sizeof err->origin, "%s", origin ? origin : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

/* [-0, +0] __tostring for error objects: "name: message". */
static int l_error_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushliteral(L, "name");
    lua_rawget(L, 1);
    lua_pushliteral(L, "message");
    lua_rawget(L, 1);
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "error";
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pushfstring(L, "%s: %s", name, msg);
    return 1;
}

static void push_mt(lua_State *L)
{
    if (luaL_newmetatable(L, RVL_ERROR_MT)) {
        lua_pushcfunction(L, l_error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "revive.error");
        lua_setfield(L, -2, "__metatable");
    }
}

void rvl_push_error(lua_State *L, int code, const char *origin, int origin_code,
                    const char *message)
{
    lua_createtable(L, 0, 7);
    lua_pushstring(L, revive_error_name(code));
    lua_setfield(L, -2, "name");
    lua_pushstring(L, message && *message ? message : revive_error_message(code));
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, origin && *origin ? origin : "revive");
    lua_setfield(L, -2, "origin");
    lua_pushinteger(L, origin_code);
    lua_setfield(L, -2, "origin_code");
    lua_pushboolean(L, revive_error_retryable(code));
    lua_setfield(L, -2, "retry");
    push_mt(L);
    lua_setmetatable(L, -2);
}

void rvl_push_revive_error(lua_State *L, const revive_error *err)
{
    rvl_push_error(L, err->code, err->origin, err->origin_code, err->message);
}

bool rvl_is_error(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx))
        return false;
    push_mt(L);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

static const char *raw_string(lua_State *L, int idx, const char *key, const char *dflt)
{
    lua_pushstring(L, key);
    lua_rawget(L, idx);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : dflt;
    lua_pop(L, 1); /* the string stays alive: it is referenced by the table at idx */
    return s;
}

static lua_Integer raw_int(lua_State *L, int idx, const char *key, lua_Integer dflt)
{
    lua_pushstring(L, key);
    lua_rawget(L, idx);
    lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

void rvl_error_to_revive(lua_State *L, int idx, revive_error *err)
{
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        rvl_fail(err, REVIVE_E_PLAYBOOK, "lua", "%s", lua_tostring(L, idx));
    } else if (t == LUA_TTABLE) {
        /* Ours or a look-alike: read raw fields only, with types checked. */
        lua_Integer code = raw_int(L, idx, "code", REVIVE_E_PLAYBOOK);
        if (code < 0 || code > 0x7fffffff)
            code = REVIVE_E_PLAYBOOK;
        const char *msg = raw_string(L, idx, "message", "a table was raised as an error");
        const char *tb = raw_string(L, idx, "traceback", NULL);
        const char *step = raw_string(L, idx, "step", NULL);
        rvl_fail(err, (int)code, raw_string(L, idx, "origin", "lua"), "%s%s%s%s", msg,
                 step ? " (in step '" : "", step ? step : "", step ? "')" : "");
        err->origin_code = (int32_t)raw_int(L, idx, "origin_code", 0);
        /* A traceback helps with a fault in playbook code; messages revive wrote for
         * people (policy, invalid, ...) stand on their own. */
        if (tb && (code == REVIVE_E_PLAYBOOK || code == REVIVE_E_UNKNOWN)) {
            size_t used = strlen(err->message);
            snprintf(err->message + used, sizeof err->message - used, "\n%s", tb);
        }
    } else {
        rvl_fail(err, REVIVE_E_PLAYBOOK, "lua", "a %s was raised as an error", lua_typename(L, t));
    }
}

int rvl_raise(lua_State *L, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    rvl_push_error(L, code, "revive", 0, lua_tostring(L, -1));
    return lua_error(L);
}
