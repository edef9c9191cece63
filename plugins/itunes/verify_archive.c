/*
 * verify_archive.c — verify a backup inside a zip or tar without unpacking its content.
 *
 * The backup was opened manifest_only (its manifests and plists are in the scratch
 * folder). The manifest is streamed once into a table keyed by fileID holding what each
 * file must be (stored size, digest, label); then the archive is read member by member
 * and every member that is a content file of the backup is measured and hashed as it
 * decompresses, never written. Files the manifest lists that no member supplied are
 * "missing" at the end. Memory follows the number of file rows (the table), not their
 * size; decompression is one stream, so this runs on one core. Byte limits against
 * bombs apply as when unpacking.
 */
#include "itunes.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct want {
    uint8_t id[20];
    bool used, seen;
    uint8_t digest_len;
    uint8_t digest[32];
    uint64_t size;          /* stored size expected */
    uint64_t plain_size;    /* the manifest's Size */
    bool encrypted;
    char *label;
} want;

typedef struct table {
    ib_ctx *c;
    ib_backup *b;
    want *w;
    size_t cap, n;
} table;

static bool unhex20(const char *s, uint8_t out[20])
{
    for (int i = 0; i < 20; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = s[2 * i + k];
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return s[40] == 0;
}

static size_t slot(const table *t, const uint8_t id[20])
{
    uint64_t h;
    memcpy(&h, id, sizeof(h)); /* SHA-1 bytes are already well mixed */
    size_t i = (size_t)h & (t->cap - 1);
    while (t->w[i].used && memcmp(t->w[i].id, id, 20))
        i = (i + 1) & (t->cap - 1);
    return i;
}

static int grow(table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    want *nw = calloc(ncap, sizeof(*nw));
    if (!nw)
        return ib_fail(t->c, REVIVE_E_NO_MEMORY, "os", 0, "no memory for the manifest table");
    want *old = t->w;
    size_t ocap = t->cap;
    t->w = nw;
    t->cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used)
            t->w[slot(t, old[i].id)] = old[i];
    free(old);
    return REVIVE_OK;
}

static int on_entry(void *ud, const ib_entry *e)
{
    table *t = ud;
    size_t ll = strlen(e->domain) + strlen(e->path) + 2;
    char *label = malloc(ll);
    if (!label)
        return ib_fail(t->c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    snprintf(label, ll, "%s/%s", e->domain, e->path);
    ib_verify_entry(t->c, t->b, e, label);
    if (e->flags != IB_FLAG_FILE) {
        free(label);
        return REVIVE_OK;
    }
    if ((t->n + 1) * 2 > t->cap) {
        int rc = grow(t);
        if (rc) {
            free(label);
            return rc;
        }
    }
    uint8_t id[20];
    if (!unhex20(e->file_id, id)) {
        free(label);
        return REVIVE_OK; /* not a fileID: reported as corrupt_row by the reader */
    }
    want *w = &t->w[slot(t, id)];
    if (w->used) { /* listed twice: the first row decides */
        free(label);
        return REVIVE_OK;
    }
    w->used = true;
    memcpy(w->id, id, 20);
    w->size = ib_stored_size(t->b, e);
    w->plain_size = e->size;
    w->encrypted = ib_entry_encrypted(t->b, e);
    w->digest_len = (uint8_t)e->digest_len;
    memcpy(w->digest, e->digest, e->digest_len);
    w->label = label;
    t->n++;
    return REVIVE_OK;
}

static int on_bad(void *ud, const char *file_id, const char *what)
{
    table *t = ud;
    ib_problem(t->c, file_id, "corrupt_row", "Manifest row %s: %s", file_id, what);
    return REVIVE_OK;
}

const char *ib_archive_member_id(const ib_backup *b, const char *name)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    size_t pl = strlen(b->archive_prefix);
    if (strncmp(name, b->archive_prefix, pl))
        return NULL;
    name += pl;
    if (b->format == IB_FMT_DB) {
        if (strlen(name) != 43 || name[2] != '/' || strncmp(name, name + 3, 2))
            return NULL;
        return name + 3;
    }
    return strlen(name) == 40 ? name : NULL;
}

int ib_verify_archive(ib_ctx *c, ib_backup *b, const ib_limits *lim_in)
{
    ib_limits lim = { 256ull << 30, 1000, 10000000 };
    if (lim_in && lim_in->max_total)
        lim.max_total = lim_in->max_total;
    if (lim_in && lim_in->max_ratio)
        lim.max_ratio = lim_in->max_ratio;
    unsigned before = c->problems;
    ib_verify_plists(c, b);
    table t = { .c = c, .b = b };
    int rc = ib_foreach(c, b, on_entry, on_bad, &t);
    struct stat st;
    if (!rc && stat(b->archive, &st) != 0)
        rc = ib_fail(c, REVIVE_E_IO, "os", 0, "%s is gone", b->archive);
    struct archive *a = NULL;
    if (!rc) {
        a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_zip(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, b->archive, 1 << 16) != ARCHIVE_OK)
            rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                         "%s cannot be read: %s", b->archive, archive_error_string(a));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(1 << 16);
    uint64_t total = 0, done = 0;
    struct archive_entry *ae;
    int ar = ARCHIVE_EOF;
    while (!rc && md && buf && (ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        if (archive_entry_filetype(ae) != AE_IFREG)
            continue;
        const char *id = ib_archive_member_id(b, archive_entry_pathname(ae));
        uint8_t bid[20];
        if (!id || !unhex20(id, bid) || !t.cap)
            continue;
        want *w = &t.w[slot(&t, bid)];
        if (!w->used || w->seen)
            continue;
        w->seen = true;
        if (w->digest_len)
            EVP_DigestInit_ex(md, w->digest_len == 32 ? EVP_sha256() : EVP_sha1(), NULL);
        uint64_t got = 0;
        for (;;) {
            la_ssize_t r = archive_read_data(a, buf, 1 << 16);
            if (r == 0)
                break;
            if (r < 0) {
                rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                             "%s: member for %s is damaged: %s", b->archive, w->label,
                             archive_error_string(a));
                break;
            }
            got += (uint64_t)r;
            total += (uint64_t)r;
            if (total > lim.max_total || total / lim.max_ratio > (uint64_t)st.st_size + (1u << 20)) {
                rc = ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                             "%s unpacks to more than the limits allow (%llu bytes so far; a "
                             "decompression bomb); refused", b->archive,
                             (unsigned long long)total);
                break;
            }
            if (w->digest_len)
                EVP_DigestUpdate(md, buf, (size_t)r);
        }
        if (rc)
            break;
        if (!ib_stored_size_ok2(w->encrypted, w->plain_size, got)) {
            ib_problem(c, w->label, "size", "%s: the member is %llu bytes, the manifest records "
                       "%llu", b->archive, (unsigned long long)got,
                       (unsigned long long)w->size);
        } else if (w->digest_len) {
            uint8_t out[32];
            unsigned olen = 0;
            EVP_DigestFinal_ex(md, out, &olen);
            if (olen != w->digest_len || memcmp(out, w->digest, olen)) {
                char x[65], y[65];
                ib_hex(w->digest, w->digest_len, x);
                ib_hex(out, olen, y);
                ib_problem(c, w->label, "digest", "%s: the member hashes to %s, the manifest "
                           "records %s", b->archive, y, x);
            }
        }
        if ((++done & 1023) == 0) {
            ib_progress(c, "verify", done, t.n, "files");
            if (ib_cancelled(c))
                rc = ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
        }
    }
    if (!rc && a && ar != ARCHIVE_EOF)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a), "%s is damaged: %s",
                     b->archive, archive_error_string(a));
    if (!rc && (!md || !buf))
        rc = ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    if (!rc)
        for (size_t i = 0; i < t.cap; i++)
            if (t.w[i].used && !t.w[i].seen)
                ib_problem(c, t.w[i].label, "missing", "%s has no member for this file",
                           b->archive);
    ib_progress(c, "verify", done, t.n, "files");
    if (rc == REVIVE_E_CORRUPT)
        ib_problem(c, b->format == IB_FMT_DB ? "Manifest.db" : "Manifest.mbdb", "corrupt", "%s",
                   c->err.message);
    else if (!rc && c->problems > before)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%u problems found in %zu files of %s (read from the archive)",
                     c->problems - before, t.n, b->archive);
    for (size_t i = 0; i < t.cap; i++)
        free(t.w[i].label);
    free(t.w);
    free(buf);
    EVP_MD_CTX_free(md);
    if (a)
        archive_read_free(a);
    return rc;
}
