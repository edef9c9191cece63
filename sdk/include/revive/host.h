/*
 * revive/host.h — the services the core gives a plugin.
 *
 * A plugin never links librevive; everything it needs from the core comes through this
 * table, handed to its init(). The table only grows at the end (check
 * REVIVE_HAS_FIELD(host, revive_host, member) before using a member newer than 1.0).
 *
 * Most services take the `revive_call *` that the core passed into the capability
 * function being run: it carries the run and device the work belongs to (events are
 * tagged with them), the cancellation flag, where fail() records the error, and where
 * result() collects the answer. A call handle is valid only until that capability
 * function returns; pass NULL where a service is used outside a call (from init(),
 * a hotplug thread): events then carry no run or device.
 *
 * Threading: every service is safe to call from any thread, including threads the
 * plugin started itself.
 */
#ifndef REVIVE_HOST_H
#define REVIVE_HOST_H

#include <revive/types.h>
#include <revive/errors.h>

#if defined(__GNUC__)
#  define REVIVE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#  define REVIVE_PRINTF(fmt, args)
#endif

typedef struct revive_call revive_call; /* opaque, owned by the core */

typedef enum revive_log_level {
    REVIVE_LOG_ERROR = 0,
    REVIVE_LOG_WARN  = 1,
    REVIVE_LOG_INFO  = 2,
    REVIVE_LOG_DEBUG = 3,
    REVIVE_LOG_TRACE = 4
} revive_log_level;

typedef enum revive_dir {
    REVIVE_DIR_CONFIG = 0, /* $XDG_CONFIG_HOME/revive */
    REVIVE_DIR_STATE  = 1, /* $XDG_STATE_HOME/revive: journals, runs */
    REVIVE_DIR_CACHE  = 2, /* $XDG_CACHE_HOME/revive: downloads (shared between runs) */
    REVIVE_DIR_DATA   = 3, /* $XDG_DATA_HOME/revive: backups taken, user playbooks */
    REVIVE_DIR_RUNTIME = 4 /* $XDG_RUNTIME_DIR/revive or a private temp dir */
} revive_dir;

typedef struct revive_host {
    uint32_t size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* ---- ABI 1.0 ---- */

    /* Log a line at `level` to the user's log (stderr, never into --json output).
     * Never pass a password or key. */
    void (*log)(revive_call *call, int level, const char *fmt, ...) REVIVE_PRINTF(3, 4);

    /* Record the error of this call and return `code`, so a plugin can write
     *   return host->fail(call, REVIVE_E_DISCONNECTED, "lockdownd", lerr, "lost %s", udid);
     * origin/origin_code name the library that failed and its own code (NULL/0 if none).
     * The message should say what happened and, where known, what the person can do. */
    int (*fail)(revive_call *call, int code, const char *origin, int origin_code,
                const char *fmt, ...) REVIVE_PRINTF(5, 6);

    /* Report progress of a long operation. `phase` names what is progressing ("download",
     * "backup", "restore:verify"); `unit` is "bytes", "files" or "percent"; total 0 means
     * unknown. The core rate-limits and computes rate and ETA; call as often as you like. */
    void (*progress)(revive_call *call, const char *phase, uint64_t done, uint64_t total,
                     const char *unit);

    /* Emit any other event (type is a short lowercase word such as "prompt", "warning",
     * "problem"); fields are copied before this returns. See docs/events.md. */
    void (*event)(revive_call *call, const char *type, const revive_field *fields, size_t n);

    /* True once the person (or the engine) asked to stop. Long operations check it at safe
     * points and return fail(call, REVIVE_E_CANCELLED, ...). */
    bool (*cancelled)(revive_call *call);

    /* The configured value for `key` ("usb.idevicerestore", "cloud.catalog_url"), from the
     * config file, the environment (REVIVE_USB_IDEVICERESTORE) or a flag; NULL if unset.
     * The returned string stays valid for the life of the process. */
    const char *(*config)(revive_call *call, const char *key);

    /* One of the per-user directories (revive_dir); it exists when this returns. */
    const char *(*dir)(int which);

    /* Add one field to the answer of this call (device info, inspect results, the path of
     * a fetched file). Fields are copied. Returns REVIVE_OK or REVIVE_E_NO_MEMORY. */
    int (*result)(revive_call *call, const revive_field *field);

    /* Ask for a secret (a backup password) for `purpose` ("backup password for <UDID>").
     * The core takes it from REVIVE_BACKUP_PASSWORD, --password-file, or a prompt on the
     * terminal, in that order; it is never logged. Writes a NUL-terminated string into buf.
     * Returns REVIVE_OK, REVIVE_E_PASSWORD_NEEDED (none can be had) or
     * REVIVE_E_CANCELLED. Call at most once per attempt: a wrong password is the
     * plugin's to report (REVIVE_E_WRONG_PASSWORD). */
    int (*secret)(revive_call *call, const char *purpose, char *buf, size_t cap);
} revive_host;

#endif /* REVIVE_HOST_H */
