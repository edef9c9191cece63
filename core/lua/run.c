/*
 * rv_run: one session from start (or resume) to outcome.
 *
 * Order matters: the journal is opened first (a resume needs its records before any Lua
 * runs), then the sandbox, the trusted prelude (prelude.lua, compiled in) and the playbook.
 * A fresh run that fails before its first record leaves no run directory behind. Limits
 * tripped by the sandbox (budget, memory) end the run with a "failed" outcome written
 * from C, since the Lua state may have no memory left; cancellation and the deadline
 * write no outcome, so the run stays resumable.
 */
#include "api.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The runtime's own Lua, compiled in by embed.cmake: the prelude and its parts. */
extern const char rvl_lua_prelude[], rvl_lua_device[], rvl_lua_person[], rvl_lua_flow[], rvl_lua_run[];
extern const size_t rvl_lua_prelude_len, rvl_lua_device_len, rvl_lua_person_len, rvl_lua_flow_len,
    rvl_lua_run_len;

static const struct {
    const char *name;
    const char *src;
    const size_t *len;
} parts[] = {
    {"device", rvl_lua_device, &rvl_lua_device_len},
    {"person", rvl_lua_person, &rvl_lua_person_len},
    {"flow", rvl_lua_flow, &rvl_lua_flow_len},
    {"run", rvl_lua_run, &rvl_lua_run_len},
};

#define RVL_DEFAULT_BUDGET (200ull * 1000 * 1000)
#define RVL_DEFAULT_MEMORY ((size_t)32 << 20)

static bool ops_complete(const struct rv_engine_ops *ops)
{
    return ops && ops->size >= offsetof(struct rv_engine_ops, sleep) + sizeof ops->sleep &&
           ops->device_call && ops->wait_mode && ops->event && ops->confirm && ops->prompt_until &&
           ops->cancelled && ops->now && ops->sleep;
}

/* Loads prelude.lua and installs the API it returns into the playbook environment; leaves
 * the runner table on the stack. */
/* [-1, +1] the host table for the run (light userdata), built under a pcall */
static int l_push_host(lua_State *L)
{
    rvl_push_host(L, lua_touserdata(L, 1));
    return 1;
}

/* [-1, +0] every field of the api table becomes a global of the playbook environment */
static int l_install_globals(lua_State *L)
{
    rvl_sandbox *sb = rvl_sandbox_of(L);
    lua_pushnil(L);
    while (lua_next(L, 1))
        rvl_sandbox_set_global(sb, lua_tostring(L, -2)); /* pops the value, keeps the key */
    return 0;
}

int rvl_install_api(rvl_sandbox *sb, struct rvl_run *run, revive_error *err)
{
    lua_State *L = rvl_sandbox_state(sb);
    int rc = rvl_sandbox_load(sb, rvl_lua_prelude, rvl_lua_prelude_len, "=prelude", 0, err);
    if (rc)
        return rc;
    lua_pushcfunction(L, l_push_host);
    lua_pushlightuserdata(L, run);
    if ((rc = rvl_sandbox_pcall(sb, 1, 1, err)) != REVIVE_OK)
        return rc;
    lua_createtable(L, 0, (int)(sizeof parts / sizeof parts[0]));
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        char chunk[32];
        snprintf(chunk, sizeof chunk, "=%s", parts[i].name);
        if ((rc = rvl_sandbox_load(sb, parts[i].src, *parts[i].len, chunk, 0, err)) != REVIVE_OK)
            return rc;
        lua_setfield(L, -2, parts[i].name);
    }
    if ((rc = rvl_sandbox_pcall(sb, 2, 2, err)) != REVIVE_OK)
        return rc;
    /* [api, runner] */
    lua_pushcfunction(L, l_install_globals);
    lua_pushvalue(L, -3);
    if ((rc = rvl_sandbox_pcall(sb, 1, 0, err)) != REVIVE_OK)
        return rc;
    lua_remove(L, -2);
    return REVIVE_OK;
}

static void record_limit_outcome(struct rvl_run *run, const revive_error *e)
{
    json_t *f = json_pack("{s:s, s:{s:s, s:i, s:s}}", "outcome", "failed", "error", "name",
                          revive_error_name(e->code), "code", e->code, "message", e->message);
    revive_error ignored;
    if (f)
        rv_journal_append(run->journal, "outcome", f, &ignored);
    json_decref(f);
}

int rv_run(const struct rv_run_config *cfg, const struct rv_engine_ops *ops, void *ctx,
           char *outcome, size_t outcome_cap, revive_error *err)
{
    if (outcome && outcome_cap)
        snprintf(outcome, outcome_cap, "failed");
    if (!cfg || cfg->size < offsetof(struct rv_run_config, run_id_cap) + sizeof cfg->run_id_cap ||
        !cfg->playbook || !cfg->state_dir)
        return rvl_fail(err, REVIVE_E_INVALID, "runtime", "rv_run: a config with playbook and state_dir is needed");
    if (!ops_complete(ops))
        return rvl_fail(err, REVIVE_E_INVALID, "runtime", "rv_run: the engine's ops table is incomplete");
    if (cfg->resume && !cfg->run_id)
        return rvl_fail(err, REVIVE_E_INVALID, "runtime", "resume: which run? (see `revive runs`)");
    for (const char *const *p = cfg->params; p && *p; p++)
        if (!strchr(*p, '='))
            return rvl_fail(err, REVIVE_E_INVALID, "runtime", "parameter '%s' is not name=value", *p);

    struct rvl_run run = {.cfg = cfg, .ops = ops, .ctx = ctx};
    int rc = rv_journal_sha256_file(cfg->playbook, run.sha256, err);
    if (rc)
        return rc;
    if (cfg->resume)
        rc = rv_journal_resume(cfg->state_dir, cfg->run_id, &run.journal, &run.records, err);
    else
        rc = rv_journal_create(cfg->state_dir, cfg->run_id, &run.journal, err);
    if (rc)
        return rc;
    if (!run.records)
        run.records = json_array();
    if (cfg->run_id_out && cfg->run_id_cap)
        snprintf(cfg->run_id_out, cfg->run_id_cap, "%s", rv_journal_run_id(run.journal));

    struct rvl_limits lim = {
        .instructions = cfg->instruction_budget ? cfg->instruction_budget : RVL_DEFAULT_BUDGET,
        .memory = cfg->memory_cap ? cfg->memory_cap : RVL_DEFAULT_MEMORY,
        .deadline = cfg->deadline_s > 0 ? ops->now(ctx) + cfg->deadline_s : 0,
    };
    rvl_sandbox *sb = rvl_sandbox_new(&lim, ops, ctx, cfg->lib_path);
    if (!sb) {
        rc = rvl_fail(err, REVIVE_E_NO_MEMORY, "runtime", "no memory for a Lua state");
        goto out;
    }
    rvl_sandbox_set_user(sb, &run);
    lua_State *L = rvl_sandbox_state(sb);
    if ((rc = rvl_install_api(sb, &run, err)))
        goto out;
    int runner = lua_gettop(L);
    if ((rc = rvl_sandbox_load_file(sb, cfg->playbook, 0, err)) ||
        (rc = rvl_sandbox_pcall(sb, 0, 1, err)))
        goto out;
    lua_getfield(L, runner, "main");
    lua_insert(L, -2);
    rc = rvl_sandbox_pcall(sb, 1, 1, err);
    if (rc == REVIVE_OK) {
        if (outcome && outcome_cap)
            snprintf(outcome, outcome_cap, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "failed");
        lua_pop(L, 1);
    } else {
        enum rvl_trip trip = rvl_sandbox_tripped(sb);
        if (trip == RVL_TRIP_INSTRUCTIONS || trip == RVL_TRIP_MEMORY)
            record_limit_outcome(&run, err);
        if (outcome && outcome_cap && (rc == REVIVE_E_CANCELLED || trip == RVL_TRIP_CANCELLED))
            snprintf(outcome, outcome_cap, "cancelled");
    }
out:
    rvl_sandbox_free(sb);
    if (!cfg->resume && rv_journal_count(run.journal) == 0) {
        /* Nothing happened: leave no empty run behind. */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s", rv_journal_file(run.journal));
        unlink(path);
        char *slash = strrchr(path, '/');
        if (slash) {
            *slash = '\0';
            rmdir(path);
        }
    }
    rv_journal_close(run.journal);
    json_decref(run.records);
    return rc;
}
