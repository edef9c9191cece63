/*
 * inspect.c — what a backup is: format, device, iOS version, date, encryption, full or
 * incremental, snapshot state, and counts and bytes per domain. Domains are counted in a
 * small open-addressing table (a backup has hundreds to a few thousand domains, while
 * rows can be millions), so memory follows the domains, not the rows.
 */
#include "itunes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct dom {
    char *name;
    uint64_t files, dirs, bytes;
} dom;

typedef struct istate {
    ib_ctx *c;
    dom *t;
    size_t cap, n;
    uint64_t files, dirs, links, bytes, encrypted_files;
    bool oom;
} istate;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

static dom *lookup(istate *s, const char *name)
{
    if (s->n * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        dom *nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            return NULL;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->t[i].name)
                continue;
            size_t j = hash(s->t[i].name) & (ncap - 1);
            while (nt[j].name)
                j = (j + 1) & (ncap - 1);
            nt[j] = s->t[i];
        }
        free(s->t);
        s->t = nt;
        s->cap = ncap;
    }
    size_t j = hash(name) & (s->cap - 1);
    while (s->t[j].name && strcmp(s->t[j].name, name))
        j = (j + 1) & (s->cap - 1);
    if (!s->t[j].name) {
        s->t[j].name = strdup(name);
        if (!s->t[j].name)
            return NULL;
        s->n++;
    }
    return &s->t[j];
}

static int on_entry(void *ud, const ib_entry *e)
{
    istate *s = ud;
    dom *d = lookup(s, e->domain);
    if (!d)
        return ib_fail(s->c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    if (e->flags == IB_FLAG_FILE) {
        s->files++;
        s->bytes += e->size;
        d->files++;
        d->bytes += e->size;
        if (e->key)
            s->encrypted_files++;
    } else if (e->flags == IB_FLAG_DIR) {
        s->dirs++;
        d->dirs++;
    } else {
        s->links++;
    }
    return REVIVE_OK;
}

static int cmp_dom(const void *a, const void *b)
{
    return strcmp(((const dom *)a)->name, ((const dom *)b)->name);
}

static void put_str(ib_result_fn res, void *ud, const char *k, const char *v)
{
    if (!v)
        return;
    revive_field f = REVIVE_FIELD_STR(k, v);
    res(ud, &f);
}

static void put_int(ib_result_fn res, void *ud, const char *k, int64_t v)
{
    revive_field f = REVIVE_FIELD_INT(k, v);
    res(ud, &f);
}

static void put_bool(ib_result_fn res, void *ud, const char *k, bool v)
{
    revive_field f = REVIVE_FIELD_BOOL(k, v);
    res(ud, &f);
}

int ib_inspect(ib_ctx *c, ib_backup *b, ib_result_fn res, void *ud)
{
    istate s = { .c = c };
    int rc = b->locked ? REVIVE_OK : ib_foreach(c, b, on_entry, NULL, &s);
    if (rc)
        goto out;
    put_str(res, ud, "format", b->format == IB_FMT_DB ? "itunes-db" : "itunes-mbdb");
    put_str(res, ud, "path", b->root);
    put_bool(res, ud, "archive", b->from_archive);
    put_str(res, ud, "udid", ib_pl_str(b->info, "Unique Identifier"));
    put_str(res, ud, "device_name", ib_pl_str(b->info, "Device Name"));
    put_str(res, ud, "product_type", ib_pl_str(b->info, "Product Type"));
    put_str(res, ud, "ios_version", ib_pl_str(b->info, "Product Version"));
    put_str(res, ud, "build_version", ib_pl_str(b->info, "Build Version"));
    plist_t dn = b->info ? plist_dict_get_item(b->info, "Last Backup Date") : NULL;
    if (dn && plist_get_node_type(dn) == PLIST_DATE) {
        int32_t sec = 0, usec = 0;
        plist_get_date_val(dn, &sec, &usec);
        time_t t = (time_t)sec + 978307200; /* plist dates count from 2001-01-01 */
        struct tm tm;
        char buf[32];
        gmtime_r(&t, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        put_str(res, ud, "date", buf);
    }
    put_bool(res, ud, "encrypted", b->encrypted);
    put_bool(res, ud, "forensic_decrypted", b->forensic);
    put_bool(res, ud, "has_manifest_plist", b->manifest != NULL);
    put_bool(res, ud, "has_status_plist", b->status != NULL);
    put_bool(res, ud, "has_info_plist", b->info != NULL);
    if (b->status) {
        put_bool(res, ud, "full", ib_pl_bool(b->status, "IsFullBackup", false));
        put_str(res, ud, "snapshot_state", ib_pl_str(b->status, "SnapshotState"));
        put_str(res, ud, "backup_state", ib_pl_str(b->status, "BackupState"));
    }
    put_bool(res, ud, "locked", b->locked);
    if (b->locked)
        goto out; /* counts need the manifest, which needs the password */
    put_int(res, ud, "files", (int64_t)s.files);
    put_int(res, ud, "dirs", (int64_t)s.dirs);
    put_int(res, ud, "links", (int64_t)s.links);
    put_int(res, ud, "bytes", (int64_t)s.bytes);
    put_int(res, ud, "domains", (int64_t)s.n);
    /* per-domain figures as "domain" events, sorted by name */
    dom *list = malloc((s.n ? s.n : 1) * sizeof(*list));
    size_t k = 0;
    for (size_t i = 0; list && i < s.cap; i++)
        if (s.t[i].name)
            list[k++] = s.t[i];
    if (list) {
        qsort(list, k, sizeof(*list), cmp_dom);
        for (size_t i = 0; i < k && c->event; i++) {
            revive_field f[] = {
                REVIVE_FIELD_STR("domain", list[i].name),
                REVIVE_FIELD_INT("files", (int64_t)list[i].files),
                REVIVE_FIELD_INT("dirs", (int64_t)list[i].dirs),
                REVIVE_FIELD_INT("bytes", (int64_t)list[i].bytes),
            };
            pthread_mutex_lock(&c->lock);
            c->event(c->ud, "domain", f, 4);
            pthread_mutex_unlock(&c->lock);
        }
    }
    free(list);
out:
    for (size_t i = 0; i < s.cap; i++)
        free(s.t[i].name);
    free(s.t);
    return rc;
}
