/*
 * mbdb.c — Manifest.mbdb, the manifest of iOS 5-9 backups.
 *
 * "mbdb" 05 00, then records until the end of the file, all integers big-endian:
 *   domain, path, target, digest, encryption key   strings: u16 length + bytes,
 *                                                   0xFFFF = absent
 *   mode u16, inode u64, uid u32, gid u32, mtime u32, atime u32, ctime u32, size u64,
 *   protection class u8, property count u8, then count x (name, value) strings.
 * Content is stored flat as <root>/<SHA1(domain-path)>. Every read below checks that the
 * bytes are there; a record that runs past the end is a truncated manifest (CORRUPT).
 * Manifest.mbdx (the old index) is not needed and is ignored.
 */
#include "itunes.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct cur {
    const uint8_t *p, *end;
} cur;

static bool take(cur *c, size_t n, const uint8_t **out)
{
    if ((size_t)(c->end - c->p) < n)
        return false;
    *out = c->p;
    c->p += n;
    return true;
}

static bool be(cur *c, size_t n, uint64_t *v)
{
    const uint8_t *b;
    if (!take(c, n, &b))
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v << 8 | b[i];
    return true;
}

/* A string: *s NULL when absent. Strings are copied NUL-terminated into buf (cap). */
static bool str(cur *c, char *buf, size_t cap, const char **s, size_t *len)
{
    uint64_t n;
    if (!be(c, 2, &n))
        return false;
    *s = NULL;
    if (len)
        *len = 0;
    if (n == 0xFFFF)
        return true;
    const uint8_t *b;
    if (!take(c, (size_t)n, &b) || n >= cap)
        return false;
    memcpy(buf, b, (size_t)n);
    buf[n] = 0;
    *s = buf;
    if (len)
        *len = (size_t)n;
    return true;
}

int ib_mbdb_foreach(ib_ctx *c, const uint8_t *data, size_t len, const char *label,
                    ib_entry_fn fn, void *ud)
{
    if (len < 6 || memcmp(data, "mbdb\x05\x00", 6) != 0)
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                       "%s does not start with the mbdb 5.0 signature", label);
    cur cu = { data + 6, data + len };
    /* Strings are at most 64 KiB; one buffer each, on the heap (not the stack). */
    enum { CAP = 65536 };
    char *bufs = malloc((size_t)CAP * 7);
    if (!bufs)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    int rc = REVIVE_OK;
    uint64_t n = 0;
    while (cu.p < cu.end) {
        size_t off = (size_t)(cu.p - data);
        const char *domain, *path, *target, *digest, *key, *pn, *pv;
        size_t dlen, klen;
        uint64_t mode, inode, uid, gid, mt, at, ct, size, prot, nprop;
        bool ok = str(&cu, bufs, CAP, &domain, NULL) &&
                  str(&cu, bufs + CAP, CAP, &path, NULL) &&
                  str(&cu, bufs + 2 * CAP, CAP, &target, NULL) &&
                  str(&cu, bufs + 3 * CAP, CAP, &digest, &dlen) &&
                  str(&cu, bufs + 4 * CAP, CAP, &key, &klen) && be(&cu, 2, &mode) &&
                  be(&cu, 8, &inode) && be(&cu, 4, &uid) && be(&cu, 4, &gid) &&
                  be(&cu, 4, &mt) && be(&cu, 4, &at) && be(&cu, 4, &ct) &&
                  be(&cu, 8, &size) && be(&cu, 1, &prot) && be(&cu, 1, &nprop);
        for (uint64_t i = 0; ok && i < nprop; i++)
            ok = str(&cu, bufs + 5 * CAP, CAP, &pn, NULL) &&
                 str(&cu, bufs + 6 * CAP, CAP, &pv, NULL);
        if (!ok) {
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s: record %llu at byte %zu runs past the end of the file "
                         "(truncated manifest)", label, (unsigned long long)n + 1, off);
            break;
        }
        n++;
        if (!domain || !*domain) {
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s: record %llu at byte %zu has no domain", label,
                         (unsigned long long)n, off);
            break;
        }
        if (size > (1ull << 50)) {
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s: record %llu claims a size of %llu bytes", label,
                         (unsigned long long)n, (unsigned long long)size);
            break;
        }
        ib_entry e;
        memset(&e, 0, sizeof(e));
        e.domain = domain;
        e.path = path ? path : "";
        e.mode = (uint32_t)mode;
        switch (mode & S_IFMT) {
        case S_IFDIR: e.flags = IB_FLAG_DIR; break;
        case S_IFLNK: e.flags = IB_FLAG_LINK; break;
        case S_IFREG: e.flags = IB_FLAG_FILE; break;
        default:
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s: record %llu (%s-%s) has mode 0%llo, not a file, folder or link",
                         label, (unsigned long long)n, domain, e.path,
                         (unsigned long long)mode);
            break;
        }
        if (rc)
            break;
        e.uid = (uint32_t)uid;
        e.gid = (uint32_t)gid;
        e.mtime = (int64_t)mt;
        e.ctime_ = (int64_t)ct;
        e.btime = (int64_t)ct;
        e.size = e.flags == IB_FLAG_FILE ? size : 0;
        e.protection_class = (int)prot;
        e.target = target;
        if (digest && dlen == 20) {
            memcpy(e.digest, digest, 20);
            e.digest_len = 20;
        }
        if (key && klen == 44) {
            const uint8_t *k = (const uint8_t *)key;
            e.key_class = (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 |
                          (uint32_t)k[3] << 24;
            e.key = k + 4;
            e.key_len = 40;
        }
        ib_file_id(domain, e.path, e.file_id);
        rc = fn(ud, &e);
        if (rc)
            break;
    }
    free(bufs);
    return rc;
}
