/*
 * core/lua/runtime.h — the boundary between the engine and the playbook runtime.
 *
 * The engine (device registry, plugins, events, CLI) owns devices; the runtime owns the
 * Lua state, the sandbox, the journal and the safety rules. They meet here and only here:
 *
 *   engine ──rv_run(cfg, ops, ctx)──▶ runtime ──ops->device_call(ctx, "backup", ...)──▶ engine
 *
 * One rv_run() is one session: one device, one Lua state, one journal, one thread (the
 * caller's). The runtime never reads a clock, a signal or a device by itself: time,
 * cancellation and the device all come through struct rv_engine_ops, which is what makes a
 * run replayable (resume) and testable (a counting ops table in tests/lua/).
 *
 * Both structs start with `size` (sizeof what the caller knew) and only grow at the end,
 * like the SDK's structs, so the engine and the runtime can move at different speeds.
 */
#ifndef REVIVE_LUA_RUNTIME_H
#define REVIVE_LUA_RUNTIME_H

#include <revive/errors.h>
#include <revive/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Implemented by the engine. `ctx` is the engine's per-session pointer, passed back as is.
 * Every function may be called many times; none is called after rv_run() returns. */
struct rv_engine_ops {
    uint32_t size; /* sizeof(struct rv_engine_ops) as the engine knew it */

    /* Run a device verb on this session's device and answer its fields through
     * put(put_ud, field) (zero or more calls; strings need only live during the call).
     * Verbs the runtime uses (args in parentheses, all optional unless said):
     *   "mode"              -> mode (str: normal|recovery|dfu|restore|off)
     *   "info"              -> ecid (int), udid, product_type, hardware_model, ios_version,
     *                          battery_percent (int), free_bytes (int), serial, mode, ...
     *   "enter_recovery", "exit_recovery", "reboot", "shutdown"
     *   "getvar" (name)     -> value;   "setvar" (name, value)
     *   "backup" (dir)      -> path, bytes
     *   "verify_backup" (path) -> ok (bool), detail
     *   "restore_backup" (path, password?)
     *   "restore_firmware" (erase (bool), firmware (path or catalog query), method?)
     *   "fetch" (query)     -> path, version  (source plugins: a verified local file)
     *   "import" (path, format?) -> path      (importers: canonical backup layout)
     *   "preflight" (for: the verb about to run, bytes?) -> ok, battery_percent, free_bytes
     * Unknown verbs fail with REVIVE_E_UNSUPPORTED. Returns REVIVE_OK, or a revive code with
     * *err filled (code, origin, origin_code, message). */
    int (*device_call)(void *ctx, const char *verb, const revive_field *args, size_t nargs,
                       void (*put)(void *put_ud, const revive_field *f), void *put_ud,
                       revive_error *err);

    /* Wait until the device is seen in one of `modes` (NULL-terminated names: "normal",
     * "recovery", "dfu", "restore", "off"), or timeout_s passes. Returns REVIVE_OK,
     * REVIVE_E_TIMEOUT or REVIVE_E_CANCELLED (err filled for the latter two). */
    int (*wait_mode)(void *ctx, const char *const *modes, double timeout_s, revive_error *err);

    /* An event for the engine's sinks (terminal, --json, dashboards): type word such as
     * "step_started", "step_finished", "step_replayed", "log", "countdown", "outcome",
     * plus the playbook's own event("type", {...}) calls. Fields live during the call. */
    void (*event)(void *ctx, const char *type, const revive_field *f, size_t n);

    /* Ask a person a yes/no question. Answers yes at once under --yes (the engine decides).
     * Returns REVIVE_OK with *yes set, or REVIVE_E_CANCELLED / REVIVE_E_TIMEOUT. */
    int (*confirm)(void *ctx, const char *question, bool *yes, revive_error *err);

    /* Show instructions to a person (a "prompt" event with title and lines) and wait until the
     * device is seen in one of `modes` (NULL-terminated) or timeout_s passes. Returns
     * REVIVE_OK, REVIVE_E_TIMEOUT or REVIVE_E_CANCELLED. */
    int (*prompt_until)(void *ctx, const char *title, const char *const *lines,
                        const char *const *modes, double timeout_s, revive_error *err);

    /* True once the run should stop (Ctrl-C, the engine shutting down). Polled from the
     * instruction hook and between waits; must be cheap and thread-safe. */
    bool (*cancelled)(void *ctx);

    /* Monotonic seconds. The runtime never reads a clock itself. */
    double (*now)(void *ctx);

    /* Sleep s seconds (may return early when cancelled). */
    void (*sleep)(void *ctx, double s);
};

/* What to run and within which limits. Zero/NULL members take the defaults named. */
struct rv_run_config {
    uint32_t size;                 /* sizeof(struct rv_run_config) as the caller knew it */
    const char *playbook;          /* path of the playbook file (required) */
    const char *const *lib_path;   /* NULL-terminated directories `require` searches, in order
                                      (the shipped scripts/lib first, then the user's); NULL:
                                      none, and require fails */
    const char *const *params;     /* NULL-terminated "name=value" strings (--set) */
    const char *state_dir;         /* runs live in <state_dir>/runs/<run-id>/journal.jsonl
                                      (required) */
    const char *run_id;            /* NULL: a new run with a fresh id; with resume: which run */
    bool resume;                   /* replay run_id's journal: finished steps return their
                                      recorded result without acting */
    bool force;                    /* resume even though the playbook file changed */
    bool yes;                      /* --yes: the person consented up front; recorded */
    bool waive_backup;             /* skip the backup before destructive verbs; recorded */
    uint64_t instruction_budget;   /* Lua VM instructions for the whole run; 0: 200 million */
    size_t memory_cap;             /* bytes the Lua state may hold; 0: 32 MiB */
    double deadline_s;             /* seconds (by ops->now) the whole run may take; 0: none */
    char *run_id_out;              /* if not NULL, receives the run id (new or resumed) */
    size_t run_id_cap;             /* capacity of run_id_out; 40 is always enough */
};

/* Run a playbook on one device session, fresh or resumed, to its outcome. `outcome`
 * receives "fixed", "needs_person", "failed" or "cancelled" (outcome_cap >= 16).
 * Returns REVIVE_OK when the playbook reached an outcome of its own (fixed or needs_person;
 * the detail is in the journal and the "outcome" event), else a revive code with *err
 * filled: REVIVE_E_PLAYBOOK (the playbook raised), REVIVE_E_LIMIT (budget, memory or
 * deadline), REVIVE_E_CANCELLED, REVIVE_E_POLICY, REVIVE_E_CORRUPT (journal tampered),
 * REVIVE_E_INVALID (bad config/params; playbook changed on resume without force). */
int rv_run(const struct rv_run_config *cfg, const struct rv_engine_ops *ops, void *ctx,
           char *outcome, size_t outcome_cap, revive_error *err);

/* `revive check PLAYBOOK`: without a device, load the playbook in the sandbox and check its
 * syntax, its header (name, summary, params with types and defaults, policy), that it
 * calls only API functions that exist, and that it uses no unknown global. `report`
 * receives one line per finding ("file:line: what"), NUL-terminated, truncated to
 * report_cap. Returns REVIVE_OK if there is no finding, REVIVE_E_PLAYBOOK if there are,
 * another code (err filled) if the check could not run (missing file, no memory). */
int rv_check(const char *playbook_path, const char *const *lib_path, char *report,
             size_t report_cap, revive_error *err);

#endif /* REVIVE_LUA_RUNTIME_H */
