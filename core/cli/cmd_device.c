/* revive devices | info | recovery enter|exit | reboot | shutdown — through the transports. */
#include "cancel.h"
#include "device.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "config.h"
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rv_cmd_devices(rv_app *app, int argc, char **argv);
int rv_cmd_info(rv_app *app, int argc, char **argv);
int rv_cmd_recovery(rv_app *app, int argc, char **argv);
int rv_cmd_reboot(rv_app *app, int argc, char **argv);
int rv_cmd_shutdown(rv_app *app, int argc, char **argv);

int rv_cli_pick_device(rv_app *app, rv_registry **reg, const char *selector, rv_device *out)
{
    revive_error err;
    rv_error_clear(&err);
    *reg = rv_registry_new(rv_app_plugins(app));
    if (!*reg)
        return EXIT_FAILED;
    int rc = rv_registry_scan(*reg, &err);
    if (rc != REVIVE_OK && rc != REVIVE_E_NO_DEVICE) {
        rv_device *v;
        size_t n = rv_registry_snapshot(*reg, &v, false);
        free(v);
        if (n == 0)
            return rv_report_error(app, &err);
    }
    rc = rv_registry_select(*reg, selector, out, &err);
    if (rc == REVIVE_E_INVALID && !app->json && isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
        /* Several phones match: list them and let the person choose. */
        rv_device *v;
        size_t n = rv_registry_snapshot(*reg, &v, false);
        fprintf(stderr, "Several devices are attached:\n");
        for (size_t i = 0; i < n; i++) {
            char label[80];
            rv_device_label(&v[i].id, label, sizeof label);
            fprintf(stderr, "  %zu) %-18s %-12s %-9s %s\n", i + 1, label, v[i].id.product_type[0] ? v[i].id.product_type : "?",
                    rv_mode_name(v[i].id.mode), v[i].id.udid);
        }
        fprintf(stderr, "Which one (1-%zu)? ", n);
        char line[32];
        long pick = fgets(line, sizeof line, stdin) ? strtol(line, NULL, 10) : 0;
        if (pick >= 1 && (size_t)pick <= n) {
            *out = v[pick - 1];
            rc = REVIVE_OK;
        }
        free(v);
    }
    if (rc != REVIVE_OK)
        return rv_report_error(app, &err);
    return EXIT_OK;
}

bool rv_cli_confirm(rv_app *app, const char *question)
{
    if (app->yes)
        return true;
    if (!isatty(STDIN_FILENO) || app->json) {
        rv_error("%s — refusing without confirmation; add --yes to confirm", question);
        return false;
    }
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

/* Run one transport action on the selected device and print its results. */
typedef int (*action_fn)(void *, revive_call *, const revive_device_id *);

static int call_info(rv_app *app, const rv_device *dev, rv_fields *out, revive_error *err)
{
    const rv_plugin *p = dev->transport_plugin;
    if (!p->transport.info)
        return rv_fail(err, REVIVE_E_UNSUPPORTED, NULL, 0, "the %s transport gives no device info", p->desc.name);
    char label[80];
    rv_device_label(&dev->id, label, sizeof label);
    revive_call call;
    rv_call_init(&call, NULL, label, p->desc.name);
    rv_plugin_enter(p);
    int rc = p->transport.info(p->state, &call, &dev->id);
    rv_plugin_leave(p);
    if (rc == REVIVE_OK) {
        for (size_t i = 0; i < call.results.n; i++)
            rv_fields_put(out, &call.results.v[i]);
    } else if (err) {
        *err = call.err.code ? call.err : (revive_error){ .size = sizeof(revive_error), .code = rc };
    }
    rv_call_free(&call);
    (void)app;
    return rc;
}

static void id_fields(const rv_device *d, rv_fields *f)
{
    char ecid[32];
    snprintf(ecid, sizeof ecid, "%" PRIX64, d->id.ecid);
    rv_fields_put_str(f, "mode", rv_mode_name(d->id.mode));
    if (d->id.ecid)
        rv_fields_put_str(f, "ecid", ecid);
    if (d->id.udid[0])
        rv_fields_put_str(f, "udid", d->id.udid);
    if (d->id.product_type[0])
        rv_fields_put_str(f, "product_type", d->id.product_type);
    if (d->id.hardware_model[0])
        rv_fields_put_str(f, "hardware_model", d->id.hardware_model);
    if (d->id.location[0])
        rv_fields_put_str(f, "location", d->id.location);
    rv_fields_put_str(f, "transport", d->id.transport);
}

static const char *fstr(const rv_fields *f, const char *k, char *buf, size_t cap)
{
    const revive_field *x = rv_fields_get(f, k);
    if (!x)
        return "-";
    rv_field_format(x, buf, cap);
    return buf;
}

static void print_row(rv_app *app, const rv_device *d, const char *what)
{
    rv_fields f;
    rv_fields_init(&f);
    if (d->present && d->id.mode == REVIVE_MODE_NORMAL)
        call_info(app, d, &f, NULL);
    id_fields(d, &f); /* after the transport's answer, so the identity reads alike in every mode */
    if (what)
        rv_fields_put_str(&f, "change", what);
    if (app->json) {
        char label[80];
        rv_device_label(&d->id, label, sizeof label);
        rv_emit(NULL, label, what ? "device_changed" : "device", f.v, f.n);
    } else {
        char b1[64], b2[64], b3[64], b4[64], b5[80], b6[64];
        printf("%-9s %-18s %-26s %-12s %-8s %s%s%s\n", fstr(&f, "mode", b1, sizeof b1), fstr(&f, "ecid", b2, sizeof b2),
               fstr(&f, "udid", b5, sizeof b5), fstr(&f, "product_type", b3, sizeof b3),
               fstr(&f, "ios_version", b4, sizeof b4), fstr(&f, "battery_level", b6, sizeof b6),
               rv_fields_get(&f, "battery_level") ? "%" : "", what ? (strcmp(what, "detached") == 0 ? "  (gone)" : "") : "");
        fflush(stdout);
    }
    rv_fields_free(&f);
}

static void on_change(const rv_device *d, int what, void *ud)
{
    rv_app *app = ud;
    print_row(app, d, what == REVIVE_DETACHED ? "detached" : what == REVIVE_ATTACHED ? "attached" : "changed");
}

int rv_cmd_devices(rv_app *app, int argc, char **argv)
{
    static const struct option opts[] = { { "watch", no_argument, NULL, 'w' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
    bool watch = false;
    int c;
    while ((c = getopt_long(argc, argv, "wh", opts, NULL)) != -1) {
        if (c == 'w')
            watch = true;
        else if (c == 'h') {
            printf("Usage: revive [--json] devices [--watch]\n"
                   "List attached Apple devices in every mode (normal, recovery, DFU, restore): mode,\n"
                   "ECID, UDID, model, iOS version, battery. A phone is one row whatever its mode; the\n"
                   "ECID is what identifies it. --watch keeps running and prints each change as it\n"
                   "happens (Ctrl-C stops).\n");
            return EXIT_OK;
        } else
            return EXIT_USAGE;
    }
    revive_error err;
    rv_error_clear(&err);
    rv_registry *reg = rv_registry_new(rv_app_plugins(app));
    int rc = rv_registry_scan(reg, &err);
    rv_device *v;
    size_t n = rv_registry_snapshot(reg, &v, false);
    if (rc != REVIVE_OK && n == 0) {
        free(v);
        rv_registry_free(reg);
        return rv_report_error(app, &err);
    }
    if (!app->json)
        printf("%-9s %-18s %-26s %-12s %-8s %s\n", "MODE", "ECID", "UDID", "MODEL", "IOS", "BATTERY");
    for (size_t i = 0; i < n; i++)
        print_row(app, &v[i], NULL);
    free(v);
    if (!watch) {
        rv_registry_free(reg);
        if (n == 0 && !app->json)
            fprintf(stderr, "No devices. Connect a phone (a port on the computer, not a hub) and unlock it.\n");
        return n ? EXIT_OK : EXIT_NO_DEVICE;
    }
    rv_registry_observe(reg, on_change, app);
    rv_registry_watch(reg);
    while (!rv_cancelled())
        usleep(100 * 1000);
    rv_registry_free(reg);
    return EXIT_OK;
}

static int one_device_usage(const char *name, const char *what, int argc, char **argv, const char **selector)
{
    if (rv_wants_help(argc, argv)) {
        printf("Usage: revive %s [DEVICE]\n%s\n"
               "DEVICE is an ECID (hex or decimal), a UDID, or a unique prefix of either; it may be\n"
               "left out when one device is attached.\n", name, what);
        return EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "revive %s: too many arguments\n", name);
        return EXIT_USAGE;
    }
    *selector = argc == 2 ? argv[1] : NULL;
    return -1;
}

int rv_cmd_info(rv_app *app, int argc, char **argv)
{
    const char *sel;
    int rc = one_device_usage("info", "Show everything revive knows about a device: identity, model, iOS, battery,\n"
                                      "storage, pairing, backup encryption; in recovery and DFU the chip, board,\n"
                                      "iBoot version and NVRAM variables such as auto-boot.", argc, argv, &sel);
    if (rc >= 0)
        return rc;
    rv_registry *reg = NULL;
    rv_device dev;
    rc = rv_cli_pick_device(app, &reg, sel, &dev);
    if (rc == EXIT_OK) {
        rv_fields f;
        rv_fields_init(&f);
        id_fields(&dev, &f);
        revive_error err;
        rv_error_clear(&err);
        if (call_info(app, &dev, &f, &err) != REVIVE_OK)
            rc = rv_report_error(app, &err);
        else
            rv_print_results(app, "result", &f);
        rv_fields_free(&f);
    }
    rv_registry_free(reg);
    return rc;
}

/* Run an action, then (if wanted) wait for the device to show up in one of `modes`. */
static int act(rv_app *app, const char *sel, const char *what, size_t off, unsigned modes, double timeout)
{
    rv_registry *reg = NULL;
    rv_device dev;
    int rc = rv_cli_pick_device(app, &reg, sel, &dev);
    if (rc != EXIT_OK) {
        rv_registry_free(reg);
        return rc;
    }
    const rv_plugin *p = dev.transport_plugin;
    action_fn fn = *(action_fn *)((const char *)&p->transport + off);
    char label[80];
    rv_device_label(&dev.id, label, sizeof label);
    revive_error err;
    rv_error_clear(&err);
    if (!fn) {
        rv_fail(&err, REVIVE_E_UNSUPPORTED, NULL, 0, "the %s transport cannot %s", p->desc.name, what);
        rv_registry_free(reg);
        return rv_report_error(app, &err);
    }
    if (modes)
        rv_registry_watch(reg);
    revive_call call;
    rv_call_init(&call, NULL, label, p->desc.name);
    int slot = rv_inflight_begin_fmt("%s on %s", what, label);
    rv_plugin_enter(p);
    int code = fn(p->state, &call, &dev.id);
    rv_plugin_leave(p);
    rv_inflight_end(slot);
    if (code != REVIVE_OK) {
        if (!call.err.code)
            rv_fail(&call.err, code, NULL, 0, "%s failed", what);
        rc = rv_report_error(app, &call.err);
    } else if (modes) {
        rv_info("%s: done; waiting for %s to come back", what, label);
        rv_device now;
        code = rv_registry_wait(reg, dev.id.ecid, dev.id.udid, modes, timeout, &now, &err);
        if (code != REVIVE_OK)
            rc = rv_report_error(app, &err);
        else {
            rv_fields f;
            rv_fields_init(&f);
            id_fields(&now, &f);
            rv_print_results(app, "result", &f);
            rv_fields_free(&f);
        }
    } else if (!app->json) {
        printf("%s: done\n", what);
    }
    rv_call_free(&call);
    rv_registry_free(reg);
    return rc;
}

static double wait_timeout(void)
{
    const char *v = rv_config_get_or("timeout.mode_change", "180");
    double t = strtod(v, NULL);
    return t > 0 ? t : 180;
}

int rv_cmd_recovery(rv_app *app, int argc, char **argv)
{
    if (argc < 2 || rv_wants_help(argc, argv) || (strcmp(argv[1], "enter") != 0 && strcmp(argv[1], "exit") != 0)) {
        bool help = rv_wants_help(argc, argv);
        fprintf(help ? stdout : stderr,
                "Usage: revive recovery enter|exit [DEVICE]\n"
                "enter: put a device that runs iOS into recovery mode (lockdown handshake, then\n"
                "       EnterRecovery), and wait until it shows up in recovery.\n"
                "exit:  leave recovery: set auto-boot to true, save NVRAM, reboot, and wait until the\n"
                "       phone is back in normal mode. A phone whose OS is damaged comes back in\n"
                "       recovery: then it needs a restore (see the interrupted-restore playbook).\n"
                "Waits up to timeout.mode_change seconds (default 180; -o timeout.mode_change=N).\n");
        return help ? EXIT_OK : EXIT_USAGE;
    }
    if (argc > 3) {
        fprintf(stderr, "revive recovery: too many arguments\n");
        return EXIT_USAGE;
    }
    const char *sel = argc == 3 ? argv[2] : NULL;
    if (strcmp(argv[1], "enter") == 0)
        return act(app, sel, "enter recovery", offsetof(revive_transport, enter_recovery), 1u << REVIVE_MODE_RECOVERY,
                   wait_timeout());
    return act(app, sel, "exit recovery", offsetof(revive_transport, exit_recovery), 1u << REVIVE_MODE_NORMAL,
               wait_timeout());
}

int rv_cmd_reboot(rv_app *app, int argc, char **argv)
{
    const char *sel;
    int rc = one_device_usage("reboot", "Restart the device (in any mode it can be told to).", argc, argv, &sel);
    if (rc >= 0)
        return rc;
    return act(app, sel, "reboot", offsetof(revive_transport, reboot), 0, 0);
}

int rv_cmd_shutdown(rv_app *app, int argc, char **argv)
{
    const char *sel;
    int rc = one_device_usage("shutdown", "Turn the device off.", argc, argv, &sel);
    if (rc >= 0)
        return rc;
    return act(app, sel, "shutdown", offsetof(revive_transport, shutdown), 0, 0);
}
