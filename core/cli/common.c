/* Helpers the subcommands share: plugins, errors, results, help. */
#include "cli.h"
#include "error.h"
#include "log.h"
#include <stdio.h>
#include <string.h>

rv_plugins *rv_app_plugins(rv_app *app)
{
    if (!app->plugins_loaded) {
        size_t n = 0;
        char **dirs = rv_plugin_dirs(&n);
        rv_plugins_load(&app->plugins, (const char *const *)dirs, n);
        rv_strv_free(dirs, n);
        app->plugins_loaded = true;
        for (size_t i = 0; i < app->plugins.nrefused; i++)
            rv_debug("plugin %s refused: %s", app->plugins.refused[i].path, app->plugins.refused[i].reason);
    }
    return &app->plugins;
}

int rv_exit_for(int code)
{
    switch (code) {
    case REVIVE_E_OK:           return EXIT_OK;
    case REVIVE_E_NO_DEVICE:    return EXIT_NO_DEVICE;
    case REVIVE_E_NEEDS_PERSON: return EXIT_NEEDS_PERSON;
    case REVIVE_E_CANCELLED:    return EXIT_CANCELLED;
    case REVIVE_E_NOT_BUILT:    return EXIT_NOT_BUILT;
    case REVIVE_E_INVALID:      return EXIT_USAGE;
    default:                    return EXIT_FAILED;
    }
}

int rv_report_error(rv_app *app, const revive_error *err)
{
    if (app->json) {
        revive_field f[5] = {
            REVIVE_FIELD_STR("name", revive_error_name(err->code)),
            REVIVE_FIELD_STR("message", err->message[0] ? err->message : revive_error_message(err->code)),
            REVIVE_FIELD_BOOL("retry", revive_error_retryable(err->code)),
            REVIVE_FIELD_STR("origin", err->origin),
            REVIVE_FIELD_INT("origin_code", err->origin_code),
        };
        rv_emit(NULL, NULL, "error", f, 5);
    } else {
        char buf[800];
        rv_error("%s", rv_error_describe(err, buf, sizeof buf));
    }
    return rv_exit_for(err->code);
}

void rv_print_results(rv_app *app, const char *what, const rv_fields *r)
{
    if (app->json) {
        revive_field *all = r->v;
        rv_emit(NULL, NULL, what ? what : "result", all, r->n);
        return;
    }
    size_t width = 0;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->v[i].key) > width)
            width = strlen(r->v[i].key);
    for (size_t i = 0; i < r->n; i++) {
        if (rv_field_is_secret(r->v[i].key))
            continue;
        char v[1024];
        rv_field_format(&r->v[i], v, sizeof v);
        printf("%-*s  %s\n", (int)width + 1, r->v[i].key, v);
    }
    fflush(stdout);
}

bool rv_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}
