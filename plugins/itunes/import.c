/*
 * import.c — the canonical restorable form (iOS 10+ layout, unencrypted) from any
 * supported input: a folder, an archive, a legacy mbdb backup, an encrypted backup (with
 * its password) or a forensic decrypted copy.
 *
 * The output is built in a temp folder beside out_dir (same filesystem, so the final
 * rename is atomic), verified there, and only then renamed to out_dir: it appears whole
 * or not at all, and a failure removes the temp folder. Every file is re-hashed as it is
 * copied (or decrypted) and its new MBFile records that SHA-1, its plain size, and no
 * EncryptionKey; fileIDs are recomputed from domain and path. Manifest.plist is
 * re-marked unencrypted with BackupKeyBag and ManifestKey removed; Manifest.plist,
 * Status.plist and Info.plist are synthesized when missing, each with a warning.
 */
#include "itunes.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct imp {
    ib_ctx *c;
    ib_backup *b;
    const char *tmp;
    sqlite3 *db;
    sqlite3_stmt *ins;
    EVP_MD_CTX *md;
    uint64_t files, bytes, rows;
    bool from_archive;      /* file rows wait for their member (one pass over the archive) */
    ib_xjob **jobs;
    size_t njobs, capjobs;
    /* folder imports: files are copied and hashed by workers; rows go in under mu */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    ib_xjob *q[256];
    size_t head, count;
    bool done;
    int fatal;
} imp;

/* What a thread copying files needs of its own. */
typedef struct wk {
    ib_ctx *c;
    EVP_MD_CTX *md;
    uint8_t *work;
} wk;

static int sql_fail(imp *s, ib_ctx *c, int src, const char *what)
{
    return ib_fail(c, src == SQLITE_FULL ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "sqlite",
                   src, "writing the new Manifest.db failed (%s): %s", what,
                   sqlite3_errmsg(s->db));
}

/* Copy (or decrypt) e's content into the new layout, hashing it. in NULL: from the
 * backup folder; else from that stream of `stored` bytes. */
static int copy_one(imp *s, wk *w, const ib_entry *e, ib_entry *out, FILE *in,
                    const char *label, int64_t stored)
{
    ib_ctx *c = w->c;
    char rel[45];
    snprintf(rel, sizeof(rel), "%.2s", out->file_id);
    char *dir = ib_join(s->tmp, rel);
    snprintf(rel, sizeof(rel), "%.2s/%s", out->file_id, out->file_id);
    char *path = ib_join(s->tmp, rel);
    if (!dir || !path) {
        free(dir);
        free(path);
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    }
    int fd = -1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                "cannot create %s: %s", dir, strerror(errno));
    else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
        ib_fail(c, errno == EEXIST ? REVIVE_E_CORRUPT : errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST
                                                                        : REVIVE_E_IO,
                "os", errno,
                errno == EEXIST ? "%s/%s is listed twice in the manifest"
                                : "cannot create the copy of %s/%s",
                e->domain, e->path);
    free(dir);
    if (fd < 0) {
        free(path);
        return c->err.code;
    }
    FILE *f = fdopen(fd, "wb");
    EVP_DigestInit_ex(w->md, EVP_sha1(), NULL);
    int rc = in ? ib_copy_stream(c, s->b, e, in, label, stored, f, w->md, w->work)
                : ib_copy_content(c, s->b, e, f, w->md, w->work);
    if (fclose(f) != 0 && !rc)
        rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                     "cannot write %s: %s", path, strerror(errno));
    if (rc) {
        free(path);
        return rc;
    }
    unsigned len = 0;
    EVP_DigestFinal_ex(w->md, out->digest, &len);
    out->digest_len = 20;
    struct stat st;
    if (stat(path, &st) == 0)
        out->size = (uint64_t)st.st_size;
    free(path);
    return REVIVE_OK;
}

static int add_row(imp *s, wk *w, const ib_entry *e, FILE *in, const char *label,
                   int64_t stored)
{
    ib_ctx *c = w->c;
    int rc;
    ib_entry o = *e;
    ib_file_id(e->domain, e->path, o.file_id);
    o.key = NULL;
    o.key_len = 0;
    o.key_class = 0;
    o.digest_len = 0;
    if (e->flags == IB_FLAG_FILE) {
        if ((rc = copy_one(s, w, e, &o, in, label, stored)))
            return rc;
    } else {
        o.size = 0;
    }
    uint8_t *blob = NULL;
    size_t blen = 0;
    if ((rc = ib_mbfile_encode(c, &o, &blob, &blen)))
        return rc;
    pthread_mutex_lock(&s->mu);
    if (e->flags == IB_FLAG_FILE) {
        s->files++;
        s->bytes += o.size;
    }
    sqlite3_reset(s->ins);
    sqlite3_bind_text(s->ins, 1, o.file_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->ins, 2, o.domain, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->ins, 3, o.path, -1, SQLITE_STATIC);
    sqlite3_bind_int(s->ins, 4, o.flags);
    sqlite3_bind_blob(s->ins, 5, blob, (int)blen, free);
    int src = sqlite3_step(s->ins);
    uint64_t rows = ++s->rows;
    if (src != SQLITE_DONE && src != SQLITE_CONSTRAINT)
        rc = sql_fail(s, c, src, "insert");
    pthread_mutex_unlock(&s->mu);
    if (src == SQLITE_CONSTRAINT)
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                       "%s/%s is listed twice in the manifest", e->domain, e->path);
    if (rc)
        return rc;
    if ((rows & 1023) == 0) {
        ib_progress(c, "import", rows, 0, "files");
        if (ib_cancelled(c))
            return ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
    }
    return REVIVE_OK;
}

/* Events of a worker's own context go out through the caller's. */
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

static void *worker(void *arg)
{
    imp *s = arg;
    ib_ctx c;
    ib_ctx_init(&c);
    c.ud = s->c;
    c.event = fwd_event;
    c.cancelled = fwd_cancelled;
    wk w = { &c, EVP_MD_CTX_new(), malloc(IB_DECRYPT_WORK) };
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->count && !s->done)
            pthread_cond_wait(&s->not_empty, &s->mu);
        if (!s->count) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        ib_xjob *j = s->q[s->head];
        s->head = (s->head + 1) % 256;
        s->count--;
        bool stop = s->fatal != REVIVE_OK;
        pthread_cond_signal(&s->not_full);
        pthread_mutex_unlock(&s->mu);
        int rc = stop ? REVIVE_OK
                 : (w.md && w.work) ? add_row(s, &w, &j->e, NULL, NULL, -1)
                                    : ib_fail(&c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
        if (rc) {
            pthread_mutex_lock(&s->mu);
            if (!s->fatal) {
                s->fatal = rc;
                ib_fail(s->c, rc, c.err.origin, c.err.origin_code, "%s", c.err.message);
            }
            pthread_mutex_unlock(&s->mu);
        }
        ib_xjob_free(j);
    }
    pthread_mutex_lock(&s->c->lock);
    s->c->warnings += c.warnings;
    s->c->problems += c.problems;
    pthread_mutex_unlock(&s->c->lock);
    EVP_MD_CTX_free(w.md);
    free(w.work);
    ib_ctx_fini(&c);
    return NULL;
}

static int queue_job(imp *s, const ib_entry *e)
{
    ib_xjob *j = ib_xjob_new(e, NULL);
    if (!j)
        return ib_fail(s->c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    pthread_mutex_lock(&s->mu);
    while (s->count == 256 && !s->fatal)
        pthread_cond_wait(&s->not_full, &s->mu);
    int fatal = s->fatal;
    if (!fatal) {
        s->q[(s->head + s->count) % 256] = j;
        s->count++;
        pthread_cond_signal(&s->not_empty);
    }
    pthread_mutex_unlock(&s->mu);
    if (fatal)
        ib_xjob_free(j);
    return fatal;
}

static int on_entry(void *ud, const ib_entry *e)
{
    imp *s = ud;
    int rc = ib_check_entry_path(s->c, e);
    if (rc)
        return rc;
    if (e->flags != IB_FLAG_FILE) {
        wk w = { s->c, s->md, NULL };
        return add_row(s, &w, e, NULL, NULL, -1);
    }
    if (!s->from_archive)
        return queue_job(s, e);
    /* from an archive: the row is added when the member goes by */
    if (s->njobs == s->capjobs) {
        size_t nc = s->capjobs ? s->capjobs * 2 : 256;
        ib_xjob **nj = realloc(s->jobs, nc * sizeof(*nj));
        if (!nj)
            return ib_fail(s->c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
        s->jobs = nj;
        s->capjobs = nc;
    }
    if (!(s->jobs[s->njobs] = ib_xjob_new(e, NULL)))
        return ib_fail(s->c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    s->njobs++;
    return REVIVE_OK;
}

static int on_member(void *ud, ib_xjob *j, FILE *in, const char *label, int64_t stored)
{
    imp *s = ud;
    wk w = { s->c, s->md, NULL };
    return add_row(s, &w, &j->e, in, label, stored);
}

static int write_db(imp *s)
{
    char *path = ib_join(s->tmp, "Manifest.db");
    int src = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    free(path);
    if (src != SQLITE_OK)
        return sql_fail(s, s->c, src, "open");
    src = sqlite3_exec(s->db,
                       "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                       "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, "
                       "relativePath TEXT, flags INTEGER, file BLOB);"
                       "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);"
                       "BEGIN;", NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return sql_fail(s, s->c, src, "schema");
    src = sqlite3_prepare_v2(s->db, "INSERT INTO Files VALUES (?,?,?,?,?)", -1, &s->ins, NULL);
    if (src != SQLITE_OK)
        return sql_fail(s, s->c, src, "prepare");
    pthread_t th[8];
    unsigned started = 0;
    if (!s->from_archive) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned want = ncpu > 1 ? (unsigned)(ncpu > 8 ? 8 : ncpu) : 2;
        for (; started < want; started++)
            if (pthread_create(&th[started], NULL, worker, s) != 0)
                break;
    }
    int rc = !s->from_archive && !started
                 ? ib_fail(s->c, REVIVE_E_UNKNOWN, "os", 0, "cannot start import threads")
                 : ib_foreach(s->c, s->b, on_entry, NULL, s);
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_cond_broadcast(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (!rc && s->fatal)
        rc = s->fatal; /* its message is in s->c->err */
    if (!rc && s->from_archive) {
        rc = ib_archive_each(s->c, s->b, s->jobs, s->njobs, on_member, s);
        for (size_t i = 0; !rc && i < s->njobs; i++)
            if (!s->jobs[i]->done)
                rc = ib_fail(s->c, REVIVE_E_CORRUPT, "itunes", 0,
                             "%s has no member for %s/%s: the import would be incomplete",
                             s->b->archive, s->jobs[i]->e.domain, s->jobs[i]->e.path);
    }
    for (size_t i = 0; i < s->njobs; i++)
        ib_xjob_free(s->jobs[i]);
    free(s->jobs);
    s->jobs = NULL;
    sqlite3_finalize(s->ins);
    s->ins = NULL;
    if (rc)
        return rc;
    src = sqlite3_exec(s->db,
                       "COMMIT;"
                       "CREATE INDEX FilesDomainIdx ON Files(domain);"
                       "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
                       "CREATE INDEX FilesFlagsIdx ON Files(flags);", NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return sql_fail(s, s->c, src, "commit");
    src = sqlite3_close(s->db);
    s->db = NULL;
    return src == SQLITE_OK ? REVIVE_OK : ib_fail(s->c, REVIVE_E_IO, "sqlite", src,
                                                  "closing the new Manifest.db failed");
}

static plist_t lockdown_from_info(plist_t info)
{
    plist_t l = plist_new_dict();
    static const char *const map[][2] = {
        { "Unique Identifier", "UniqueDeviceID" }, { "Product Type", "ProductType" },
        { "Product Version", "ProductVersion" },   { "Build Version", "BuildVersion" },
        { "Serial Number", "SerialNumber" },       { "Device Name", "DeviceName" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        const char *v = ib_pl_str(info, map[i][0]);
        if (v)
            plist_dict_set_item(l, map[i][1], plist_new_string(v));
    }
    return l;
}

static int write_plists(imp *s)
{
    ib_ctx *c = s->c;
    ib_backup *b = s->b;
    int rc;
    char *p;
    time_t now = time(NULL);
    int32_t mac_now = (int32_t)(now - 978307200);

    plist_t info = b->info ? plist_copy(b->info) : NULL;
    if (!info) {
        ib_warn(c, "the backup has no Info.plist; a minimal one was written from "
                   "Manifest.plist");
        info = plist_new_dict();
        plist_t l = b->manifest ? plist_dict_get_item(b->manifest, "Lockdown") : NULL;
        const char *udid = l ? ib_pl_str(l, "UniqueDeviceID") : NULL;
        const char *pt = l ? ib_pl_str(l, "ProductType") : NULL;
        const char *pv = l ? ib_pl_str(l, "ProductVersion") : NULL;
        if (udid)
            plist_dict_set_item(info, "Unique Identifier", plist_new_string(udid));
        if (pt)
            plist_dict_set_item(info, "Product Type", plist_new_string(pt));
        if (pv)
            plist_dict_set_item(info, "Product Version", plist_new_string(pv));
        plist_dict_set_item(info, "Last Backup Date", plist_new_date(mac_now, 0));
    }
    p = ib_join(s->tmp, "Info.plist");
    rc = ib_write_plist_xml(c, p, info);
    free(p);
    if (rc) {
        plist_free(info);
        return rc;
    }

    plist_t man = b->manifest ? plist_copy(b->manifest) : NULL;
    if (!man) {
        ib_warn(c, "the backup has no Manifest.plist; one was synthesized from Info.plist "
                   "(unencrypted, no application list)");
        man = plist_new_dict();
        plist_dict_set_item(man, "Lockdown", lockdown_from_info(info));
        plist_dict_set_item(man, "Applications", plist_new_dict());
        plist_dict_set_item(man, "Date", plist_new_date(mac_now, 0));
        plist_dict_set_item(man, "WasPasscodeSet", plist_new_bool(0));
    }
    plist_free(info);
    plist_dict_set_item(man, "IsEncrypted", plist_new_bool(0));
    plist_dict_remove_item(man, "BackupKeyBag");
    plist_dict_remove_item(man, "ManifestKey");
    plist_dict_set_item(man, "Version", plist_new_string("10.0"));
    p = ib_join(s->tmp, "Manifest.plist");
    rc = ib_write_plist_xml(c, p, man);
    free(p);
    plist_free(man);
    if (rc)
        return rc;

    plist_t st = b->status ? plist_copy(b->status) : NULL;
    if (!st) {
        ib_warn(c, "the backup has no Status.plist; one was synthesized (a finished full "
                   "backup)");
        st = plist_new_dict();
        uint8_t u[16];
        char hex[33], uuid[37];
        RAND_bytes(u, sizeof(u));
        ib_hex(u, 16, hex);
        snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
                 hex + 16, hex + 20);
        for (char *q = uuid; *q; q++)
            if (*q >= 'a' && *q <= 'f')
                *q = (char)(*q - 32);
        plist_dict_set_item(st, "UUID", plist_new_string(uuid));
        plist_dict_set_item(st, "Date", plist_new_date(mac_now, 0));
        plist_dict_set_item(st, "IsFullBackup", plist_new_bool(1));
    }
    plist_dict_set_item(st, "Version", plist_new_string("3.3"));
    plist_dict_set_item(st, "BackupState", plist_new_string("new"));
    plist_dict_set_item(st, "SnapshotState", plist_new_string("finished"));
    p = ib_join(s->tmp, "Status.plist");
    rc = ib_write_plist_xml(c, p, st);
    free(p);
    plist_free(st);
    return rc;
}

int ib_import(ib_ctx *c, ib_backup *b, const char *out_dir, uint64_t *files, uint64_t *bytes)
{
    struct stat st;
    bool was_empty_dir = false;
    if (lstat(out_dir, &st) == 0) {
        if (S_ISDIR(st.st_mode) && rmdir(out_dir) == 0)
            was_empty_dir = true; /* an empty folder is taken as "put it here" */
        if (!was_empty_dir)
            return ib_fail(c, REVIVE_E_INVALID, "itunes", 0,
                           "%s already exists and is not an empty folder; choose a new one",
                           out_dir);
    }
    size_t n = strlen(out_dir);
    while (n > 1 && out_dir[n - 1] == '/') /* "out/" -> "out.revive-tmp-..." */
        n--;
    char *tmp = malloc(n + 32);
    if (!tmp)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    snprintf(tmp, n + 32, "%.*s.revive-tmp-XXXXXX", (int)n, out_dir);
    if (!mkdtemp(tmp)) {
        int e = errno;
        free(tmp);
        if (was_empty_dir)
            mkdir(out_dir, st.st_mode & 07777);
        return ib_fail(c, e == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", e,
                       "cannot create a folder beside %s: %s", out_dir, strerror(e));
    }
    chmod(tmp, 0755);
    imp s = { .c = c, .b = b, .tmp = tmp, .md = EVP_MD_CTX_new(),
              .from_archive = b->manifest_only && b->archive };
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.not_empty, NULL);
    pthread_cond_init(&s.not_full, NULL);
    int rc = s.md ? write_db(&s) : ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    if (s.db)
        sqlite3_close(s.db);
    EVP_MD_CTX_free(s.md);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.not_empty);
    pthread_cond_destroy(&s.not_full);
    if (!rc)
        rc = write_plists(&s);
    if (!rc) {
        /* verify what we wrote before it takes the real name */
        ib_backup out;
        unsigned before = c->problems;
        rc = ib_open(c, tmp, NULL, &out);
        if (!rc) {
            rc = ib_verify(c, &out, 0);
            ib_close(&out);
        }
        if (rc)
            rc = ib_fail(c, rc, "itunes", 0,
                         "the imported copy did not verify (%u problems); nothing was written "
                         "to %s: %s", c->problems - before, out_dir, c->err.message);
    }
    if (!rc && rename(tmp, out_dir) != 0)
        rc = ib_fail(c, REVIVE_E_IO, "os", errno, "cannot rename %s to %s: %s", tmp, out_dir,
                     strerror(errno));
    if (rc) {
        ib_rmtree(tmp);
        if (was_empty_dir)
            mkdir(out_dir, st.st_mode & 07777); /* leave the person's folder as it was */
    }
    free(tmp);
    if (files)
        *files = s.files;
    if (bytes)
        *bytes = s.bytes;
    return rc;
}
