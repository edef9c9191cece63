/* A device session: the engine's side of a playbook run (core/lua/runtime.h's
 * rv_engine_ops). It keeps the phone by its ECID while the phone moves between modes and
 * routes each verb the playbook calls to the plugin capability that does it. */
#ifndef RV_SESSION_H
#define RV_SESSION_H
#include "registry.h"
#include "../lua/runtime.h"
#include <pthread.h>

typedef struct rv_session {
    rv_plugins *plugins;
    rv_registry *reg;
    uint64_t ecid;
    char udid[64];
    char label[80];          /* how events name the device */
    char run_id[48];         /* filled by the runtime (rv_run_config.run_id_out) */
    bool yes;                /* --yes */
    bool interactive;        /* a person can answer on the terminal */
    char work_dir[4096];     /* where backups and imports of this run go */
} rv_session;

/* The operations table the runtime calls, with ctx = rv_session *. */
const struct rv_engine_ops *rv_session_ops(void);
/* Set up a session for an already selected device. */
void rv_session_init(rv_session *s, rv_plugins *plugins, rv_registry *reg, const rv_device *dev);
/* Heavy phases (firmware restores, backup transfers, downloads) share the USB bus and the
 * disk; at most `n` run at once across all sessions, the rest wait ("waiting" event). */
void rv_session_set_heavy_limit(int n);
/* One prompt or question at a time across all sessions (several phones, one person). */
extern pthread_mutex_t rv_person_lock;
#endif
