/*
 * extract.c — ls and extract: entries by domain and path pattern, out into a folder as
 * <out>/<domain>/<relativePath>, decrypting on the fly, with modes and times kept.
 *
 * Nothing may land outside the output folder, whatever the manifest says: a domain or
 * path that is absolute or climbs with ".." stops the extraction (UNSAFE); files are
 * written to a part file opened with O_EXCL|O_NOFOLLOW and renamed into place (rename
 * replaces a link, never follows it); symlinks are made last, after every file, and
 * only when their target, read relative to the link, stays inside the domain's folder;
 * others are refused with a warning. Setuid/setgid bits are never restored.
 */
#include "itunes.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool comp_bad(const char *s, size_t n)
{
    return (n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.');
}

int ib_check_entry_path(ib_ctx *c, const ib_entry *e)
{
    if (!*e->domain || strchr(e->domain, '/') || comp_bad(e->domain, strlen(e->domain)))
        return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                       "the backup lists the domain \"%s\", which is not a plain name; refused",
                       e->domain);
    if (e->path[0] == '/')
        return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                       "the backup lists the absolute path \"%s\" in %s; refused", e->path,
                       e->domain);
    for (const char *s = e->path; *s;) {
        const char *x = strchr(s, '/');
        size_t n = x ? (size_t)(x - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                           "the backup lists \"%s\" in %s, which climbs out with \"..\"; "
                           "refused", e->path, e->domain);
        s += n;
        if (*s)
            s++;
    }
    return REVIVE_OK;
}

/* Lexically: does `target`, read from the folder holding `rel` (depth inside the domain),
 * stay inside the domain folder? */
static bool link_stays_inside(const char *rel, const char *target)
{
    if (!target || !*target || target[0] == '/')
        return false;
    int depth = 0;
    for (const char *s = rel; *s; s++)
        if (*s == '/')
            depth++;
    for (const char *s = target; *s;) {
        const char *x = strchr(s, '/');
        size_t n = x ? (size_t)(x - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            depth--;
        else if (n && !(n == 1 && s[0] == '.'))
            depth++;
        if (depth < 0)
            return false;
        s += n;
        if (*s)
            s++;
    }
    return true;
}

int ib_copy_stream(ib_ctx *c, ib_backup *b, const ib_entry *e, FILE *in, const char *src,
                   int64_t stored, FILE *out, void *sha1_md, uint8_t *work)
{
    int rc = REVIVE_OK;
    uint64_t want = ib_stored_size(b, e);
    if (!work && !b->work && !(b->work = malloc(IB_DECRYPT_WORK)))
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    if (!work)
        work = b->work;
    if (ib_entry_encrypted(b, e)) {
        uint8_t key[32];
        if (!b->unlocked)
            rc = ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                         "the backup is encrypted; its password is needed");
        else
            rc = ib_keybag_file_key(c, &b->kb, e->key_class, e->key, e->key_len, key);
        if (!rc && stored >= 0 && (uint64_t)stored < e->size)
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s/%s: %s is %lld bytes, less than the %llu the manifest records",
                         e->domain, e->path, src, (long long)stored,
                         (unsigned long long)e->size);
        if (!rc)
            rc = ib_decrypt_stream_buf(c, key, in, src, out, e->size, sha1_md, work);
        OPENSSL_cleanse(key, sizeof(key));
        return rc;
    }
    if (stored >= 0 && (uint64_t)stored != want)
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                       "%s/%s: %s is %lld bytes, the manifest records %llu (the size lies or "
                       "the file is a stand-in)", e->domain, e->path, src, (long long)stored,
                       (unsigned long long)want);
    /* read to the end even when the size is known: a source that grows or lies is caught */
    uint64_t got = 0;
    for (;;) {
        size_t r = fread(work, 1, IB_CHUNK, in);
        if (r == 0) {
            if (ferror(in))
                rc = ib_fail(c, REVIVE_E_IO, "os", errno, "cannot read %s", src);
            break;
        }
        got += r;
        if (got > want) {
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s/%s: %s holds more than the %llu bytes the manifest records",
                         e->domain, e->path, src, (unsigned long long)want);
            break;
        }
        if (sha1_md)
            EVP_DigestUpdate(sha1_md, work, r);
        if (out && fwrite(work, 1, r, out) != r) {
            rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os",
                         errno, "cannot write: %s", strerror(errno));
            break;
        }
    }
    if (!rc && got != want)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s/%s: %s holds %llu bytes, the manifest records %llu (the size lies or "
                     "the file is truncated)", e->domain, e->path, src,
                     (unsigned long long)got, (unsigned long long)want);
    return rc;
}

int ib_copy_content(ib_ctx *c, ib_backup *b, const ib_entry *e, FILE *out, void *sha1_md,
                    uint8_t *work)
{
    char *src = ib_content_path(b, e);
    if (!src)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    FILE *in = fopen(src, "rb");
    if (!in) {
        int rc = ib_fail(c, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "os", errno,
                         "%s/%s: its content %s cannot be opened: %s", e->domain, e->path,
                         src, strerror(errno));
        free(src);
        return rc;
    }
    struct stat st;
    int64_t stored = fstat(fileno(in), &st) == 0 ? (int64_t)st.st_size : -1;
    setvbuf(in, NULL, _IONBF, 0); /* content moves in IB_CHUNK pieces anyway */
    int rc = ib_copy_stream(c, b, e, in, src, stored, out, sha1_md, work);
    fclose(in);
    free(src);
    return rc;
}

/* ------------------------------------------------------------------- ls ------ */

typedef struct sel {
    ib_ctx *c;
    ib_backup *b;
    const char *domain, *pattern;
    const char *out;
    uint64_t files, bytes, links_refused, problems;
    char **links;          /* deferred symlinks: "path\0target" pairs */
    size_t nlinks, caplinks;
} sel;

static bool matches(const sel *s, const ib_entry *e)
{
    if (s->domain && strcmp(s->domain, e->domain))
        return false;
    if (s->pattern && fnmatch(s->pattern, e->path, 0) != 0)
        return false;
    return true;
}

static int on_list(void *ud, const ib_entry *e)
{
    sel *s = ud;
    if (!matches(s, e))
        return REVIVE_OK;
    const char *type = e->flags == IB_FLAG_FILE ? "file" : e->flags == IB_FLAG_DIR ? "dir"
                                                                                    : "link";
    revive_field f[] = {
        REVIVE_FIELD_STR("domain", e->domain),
        REVIVE_FIELD_STR("path", e->path),
        REVIVE_FIELD_STR("type", type),
        REVIVE_FIELD_INT("size", (int64_t)e->size),
        REVIVE_FIELD_INT("mode", (int64_t)(e->mode & 07777)),
        REVIVE_FIELD_INT("mtime", e->mtime),
        REVIVE_FIELD_STR("file_id", e->file_id),
        REVIVE_FIELD_STR("target", e->target ? e->target : ""),
    };
    s->files++;
    pthread_mutex_lock(&s->c->lock);
    if (s->c->event)
        s->c->event(s->c->ud, "item", f, 8);
    pthread_mutex_unlock(&s->c->lock);
    return REVIVE_OK;
}

int ib_list(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern)
{
    sel s = { .c = c, .b = b, .domain = domain, .pattern = pattern };
    return ib_foreach(c, b, on_list, NULL, &s);
}

/* -------------------------------------------------------------- extract ------ */

/* Files are written by a pool of writers fed through a bounded queue (the manifest is
 * still streamed by the calling thread, which also makes the folders, so a file's folder
 * exists before its job is queued). Each writer has its own context whose events go
 * through the caller's, and its own work buffer. A missing or lying file is a problem
 * that does not stop the others; anything else (disk full, I/O) stops the run. */

enum { XQ = 256 };

typedef ib_xjob xjob;

typedef struct pool {
    ib_ctx *parent;
    ib_backup *b;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    xjob *q[XQ];
    size_t head, count;
    bool done;
    int fatal;                 /* first error that stops the run */
    uint64_t files, bytes, problems;
} pool;

static int make_parent(ib_ctx *c, char *path)
{
    char *slash = strrchr(path, '/');
    if (!slash)
        return REVIVE_OK;
    *slash = 0;
    int rc = ib_mkdirs(c, path, 0755);
    *slash = '/';
    return rc;
}

int ib_write_entry_file(ib_ctx *c, ib_backup *b, const ib_entry *e, const char *dst,
                        FILE *in, const char *src, int64_t stored, uint8_t *work)
{
    size_t n = strlen(dst);
    char *part = malloc(n + 16);
    if (!part)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    snprintf(part, n + 16, "%s.revive-part", dst);
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) { /* left by an earlier run that was stopped */
        unlink(part);
        fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        int rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                         "cannot create %s: %s", part, strerror(errno));
        free(part);
        return rc;
    }
    FILE *out = fdopen(fd, "wb");
    setvbuf(out, NULL, _IONBF, 0);
    int rc = in ? ib_copy_stream(c, b, e, in, src, stored, out, NULL, work)
                : ib_copy_content(c, b, e, out, NULL, work);
    if (!rc) {
        /* on the open file: no second path lookup, and never through a link */
        struct timespec ts[2] = { { (time_t)e->mtime, 0 }, { (time_t)e->mtime, 0 } };
        fchmod(fd, e->mode & 0777);
        futimens(fd, ts);
    }
    if (fclose(out) != 0 && !rc)
        rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                     "cannot write %s: %s", part, strerror(errno));
    if (!rc) {
        if (rename(part, dst) != 0)
            rc = ib_fail(c, REVIVE_E_IO, "os", errno, "cannot rename %s: %s", part,
                         strerror(errno));
    }
    if (rc)
        unlink(part);
    free(part);
    return rc;
}

void ib_xjob_free(ib_xjob *j)
{
    if (!j)
        return;
    free(j->domain);
    free(j->path);
    free(j->dst);
    free(j);
}

static void free_xjob(xjob *j)
{
    ib_xjob_free(j);
}

ib_xjob *ib_xjob_new(const ib_entry *e, char *dst)
{
    ib_xjob *j = calloc(1, sizeof(*j));
    if (!j) {
        free(dst);
        return NULL;
    }
    j->e = *e;
    j->domain = strdup(e->domain);
    j->path = strdup(e->path);
    j->dst = dst;
    j->e.domain = j->domain;
    j->e.path = j->path;
    j->e.target = NULL;
    if (e->key) {
        memcpy(j->key, e->key, 40);
        j->e.key = j->key;
    }
    if (!j->domain || !j->path) {
        ib_xjob_free(j);
        return NULL;
    }
    return j;
}

/* Writer contexts forward events and cancellation to the caller's context. */
static void fwd_event(void *ud, const char *type, const revive_field *f, size_t n)
{
    ib_ctx *p = ud;
    pthread_mutex_lock(&p->lock);
    if (p->event)
        p->event(p->ud, type, f, n);
    pthread_mutex_unlock(&p->lock);
}

static bool fwd_cancelled(void *ud)
{
    return ib_cancelled(ud);
}

static void *writer(void *arg)
{
    pool *p = arg;
    ib_ctx c;
    ib_ctx_init(&c);
    c.ud = p->parent;
    c.event = fwd_event;
    c.cancelled = fwd_cancelled;
    uint8_t *work = malloc(IB_DECRYPT_WORK);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->count && !p->done)
            pthread_cond_wait(&p->not_empty, &p->mu);
        if (!p->count) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        xjob *j = p->q[p->head];
        p->head = (p->head + 1) % XQ;
        p->count--;
        bool stop = p->fatal != REVIVE_OK;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->mu);
        int rc = stop ? REVIVE_OK
                 : work ? ib_write_entry_file(&c, p->b, &j->e, j->dst, NULL, NULL, -1, work)
                        : ib_fail(&c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
        bool problem = rc == REVIVE_E_CORRUPT || rc == REVIVE_E_NOT_FOUND;
        if (problem)
            ib_problem(&c, j->e.path, rc == REVIVE_E_CORRUPT ? "corrupt" : "missing", "%s",
                       c.err.message);
        pthread_mutex_lock(&p->mu);
        if (problem) {
            p->problems++;
        } else if (rc) {
            if (!p->fatal) {
                p->fatal = rc;
                ib_fail(p->parent, rc, c.err.origin, c.err.origin_code, "%s", c.err.message);
            }
        } else if (!stop) {
            p->files++;
            p->bytes += j->e.size;
        }
        pthread_mutex_unlock(&p->mu);
        free_xjob(j);
    }
    pthread_mutex_lock(&p->parent->lock);
    p->parent->problems += c.problems;
    p->parent->warnings += c.warnings;
    pthread_mutex_unlock(&p->parent->lock);
    free(work);
    ib_ctx_fini(&c);
    return NULL;
}

typedef struct xsel {
    sel s;
    pool *p;
    bool from_archive;       /* collect jobs for one pass over the archive */
    xjob **jobs;
    size_t njobs, capjobs;
} xsel;

static int queue_file(xsel *x, const ib_entry *e, char *dst)
{
    pool *p = x->p;
    xjob *j = ib_xjob_new(e, dst);
    if (!j)
        return ib_fail(x->s.c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    if (x->from_archive) {
        if (x->njobs == x->capjobs) {
            size_t nc = x->capjobs ? x->capjobs * 2 : 256;
            xjob **nj = realloc(x->jobs, nc * sizeof(*nj));
            if (!nj) {
                free_xjob(j);
                return ib_fail(x->s.c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
            }
            x->jobs = nj;
            x->capjobs = nc;
        }
        x->jobs[x->njobs++] = j;
        return REVIVE_OK;
    }
    pthread_mutex_lock(&p->mu);
    while (p->count == XQ)
        pthread_cond_wait(&p->not_full, &p->mu);
    int fatal = p->fatal;
    if (!fatal) {
        p->q[(p->head + p->count) % XQ] = j;
        p->count++;
        pthread_cond_signal(&p->not_empty);
    }
    pthread_mutex_unlock(&p->mu);
    if (fatal)
        free_xjob(j);
    return fatal;
}

static int on_extract(void *ud, const ib_entry *e)
{
    xsel *x = ud;
    sel *s = &x->s;
    ib_ctx *c = s->c;
    if (!matches(s, e))
        return REVIVE_OK;
    int rc = ib_check_entry_path(c, e);
    if (rc)
        return rc;
    size_t rl = strlen(e->domain) + strlen(e->path) + 2;
    char *rel = malloc(rl);
    if (!rel)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    snprintf(rel, rl, "%s%s%s", e->domain, *e->path ? "/" : "", e->path);
    char *dst = NULL;
    rc = ib_safe_join(c, s->out, rel, &dst);
    free(rel);
    if (rc)
        return rc;
    if (e->flags == IB_FLAG_DIR) {
        rc = ib_mkdirs(c, dst, 0755);
    } else if (e->flags == IB_FLAG_LINK) {
        if (!link_stays_inside(e->path, e->target)) {
            s->links_refused++;
            ib_warn(c, "%s/%s is a symlink to \"%s\", outside the extracted folder; not created",
                    e->domain, e->path, e->target ? e->target : "");
        } else {
            if (s->nlinks == s->caplinks) {
                size_t nc = s->caplinks ? s->caplinks * 2 : 16;
                char **nl = realloc(s->links, nc * 2 * sizeof(char *));
                if (!nl) {
                    free(dst);
                    return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
                }
                s->links = nl;
                s->caplinks = nc;
            }
            s->links[2 * s->nlinks] = dst;
            s->links[2 * s->nlinks + 1] = strdup(e->target);
            s->nlinks++;
            dst = NULL;
        }
    } else {
        rc = make_parent(c, dst);
        if (!rc) {
            rc = queue_file(x, e, dst);
            dst = NULL;
            if ((++s->files & 255) == 0)
                ib_progress(c, "extract", s->files, 0, "files");
        }
    }
    free(dst);
    if (!rc && ib_cancelled(c))
        rc = ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
    return rc;
}

int ib_extract_threads(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern,
                       const char *out_dir, unsigned threads, uint64_t *files,
                       uint64_t *bytes)
{
    if (threads == 0)
        threads = 4;
    if (threads > 16)
        threads = 16;
    if (b->encrypted && !b->forensic && !b->unlocked)
        return ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                       "the backup is encrypted; its password is needed to extract");
    int rc = ib_mkdirs(c, out_dir, 0755);
    if (rc)
        return rc;
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    p->parent = c;
    p->b = b;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    pthread_t th[16];
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&th[started], NULL, writer, p) != 0)
            break;
    xsel x = { .s = { .c = c, .b = b, .domain = domain, .pattern = pattern, .out = out_dir },
               .p = p, .from_archive = b->manifest_only && b->archive };
    sel *s = &x.s;
    rc = started ? ib_foreach(c, b, on_extract, NULL, &x)
                 : ib_fail(c, REVIVE_E_UNKNOWN, "os", 0, "cannot start writer threads");
    if (x.from_archive) {
        /* content comes straight out of the archive, in its order, on this thread */
        if (!rc)
            rc = ib_extract_from_archive(c, b, x.jobs, x.njobs, &p->files, &p->bytes,
                                         &p->problems);
        for (size_t i = 0; i < x.njobs; i++)
            free_xjob(x.jobs[i]);
        free(x.jobs);
    }
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (!rc && p->fatal)
        rc = p->fatal; /* message already in c->err */
    for (size_t i = 0; i < s->nlinks; i++) {
        char *dst = s->links[2 * i], *target = s->links[2 * i + 1];
        if (!rc && !(rc = make_parent(c, dst))) {
            unlink(dst);
            if (symlink(target, dst) != 0)
                ib_warn(c, "cannot create the symlink %s: %s", dst, strerror(errno));
        }
    }
    /* Each target was checked on its own, but links can lean on each other ("a" -> "..",
     * "b" -> "a/..", ...): resolve every link now that all exist, and remove any that
     * ends up outside the output folder. Removing one can only leave others dangling,
     * never make them escape, so one pass is enough. */
    char *root = realpath(out_dir, NULL);
    size_t rl = root ? strlen(root) : 0;
    for (size_t i = 0; i < s->nlinks; i++) {
        char *dst = s->links[2 * i], *target = s->links[2 * i + 1];
        char *real = rc ? NULL : realpath(dst, NULL);
        if (real && root && !(strncmp(real, root, rl) == 0 && (real[rl] == '/' || !real[rl]))) {
            unlink(dst);
            s->links_refused++;
            ib_warn(c, "%s is a symlink to \"%s\", which together with other links leads "
                       "outside the extracted folder; removed", dst, target);
        }
        free(real);
        free(dst);
        free(target);
    }
    free(root);
    free(s->links);
    if (files)
        *files = p->files;
    if (bytes)
        *bytes = p->bytes;
    if (!rc && p->problems)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%llu files could not be extracted (see the problems above); %llu were",
                     (unsigned long long)p->problems, (unsigned long long)p->files);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->not_empty);
    pthread_cond_destroy(&p->not_full);
    free(p);
    return rc;
}

int ib_extract(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern,
               const char *out_dir, uint64_t *files, uint64_t *bytes)
{
    return ib_extract_threads(c, b, domain, pattern, out_dir, 0, files, bytes);
}
