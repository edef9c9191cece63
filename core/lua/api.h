/* The runtime's C primitives for its own Lua layer (prelude.lua), and the run they act
 * for. Playbooks never see these: the prelude wraps them with the journal, replay and
 * safety rules, and hands playbooks only the wrapped API. */
#ifndef RVL_API_H
#define RVL_API_H

#include "runtime.h"
#include "sandbox.h"

#include <jansson.h>
#include <journal.h>

struct rvl_run {
    const struct rv_run_config *cfg;
    const struct rv_engine_ops *ops; /* NULL under rv_check */
    void *ctx;
    rv_journal *journal;             /* NULL under rv_check */
    json_t *records;                 /* the journal read on resume, else an empty array */
    char sha256[65];                 /* of the playbook file */
    bool changed;                    /* resume: the playbook's hash differs from the journal's */
};

/* Lua value at idx -> JSON (nil -> null; tables with keys 1..n -> arrays, string keys ->
 * objects; error objects keep their fields). NULL with why filled when not serialisable. */
json_t *rvl_to_json(lua_State *L, int idx, char *why, size_t why_cap);
/* Pushes the Lua value of j (null -> nil). */
void rvl_push_json(lua_State *L, const json_t *j);

/* Pushes the `host` table of primitives for prelude.lua. */
void rvl_push_host(lua_State *L, struct rvl_run *run);

/* Load prelude.lua, put the API it returns into the playbook environment, and leave the
 * runner table (main, describe) on the stack. */
int rvl_install_api(rvl_sandbox *sb, struct rvl_run *run, revive_error *err);

#endif
