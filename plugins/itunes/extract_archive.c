/*
 * extract_archive.c — extract from a zip or tar without unpacking it first.
 *
 * extract.c walks the manifest (folders made, links deferred, one job per wanted file);
 * here the archive is read once, in its own order, and every member that is the content
 * of a wanted file is decrypted or copied straight from libarchive's stream into its
 * destination (a stdio stream over archive_read_data, so the same copy code as for
 * folders runs). Byte limits against bombs count this stream as they count unpacking.
 * Wanted files that no member supplied are reported missing.
 */
#include "itunes.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct member_stream {
    struct archive *a;
    uint64_t *total;
    uint64_t max_total, max_from_ratio;
    bool over;                      /* a limit was hit */
    bool damaged;
} member_stream;

static ssize_t member_read(void *cookie, char *buf, size_t size)
{
    member_stream *m = cookie;
    la_ssize_t r = archive_read_data(m->a, buf, size);
    if (r < 0) {
        m->damaged = true;
        return -1;
    }
    *m->total += (uint64_t)r;
    if (*m->total > m->max_total || *m->total > m->max_from_ratio) {
        m->over = true;
        return -1;
    }
    return r;
}

static bool unhex(const char *s, uint8_t out[20])
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
    return true;
}

/* index: open addressing from binary fileID to job */
typedef struct slot {
    uint8_t id[20];
    ib_xjob *job;
} slot;

static size_t find(slot *t, size_t cap, const uint8_t id[20])
{
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    size_t i = (size_t)h & (cap - 1);
    while (t[i].job && memcmp(t[i].id, id, 20))
        i = (i + 1) & (cap - 1);
    return i;
}

int ib_archive_each(ib_ctx *c, ib_backup *b, ib_xjob **jobs, size_t n, ib_member_fn fn,
                    void *ud)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    slot *t = calloc(cap, sizeof(*t));
    if (!t)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    for (size_t i = 0; i < n; i++) {
        uint8_t id[20];
        if (!unhex(jobs[i]->e.file_id, id))
            continue;
        size_t k = find(t, cap, id);
        if (!t[k].job) {
            memcpy(t[k].id, id, 20);
            t[k].job = jobs[i];
        }
    }
    ib_limits lim = { 256ull << 30, 1000, 0 };
    if (b->limits.max_total)
        lim.max_total = b->limits.max_total;
    if (b->limits.max_ratio)
        lim.max_ratio = b->limits.max_ratio;
    struct stat st;
    int rc = stat(b->archive, &st) == 0 ? REVIVE_OK
             : ib_fail(c, REVIVE_E_IO, "os", errno, "%s: %s", b->archive, strerror(errno));
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    if (!rc && archive_read_open_filename(a, b->archive, 1 << 16) != ARCHIVE_OK)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                     "%s cannot be read: %s", b->archive, archive_error_string(a));
    uint64_t total = 0;
    struct archive_entry *ae;
    int ar = ARCHIVE_EOF;
    while (!rc && (ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        if (archive_entry_filetype(ae) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(ae);
        const char *fid = name ? ib_archive_member_id(b, name) : NULL;
        uint8_t id[20];
        if (!fid || !unhex(fid, id))
            continue;
        ib_xjob *j = t[find(t, cap, id)].job;
        if (!j || j->done)
            continue;
        j->done = true;
        member_stream m = { .a = a, .total = &total, .max_total = lim.max_total,
                            .max_from_ratio = ((uint64_t)st.st_size + (1u << 20)) *
                                              lim.max_ratio };
        cookie_io_functions_t io = { .read = member_read };
        FILE *in = fopencookie(&m, "r", io);
        if (!in) {
            rc = ib_fail(c, REVIVE_E_NO_MEMORY, "os", errno, "no memory");
            break;
        }
        setvbuf(in, NULL, _IONBF, 0);
        int64_t stored = archive_entry_size_is_set(ae) ? archive_entry_size(ae) : -1;
        char label[1024];
        snprintf(label, sizeof(label), "%s:%s", b->archive, name);
        int wr = fn(ud, j, in, label, stored);
        fclose(in);
        if (m.over)
            rc = ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                         "%s unpacks to more than the limits allow (%llu bytes so far; a "
                         "decompression bomb); refused", b->archive, (unsigned long long)total);
        else if (m.damaged)
            rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                         "%s: member %s is damaged: %s", b->archive, name,
                         archive_error_string(a));
        else
            rc = wr;
        if (!rc && ib_cancelled(c))
            rc = ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
    }
    if (!rc && ar != ARCHIVE_EOF)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a), "%s is damaged: %s",
                     b->archive, archive_error_string(a));
    archive_read_free(a);
    free(t);
    return rc;
}

typedef struct xstate {
    ib_ctx *c;
    ib_backup *b;
    uint8_t *work;
    size_t n;
    uint64_t *files, *bytes, *problems;
} xstate;

static int write_member(void *ud, ib_xjob *j, FILE *in, const char *label, int64_t stored)
{
    xstate *x = ud;
    int wr = ib_write_entry_file(x->c, x->b, &j->e, j->dst, in, label, stored, x->work);
    if (wr == REVIVE_E_CORRUPT) {
        /* one lying member does not stop the others */
        ib_problem(x->c, j->e.path, "corrupt", "%s", x->c->err.message);
        (*x->problems)++;
        return REVIVE_OK;
    }
    if (!wr) {
        (*x->files)++;
        *x->bytes += j->e.size;
        if ((*x->files & 255) == 0)
            ib_progress(x->c, "extract", *x->files, x->n, "files");
    }
    return wr;
}

int ib_extract_from_archive(ib_ctx *c, ib_backup *b, ib_xjob **jobs, size_t n,
                            uint64_t *files, uint64_t *bytes, uint64_t *problems)
{
    xstate x = { c, b, malloc(IB_DECRYPT_WORK), n, files, bytes, problems };
    if (!x.work)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    int rc = ib_archive_each(c, b, jobs, n, write_member, &x);
    free(x.work);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            if (!jobs[i]->done) {
                ib_problem(c, jobs[i]->e.path, "missing", "%s has no member for %s/%s",
                           b->archive, jobs[i]->e.domain, jobs[i]->e.path);
                (*problems)++;
            }
    return rc;
}
