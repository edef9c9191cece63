/* util.c — small file, path and plist helpers shared by the parts of itunes_backup. */
#include "itunes.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ib_read_file(ib_ctx *c, const char *path, size_t max, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ib_fail(c, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "os", errno,
                       "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                       "%s is %lld bytes, more than the %zu this file can have", path,
                       (long long)st.st_size, max);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", ENOMEM, "no memory for %s", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            return ib_fail(c, REVIVE_E_IO, "os", e, "cannot read %s: %s", path,
                           r == 0 ? "file shrank while reading" : strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    *out = buf;
    *len = got;
    return REVIVE_OK;
}

int ib_read_plist(ib_ctx *c, const char *path, plist_t *out)
{
    uint8_t *data;
    size_t len;
    *out = NULL;
    int rc = ib_read_file(c, path, 64u << 20, &data, &len);
    if (rc)
        return rc;
    plist_t p = NULL;
    if (len >= 8 && len < UINT32_MAX)
        plist_from_memory((const char *)data, (uint32_t)len, &p);
    free(data);
    if (!p || plist_get_node_type(p) != PLIST_DICT) {
        plist_free(p);
        return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0,
                       "%s is not a readable property list (dictionary); it is truncated or "
                       "damaged", path);
    }
    *out = p;
    return REVIVE_OK;
}

int ib_write_file(ib_ctx *c, const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                       "cannot create %s: %s", path, strerror(errno));
    const uint8_t *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            return ib_fail(c, e == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", e,
                           "cannot write %s: %s", path, strerror(e));
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0)
        return ib_fail(c, REVIVE_E_IO, "os", errno, "cannot close %s: %s", path,
                       strerror(errno));
    return REVIVE_OK;
}

int ib_write_plist_xml(ib_ctx *c, const char *path, plist_t p)
{
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(p, &xml, &len);
    if (!xml)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "plist", 0, "cannot serialise %s", path);
    int rc = ib_write_file(c, path, xml, len);
    plist_to_xml_free(xml);
    return rc;
}

int ib_mkdirs(ib_ctx *c, const char *path, mode_t mode)
{
    /* the common case first: the parent exists (one syscall instead of one per level) */
    if (mkdir(path, mode) == 0)
        return REVIVE_OK;
    if (errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return REVIVE_OK;
        return ib_fail(c, REVIVE_E_IO, "os", EEXIST, "cannot create folder %s: a file is "
                       "in the way", path);
    }
    char *p = strdup(path);
    if (!p)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", ENOMEM, "no memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char save = *s;
            *s = 0;
            if (mkdir(p, mode) != 0 && errno != EEXIST) {
                int e = errno;
                int rc = ib_fail(c, e == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os",
                                 e, "cannot create folder %s: %s", p, strerror(e));
                free(p);
                return rc;
            }
            *s = save;
            if (!save)
                break;
        }
    }
    free(p);
    return REVIVE_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    if (flag == FTW_DP)
        chmod(path, 0700); /* harmless; lets us remove dirs we made read-only */
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int ib_rmtree(const char *path)
{
    return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

void ib_hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

void ib_file_id(const char *domain, const char *path, char out[41])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    uint8_t md[20];
    unsigned mdlen = 0;
    EVP_DigestInit_ex(m, EVP_sha1(), NULL);
    EVP_DigestUpdate(m, domain, strlen(domain));
    EVP_DigestUpdate(m, "-", 1);
    EVP_DigestUpdate(m, path, strlen(path));
    EVP_DigestFinal_ex(m, md, &mdlen);
    EVP_MD_CTX_free(m);
    ib_hex(md, 20, out);
}

bool ib_is_file_id(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 40;
}

char *ib_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 2);
    if (!r)
        return NULL;
    memcpy(r, a, la);
    size_t o = la;
    if (la && a[la - 1] != '/')
        r[o++] = '/';
    memcpy(r + o, b, lb + 1);
    return r;
}

const char *ib_pl_str(plist_t dict, const char *key)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    return plist_get_string_ptr(n, NULL);
}

bool ib_pl_int(plist_t dict, const char *key, int64_t *out)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_UINT)
        return false;
    uint64_t v = 0;
    plist_get_uint_val(n, &v);
    *out = (int64_t)v;
    return true;
}

bool ib_pl_bool(plist_t dict, const char *key, bool dflt)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_BOOLEAN)
        return dflt;
    uint8_t v = 0;
    plist_get_bool_val(n, &v);
    return v != 0;
}

int ib_safe_join(ib_ctx *c, const char *dir, const char *rel, char **out)
{
    *out = NULL;
    if (!rel || rel[0] == '/')
        return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                       "refusing the absolute path \"%s\" from the backup", rel ? rel : "");
    /* every component must be a plain name */
    const char *s = rel;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.'))
            return ib_fail(c, REVIVE_E_UNSAFE, "itunes", 0,
                           "refusing the path \"%s\" from the backup: it climbs out with \"..\"",
                           rel);
        s += n;
        if (*s == '/')
            s++;
    }
    *out = ib_join(dir, rel);
    return *out ? REVIVE_OK : ib_fail(c, REVIVE_E_NO_MEMORY, "os", ENOMEM, "no memory");
}
