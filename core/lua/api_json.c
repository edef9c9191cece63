/* Lua values <-> JSON, for journal records (step results, errors, parameters). Strings
 * that are not UTF-8 travel as {"__bytes": "<hex>"} and come back as the same bytes. */
#include "api.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define RVL_JSON_DEPTH 32

static json_t *conv(lua_State *L, int idx, int depth, char *why, size_t cap);

static json_t *conv_table(lua_State *L, int idx, int depth, char *why, size_t cap)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    size_t count = 0;
    bool strings = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (lua_type(L, -2) != LUA_TSTRING)
            strings = false;
        lua_pop(L, 1);
    }
    if (count == 0 && !rvl_is_error(L, idx))
        return json_array();
    if (n > 0 && (size_t)n == count) {
        json_t *a = json_array();
        for (lua_Integer i = 1; a && i <= n; i++) {
            lua_rawgeti(L, idx, i);
            json_t *v = conv(L, lua_gettop(L), depth + 1, why, cap);
            lua_pop(L, 1);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    if (!strings) {
        snprintf(why, cap, "a table mixing list items and keys, or with non-string keys");
        return NULL;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (o && lua_next(L, idx)) {
        json_t *v = conv(L, lua_gettop(L), depth + 1, why, cap);
        if (!v) {
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, lua_tostring(L, -2), v);
        lua_pop(L, 1);
    }
    return o;
}

static json_t *conv(lua_State *L, int idx, int depth, char *why, size_t cap)
{
    if (depth > RVL_JSON_DEPTH) {
        snprintf(why, cap, "nested deeper than %d (a cycle?)", RVL_JSON_DEPTH);
        return NULL;
    }
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx))) {
            snprintf(why, cap, "a number that is not finite");
            return NULL;
        }
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        json_t *j = json_stringn(s, len);
        if (j)
            return j;
        /* Not UTF-8 (bytes from a device, say): kept as {"__bytes": "<hex>"}. */
        char *hex = malloc(2 * len + 1);
        if (!hex) {
            snprintf(why, cap, "no memory");
            return NULL;
        }
        for (size_t i = 0; i < len; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
        j = json_pack("{s:s}", "__bytes", hex);
        free(hex);
        return j;
    }
    case LUA_TTABLE:
        luaL_checkstack(L, 4, "journal value");
        return conv_table(L, lua_absindex(L, idx), depth, why, cap);
    default:
        snprintf(why, cap, "a %s (only nil, booleans, numbers, strings and tables are kept)",
                 luaL_typename(L, idx));
        return NULL;
    }
}

json_t *rvl_to_json(lua_State *L, int idx, char *why, size_t why_cap)
{
    return conv(L, lua_absindex(L, idx), 0, why, why_cap);
}

void rvl_push_json(lua_State *L, const json_t *j)
{
    luaL_checkstack(L, 4, "journal value");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        json_t *bytes = json_object_get(j, "__bytes");
        if (json_object_size(j) == 1 && json_is_string(bytes) && json_string_length(bytes) % 2 == 0) {
            luaL_Buffer b;
            const char *hex = json_string_value(bytes);
            luaL_buffinit(L, &b);
            for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
                unsigned v8;
                if (sscanf(hex + i, "%2x", &v8) != 1)
                    break;
                luaL_addchar(&b, (char)v8);
            }
            luaL_pushresult(&b);
            break;
        }
        lua_createtable(L, 0, (int)json_object_size(j));
        json_object_foreach((json_t *)j, k, v) {
            rvl_push_json(L, v);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        lua_createtable(L, (int)json_array_size(j), 0);
        json_array_foreach(j, i, v) {
            rvl_push_json(L, v);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(j));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(j));
        break;
    default:
        lua_pushnil(L);
    }
}
