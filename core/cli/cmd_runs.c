/* revive runs [show RUN] | resume [RUN] — run journals (core/journal). */
#include "cli.h"
#include "dirs.h"
#include "error.h"
#include "journal.h"
#include "log.h"
#include "playbooks.h"
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rv_cmd_runs(rv_app *app, int argc, char **argv);
int rv_cmd_resume(rv_app *app, int argc, char **argv);
int rv_cli_run_session(rv_app *app, const char *playbook, const char *selector, const char *const *params,
                       const char *run_id, bool resume, bool force, bool waive_backup);

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void when(json_t *o, const char *k, char *buf, size_t cap)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v)) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t t = (time_t)json_number_value(v);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M", &tm);
}

int rv_cmd_runs(rv_app *app, int argc, char **argv)
{
    if (rv_wants_help(argc, argv) || argc > 3 || (argc >= 2 && strcmp(argv[1], "show") != 0) ||
        (argc == 2 && strcmp(argv[1], "show") == 0)) {
        bool help = rv_wants_help(argc, argv);
        fprintf(help ? stdout : stderr,
                "Usage: revive runs [show RUN]\n"
                "List every run with its state (running, finished, interrupted, corrupt), outcome,\n"
                "playbook and when it started; 'runs show RUN' prints one run as a timeline.\n"
                "An interrupted run can be continued with 'revive resume RUN'.\n");
        return help ? EXIT_OK : EXIT_USAGE;
    }
    const char *state = rv_dir(REVIVE_DIR_STATE);
    revive_error err;
    rv_error_clear(&err);
    if (!state) {
        rv_fail(&err, REVIVE_E_PERMISSION, NULL, 0, "no state directory (set XDG_STATE_HOME)");
        return rv_report_error(app, &err);
    }
    if (argc == 3) {
        char path[4096];
        if (!rv_journal_path(state, argv[2], path, sizeof path)) {
            rv_fail(&err, REVIVE_E_INVALID, NULL, 0, "'%s' is not a run id ('revive runs' lists them)", argv[2]);
            return rv_report_error(app, &err);
        }
        if (app->json) {
            json_t *records = NULL;
            if (rv_journal_read(path, &records, NULL, &err) != REVIVE_OK)
                return rv_report_error(app, &err);
            size_t i;
            json_t *r;
            json_array_foreach(records, i, r) {
                char *line = json_dumps(r, JSON_COMPACT);
                if (line)
                    puts(line);
                free(line);
            }
            json_decref(records);
            return EXIT_OK;
        }
        return rv_journal_timeline(path, stdout, &err) == REVIVE_OK ? EXIT_OK : rv_report_error(app, &err);
    }
    json_t *runs = NULL;
    if (rv_journal_runs(state, &runs, &err) != REVIVE_OK)
        return rv_report_error(app, &err);
    if (app->json) {
        char *s = json_dumps(runs, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
    } else {
        printf("%-28s %-12s %-13s %-17s %s\n", "RUN", "STATE", "OUTCOME", "STARTED", "PLAYBOOK");
        size_t i;
        json_t *r;
        json_array_foreach(runs, i, r) {
            char started[32];
            when(r, "started", started, sizeof started);
            const char *pb = jstr(r, "playbook");
            const char *base = strrchr(pb, '/');
            printf("%-28s %-12s %-13s %-17s %s\n", jstr(r, "id"), jstr(r, "state"),
                   *jstr(r, "outcome") ? jstr(r, "outcome") : "-", started, base ? base + 1 : pb);
        }
        if (json_array_size(runs) == 0)
            printf("(no runs yet)\n");
    }
    json_decref(runs);
    return EXIT_OK;
}

int rv_cmd_resume(rv_app *app, int argc, char **argv)
{
    static const char usage[] =
        "Usage: revive [--yes] resume [RUN] [--force]\n"
        "Continue a run that was interrupted (revive or the computer died, or Ctrl-C): the\n"
        "playbook runs again from the top; every step the journal shows finished returns its\n"
        "recorded result without acting, and the first unfinished step runs again once the\n"
        "device is found (in whatever mode it is now). A finished destructive step is never\n"
        "repeated. RUN defaults to the latest interrupted run.\n"
        "  --force   resume even though the playbook file changed since the run started\n";
    static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
                                          { "yes", no_argument, NULL, 'y' }, { NULL, 0, NULL, 0 } };
    bool force = false;
    int c;
    optind = 0; /* glibc: 0 resets getopt fully (1 keeps the last scan's permutation state) */
    while ((c = getopt_long(argc, argv, "fhy", opts, NULL)) != -1) {
        if (c == 'f')
            force = true;
        else if (c == 'y')
            app->yes = true;
        else if (c == 'h') {
            printf("%s", usage);
            return EXIT_OK;
        } else
            return EXIT_USAGE;
    }
    if (argc - optind > 1) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *state = rv_dir(REVIVE_DIR_STATE);
    revive_error err;
    rv_error_clear(&err);
    json_t *runs = NULL;
    if (!state || rv_journal_runs(state, &runs, &err) != REVIVE_OK)
        return rv_report_error(app, &err);
    char run_id[RV_RUN_ID_MAX] = "";
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        const char *id = jstr(r, "id");
        if (argc - optind == 1 ? strcmp(id, argv[optind]) == 0 : strcmp(jstr(r, "state"), "interrupted") == 0)
            snprintf(run_id, sizeof run_id, "%s", id);
    }
    json_decref(runs);
    if (!run_id[0]) {
        rv_fail(&err, REVIVE_E_NOT_FOUND, NULL, 0, argc - optind == 1 ? "no run '%s' ('revive runs' lists them)"
                                                                      : "no interrupted run to resume%s", argc - optind == 1 ? argv[optind] : "");
        return rv_report_error(app, &err);
    }
    char path[4096];
    json_t *records = NULL;
    if (!rv_journal_path(state, run_id, path, sizeof path) || rv_journal_read(path, &records, NULL, &err) != REVIVE_OK)
        return rv_report_error(app, &err);
    /* The run's first record names the playbook, its parameters and the device. */
    json_t *start = json_array_get(records, 0);
    const char *playbook = jstr(start, "playbook");
    json_t *dev = json_object_get(start, "device");
    char selector[64] = "";
    json_t *ecid = json_object_get(dev ? dev : start, "ecid");
    if (json_is_integer(ecid) && json_integer_value(ecid))
        snprintf(selector, sizeof selector, "%" PRIX64, (uint64_t)json_integer_value(ecid));
    else if (json_is_string(ecid))
        snprintf(selector, sizeof selector, "%s", json_string_value(ecid));
    else if (*jstr(dev, "udid"))
        snprintf(selector, sizeof selector, "%s", jstr(dev, "udid"));
    json_t *pj = json_object_get(start, "params");
    size_t np = json_is_array(pj) ? json_array_size(pj) : 0;
    const char **params = calloc(np + 1, sizeof *params);
    for (size_t k = 0; k < np; k++)
        params[k] = json_string_value(json_array_get(pj, k));
    int rc;
    if (!*playbook) {
        rv_fail(&err, REVIVE_E_CORRUPT, NULL, 0, "run %s: its journal does not name a playbook", run_id);
        rc = rv_report_error(app, &err);
    } else {
        rv_info("resuming run %s (%s) on %s", run_id, playbook, selector[0] ? selector : "the attached device");
        rc = rv_cli_run_session(app, playbook, selector[0] ? selector : NULL, params, run_id, true, force, false);
    }
    free(params);
    json_decref(records);
    return rc;
}
