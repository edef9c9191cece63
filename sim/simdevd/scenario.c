/* scenario.c: reads a scenario (JSON, documented in docs/simulator.md) into the world.
 *
 * The parser is strict: an unknown key, a wrong type or an out-of-range value is an error
 * that names the key and the device, because a typo in a fault that silently does nothing
 * would make a dry run prove the wrong thing. Values a scenario leaves out come from a
 * small model table (board, chip) or from defaults that make a healthy, paired phone.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "simcore.h"

struct model { const char *product, *hw; uint32_t cpid, bdid; };
static const struct model models[] = {
    { "iPhone8,1", "N71AP", 0x8000, 0x04 },
    { "iPhone9,3", "D101AP", 0x8010, 0x0C },
    { "iPhone10,3", "D22AP", 0x8015, 0x06 },
    { "iPhone10,6", "D221AP", 0x8015, 0x0E },
    { "iPhone11,2", "D321AP", 0x8020, 0x0E },
    { "iPhone11,8", "N841AP", 0x8020, 0x0C },
    { "iPhone12,1", "N104AP", 0x8030, 0x04 },
    { "iPhone12,3", "D421AP", 0x8030, 0x06 },
    { "iPhone13,2", "D53gAP", 0x8101, 0x0C },
    { "iPhone14,5", "D17AP", 0x8110, 0x0A },
};

struct perr { char *buf; size_t len; };

static int fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct perr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
    return -1;
}

static bool key_in(const char *key, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(key, *allowed) == 0)
            return true;
    return false;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *where, struct perr *e)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (!key_in(key, allowed))
            return fail(e, "%s: unknown key \"%s\" (see docs/simulator.md for the scenario format)", where, key);
    }
    return 0;
}

/* Numbers may be given as JSON integers or as strings ("0x8030", "1234"). */
static int get_u64(json_t *obj, const char *key, uint64_t *out, const char *where, struct perr *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        unsigned long long n = strtoull(s, &end, 0);
        if (*s && end && *end == '\0' && s[0] != '-') {
            *out = n;
            return 0;
        }
    }
    return fail(e, "%s: \"%s\" must be a non-negative integer or a string like \"0x1A2B\"", where, key);
}

static int get_num(json_t *obj, const char *key, double *out, double lo, double hi, const char *where, struct perr *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return fail(e, "%s: \"%s\" must be a number from %g to %g", where, key, lo, hi);
    *out = json_number_value(v);
    return 0;
}

static int get_bool(json_t *obj, const char *key, bool *out, const char *where, struct perr *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail(e, "%s: \"%s\" must be true or false", where, key);
    *out = json_is_true(v);
    return 0;
}

static int get_str(json_t *obj, const char *key, char *out, size_t len, const char *where, struct perr *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) >= len)
        return fail(e, "%s: \"%s\" must be a string shorter than %zu characters", where, key, len);
    strcpy(out, json_string_value(v));
    return 0;
}

/* "never", null or a negative number: never; otherwise device seconds. */
static int get_delay(json_t *obj, const char *key, double *out, const char *where, struct perr *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (json_is_null(v) || (json_is_string(v) && strcmp(json_string_value(v), "never") == 0)) {
        *out = -1;
        return 0;
    }
    if (json_is_number(v)) {
        *out = json_number_value(v) < 0 ? -1 : json_number_value(v);
        return 0;
    }
    return fail(e, "%s: \"%s\" must be seconds (a number) or \"never\"", where, key);
}

static void make_udid(struct sim_device *d)
{
    if (d->cpid >= 0x8020) {   /* A12 and later: CPID-ECID */
        snprintf(d->udid, sizeof d->udid, "%08" PRIX32 "-%016" PRIX64, d->cpid, d->ecid);
        return;
    }
    char seed[64];
    unsigned char md[SHA_DIGEST_LENGTH];
    int n = snprintf(seed, sizeof seed, "simdevd-%s-%016" PRIx64, d->serial, d->ecid);
    SHA1((const unsigned char *)seed, (size_t)n, md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        sprintf(d->udid + 2 * i, "%02x", md[i]);
}

static const char *const device_keys[] = {
    "product_type", "hardware_model", "cpid", "bdid", "ecid", "udid", "serial", "name",
    "ios_version", "build_version", "mode", "os", "plugged", "battery", "charging",
    "storage_total", "storage_free", "storage_full", "nvram", "paired", "trust_after",
    "passcode", "backup_password", "data", "stuck_in_recovery", "sign_refused",
    "slow_transfer", "low_battery", "battery_dies_after", "activation_state",
    "phone_number", "wifi_address", "comment", NULL
};

static int parse_device(struct sim_world *w, json_t *jd, size_t idx, struct perr *e)
{
    char where[48];
    snprintf(where, sizeof where, "devices[%zu]", idx);
    if (!json_is_object(jd))
        return fail(e, "%s: must be an object", where);
    if (check_keys(jd, device_keys, where, e))
        return -1;
    struct sim_device *d = &w->devices[idx];
    memset(d, 0, sizeof *d);
    d->index = (int)idx;
    strcpy(d->product_type, "iPhone12,1");
    if (get_str(jd, "product_type", d->product_type, sizeof d->product_type, where, e))
        return -1;
    const struct model *m = NULL;
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        if (strcmp(models[i].product, d->product_type) == 0)
            m = &models[i];
    if (m) {
        snprintf(d->hardware_model, sizeof d->hardware_model, "%s", m->hw);
        d->cpid = m->cpid;
        d->bdid = m->bdid;
    }
    uint64_t v;
    if (get_str(jd, "hardware_model", d->hardware_model, sizeof d->hardware_model, where, e))
        return -1;
    v = d->cpid;
    if (get_u64(jd, "cpid", &v, where, e))
        return -1;
    d->cpid = (uint32_t)v;
    v = d->bdid;
    if (get_u64(jd, "bdid", &v, where, e))
        return -1;
    d->bdid = (uint32_t)v;
    if (!d->hardware_model[0] || !d->cpid)
        return fail(e, "%s: product type %s is not in simdevd's model table; give hardware_model, cpid and bdid",
                    where, d->product_type);
    d->ecid = 0x000A1B2C3D4E0000ULL + idx + 1;
    if (get_u64(jd, "ecid", &d->ecid, where, e))
        return -1;
    if (d->ecid == 0)
        return fail(e, "%s: ecid must not be 0", where);
    snprintf(d->serial, sizeof d->serial, "SIM%09" PRIX64, (uint64_t)(d->ecid & 0xFFFFFFFFFULL));
    if (get_str(jd, "serial", d->serial, sizeof d->serial, where, e))
        return -1;
    make_udid(d);
    if (get_str(jd, "udid", d->udid, sizeof d->udid, where, e))
        return -1;
    for (const char *c = d->udid; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F') || *c == '-'))
            return fail(e, "%s: udid must be hex digits and dashes", where);
    snprintf(d->device_name, sizeof d->device_name, "Simulated iPhone %zu", idx + 1);
    if (get_str(jd, "name", d->device_name, sizeof d->device_name, where, e))
        return -1;
    strcpy(d->ios_version, "16.7.2");
    strcpy(d->build_version, "20H115");
    if (get_str(jd, "ios_version", d->ios_version, sizeof d->ios_version, where, e) ||
        get_str(jd, "build_version", d->build_version, sizeof d->build_version, where, e))
        return -1;
    strcpy(d->device_class, "iPhone");
    strcpy(d->activation_state, "Activated");
    if (get_str(jd, "activation_state", d->activation_state, sizeof d->activation_state, where, e) ||
        get_str(jd, "phone_number", d->phone_number, sizeof d->phone_number, where, e))
        return -1;
    snprintf(d->wifi_address, sizeof d->wifi_address, "a4:d1:8c:%02x:%02x:%02x",
             (unsigned)(d->ecid >> 16) & 0xFF, (unsigned)(d->ecid >> 8) & 0xFF, (unsigned)d->ecid & 0xFF);
    if (get_str(jd, "wifi_address", d->wifi_address, sizeof d->wifi_address, where, e))
        return -1;

    char s[32] = "normal";
    if (get_str(jd, "mode", s, sizeof s, where, e))
        return -1;
    if (sim_mode_parse(s, &d->mode))
        return fail(e, "%s: mode \"%s\" is not one of off, normal, recovery, dfu, restore", where, s);
    strcpy(s, "whole");
    if (get_str(jd, "os", s, sizeof s, where, e))
        return -1;
    if (sim_os_parse(s, &d->os))
        return fail(e, "%s: os \"%s\" is not one of whole, mild, severe, needs-dfu", where, s);
    d->plugged = true;
    d->battery = 80;
    double n = 80;
    if (get_bool(jd, "plugged", &d->plugged, where, e) || get_num(jd, "battery", &n, 0, 100, where, e) ||
        get_bool(jd, "charging", &d->charging, where, e))
        return -1;
    d->battery = (int)n;
    d->storage_total = 64ULL << 30;
    d->storage_free = 20ULL << 30;
    if (get_u64(jd, "storage_total", &d->storage_total, where, e) ||
        get_u64(jd, "storage_free", &d->storage_free, where, e))
        return -1;
    bool full = false;
    if (get_bool(jd, "storage_full", &full, where, e))
        return -1;
    if (full)
        d->storage_free = 4096;
    if (d->storage_free > d->storage_total)
        return fail(e, "%s: storage_free is larger than storage_total", where);

    /* NVRAM: what a phone that boots normally has; the scenario may override. */
    sim_nvram_set(d, "auto-boot", "true");
    sim_nvram_set(d, "boot-args", "");
    json_t *nv = json_object_get(jd, "nvram");
    if (nv) {
        if (!json_is_object(nv))
            return fail(e, "%s: nvram must be an object of string values", where);
        const char *k;
        json_t *val;
        json_object_foreach(nv, k, val) {
            if (!json_is_string(val) || strlen(k) >= 64 || strlen(json_string_value(val)) >= 256)
                return fail(e, "%s: nvram \"%s\" must be a string (names < 64, values < 256 chars)", where, k);
            sim_nvram_set(d, k, json_string_value(val));
        }
    }
    sim_nvram_save(d);

    d->paired = true;
    d->trust_after_s = -1;
    if (get_bool(jd, "paired", &d->paired, where, e) || get_delay(jd, "trust_after", &d->trust_after_s, where, e) ||
        get_bool(jd, "passcode", &d->passcode_set, where, e) ||
        get_str(jd, "backup_password", d->backup_password, sizeof d->backup_password, where, e) ||
        get_bool(jd, "stuck_in_recovery", &d->stuck_in_recovery, where, e) ||
        get_bool(jd, "sign_refused", &d->sign_refused, where, e))
        return -1;
    d->transfer_bytes_per_s = 0;
    if (get_num(jd, "slow_transfer", &d->transfer_bytes_per_s, 0, 1e12, where, e))
        return -1;
    strcpy(s, "ok");
    if (get_str(jd, "low_battery", s, sizeof s, where, e))
        return -1;
    if (strcmp(s, "ok") == 0)
        d->battery_policy = SIM_BATTERY_OK;
    else if (strcmp(s, "refuses") == 0)
        d->battery_policy = SIM_BATTERY_REFUSES;
    else if (strcmp(s, "dies") == 0)
        d->battery_policy = SIM_BATTERY_DIES;
    else
        return fail(e, "%s: low_battery \"%s\" is not one of ok, refuses, dies", where, s);
    if (d->battery_policy != SIM_BATTERY_OK && !json_object_get(jd, "battery"))
        d->battery = 3;
    d->battery_dies_after_s = 60;
    if (get_num(jd, "battery_dies_after", &d->battery_dies_after_s, 0, 1e9, where, e))
        return -1;

    d->data_seed = idx + 1;
    d->data_files = 16;
    d->data_bytes = 256 * 1024;
    json_t *data = json_object_get(jd, "data");
    if (data) {
        static const char *const data_keys[] = { "seed", "files", "bytes", NULL };
        if (!json_is_object(data))
            return fail(e, "%s: data must be an object {seed, files, bytes}", where);
        if (check_keys(data, data_keys, where, e))
            return -1;
        uint64_t files = (uint64_t)d->data_files;
        if (get_u64(data, "seed", &d->data_seed, where, e) || get_u64(data, "files", &files, where, e) ||
            get_u64(data, "bytes", &d->data_bytes, where, e))
            return -1;
        if (files > 100000)
            return fail(e, "%s: data.files must be at most 100000", where);
        d->data_files = (int)files;
    }
    snprintf(d->data_dir, sizeof d->data_dir, "%s/devices/%s/data", w->dir, d->udid);
    return 0;
}

static const char *const fault_keys[] = {
    "device", "kind", "at", "op", "at_percent", "at_bytes", "back_after", "comment", NULL
};

static int parse_fault(struct sim_world *w, json_t *jf, size_t idx, struct perr *e)
{
    char where[48];
    snprintf(where, sizeof where, "faults[%zu]", idx);
    if (!json_is_object(jf))
        return fail(e, "%s: must be an object", where);
    if (check_keys(jf, fault_keys, where, e))
        return -1;
    struct sim_fault *f = &w->faults[idx];
    memset(f, 0, sizeof *f);
    f->at_s = -1;
    f->at_percent = -1;
    f->at_bytes = -1;
    f->back_after_s = -1;
    uint64_t dev = 0;
    if (get_u64(jf, "device", &dev, where, e))
        return -1;
    if (dev >= w->ndevices)
        return fail(e, "%s: device %" PRIu64 " does not exist (the scenario has %zu)", where, dev, w->ndevices);
    f->device = (int)dev;
    char kind[32] = "";
    if (get_str(jf, "kind", kind, sizeof kind, where, e))
        return -1;
    if (strcmp(kind, "unplug") == 0)
        f->kind = SIM_FAULT_UNPLUG;
    else if (strcmp(kind, "power-loss") == 0)
        f->kind = SIM_FAULT_POWER_LOSS;
    else if (strcmp(kind, "cancel") == 0)
        f->kind = SIM_FAULT_CANCEL;
    else
        return fail(e, "%s: kind \"%s\" is not one of unplug, power-loss, cancel", where, kind);
    if (get_num(jf, "at", &f->at_s, 0, 1e9, where, e) || get_str(jf, "op", f->op, sizeof f->op, where, e) ||
        get_num(jf, "at_percent", &f->at_percent, 0, 100, where, e) ||
        get_delay(jf, "back_after", &f->back_after_s, where, e))
        return -1;
    uint64_t b;
    if (json_object_get(jf, "at_bytes")) {
        if (get_u64(jf, "at_bytes", &b, where, e))
            return -1;
        f->at_bytes = (int64_t)(b > INT64_MAX ? INT64_MAX : b);
    }
    int triggers = (f->at_s >= 0) + (f->at_percent >= 0) + (f->at_bytes >= 0);
    if (triggers != 1)
        return fail(e, "%s: give exactly one trigger: \"at\" (seconds), \"at_percent\" or \"at_bytes\"", where);
    if (f->at_s < 0 && !f->op[0])
        return fail(e, "%s: a progress trigger needs \"op\" (backup, backup-restore, firmware-restore, upload)", where);
    if (f->kind == SIM_FAULT_CANCEL && f->at_s >= 0)
        return fail(e, "%s: cancel happens during an operation: use at_percent or at_bytes with op", where);
    return 0;
}

static const char *const top_keys[] = {
    "name", "description", "time_scale", "boot_seconds", "devices", "faults", "comment",
    "expect", /* what `revive test` expects of each playbook here; not the daemon's concern */ NULL
};

int sim_scenario_load(struct sim_world *w, const char *text, char *err, size_t errlen)
{
    struct perr e = { err, errlen };
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root)
        return fail(&e, "not valid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    int rc = -1;
    if (!json_is_object(root)) {
        fail(&e, "the scenario must be a JSON object");
        goto out;
    }
    if (check_keys(root, top_keys, "scenario", &e) ||
        get_str(root, "name", w->name, sizeof w->name, "scenario", &e) ||
        get_num(root, "time_scale", &w->time_scale, 0.001, 1e6, "scenario", &e) ||
        get_num(root, "boot_seconds", &w->boot_seconds, 0, 3600, "scenario", &e))
        goto out;
    json_t *devs = json_object_get(root, "devices");
    if (!json_is_array(devs) || json_array_size(devs) == 0 || json_array_size(devs) > SIM_MAX_DEVICES) {
        fail(&e, "scenario: \"devices\" must be an array of 1 to %d devices", SIM_MAX_DEVICES);
        goto out;
    }
    w->ndevices = json_array_size(devs);
    for (size_t i = 0; i < w->ndevices; i++)
        if (parse_device(w, json_array_get(devs, i), i, &e))
            goto out;
    for (size_t i = 0; i < w->ndevices; i++)
        for (size_t j = 0; j < i; j++)
            if (w->devices[i].ecid == w->devices[j].ecid || strcasecmp(w->devices[i].udid, w->devices[j].udid) == 0) {
                fail(&e, "devices[%zu] and devices[%zu] have the same ECID or UDID", j, i);
                goto out;
            }
    json_t *faults = json_object_get(root, "faults");
    if (faults) {
        if (!json_is_array(faults) || json_array_size(faults) > SIM_MAX_FAULTS) {
            fail(&e, "scenario: \"faults\" must be an array of at most %d faults", SIM_MAX_FAULTS);
            goto out;
        }
        w->nfaults = json_array_size(faults);
        for (size_t i = 0; i < w->nfaults; i++)
            if (parse_fault(w, json_array_get(faults, i), i, &e))
                goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        w->ndevices = w->nfaults = 0;
    json_decref(root);
    return rc;
}

int sim_scenario_load_file(struct sim_world *w, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open scenario %s", path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            if (cap >= (8u << 20)) {
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "scenario %s is too large (over 8 MiB) or memory ran out", path);
        return -1;
    }
    buf[len] = '\0';
    char inner[512];
    int rc = sim_scenario_load(w, buf, inner, sizeof inner);
    free(buf);
    if (rc)
        snprintf(err, errlen, "scenario %s: %s", path, inner);
    return rc;
}
