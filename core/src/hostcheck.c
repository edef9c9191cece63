/* Host checks (see hostcheck.h). Every fact is read from a file under the configured root
 * (host.sysroot) or from a library or tool's own answer; nothing is guessed. Each check
 * fills one rv_hostcheck and never fails as a whole: what cannot be read becomes a warn that
 * says so. */
#include "hostcheck.h"
#include "config.h"
#include "dirs.h"
#include "events.h"
#include "log.h"
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <inttypes.h>
#include <link.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- small helpers ---------------------------------------------------------------- */

const char *rv_check_status_name(rv_check_status s)
{
    switch (s) {
    case RV_CHECK_OK: return "ok";
    case RV_CHECK_WARN: return "warn";
    case RV_CHECK_FAIL: return "fail";
    }
    return "?";
}

static void set(rv_hostcheck *c, const char *name, rv_check_status st, const char *remedy, const char *fmt, ...)
    REVIVE_PRINTF(5, 6);
static void set(rv_hostcheck *c, const char *name, rv_check_status st, const char *remedy, const char *fmt, ...)
{
    snprintf(c->name, sizeof c->name, "%s", name);
    c->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
    snprintf(c->remedy, sizeof c->remedy, "%s", remedy ? remedy : "");
}

const char *rv_host_sysroot(void)
{
    const char *r = rv_config_get_or("host.sysroot", "/");
    return *r ? r : "/";
}

/* <root><abs>, without a doubled slash. */
static void host_path(char *buf, size_t cap, const char *abs)
{
    const char *root = rv_host_sysroot();
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    snprintf(buf, cap, "%.*s%s", (int)n, root, abs);
}

/* Read a small sysfs-like file into buf, trailing newline removed; false if absent. */
static bool read_small(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) {
        buf[0] = '\0';
        return false;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

static bool read_attr(const char *dir, const char *entry, const char *attr, char *buf, size_t cap)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/%s", dir, entry, attr);
    return read_small(p, buf, cap);
}

static void human(uint64_t bytes, char *buf, size_t cap)
{
    rv_format_bytes((double)bytes, buf, cap);
}

/* Run argv (no shell), capture up to cap-1 bytes of stdout+stderr, at most `timeout_s`.
 * Returns the exit status, or -1 with errno (ENOENT: no such program). */
static int run_capture(char *const argv[], char *out, size_t cap, int timeout_s)
{
    out[0] = '\0';
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        errno = rc;
        return -1;
    }
    size_t len = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ms = timeout_s * 1000L - ((now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L);
        if (left_ms <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        int pr = poll(&p, 1, (int)left_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        char tmp[1024];
        ssize_t n = read(pfd[0], tmp, sizeof tmp);
        if (n <= 0)
            break;
        size_t take = (size_t)n;
        if (len + take > cap - 1)
            take = cap - 1 - len;
        memcpy(out + len, tmp, take);
        len += take;
    }
    out[len] = '\0';
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 127 && len == 0) {
            errno = ENOENT;
            return -1;
        }
        return WEXITSTATUS(status);
    }
    errno = ETIMEDOUT;
    return -1;
}

/* ---- disk ------------------------------------------------------------------------- */

void rv_check_disk(rv_hostcheck *out, const char *path, uint64_t need, uint64_t margin)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path && *path ? path : ".");
    struct statvfs vfs;
    /* The place may not exist yet (a download about to be made): judge its parent. */
    while (statvfs(p, &vfs) != 0) {
        char *slash = strrchr(p, '/');
        if (errno != ENOENT || !slash) {
            set(out, "disk", RV_CHECK_WARN, "Check that the path exists and is readable.",
                "cannot read free space at %s: %s", path, strerror(errno));
            return;
        }
        if (slash == p)
            p[1] = '\0';
        else
            *slash = '\0';
    }
    uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    char a[32], n[32], m[32], nm[32];
    human(avail, a, sizeof a);
    human(need, n, sizeof n);
    human(margin, m, sizeof m);
    human(need + margin, nm, sizeof nm);
    char remedy[512];
    snprintf(remedy, sizeof remedy,
             "Free space so that at least %s is available on the file system holding %s (old "
             "firmware in revive's cache directory, old backups), or use a bigger disk.", nm, p);
    if (avail < need)
        set(out, "disk", RV_CHECK_FAIL, remedy, "%s free at %s; %s needed (plus a %s margin)", a, p, n, m);
    else if (avail < need + margin)
        set(out, "disk", RV_CHECK_WARN, remedy, "%s free at %s: the %s needed fits, but with less than the margin", a, p, n);
    else
        set(out, "disk", RV_CHECK_OK, NULL, "%s free at %s (%s needed with margin)", a, p, nm);
}

void rv_check_restore_disk(rv_hostcheck *out, const char *path, uint64_t firmware_bytes)
{
    uint64_t need = firmware_bytes * 2;
    if (need < RV_RESTORE_MIN_FREE)
        need = RV_RESTORE_MIN_FREE;
    rv_check_disk(out, path, need, 1000ull * 1000 * 1000);
    if (out->status == RV_CHECK_WARN)
        out->status = RV_CHECK_FAIL; /* a restore that runs out of space leaves the phone in recovery */
    snprintf(out->name, sizeof out->name, "disk.restore");
}

/* ---- power ------------------------------------------------------------------------ */

static bool is_ac_type(const char *t)
{
    return strcmp(t, "Mains") == 0 || strncmp(t, "USB", 3) == 0 || strcmp(t, "Wireless") == 0;
}

void rv_check_power(rv_hostcheck *out)
{
    char dir[4096];
    host_path(dir, sizeof dir, "/sys/class/power_supply");
    DIR *d = opendir(dir);
    if (!d) {
        set(out, "power", RV_CHECK_OK, NULL, "no power supplies listed in %s: a desktop or a virtual machine, on mains", dir);
        return;
    }
    char ac_name[64] = "", bat_name[64] = "", bat_status[32] = "", ups_name[64] = "";
    bool ac_seen = false, ac_online = false, on_battery = false, on_ups = false, battery = false;
    long capacity = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char type[32], v[32], scope[32];
        if (!read_attr(dir, e->d_name, "type", type, sizeof type))
            continue;
        /* Batteries of mice and headsets say scope=Device; only the computer's count. */
        if (read_attr(dir, e->d_name, "scope", scope, sizeof scope) && strcasecmp(scope, "Device") == 0)
            continue;
        if (is_ac_type(type)) {
            ac_seen = true;
            if (read_attr(dir, e->d_name, "online", v, sizeof v) && atoi(v) > 0) {
                ac_online = true;
                snprintf(ac_name, sizeof ac_name, "%s", e->d_name);
            }
        } else if (strcmp(type, "Battery") == 0) {
            battery = true;
            snprintf(bat_name, sizeof bat_name, "%s", e->d_name);
            if (read_attr(dir, e->d_name, "status", v, sizeof v)) {
                snprintf(bat_status, sizeof bat_status, "%s", v);
                if (strcmp(v, "Discharging") == 0)
                    on_battery = true;
            }
            if (read_attr(dir, e->d_name, "capacity", v, sizeof v))
                capacity = atol(v);
        } else if (strcmp(type, "UPS") == 0) {
            if (read_attr(dir, e->d_name, "status", v, sizeof v) && strcmp(v, "Discharging") == 0) {
                on_ups = true;
                snprintf(ups_name, sizeof ups_name, "%s", e->d_name);
            }
        }
    }
    closedir(d);
    char cap_text[32] = "";
    if (capacity >= 0)
        snprintf(cap_text, sizeof cap_text, " at %ld%%", capacity);
    if (on_ups) {
        set(out, "power", RV_CHECK_WARN,
            "Mains power is out: finish or postpone long restores until it is back; a computer that "
            "shuts down mid-restore leaves the phone in recovery mode.",
            "running on UPS battery (%s discharging)", ups_name);
    } else if (on_battery || (battery && ac_seen && !ac_online)) {
        set(out, "power", RV_CHECK_WARN,
            "Plug the computer into mains power before a restore or backup: a laptop that sleeps or "
            "dies mid-restore leaves the phone in recovery mode.",
            "on battery (%s %s%s)", bat_name, bat_status[0] ? bat_status : "no AC online", cap_text);
    } else if (ac_online) {
        if (battery)
            set(out, "power", RV_CHECK_OK, NULL, "on AC power (%s online; battery %s %s%s)", ac_name, bat_name,
                bat_status, cap_text);
        else
            set(out, "power", RV_CHECK_OK, NULL, "on AC power (%s online)", ac_name);
    } else if (battery) {
        set(out, "power", RV_CHECK_OK, NULL, "battery %s is %s%s; no AC adapter listed", bat_name,
            bat_status[0] ? bat_status : "in an unknown state", cap_text);
    } else {
        set(out, "power", RV_CHECK_OK, NULL, "no battery: a desktop on mains");
    }
}

/* ---- USB topology ----------------------------------------------------------------- */

const char *rv_usb_product_mode(uint16_t pid)
{
    if (pid == 0x1227)
        return "dfu";
    if (pid >= 0x1280 && pid <= 0x1283)
        return "recovery";
    if ((pid >= 0x1290 && pid <= 0x12AF) || pid == 0x8600) /* usbmuxd's udev rule: 12[9a][0-9a-f] */
        return "normal";
    return NULL;
}

static bool is_device_entry(const char *name)
{
    /* "1-2.3" is a device; "usb1" a root hub; "1-2.3:1.0" an interface. */
    return isdigit((unsigned char)name[0]) && strchr(name, '-') && !strchr(name, ':');
}

size_t rv_usb_apple_devices(rv_usb_dev *out, size_t cap)
{
    char dir[4096];
    host_path(dir, sizeof dir, "/sys/bus/usb/devices");
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_device_entry(e->d_name) || strlen(e->d_name) >= sizeof out->port)
            continue;
        char v[64];
        if (!read_attr(dir, e->d_name, "idVendor", v, sizeof v) || strcasecmp(v, "05ac") != 0)
            continue;
        if (n < cap) {
            rv_usb_dev *u = &out[n];
            memset(u, 0, sizeof *u);
            snprintf(u->port, sizeof u->port, "%s", e->d_name);
            u->vid = 0x05ac;
            if (read_attr(dir, e->d_name, "idProduct", v, sizeof v))
                u->pid = (uint16_t)strtoul(v, NULL, 16);
            if (read_attr(dir, e->d_name, "busnum", v, sizeof v))
                u->busnum = (unsigned)strtoul(v, NULL, 10);
            if (read_attr(dir, e->d_name, "devnum", v, sizeof v))
                u->devnum = (unsigned)strtoul(v, NULL, 10);
            read_attr(dir, e->d_name, "serial", u->serial, sizeof u->serial);
            for (const char *p = strchr(u->port, '-'); p && *p; p++)
                if (*p == '.')
                    u->hubs++;
            if (u->hubs > 0) {
                char parent[32];
                snprintf(parent, sizeof parent, "%s", u->port);
                char *dot = strrchr(parent, '.');
                if (dot)
                    *dot = '\0';
                read_attr(dir, parent, "product", u->hub_product, sizeof u->hub_product);
            }
        }
        n++;
    }
    closedir(d);
    return n;
}

/* The ECID in a recovery/DFU serial string ("... ECID:001A2B3C4D5E6F70 ..."). */
static bool serial_ecid(const char *serial, uint64_t *ecid)
{
    const char *p = strstr(serial, "ECID:");
    if (!p)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 5, &end, 16);
    if (end == p + 5 || errno)
        return false;
    *ecid = v;
    return true;
}

static bool udid_matches(const char *serial, const char *udid)
{
    if (strcasecmp(serial, udid) == 0)
        return true;
    char bare[128];
    size_t j = 0;
    for (size_t i = 0; udid[i] && j + 1 < sizeof bare; i++)
        if (udid[i] != '-')
            bare[j++] = udid[i];
    bare[j] = '\0';
    return j > 0 && strcasecmp(serial, bare) == 0;
}

#define MAX_APPLE 64

static bool dev_matches(const rv_usb_dev *u, const char *udid, uint64_t ecid)
{
    uint64_t e = 0;
    return (udid && *udid && udid_matches(u->serial, udid)) || (ecid && serial_ecid(u->serial, &e) && e == ecid);
}

bool rv_usb_find_device(const char *udid, uint64_t ecid, rv_usb_dev *out)
{
    rv_usb_dev devs[MAX_APPLE];
    size_t total = rv_usb_apple_devices(devs, MAX_APPLE);
    for (size_t i = 0; i < total && i < MAX_APPLE; i++) {
        if (dev_matches(&devs[i], udid, ecid)) {
            if (out)
                *out = devs[i];
            return true;
        }
    }
    return false;
}

static const char *hub_remedy(void)
{
    return "Plug the phone into a USB port on the computer itself, not a hub, dock, keyboard or monitor: "
           "hubs drop phones during the mode changes of a restore. On a station with a powered hub, "
           "use a hub with its own power supply and move a phone that fails to a computer port.";
}

void rv_check_usb_path(rv_hostcheck *out, const char *udid, uint64_t ecid)
{
    rv_usb_dev devs[MAX_APPLE];
    size_t total = rv_usb_apple_devices(devs, MAX_APPLE);
    size_t n = total < MAX_APPLE ? total : MAX_APPLE;
    bool any_criteria = (udid && *udid) || ecid;
    size_t matched = 0, behind = 0;
    char list[1536] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        rv_usb_dev *u = &devs[i];
        if (any_criteria && !dev_matches(u, udid, ecid))
            continue;
        matched++;
        const char *mode = rv_usb_product_mode(u->pid);
        int k;
        if (u->hubs > 0) {
            behind++;
            k = snprintf(list + len, sizeof list - len, "%s05ac:%04x (%s) on port %s behind %d hub%s%s%s%s", len ? "; " : "",
                         u->pid, mode ? mode : "other", u->port, u->hubs, u->hubs > 1 ? "s" : "",
                         u->hub_product[0] ? " (" : "", u->hub_product, u->hub_product[0] ? ")" : "");
        } else {
            k = snprintf(list + len, sizeof list - len, "%s05ac:%04x (%s) on root port %s", len ? "; " : "", u->pid,
                         mode ? mode : "other", u->port);
        }
        if (k > 0)
            len = (size_t)k + len < sizeof list ? len + (size_t)k : sizeof list - 1;
    }
    if (matched == 0) {
        if (any_criteria) {
            char who[160];
            if (ecid)
                snprintf(who, sizeof who, "ECID %" PRIX64, ecid);
            else
                snprintf(who, sizeof who, "UDID %s", udid);
            set(out, "usb.path", RV_CHECK_WARN,
                "Make sure the phone is plugged into this computer; a simulated or network-attached phone "
                "has no USB path to judge.",
                "the phone (%s) is not among the %zu Apple device%s on this computer's USB bus; cannot tell "
                "whether it sits behind a hub", who, total, total == 1 ? "" : "s");
        } else {
            set(out, "usb.path", RV_CHECK_OK, NULL, "no Apple device attached");
        }
        return;
    }
    if (behind)
        set(out, "usb.path", RV_CHECK_WARN, hub_remedy(), "%s", list);
    else
        set(out, "usb.path", RV_CHECK_OK, NULL, "%s", list);
}

/* ---- usbmuxd ---------------------------------------------------------------------- */

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    return 0;
}

static int connect_tcp(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int rc = -1, err = ECONNREFUSED;
    for (struct addrinfo *a = res; a && rc != 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = { .tv_sec = 2 };
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            rc = 0;
        else
            err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (rc != 0)
        errno = err;
    return rc;
}

static bool host_file_exists(const char *abs)
{
    char p[4096];
    host_path(p, sizeof p, abs);
    return access(p, F_OK) == 0;
}

void rv_check_usbmuxd(rv_hostcheck *out)
{
    const char *env = getenv("USBMUXD_SOCKET_ADDRESS");
    if (env && *env) {
        int rc = strncmp(env, "UNIX:", 5) == 0 ? connect_unix(env + 5) : connect_tcp(env);
        if (rc == 0)
            set(out, "usbmuxd", RV_CHECK_OK, NULL, "usbmuxd answers at USBMUXD_SOCKET_ADDRESS=%s", env);
        else
            set(out, "usbmuxd", RV_CHECK_FAIL,
                "Start the usbmuxd (or simdevd) that USBMUXD_SOCKET_ADDRESS names, or unset it to use the "
                "system's usbmuxd.",
                "USBMUXD_SOCKET_ADDRESS=%s does not answer: %s", env, strerror(errno));
        return;
    }
    char sock[4096];
    host_path(sock, sizeof sock, "/var/run/usbmuxd");
    if (connect_unix(sock) == 0) {
        set(out, "usbmuxd", RV_CHECK_OK, NULL, "usbmuxd answers at %s", sock);
        return;
    }
    int err = errno;
    bool installed = host_file_exists("/usr/sbin/usbmuxd") || host_file_exists("/usr/bin/usbmuxd") ||
                     host_file_exists("/sbin/usbmuxd") || host_file_exists("/usr/local/sbin/usbmuxd");
    if (!installed) {
        set(out, "usbmuxd", RV_CHECK_FAIL,
            "Install it: sudo apt install usbmuxd (it is started by udev when a phone is plugged in).",
            "usbmuxd is not installed: revive cannot talk to phones in normal mode (backups, info, entering recovery)");
        return;
    }
    rv_usb_dev devs[MAX_APPLE];
    size_t total = rv_usb_apple_devices(devs, MAX_APPLE);
    size_t normal = 0;
    for (size_t i = 0; i < total && i < MAX_APPLE; i++) {
        const char *m = rv_usb_product_mode(devs[i].pid);
        if (m && strcmp(m, "normal") == 0)
            normal++;
    }
    if (normal)
        set(out, "usbmuxd", RV_CHECK_FAIL,
            "Restart it: sudo systemctl restart usbmuxd; then unplug and replug the phone.",
            "usbmuxd is installed but does not answer at %s (%s) although %zu phone%s in normal mode %s attached",
            sock, strerror(err), normal, normal == 1 ? "" : "s", normal == 1 ? "is" : "are");
    else
        set(out, "usbmuxd", RV_CHECK_OK, NULL,
            "usbmuxd is installed and idle (%s: %s); udev starts it when a phone is plugged in", sock, strerror(err));
}

/* ---- permissions: udev rules, groups, device nodes --------------------------------- */

/* What the udev rules grant for one product id. */
typedef struct grant {
    char groups[8][32];
    size_t ngroups;
    bool uaccess, world;
    char files[512];      /* the rule files that grant it */
} grant;

/* Value of KEY=="..." or KEY="..." on a rule line (first occurrence); false if absent. */
static bool rule_value(const char *line, const char *key, char *buf, size_t cap)
{
    const char *p = line;
    size_t kl = strlen(key);
    while ((p = strstr(p, key)) != NULL) {
        const char *q = p + kl;
        while (*q == ' ')
            q++;
        if (q[0] == '=' && q[1] == '=')
            q += 2;
        else if (q[0] == '+' && q[1] == '=')
            q += 2;
        else if (q[0] == '=')
            q += 1;
        else {
            p += kl;
            continue;
        }
        while (*q == ' ')
            q++;
        if (*q != '"') {
            p += kl;
            continue;
        }
        q++;
        const char *end = strchr(q, '"');
        if (!end)
            return false;
        size_t n = (size_t)(end - q);
        if (n >= cap)
            n = cap - 1;
        memcpy(buf, q, n);
        buf[n] = '\0';
        return true;
    }
    return false;
}

/* udev patterns: shell globs separated by '|'. */
static bool udev_match(const char *pattern, const char *value)
{
    char alt[256];
    const char *p = pattern;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n < sizeof alt) {
            memcpy(alt, p, n);
            alt[n] = '\0';
            if (fnmatch(alt, value, 0) == 0)
                return true;
        }
        if (!bar)
            return false;
        p = bar + 1;
    }
}

static bool rule_applies(const char *line, uint16_t pid)
{
    char pat[256], v[32];
    if (!strcasestr(line, "05ac") && !strstr(line, "5ac/"))
        return false;
    if (strstr(line, "ACTION==\"remove\""))
        return false;
    if (rule_value(line, "ATTR{idProduct}", pat, sizeof pat) || rule_value(line, "ATTRS{idProduct}", pat, sizeof pat) ||
        rule_value(line, "SYSFS{idProduct}", pat, sizeof pat)) {
        snprintf(v, sizeof v, "%04x", pid);
        return udev_match(pat, v);
    }
    if (rule_value(line, "ENV{PRODUCT}", pat, sizeof pat)) {
        snprintf(v, sizeof v, "5ac/%x/0", pid);
        return udev_match(pat, v);
    }
    if (rule_value(line, "ENV{ID_MODEL_ID}", pat, sizeof pat)) {
        snprintf(v, sizeof v, "%04x", pid);
        return udev_match(pat, v);
    }
    return true; /* every Apple device */
}

static void grant_from_line(grant *g, const char *line, const char *file)
{
    char v[64];
    bool granted = false;
    if (rule_value(line, "GROUP", v, sizeof v) && g->ngroups < 8) {
        bool dup = false;
        for (size_t i = 0; i < g->ngroups; i++)
            dup = dup || strcmp(g->groups[i], v) == 0;
        if (!dup)
            snprintf(g->groups[g->ngroups++], sizeof g->groups[0], "%s", v);
        granted = true;
    }
    if (strstr(line, "TAG+=\"uaccess\"")) {
        g->uaccess = true;
        granted = true;
    }
    if (rule_value(line, "MODE", v, sizeof v)) {
        unsigned long mode = strtoul(v, NULL, 8);
        if ((mode & 06) == 06) {
            g->world = true;
            granted = true;
        }
    }
    if (granted && !strstr(g->files, file)) {
        size_t l = strlen(g->files);
        snprintf(g->files + l, sizeof g->files - l, "%s%s", l ? ", " : "", file);
    }
}

static void scan_rules(grant *g, uint16_t pid)
{
    static const char *const dirs[] = { "/etc/udev/rules.d", "/run/udev/rules.d", "/lib/udev/rules.d",
                                        "/usr/lib/udev/rules.d" };
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char dir[4096];
        host_path(dir, sizeof dir, dirs[i]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t nl = strlen(e->d_name);
            if (nl < 7 || strcmp(e->d_name + nl - 6, ".rules") != 0)
                continue;
            char path[4352];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            FILE *f = fopen(path, "re");
            if (!f)
                continue;
            char line[2048];
            while (fgets(line, sizeof line, f)) {
                const char *s = line;
                while (*s == ' ' || *s == '\t')
                    s++;
                if (*s == '#' || *s == '\n')
                    continue;
                if (rule_applies(s, pid))
                    grant_from_line(g, s, e->d_name);
            }
            fclose(f);
        }
        closedir(d);
    }
}

void rv_host_cred_self(rv_host_cred *cred)
{
    memset(cred, 0, sizeof *cred);
    cred->uid = geteuid();
    cred->gids[cred->ngids++] = getegid();
    gid_t tmp[64];
    int n = getgroups(64, tmp);
    for (int i = 0; i < n && cred->ngids < 64; i++)
        cred->gids[cred->ngids++] = tmp[i];
    const char *seat = getenv("XDG_SEAT");
    cred->local_session = seat && *seat;
    cred->use_access = true;
}

static bool cred_in_gid(const rv_host_cred *c, gid_t g)
{
    for (size_t i = 0; i < c->ngids; i++)
        if (c->gids[i] == g)
            return true;
    return false;
}

/* Group lookups with the _r calls: checks may run in several sessions' threads at once. */
typedef struct grinfo {
    gid_t gid;
    bool found;
    bool listed; /* the user is a member in the group database (a new login would give it) */
} grinfo;

static grinfo group_info(const char *name, uid_t uid)
{
    grinfo gi = { 0, false, false };
    char buf[16384], pbuf[4096];
    struct group gr, *grp = NULL;
    if (getgrnam_r(name, &gr, buf, sizeof buf, &grp) != 0 || !grp)
        return gi;
    gi.found = true;
    gi.gid = grp->gr_gid;
    struct passwd pw, *pwp = NULL;
    if (getpwuid_r(uid, &pw, pbuf, sizeof pbuf, &pwp) != 0 || !pwp)
        return gi;
    if (pwp->pw_gid == grp->gr_gid)
        gi.listed = true;
    for (char **m = grp->gr_mem; m && *m && !gi.listed; m++)
        gi.listed = strcmp(*m, pwp->pw_name) == 0;
    return gi;
}

static void group_name_of(gid_t gid, char *out, size_t cap)
{
    char buf[16384];
    struct group gr, *grp = NULL;
    if (getgrgid_r(gid, &gr, buf, sizeof buf, &grp) == 0 && grp)
        snprintf(out, cap, "%s", grp->gr_name);
    else
        snprintf(out, cap, "%u", (unsigned)gid);
}

static bool node_rw(const char *path, const rv_host_cred *c, char *why, size_t cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, cap, "%s: %s", path, strerror(errno));
        return false;
    }
    bool ok;
    if (c->use_access)
        ok = access(path, R_OK | W_OK) == 0;
    else if (c->uid == 0)
        ok = true;
    else if (st.st_uid == c->uid)
        ok = (st.st_mode & 0600) == 0600;
    else if (cred_in_gid(c, st.st_gid))
        ok = (st.st_mode & 0060) == 0060;
    else
        ok = (st.st_mode & 0006) == 0006;
    if (!ok) {
        char g[64];
        group_name_of(st.st_gid, g, sizeof g);
        snprintf(why, cap, "%s is mode %03o, group %s", path, (unsigned)(st.st_mode & 0777), g);
    }
    return ok;
}

static const char *rules_remedy(void)
{
    return "Install revive's rules: sudo install -m 0644 dist/udev/60-revive.rules /etc/udev/rules.d/ && "
           "sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=usb --attr-match=idVendor=05ac; "
           "then sudo usermod -aG plugdev $USER, log out and back in, and replug the phone (docs/station.md).";
}

void rv_check_usb_access_as(rv_hostcheck *out, const rv_host_cred *cred)
{
    /* Recovery (0x1281 stands for 0x1280-0x1283) and DFU (0x1227): libirecovery opens
     * them itself. Normal mode belongs to usbmuxd, which runs as its own user. */
    static const uint16_t pids[] = { 0x1227, 0x1281 };
    bool can[2] = { false, false };
    bool only_uaccess = false, not_member = false, relogin = false, no_rule = false;
    char group_missing[96] = "", group_name[32] = "", files[512] = "";
    for (size_t k = 0; k < 2; k++) {
        grant g;
        scan_rules(&g, pids[k]);
        if (g.files[0] && !strstr(files, g.files))
            snprintf(files + strlen(files), sizeof files - strlen(files), "%s%s", files[0] ? ", " : "", g.files);
        if (cred->uid == 0 || g.world)
            can[k] = true;
        for (size_t i = 0; i < g.ngroups && !can[k]; i++) {
            grinfo gi = group_info(g.groups[i], cred->uid);
            if (!gi.found) {
                snprintf(group_missing, sizeof group_missing, "%s", g.groups[i]);
                continue;
            }
            snprintf(group_name, sizeof group_name, "%s", g.groups[i]);
            if (cred_in_gid(cred, gi.gid))
                can[k] = true;
            else if (gi.listed)
                relogin = true;
            else
                not_member = true;
        }
        if (!can[k] && g.uaccess) {
            if (cred->local_session)
                can[k] = true;
            else
                only_uaccess = true;
        }
        if (!g.ngroups && !g.uaccess && !g.world)
            no_rule = true;
    }
    if (!(can[0] && can[1])) {
        char remedy[256];
        if (relogin) {
            snprintf(remedy, sizeof remedy, "Log out and back in (or run 'newgrp %s') so the new group membership applies.",
                     group_name);
            set(out, "usb.access", RV_CHECK_FAIL, remedy,
                "udev rules (%s) give Apple devices in recovery/DFU to group %s; you were added to it but this "
                "session does not have it yet", files, group_name);
        } else if (not_member) {
            snprintf(remedy, sizeof remedy, "Add yourself to the group: sudo usermod -aG %s $USER, then log out and back in.",
                     group_name);
            set(out, "usb.access", RV_CHECK_FAIL, remedy,
                "udev rules (%s) give Apple devices in recovery/DFU to group %s, and you are not in it", files, group_name);
        } else if (group_missing[0]) {
            snprintf(remedy, sizeof remedy,
                     "Create the group (sudo groupadd %s) and add yourself (sudo usermod -aG %s $USER), then log out and in.",
                     group_missing, group_missing);
            set(out, "usb.access", RV_CHECK_FAIL, remedy,
                "udev rules (%s) name group %s, which does not exist on this computer", files, group_missing);
        } else if (only_uaccess)
            set(out, "usb.access", RV_CHECK_WARN, rules_remedy(),
                "only logind's uaccess tag (%s) grants Apple devices in recovery/DFU, and only to a person "
                "logged in at this computer's seat; over ssh or as a service revive cannot open them", files);
        else
            set(out, "usb.access", RV_CHECK_FAIL, rules_remedy(),
                "no udev rule grants access to Apple devices in recovery/DFU (05ac:1227, 05ac:1280-1283)%s%s",
                no_rule ? "" : "; rules found: ", no_rule ? "" : files);
        return;
    }
    /* The rules allow it; now the nodes of the devices attached right now. */
    rv_usb_dev devs[MAX_APPLE];
    size_t total = rv_usb_apple_devices(devs, MAX_APPLE);
    size_t checked = 0;
    for (size_t i = 0; i < total && i < MAX_APPLE; i++) {
        const char *m = rv_usb_product_mode(devs[i].pid);
        if (!m || strcmp(m, "normal") == 0 || !devs[i].busnum)
            continue;
        char abs[64], node[4096], why[4400];
        snprintf(abs, sizeof abs, "/dev/bus/usb/%03u/%03u", devs[i].busnum, devs[i].devnum);
        host_path(node, sizeof node, abs);
        checked++;
        if (!node_rw(node, cred, why, sizeof why)) {
            set(out, "usb.access", RV_CHECK_FAIL,
                "Unplug and replug the phone so udev applies the rules to it; if it stays so, check the rules "
                "with: udevadm test $(udevadm info -q path -n /dev/bus/usb/BBB/DDD).",
                "the phone in %s mode on port %s cannot be opened: %s", m, devs[i].port, why);
            return;
        }
    }
    if (cred->uid == 0 && !files[0])
        set(out, "usb.access", RV_CHECK_OK, NULL,
            "running as root: every device can be opened (no udev rule would let another user; see docs/station.md)");
    else
        set(out, "usb.access", RV_CHECK_OK, NULL, "Apple devices in recovery/DFU can be opened (rules: %s)%s",
            files[0] ? files : "none needed as root", checked ? "; attached devices checked" : "");
}

void rv_check_usb_access(rv_hostcheck *out)
{
    rv_host_cred c;
    rv_host_cred_self(&c);
    rv_check_usb_access_as(out, &c);
}

/* ---- sleep inhibition through logind, with sd-bus loaded at run time -------------- */

/* The public sd_bus_error layout (systemd's sd-bus.h; stable ABI). */
typedef struct sdb_error {
    const char *name;
    const char *message;
    int need_free;
} sdb_error;

typedef struct sdb {
    void *lib;
    int (*open_system)(void **bus);
    int (*call_method)(void *bus, const char *dest, const char *path, const char *iface, const char *member,
                       sdb_error *err, void **reply, const char *types, ...);
    int (*message_read)(void *m, const char *types, ...);
    void *(*message_unref)(void *m);
    void *(*flush_close_unref)(void *bus);
    void (*error_free)(sdb_error *e);
} sdb;

struct rv_inhibit {
    int fd;
};

static bool sdb_load(sdb *s, char *why, size_t cap)
{
    memset(s, 0, sizeof *s);
    const char *name = rv_config_get_or("host.libsystemd", "libsystemd.so.0");
    s->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!s->lib) {
        snprintf(why, cap, "%s cannot be loaded (%s)", name, dlerror());
        return false;
    }
    *(void **)&s->open_system = dlsym(s->lib, "sd_bus_open_system");
    *(void **)&s->call_method = dlsym(s->lib, "sd_bus_call_method");
    *(void **)&s->message_read = dlsym(s->lib, "sd_bus_message_read");
    *(void **)&s->message_unref = dlsym(s->lib, "sd_bus_message_unref");
    *(void **)&s->flush_close_unref = dlsym(s->lib, "sd_bus_flush_close_unref");
    *(void **)&s->error_free = dlsym(s->lib, "sd_bus_error_free");
    if (!s->open_system || !s->call_method || !s->message_read || !s->message_unref || !s->flush_close_unref ||
        !s->error_free) {
        snprintf(why, cap, "%s lacks the sd-bus functions (too old?)", name);
        dlclose(s->lib);
        s->lib = NULL;
        return false;
    }
    return true;
}

static const char *inhibit_remedy(void)
{
    return "The computer may sleep during a long restore. Turn off automatic suspend in its power settings, "
           "or run revive under: systemd-inhibit --what=sleep:idle --why='revive restore' revive ...";
}

rv_inhibit *rv_inhibit_take(const char *why, rv_hostcheck *out)
{
    sdb s;
    char reason[512];
    if (!sdb_load(&s, reason, sizeof reason)) {
        set(out, "sleep.inhibit", RV_CHECK_WARN, inhibit_remedy(), "cannot block sleep: libsystemd: %s", reason);
        return NULL;
    }
    void *bus = NULL, *reply = NULL;
    int r = s.open_system(&bus);
    if (r < 0) {
        set(out, "sleep.inhibit", RV_CHECK_WARN, inhibit_remedy(),
            "cannot block sleep: the system bus is not reachable (%s); logind absent?", strerror(-r));
        dlclose(s.lib);
        return NULL;
    }
    sdb_error err = { NULL, NULL, 0 };
    r = s.call_method(bus, "org.freedesktop.login1", "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                      "Inhibit", &err, &reply, "ssss", "sleep:idle", "revive", why ? why : "revive run", "block");
    rv_inhibit *inh = NULL;
    if (r < 0) {
        set(out, "sleep.inhibit", RV_CHECK_WARN, inhibit_remedy(), "cannot block sleep: logind refused Inhibit: %s%s%s",
            err.name ? err.name : strerror(-r), err.message ? ": " : "", err.message ? err.message : "");
    } else {
        int fd = -1;
        r = s.message_read(reply, "h", &fd);
        int mine = r >= 0 && fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
        if (mine < 0) {
            set(out, "sleep.inhibit", RV_CHECK_WARN, inhibit_remedy(), "cannot block sleep: logind's answer held no lock");
        } else {
            inh = calloc(1, sizeof *inh);
            if (!inh) {
                close(mine);
                set(out, "sleep.inhibit", RV_CHECK_WARN, inhibit_remedy(), "cannot block sleep: out of memory");
            } else {
                inh->fd = mine;
                set(out, "sleep.inhibit", RV_CHECK_OK, NULL, "logind blocks sleep and idle while revive runs (inhibitor held)");
            }
        }
    }
    s.error_free(&err);
    if (reply)
        s.message_unref(reply);
    s.flush_close_unref(bus);
    dlclose(s.lib);
    return inh;
}

void rv_inhibit_release(rv_inhibit *inh)
{
    if (!inh)
        return;
    if (inh->fd >= 0)
        close(inh->fd); /* closing the descriptor ends the inhibitor */
    free(inh);
}

void rv_check_sleep_inhibit(rv_hostcheck *out)
{
    rv_inhibit *inh = rv_inhibit_take("revive doctor: checking that sleep can be blocked", out);
    if (inh)
        snprintf(out->message, sizeof out->message, "logind can block sleep and idle for the length of a run");
    rv_inhibit_release(inh);
}

/* ---- versions --------------------------------------------------------------------- */

/* Leading dotted numbers, then whether a suffix marks a later snapshot: git describe
 * ("-123-gabcdef") or a packaged snapshot ("+git2023..."). A Debian revision ("-3+b1")
 * is the same upstream version. */
static void version_parse(const char *v, long num[4], bool *later)
{
    memset(num, 0, 4 * sizeof num[0]);
    *later = false;
    const char *p = v;
    while (*p && !isdigit((unsigned char)*p))
        p++;
    for (int i = 0; i < 4 && isdigit((unsigned char)*p); i++) {
        num[i] = strtol(p, (char **)&p, 10);
        if (*p == '.')
            p++;
        else
            break;
    }
    if (strstr(p, "+git") || strstr(p, "~git"))
        *later = true;
    const char *g = strstr(p, "-g");
    if (g && p[0] == '-' && isdigit((unsigned char)p[1]) && isxdigit((unsigned char)g[2]))
        *later = true;
}

int rv_version_compare(const char *a, const char *b)
{
    long na[4], nb[4];
    bool la, lb;
    version_parse(a ? a : "", na, &la);
    version_parse(b ? b : "", nb, &lb);
    for (int i = 0; i < 4; i++)
        if (na[i] != nb[i])
            return na[i] < nb[i] ? -1 : 1;
    return la == lb ? 0 : la ? 1 : -1;
}

typedef struct libinfo {
    const char *check;              /* check name suffix */
    const char *label;
    const char *const *sonames;
    const char *version_fn;
    const char *debian_pkg;         /* for the remedy */
} libinfo;

static const char *const so_imd[] = { "libimobiledevice-1.0.so.6", "libimobiledevice.so.6", NULL };
static const char *const so_irecv[] = { "libirecovery-1.0.so.5", "libirecovery-1.0.so.4", "libirecovery-1.0.so.3", NULL };
static const char *const so_muxd[] = { "libusbmuxd-2.0.so.7", "libusbmuxd-2.0.so.6", "libusbmuxd.so.6", NULL };
static const char *const so_plist[] = { "libplist-2.0.so.4", "libplist-2.0.so.3", "libplist.so.3", NULL };

static const libinfo libs[] = {
    { "libimobiledevice", "libimobiledevice", so_imd, "libimobiledevice_version", "libimobiledevice6" },
    { "libirecovery", "libirecovery", so_irecv, "irecv_version", "libirecovery-1.0-3" },
    { "libusbmuxd", "libusbmuxd", so_muxd, "libusbmuxd_version", "libusbmuxd6" },
    { "libplist", "libplist", so_plist, "libplist_version", "libplist3" },
};

static void *open_lib(const libinfo *li, const char **which)
{
    for (const char *const *s = li->sonames; *s; s++) {
        void *h = dlopen(*s, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
        if (h) {
            *which = *s;
            return h;
        }
    }
    return NULL;
}

/* The Debian package that owns a file, and its version; false if dpkg cannot say. */
static bool dpkg_version_of_file(const char *file, char *pkg, size_t pcap, char *ver, size_t vcap)
{
    char out[1024];
    char *argv1[] = { "dpkg-query", "-S", (char *)file, NULL };
    if (run_capture(argv1, out, sizeof out, 5) != 0)
        return false;
    char *colon = strstr(out, ": ");
    if (!colon)
        return false;
    *colon = '\0';
    char *arch = strchr(out, ':'); /* "libplist3:amd64" */
    if (arch)
        *arch = '\0';
    char *comma = strchr(out, ','); /* several packages: take the first */
    if (comma)
        *comma = '\0';
    snprintf(pkg, pcap, "%s", out);
    char *argv2[] = { "dpkg-query", "-W", "-f=${Version}", pkg, NULL };
    if (run_capture(argv2, out, sizeof out, 5) != 0 || !out[0])
        return false;
    snprintf(ver, vcap, "%s", out);
    return true;
}

static void lib_version(void *h, const libinfo *li, char *ver, size_t vcap, char *how, size_t hcap)
{
    const char *(*fn)(void);
    *(void **)&fn = dlsym(h, li->version_fn);
    if (fn && fn()) {
        snprintf(ver, vcap, "%s", fn());
        snprintf(how, hcap, "%s()", li->version_fn);
        return;
    }
    struct link_map *lm = NULL;
    char real[4096], pkg[128];
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && realpath(lm->l_name, real) &&
        dpkg_version_of_file(real, pkg, sizeof pkg, ver, vcap)) {
        snprintf(how, hcap, "Debian package %s", pkg);
        return;
    }
    snprintf(ver, vcap, "unknown");
    snprintf(how, hcap, "no %s() and no Debian package", li->version_fn);
}

typedef struct irecv_row {
    const char *product_type;
    const char *hardware_model;
    unsigned int board_id;
    unsigned int chip_id;
    const char *display_name;
} irecv_row;

size_t rv_irecovery_unknown_models(const rv_model **out, size_t cap)
{
    const char *so = NULL;
    void *h = open_lib(&libs[1], &so);
    if (!h)
        return (size_t)-1;
    const irecv_row *(*all)(void);
    *(void **)&all = dlsym(h, "irecv_devices_get_all");
    if (!all) {
        dlclose(h);
        return (size_t)-1;
    }
    const irecv_row *rows = all();
    size_t n = 0;
    for (size_t i = 0; i < rv_model_count(); i++) {
        const rv_model *m = rv_model_at(i);
        bool known = false;
        for (const irecv_row *r = rows; r && r->product_type && !known; r++)
            known = r->hardware_model && r->chip_id == m->cpid && r->board_id == m->bdid &&
                    strcasecmp(r->hardware_model, m->board) == 0;
        if (!known) {
            if (n < cap)
                out[n] = m;
            n++;
        }
    }
    dlclose(h);
    return n;
}

static void check_irecovery_models(rv_hostcheck *c, const char *ver)
{
    const rv_model *unknown[256];
    size_t n = rv_irecovery_unknown_models(unknown, 256);
    if (n == (size_t)-1 || n == 0)
        return;
    size_t len = strlen(c->message);
    int k = snprintf(c->message + len, sizeof c->message - len,
                     "; it does not know %zu model%s, so idevicerestore and irecovery built on it cannot identify them "
                     "in recovery or DFU mode:", n, n == 1 ? "" : "s");
    if (k > 0)
        len += (size_t)k;
    for (size_t i = 0; i < n && i < 256 && len < sizeof c->message; i++) {
        k = snprintf(c->message + len, sizeof c->message - len, " %s", unknown[i]->product_type);
        if (k > 0)
            len += (size_t)k;
    }
    c->status = RV_CHECK_WARN;
    snprintf(c->remedy, sizeof c->remedy,
             "For these models install a newer libirecovery (from source: https://github.com/libimobiledevice/libirecovery, "
             "or a newer distribution's package) and an idevicerestore built against it; revive's own model "
             "table still gives the button sequences for them. Installed: %s.", ver);
}

static void check_idevicerestore(rv_hostcheck *c)
{
    const char *tool = rv_config_get_or("usb.idevicerestore", "idevicerestore");
    char out[2048], ver[128] = "";
    char *argv[] = { (char *)tool, "--version", NULL };
    int rc = run_capture(argv, out, sizeof out, 10);
    if (rc < 0 && errno == ENOENT) {
        set(c, "versions.idevicerestore", RV_CHECK_FAIL,
            "Install it (sudo apt install idevicerestore) or name a build with -o usb.idevicerestore=PATH.",
            "idevicerestore (%s) not found: firmware restores cannot run", tool);
        return;
    }
    char *p = strstr(out, "idevicerestore ");
    if (p) {
        p += strlen("idevicerestore ");
        size_t n = strcspn(p, " \n\r\t");
        snprintf(ver, sizeof ver, "%.*s", (int)(n < sizeof ver ? n : sizeof ver - 1), p);
    }
    if (!ver[0] || !isdigit((unsigned char)ver[0])) {
        /* Builds without --version: the package says. */
        char *dq[] = { "dpkg-query", "-W", "-f=${Version}", "idevicerestore", NULL };
        if (run_capture(dq, out, sizeof out, 5) == 0 && out[0])
            snprintf(ver, sizeof ver, "%s", out);
        else
            snprintf(ver, sizeof ver, "unknown");
    }
    if (strcmp(ver, "unknown") != 0 && rv_version_compare(ver, "1.0.0") <= 0)
        set(c, "versions.idevicerestore", RV_CHECK_WARN,
            "To restore iOS 14.5 or later, build idevicerestore from git (https://github.com/libimobiledevice/idevicerestore) "
            "with a current libirecovery and libimobiledevice, then: -o usb.idevicerestore=/usr/local/bin/idevicerestore.",
            "idevicerestore %s (%s) cannot restore iOS 14.5 and later (nor identify models its libirecovery does not know)",
            ver, tool);
    else
        set(c, "versions.idevicerestore", RV_CHECK_OK, NULL, "idevicerestore %s (%s)", ver, tool);
}

size_t rv_check_versions(rv_hostcheck *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0] && n < cap; i++, n++) {
        const libinfo *li = &libs[i];
        char name[48];
        snprintf(name, sizeof name, "versions.%s", li->check);
        const char *so = NULL;
        void *h = open_lib(li, &so);
        if (!h) {
            char remedy[256];
            snprintf(remedy, sizeof remedy, "Install it: sudo apt install %s", li->debian_pkg);
            set(&out[n], name, RV_CHECK_FAIL, remedy, "%s is not installed (tried %s and others)", li->label, li->sonames[0]);
            continue;
        }
        char ver[128], how[160];
        lib_version(h, li, ver, sizeof ver, how, sizeof how);
        dlclose(h);
        set(&out[n], name, RV_CHECK_OK, NULL, "%s %s (%s, from %s)", li->label, ver, so, how);
        if (strcmp(li->check, "libirecovery") == 0)
            check_irecovery_models(&out[n], ver);
    }
    if (n < cap)
        check_idevicerestore(&out[n++]);
    return n;
}

/* ---- revive's directories --------------------------------------------------------- */

void rv_check_dir(rv_hostcheck *out, int which)
{
    const char *label = which == REVIVE_DIR_CACHE ? "cache" : which == REVIVE_DIR_STATE ? "state"
                      : which == REVIVE_DIR_DATA ? "data" : which == REVIVE_DIR_CONFIG ? "config" : "runtime";
    char name[48];
    snprintf(name, sizeof name, "dirs.%s", label);
    const char *dir = rv_dir(which);
    if (!dir) {
        set(out, name, RV_CHECK_FAIL, "Check the XDG_*_HOME variables and the permissions of your home directory.",
            "revive's %s directory cannot be created", label);
        return;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.doctor-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        char remedy[4200];
        snprintf(remedy, sizeof remedy, "Make it writable for you: chown -R $USER %s && chmod u+rwx %s", dir, dir);
        set(out, name, RV_CHECK_FAIL, remedy, "%s directory %s is not writable: %s", label, dir, strerror(errno));
        return;
    }
    close(fd);
    unlink(probe);
    /* The cache holds firmware (up to ~8 GB each); the state holds journals. */
    uint64_t need = which == REVIVE_DIR_CACHE ? 1000ull * 1000 * 1000 : 16ull * 1000 * 1000;
    uint64_t margin = which == REVIVE_DIR_CACHE ? 9000ull * 1000 * 1000 : 240ull * 1000 * 1000;
    rv_check_disk(out, dir, need, margin);
    char msg[sizeof out->message];
    snprintf(msg, sizeof msg, "%s directory %s is writable; %s", label, dir, out->message);
    snprintf(out->message, sizeof out->message, "%s", msg);
    snprintf(out->name, sizeof out->name, "%s", name);
}

/* ---- device facts ------------------------------------------------------------------ */

void rv_check_device_battery(rv_hostcheck *out, int percent, bool charging, int min_percent)
{
    char remedy[256];
    snprintf(remedy, sizeof remedy,
             "Charge the phone to at least %d%% before going on (a phone that dies mid-restore comes back in "
             "recovery mode); leave it on the charger or on a port that charges.", min_percent);
    if (percent < 0)
        set(out, "device.battery", RV_CHECK_WARN, "Check the battery on the phone's screen before going on.",
            "the phone's battery level is unknown (recovery/DFU mode does not report it)");
    else if (percent < min_percent && !charging)
        set(out, "device.battery", RV_CHECK_FAIL, remedy, "battery at %d%%, not charging (needs %d%%)", percent, min_percent);
    else if (percent < min_percent)
        set(out, "device.battery", RV_CHECK_WARN, remedy, "battery at %d%%, charging (needs %d%%)", percent, min_percent);
    else
        set(out, "device.battery", RV_CHECK_OK, NULL, "battery at %d%%%s", percent, charging ? ", charging" : "");
}

void rv_check_device_storage(rv_hostcheck *out, uint64_t free_bytes, uint64_t need_bytes)
{
    char f[32], n[32], remedy[256];
    human(free_bytes, f, sizeof f);
    human(need_bytes, n, sizeof n);
    snprintf(remedy, sizeof remedy,
             "Free at least %s on the phone (Settings > General > iPhone Storage: offload apps, delete videos), "
             "or restore a smaller backup.", n);
    if (free_bytes < need_bytes)
        set(out, "device.storage", RV_CHECK_FAIL, remedy, "%s free on the phone; %s needed", f, n);
    else
        set(out, "device.storage", RV_CHECK_OK, NULL, "%s free on the phone (%s needed)", f, n);
}

/* ---- all -------------------------------------------------------------------------- */

size_t rv_host_checks_all(rv_hostcheck *out, size_t cap)
{
    size_t n = 0;
    if (n < cap)
        rv_check_dir(&out[n++], REVIVE_DIR_CACHE);
    if (n < cap)
        rv_check_dir(&out[n++], REVIVE_DIR_STATE);
    if (n < cap)
        rv_check_power(&out[n++]);
    if (n < cap)
        rv_check_sleep_inhibit(&out[n++]);
    if (n < cap)
        rv_check_usbmuxd(&out[n++]);
    if (n < cap)
        rv_check_usb_access(&out[n++]);
    if (n < cap)
        rv_check_usb_path(&out[n++], NULL, 0);
    if (n < cap)
        n += rv_check_versions(&out[n], cap - n);
    return n;
}
