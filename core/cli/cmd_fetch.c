/* revive fetch SOURCE | revive firmware list MODEL — through the source plugins. */
#include "cancel.h"
#include "cli.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int rv_cmd_fetch(rv_app *app, int argc, char **argv);
int rv_cmd_firmware(rv_app *app, int argc, char **argv);
int rv_cli_fetch(rv_app *app, const char *spec, const rv_fields *opts, char *path, size_t cap, revive_error *err);

/* Turn spec into a verified local file through the source that handles it. */
int rv_cli_fetch(rv_app *app, const char *spec, const rv_fields *opts, char *path, size_t cap, revive_error *err)
{
    const rv_plugin *owner = NULL;
    const revive_source *src = rv_find_source(rv_app_plugins(app), spec, &owner);
    if (!src || !src->fetch)
        return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0,
                       "no source plugin understands '%s' (a URL or firmware:MODEL:latest needs the cloud plugin; "
                       "'revive plugins' shows what loaded)", spec);
    revive_call call;
    rv_call_init(&call, NULL, NULL, owner->desc.name);
    int slot = rv_inflight_begin_fmt("download %s", spec);
    rv_plugin_enter(owner);
    int rc = src->fetch(owner->state, &call, spec, opts ? opts->v : NULL, opts ? opts->n : 0);
    rv_plugin_leave(owner);
    rv_inflight_end(slot);
    const char *got = rv_fields_str(&call.results, "path");
    if (rc == REVIVE_OK && !got)
        rc = rv_fail(&call.err, REVIVE_E_PLUGIN, owner->desc.name, 0, "the %s source answered no path", owner->desc.name);
    if (rc == REVIVE_OK) {
        snprintf(path, cap, "%s", got);
        if (app && !app->json)
            rv_info("%s is ready: %s", spec, got);
    } else if (err) {
        *err = call.err.code ? call.err : (revive_error){ .size = sizeof(revive_error), .code = rc };
    }
    if (rc == REVIVE_OK && app && app->json)
        rv_print_results(app, "result", &call.results);
    rv_call_free(&call);
    return rc;
}

int rv_cmd_fetch(rv_app *app, int argc, char **argv)
{
    static const char usage[] =
        "Usage: revive fetch [OPTIONS] SOURCE\n"
        "Download SOURCE into a verified local file, resuming a download cut off earlier.\n"
        "SOURCE is a URL (https://, or http:// for a local mirror) or a catalog query:\n"
        "  firmware:MODEL:latest          the newest firmware Apple signs for MODEL (iPhone12,1)\n"
        "  firmware:MODEL:VERSION|BUILD   a given version (17.5.1) or build (21F90)\n"
        "Options:\n"
        "  --out DIR        also place the file in DIR (it stays in the shared cache)\n"
        "  --sha1 HEX       the published SHA-1 to verify against (URLs)\n"
        "  --sha256 HEX     the published SHA-256 to verify against (URLs)\n"
        "  --cacert FILE    trust this CA for HTTPS (a shop's own mirror)\n"
        "  --allow-unverified  a URL with no published checksum: download it to --out anyway\n"
        "                   (never into the shared cache)\n"
        "Prints the path of the verified file on stdout. See docs/cloud.md.\n";
    static const struct option opts[] = {
        { "out", required_argument, NULL, 301 },    { "sha1", required_argument, NULL, 302 },
        { "sha256", required_argument, NULL, 303 }, { "cacert", required_argument, NULL, 304 },
        { "allow-unverified", no_argument, NULL, 305 },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    rv_fields o;
    rv_fields_init(&o);
    int c;
    optind = 0; /* glibc: 0 resets getopt fully (1 keeps the last scan's permutation state) */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("%s", usage);
            rv_fields_free(&o);
            return EXIT_OK;
        }
        if (c == '?') {
            rv_fields_free(&o);
            return EXIT_USAGE;
        }
        if (c == 305) {
            rv_fields_put_bool(&o, "allow_unverified", true);
            continue;
        }
        for (const struct option *x = opts; x->name; x++)
            if (x->val == c)
                rv_fields_put_str(&o, x->name, optarg);
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        rv_fields_free(&o);
        return EXIT_USAGE;
    }
    char path[4096];
    revive_error err;
    rv_error_clear(&err);
    int rc = rv_cli_fetch(app, argv[optind], &o, path, sizeof path, &err);
    rv_fields_free(&o);
    if (rc != REVIVE_OK)
        return rv_report_error(app, &err);
    if (!app->json)
        printf("%s\n", path);
    return EXIT_OK;
}

static void firmware_item(const rv_event *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "item") != 0)
        return;
    char v[5][128];
    const char *keys[5] = { "version", "build", "signed", "size", "url" };
    for (int i = 0; i < 5; i++) {
        const revive_field *f = revive_field_find(ev->fields, ev->n, keys[i]);
        if (f)
            rv_field_format(f, v[i], sizeof v[i]);
        else
            strcpy(v[i], "-");
    }
    printf("%-10s %-10s %-7s %-12s %s\n", v[0], v[1], v[2], v[3], v[4]);
}

int rv_cmd_firmware(rv_app *app, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "list") != 0) {
        bool help = rv_wants_help(argc, argv);
        fprintf(help ? stdout : stderr,
                "Usage: revive firmware list MODEL\n"
                "List the firmware the catalog knows for MODEL (a product type such as iPhone12,1):\n"
                "version, build, whether Apple still signs it, size, URL. The catalog is set with\n"
                "-o cloud.catalog_url=URL (a shop's mirror); see docs/cloud.md.\n");
        return help ? EXIT_OK : EXIT_USAGE;
    }
    char spec[256];
    snprintf(spec, sizeof spec, "firmware:%s:latest", argv[2]);
    const rv_plugin *owner = NULL;
    const revive_source *src = rv_find_source(rv_app_plugins(app), spec, &owner);
    revive_error err;
    rv_error_clear(&err);
    if (!src || !src->list) {
        rv_fail(&err, REVIVE_E_UNSUPPORTED, NULL, 0, "no source plugin lists firmware (the cloud plugin does)");
        return rv_report_error(app, &err);
    }
    int sink = -1;
    if (!app->json) {
        printf("%-10s %-10s %-7s %-12s %s\n", "VERSION", "BUILD", "SIGNED", "SIZE", "URL");
        sink = rv_events_add_sink(firmware_item, NULL);
    }
    revive_call call;
    rv_call_init(&call, NULL, NULL, owner->desc.name);
    rv_plugin_enter(owner);
    int rc = src->list(owner->state, &call, argv[2], NULL, 0);
    rv_plugin_leave(owner);
    rv_events_remove_sink(sink);
    int status = EXIT_OK;
    if (rc != REVIVE_OK) {
        if (!call.err.code)
            rv_fail(&call.err, rc, NULL, 0, NULL);
        status = rv_report_error(app, &call.err);
    }
    rv_call_free(&call);
    return status;
}
