/* revive version, revive plugins */
#include "cli.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

int rv_cmd_version(rv_app *app, int argc, char **argv);
int rv_cmd_plugins(rv_app *app, int argc, char **argv);

int rv_cmd_version(rv_app *app, int argc, char **argv)
{
    if (rv_wants_help(argc, argv)) {
        printf("Usage: revive version\nPrint revive's version and plugin ABI.\n");
        return EXIT_OK;
    }
    if (app->json)
        printf("{\"version\":\"%s\",\"abi\":\"%d.%d\"}\n", REVIVE_VERSION, REVIVE_ABI_MAJOR, REVIVE_ABI_MINOR);
    else
        printf("revive %s (plugin ABI %d.%d)\n", REVIVE_VERSION, REVIVE_ABI_MAJOR, REVIVE_ABI_MINOR);
    return EXIT_OK;
}

static json_t *names_json(const rv_plugin *p)
{
    json_t *caps = json_array();
    if (p->has_transport)
        json_array_append_new(caps, json_pack("{s:s,s:s}", "kind", "transport", "name", p->transport.name ? p->transport.name : ""));
    for (size_t i = 0; i < p->nmethods; i++)
        json_array_append_new(caps, json_pack("{s:s,s:s}", "kind", "restore_method", "name", p->methods[i].name ? p->methods[i].name : ""));
    for (size_t i = 0; i < p->nsources; i++)
        json_array_append_new(caps, json_pack("{s:s,s:s}", "kind", "source", "name", p->sources[i].name ? p->sources[i].name : ""));
    for (size_t i = 0; i < p->nimporters; i++)
        json_array_append_new(caps, json_pack("{s:s,s:s}", "kind", "importer", "name", p->importers[i].name ? p->importers[i].name : ""));
    return caps;
}

static void caps_text(const rv_plugin *p, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
#define ADD(kind, nm) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s:%s", n ? ", " : "", kind, nm ? nm : "?")
    if (p->has_transport)
        ADD("transport", p->transport.name);
    for (size_t i = 0; i < p->nmethods; i++)
        ADD("restore", p->methods[i].name);
    for (size_t i = 0; i < p->nsources; i++)
        ADD("source", p->sources[i].name);
    for (size_t i = 0; i < p->nimporters; i++)
        ADD("importer", p->importers[i].name);
#undef ADD
}

int rv_cmd_plugins(rv_app *app, int argc, char **argv)
{
    if (rv_wants_help(argc, argv)) {
        printf("Usage: revive [--json] plugins\n"
               "List the plugins revive loaded (name, version, licence, capabilities, file) and those it\n"
               "refused, with the reason. Plugins load from the built-in directory and from each\n"
               "directory in REVIVE_PLUGIN_PATH (colon-separated); -o plugins.builtin=false skips the\n"
               "built-in one.\n");
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "revive plugins: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    rv_plugins *set = rv_app_plugins(app);
    if (app->json) {
        json_t *root = json_object(), *loaded = json_array(), *refused = json_array();
        for (size_t i = 0; i < set->n; i++) {
            const rv_plugin *p = set->v[i];
            json_array_append_new(loaded, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}",
                "name", p->desc.name, "version", p->desc.version ? p->desc.version : "",
                "license", p->desc.license ? p->desc.license : "",
                "description", p->desc.description ? p->desc.description : "",
                "path", p->path, "capabilities", names_json(p)));
        }
        for (size_t i = 0; i < set->nrefused; i++)
            json_array_append_new(refused, json_pack("{s:s,s:s,s:s}", "path", set->refused[i].path,
                "reason", set->refused[i].reason, "error", revive_error_name(set->refused[i].code)));
        json_object_set_new(root, "plugins", loaded);
        json_object_set_new(root, "refused", refused);
        json_object_set_new(root, "abi", json_sprintf("%d.%d", REVIVE_ABI_MAJOR, REVIVE_ABI_MINOR));
        char *s = json_dumps(root, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
        json_decref(root);
    } else {
        if (set->n == 0)
            printf("No plugins loaded.\n");
        for (size_t i = 0; i < set->n; i++) {
            const rv_plugin *p = set->v[i];
            char caps[512];
            caps_text(p, caps, sizeof caps);
            printf("%-10s %-8s %-14s %s\n           %s\n", p->desc.name, p->desc.version ? p->desc.version : "",
                   p->desc.license ? p->desc.license : "", caps, p->path);
        }
        for (size_t i = 0; i < set->nrefused; i++)
            printf("refused    %s\n           %s\n", set->refused[i].path, set->refused[i].reason);
    }
    return set->nrefused ? EXIT_FAILED : EXIT_OK;
}
