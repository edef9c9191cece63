/*
 * catalog.c — firmware catalogs in the format of the ipsw.me v4 API.
 *
 * GET <base>/device/<ProductType>?type=ipsw answers one JSON object: the device
 * (name, identifier, boardconfig, platform, cpid, bdid) and "firmwares", an array of
 * {identifier, version, buildid, sha1sum, md5sum, sha256sum?, filesize, url, releasedate,
 * uploaddate, signed}. The base URL is the shop's to choose (a mirror), so the document is
 * input from the network and treated as hostile: every field is type-checked and bounded,
 * URLs must be http(s), checksums hex of the right length. A document with a bad entry is
 * refused as a whole (REVIVE_E_CORRUPT, naming the entry), never half used.
 */
#include "cloud.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int str_field(json_t *o, const char *key, bool required, char *dst, size_t cap,
                     size_t idx, revive_error *err)
{
    json_t *v = json_object_get(o, key);
    dst[0] = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                              "catalog entry %zu has no \"%s\"", idx, key);
        return REVIVE_OK;
    }
    if (!json_is_string(v))
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu: \"%s\" is not a string", idx, key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap || strlen(s) != n)
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu: \"%s\" is too long or has a NUL", idx, key);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                              "catalog entry %zu: \"%s\" has a control character", idx, key);
    if (required && n == 0)
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu: \"%s\" is empty", idx, key);
    memcpy(dst, s, n + 1);
    return REVIVE_OK;
}

static int hex_field(json_t *o, const char *key, char *dst, size_t digits, size_t idx,
                     revive_error *err)
{
    int rc = str_field(o, key, false, dst, digits + 1, idx, err);
    if (rc)
        return rc;
    if (!dst[0])
        return REVIVE_OK;
    for (char *p = dst; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (!cloud_hex_valid(dst, digits))
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu: \"%s\" is not %zu hex digits", idx, key, digits);
    return REVIVE_OK;
}

static int parse_entry(json_t *e, size_t idx, cloud_firmware *fw, revive_error *err)
{
    if (!json_is_object(e))
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu is not an object", idx);
    int rc;
    if ((rc = str_field(e, "identifier", false, fw->identifier, sizeof(fw->identifier), idx, err)) ||
        (rc = str_field(e, "version", true, fw->version, sizeof(fw->version), idx, err)) ||
        (rc = str_field(e, "buildid", true, fw->build, sizeof(fw->build), idx, err)) ||
        (rc = str_field(e, "url", true, fw->url, sizeof(fw->url), idx, err)) ||
        (rc = str_field(e, "releasedate", false, fw->released, sizeof(fw->released), idx, err)) ||
        (rc = hex_field(e, "sha1sum", fw->sha1, 40, idx, err)) ||
        (rc = hex_field(e, "sha256sum", fw->sha256, 64, idx, err)))
        return rc;
    if (!cloud_is_url(fw->url))
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu: url \"%.64s\" is not http(s)", idx, fw->url);
    json_t *sz = json_object_get(e, "filesize");
    if (sz && !json_is_null(sz)) {
        if (!json_is_integer(sz) || json_integer_value(sz) < 0)
            return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                              "catalog entry %zu: filesize is not a non-negative integer", idx);
        fw->size = (uint64_t)json_integer_value(sz);
    }
    json_t *sg = json_object_get(e, "signed");
    if (sg && !json_is_null(sg) && !json_is_boolean(sg))
        return cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                          "catalog entry %zu: signed is not true/false", idx);
    fw->is_signed = sg && json_is_true(sg);
    return REVIVE_OK;
}

int cloud_catalog_parse(const char *text, size_t len, cloud_catalog *cat, revive_error *err)
{
    memset(cat, 0, sizeof(*cat));
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cloud_fail(err, REVIVE_E_CORRUPT, "jansson", je.line,
                          "the catalog is not JSON (line %d: %s)", je.line, je.text);
    int rc = REVIVE_OK;
    json_t *fws = json_object_get(root, "firmwares");
    if (!json_is_object(root) || !json_is_array(fws)) {
        rc = cloud_fail(err, REVIVE_E_CORRUPT, "catalog", 0,
                        "the catalog is not an ipsw.me v4 device document (no \"firmwares\" "
                        "array)");
        goto out;
    }
    if ((rc = str_field(root, "identifier", false, cat->identifier, sizeof(cat->identifier), 0,
                        err)) ||
        (rc = str_field(root, "name", false, cat->name, sizeof(cat->name), 0, err)))
        goto out;
    size_t n = json_array_size(fws);
    if (n > 100000) {
        rc = cloud_fail(err, REVIVE_E_LIMIT, "catalog", 0, "the catalog lists %zu firmwares", n);
        goto out;
    }
    if (n && !(cat->fw = calloc(n, sizeof(*cat->fw)))) {
        rc = cloud_fail(err, REVIVE_E_NO_MEMORY, "catalog", 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = parse_entry(json_array_get(fws, i), i, &cat->fw[i], err)))
            goto out;
        cat->count++;
    }
out:
    json_decref(root);
    if (rc)
        cloud_catalog_free(cat);
    return rc;
}

void cloud_catalog_free(cloud_catalog *cat)
{
    free(cat->fw);
    cat->fw = NULL;
    cat->count = 0;
}

bool cloud_model_valid(const char *m)
{
    size_t n = strlen(m), commas = 0;
    if (n < 3 || n >= 32 || !isalpha((unsigned char)m[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (m[i] == ',')
            commas++;
        else if (!isalnum((unsigned char)m[i]))
            return false;
    }
    return commas == 1 && m[n - 1] != ',';
}

bool cloud_query_parse(const char *spec, char *model, size_t mcap, char *what, size_t wcap)
{
    if (strncmp(spec, "firmware:", 9) != 0)
        return false;
    const char *m = spec + 9;
    const char *colon = strchr(m, ':');
    size_t ml = colon ? (size_t)(colon - m) : strlen(m);
    const char *w = colon ? colon + 1 : "latest";
    if (ml == 0 || ml >= mcap || strlen(w) == 0 || strlen(w) >= wcap)
        return false;
    memcpy(model, m, ml);
    model[ml] = 0;
    if (!cloud_model_valid(model))
        return false;
    for (const char *p = w; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.')
            return false;
    strcpy(what, w);
    return true;
}

/* Compare dotted versions numerically ("16.10" > "16.9", "16" < "16.1"). */
static int version_cmp(const char *a, const char *b)
{
    for (;;) {
        if (!isdigit((unsigned char)*a) || !isdigit((unsigned char)*b)) {
            int c = strcmp(a, b); /* non-numeric parts ("beta"): plain order */
            return (c > 0) - (c < 0);
        }
        char *ea, *eb;
        unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a = ea;
        b = eb;
        if (*a == '.' && *b == '.') {
            a++;
            b++;
            continue;
        }
        if (!*a || !*b)
            return (*a != 0) - (*b != 0);
        int c = strcmp(a, b);
        return (c > 0) - (c < 0);
    }
}

int cloud_catalog_select(const cloud_catalog *cat, const char *what, const cloud_firmware **out,
                         revive_error *err)
{
    const cloud_firmware *best = NULL;
    if (strcmp(what, "latest") == 0) {
        for (size_t i = 0; i < cat->count; i++) {
            const cloud_firmware *f = &cat->fw[i];
            if (f->is_signed && (!best || version_cmp(f->version, best->version) > 0 ||
                                 (version_cmp(f->version, best->version) == 0 &&
                                  strcmp(f->build, best->build) > 0)))
                best = f;
        }
        if (!best)
            return cloud_fail(err, cat->count ? REVIVE_E_NOT_SIGNED : REVIVE_E_NOT_FOUND,
                              "catalog", 0, "%s: %s", cat->identifier[0] ? cat->identifier : "model",
                              cat->count ? "Apple signs none of the firmware in the catalog"
                                         : "the catalog lists no firmware");
    } else {
        for (size_t i = 0; i < cat->count; i++) {
            const cloud_firmware *f = &cat->fw[i];
            if (strcasecmp(f->build, what) == 0 || strcmp(f->version, what) == 0)
                if (!best || (f->is_signed && !best->is_signed))
                    best = f;
        }
        if (!best)
            return cloud_fail(err, REVIVE_E_NOT_FOUND, "catalog", 0,
                              "no firmware with version or build \"%s\" for %s in the catalog",
                              what, cat->identifier[0] ? cat->identifier : "this model");
    }
    *out = best;
    return REVIVE_OK;
}

int cloud_catalog_url(const char *base, const char *model, char *out, size_t cap)
{
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    int n = snprintf(out, cap, "%.*s/device/%s?type=ipsw", (int)bl, base, model);
    return n < 0 || (size_t)n >= cap ? REVIVE_E_LIMIT : REVIVE_OK;
}

int cloud_catalog_fetch(const cloud_net_opts *o, const char *base, const char *model,
                        const cloud_io *io, cloud_catalog *cat, revive_error *err)
{
    char url[2048];
    if (!cloud_model_valid(model))
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                          "\"%s\" is not a product type such as iPhone12,1", model);
    if (!cloud_is_url(base))
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                          "the catalog base URL \"%s\" is not http(s) (cloud.catalog_url)", base);
    if (cloud_catalog_url(base, model, url, sizeof(url)))
        return cloud_fail(err, REVIVE_E_LIMIT, "cloud", 0, "catalog URL too long");
    char *buf = NULL;
    size_t len = 0;
    int rc = cloud_get(o, url, CLOUD_CATALOG_MAX, io, &buf, &len, err);
    if (rc == REVIVE_E_NOT_FOUND) {
        char origin[sizeof(err->origin)];
        snprintf(origin, sizeof(origin), "%s", err->origin);
        return cloud_fail(err, rc, origin, err->origin_code,
                          "the catalog at %s does not know the model %s", base, model);
    }
    if (rc)
        return rc;
    rc = cloud_catalog_parse(buf, len, cat, err);
    free(buf);
    return rc;
}
