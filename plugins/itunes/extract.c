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

int ib_copy_content(ib_ctx *c, ib_backup *b, const ib_entry *e, FILE *out, void *sha1_md)
{
    char *src = ib_content_path(b, e);
    if (!src)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    FILE *in = fopen(src, "rb");
    int rc = REVIVE_OK;
    if (!in) {
        rc = ib_fail(c, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "os", errno,
                     "%s/%s: its content %s cannot be opened: %s", e->domain, e->path, src,
                     strerror(errno));
        free(src);
        return rc;
    }
    struct stat st;
    fstat(fileno(in), &st);
    uint64_t want = ib_stored_size(b, e);
    if (!b->work && !(b->work = malloc(IB_DECRYPT_WORK))) {
        fclose(in);
        free(src);
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    }
    /* big stdio buffer: content is streamed in IB_CHUNK pieces anyway */
    setvbuf(in, NULL, _IONBF, 0);
    if (ib_entry_encrypted(b, e)) {
        uint8_t key[32];
        if (!b->unlocked)
            rc = ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                         "the backup is encrypted; its password is needed");
        else
            rc = ib_keybag_file_key(c, &b->kb, e->key_class, e->key, e->key_len, key);
        if (!rc && (uint64_t)st.st_size < e->size)
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s/%s: %s is %lld bytes, less than the %llu the manifest records",
                         e->domain, e->path, src, (long long)st.st_size,
                         (unsigned long long)e->size);
        if (!rc)
            rc = ib_decrypt_stream_buf(c, key, in, src, out, e->size, sha1_md, b->work);
        OPENSSL_cleanse(key, sizeof(key));
    } else if ((uint64_t)st.st_size != want) {
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s/%s: %s is %lld bytes, the manifest records %llu (the size lies or "
                     "the file is a stand-in)", e->domain, e->path, src,
                     (long long)st.st_size, (unsigned long long)want);
    } else {
        uint8_t *buf = b->work;
        uint64_t left = want;
        while (!rc && buf && left) {
            size_t r = fread(buf, 1, left < (1u << 20) ? (size_t)left : (1u << 20), in);
            if (r == 0) {
                rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0, "%s shrank while reading", src);
                break;
            }
            if (sha1_md)
                EVP_DigestUpdate(sha1_md, buf, r);
            if (fwrite(buf, 1, r, out) != r)
                rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os",
                             errno, "cannot write: %s", strerror(errno));
            left -= r;
        }
    }
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

static void set_times(const char *path, int64_t mtime, bool nofollow)
{
    struct timespec ts[2] = { { (time_t)mtime, 0 }, { (time_t)mtime, 0 } };
    utimensat(AT_FDCWD, path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
}

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

static int write_file(sel *s, const ib_entry *e, const char *dst)
{
    ib_ctx *c = s->c;
    size_t n = strlen(dst);
    char *part = malloc(n + 16);
    if (!part)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    snprintf(part, n + 16, "%s.revive-part", dst);
    unlink(part);
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                         "cannot create %s: %s", part, strerror(errno));
        free(part);
        return rc;
    }
    FILE *out = fdopen(fd, "wb");
    int rc = ib_copy_content(c, s->b, e, out, NULL);
    if (fclose(out) != 0 && !rc)
        rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                     "cannot write %s: %s", part, strerror(errno));
    if (!rc) {
        chmod(part, e->mode & 0777);
        set_times(part, e->mtime, true);
        if (rename(part, dst) != 0)
            rc = ib_fail(c, REVIVE_E_IO, "os", errno, "cannot rename %s: %s", part,
                         strerror(errno));
    }
    if (rc)
        unlink(part);
    free(part);
    return rc;
}

static int on_extract(void *ud, const ib_entry *e)
{
    sel *s = ud;
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
            rc = write_file(s, e, dst);
            if (rc == REVIVE_E_CORRUPT || rc == REVIVE_E_NOT_FOUND) {
                /* one bad file does not stop the others; it is reported and counted */
                ib_problem(c, e->path, rc == REVIVE_E_CORRUPT ? "corrupt" : "missing", "%s",
                           c->err.message);
                s->problems++;
                rc = REVIVE_OK;
            } else if (!rc) {
                s->files++;
                s->bytes += e->size;
                if ((s->files & 255) == 0)
                    ib_progress(c, "extract", s->files, 0, "files");
            }
        }
    }
    free(dst);
    if (!rc && ib_cancelled(c))
        rc = ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
    return rc;
}

int ib_extract(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern,
               const char *out_dir, uint64_t *files, uint64_t *bytes)
{
    int rc = ib_mkdirs(c, out_dir, 0755);
    if (rc)
        return rc;
    sel s = { .c = c, .b = b, .domain = domain, .pattern = pattern, .out = out_dir };
    rc = ib_foreach(c, b, on_extract, NULL, &s);
    for (size_t i = 0; i < s.nlinks; i++) {
        char *dst = s.links[2 * i], *target = s.links[2 * i + 1];
        if (!rc && !(rc = make_parent(c, dst))) {
            unlink(dst);
            if (symlink(target, dst) != 0)
                ib_warn(c, "cannot create the symlink %s: %s", dst, strerror(errno));
        }
        free(dst);
        free(target);
    }
    free(s.links);
    if (files)
        *files = s.files;
    if (bytes)
        *bytes = s.bytes;
    if (!rc && s.problems)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%llu files could not be extracted (see the problems above); %llu were",
                     (unsigned long long)s.problems, (unsigned long long)s.files);
    return rc;
}
