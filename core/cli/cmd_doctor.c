/* revive doctor: every host check (hostcheck.h) and the plugins the loader refused, one
 * line each with ok / warn / fail and what to do. Under --json each check is a "check"
 * event on the event bus (one JSON object per line), then one "doctor" event with the
 * totals (docs/doctor.md). Exit 0 when nothing failed, 1 otherwise. */
#include "cli.h"
#include "events.h"
#include "hostcheck.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rv_cmd_doctor(rv_app *app, int argc, char **argv);

static void refusal_check(rv_hostcheck *c, const rv_refusal *r)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "plugins.refused");
    c->status = RV_CHECK_FAIL;
    snprintf(c->message, sizeof c->message, "%s refused: %s (%s)", r->path, r->reason, revive_error_name(r->code));
    snprintf(c->remedy, sizeof c->remedy,
             "Rebuild the plugin against this revive's SDK (plugin ABI %d.%d), make it and its directory writable "
             "only by you (chmod go-w), or remove it from the plugin directory / REVIVE_PLUGIN_PATH.",
             REVIVE_ABI_MAJOR, REVIVE_ABI_MINOR);
}

static void report(rv_app *app, const rv_hostcheck *c)
{
    if (app->json) {
        revive_field f[4] = {
            REVIVE_FIELD_STR("name", c->name),
            REVIVE_FIELD_STR("status", rv_check_status_name(c->status)),
            REVIVE_FIELD_STR("message", c->message),
            REVIVE_FIELD_STR("remedy", c->remedy),
        };
        rv_emit(NULL, NULL, "check", f, 4);
        return;
    }
    printf("%-4s  %-24s %s\n", rv_check_status_name(c->status), c->name, c->message);
    if (c->remedy[0])
        printf("      %-24s -> %s\n", "", c->remedy);
}

int rv_cmd_doctor(rv_app *app, int argc, char **argv)
{
    if (rv_wants_help(argc, argv)) {
        printf("Usage: revive [--json] doctor\n"
               "Check this computer for what revive needs, and say for each problem what to do:\n"
               "revive's cache and state directories (writable, with space), power source (AC, not\n"
               "battery), sleep inhibition through logind, usbmuxd, permission to open Apple devices\n"
               "in recovery/DFU (udev rules, group), whether attached phones sit behind a hub, the\n"
               "versions of libimobiledevice, libirecovery, libusbmuxd, libplist and idevicerestore and\n"
               "what they cannot do, and plugins refused and why.\n"
               "Each line: ok, warn or fail, the check's name, what was found; a remedy follows on\n"
               "the next line. --json: one \"check\" event per check, then a \"doctor\" event with\n"
               "the totals. Facts are read under -o host.sysroot=DIR (default /).\n"
               "Exit status: 0 when no check failed, 1 otherwise.\n");
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "revive doctor: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    rv_hostcheck *checks = calloc(RV_HOST_CHECKS_MAX + 1, sizeof *checks);
    rv_hostcheck *one = calloc(1, sizeof *one);
    if (!checks || !one) {
        free(checks);
        free(one);
        fprintf(stderr, "revive doctor: out of memory\n");
        return EXIT_FAILED;
    }
    size_t n = rv_host_checks_all(checks, RV_HOST_CHECKS_MAX);
    size_t counts[3] = { 0, 0, 0 };
    for (size_t i = 0; i < n; i++) {
        report(app, &checks[i]);
        counts[checks[i].status]++;
    }
    rv_plugins *set = rv_app_plugins(app);
    for (size_t i = 0; i < set->nrefused; i++) {
        refusal_check(one, &set->refused[i]);
        report(app, one);
        counts[RV_CHECK_FAIL]++;
    }
    if (set->nrefused == 0) {
        memset(one, 0, sizeof *one);
        snprintf(one->name, sizeof one->name, "plugins");
        one->status = RV_CHECK_OK;
        snprintf(one->message, sizeof one->message, "%zu plugin%s loaded, none refused", set->n, set->n == 1 ? "" : "s");
        report(app, one);
        counts[RV_CHECK_OK]++;
    }
    if (app->json) {
        revive_field f[4] = {
            REVIVE_FIELD_INT("ok", (int64_t)counts[RV_CHECK_OK]),
            REVIVE_FIELD_INT("warn", (int64_t)counts[RV_CHECK_WARN]),
            REVIVE_FIELD_INT("fail", (int64_t)counts[RV_CHECK_FAIL]),
            REVIVE_FIELD_STR("status", counts[RV_CHECK_FAIL] ? "fail" : counts[RV_CHECK_WARN] ? "warn" : "ok"),
        };
        rv_emit(NULL, NULL, "doctor", f, 4);
    } else {
        printf("\n%zu ok, %zu warn, %zu fail\n", counts[RV_CHECK_OK], counts[RV_CHECK_WARN], counts[RV_CHECK_FAIL]);
    }
    fflush(stdout);
    free(checks);
    free(one);
    return counts[RV_CHECK_FAIL] ? EXIT_FAILED : EXIT_OK;
}
