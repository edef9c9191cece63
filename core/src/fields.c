#include "fields.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void rv_fields_init(rv_fields *f) { memset(f, 0, sizeof *f); }

static void field_release(revive_field *x)
{
    free((char *)x->key);
    if (x->type == REVIVE_VAL_STR)
        free((char *)x->v.s);
}

void rv_fields_free(rv_fields *f)
{
    for (size_t i = 0; i < f->n; i++)
        field_release(&f->v[i]);
    free(f->v);
    rv_fields_init(f);
}

int rv_fields_put(rv_fields *f, const revive_field *field)
{
    if (!field || !field->key)
        return -1;
    revive_field copy = *field;
    copy.key = strdup(field->key);
    if (!copy.key)
        return -1;
    if (field->type == REVIVE_VAL_STR) {
        copy.v.s = strdup(field->v.s ? field->v.s : "");
        if (!copy.v.s) {
            free((char *)copy.key);
            return -1;
        }
    }
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].key, field->key) == 0) {
            field_release(&f->v[i]);
            f->v[i] = copy;
            return 0;
        }
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        revive_field *nv = realloc(f->v, cap * sizeof *nv);
        if (!nv) {
            field_release(&copy);
            return -1;
        }
        f->v = nv;
        f->cap = cap;
    }
    f->v[f->n++] = copy;
    return 0;
}

int rv_fields_put_str(rv_fields *f, const char *key, const char *s)
{
    revive_field x = REVIVE_FIELD_STR(key, s);
    return rv_fields_put(f, &x);
}
int rv_fields_put_int(rv_fields *f, const char *key, int64_t i)
{
    revive_field x = REVIVE_FIELD_INT(key, i);
    return rv_fields_put(f, &x);
}
int rv_fields_put_bool(rv_fields *f, const char *key, bool b)
{
    revive_field x = REVIVE_FIELD_BOOL(key, b);
    return rv_fields_put(f, &x);
}
int rv_fields_put_real(rv_fields *f, const char *key, double r)
{
    revive_field x = REVIVE_FIELD_REAL(key, r);
    return rv_fields_put(f, &x);
}

const revive_field *rv_fields_get(const rv_fields *f, const char *key)
{
    return revive_field_find(f->v, f->n, key);
}

const char *rv_fields_str(const rv_fields *f, const char *key)
{
    const revive_field *x = rv_fields_get(f, key);
    return x && x->type == REVIVE_VAL_STR ? x->v.s : NULL;
}

int rv_fields_put_assignment(rv_fields *f, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return -1;
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen >= sizeof key)
        return -1;
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    const char *val = eq + 1;
    if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0)
        return rv_fields_put_bool(f, key, val[0] == 't');
    if (*val) {
        char *end;
        errno = 0;
        long long n = strtoll(val, &end, 10);
        if (*end == '\0' && errno == 0)
            return rv_fields_put_int(f, key, n);
    }
    return rv_fields_put_str(f, key, val);
}

bool rv_field_is_secret(const char *key)
{
    static const char *const secret[] = { "password", "passphrase", "secret", "key", "token" };
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (strcasestr(key, secret[i]) && strcasecmp(key, "manifest_key_present") != 0)
            return true;
    return false;
}

json_t *rv_fields_to_json(const revive_field *v, size_t n)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].key || rv_field_is_secret(v[i].key))
            continue;
        json_t *x = NULL;
        switch (v[i].type) {
        case REVIVE_VAL_BOOL: x = json_boolean(v[i].v.b); break;
        case REVIVE_VAL_INT:  x = json_integer(v[i].v.i); break;
        case REVIVE_VAL_REAL: x = json_real(v[i].v.r); break;
        case REVIVE_VAL_STR:  x = json_string(v[i].v.s ? v[i].v.s : ""); break;
        default:              x = json_null(); break;
        }
        if (!x) /* not valid UTF-8: keep the event, say so */
            x = json_string("<not valid UTF-8>");
        json_object_set_new(o, v[i].key, x);
    }
    return o;
}

void rv_field_format(const revive_field *x, char *buf, size_t cap)
{
    switch (x->type) {
    case REVIVE_VAL_BOOL: snprintf(buf, cap, "%s", x->v.b ? "yes" : "no"); break;
    case REVIVE_VAL_INT:  snprintf(buf, cap, "%" PRId64, x->v.i); break;
    case REVIVE_VAL_REAL: snprintf(buf, cap, "%g", x->v.r); break;
    case REVIVE_VAL_STR:  snprintf(buf, cap, "%s", x->v.s ? x->v.s : ""); break;
    default:              snprintf(buf, cap, "-"); break;
    }
}
