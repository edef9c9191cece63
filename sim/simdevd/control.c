/* control.c: the control socket. One JSON object per line in, zero or more JSON lines
 * out, the last being {"ok":true,...} or {"ok":false,"error":"..."}. Commands are looked
 * up in the registry, so modules add theirs from constructors; the core's own commands
 * (a person's hands and a tester's eyes) are registered at the bottom of this file. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simcore.h"

#define LINE_MAX_BYTES (256 * 1024)

void sim_control_reply(int fd, json_t *obj)
{
    if (!obj)
        obj = json_pack("{s:b,s:s}", "ok", 0, "error", "simdevd: out of memory building the reply");
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s)
        return;
    sim_write_full(fd, s, strlen(s));
    sim_write_full(fd, "\n", 1);
    free(s);
}

void sim_control_error(int fd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sim_control_reply(fd, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

struct sim_device *sim_control_device(struct sim_world *w, json_t *req, int fd)
{
    json_t *sel = json_object_get(req, "device");
    struct sim_device *d = NULL;
    sim_lock(w);
    if (!sel) {
        d = sim_device_at(w, 0);
    } else if (json_is_integer(sel)) {
        json_int_t i = json_integer_value(sel);
        d = i >= 0 ? sim_device_at(w, (size_t)i) : NULL;
        if (!d && i > (json_int_t)SIM_MAX_DEVICES)
            d = sim_device_by_ecid(w, (uint64_t)i);
    } else if (json_is_string(sel)) {
        const char *s = json_string_value(sel);
        d = sim_device_by_udid(w, s);
        if (!d) {
            char *end = NULL;
            unsigned long long v = strtoull(s, &end, 0);
            if (*s && end && *end == '\0')
                d = v < w->ndevices && strncmp(s, "0x", 2) != 0 ? sim_device_at(w, (size_t)v)
                                                               : sim_device_by_ecid(w, (uint64_t)v);
        }
    }
    sim_unlock(w);
    if (!d)
        sim_control_error(fd, "no such device; give \"device\" as an index (0..), an ECID (\"0x...\") or a UDID");
    return d;
}

static json_t *nvram_json(struct sim_nvram *nv)
{
    json_t *o = json_object();
    for (size_t i = 0; i < nv->count; i++)
        json_object_set_new(o, nv->vars[i].name, json_string(nv->vars[i].value));
    return o;
}

/* Lock held. */
void sim_device_json_state(struct sim_world *w, struct sim_device *d, json_t *o)
{
    char ecid[24];
    snprintf(ecid, sizeof ecid, "0x%" PRIX64, d->ecid);
    json_object_set_new(o, "index", json_integer(d->index));
    json_object_set_new(o, "ecid", json_string(ecid));
    json_object_set_new(o, "udid", json_string(d->udid));
    json_object_set_new(o, "serial", json_string(d->serial));
    json_object_set_new(o, "name", json_string(d->device_name));
    json_object_set_new(o, "product_type", json_string(d->product_type));
    json_object_set_new(o, "hardware_model", json_string(d->hardware_model));
    json_object_set_new(o, "cpid", json_integer(d->cpid));
    json_object_set_new(o, "bdid", json_integer(d->bdid));
    json_object_set_new(o, "mode", json_string(sim_mode_name(d->mode)));
    json_object_set_new(o, "os", json_string(sim_os_name(d->os)));
    json_object_set_new(o, "ios_version", json_string(d->ios_version));
    json_object_set_new(o, "build_version", json_string(d->build_version));
    json_object_set_new(o, "plugged", json_boolean(d->plugged));
    json_object_set_new(o, "battery", json_integer(d->battery));
    json_object_set_new(o, "charging", json_boolean(d->charging));
    json_object_set_new(o, "storage_total", json_integer((json_int_t)d->storage_total));
    json_object_set_new(o, "storage_free", json_integer((json_int_t)d->storage_free));
    json_object_set_new(o, "nvram", nvram_json(&d->nvram));
    json_object_set_new(o, "nvram_saved", nvram_json(&d->nvram_saved));
    json_object_set_new(o, "paired", json_boolean(d->paired));
    json_object_set_new(o, "trust_pending", json_boolean(d->trust_pending));
    json_object_set_new(o, "passcode", json_boolean(d->passcode_set));
    json_object_set_new(o, "stuck_in_recovery", json_boolean(d->stuck_in_recovery));
    json_object_set_new(o, "sign_refused", json_boolean(d->sign_refused));
    json_object_set_new(o, "slow_transfer", json_real(d->transfer_bytes_per_s));
    json_object_set_new(o, "backup_encrypted", json_boolean(d->backup_password[0] != '\0'));
    json_object_set_new(o, "boot_count", json_integer(d->boot_count));
    json_object_set_new(o, "usbmux_id", json_integer(d->mux_id));
    json_object_set_new(o, "data_dir", json_string(d->data_dir));
    (void)w;
}

static void cmd_state(struct sim_world *w, json_t *req, int fd)
{
    json_t *devs = json_array();
    struct sim_device *list[SIM_MAX_DEVICES];
    size_t n;
    sim_lock(w);
    n = w->ndevices;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        sim_device_json_state(w, &w->devices[i], o);
        json_array_append_new(devs, o);
        list[i] = &w->devices[i];
    }
    double now = sim_now(w);
    sim_unlock(w);
    sim_wait_data_ready(w);
    for (size_t i = 0; i < n; i++) {
        char digest[65];
        json_object_set_new(json_array_get(devs, i), "data_digest",
                            sim_core_data_digest(list[i], digest) == 0 ? json_string(digest) : json_null());
    }
    (void)req;
    sim_control_reply(fd, json_pack("{s:b,s:s,s:f,s:o}", "ok", 1, "scenario", w->name, "time", now, "devices", devs));
}

static void cmd_log(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    json_t *lines = json_array();
    struct sim_devpriv *p = sim_priv(w, d);
    sim_log_lock();
    for (size_t i = 0; i < p->nlog; i++)
        json_array_append_new(lines, json_string(p->log[i]));
    sim_log_unlock();
    sim_control_reply(fd, json_pack("{s:b,s:o}", "ok", 1, "log", lines));
}

/* set: change any field a test or a shop's dry run needs. Unknown keys are errors. */
static void cmd_set(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    const char *key;
    json_t *v;
    /* Validate everything first, so a bad request changes nothing. */
    json_object_foreach(req, key, v) {
        if (!strcmp(key, "cmd") || !strcmp(key, "device"))
            continue;
        bool ok;
        if (!strcmp(key, "mode")) {
            sim_mode m;
            ok = json_is_string(v) && sim_mode_parse(json_string_value(v), &m) == 0;
        } else if (!strcmp(key, "os")) {
            sim_os_state o;
            ok = json_is_string(v) && sim_os_parse(json_string_value(v), &o) == 0;
        } else if (!strcmp(key, "battery")) {
            ok = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 100;
        } else if (!strcmp(key, "storage_free") || !strcmp(key, "slow_transfer")) {
            ok = json_is_number(v) && json_number_value(v) >= 0;
        } else if (!strcmp(key, "charging") || !strcmp(key, "passcode") || !strcmp(key, "sign_refused") ||
                   !strcmp(key, "stuck_in_recovery") || !strcmp(key, "nvram_save") || !strcmp(key, "paired")) {
            ok = json_is_boolean(v);
        } else if (!strcmp(key, "ios_version") || !strcmp(key, "build_version")) {
            ok = json_is_string(v) && strlen(json_string_value(v)) < 16;
        } else if (!strcmp(key, "backup_password")) {
            ok = json_is_string(v) && strlen(json_string_value(v)) < 128;
        } else if (!strcmp(key, "nvram")) {
            ok = json_is_object(v);
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                if (!(json_is_string(v2) || json_is_null(v2)) || strlen(k2) >= 64 ||
                    (json_is_string(v2) && strlen(json_string_value(v2)) >= 256))
                    ok = false;
            }
        } else {
            sim_control_error(fd, "set: unknown field \"%s\" (fields: mode, os, battery, charging, storage_free, "
                              "slow_transfer, passcode, sign_refused, stuck_in_recovery, ios_version, build_version, "
                              "backup_password, nvram, nvram_save, paired)", key);
            return;
        }
        if (!ok) {
            sim_control_error(fd, "set: bad value for \"%s\"", key);
            return;
        }
    }
    sim_lock(w);
    json_object_foreach(req, key, v) {
        if (!strcmp(key, "os"))
            sim_os_parse(json_string_value(v), &d->os);
        else if (!strcmp(key, "battery"))
            d->battery = (int)json_integer_value(v);
        else if (!strcmp(key, "storage_free"))
            d->storage_free = (uint64_t)json_number_value(v) > d->storage_total ? d->storage_total
                                                                                : (uint64_t)json_number_value(v);
        else if (!strcmp(key, "slow_transfer"))
            d->transfer_bytes_per_s = json_number_value(v);
        else if (!strcmp(key, "charging"))
            d->charging = json_is_true(v);
        else if (!strcmp(key, "passcode"))
            d->passcode_set = json_is_true(v);
        else if (!strcmp(key, "sign_refused"))
            d->sign_refused = json_is_true(v);
        else if (!strcmp(key, "stuck_in_recovery"))
            d->stuck_in_recovery = json_is_true(v);
        else if (!strcmp(key, "ios_version"))
            strcpy(d->ios_version, json_string_value(v));
        else if (!strcmp(key, "build_version"))
            strcpy(d->build_version, json_string_value(v));
        else if (!strcmp(key, "backup_password"))
            strcpy(d->backup_password, json_string_value(v));
        else if (!strcmp(key, "nvram")) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) {
                if (json_is_null(v2))
                    sim_nvram_unset(d, k2);
                else
                    sim_nvram_set(d, k2, json_string_value(v2));
            }
        }
    }
    if (json_is_true(json_object_get(req, "nvram_save")))
        sim_nvram_save(d);
    json_t *paired = json_object_get(req, "paired");
    if (json_is_false(paired)) {          /* the person reset the phone's trust settings */
        sim_priv(w, d)->ntrusted = 0;
        d->paired = false;
        d->trust_pending = false;
    }
    json_t *mode = json_object_get(req, "mode");
    if (mode) {
        sim_mode m;
        sim_mode_parse(json_string_value(mode), &m);
        sim_set_mode(w, d, m);
    }
    sim_log(w, d, "control set");
    sim_notify_change(w);
    json_t *st = json_object();
    sim_device_json_state(w, d, st);
    sim_unlock(w);
    if (json_is_true(paired)) {
        sim_pairing_trust_again(w, d);
        sim_lock(w);
        sim_device_json_state(w, d, st);
        sim_unlock(w);
    }
    sim_control_reply(fd, json_pack("{s:b,s:o}", "ok", 1, "device", st));
}

static double opt_delay(json_t *req, const char *key)
{
    json_t *v = json_object_get(req, key);
    return json_is_number(v) && json_number_value(v) >= 0 ? json_number_value(v) : -1;
}

static void reply_ok_state(struct sim_world *w, struct sim_device *d, int fd)
{
    json_t *st = json_object();
    sim_device_json_state(w, d, st);
    sim_unlock(w);
    sim_control_reply(fd, json_pack("{s:b,s:o}", "ok", 1, "device", st));
}

static void cmd_unplug(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    double back = opt_delay(req, "back_after");
    sim_lock(w);
    sim_unplug(w, d);
    if (back >= 0)
        sim_timer_add(w, d, SIM_TIMER_PLUG, back);
    reply_ok_state(w, d, fd);
}

static void cmd_plug(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    sim_lock(w);
    sim_timer_cancel(w, d, SIM_TIMER_PLUG);
    sim_plug(w, d);
    reply_ok_state(w, d, fd);
}

static void cmd_power_loss(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    double back = opt_delay(req, "back_after");
    sim_lock(w);
    sim_power_off(w, d, "power loss");
    if (back >= 0)
        sim_timer_add(w, d, SIM_TIMER_POWER_ON, back);
    reply_ok_state(w, d, fd);
}

static void cmd_power_on(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    sim_lock(w);
    if (d->mode == SIM_MODE_OFF) {
        sim_log(w, d, "power on");
        sim_reboot(w, d);
    }
    reply_ok_state(w, d, fd);
}

/* The person holds the buttons for a force restart: the phone reboots from any mode
 * (DFU included) and boots by NVRAM and OS state. */
static void cmd_force_restart(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    sim_lock(w);
    sim_log(w, d, "force-restart (buttons)");
    sim_reboot(w, d);
    reply_ok_state(w, d, fd);
}

/* The DFU button sequence, done right: the phone (plugged in) enters DFU mode. */
static void cmd_dfu_buttons(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    sim_lock(w);
    sim_log(w, d, "dfu-buttons");
    d->nvram = d->nvram_saved;
    d->boot_count++;
    sim_set_mode(w, d, SIM_MODE_DFU);
    reply_ok_state(w, d, fd);
}

static void cmd_trust(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    const char *answer = json_string_value(json_object_get(req, "answer"));
    if (answer && strcmp(answer, "trust") != 0 && strcmp(answer, "deny") != 0) {
        sim_control_error(fd, "trust: \"answer\" is \"trust\" (default) or \"deny\"");
        return;
    }
    sim_lock(w);
    if (!d->trust_pending) {
        sim_unlock(w);
        sim_control_error(fd, "no \"Trust this computer?\" dialog is showing on device %d: a host must ask to pair first",
                          d->index);
        return;
    }
    sim_tap_trust(w, d, !answer || strcmp(answer, "trust") == 0);
    reply_ok_state(w, d, fd);
}

/* wait: until the device is in "mode" (and "plugged" if given), or "timeout" real seconds. */
static void cmd_wait(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    sim_mode m;
    const char *ms = json_string_value(json_object_get(req, "mode"));
    if (!ms || sim_mode_parse(ms, &m) != 0) {
        sim_control_error(fd, "wait needs \"mode\": off, normal, recovery, dfu or restore");
        return;
    }
    json_t *t = json_object_get(req, "timeout");
    double timeout = json_is_number(t) ? json_number_value(t) : 10.0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    sim_lock(w);
    for (;;) {
        if (d->mode == m)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (el >= timeout) {
            const char *cur = sim_mode_name(d->mode);
            sim_unlock(w);
            sim_control_error(fd, "timed out after %.1fs waiting for mode %s (device is %s)", timeout, ms, cur);
            return;
        }
        sim_wait_change(w, timeout - el < 0.1 ? timeout - el : 0.1);
    }
    reply_ok_state(w, d, fd);
}

static void cmd_help(struct sim_world *w, json_t *req, int fd)
{
    const char *names[128];
    size_t n = sim_control_names(names, 128);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(names[i]));
    (void)w;
    (void)req;
    sim_control_reply(fd, json_pack("{s:b,s:o}", "ok", 1, "commands", a));
}

static const char *const core_commands[] = {
    "state", "log", "set", "unplug", "plug", "power-loss", "power-on", "force-restart",
    "dfu-buttons", "trust", "wait", "help", "notify", NULL
};

static bool sim_control_is_core(const char *cmd)
{
    for (const char *const *c = core_commands; *c; c++)
        if (strcmp(*c, cmd) == 0)
            return true;
    return false;
}

__attribute__((constructor)) static void register_core_commands(void)
{
    sim_control_register("state", cmd_state);
    sim_control_register("log", cmd_log);
    sim_control_register("set", cmd_set);
    sim_control_register("unplug", cmd_unplug);
    sim_control_register("plug", cmd_plug);
    sim_control_register("power-loss", cmd_power_loss);
    sim_control_register("power-on", cmd_power_on);
    sim_control_register("force-restart", cmd_force_restart);
    sim_control_register("dfu-buttons", cmd_dfu_buttons);
    sim_control_register("trust", cmd_trust);
    sim_control_register("wait", cmd_wait);
    sim_control_register("help", cmd_help);
}

static void dispatch(struct sim_world *w, const char *line, int fd)
{
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    if (!req || !json_is_object(req)) {
        sim_control_error(fd, "not a JSON object: %s", req ? "wrong type" : err.text);
        json_decref(req);
        return;
    }
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    sim_control_fn fn = cmd ? sim_control_find(cmd) : NULL;
    if (!fn) {
        sim_control_error(fd, "unknown command \"%s\"; {\"cmd\":\"help\"} lists them", cmd ? cmd : "(none)");
    } else {
        if (!sim_control_is_core(cmd))
            sim_wait_data_ready(w);   /* module commands may touch the phone's data */
        fn(w, req, fd);
    }
    json_decref(req);
}

void sim_control_serve(struct sim_world *w, int fd)
{
    char *buf = malloc(LINE_MAX_BYTES + 1);
    size_t len = 0;
    while (buf) {
        ssize_t n = read(fd, buf + len, LINE_MAX_BYTES - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            if (nl > start)
                dispatch(w, start, fd);
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
        if (len == LINE_MAX_BYTES) {
            sim_control_error(fd, "request line longer than %d bytes", LINE_MAX_BYTES);
            break;
        }
    }
    free(buf);
    close(fd);
}
