/* revive backup inspect|verify|ls|extract|import — through the importer plugins.
 * The importer is the one whose probe() is surest about the path, or --importer NAME. */
#include "cancel.h"
#include "cli.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int rv_cmd_backup(rv_app *app, int argc, char **argv);
int rv_cmd_backup_create(rv_app *app, int argc, char **argv);

static void backup_usage(FILE *out)
{
    fprintf(out,
            "Usage: revive backup VERB [OPTIONS] PATH [OUT]\n"
            "Work with iPhone backups in any format an importer plugin knows (iTunes/Finder\n"
            "folders, legacy mbdb, zip/tar archives, vendors' formats). Inputs are never modified.\n\n"
            "Verbs:\n"
            "  create [DEVICE] DIR      take a full backup of a device into DIR\n"
            "  inspect PATH             format, device, iOS version, date, encryption, counts\n"
            "  verify PATH              check every file against the manifest; exit 1 on any problem\n"
            "  ls PATH                  list entries (--domain, --pattern)\n"
            "  extract PATH --out DIR   copy entries out, decrypting (--domain, --pattern)\n"
            "  import PATH OUT          write the canonical restorable form of PATH to OUT\n\n"
            "Options:\n"
            "  --importer NAME   use this importer instead of the one that recognises PATH\n"
            "  --domain D        only this domain (e.g. HomeDomain)\n"
            "  --pattern GLOB    only paths matching GLOB (e.g. 'Library/SMS/*')\n"
            "  --out DIR         where extract writes\n"
            "  -O KEY=VALUE      an importer-specific option (see docs/itunes.md)\n\n"
            "Passwords for encrypted backups come from REVIVE_BACKUP_PASSWORD, --password-file\n"
            "(a global option), or a prompt; never from the command line.\n");
}

/* `ls` prints one entry per line on stdout (under --json the item events already are). */
static void item_sink(const rv_event *ev, void *ud)
{
    (void)ud;
    if (strcmp(ev->type, "item") != 0)
        return;
    const revive_field *dom = revive_field_find(ev->fields, ev->n, "domain");
    const revive_field *path = revive_field_find(ev->fields, ev->n, "path");
    if (!path || path->type != REVIVE_VAL_STR)
        return;
    if (dom && dom->type == REVIVE_VAL_STR)
        printf("%s/%s\n", dom->v.s, path->v.s);
    else
        printf("%s\n", path->v.s);
}

/* Pick the importer: by name, or the highest probe() above zero. */
static const revive_importer *choose(rv_plugins *set, const char *name, const char *path,
                                     const rv_plugin **owner, revive_error *err)
{
    if (name) {
        const revive_importer *imp = rv_find_importer(set, name, owner);
        if (!imp)
            rv_fail(err, REVIVE_E_NOT_FOUND, NULL, 0, "no importer named '%s' is loaded ('revive plugins' lists them)", name);
        return imp;
    }
    const revive_importer *best = rv_probe_importer(set, path, NULL, NULL, owner);
    if (!best)
        rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0,
                "no importer recognises %s as a backup (is it the folder holding Manifest.db or "
                "Manifest.mbdb, or an archive of one?)", path);
    return best;
}

int rv_cmd_backup(rv_app *app, int argc, char **argv)
{
    if (argc < 2 || (argc == 2 && rv_wants_help(argc, argv))) {
        backup_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "create") == 0)
        return rv_cmd_backup_create(app, argc - 1, argv + 1);
    if (rv_wants_help(argc, argv)) {
        backup_usage(stdout);
        return EXIT_OK;
    }
    static const char *const verbs[] = { "inspect", "verify", "ls", "extract", "import" };
    bool known = false;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        known |= strcmp(verb, verbs[i]) == 0;
    if (!known) {
        fprintf(stderr, "revive backup: unknown verb '%s' (create, inspect, verify, ls, extract, import)\n", verb);
        return EXIT_USAGE;
    }
    enum { OPT_IMPORTER = 300, OPT_DOMAIN, OPT_PATTERN, OPT_OUT };
    static const struct option opts[] = {
        { "importer", required_argument, NULL, OPT_IMPORTER },
        { "domain", required_argument, NULL, OPT_DOMAIN },
        { "pattern", required_argument, NULL, OPT_PATTERN },
        { "out", required_argument, NULL, OPT_OUT },
        { NULL, 0, NULL, 0 },
    };
    const char *importer = NULL;
    rv_fields o;
    rv_fields_init(&o);
    int c, rc = EXIT_OK;
    /* Parse the verb's own arguments (argv[1] is the verb, so start from it as argv[0]). */
    int vargc = argc - 1;
    char **vargv = argv + 1;
    optind = 0; /* glibc: 0 resets getopt fully */
    while ((c = getopt_long(vargc, vargv, "O:", opts, NULL)) != -1) {
        switch (c) {
        case OPT_IMPORTER: importer = optarg; break;
        case OPT_DOMAIN: rv_fields_put_str(&o, "domain", optarg); break;
        case OPT_PATTERN: rv_fields_put_str(&o, "pattern", optarg); break;
        case OPT_OUT: rv_fields_put_str(&o, "out", optarg); break;
        case 'O':
            if (rv_fields_put_assignment(&o, optarg) != 0) {
                fprintf(stderr, "revive backup: -O takes KEY=VALUE, not '%s'\n", optarg);
                rv_fields_free(&o);
                return EXIT_USAGE;
            }
            break;
        default: rv_fields_free(&o); return EXIT_USAGE;
        }
    }
    int want = strcmp(verb, "import") == 0 ? 2 : 1;
    argc = vargc;
    argv = vargv;
    if (argc - optind != want) {
        fprintf(stderr, "revive backup %s: expected %s\n", verb, want == 2 ? "PATH OUT" : "PATH");
        rv_fields_free(&o);
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    if (strcmp(verb, "extract") == 0 && !rv_fields_str(&o, "out")) {
        fprintf(stderr, "revive backup extract: --out DIR is required\n");
        rv_fields_free(&o);
        return EXIT_USAGE;
    }

    revive_error err;
    rv_error_clear(&err);
    const rv_plugin *owner = NULL;
    const revive_importer *imp = choose(rv_app_plugins(app), importer, path, &owner, &err);
    if (!imp) {
        rv_fields_free(&o);
        return rv_report_error(app, &err);
    }
    revive_call call;
    rv_call_init(&call, NULL, NULL, owner->desc.name);
    int (*fn)(void *, revive_call *, const char *, const revive_field *, size_t) = NULL;
    if (strcmp(verb, "inspect") == 0) fn = imp->inspect;
    else if (strcmp(verb, "verify") == 0) fn = imp->verify;
    else if (strcmp(verb, "ls") == 0) fn = imp->list;
    else if (strcmp(verb, "extract") == 0) fn = imp->extract;
    int code;
    int slot = rv_inflight_begin_fmt("backup %s %s", verb, path);
    int sink = !app->json && strcmp(verb, "ls") == 0 ? rv_events_add_sink(item_sink, NULL) : -1;
    rv_plugin_enter(owner);
    if (strcmp(verb, "import") == 0)
        code = imp->import ? imp->import(owner->state, &call, path, argv[optind + 1], o.v, o.n)
                           : REVIVE_E_UNSUPPORTED;
    else
        code = fn ? fn(owner->state, &call, path, o.v, o.n) : REVIVE_E_UNSUPPORTED;
    rv_plugin_leave(owner);
    rv_inflight_end(slot);
    rv_events_remove_sink(sink);
    fflush(stdout);
    if (code == REVIVE_E_UNSUPPORTED && !call.err.code)
        rv_fail(&call.err, code, NULL, 0, "the %s importer does not offer '%s'", imp->name, verb);
    if (code == REVIVE_OK) {
        rv_fields_put_str(&call.results, "importer", imp->name);
        if (call.results.n > 1 || app->json)
            rv_print_results(app, "result", &call.results);
        if (!app->json && strcmp(verb, "verify") == 0)
            printf("ok: %s verified\n", path);
    } else {
        if (!call.err.code)
            rv_fail(&call.err, code, NULL, 0, NULL);
        rc = rv_report_error(app, &call.err);
    }
    rv_call_free(&call);
    rv_fields_free(&o);
    return rc;
}
