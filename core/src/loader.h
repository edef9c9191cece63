/* The plugin loader.
 *
 * Each plugin file is dlopen'ed with RTLD_NOW|RTLD_LOCAL (so an unresolved symbol is a
 * refusal now, not a crash later, and plugins cannot see each other), then checked before
 * any of its code but the entry function runs: the entry symbol, the descriptor's size and
 * ABI version, its name, its capability tables' sizes, file and directory permissions, a
 * duplicate name. Every refusal names the file and the reason; a refused plugin never
 * stops the others. Accepted descriptors and capability tables are copied into zeroed
 * structs of the core's size, so fields an older plugin never knew read as NULL. */
#ifndef RV_LOADER_H
#define RV_LOADER_H
#include <pthread.h>
#include <revive/plugin.h>

typedef struct rv_plugin {
    char *path;
    void *handle;
    revive_plugin desc;                 /* the core's-size copy */
    revive_transport transport;         /* valid if has_transport */
    bool has_transport;
    revive_restore_method *methods;     /* copies */
    size_t nmethods;
    revive_source *sources;
    size_t nsources;
    revive_importer *importers;
    size_t nimporters;
    void *state;                        /* from init() */
    pthread_mutex_t lock;               /* held around calls when REVIVE_PLUGIN_SERIAL */
} rv_plugin;

typedef struct rv_refusal {
    char *path;
    char *reason;
    int code;                           /* revive_status */
} rv_refusal;

typedef struct rv_plugins {
    rv_plugin **v;
    size_t n;
    rv_refusal *refused;
    size_t nrefused;
} rv_plugins;

/* Load every *.so in the directories (in order: earlier wins a duplicate name). Missing
 * directories are skipped silently; unreadable ones are refusals. Never fails as a whole. */
void rv_plugins_load(rv_plugins *set, const char *const *dirs, size_t ndirs);
/* Load one file (used by tests and by dirs); returns REVIVE_OK or the refusal code. */
int rv_plugins_load_file(rv_plugins *set, const char *path);
void rv_plugins_unload(rv_plugins *set);

/* The directories revive loads from: the built-in one (beside the binary in a build tree,
 * <prefix>/lib/.../revive/plugins installed) unless config plugins.builtin=false, then
 * each entry of REVIVE_PLUGIN_PATH (colon-separated). Caller frees with rv_strv_free. */
char **rv_plugin_dirs(size_t *count);
void rv_strv_free(char **v, size_t n);

/* Finding capabilities. */
const rv_plugin *rv_plugins_find(const rv_plugins *set, const char *name);
const revive_importer *rv_find_importer(const rv_plugins *set, const char *name, const rv_plugin **owner);
/* The importer surest that `path` is its format (highest probe() above zero), probing under
 * the plugins' serial locks; NULL if none recognises it. run/device tag the probe calls. */
const revive_importer *rv_probe_importer(const rv_plugins *set, const char *path, const char *run,
                                         const char *device, const rv_plugin **owner);
const revive_source *rv_find_source(const rv_plugins *set, const char *spec, const rv_plugin **owner);
const revive_restore_method *rv_find_method(const rv_plugins *set, const char *name, const rv_plugin **owner);

/* Serialise a call into a REVIVE_PLUGIN_SERIAL plugin. */
void rv_plugin_enter(const rv_plugin *p);
void rv_plugin_leave(const rv_plugin *p);
#endif
