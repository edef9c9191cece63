/* A growable list of revive_field that owns its keys and strings: how answers
 * (host->result), options and event payloads are held inside the core. */
#ifndef RV_FIELDS_H
#define RV_FIELDS_H
#include <revive/types.h>
#include <jansson.h>

typedef struct rv_fields {
    revive_field *v;
    size_t n, cap;
} rv_fields;

void rv_fields_init(rv_fields *f);
void rv_fields_free(rv_fields *f);
/* Copy one field in (replacing an earlier one of the same key). 0 or -1 (no memory). */
int rv_fields_put(rv_fields *f, const revive_field *field);
int rv_fields_put_str(rv_fields *f, const char *key, const char *s);
int rv_fields_put_int(rv_fields *f, const char *key, int64_t i);
int rv_fields_put_bool(rv_fields *f, const char *key, bool b);
int rv_fields_put_real(rv_fields *f, const char *key, double r);
const revive_field *rv_fields_get(const rv_fields *f, const char *key);
const char *rv_fields_str(const rv_fields *f, const char *key); /* NULL unless a string */
/* Parse "key=value" into a field: true/false -> bool, integers -> int, else string. */
int rv_fields_put_assignment(rv_fields *f, const char *assignment);
/* A JSON object of the fields (new reference). Keys named like secrets are never added. */
json_t *rv_fields_to_json(const revive_field *v, size_t n);
/* Format a value for people into buf. */
void rv_field_format(const revive_field *field, char *buf, size_t cap);
bool rv_field_is_secret(const char *key);
#endif
