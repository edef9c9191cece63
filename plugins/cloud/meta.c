/*
 * meta.c — the side record of a part file, and the parsing of Content-Range.
 *
 * A part file holds the first bytes of one version of a remote file. The meta file beside
 * it says which version: the server's strong ETag and/or Last-Modified, sent back as
 * If-Range when resuming, so a server whose file has changed answers 200 with the whole
 * new file instead of 206 with a tail that would be spliced onto the old head.
 *
 * Format: text lines "key=value", keys etag, last_modified, total; unknown keys are
 * ignored, a value with a control character or too long makes the whole record invalid
 * (the part is then started afresh, which is always safe).
 */
#include "cloud.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int cloud_meta_parse(const char *text, size_t len, cloud_meta *m)
{
    memset(m, 0, sizeof(*m));
    size_t i = 0;
    bool any = false;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        const char *line = text + i;
        size_t n = e - i;
        i = e + 1;
        if (n == 0)
            continue;
        const char *eq = memchr(line, '=', n);
        if (!eq)
            return REVIVE_E_CORRUPT;
        size_t klen = (size_t)(eq - line), vlen = n - klen - 1;
        const char *val = eq + 1;
        for (size_t k = 0; k < vlen; k++)
            if ((unsigned char)val[k] < 0x20 || val[k] == 0x7f)
                return REVIVE_E_CORRUPT;
        if (klen == 4 && memcmp(line, "etag", 4) == 0) {
            if (vlen >= sizeof(m->etag))
                return REVIVE_E_CORRUPT;
            memcpy(m->etag, val, vlen);
            m->etag[vlen] = 0;
        } else if (klen == 13 && memcmp(line, "last_modified", 13) == 0) {
            if (vlen >= sizeof(m->last_modified))
                return REVIVE_E_CORRUPT;
            memcpy(m->last_modified, val, vlen);
            m->last_modified[vlen] = 0;
        } else if (klen == 5 && memcmp(line, "total", 5) == 0) {
            if (!parse_u64(val, vlen, &m->total))
                return REVIVE_E_CORRUPT;
        }
        any = true;
    }
    return any ? REVIVE_OK : REVIVE_E_CORRUPT;
}

/* "bytes 0-99/1000"; for a 416 "bytes (star)/1000"; an unknown total "bytes 0-99/(star)" */
bool cloud_parse_content_range(const char *v, uint64_t *start, uint64_t *end, uint64_t *total)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (strncmp(v, "bytes", 5) != 0)
        return false;
    v += 5;
    if (*v != ' ' && *v != '\t')
        return false;
    while (*v == ' ' || *v == '\t')
        v++;
    const char *slash = strchr(v, '/');
    if (!slash)
        return false;
    if (*v == '*' && v + 1 == slash) {
        *start = *end = UINT64_MAX;
    } else {
        const char *dash = memchr(v, '-', (size_t)(slash - v));
        if (!dash || !parse_u64(v, (size_t)(dash - v), start) ||
            !parse_u64(dash + 1, (size_t)(slash - dash - 1), end) || *end < *start)
            return false;
    }
    const char *t = slash + 1;
    size_t tl = strcspn(t, " \t\r\n");
    if (tl == 1 && *t == '*')
        *total = 0;
    else if (!parse_u64(t, tl, total))
        return false;
    else if (*start != UINT64_MAX && *end >= *total)
        return false;
    if (*start == UINT64_MAX && *total == 0)
        return false; /* a star on both sides says nothing */
    return true;
}
