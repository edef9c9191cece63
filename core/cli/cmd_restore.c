/* revive backup create | restore-backup | restore-firmware — through the restore methods
 * ("backup" and "firmware", offered by the usb plugin). Destructive ones ask first. */
#include "cancel.h"
#include "config.h"
#include "device.h"
#include "error.h"
#include "log.h"
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int rv_cli_fetch(rv_app *app, const char *spec, const rv_fields *opts, char *path, size_t cap, revive_error *err);

int rv_cmd_backup_create(rv_app *app, int argc, char **argv);
int rv_cmd_restore_backup(rv_app *app, int argc, char **argv);
int rv_cmd_restore_firmware(rv_app *app, int argc, char **argv);

/* Run method `name` (restore, or backup into dir) on the selected device. */
static int run_method(rv_app *app, const char *name, const char *sel, const char *dir, const rv_fields *opts,
                      bool backup, const char *question)
{
    rv_plugins *set = rv_app_plugins(app);
    const rv_plugin *owner = NULL;
    const revive_restore_method *m = rv_find_method(set, name, &owner);
    revive_error err;
    rv_error_clear(&err);
    if (!m) {
        rv_fail(&err, REVIVE_E_NOT_FOUND, NULL, 0,
                "no plugin offers the '%s' restore method ('revive plugins' shows what loaded)", name);
        return rv_report_error(app, &err);
    }
    if ((backup && !m->backup) || (!backup && !m->restore)) {
        rv_fail(&err, REVIVE_E_UNSUPPORTED, NULL, 0, "the '%s' method cannot %s", name, backup ? "take backups" : "restore");
        return rv_report_error(app, &err);
    }
    rv_registry *reg = NULL;
    rv_device dev;
    int rc = rv_cli_pick_device(app, &reg, sel, &dev);
    if (rc != EXIT_OK) {
        rv_registry_free(reg);
        return rc;
    }
    char label[80];
    rv_device_label(&dev.id, label, sizeof label);
    if (!backup && (m->flags & REVIVE_RESTORE_DESTRUCTIVE)) {
        char q[512];
        snprintf(q, sizeof q, "%s on %s (%s)?", question, label, dev.id.product_type[0] ? dev.id.product_type : "device");
        if (!rv_cli_confirm(app, q)) {
            rv_registry_free(reg);
            rv_fail(&err, REVIVE_E_POLICY, NULL, 0, "not confirmed; nothing was done");
            return rv_report_error(app, &err);
        }
    }
    revive_call call;
    rv_call_init(&call, NULL, label, owner->desc.name);
    int slot = rv_inflight_begin_fmt("%s %s on %s", backup ? "backup" : "restore", name, label);
    rv_plugin_enter(owner);
    int code = backup ? m->backup(owner->state, &call, &dev.id, dir, opts->v, opts->n)
                      : m->restore(owner->state, &call, &dev.id, opts->v, opts->n);
    rv_plugin_leave(owner);
    rv_inflight_end(slot);
    if (code == REVIVE_OK) {
        rv_print_results(app, "result", &call.results);
    } else {
        if (!call.err.code)
            rv_fail(&call.err, code, NULL, 0, NULL);
        rc = rv_report_error(app, &call.err);
    }
    rv_call_free(&call);
    rv_registry_free(reg);
    return rc;
}

int rv_cmd_backup_create(rv_app *app, int argc, char **argv)
{
    /* argv: create [DEVICE] DIR */
    if (rv_wants_help(argc, argv) || argc < 2 || argc > 3) {
        fprintf(rv_wants_help(argc, argv) ? stdout : stderr,
                "Usage: revive backup create [DEVICE] DIR\n"
                "Take a full backup of the device into DIR (encrypted if the device says so), with\n"
                "progress. The result is complete (Status.plist finished) or clearly marked incomplete.\n");
        return rv_wants_help(argc, argv) ? EXIT_OK : EXIT_USAGE;
    }
    rv_fields o;
    rv_fields_init(&o);
    int rc = run_method(app, "backup", argc == 3 ? argv[1] : NULL, argv[argc - 1], &o, true, NULL);
    rv_fields_free(&o);
    return rc;
}

static int parse_restore(rv_app *app, int argc, char **argv, const char *usage, const struct option *opts,
                         rv_fields *o, const char **sel, const char **path)
{
    int c;
    optind = 0; /* glibc: 0 resets getopt fully (1 keeps the last scan's permutation state) */
    while ((c = getopt_long(argc, argv, "hO:", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("%s", usage);
            return EXIT_OK;
        }
        if (c == 'O') {
            if (rv_fields_put_assignment(o, optarg) != 0) {
                fprintf(stderr, "-O takes KEY=VALUE\n");
                return EXIT_USAGE;
            }
            continue;
        }
        if (c == '?')
            return EXIT_USAGE;
        /* long options carry their key in .name and a value flag in .val >= 256 */
        for (const struct option *x = opts; x->name; x++)
            if (x->val == c) {
                if (x->has_arg)
                    rv_fields_put_str(o, x->name, optarg);
                else
                    rv_fields_put_bool(o, x->name, true);
            }
    }
    int rest = argc - optind;
    if (rest < 1 || rest > 2) {
        fprintf(stderr, "%s", usage);
        return EXIT_USAGE;
    }
    *sel = rest == 2 ? argv[optind] : NULL;
    *path = argv[argc - 1];
    (void)app;
    return -1;
}

int rv_cmd_restore_backup(rv_app *app, int argc, char **argv)
{
    static const char usage[] =
        "Usage: revive restore-backup [OPTIONS] [DEVICE] DIR\n"
        "Restore the backup in DIR onto the device (its data is replaced: asks first, or --yes).\n"
        "The backup is checked first (finished, password present if encrypted, files present with\n"
        "their sizes) and is never modified.\n"
        "  --system        restore system files too\n"
        "  --no-reboot     do not reboot the device when done\n"
        "  --copy          restore from a temporary copy of the backup\n"
        "  --settings      restore the settings stored in the backup too\n"
        "  --remove        remove items from the device that are not in the backup\n"
        "Passwords: REVIVE_BACKUP_PASSWORD, --password-file, or a prompt.\n";
    static const struct option opts[] = {
        { "system", no_argument, NULL, 301 }, { "no-reboot", no_argument, NULL, 302 },
        { "copy", no_argument, NULL, 303 },   { "settings", no_argument, NULL, 304 },
        { "remove", no_argument, NULL, 305 }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    rv_fields o;
    rv_fields_init(&o);
    const char *sel = NULL, *dir = NULL;
    int rc = parse_restore(app, argc, argv, usage, opts, &o, &sel, &dir);
    if (rc < 0) {
        rv_fields_put_str(&o, "dir", dir);
        rc = run_method(app, "backup", sel, NULL, &o, false, "Replace the data on the device with the backup in the folder");
    }
    rv_fields_free(&o);
    return rc;
}

int rv_cmd_restore_firmware(rv_app *app, int argc, char **argv)
{
    static const char usage[] =
        "Usage: revive restore-firmware [OPTIONS] [DEVICE] IPSW\n"
        "Restore iOS on the device from IPSW (a file, or with the cloud plugin a query such as\n"
        "firmware:iPhone12,1:latest), through idevicerestore (-o usb.idevicerestore=PATH).\n"
        "An update keeps the user's data; --erase wipes it (asks first, or --yes).\n"
        "  --erase         erase the device (factory restore)\n";
    static const struct option opts[] = {
        { "erase", no_argument, NULL, 301 }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
    };
    rv_fields o;
    rv_fields_init(&o);
    const char *sel = NULL, *ipsw = NULL;
    int rc = parse_restore(app, argc, argv, usage, opts, &o, &sel, &ipsw);
    if (rc < 0) {
        /* Not a file here: a query or URL for a source plugin (the cloud plugin's cache). */
        struct stat st;
        char fetched[4096];
        if (stat(ipsw, &st) != 0 && strchr(ipsw, ':')) {
            revive_error err;
            rv_error_clear(&err);
            if (rv_cli_fetch(app, ipsw, NULL, fetched, sizeof fetched, &err) != REVIVE_OK) {
                rv_fields_free(&o);
                return rv_report_error(app, &err);
            }
            ipsw = fetched;
        }
        rv_fields_put_str(&o, "ipsw", ipsw);
        const revive_field *erase = rv_fields_get(&o, "erase");
        bool wipe = erase && erase->v.b;
        if (!wipe)
            rv_fields_put_bool(&o, "erase", false);
        rc = run_method(app, "firmware", sel, NULL, &o, false,
                        wipe ? "ERASE the device and restore iOS" : "Update-restore iOS (keeping data)");
    }
    rv_fields_free(&o);
    return rc;
}
