/* The device registry: one record per phone, whatever mode it is in.
 *
 * Transports report appearances (revive_device_id); a phone in recovery or DFU shows an
 * ECID and no UDID, in normal mode both, so the ECID is the key that merges them. An
 * appearance without an ECID yet (a normal-mode phone whose lockdownd has not answered)
 * is keyed by its UDID until the ECID is known. The registry keeps what it learned (the
 * UDID seen in normal mode stays attached after the phone drops to recovery) and wakes
 * anyone waiting for a phone to reach a mode. */
#ifndef RV_REGISTRY_H
#define RV_REGISTRY_H
#include "loader.h"
#include <pthread.h>

typedef struct rv_device {
    revive_device_id id;   /* the latest appearance, merged with what was learned before */
    bool present;
    const rv_plugin *transport_plugin;
    double last_change;    /* monotonic seconds */
    unsigned generation;   /* bumps on every change */
} rv_device;

typedef struct rv_registry rv_registry;

rv_registry *rv_registry_new(rv_plugins *plugins);
void rv_registry_free(rv_registry *r);
/* Ask every transport for what it sees now (one pass). */
int rv_registry_scan(rv_registry *r, revive_error *err);
/* Start hotplug on every transport that offers it. */
int rv_registry_watch(rv_registry *r);
/* Snapshot of the devices present (copies). Caller frees *out. */
size_t rv_registry_snapshot(rv_registry *r, rv_device **out, bool include_absent);
/* Find by selector: ECID (hex with or without 0x, or decimal), UDID, or a unique prefix of
 * either; NULL selector = the only device. Fills *out. REVIVE_E_NO_DEVICE when none,
 * REVIVE_E_INVALID (message lists them) when ambiguous. */
int rv_registry_select(rv_registry *r, const char *selector, rv_device *out, revive_error *err);
/* Block until the device with this ECID (or UDID if ecid is 0) is present in one of the
 * modes (bitmask of 1<<revive_mode), the timeout passes, or cancellation. */
int rv_registry_wait(rv_registry *r, uint64_t ecid, const char *udid, unsigned modes, double timeout_s,
                     rv_device *out, revive_error *err);
/* Observers of changes (for --watch and the station table). */
typedef void (*rv_registry_fn)(const rv_device *dev, int what, void *ud);
void rv_registry_observe(rv_registry *r, rv_registry_fn fn, void *ud);

const char *rv_mode_name(int mode);
int rv_mode_parse(const char *name); /* -1 if unknown */
/* A short stable name for a device in events: the ECID in hex, else the UDID. */
void rv_device_label(const revive_device_id *id, char *buf, size_t cap);
#endif
