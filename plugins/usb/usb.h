/*
 * usb.h — what the files of the usb plugin share. Nothing here is exported: the plugin's
 * only visible symbol is revive_plugin_entry (plugin.c).
 *
 * The plugin keeps one usb_state (made by init): the host table, the hotplug watch and
 * two small registries of what is on the bus right now — devices seen through usbmuxd
 * (normal and restore mode, keyed by usbmuxd's handle) and devices seen through
 * libirecovery's device events (recovery and DFU, keyed by ECID). The registries exist
 * because both libraries report a removal with less than the core needs (a handle, an
 * ECID), so the plugin remembers the full identity it reported on arrival.
 */
#ifndef REVIVE_USB_H
#define REVIVE_USB_H

#include <pthread.h>
#include <stdint.h>

#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libirecovery.h>
#include <usbmuxd.h>

#include <revive/revive.h>

#define USB_MAX_DEVICES 64

struct usb_mux_entry {
    uint32_t handle;          /* usbmuxd's device id */
    revive_device_id id;
};

struct usb_rec_entry {
    revive_device_id id;      /* ecid, cpid, bdid, serial (the USB serial string), mode */
};

typedef struct usb_state {
    const revive_host *host;
    pthread_mutex_t lock;     /* guards everything below */

    revive_hotplug_fn watch_fn;
    void *watch_data;
    usbmuxd_subscription_context_t mux_ctx;

    struct usb_mux_entry mux[USB_MAX_DEVICES];
    size_t nmux;

    irecv_device_event_context_t irecv_ctx; /* started on first use, kept until fini */
    double irecv_started;                    /* monotonic seconds */
    struct usb_rec_entry rec[USB_MAX_DEVICES];
    size_t nrec;
} usb_state;

/* ---- errors.c: library codes -> revive codes, the library's text kept ---------------- */
int usb_status_lockdown(int lerr);
int usb_status_idevice(int ierr);
int usb_status_irecv(int rerr);
int usb_status_mb2(int merr);
int usb_status_device_code(int code);       /* mobilebackup2 ErrorCode from the device */
const char *usb_device_code_advice(int code);
int usb_fail_lockdown(const usb_state *st, revive_call *call, int lerr, const char *what);
int usb_fail_idevice(const usb_state *st, revive_call *call, int ierr, const char *what);
int usb_fail_irecv(const usb_state *st, revive_call *call, int rerr, const char *what);
int usb_fail_mb2(const usb_state *st, revive_call *call, int merr, const char *what);
int usb_fail_device_code(const usb_state *st, revive_call *call, int code, const char *desc,
                         const char *what);
/* usbmuxd could not be reached: looks at the socket to say exactly what to fix. */
int usb_fail_usbmuxd(const usb_state *st, revive_call *call, const char *what);
/* Writes the diagnosis of an unreachable usbmuxd into buf; returns a revive code. */
int usb_diagnose_usbmuxd(char *buf, size_t cap);

/* ---- muxd.c: normal/restore mode through usbmuxd --------------------------------------- */
int usb_mux_list(usb_state *st, revive_call *call, revive_device_id *out, size_t cap,
                 size_t *count);
int usb_mux_watch_start(usb_state *st);
void usb_mux_watch_stop(usb_state *st);
/* Fill an identity for the usbmuxd device `udid` (asks lockdownd/restored). */
void usb_mux_identify(usb_state *st, const char *udid, uint32_t handle, revive_device_id *id);

/* ---- lockdown.c: lockdownd in normal mode ---------------------------------------------- */
/* Open lockdownd with a session, pairing first if this host is not trusted yet (raising
 * the "tap Trust" prompt and waiting up to usb.pair_timeout seconds). */
int usb_lockdown_open(usb_state *st, revive_call *call, const char *udid, idevice_t *dev,
                      lockdownd_client_t *ld);
int usb_lockdown_info(usb_state *st, revive_call *call, const revive_device_id *id);
int usb_lockdown_enter_recovery(usb_state *st, revive_call *call, const revive_device_id *id);
int usb_lockdown_power(usb_state *st, revive_call *call, const revive_device_id *id,
                       bool shutdown);

/* ---- irecv.c: recovery and DFU through libirecovery ------------------------------------ */
int usb_rec_list(usb_state *st, revive_call *call, revive_device_id *out, size_t cap,
                 size_t *count);
int usb_rec_start(usb_state *st);
void usb_rec_stop(usb_state *st);
int usb_rec_info(usb_state *st, revive_call *call, const revive_device_id *id);
int usb_rec_getvar(usb_state *st, revive_call *call, const revive_device_id *id,
                   const char *name);
int usb_rec_setvar(usb_state *st, revive_call *call, const revive_device_id *id,
                   const char *name, const char *value, bool save);
int usb_rec_reboot(usb_state *st, revive_call *call, const revive_device_id *id);
int usb_rec_exit(usb_state *st, revive_call *call, const revive_device_id *id);
/* Parse "ECID:..." etc. out of an iBoot/SecureROM USB serial string. */
void usb_rec_parse_serial(const char *serial, revive_device_id *id);

/* ---- backup.c / backup_restore.c: restore method "backup" ------------------------------ */
int usb_backup_take(void *state, revive_call *call, const revive_device_id *dev,
                    const char *dir, const revive_field *opts, size_t nopts);
int usb_backup_restore(void *state, revive_call *call, const revive_device_id *dev,
                       const revive_field *opts, size_t nopts);

/* ---- firmware.c: restore method "firmware" --------------------------------------------- */
int usb_firmware_restore(void *state, revive_call *call, const revive_device_id *dev,
                         const revive_field *opts, size_t nopts);

/* ---- small helpers (plugin.c) ---------------------------------------------------------- */
double usb_now(void);                           /* monotonic seconds */
void usb_copy(char *dst, size_t cap, const char *src);
bool usb_opt_bool(const revive_field *o, size_t n, const char *key, bool dflt);
const char *usb_opt_str(const revive_field *o, size_t n, const char *key);
int64_t usb_opt_int(const revive_field *o, size_t n, const char *key, int64_t dflt);
/* A config value as a number of seconds, or dflt. */
double usb_config_seconds(const usb_state *st, revive_call *call, const char *key, double dflt);
void usb_result_str(const usb_state *st, revive_call *call, const char *key, const char *v);
void usb_result_int(const usb_state *st, revive_call *call, const char *key, int64_t v);
void usb_result_bool(const usb_state *st, revive_call *call, const char *key, bool v);
const char *usb_mode_name(revive_mode m);

#endif /* REVIVE_USB_H */
