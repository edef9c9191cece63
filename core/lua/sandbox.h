/* The Lua sandbox one session runs in: limits, safe libraries, guarded globals, require,
 * protected calls and revive error objects. Internal to the runtime (rvl_ prefix). */
#ifndef RVL_SANDBOX_H
#define RVL_SANDBOX_H

#include "runtime.h"
#include <lua.h>

typedef struct rvl_sandbox rvl_sandbox;

struct rvl_limits {
    uint64_t instructions; /* 0: unlimited */
    size_t memory;         /* 0: unlimited */
    double deadline;       /* absolute, in ops->now() seconds; 0: none */
};

/* Why a run was stopped from outside the playbook's control; sticky once set. */
enum rvl_trip { RVL_TRIP_NONE = 0, RVL_TRIP_INSTRUCTIONS, RVL_TRIP_MEMORY, RVL_TRIP_DEADLINE,
                RVL_TRIP_CANCELLED };

/* A new state with the safe libraries and a guarded playbook environment. ops may be NULL
 * (rv_check: no clock, no cancellation). lib_path is copied. NULL on no memory. */
rvl_sandbox *rvl_sandbox_new(const struct rvl_limits *lim, const struct rv_engine_ops *ops,
                             void *ctx, const char *const *lib_path);
void rvl_sandbox_free(rvl_sandbox *sb);
lua_State *rvl_sandbox_state(rvl_sandbox *sb);
rvl_sandbox *rvl_sandbox_of(lua_State *L);
enum rvl_trip rvl_sandbox_tripped(const rvl_sandbox *sb);
const struct rv_engine_ops *rvl_sandbox_ops(const rvl_sandbox *sb, void **ctx);
uint64_t rvl_sandbox_instructions(const rvl_sandbox *sb);
/* One pointer for the layer above (the run); NULL until set. */
void rvl_sandbox_set_user(rvl_sandbox *sb, void *user);
void *rvl_sandbox_user(const rvl_sandbox *sb);
size_t rvl_sandbox_memory(const rvl_sandbox *sb);

/* Pops a value and sets it as the global `name` of the playbook environment. */
void rvl_sandbox_set_global(rvl_sandbox *sb, const char *name);
/* Pushes the playbook environment (the guarded _ENV table). */
void rvl_sandbox_push_env(rvl_sandbox *sb);

/* Compile text (never bytecode) with _ENV = the value at env_idx (0: the playbook
 * environment); pushes the function. REVIVE_OK, or REVIVE_E_PLAYBOOK with err filled
 * (syntax error with file:line) and nothing pushed. */
int rvl_sandbox_load(rvl_sandbox *sb, const char *buf, size_t len, const char *chunkname,
                     int env_idx, revive_error *err);
/* Read a file (at most 1 MiB) and rvl_sandbox_load it with chunkname "@path". */
int rvl_sandbox_load_file(rvl_sandbox *sb, const char *path, int env_idx, revive_error *err);

/* lua_pcall with the traceback handler. On error, nothing is left on the stack and err is
 * filled from the error object (REVIVE_E_LIMIT / CANCELLED when the sandbox tripped). */
int rvl_sandbox_pcall(rvl_sandbox *sb, int nargs, int nresults, revive_error *err);

/* Error objects: tables {name, message, code, origin, origin_code, retry, step} with a
 * protected metatable whose __tostring reads "name: message". */
void rvl_push_error(lua_State *L, int code, const char *origin, int origin_code,
                    const char *message);
void rvl_push_revive_error(lua_State *L, const revive_error *err);
bool rvl_is_error(lua_State *L, int idx);
/* Fill err from the value at idx (an error object, or anything else raised). */
void rvl_error_to_revive(lua_State *L, int idx, revive_error *err);
/* Raise an error object (never returns). */
int rvl_raise(lua_State *L, int code, const char *fmt, ...);
/* Fill a revive_error (err may be NULL); returns code. */
int rvl_fail(revive_error *err, int code, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
