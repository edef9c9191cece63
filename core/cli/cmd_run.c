/* revive run | check — playbooks through the runtime (core/lua). */
#include "cancel.h"
#include "config.h"
#include "device.h"
#include "dirs.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "playbooks.h"
#include "session.h"
#include "hostcheck.h"
#include "table.h"
#include "term.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rv_cmd_run(rv_app *app, int argc, char **argv);
int rv_cmd_check(rv_app *app, int argc, char **argv);

/* While the runtime library is being built up, its entry points may not exist yet; weak
 * references let the CLI say so instead of failing to link. */
#pragma weak rv_run
#pragma weak rv_check

static bool runtime_missing(const char *cmd)
{
    if (rv_run && rv_check)
        return false;
    fprintf(stderr, "revive %s: not built yet in this version (the playbook runtime is incomplete). Nothing was done.\n", cmd);
    return true;
}

static int outcome_exit(const char *outcome)
{
    if (strcmp(outcome, "fixed") == 0)
        return EXIT_OK;
    if (strcmp(outcome, "needs_person") == 0)
        return EXIT_NEEDS_PERSON;
    if (strcmp(outcome, "cancelled") == 0)
        return EXIT_CANCELLED;
    return EXIT_FAILED;
}

static uint64_t config_u64(const char *key, uint64_t dflt)
{
    const char *v = rv_config_get(key);
    return v ? strtoull(v, NULL, 10) : dflt;
}

/* One playbook run on one already selected device; returns the exit status. */
static int run_on_device(rv_app *app, rv_registry *reg, const rv_device *dev, const char *playbook,
                         const char *const *params, const char *run_id, bool resume, bool force,
                         bool waive_backup, char *outcome, size_t outcome_cap)
{
    rv_session s;
    rv_session_init(&s, rv_app_plugins(app), reg, dev);
    s.yes = app->yes;
    const char *lib[4];
    rv_playbook_lib_path(lib);
    struct rv_run_config cfg = {
        .size = sizeof cfg,
        .playbook = playbook,
        .lib_path = lib,
        .params = params,
        .state_dir = rv_dir(REVIVE_DIR_STATE),
        .run_id = run_id,
        .resume = resume,
        .force = force,
        .yes = app->yes,
        .waive_backup = waive_backup,
        .instruction_budget = config_u64("playbook.instructions", 0),
        .memory_cap = (size_t)config_u64("playbook.memory", 0),
        .deadline_s = (double)config_u64("playbook.deadline", 0),
        .run_id_out = s.run_id,
        .run_id_cap = sizeof s.run_id,
    };
    snprintf(outcome, outcome_cap, "failed");
    revive_error err;
    rv_error_clear(&err);
    if (!cfg.state_dir) {
        rv_fail(&err, REVIVE_E_PERMISSION, NULL, 0, "no state directory for the journal (set XDG_STATE_HOME)");
        return rv_report_error(app, &err);
    }
    int code = rv_run(&cfg, rv_session_ops(), &s, outcome, outcome_cap, &err);
    if (code != REVIVE_OK) {
        if (!err.code)
            err.code = code;
        revive_field f[] = { REVIVE_FIELD_STR("name", revive_error_name(err.code)),
                             REVIVE_FIELD_STR("message", err.message[0] ? err.message : revive_error_message(err.code)) };
        rv_emit(s.run_id[0] ? s.run_id : NULL, s.label, "error", f, 2);
        if (!app->json) {
            char buf[800];
            rv_error("[%s] %s", s.label, rv_error_describe(&err, buf, sizeof buf));
        }
        return code == REVIVE_E_CANCELLED ? EXIT_CANCELLED : rv_exit_for(err.code);
    }
    if (!app->json)
        fprintf(stderr, "revive: run %s on %s: %s\n", s.run_id, s.label, outcome);
    return outcome_exit(outcome);
}

/* Keep the computer awake for the whole run (logind's inhibitor); where that cannot be
 * had, say so once and go on. */
static rv_inhibit *hold_sleep(void)
{
    rv_hostcheck c;
    rv_inhibit *inh = rv_inhibit_take("revive is repairing a phone; sleeping now would interrupt it", &c);
    if (!inh && c.status != RV_CHECK_OK)
        rv_warn("%s%s%s", c.message, c.remedy[0] ? " — " : "", c.remedy);
    return inh;
}

/* One session on one device: the shared part of run and resume. */
int rv_cli_run_session(rv_app *app, const char *playbook, const char *selector, const char *const *params,
                       const char *run_id, bool resume, bool force, bool waive_backup);

int rv_cli_run_session(rv_app *app, const char *playbook, const char *selector, const char *const *params,
                       const char *run_id, bool resume, bool force, bool waive_backup)
{
    if (runtime_missing(resume ? "resume" : "run"))
        return EXIT_NOT_BUILT;
    rv_registry *reg = NULL;
    rv_device dev;
    int rc = rv_cli_pick_device(app, &reg, selector, &dev);
    if (rc == EXIT_OK) {
        rv_registry_watch(reg);
        rv_inhibit *inh = hold_sleep();
        char outcome[32];
        rc = run_on_device(app, reg, &dev, playbook, params, run_id, resume, force, waive_backup, outcome,
                           sizeof outcome);
        rv_inhibit_release(inh);
    }
    rv_registry_free(reg);
    return rc;
}

/* ------------------------------------------------------------------ the station */

/*
 * --all: one session per attached phone, each on its own thread. --watch: keep going and
 * start a session for every phone plugged in later. A phone is known by its ECID: when it
 * leaves and comes back in another mode (normal -> recovery -> restore -> normal) it stays
 * with the session it has, and it never gets a second run.
 */
typedef struct station_slot {
    uint64_t ecid;
    char udid[64];
    pthread_t thread;
    bool started, done;
    int exit_status;
    rv_device dev;
    struct station *st;
} station_slot;

typedef struct station {
    rv_app *app;
    rv_registry *reg;
    const char *playbook;
    const char *const *params;
    bool waive;
    pthread_mutex_t lock;
    station_slot slots[256];
    int nslots;
    atomic_bool pending; /* the registry saw a change worth a look */
} station;

static void *station_thread(void *arg)
{
    station_slot *sl = arg;
    char outcome[32];
    int rc = run_on_device(sl->st->app, sl->st->reg, &sl->dev, sl->st->playbook, sl->st->params, NULL, false, false,
                           sl->st->waive, outcome, sizeof outcome);
    pthread_mutex_lock(&sl->st->lock);
    sl->exit_status = rc;
    sl->done = true;
    pthread_mutex_unlock(&sl->st->lock);
    return NULL;
}

/* Start a session for every present phone that has none yet. */
static void station_claim(station *st)
{
    rv_device *v;
    size_t n = rv_registry_snapshot(st->reg, &v, false);
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < n; i++) {
        if (!v[i].id.ecid && !v[i].id.udid[0])
            continue;
        bool known = false;
        for (int k = 0; k < st->nslots && !known; k++)
            known = (v[i].id.ecid && st->slots[k].ecid == v[i].id.ecid) ||
                    (v[i].id.udid[0] && strcmp(st->slots[k].udid, v[i].id.udid) == 0);
        if (known || st->nslots == (int)(sizeof st->slots / sizeof st->slots[0]))
            continue;
        station_slot *sl = &st->slots[st->nslots++];
        memset(sl, 0, sizeof *sl);
        sl->ecid = v[i].id.ecid;
        snprintf(sl->udid, sizeof sl->udid, "%s", v[i].id.udid);
        sl->dev = v[i];
        sl->st = st;
        char label[80];
        rv_device_label(&v[i].id, label, sizeof label);
        rv_table_add(label, v[i].id.product_type, v[i].id.location);
        if (pthread_create(&sl->thread, NULL, station_thread, sl) == 0)
            sl->started = true;
        else {
            sl->done = true;
            sl->exit_status = EXIT_FAILED;
        }
    }
    pthread_mutex_unlock(&st->lock);
    free(v);
}

static void station_seen(const rv_device *dev, int what, void *ud)
{
    station *st = ud;
    (void)dev;
    if (what != REVIVE_DETACHED)
        st->pending = true; /* looked at from the main loop, never under the registry's lock */
}

static int run_station(rv_app *app, const char *playbook, const char *const *params, bool watch, bool waive)
{
    station *st = calloc(1, sizeof *st);
    if (!st)
        return EXIT_FAILED;
    st->app = app;
    st->playbook = playbook;
    st->params = params;
    st->waive = waive;
    pthread_mutex_init(&st->lock, NULL);
    st->reg = rv_registry_new(rv_app_plugins(app));
    revive_error err;
    rv_error_clear(&err);
    if (rv_registry_scan(st->reg, &err) != REVIVE_OK && err.code == REVIVE_E_NOT_FOUND) {
        rv_registry_free(st->reg);
        free(st);
        return rv_report_error(app, &err);
    }
    const char *limit = rv_config_get("station.heavy_limit");
    rv_session_set_heavy_limit(limit ? atoi(limit) : 2);
    int table = -1;
    if (!app->json && rv_term_is_tty()) {
        rv_events_remove_sink(app->term_sink);
        table = rv_table_start(stderr);
    }
    rv_registry_observe(st->reg, station_seen, st);
    rv_registry_watch(st->reg);
    rv_inhibit *inh = hold_sleep();
    station_claim(st);
    if (st->nslots == 0 && !watch) {
        rv_inhibit_release(inh);
        if (table >= 0)
            rv_table_stop(table);
        rv_registry_free(st->reg);
        free(st);
        rv_fail(&err, REVIVE_E_NO_DEVICE, NULL, 0, "no devices attached");
        return rv_report_error(app, &err);
    }
    if (watch && !app->json)
        fprintf(stderr, "revive: station mode: running %s on every phone plugged in (Ctrl-C stops)\n", playbook);
    for (;;) {
        if (st->pending) {
            st->pending = false;
            station_claim(st);
        }
        pthread_mutex_lock(&st->lock);
        bool all_done = true;
        for (int i = 0; i < st->nslots; i++)
            all_done &= st->slots[i].done;
        pthread_mutex_unlock(&st->lock);
        if ((!watch && all_done) || (watch && rv_cancelled() && all_done))
            break;
        usleep(50 * 1000);
    }
    int fixed = 0, person = 0, failed = 0;
    for (int i = 0; i < st->nslots; i++) {
        if (st->slots[i].started)
            pthread_join(st->slots[i].thread, NULL);
        int rc = st->slots[i].exit_status;
        fixed += rc == EXIT_OK;
        person += rc == EXIT_NEEDS_PERSON;
        failed += rc != EXIT_OK && rc != EXIT_NEEDS_PERSON;
    }
    rv_inhibit_release(inh);
    if (table >= 0)
        rv_table_stop(table);
    if (!app->json)
        fprintf(stderr, "revive: %d phone(s): %d fixed, %d need a person, %d failed\n", st->nslots, fixed, person, failed);
    rv_registry_free(st->reg);
    pthread_mutex_destroy(&st->lock);
    free(st);
    return failed ? EXIT_FAILED : person ? EXIT_NEEDS_PERSON : EXIT_OK;
}

int rv_cmd_run(rv_app *app, int argc, char **argv)
{
    static const char usage[] =
        "Usage: revive [--yes] [--json] run PLAYBOOK [--device D] [--set NAME=VALUE ...] [--waive-backup]\n"
        "Run a playbook on one device. PLAYBOOK is a file, or the name of a shipped playbook or\n"
        "one in ~/.local/share/revive/playbooks: interrupted-restore, stuck-in-recovery,\n"
        "safe-restore, update, dfu-restore, factory-reset, restore-backup.\n"
        "Each step is journaled: if revive or the computer dies, 'revive resume' continues.\n"
        "  --device D        ECID, UDID or a unique prefix (may be left out with one device)\n"
        "  --set NAME=VALUE  a playbook parameter (see the playbook's header, 'revive check')\n"
        "  --waive-backup    do not take a backup before destructive steps (recorded)\n"
        "  --all             one session per attached phone (a bench of phones at once)\n"
        "  --watch           with --all: keep running and start on every phone plugged in later\n"
        "                    (-o station.heavy_limit=N: firmware restores and backups at once, 2)\n"
        "Destructive steps need the playbook's policy and your confirmation, or --yes.\n"
        "Exit status: 0 fixed, 4 needs a person (with exact next steps), 1 failed, 5 cancelled.\n";
    static const struct option opts[] = {
        { "device", required_argument, NULL, 'd' }, { "set", required_argument, NULL, 's' },
        { "waive-backup", no_argument, NULL, 'w' }, { "yes", no_argument, NULL, 'y' },
        { "all", no_argument, NULL, 'a' },          { "watch", no_argument, NULL, 'W' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *device = NULL;
    bool waive = false, all = false, watch = false;
    const char **params = calloc((size_t)argc + 1, sizeof *params);
    size_t np = 0;
    int c;
    optind = 0; /* glibc: 0 resets getopt fully (1 keeps the last scan's permutation state) */
    while ((c = getopt_long(argc, argv, "d:s:wyh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': device = optarg; break;
        case 's':
            if (!strchr(optarg, '=')) {
                fprintf(stderr, "revive run: --set takes NAME=VALUE, not '%s'\n", optarg);
                free(params);
                return EXIT_USAGE;
            }
            params[np++] = optarg;
            break;
        case 'w': waive = true; break;
        case 'a': all = true; break;
        case 'W': watch = true; break;
        case 'y': app->yes = true; break;
        case 'h': printf("%s", usage); free(params); return EXIT_OK;
        default: free(params); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        free(params);
        return EXIT_USAGE;
    }
    if (runtime_missing("run")) {
        free(params);
        return EXIT_NOT_BUILT;
    }
    char path[4096];
    if (rv_find_playbook(argv[optind], path, sizeof path) != 0) {
        rv_error("no playbook '%s' (a file, or a name in %s or %s)", argv[optind], rv_user_playbooks_dir(),
                 rv_shipped_scripts_dir() ? rv_shipped_scripts_dir() : "?");
        free(params);
        return EXIT_USAGE;
    }
    if (watch && !all) {
        fprintf(stderr, "revive run: --watch goes with --all\n");
        free(params);
        return EXIT_USAGE;
    }
    if (all && device) {
        fprintf(stderr, "revive run: --all and --device exclude each other\n");
        free(params);
        return EXIT_USAGE;
    }
    int rc = all ? run_station(app, path, params, watch, waive)
                 : rv_cli_run_session(app, path, device, params, NULL, false, false, waive);
    free(params);
    return rc;
}

int rv_cmd_check(rv_app *app, int argc, char **argv)
{
    if (argc != 2 || rv_wants_help(argc, argv)) {
        bool help = rv_wants_help(argc, argv);
        fprintf(help ? stdout : stderr,
                "Usage: revive check PLAYBOOK\n"
                "Validate a playbook without a device: syntax, its header (name, summary, parameters\n"
                "with types and defaults, policy), that it calls only API functions that exist, and\n"
                "that it uses no unknown global. Prints each finding as file:line: what; exit 1 if any.\n");
        return help ? EXIT_OK : EXIT_USAGE;
    }
    if (runtime_missing("check"))
        return EXIT_NOT_BUILT;
    char path[4096];
    if (rv_find_playbook(argv[1], path, sizeof path) != 0) {
        rv_error("no playbook '%s'", argv[1]);
        return EXIT_USAGE;
    }
    const char *lib[4];
    rv_playbook_lib_path(lib);
    char report[8192] = "";
    revive_error err;
    rv_error_clear(&err);
    int rc = rv_check(path, lib, report, sizeof report, &err);
    if (report[0])
        fputs(report, stdout);
    if (rc == REVIVE_OK) {
        if (!app->json)
            printf("ok: %s\n", path);
        return EXIT_OK;
    }
    if (rc == REVIVE_E_PLAYBOOK)
        return EXIT_FAILED;
    return rv_report_error(app, &err);
}
