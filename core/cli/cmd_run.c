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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rv_cmd_run(rv_app *app, int argc, char **argv);
int rv_cmd_check(rv_app *app, int argc, char **argv);

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

/* One session on one device: the shared part of run and resume. */
int rv_cli_run_session(rv_app *app, const char *playbook, const char *selector, const char *const *params,
                       const char *run_id, bool resume, bool force, bool waive_backup);

int rv_cli_run_session(rv_app *app, const char *playbook, const char *selector, const char *const *params,
                       const char *run_id, bool resume, bool force, bool waive_backup)
{
    rv_registry *reg = NULL;
    rv_device dev;
    int rc = rv_cli_pick_device(app, &reg, selector, &dev);
    if (rc != EXIT_OK) {
        rv_registry_free(reg);
        return rc;
    }
    rv_registry_watch(reg);
    rv_session s;
    rv_session_init(&s, rv_app_plugins(app), reg, &dev);
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
    if (!cfg.state_dir) {
        rv_registry_free(reg);
        revive_error e;
        rv_fail(&e, REVIVE_E_PERMISSION, NULL, 0, "no state directory for the journal (set XDG_STATE_HOME)");
        return rv_report_error(app, &e);
    }
    char outcome[32] = "failed";
    revive_error err;
    rv_error_clear(&err);
    int code = rv_run(&cfg, rv_session_ops(), &s, outcome, sizeof outcome, &err);
    if (code != REVIVE_OK) {
        rc = rv_report_error(app, &err);
        if (code == REVIVE_E_CANCELLED)
            rc = EXIT_CANCELLED;
    } else {
        rc = outcome_exit(outcome);
        if (!app->json)
            fprintf(stderr, "revive: run %s on %s: %s\n", s.run_id, s.label, outcome);
    }
    rv_registry_free(reg);
    return rc;
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
        "Destructive steps need the playbook's policy and your confirmation, or --yes.\n"
        "Exit status: 0 fixed, 4 needs a person (with exact next steps), 1 failed, 5 cancelled.\n";
    static const struct option opts[] = {
        { "device", required_argument, NULL, 'd' }, { "set", required_argument, NULL, 's' },
        { "waive-backup", no_argument, NULL, 'w' }, { "yes", no_argument, NULL, 'y' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *device = NULL;
    bool waive = false;
    const char **params = calloc((size_t)argc + 1, sizeof *params);
    size_t np = 0;
    int c;
    optind = 1;
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
    char path[4096];
    if (rv_find_playbook(argv[optind], path, sizeof path) != 0) {
        rv_error("no playbook '%s' (a file, or a name in %s or %s)", argv[optind], rv_user_playbooks_dir(),
                 rv_shipped_scripts_dir() ? rv_shipped_scripts_dir() : "?");
        free(params);
        return EXIT_USAGE;
    }
    int rc = rv_cli_run_session(app, path, device, params, NULL, false, false, waive);
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
