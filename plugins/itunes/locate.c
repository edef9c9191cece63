/*
 * locate.c — where a backup lives.
 *
 * People bring backups as: the backup folder itself (Info.plist, Manifest.*), the folder
 * above it holding one or more <UDID> backups (iTunes' "Backup" folder), iMazing-style
 * snapshots named <UDID>-<date> beside each other, or a zip or tar (any compression
 * libarchive reads) of any of those. Archives are first walked header by header without
 * writing anything (names, link targets, declared sizes, member count); only a walk that
 * finds nothing unsafe is unpacked, into a private scratch folder, and there every byte
 * written is counted again so a member that lies about its size or a decompression bomb
 * is stopped at the limit, not after the disk is full.
 */
#include "itunes.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static bool exists(const char *dir, const char *name, bool want_dir)
{
    char *p = ib_join(dir, name);
    struct stat st;
    bool ok = p && stat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    free(p);
    return ok;
}

static bool is_backup_dir(const char *dir)
{
    return exists(dir, "Manifest.db", false) || exists(dir, "Manifest.mbdb", false) ||
           (exists(dir, "Info.plist", false) && exists(dir, "Manifest.plist", false));
}

bool ib_is_archive(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    uint8_t m[512] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, m, sizeof(m));
    close(fd);
    if (n < 4)
        return false;
    if (m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4)          /* zip */
        return true;
    if (m[0] == 0x1f && m[1] == 0x8b)                                   /* gzip */
        return true;
    if (m[0] == 'B' && m[1] == 'Z' && m[2] == 'h')                      /* bzip2 */
        return true;
    if (m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X')      /* xz */
        return true;
    if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)   /* zstd */
        return true;
    if (n >= 262 && memcmp(m + 257, "ustar", 5) == 0)                  /* tar */
        return true;
    return false;
}

/* A backup folder name: 40 hex (old UDID) or 8-16 hex with a dash (new UDID). */
static size_t udid_len(const char *name)
{
    size_t i = 0;
    while (name[i] && ((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f') ||
                       (name[i] >= 'A' && name[i] <= 'F')))
        i++;
    if (i == 40)
        return 40;
    if (i == 8 && name[8] == '-') {
        size_t j = 9;
        while (name[j] && ((name[j] >= '0' && name[j] <= '9') ||
                           (name[j] >= 'a' && name[j] <= 'f') ||
                           (name[j] >= 'A' && name[j] <= 'F')))
            j++;
        if (j == 25)
            return 25;
    }
    return 0;
}

int ib_probe(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        if (exists(path, "Manifest.db", false) && exists(path, "Info.plist", false))
            return 100;
        if (exists(path, "Manifest.mbdb", false))
            return 95;
        if (is_backup_dir(path))
            return 90;
        DIR *d = opendir(path);
        if (!d)
            return 0;
        int score = 0;
        struct dirent *de;
        while ((de = readdir(d)) && !score) {
            if (!udid_len(de->d_name))
                continue;
            char *sub = ib_join(path, de->d_name);
            if (sub && is_backup_dir(sub))
                score = 70;
            free(sub);
        }
        closedir(d);
        return score;
    }
    if (!ib_is_archive(path))
        return 0;
    /* cheap look at the first members for a manifest */
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    int score = 20;
    if (archive_read_open_filename(a, path, 65536) == ARCHIVE_OK) {
        struct archive_entry *e;
        /* a few hundred headers: skipping members of a compressed tar costs decompression */
        for (int i = 0; i < 256 && archive_read_next_header(a, &e) == ARCHIVE_OK; i++) {
            const char *n = archive_entry_pathname(e);
            const char *base = n ? strrchr(n, '/') : NULL;
            base = base ? base + 1 : n;
            if (base && (!strcmp(base, "Manifest.db") || !strcmp(base, "Manifest.mbdb"))) {
                score = 80;
                break;
            }
        }
    }
    archive_read_free(a);
    return score;
}

typedef struct cand {
    char *name;
    size_t ulen;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    return strcmp(((const cand *)a)->name, ((const cand *)b)->name);
}

int ib_locate(ib_ctx *c, const char *path, const char *udid, char **found)
{
    *found = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return ib_fail(c, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "os", errno,
                       "%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        /* one of a backup's own files given: the backup is its folder */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!strcmp(base, "Manifest.db") || !strcmp(base, "Manifest.mbdb") ||
            !strcmp(base, "Manifest.plist") || !strcmp(base, "Info.plist") ||
            !strcmp(base, "Status.plist")) {
            size_t dl = (size_t)(base - path);
            char *dir = dl ? strndup(path, dl > 1 ? dl - 1 : 1) : strdup(".");
            if (!dir)
                return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
            int rc = ib_locate(c, dir, udid, found);
            free(dir);
            return rc;
        }
        if (!ib_is_archive(path))
            return ib_fail(c, REVIVE_E_NOT_FOUND, "itunes", 0,
                           "%s is a file but not a zip or tar archive of a backup", path);
        *found = strdup(path);
        return REVIVE_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return ib_fail(c, REVIVE_E_NOT_FOUND, "itunes", 0, "%s is not a folder or archive", path);
    if (is_backup_dir(path) || exists(path, "Info.plist", false)) {
        *found = strdup(path);
        return REVIVE_OK;
    }
    DIR *d = opendir(path);
    if (!d)
        return ib_fail(c, REVIVE_E_IO, "os", errno, "cannot list %s: %s", path, strerror(errno));
    cand *cs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t ul = udid_len(de->d_name);
        if (!ul || (de->d_name[ul] && de->d_name[ul] != '-'))
            continue;
        if (udid && (strncasecmp(de->d_name, udid, ul) || strlen(udid) != ul))
            continue;
        char *sub = ib_join(path, de->d_name);
        bool ok = sub && is_backup_dir(sub);
        free(sub);
        if (!ok)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            cand *nc = realloc(cs, cap * sizeof(*cs));
            if (!nc)
                break;
            cs = nc;
        }
        cs[n].name = strdup(de->d_name);
        cs[n].ulen = ul;
        n++;
    }
    closedir(d);
    int rc = REVIVE_OK;
    if (n == 0) {
        rc = ib_fail(c, REVIVE_E_NOT_FOUND, "itunes", 0,
                     udid ? "%s holds no backup of the device %s"
                          : "%s is not a backup: no Manifest.db, Manifest.mbdb or Info.plist, "
                            "and no <UDID> backup folders inside%s",
                     path, udid ? udid : "");
        goto out;
    }
    qsort(cs, n, sizeof(*cs), cmp_cand);
    /* all candidates must belong to one device; snapshots sort by date, newest last */
    for (size_t i = 1; i < n; i++) {
        if (cs[i].ulen != cs[0].ulen || strncasecmp(cs[i].name, cs[0].name, cs[0].ulen)) {
            rc = ib_fail(c, REVIVE_E_INVALID, "itunes", 0,
                         "%s holds backups of several devices (%.*s, %.*s, ...); choose one "
                         "with the udid option", path, (int)cs[0].ulen, cs[0].name,
                         (int)cs[i].ulen, cs[i].name);
            goto out;
        }
    }
    /* the plain <UDID> folder is the live backup; else the newest snapshot */
    const char *pick = cs[n - 1].name;
    for (size_t i = 0; i < n; i++)
        if (!cs[i].name[cs[i].ulen])
            pick = cs[i].name;
    *found = ib_join(path, pick);
    if (n > 1)
        ib_warn(c, "%s holds %zu backups of this device; using %s", path, n, pick);
out:
    for (size_t i = 0; i < n; i++)
        free(cs[i].name);
    free(cs);
    return rc;
}

/* ------------------------------------------------------------- archives ------ */

static void limits_default(const ib_limits *in, ib_limits *out)
{
    ib_limits d = { 256ull << 30, 1000, 10000000 };
    *out = d;
    if (in) {
        if (in->max_total)
            out->max_total = in->max_total;
        if (in->max_ratio)
            out->max_ratio = in->max_ratio;
        if (in->max_entries)
            out->max_entries = in->max_entries;
    }
}

static bool name_unsafe(const char *n)
{
    if (!n || !*n || n[0] == '/' || strchr(n, '\\'))
        return true;
    for (const char *s = n; *s;) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == 2 && s[0] == '.' && s[1] == '.')
            return true;
        s += l;
        if (*s)
            s++;
    }
    return false;
}

static struct archive *open_archive(ib_ctx *c, const char *path, int *rc)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        *rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                      "%s cannot be read as an archive: %s", path, archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    *rc = REVIVE_OK;
    return a;
}

static int check_member(ib_ctx *c, const char *path, struct archive_entry *e)
{
    const char *n = archive_entry_pathname(e);
    if (name_unsafe(n))
        return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                       "%s: member \"%s\" would be written outside the folder (zip slip); "
                       "the archive is refused", path, n ? n : "");
    const char *ln = archive_entry_hardlink(e);
    if (ln && name_unsafe(ln))
        return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                       "%s: member \"%s\" is a hard link to \"%s\", outside the archive", path,
                       n, ln);
    const char *sl = archive_entry_symlink(e);
    if (archive_entry_filetype(e) == AE_IFLNK && (!sl || name_unsafe(sl)))
        return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                       "%s: member \"%s\" is a symlink to \"%s\", which points outside", path,
                       n, sl ? sl : "");
    return REVIVE_OK;
}

int ib_archive_check(ib_ctx *c, const char *path, const ib_limits *lim_in, uint64_t *members,
                     uint64_t *bytes)
{
    ib_limits lim;
    limits_default(lim_in, &lim);
    struct stat st;
    if (stat(path, &st) != 0)
        return ib_fail(c, REVIVE_E_NOT_FOUND, "os", errno, "%s: %s", path, strerror(errno));
    int rc;
    struct archive *a = open_archive(c, path, &rc);
    if (!a)
        return rc;
    uint64_t count = 0, total = 0;
    struct archive_entry *e;
    int ar;
    while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (++count > lim.max_entries) {
            rc = ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0, "%s has more than %llu members",
                         path, (unsigned long long)lim.max_entries);
            break;
        }
        if ((rc = check_member(c, path, e)))
            break;
        int64_t sz = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
        total += sz > 0 ? (uint64_t)sz : 0;
        if (total > lim.max_total ||
            total / lim.max_ratio > (uint64_t)st.st_size + (1u << 20)) {
            rc = ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                         "%s declares %llu bytes of content from %lld bytes (a decompression "
                         "bomb or a lie); refused", path, (unsigned long long)total,
                         (long long)st.st_size);
            break;
        }
    }
    if (!rc && ar != ARCHIVE_EOF)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                     "%s is damaged after %llu members: %s", path, (unsigned long long)count,
                     archive_error_string(a));
    archive_read_free(a);
    if (members)
        *members = count;
    if (bytes)
        *bytes = total;
    return rc;
}

static bool is_manifest_member(const char *name)
{
    static const char *const keep[] = { "Manifest.db", "Manifest.mbdb", "Manifest.plist",
                                        "Info.plist", "Status.plist" };
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (!strcmp(base, keep[i]))
            return true;
    return false;
}

int ib_archive_unpack(ib_ctx *c, const char *path, const char *dir, const ib_limits *lim_in,
                      bool manifest_only)
{
    ib_limits lim;
    limits_default(lim_in, &lim);
    int rc = ib_archive_check(c, path, &lim, NULL, NULL);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0)
        return ib_fail(c, REVIVE_E_IO, "os", errno, "%s: %s", path, strerror(errno));
    struct archive *a = open_archive(c, path, &rc);
    if (!a)
        return rc;
    uint8_t *buf = malloc(1 << 16);
    uint64_t total = 0;
    struct archive_entry *e;
    int ar;
    while (!rc && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if ((rc = check_member(c, path, e)))
            break;
        char *out = NULL;
        if ((rc = ib_safe_join(c, dir, archive_entry_pathname(e), &out)))
            break;
        unsigned type = archive_entry_filetype(e);
        if (type == AE_IFDIR) {
            rc = ib_mkdirs(c, out, 0700);
        } else if (type == AE_IFREG && manifest_only &&
                   !is_manifest_member(archive_entry_pathname(e))) {
            archive_read_data_skip(a); /* content stays in the archive */
        } else if (type == AE_IFREG) {
            char *slash = strrchr(out, '/');
            *slash = 0;
            rc = ib_mkdirs(c, out, 0700);
            *slash = '/';
            int fd = rc ? -1 : open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                    0600);
            if (!rc && fd < 0)
                rc = ib_fail(c, errno == EEXIST ? REVIVE_E_UNSAFE : REVIVE_E_IO, "os", errno,
                             "%s: cannot create %s from member \"%s\": %s", path, out,
                             archive_entry_pathname(e), strerror(errno));
            int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
            uint64_t got = 0;
            while (!rc) {
                la_ssize_t r = archive_read_data(a, buf, 1 << 16);
                if (r == 0)
                    break;
                if (r < 0) {
                    rc = ib_fail(c, REVIVE_E_CORRUPT, "libarchive", archive_errno(a),
                                 "%s: member \"%s\" is damaged: %s", path,
                                 archive_entry_pathname(e), archive_error_string(a));
                    break;
                }
                got += (uint64_t)r;
                total += (uint64_t)r;
                if ((declared >= 0 && got > (uint64_t)declared) || total > lim.max_total ||
                    total / lim.max_ratio > (uint64_t)st.st_size + (1u << 20)) {
                    rc = ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                                 "%s: member \"%s\" unpacks to more than it declares or than "
                                 "the limits allow (%llu bytes so far; a decompression bomb); "
                                 "refused", path, archive_entry_pathname(e),
                                 (unsigned long long)total);
                    break;
                }
                const uint8_t *p = buf;
                size_t left = (size_t)r;
                while (left) {
                    ssize_t w = write(fd, p, left);
                    if (w <= 0) {
                        rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO,
                                     "os", errno, "cannot write %s: %s", out, strerror(errno));
                        break;
                    }
                    p += w;
                    left -= (size_t)w;
                }
            }
            if (fd >= 0)
                close(fd);
        } else {
            ib_warn(c, "%s: member \"%s\" is not a file or folder; skipped", path,
                    archive_entry_pathname(e));
        }
        free(out);
        if (!rc && ib_cancelled(c))
            rc = ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
    }
    free(buf);
    archive_read_free(a);
    return rc;
}
