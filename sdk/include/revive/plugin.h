/*
 * revive/plugin.h — what a plugin is.
 *
 * A plugin is a shared object that exports exactly one symbol, the function
 * `revive_plugin_entry`, which returns a pointer to a constant descriptor. Write it with
 * REVIVE_PLUGIN(my_descriptor) and build with hidden visibility; nothing else is seen.
 * (A function rather than a data symbol, because dlsym is only guaranteed for functions.)
 *
 * The core checks the descriptor before it calls anything: its size, the ABI major (must
 * equal the core's) and minor (must not be newer than the core's). Then it calls init()
 * with the host table (host.h) and, from then on, the capability functions.
 *
 * Ownership: descriptors and capability tables are static data of the plugin, read-only,
 * alive until the plugin is unloaded. Strings passed in by the core are valid only for the
 * call; copy what you keep. Answers go out through host->result(); errors through
 * host->fail(). Every capability function returns REVIVE_OK or a revive_status code.
 *
 * Threading: the core may call capability functions from several threads at once (one per
 * device session), each with its own revive_call. A plugin that cannot take that sets
 * REVIVE_PLUGIN_SERIAL and the core then never overlaps two of its calls. init() and fini()
 * are called once, from the main thread, with no other call in flight.
 *
 * Every capability function below takes `void *state` — whatever init() stored — first.
 * A member left NULL means "not offered"; the core reports REVIVE_E_UNSUPPORTED for it.
 */
#ifndef REVIVE_PLUGIN_H
#define REVIVE_PLUGIN_H

#include <revive/types.h>
#include <revive/errors.h>
#include <revive/host.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ transport ------ */

/* Hotplug callback the core hands to watch(): what is ATTACHED, DETACHED or CHANGED
 * (same appearance, new facts). May be called from any thread the plugin owns. A DETACHED
 * device's mode is the mode of the appearance that left (UNKNOWN if not known): a phone
 * moving from recovery to DFU may report the DFU attach before the recovery detach, and
 * the core uses the mode to ignore such a late detach. */
typedef enum revive_hotplug { REVIVE_ATTACHED = 1, REVIVE_DETACHED = 2, REVIVE_CHANGED = 3 } revive_hotplug;
typedef void (*revive_hotplug_fn)(void *core_data, int what, const revive_device_id *dev);

typedef struct revive_transport {
    uint32_t size;
    const char *name;              /* "usb" */

    /* Every device this transport sees now: call host->result() is NOT used here;
     * instead fill out[0..cap) and set *count (the number seen, which may exceed cap). */
    int (*list)(void *state, revive_call *call, revive_device_id *out, size_t cap, size_t *count);

    /* Start reporting hotplug through fn until unwatch(); at most one watch at a time. */
    int (*watch)(void *state, revive_hotplug_fn fn, void *core_data);
    void (*unwatch)(void *state);

    /* Facts about the device as fields through host->result(). Well-known keys (use them
     * where they apply, add your own freely): product_type, hardware_model, marketing_name,
     * ios_version, build_version, serial, udid, ecid, battery_level (int %), charging
     * (bool), storage_total, storage_free (bytes), activation_state, paired (bool),
     * backup_encrypted (bool), passcode_set (bool), cpid, bdid, iboot_version, auto_boot,
     * boot_args. */
    int (*info)(void *state, revive_call *call, const revive_device_id *dev);

    /* Actions. Each returns once the device acknowledged; waiting for the new mode is the
     * core's job (it sees hotplug). exit_recovery sets auto-boot true, saves and reboots. */
    int (*enter_recovery)(void *state, revive_call *call, const revive_device_id *dev);
    int (*exit_recovery)(void *state, revive_call *call, const revive_device_id *dev);
    int (*reboot)(void *state, revive_call *call, const revive_device_id *dev);
    int (*shutdown)(void *state, revive_call *call, const revive_device_id *dev);

    /* Recovery-mode (NVRAM) variables. getvar answers through host->result() as the
     * field {name, string}; setvar saves the NVRAM when `save` is true. */
    int (*getvar)(void *state, revive_call *call, const revive_device_id *dev, const char *name);
    int (*setvar)(void *state, revive_call *call, const revive_device_id *dev,
                  const char *name, const char *value, bool save);
} revive_transport;

/* ------------------------------------------------------------- restore method ------ */

enum {
    REVIVE_RESTORE_DESTRUCTIVE = 1u << 0, /* may erase or overwrite the user's data */
    REVIVE_RESTORE_CAN_BACKUP  = 1u << 1  /* backup() is offered */
};

typedef struct revive_restore_method {
    uint32_t size;
    const char *name;              /* "firmware", "backup" */
    const char *description;
    uint32_t flags;

    /* Put software or data on the device. opts are method-specific, documented by the
     * plugin (firmware: ipsw (str), erase (bool); backup: dir (str), system (bool),
     * reboot (bool), ...). Progress through host->progress(); cancellation through
     * host->cancelled(). Whether a destructive restore may run is decided by the core
     * before this is called. */
    int (*restore)(void *state, revive_call *call, const revive_device_id *dev,
                   const revive_field *opts, size_t nopts);

    /* Take a backup into `dir` (created if missing). Answers {path, complete (bool),
     * files, bytes} through host->result(). */
    int (*backup)(void *state, revive_call *call, const revive_device_id *dev, const char *dir,
                  const revive_field *opts, size_t nopts);
} revive_restore_method;

/* --------------------------------------------------------------------- source ------ */

typedef struct revive_source {
    uint32_t size;
    const char *name;              /* "cloud" */
    const char *description;

    /* Nonzero if this source understands `spec` ("https://...", "firmware:iPhone12,1:latest"). */
    int (*handles)(void *state, const char *spec);

    /* Turn spec into a verified local file. opts: sha1, sha256 (hex str), out (dir).
     * Answers {path (str), size (int), sha1 (str)} through host->result(). A file is
     * only ever answered once it is complete and verified. */
    int (*fetch)(void *state, revive_call *call, const char *spec,
                 const revive_field *opts, size_t nopts);

    /* Optional: list what a query offers (firmware for a model) as "item" events, one per
     * entry. */
    int (*list)(void *state, revive_call *call, const char *query,
                const revive_field *opts, size_t nopts);
} revive_source;

/* ------------------------------------------------------------------- importer ------ */

typedef struct revive_importer {
    uint32_t size;
    const char *name;              /* "itunes" */
    const char *description;

    /* How sure this importer is that `path` is its format: 0 = not mine, 100 = certain.
     * Must be cheap and must not modify anything. */
    int (*probe)(void *state, revive_call *call, const char *path);

    /* Facts about the backup as fields through host->result() (format, udid,
     * product_type, ios_version, date, encrypted, files, bytes, ...). */
    int (*inspect)(void *state, revive_call *call, const char *path,
                   const revive_field *opts, size_t nopts);

    /* Check everything; each problem is an event "problem" {path, problem, detail}.
     * Returns REVIVE_E_CORRUPT if any was found. */
    int (*verify)(void *state, revive_call *call, const char *path,
                  const revive_field *opts, size_t nopts);

    /* Write the canonical iTunes/Finder (iOS 10+) layout of the backup into out_dir,
     * whole or not at all. The input is never written. */
    int (*import)(void *state, revive_call *call, const char *path, const char *out_dir,
                  const revive_field *opts, size_t nopts);

    /* Optional: list entries (as "item" events) and extract them; opts: domain, pattern,
     * out (dir). */
    int (*list)(void *state, revive_call *call, const char *path,
                const revive_field *opts, size_t nopts);
    int (*extract)(void *state, revive_call *call, const char *path,
                   const revive_field *opts, size_t nopts);
} revive_importer;

/* --------------------------------------------------------------- descriptor ------ */

enum {
    REVIVE_PLUGIN_SERIAL = 1u << 0 /* never call two of this plugin's functions at once */
};

typedef struct revive_plugin {
    uint32_t size;                 /* sizeof(revive_plugin) as the plugin was built */
    uint16_t abi_major;            /* REVIVE_ABI_MAJOR */
    uint16_t abi_minor;            /* REVIVE_ABI_MINOR */
    const char *name;              /* unique, [a-z0-9_-]+ */
    const char *version;
    const char *license;           /* SPDX id */
    const char *description;
    uint32_t flags;

    /* Called once after the checks. Store your state in *state. A non-OK return (with
     * host->fail(NULL, ...) or a message in err) refuses the plugin; fini is not called. */
    int (*init)(const revive_host *host, void **state, revive_error *err);
    void (*fini)(void *state);

    /* Capabilities; NULL or NULL-terminated arrays. */
    const revive_transport *transport;
    const revive_restore_method *const *restore_methods;
    const revive_source *const *sources;
    const revive_importer *const *importers;
} revive_plugin;

/* Fill the header of a descriptor: REVIVE_PLUGIN_HEADER, .name = ..., */
#define REVIVE_PLUGIN_HEADER \
    .size = sizeof(revive_plugin), .abi_major = REVIVE_ABI_MAJOR, .abi_minor = REVIVE_ABI_MINOR

#define REVIVE_PLUGIN_ENTRY_NAME "revive_plugin_entry"
typedef const revive_plugin *(*revive_plugin_entry_fn)(void);

/* The one exported symbol: REVIVE_PLUGIN(my_plugin); at file scope. */
#define REVIVE_PLUGIN(descriptor)                                              \
    REVIVE_EXPORT const revive_plugin *revive_plugin_entry(void);              \
    REVIVE_EXPORT const revive_plugin *revive_plugin_entry(void) { return &(descriptor); }

#ifdef __cplusplus
}
#endif

#endif /* REVIVE_PLUGIN_H */
