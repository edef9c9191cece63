/* world.h: the simulated phones' state and the services simdevd's modules share.
 *
 * simdevd is one executable built from every .c in sim/simdevd/. The core (S1: world,
 * scenario, faults, usbmuxd, lockdownd, diagnostics, notifications, control socket) owns
 * the state below; modules (recovery/DFU and restore by S2, backup/AFC/data by S3)
 * register their services and control commands from constructors and reach the state
 * only through these functions.
 *
 * Locking: one global mutex (sim_lock/sim_unlock) protects every struct sim_device and
 * the NVRAM. Functions documented "lock held" must be called with it held; everything
 * else takes it itself. Never hold the lock while blocking on a socket.
 */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum { SIM_MODE_OFF, SIM_MODE_NORMAL, SIM_MODE_RECOVERY, SIM_MODE_DFU, SIM_MODE_RESTORE } sim_mode;
typedef enum { SIM_OS_WHOLE, SIM_OS_MILD /* update restore fixes it */,
               SIM_OS_SEVERE /* needs an erase restore */, SIM_OS_NEEDS_DFU } sim_os_state;

#define SIM_NVRAM_MAX 32
struct sim_nvram_var {
    char name[64];
    char value[256];
};
struct sim_nvram {
    size_t count;
    struct sim_nvram_var vars[SIM_NVRAM_MAX];
};

/* Low battery behaviour from the scenario. */
typedef enum { SIM_BATTERY_OK, SIM_BATTERY_REFUSES /* long operations refuse */,
               SIM_BATTERY_DIES /* the phone powers off after battery_dies_after_s */ } sim_battery_policy;

struct sim_device {                      /* fields may be added; these exist */
    int index;                           /* 0.. in the scenario */
    uint64_t ecid; char udid[41]; char serial[16]; char product_type[32];
    char hardware_model[16]; uint32_t cpid, bdid; char ios_version[16]; char build_version[16];
    sim_mode mode; sim_os_state os; bool plugged; int battery; bool charging;
    uint64_t storage_total, storage_free;
    char data_dir[4096];                 /* the phone's user data, files on the host (S3's data.c) */
    char backup_password[128];           /* "" = backups not encrypted */
    /* NVRAM: access only through the functions below */
    struct sim_nvram nvram;              /* current values (what getenv sees) */
    struct sim_nvram nvram_saved;        /* what survives a reboot (saveenv) */

    /* --- added by S1 --- */
    char device_name[64];                /* "Alice's iPhone" */
    char device_class[16];               /* "iPhone" */
    char activation_state[32];           /* "Activated" */
    char phone_number[32];
    char wifi_address[18];
    bool passcode_set;                   /* PasswordProtected; backups need the phone unlocked */
    bool paired;                         /* this host's pair record is trusted by the phone */
    bool trust_pending;                  /* a Pair request waits for "Trust this computer" */
    double trust_after_s;                /* scenario: Trust tapped this long after the Pair; <0 never */
    sim_battery_policy battery_policy;
    double battery_dies_after_s;         /* with SIM_BATTERY_DIES, device seconds after start */
    bool sign_refused;                   /* the signing server refuses this device's firmware (S2) */
    double transfer_bytes_per_s;         /* 0 = unlimited; slow-transfer fault (modules call sim_throttle) */
    bool stuck_in_recovery;              /* boots into recovery whatever NVRAM says until a restore */
    uint32_t mux_id;                     /* usbmuxd DeviceID while attached there, else 0 */
    unsigned boot_count;                 /* times the phone booted (or tried to) */
    uint64_t data_seed; int data_files; uint64_t data_bytes;   /* scenario's data, for sim_data_seed */
};

struct sim_world;                        /* all devices, the lock, the scenario, dirs, time scale */
void sim_lock(struct sim_world *w);      /* one global mutex protects all device state */
void sim_unlock(struct sim_world *w);
void sim_wait_change(struct sim_world *w, double timeout_s); /* lock held; waits for any state change */
void sim_notify_change(struct sim_world *w);                 /* lock held; wakes sim_wait_change */
size_t sim_device_count(struct sim_world *w);
struct sim_device *sim_device_at(struct sim_world *w, size_t i);
struct sim_device *sim_device_by_ecid(struct sim_world *w, uint64_t ecid);
struct sim_device *sim_device_by_udid(struct sim_world *w, const char *udid);
const char *sim_world_dir(struct sim_world *w);          /* the daemon's private dir */
double sim_time_scale(struct sim_world *w);              /* device seconds per real second */
double sim_now(struct sim_world *w);                     /* device seconds since start */

/* Mode changes go through this (lock held): it updates usbmux attach/detach (normal and
 * restore modes appear on usbmuxd; recovery/DFU appear on the usb socket), wakes waiters,
 * and logs. A reboot/power-on follows the phone's rules: auto-boot true and OS whole ->
 * normal; otherwise recovery; OS NEEDS_DFU -> recovery that cannot boot. */
void sim_set_mode(struct sim_world *w, struct sim_device *d, sim_mode m);
void sim_reboot(struct sim_world *w, struct sim_device *d);   /* boots per NVRAM + OS state */
const char *sim_nvram_get(struct sim_device *d, const char *name);   /* NULL if unset */
void sim_nvram_set(struct sim_device *d, const char *name, const char *value);
void sim_nvram_unset(struct sim_device *d, const char *name);
void sim_nvram_save(struct sim_device *d);   /* only saved values survive a reboot/power loss */
/* The device's operation log, which tests read through the control socket:
 * one line per thing done to the phone, e.g. "enter-recovery", "erase", "restore-firmware ok".
 * May be called with or without the lock held (the log has a lock of its own). */
void sim_log(struct sim_world *w, struct sim_device *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fault injection: long operations call this at every chunk with their op name
 * ("backup", "backup-restore", "firmware-restore", "upload") and progress. It returns true
 * when a scheduled fault fired (unplug, power loss, cancel): the state change has already
 * been applied by S1's fault code; the caller must abort the operation at once.
 * Takes the lock itself (call it WITHOUT the lock held). */
bool sim_fault_hit(struct sim_world *w, struct sim_device *d, const char *op,
                   uint64_t done, uint64_t total);
/* Device time: sleeps device_seconds / time_scale of real time. */
void sim_sleep(struct sim_world *w, double device_seconds);
/* Slow-transfer fault: call after moving `bytes` of a transfer; sleeps as the device's
 * transfer_bytes_per_s says (no-op when unlimited). Call without the lock. */
void sim_throttle(struct sim_world *w, struct sim_device *d, uint64_t bytes);
/* True while d can still talk on usbmuxd in mode m (plugged and in that mode). Lock held. */
bool sim_device_reachable(struct sim_device *d, sim_mode m);

/* Services behind lockdownd StartService: handler runs in its own thread, owns fd (the
 * raw connection after usbmux Connect to the service port), must close it. */
typedef void (*sim_service_fn)(struct sim_world *w, struct sim_device *d, int fd);
void sim_service_register(const char *name, sim_service_fn fn); /* call from a constructor */

/* A fixed usbmux port served in a mode other than normal (e.g. S2's restored on 62078 in
 * restore mode). Same handler contract as services. From a constructor. */
void sim_port_register(sim_mode mode, uint16_t port, sim_service_fn fn);

/* Control socket commands (JSON objects through jansson, one per line): the handler gets
 * the request and writes zero or more JSON lines to fd (streaming progress), the last one
 * being the answer {"ok":true,...} or {"ok":false,"error":"..."}. Runs in its own thread,
 * WITHOUT the lock held. */
typedef void (*sim_control_fn)(struct sim_world *w, json_t *request, int fd);
void sim_control_register(const char *cmd, sim_control_fn fn);  /* from a constructor */
void sim_control_reply(int fd, json_t *obj);  /* writes one JSON line, steals obj */
/* Helpers for handlers: {"ok":false,"error":msg}; and the device a request names by
 * "device" (index number, ECID as number or "0x.." string, or UDID); defaults to device 0.
 * Returns NULL and replies with an error if there is no such device. Lock not held. */
void sim_control_error(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct sim_device *sim_control_device(struct sim_world *w, json_t *request, int fd);

/* The usb socket (recovery and DFU, for libsimusb): S1 listens on it and calls this, in a
 * new thread per connection, implemented by S2 in sim/simdevd/iboot.c: */
void sim_usb_serve(struct sim_world *w, int fd);

/* Parses a plist (XML or binary) received from a client. Use this instead of
 * plist_from_xml/plist_from_bin on anything from outside: libplist 2.2 overflows its
 * stack on deeply nested input, which this refuses first. 0 and *out set, or -1. */
typedef void *sim_plist_t;   /* a plist_t; world.h does not include libplist */
int sim_plist_from_bytes(const char *buf, size_t len, sim_plist_t *out);

/* Data (S3, sim/simdevd/data.c/.h): sim_data_seed, sim_data_digest, sim_data_erase. */

#endif
