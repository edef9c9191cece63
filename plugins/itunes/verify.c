/*
 * verify.c — is every file the manifest lists there, with its recorded size and digest?
 *
 * The manifest is streamed (one row in memory at a time) by the calling thread, which
 * turns each file row into a small job on a bounded queue; worker threads (one per core)
 * open, size-check and hash the stored bytes. The queue bound keeps memory flat however
 * many rows there are, and the workers keep both cores and the disk busy. For encrypted
 * backups the digest covers the stored (encrypted) bytes, so nothing is decrypted here.
 * Every problem is reported as a "problem" event {path, problem, detail}; the run goes
 * on to the end so the person sees all of them, and returns CORRUPT if there was any.
 */
#include "itunes.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { QCAP = 512, BUF = 1 << 20 };

typedef struct job {
    char *content;          /* stored file */
    char *label;            /* domain/path, for messages */
    uint64_t want_size;
    uint64_t plain_size;    /* the manifest's Size */
    bool encrypted;
    uint8_t digest[32];
    size_t digest_len;
} job;

typedef struct vstate {
    ib_ctx *c;
    ib_backup *b;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    job *q[QCAP];
    size_t head, count;
    bool done;
    uint64_t files, dirs, links, rows, bytes_hashed;
} vstate;

static void free_job(job *j)
{
    free(j->content);
    free(j->label);
    free(j);
}

static void check_file(vstate *v, job *j, uint8_t *buf, EVP_MD_CTX *md)
{
    ib_ctx *c = v->c;
    int fd = open(j->content, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ib_problem(c, j->label, errno == ENOENT ? "missing" : "unreadable",
                   "%s: %s", j->content, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ib_problem(c, j->label, "not_a_file", "%s is not a regular file", j->content);
        close(fd);
        return;
    }
    if (!ib_stored_size_ok2(j->encrypted, j->plain_size, (uint64_t)st.st_size)) {
        ib_problem(c, j->label, "size",
                   "%s is %lld bytes, the manifest records %llu", j->content,
                   (long long)st.st_size, (unsigned long long)j->want_size);
        close(fd);
        return;
    }
    if (!j->digest_len) {
        close(fd);
        return;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    EVP_DigestInit_ex(md, j->digest_len == 32 ? EVP_sha256() : EVP_sha1(), NULL);
    uint64_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf, BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ib_problem(c, j->label, "unreadable", "%s: %s", j->content, strerror(errno));
            close(fd);
            return;
        }
        if (r == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)r);
        got += (uint64_t)r;
    }
    close(fd);
    uint8_t out[32];
    unsigned olen = 0;
    EVP_DigestFinal_ex(md, out, &olen);
    pthread_mutex_lock(&v->mu);
    v->bytes_hashed += got;
    pthread_mutex_unlock(&v->mu);
    if (olen != j->digest_len || memcmp(out, j->digest, olen) != 0) {
        char a[65], b[65];
        ib_hex(j->digest, j->digest_len, a);
        ib_hex(out, olen, b);
        ib_problem(c, j->label, "digest", "%s hashes to %s, the manifest records %s",
                   j->content, b, a);
    }
}

static void *worker(void *arg)
{
    vstate *v = arg;
    uint8_t *buf = malloc(BUF);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    for (;;) {
        pthread_mutex_lock(&v->mu);
        while (!v->count && !v->done)
            pthread_cond_wait(&v->not_empty, &v->mu);
        if (!v->count) {
            pthread_mutex_unlock(&v->mu);
            break;
        }
        job *j = v->q[v->head];
        v->head = (v->head + 1) % QCAP;
        v->count--;
        pthread_cond_signal(&v->not_full);
        pthread_mutex_unlock(&v->mu);
        if (buf && md)
            check_file(v, j, buf, md);
        free_job(j);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    return NULL;
}

static int push(vstate *v, job *j)
{
    pthread_mutex_lock(&v->mu);
    while (v->count == QCAP)
        pthread_cond_wait(&v->not_full, &v->mu);
    v->q[(v->head + v->count) % QCAP] = j;
    v->count++;
    pthread_cond_signal(&v->not_empty);
    pthread_mutex_unlock(&v->mu);
    return REVIVE_OK;
}

static int on_bad(void *ud, const char *file_id, const char *what)
{
    vstate *v = ud;
    ib_problem(v->c, file_id, "corrupt_row", "Manifest row %s: %s", file_id, what);
    return REVIVE_OK;
}

static bool path_unsafe(const char *p)
{
    if (p[0] == '/')
        return true;
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/'))
            return true;
    return false;
}

void ib_verify_entry(ib_ctx *c, ib_backup *b, const ib_entry *e, const char *label)
{
    if (path_unsafe(e->path) || strchr(e->domain, '/'))
        ib_problem(c, label, "unsafe_path", "the path climbs out with \"..\" or is absolute");
    if (b->format == IB_FMT_DB) {
        char id[41];
        ib_file_id(e->domain, e->path, id);
        if (strcmp(id, e->file_id))
            ib_problem(c, label, "file_id", "fileID %s is not SHA1(domain-path) = %s",
                       e->file_id, id);
    }
    if (e->flags == IB_FLAG_FILE && !ib_entry_encrypted(b, e) && b->encrypted && !b->forensic &&
        b->format == IB_FMT_DB && e->size)
        ib_problem(c, label, "no_key", "the backup is encrypted but this file has no key");
}

static int on_entry(void *ud, const ib_entry *e)
{
    vstate *v = ud;
    ib_ctx *c = v->c;
    v->rows++;
    size_t ll = strlen(e->domain) + strlen(e->path) + 2;
    char *label = malloc(ll);
    if (!label)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    snprintf(label, ll, "%s/%s", e->domain, e->path);
    ib_verify_entry(c, v->b, e, label);
    if (e->flags == IB_FLAG_DIR)
        v->dirs++;
    else if (e->flags == IB_FLAG_LINK)
        v->links++;
    if (e->flags != IB_FLAG_FILE) {
        free(label);
        return REVIVE_OK;
    }
    v->files++;
    job *j = calloc(1, sizeof(*j));
    if (!j) {
        free(label);
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    }
    j->label = label;
    j->content = ib_content_path(v->b, e);
    j->want_size = ib_stored_size(v->b, e);
    j->plain_size = e->size;
    j->encrypted = ib_entry_encrypted(v->b, e);
    memcpy(j->digest, e->digest, e->digest_len);
    j->digest_len = e->digest_len;
    if ((v->files & 1023) == 0) {
        ib_progress(c, "verify", v->files, 0, "files");
        if (ib_cancelled(c)) {
            free_job(j);
            return ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
        }
    }
    return push(v, j);
}

void ib_verify_plists(ib_ctx *c, ib_backup *b)
{
    if (!b->info)
        ib_problem(c, "Info.plist", "missing", "%s/Info.plist is missing", b->root);
    if (!b->manifest)
        ib_problem(c, "Manifest.plist", "missing",
                   "%s/Manifest.plist is missing; a restore will refuse this backup "
                   "(import can synthesize it)", b->root);
    if (!b->status && b->format == IB_FMT_DB)
        ib_problem(c, "Status.plist", "missing",
                   "%s/Status.plist is missing; a restore will refuse this backup "
                   "(import can synthesize it)", b->root);
    if (b->status) {
        const char *s = ib_pl_str(b->status, "SnapshotState");
        if (s && strcmp(s, "finished"))
            ib_problem(c, "Status.plist", "incomplete",
                       "SnapshotState is \"%s\": the backup did not finish", s);
    }
    const char *iu = ib_pl_str(b->info, "Unique Identifier");
    plist_t lock = b->manifest ? plist_dict_get_item(b->manifest, "Lockdown") : NULL;
    const char *mu = lock ? ib_pl_str(lock, "UniqueDeviceID") : NULL;
    if (iu && mu && strcasecmp(iu, mu))
        ib_problem(c, "Manifest.plist", "inconsistent",
                   "Manifest.plist is for device %s, Info.plist for %s", mu, iu);
    const char *ip = ib_pl_str(b->info, "Product Version");
    const char *mp = lock ? ib_pl_str(lock, "ProductVersion") : NULL;
    if (ip && mp && strcmp(ip, mp))
        ib_problem(c, "Manifest.plist", "inconsistent",
                   "Manifest.plist says iOS %s, Info.plist says %s", mp, ip);
}

int ib_verify(ib_ctx *c, ib_backup *b, unsigned threads)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 2;
    }
    if (threads > 16)
        threads = 16;
    unsigned before = c->problems;
    if (b->manifest_only && b->archive)
        return ib_verify_archive(c, b, &b->limits);
    ib_verify_plists(c, b);
    vstate *v = calloc(1, sizeof(*v));
    if (!v)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    v->c = c;
    v->b = b;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->not_empty, NULL);
    pthread_cond_init(&v->not_full, NULL);
    pthread_t th[16];
    unsigned started = 0;
    for (; started < threads; started++)
        if (pthread_create(&th[started], NULL, worker, v) != 0)
            break;
    int rc = REVIVE_OK;
    if (!started)
        rc = ib_fail(c, REVIVE_E_UNKNOWN, "os", 0, "cannot start hashing threads");
    else
        rc = ib_foreach(c, b, on_entry, on_bad, v);
    pthread_mutex_lock(&v->mu);
    v->done = true;
    pthread_cond_broadcast(&v->not_empty);
    pthread_mutex_unlock(&v->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    ib_progress(c, "verify", v->files, v->files, "files");
    if (rc) {
        /* a manifest that stops reading part-way is itself a problem worth listing */
        if (rc == REVIVE_E_CORRUPT)
            ib_problem(c, b->format == IB_FMT_DB ? "Manifest.db" : "Manifest.mbdb", "corrupt",
                       "%s", c->err.message);
    } else if (c->problems > before) {
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%u problems found in %llu files (%llu folders, %llu links) of %s",
                     c->problems - before, (unsigned long long)v->files,
                     (unsigned long long)v->dirs, (unsigned long long)v->links, b->root);
    }
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->not_empty);
    pthread_cond_destroy(&v->not_full);
    free(v);
    return rc;
}
