#include "config.h"
#include "dirs.h"
#include "error.h"
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *from_file;  /* flattened key -> string */
static json_t *from_flags;
static char file_path[PATH_MAX];

static json_t *table(json_t **t)
{
    if (!*t)
        *t = json_object();
    return *t;
}

/* Flatten nested objects into dotted keys; scalars become strings. false when out of
 * memory (a setting silently dropped would be worse than stopping). */
static bool flatten(json_t *into, const char *prefix, json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k);
        if (json_is_object(v)) {
            if (!flatten(into, key, v))
                return false;
            continue;
        }
        char num[64];
        const char *text = NULL;
        if (json_is_string(v))
            text = json_string_value(v);
        else if (json_is_true(v) || json_is_false(v))
            text = json_is_true(v) ? "true" : "false";
        else if (json_is_integer(v))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), text = num;
        else if (json_is_real(v))
            snprintf(num, sizeof num, "%.17g", json_real_value(v)), text = num;
        if (!text)
            continue; /* arrays and nulls are not settings */
        json_t *copy = json_string(text);
        if (!copy || json_object_set_new(into, key, copy) != 0)
            return false;
    }
    return true;
}

const char *rv_config_path(void) { return file_path; }

int rv_config_load(const char *path, revive_error *err)
{
    if (!path)
        path = getenv("REVIVE_CONFIG");
    if (path)
        snprintf(file_path, sizeof file_path, "%s", path);
    else {
        const char *d = rv_dir(0);
        snprintf(file_path, sizeof file_path, "%s/config.json", d ? d : ".");
    }
    FILE *f = fopen(file_path, "r");
    if (!f)
        return REVIVE_OK; /* no file: defaults */
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!root)
        return rv_fail(err, REVIVE_E_CORRUPT, "jansson", 0,
                       "config file %s: line %d column %d: %s (fix or remove it)", file_path,
                       jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return rv_fail(err, REVIVE_E_CORRUPT, NULL, 0,
                       "config file %s must hold a JSON object such as {\"usb\": {...}}", file_path);
    }
    pthread_mutex_lock(&cfg_lock);
    json_t *t = table(&from_file);
    bool ok = t && flatten(t, "", root);
    pthread_mutex_unlock(&cfg_lock);
    json_decref(root);
    if (!ok)
        return rv_fail(err, REVIVE_E_NO_MEMORY, NULL, 0, "out of memory reading the config file %s", file_path);
    return REVIVE_OK;
}

int rv_config_set(const char *key, const char *value)
{
    pthread_mutex_lock(&cfg_lock);
    json_t *t = table(&from_flags);
    json_t *v = json_string(value);
    /* json_object_set_new takes v even when it fails */
    int rc = t && v && json_object_set_new(t, key, v) == 0 ? REVIVE_OK : REVIVE_E_NO_MEMORY;
    if (!t && v)
        json_decref(v);
    pthread_mutex_unlock(&cfg_lock);
    return rc;
}

int rv_config_set_assignment(const char *a, revive_error *err)
{
    const char *eq = strchr(a, '=');
    if (!eq || eq == a || (size_t)(eq - a) >= 200)
        return rv_fail(err, REVIVE_E_INVALID, NULL, 0,
                       "-o takes key=value (e.g. -o usb.idevicerestore=/usr/bin/idevicerestore), not '%s'", a);
    char key[200];
    memcpy(key, a, (size_t)(eq - a));
    key[eq - a] = '\0';
    if (rv_config_set(key, eq + 1) != REVIVE_OK)
        return rv_fail(err, REVIVE_E_NO_MEMORY, NULL, 0, "out of memory storing -o %s", key);
    return REVIVE_OK;
}

static void env_name(const char *key, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "REVIVE_");
    for (const char *p = key; *p && n + 1 < cap; p++)
        out[n++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

const char *rv_config_get(const char *key)
{
    const char *v = NULL;
    pthread_mutex_lock(&cfg_lock);
    json_t *x = from_flags ? json_object_get(from_flags, key) : NULL;
    if (x)
        v = json_string_value(x);
    pthread_mutex_unlock(&cfg_lock);
    if (v)
        return v;
    char name[256];
    env_name(key, name, sizeof name);
    v = getenv(name);
    if (v)
        return v;
    pthread_mutex_lock(&cfg_lock);
    x = from_file ? json_object_get(from_file, key) : NULL;
    if (x)
        v = json_string_value(x);
    pthread_mutex_unlock(&cfg_lock);
    return v;
}

void rv_config_each(void (*fn)(const char *, const char *, const char *, void *), void *ud)
{
    const char *k;
    json_t *v;
    pthread_mutex_lock(&cfg_lock);
    if (from_file)
        json_object_foreach(from_file, k, v) fn(k, json_string_value(v), "file", ud);
    if (from_flags)
        json_object_foreach(from_flags, k, v) fn(k, json_string_value(v), "flag", ud);
    pthread_mutex_unlock(&cfg_lock);
}

void rv_config_reset(void)
{
    pthread_mutex_lock(&cfg_lock);
    json_decref(from_file);
    json_decref(from_flags);
    from_file = from_flags = NULL;
    file_path[0] = '\0';
    pthread_mutex_unlock(&cfg_lock);
}

const char *rv_config_get_or(const char *key, const char *fallback)
{
    const char *v = rv_config_get(key);
    return v ? v : fallback;
}
