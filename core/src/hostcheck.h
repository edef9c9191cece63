/* Host checks: the facts about this computer that decide whether a long restore or backup
 * will be interrupted, each as ok / warn / fail with what was found and the exact remedy.
 * `revive doctor` runs them all; the playbook runtime runs the ones a step needs (disk
 * space, power, the phone's USB path) and its policy decides what a warn means.
 *
 * Facts are read from the file system under a root directory, config key "host.sysroot"
 * (default "/"): /sys/class/power_supply, /sys/bus/usb/devices, /dev/bus/usb, the udev
 * rules directories, /var/run/usbmuxd and the usbmuxd binary. Tests point it at a tree
 * they build, so the checks themselves run unchanged (nothing is mocked). */
#ifndef RV_HOSTCHECK_H
#define RV_HOSTCHECK_H
#include "models.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum rv_check_status { RV_CHECK_OK = 0, RV_CHECK_WARN = 1, RV_CHECK_FAIL = 2 } rv_check_status;

typedef struct rv_hostcheck {
    char name[48];           /* stable id: "power", "disk", "usb.path", "versions.libirecovery" */
    rv_check_status status;
    char message[2048];      /* what was found */
    char remedy[768];        /* what to do; empty when ok */
} rv_hostcheck;

const char *rv_check_status_name(rv_check_status s); /* "ok", "warn", "fail" */

/* The root the facts are read under (config host.sysroot, default "/"). */
const char *rv_host_sysroot(void);

/* Free space at `path` (or its nearest existing parent): fail below need, warn below
 * need + margin, else ok. Bytes. */
void rv_check_disk(rv_hostcheck *out, const char *path, uint64_t need, uint64_t margin);
/* Before a firmware restore: at least RV_RESTORE_MIN_FREE, and twice the firmware
 * (idevicerestore unpacks the root file system beside it), plus a 1 GB margin. */
#define RV_RESTORE_MIN_FREE (10ull * 1000 * 1000 * 1000)
void rv_check_restore_disk(rv_hostcheck *out, const char *path, uint64_t firmware_bytes);

/* On AC power, not on battery: /sys/class/power_supply/<x>/{type,online,status,capacity,scope}.
 * Discharging system battery or UPS -> warn; AC online or no battery -> ok. */
void rv_check_power(rv_hostcheck *out);

/* An Apple device on the USB bus, from /sys/bus/usb/devices. */
typedef struct rv_usb_dev {
    char port[32];         /* sysfs name: "1-2.3" = bus 1, root port 2, hub port 3 */
    uint16_t vid, pid;
    unsigned busnum, devnum;
    int hubs;              /* hubs between the computer's root port and the device */
    char serial[256];      /* UDID (normal mode) or "CPID:... ECID:..." (recovery/DFU) */
    char hub_product[64];  /* the nearest hub's product string, if any */
} rv_usb_dev;
/* Every Apple (05ac) device; returns how many there are (may exceed cap). */
size_t rv_usb_apple_devices(rv_usb_dev *out, size_t cap);
/* The Apple device with this UDID (normal mode) or ECID (recovery/DFU); false if it is not
 * on this computer's bus. For naming a phone by its port ("hub port 2") in prompts. */
bool rv_usb_find_device(const char *udid, uint64_t ecid, rv_usb_dev *out);
/* Mode of an Apple USB product id: "dfu", "recovery", "normal" (usbmuxd), or NULL. */
const char *rv_usb_product_mode(uint16_t pid);
/* Whether the phone sits behind a hub. Found by UDID (normal mode; the USB serial is the
 * UDID without dashes) or by ECID (the ECID: field of the recovery/DFU serial); with
 * neither, every Apple device attached is judged. Behind a hub -> warn. */
void rv_check_usb_path(rv_hostcheck *out, const char *udid, uint64_t ecid);

/* usbmuxd: USBMUXD_SOCKET_ADDRESS ("UNIX:/path" or "host:port") or <root>/var/run/usbmuxd
 * answers; or not installed; or installed and idle (udev starts it on plug-in). */
void rv_check_usbmuxd(rv_hostcheck *out);

/* Permission to open Apple devices in recovery and DFU (libirecovery talks to them
 * directly; usbmuxd owns them in normal mode): udev rules that grant a group, uaccess or a
 * mode; membership of that group; the /dev/bus/usb nodes of attached devices. */
typedef struct rv_host_cred {
    uid_t uid;
    gid_t gids[64];        /* primary and supplementary groups */
    size_t ngids;
    bool local_session;    /* logind's uaccess applies (a person at this computer's seat) */
    bool use_access;       /* judge device nodes with access(2) (ACLs included) */
} rv_host_cred;
void rv_host_cred_self(rv_host_cred *cred);  /* this process; use_access = true */
void rv_check_usb_access(rv_hostcheck *out);     /* as this process */
void rv_check_usb_access_as(rv_hostcheck *out, const rv_host_cred *cred); /* tests: mode bits only */

/* Sleep and idle inhibition through logind (org.freedesktop.login1 Inhibit, "block"),
 * reached through libsystemd's sd-bus loaded at run time (config host.libsystemd, default
 * "libsystemd.so.0"). Absent library or logind -> warn with a remedy. */
typedef struct rv_inhibit rv_inhibit;
/* Take an inhibitor held until rv_inhibit_release; NULL when it cannot (out says why). */
rv_inhibit *rv_inhibit_take(const char *why, rv_hostcheck *out);
void rv_inhibit_release(rv_inhibit *inh);
/* Take one and release it at once: whether a run will be able to. */
void rv_check_sleep_inhibit(rv_hostcheck *out);

/* Versions of libimobiledevice, libirecovery, libusbmuxd, libplist (their own version
 * functions where they have one, else the Debian package through dpkg-query) and
 * idevicerestore (config usb.idevicerestore, default "idevicerestore" on PATH), with what
 * they cannot do. Fills up to cap checks; returns how many. */
#define RV_VERSION_CHECKS 5
size_t rv_check_versions(rv_hostcheck *out, size_t cap);
/* Models of our table the installed libirecovery does not know (it cannot identify them in
 * recovery/DFU). Returns how many (may exceed cap), or (size_t)-1 if libirecovery cannot be
 * loaded. */
size_t rv_irecovery_unknown_models(const rv_model **out, size_t cap);
/* -1, 0, 1 as version a is older, the same, newer than b ("1.0.0", "1.0.0-123-gabc",
 * "1.0.0+git20230101-1", "1.3.0-6+b3": a Debian revision is not newer). */
int rv_version_compare(const char *a, const char *b);

/* A revive directory (revive_dir: REVIVE_DIR_CACHE, REVIVE_DIR_STATE, ...) exists, is
 * writable, and has room: the cache wants 10 GB (firmware), the state 256 MB (journals). */
void rv_check_dir(rv_hostcheck *out, int which);

/* Device facts the runtime has read (transport info), judged with the same shape, so a
 * playbook's preflight reads alike for host and phone. percent < 0: unknown (warn).
 * Battery: fail below min_percent when not charging, warn below it while charging (it
 * will get there), ok at or above it. */
void rv_check_device_battery(rv_hostcheck *out, int percent, bool charging, int min_percent);
/* Free storage on the phone against what is about to be written (a backup to restore). */
void rv_check_device_storage(rv_hostcheck *out, uint64_t free_bytes, uint64_t need_bytes);

/* Everything doctor runs: dirs, power, sleep, usbmuxd, access, USB paths, versions. */
#define RV_HOST_CHECKS_MAX 16
size_t rv_host_checks_all(rv_hostcheck *out, size_t cap);
#endif
