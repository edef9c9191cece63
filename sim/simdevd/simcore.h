/* simcore.h: what the core files of simdevd (S1) share among themselves. Modules use
 * world.h only; nothing here is part of the module contract. */
#ifndef SIM_CORE_H
#define SIM_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <plist/plist.h>

#include "world.h"

#define SIM_MAX_DEVICES 16
#define SIM_MAX_FAULTS 64
#define SIM_MAX_TIMERS 64
#define SIM_MAX_CONNS 256
#define SIM_MAX_HOSTS 8

typedef enum {
    SIM_FAULT_UNPLUG, SIM_FAULT_POWER_LOSS, SIM_FAULT_CANCEL, SIM_FAULT_BATTERY_DIES
} sim_fault_kind;

/* One scheduled fault from the scenario. */
struct sim_fault {
    int device;                 /* index */
    sim_fault_kind kind;
    double at_s;                /* device seconds after start; <0: not time triggered */
    char op[32];                /* op name for progress triggers; "" = any op */
    double at_percent;          /* <0: unused */
    int64_t at_bytes;           /* <0: unused */
    double back_after_s;        /* <0: never comes back by itself */
    bool fired;
};

typedef enum { SIM_TIMER_PLUG, SIM_TIMER_POWER_ON, SIM_TIMER_TRUST, SIM_TIMER_BATTERY_DIES } sim_timer_kind;
struct sim_timer {
    bool used;
    int device;
    sim_timer_kind kind;
    double due;                 /* device seconds */
};

/* Per device state the modules do not see. */
struct sim_devpriv {
    char **log; size_t nlog, caplog;
    char trusted_hosts[SIM_MAX_HOSTS][64];   /* HostIDs the phone trusts */
    size_t ntrusted;
    bool trust_denied;           /* the person tapped "Don't Trust" */
    bool trust_granted;          /* the person tapped "Trust": the next Pair succeeds */
    char *public_key_pem;        /* the phone's RSA public key (PKCS#1 PEM), made on demand */
    char *private_key_pem;
};

struct sim_conn { bool used; int fd; int device; };

struct sim_world {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned long change_seq;
    struct sim_device devices[SIM_MAX_DEVICES];
    struct sim_devpriv priv[SIM_MAX_DEVICES];
    size_t ndevices;
    struct sim_fault faults[SIM_MAX_FAULTS];
    size_t nfaults;
    struct sim_timer timers[SIM_MAX_TIMERS];
    struct sim_conn conns[SIM_MAX_CONNS];
    char dir[4096];
    char name[128];             /* scenario name */
    double time_scale;
    double boot_seconds;        /* device seconds a (re)boot takes */
    struct timespec start;
    uint32_t next_mux_id;
    char buid[40];              /* this host's SystemBUID */
    char host_id[40];           /* this host's HostID (default pairing) */
    volatile int stopping;
    bool data_ready;            /* the scenario's user data is seeded (main.c's seeding thread) */
};

/* world.c */
int sim_world_init(struct sim_world *w, const char *dir);
void sim_world_free(struct sim_world *w);
struct sim_devpriv *sim_priv(struct sim_world *w, struct sim_device *d);
void sim_log_lock(void);     /* guards every device's operation log (taken by sim_log) */
void sim_log_unlock(void);
const char *sim_mode_name(sim_mode m);
const char *sim_os_name(sim_os_state o);
int sim_mode_parse(const char *s, sim_mode *out);
int sim_os_parse(const char *s, sim_os_state *out);
void sim_power_off(struct sim_world *w, struct sim_device *d, const char *why); /* lock held */
void sim_unplug(struct sim_world *w, struct sim_device *d);                     /* lock held */
void sim_plug(struct sim_world *w, struct sim_device *d);                       /* lock held */
void sim_timer_add(struct sim_world *w, struct sim_device *d, sim_timer_kind k, double delay_s); /* lock held */
void sim_timer_cancel(struct sim_world *w, struct sim_device *d, sim_timer_kind k);          /* lock held */
bool sim_device_trusts(struct sim_world *w, struct sim_device *d, const char *host_id); /* lock held */
void sim_device_trust_host(struct sim_world *w, struct sim_device *d, const char *host_id);
void sim_tap_trust(struct sim_world *w, struct sim_device *d, bool trust);             /* lock held */
/* Device connections (after usbmux Connect): unplug/power-off shuts them down. */
int sim_conn_track(struct sim_world *w, struct sim_device *d, int fd);
void sim_conn_untrack(struct sim_world *w, int slot);

/* Blocks until the devices' data is seeded; modules reach data only after this. */
void sim_wait_data_ready(struct sim_world *w);

/* scenario.c: fills an initialised world from a scenario JSON text. On error returns -1
 * and writes a message naming the problem into err. */
int sim_scenario_load(struct sim_world *w, const char *text, char *err, size_t errlen);
int sim_scenario_load_file(struct sim_world *w, const char *path, char *err, size_t errlen);

/* faults.c */
void *sim_scheduler_thread(void *arg);   /* runs timed faults and timers until stopping */

/* registry.c */
sim_service_fn sim_service_find(const char *name);
sim_service_fn sim_port_find(sim_mode mode, uint16_t port);
sim_control_fn sim_control_find(const char *cmd);
size_t sim_control_names(const char **out, size_t max);

/* plistio.c: lockdownd-style framing, a 32-bit big-endian length then an XML or binary
 * plist. recv returns 0 and a plist, or -1 (closed, truncated, too large or not a plist). */
#define SIM_PLIST_MAX (16u * 1024u * 1024u)
/* A client may sit idle this long between requests (a host holds lockdown open while it
 * runs a long backup); a message once started must finish within 5 s. */
#define SIM_IDLE_TIMEOUT_MS (10 * 60 * 1000)
int sim_plist_recv(int fd, plist_t *out, int timeout_ms);
int sim_plist_send(int fd, plist_t p);
int sim_read_full(int fd, void *buf, size_t len, int timeout_ms);
int sim_write_full(int fd, const void *buf, size_t len);
char *sim_plist_get_string(plist_t dict, const char *key);   /* malloc'd or NULL */

/* pairing.c */
int sim_pairing_init(struct sim_world *w);  /* BUID, HostID, pair records for paired devices */
int sim_pair_record_path(struct sim_world *w, const char *udid, char *out, size_t len);
const char *sim_device_public_key(struct sim_world *w, struct sim_device *d); /* lock optional */
int sim_pairing_prepare_record(struct sim_world *w, const char *udid);  /* lock not held */
void sim_pairing_trust_again(struct sim_world *w, struct sim_device *d); /* lock not held */
bool sim_pairing_forget_record(struct sim_world *w, const char *udid);  /* lock not held; true if a default record was pending */

/* servers */
void sim_usbmux_serve(struct sim_world *w, int fd);    /* usbmux.c: one client connection */
void sim_lockdown_serve(struct sim_world *w, struct sim_device *d, int fd); /* lockdown.c */
int sim_lockdown_alloc_port(struct sim_world *w, struct sim_device *d, sim_service_fn fn);
sim_service_fn sim_lockdown_port_fn(struct sim_world *w, struct sim_device *d, uint16_t port);
void sim_control_serve(struct sim_world *w, int fd);   /* control.c */
void sim_device_json_state(struct sim_world *w, struct sim_device *d, json_t *out); /* lock held */

/* data hooks (S3's data.c may not be linked in yet) */
int sim_core_data_seed(struct sim_device *d);
int sim_core_data_digest(struct sim_device *d, char out[65]);
void sim_core_usb_serve(struct sim_world *w, int fd);

#endif
