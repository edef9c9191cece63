/* world.c: the simulated phones' state and the rules by which they change mode.
 *
 * A phone is in one mode at a time. Normal and restore mode are visible on usbmuxd (a
 * fresh DeviceID at every attach, as usbmuxd does on re-enumeration); recovery and DFU are
 * visible on the usb socket (S2's iboot.c reads d->mode and d->plugged). Unplugging or
 * powering off shuts down every open device connection, so a service in the middle of a
 * transfer sees the cable go exactly as a host would.
 *
 * NVRAM has two layers: the current values (setenv) and the saved ones (saveenv). A boot,
 * reboot or power loss starts again from the saved layer.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "simcore.h"

static const char *mode_names[] = { "off", "normal", "recovery", "dfu", "restore" };
static const char *os_names[] = { "whole", "mild", "severe", "needs-dfu" };

const char *sim_mode_name(sim_mode m)
{
    return (unsigned)m < sizeof mode_names / sizeof *mode_names ? mode_names[m] : "?";
}

const char *sim_os_name(sim_os_state o)
{
    return (unsigned)o < sizeof os_names / sizeof *os_names ? os_names[o] : "?";
}

int sim_mode_parse(const char *s, sim_mode *out)
{
    for (size_t i = 0; i < sizeof mode_names / sizeof *mode_names; i++)
        if (s && strcmp(s, mode_names[i]) == 0) { *out = (sim_mode)i; return 0; }
    return -1;
}

int sim_os_parse(const char *s, sim_os_state *out)
{
    for (size_t i = 0; i < sizeof os_names / sizeof *os_names; i++)
        if (s && strcmp(s, os_names[i]) == 0) { *out = (sim_os_state)i; return 0; }
    return -1;
}

int sim_world_init(struct sim_world *w, const char *dir)
{
    memset(w, 0, sizeof *w);
    if (strlen(dir) >= sizeof w->dir)
        return -1;
    strcpy(w->dir, dir);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->changed, &ca);
    pthread_condattr_destroy(&ca);
    clock_gettime(CLOCK_MONOTONIC, &w->start);
    w->time_scale = 1.0;
    w->boot_seconds = 20.0;
    w->next_mux_id = 1;
    return 0;
}

void sim_world_free(struct sim_world *w)
{
    for (size_t i = 0; i < SIM_MAX_DEVICES; i++) {
        struct sim_devpriv *p = &w->priv[i];
        for (size_t j = 0; j < p->nlog; j++)
            free(p->log[j]);
        free(p->log);
        free(p->public_key_pem);
        free(p->private_key_pem);
    }
}

struct sim_devpriv *sim_priv(struct sim_world *w, struct sim_device *d)
{
    return &w->priv[d->index];
}

void sim_lock(struct sim_world *w) { pthread_mutex_lock(&w->lock); }
void sim_unlock(struct sim_world *w) { pthread_mutex_unlock(&w->lock); }

void sim_notify_change(struct sim_world *w)
{
    w->change_seq++;
    pthread_cond_broadcast(&w->changed);
}

void sim_wait_change(struct sim_world *w, double timeout_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_s < 0)
        timeout_s = 0;
    double whole = floor(timeout_s);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((timeout_s - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&w->changed, &w->lock, &ts);
}

size_t sim_device_count(struct sim_world *w) { return w->ndevices; }

struct sim_device *sim_device_at(struct sim_world *w, size_t i)
{
    return i < w->ndevices ? &w->devices[i] : NULL;
}

struct sim_device *sim_device_by_ecid(struct sim_world *w, uint64_t ecid)
{
    for (size_t i = 0; i < w->ndevices; i++)
        if (w->devices[i].ecid == ecid)
            return &w->devices[i];
    return NULL;
}

struct sim_device *sim_device_by_udid(struct sim_world *w, const char *udid)
{
    for (size_t i = 0; udid && i < w->ndevices; i++)
        if (strcasecmp(w->devices[i].udid, udid) == 0)
            return &w->devices[i];
    return NULL;
}

const char *sim_world_dir(struct sim_world *w) { return w->dir; }
double sim_time_scale(struct sim_world *w) { return w->time_scale; }

double sim_now(struct sim_world *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double real = (double)(ts.tv_sec - w->start.tv_sec) + (double)(ts.tv_nsec - w->start.tv_nsec) / 1e9;
    return real * w->time_scale;
}

static void real_sleep(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void sim_sleep(struct sim_world *w, double device_seconds)
{
    real_sleep(device_seconds / w->time_scale);
}

void sim_throttle(struct sim_world *w, struct sim_device *d, uint64_t bytes)
{
    sim_lock(w);
    double rate = d->transfer_bytes_per_s;
    sim_unlock(w);
    if (rate > 0)
        sim_sleep(w, (double)bytes / rate);
}

void sim_wait_data_ready(struct sim_world *w)
{
    sim_lock(w);
    while (!w->data_ready && !w->stopping)
        sim_wait_change(w, 0.1);
    sim_unlock(w);
}

bool sim_device_reachable(struct sim_device *d, sim_mode m)
{
    return d->plugged && d->mode == m;
}

/* ---- operation log ---- */

/* The log has its own lock, so modules may log with or without the world lock held. */
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
void sim_log_lock(void) { pthread_mutex_lock(&log_mutex); }
void sim_log_unlock(void) { pthread_mutex_unlock(&log_mutex); }

void sim_log(struct sim_world *w, struct sim_device *d, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* Lines may quote what a client sent: keep them printable ASCII so the log stays
     * valid JSON text for the control socket. */
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    if (!d)
        return;
    char *copy = malloc(strlen(line) + 24);
    if (!copy)
        return;
    sprintf(copy, "%.3f %s", sim_now(w), line);
    struct sim_devpriv *p = sim_priv(w, d);
    sim_log_lock();
    if (p->nlog == p->caplog) {
        size_t cap = p->caplog ? p->caplog * 2 : 32;
        char **n = realloc(p->log, cap * sizeof *n);
        if (!n) {
            sim_log_unlock();
            free(copy);
            return;
        }
        p->log = n;
        p->caplog = cap;
    }
    p->log[p->nlog++] = copy;
    sim_log_unlock();
    if (getenv("SIMDEVD_VERBOSE"))
        fprintf(stderr, "simdevd: [%s] %s\n", d->udid, copy);
}

/* ---- NVRAM ---- */

static struct sim_nvram_var *nvram_find(struct sim_nvram *nv, const char *name)
{
    for (size_t i = 0; i < nv->count; i++)
        if (strcmp(nv->vars[i].name, name) == 0)
            return &nv->vars[i];
    return NULL;
}

const char *sim_nvram_get(struct sim_device *d, const char *name)
{
    struct sim_nvram_var *v = nvram_find(&d->nvram, name);
    return v ? v->value : NULL;
}

void sim_nvram_set(struct sim_device *d, const char *name, const char *value)
{
    if (!name || !value || strlen(name) >= sizeof d->nvram.vars[0].name)
        return;
    struct sim_nvram_var *v = nvram_find(&d->nvram, name);
    if (!v) {
        if (d->nvram.count == SIM_NVRAM_MAX)
            return;
        v = &d->nvram.vars[d->nvram.count++];
        snprintf(v->name, sizeof v->name, "%s", name);
    }
    snprintf(v->value, sizeof v->value, "%s", value);
}

void sim_nvram_unset(struct sim_device *d, const char *name)
{
    struct sim_nvram_var *v = nvram_find(&d->nvram, name);
    if (!v)
        return;
    size_t i = (size_t)(v - d->nvram.vars);
    memmove(&d->nvram.vars[i], &d->nvram.vars[i + 1], (d->nvram.count - i - 1) * sizeof *v);
    d->nvram.count--;
}

void sim_nvram_save(struct sim_device *d)
{
    d->nvram_saved = d->nvram;
}

/* ---- connections ---- */

int sim_conn_track(struct sim_world *w, struct sim_device *d, int fd)
{
    for (int i = 0; i < SIM_MAX_CONNS; i++) {
        if (!w->conns[i].used) {
            w->conns[i].used = true;
            w->conns[i].fd = fd;
            w->conns[i].device = d->index;
            return i;
        }
    }
    return -1;
}

void sim_conn_untrack(struct sim_world *w, int slot)
{
    if (slot >= 0 && slot < SIM_MAX_CONNS)
        w->conns[slot].used = false;
}

static void drop_connections(struct sim_world *w, struct sim_device *d)
{
    for (int i = 0; i < SIM_MAX_CONNS; i++)
        if (w->conns[i].used && w->conns[i].device == d->index)
            shutdown(w->conns[i].fd, SHUT_RDWR);
}

/* ---- modes ---- */

static bool on_usbmux(sim_mode m)
{
    return m == SIM_MODE_NORMAL || m == SIM_MODE_RESTORE;
}

/* Attach or detach on usbmuxd after a change of mode or cable. */
static void update_attachment(struct sim_world *w, struct sim_device *d, bool reenumerate)
{
    bool visible = d->plugged && on_usbmux(d->mode);
    if (!visible || reenumerate) {
        if (d->mux_id)
            drop_connections(w, d);
        d->mux_id = 0;
    }
    if (visible && !d->mux_id)
        d->mux_id = w->next_mux_id++;
    if (!d->plugged || !on_usbmux(d->mode))
        drop_connections(w, d);
}

void sim_set_mode(struct sim_world *w, struct sim_device *d, sim_mode m)
{
    sim_mode old = d->mode;
    d->mode = m;
    if (old != m)
        sim_log(w, d, "mode %s -> %s", sim_mode_name(old), sim_mode_name(m));
    update_attachment(w, d, old != m);
    if (m != SIM_MODE_NORMAL)
        d->trust_pending = false;
    sim_notify_change(w);
}

void sim_reboot(struct sim_world *w, struct sim_device *d)
{
    d->nvram = d->nvram_saved;
    d->boot_count++;
    const char *ab = sim_nvram_get(d, "auto-boot");
    bool auto_boot = !ab || strcmp(ab, "false") != 0;
    sim_mode target = SIM_MODE_RECOVERY;
    const char *why = "auto-boot false";
    if (d->os != SIM_OS_WHOLE)
        why = d->os == SIM_OS_NEEDS_DFU ? "OS needs DFU" : "OS not whole";
    else if (d->stuck_in_recovery)
        why = "stuck in recovery";
    else if (auto_boot) {
        target = SIM_MODE_NORMAL;
        why = "OS whole, auto-boot true";
    }
    sim_log(w, d, "boot -> %s (%s)", sim_mode_name(target), why);
    /* A reboot re-enumerates even if the mode is the same as before. */
    d->mode = SIM_MODE_OFF;
    update_attachment(w, d, true);
    sim_set_mode(w, d, target);
}

void sim_power_off(struct sim_world *w, struct sim_device *d, const char *why)
{
    sim_log(w, d, "power off (%s)", why);
    d->nvram = d->nvram_saved;
    sim_set_mode(w, d, SIM_MODE_OFF);
}

void sim_unplug(struct sim_world *w, struct sim_device *d)
{
    if (!d->plugged)
        return;
    d->plugged = false;
    sim_log(w, d, "unplug");
    update_attachment(w, d, true);
    sim_notify_change(w);
}

void sim_plug(struct sim_world *w, struct sim_device *d)
{
    if (d->plugged)
        return;
    d->plugged = true;
    sim_log(w, d, "plug");
    update_attachment(w, d, true);
    sim_notify_change(w);
}

/* ---- timers ---- */

void sim_timer_add(struct sim_world *w, struct sim_device *d, sim_timer_kind k, double delay_s)
{
    sim_timer_cancel(w, d, k);
    for (int i = 0; i < SIM_MAX_TIMERS; i++) {
        if (!w->timers[i].used) {
            w->timers[i] = (struct sim_timer){ true, d->index, k, sim_now(w) + delay_s };
            sim_notify_change(w);
            return;
        }
    }
}

void sim_timer_cancel(struct sim_world *w, struct sim_device *d, sim_timer_kind k)
{
    for (int i = 0; i < SIM_MAX_TIMERS; i++)
        if (w->timers[i].used && w->timers[i].device == d->index && w->timers[i].kind == k)
            w->timers[i].used = false;
}

/* ---- trust ---- */

bool sim_device_trusts(struct sim_world *w, struct sim_device *d, const char *host_id)
{
    struct sim_devpriv *p = sim_priv(w, d);
    for (size_t i = 0; host_id && i < p->ntrusted; i++)
        if (strcasecmp(p->trusted_hosts[i], host_id) == 0)
            return true;
    return false;
}

void sim_device_trust_host(struct sim_world *w, struct sim_device *d, const char *host_id)
{
    struct sim_devpriv *p = sim_priv(w, d);
    if (!host_id || sim_device_trusts(w, d, host_id) || strlen(host_id) >= sizeof p->trusted_hosts[0])
        return;
    if (p->ntrusted == SIM_MAX_HOSTS) {   /* forget the oldest, as a phone with many hosts does */
        memmove(p->trusted_hosts[0], p->trusted_hosts[1], (SIM_MAX_HOSTS - 1) * sizeof p->trusted_hosts[0]);
        p->ntrusted--;
    }
    strcpy(p->trusted_hosts[p->ntrusted++], host_id);
}

/* The person answers the "Trust this computer?" dialog. The next Pair request from the
 * host then succeeds (or fails with UserDeniedPairing). */
void sim_tap_trust(struct sim_world *w, struct sim_device *d, bool trust)
{
    struct sim_devpriv *p = sim_priv(w, d);
    sim_timer_cancel(w, d, SIM_TIMER_TRUST);
    d->trust_pending = false;
    p->trust_denied = !trust;
    p->trust_granted = trust;
    sim_log(w, d, "trust dialog: %s", trust ? "Trust" : "Don't Trust");
    sim_notify_change(w);
}
