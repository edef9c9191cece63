/*
 * fetch.c — "spec -> verified local file": the flow on top of catalog, download and cache.
 *
 *   1. resolve: a firmware:<model>:<what> query goes through the catalog (URL, SHA1,
 *      size); a URL takes the checksums it was given;
 *   2. the cache key is the checksum (sha256-<hex> if known, else sha1-<hex>); a URL with
 *      no checksum is only downloaded when the caller allows unverified files, under a key
 *      made from the URL, and never enters the cache;
 *   3. under the key's lock: a cached file is used as it is; otherwise the free space is
 *      checked, the part downloaded (resuming), its hashes compared. A mismatch deletes the
 *      part and tries once more from zero; a second mismatch fails with REVIVE_E_CHECKSUM
 *      and leaves nothing behind. Only a verified part is renamed into the cache;
 *   4. delivery into out_dir (if any) is a hard link, or a copy when out_dir is on another
 *      file system, written aside and renamed into place.
 */
#include "cloud.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4096

/* A safe file name from the last segment of a URL's path. */
static void name_from_url(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t end = strcspn(p, "?#");
    const char *seg = p, *slash;
    while ((slash = memchr(seg, '/', (size_t)(p + end - seg))))
        seg = slash + 1;
    size_t n = (size_t)(p + end - seg), o = 0;
    if (p + end > seg && memchr(p, '/', end)) {
        for (size_t i = 0; i < n && o + 1 < cap; i++) {
            char ch = seg[i];
            out[o++] = (isalnum((unsigned char)ch) || strchr("._,+-", ch)) ? ch : '_';
        }
    }
    out[o] = 0;
    if (o == 0 || out[0] == '.')
        snprintf(out, cap, "download");
}

static int copy_file(const char *src, const char *dst, revive_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot open %s: %s", src,
                          strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = errno;
        close(in);
        return cloud_fail(err, e == EACCES ? REVIVE_E_PERMISSION : REVIVE_E_IO, "os", e,
                          "cannot create %s: %s", dst, strerror(e));
    }
    int rc = REVIVE_OK;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            break;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno == EXDEV || errno == ENOSYS || errno == EINVAL) { /* plain copy */
            char buf[1 << 16];
            ssize_t r;
            while ((r = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)r) != r) {
                    r = -1;
                    break;
                }
            if (r == 0)
                break;
        }
        int e = errno;
        rc = cloud_fail(err, e == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", e,
                        "copying %s to %s failed: %s", src, dst, strerror(e));
        break;
    }
    if (rc == REVIVE_OK && fsync(out) != 0)
        rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "fsync %s", dst);
    close(in);
    if (close(out) != 0 && rc == REVIVE_OK)
        rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "close %s", dst);
    if (rc)
        unlink(dst);
    return rc;
}

/* Put `src` at out_dir/name, whole or not at all. move: src may be consumed. */
static int deliver(const char *src, const char *out_dir, const char *name, bool move,
                   char *path, size_t cap, revive_error *err)
{
    char tmp[PATH_CAP];
    struct stat st;
    if (stat(out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cloud_fail(err, REVIVE_E_NOT_FOUND, "os", errno,
                          "the output directory %s does not exist", out_dir);
    if ((size_t)snprintf(path, cap, "%s/%s", out_dir, name) >= cap ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", out_dir, name, (long)getpid()) >=
            sizeof(tmp))
        return cloud_fail(err, REVIVE_E_LIMIT, "cloud", 0, "output path too long");
    unlink(tmp);
    if (move && rename(src, path) == 0)
        return REVIVE_OK;
    if (link(src, tmp) != 0) {
        int rc = copy_file(src, tmp, err);
        if (rc)
            return rc;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cloud_fail(err, REVIVE_E_IO, "os", e, "cannot rename into %s: %s", path,
                          strerror(e));
    }
    if (move)
        unlink(src);
    return REVIVE_OK;
}

static void lower_copy(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = 0;
}

static void url_key(const char *url, char *key, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(url, strlen(url), md, &n, EVP_sha256(), NULL);
    int o = snprintf(key, cap, "url-");
    for (unsigned i = 0; i < 16 && (size_t)o + 2 < cap; i++)
        o += snprintf(key + o, cap - (size_t)o, "%02x", md[i]);
}

int cloud_fetch(const cloud_net_opts *o, cloud_cache *cache, const cloud_fetch_req *req,
                const cloud_io *io, cloud_fetch_res *res, revive_error *err)
{
    memset(res, 0, sizeof(*res));
    char sha1[48] = "", sha256[72] = "", model[32], what[32], key[96];
    uint64_t size = 0;
    if (req->sha1)
        lower_copy(sha1, req->sha1, sizeof(sha1));
    if (req->sha256)
        lower_copy(sha256, req->sha256, sizeof(sha256));
    if (sha1[0] && !cloud_hex_valid(sha1, 40))
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0, "sha1 must be 40 hex digits");
    if (sha256[0] && !cloud_hex_valid(sha256, 64))
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0, "sha256 must be 64 hex digits");

    /* 1. resolve */
    if (strncmp(req->spec, "firmware:", 9) == 0) {
        if (!cloud_query_parse(req->spec, model, sizeof(model), what, sizeof(what)))
            return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                              "\"%s\" is not a query of the form firmware:<ProductType>:"
                              "<latest|VERSION|BUILD>", req->spec);
        cloud_catalog cat;
        const cloud_firmware *fw;
        int rc = cloud_catalog_fetch(o, req->catalog_base ? req->catalog_base
                                                          : CLOUD_DEFAULT_CATALOG,
                                     model, io, &cat, err);
        if (rc)
            return rc;
        rc = cloud_catalog_select(&cat, what, &fw, err);
        if (rc == REVIVE_OK) {
            if ((sha1[0] && fw->sha1[0] && strcmp(sha1, fw->sha1) != 0) ||
                (sha256[0] && fw->sha256[0] && strcmp(sha256, fw->sha256) != 0))
                rc = cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                                "the checksum given differs from the catalog's for %s %s",
                                fw->version, fw->build);
            else {
                snprintf(res->url, sizeof(res->url), "%s", fw->url);
                snprintf(res->version, sizeof(res->version), "%s", fw->version);
                snprintf(res->build, sizeof(res->build), "%s", fw->build);
                if (!sha1[0])
                    snprintf(sha1, sizeof(sha1), "%s", fw->sha1);
                if (!sha256[0])
                    snprintf(sha256, sizeof(sha256), "%s", fw->sha256);
                size = fw->size;
            }
        }
        cloud_catalog_free(&cat);
        if (rc)
            return rc;
    } else if (cloud_is_url(req->spec)) {
        if (strlen(req->spec) >= sizeof(res->url))
            return cloud_fail(err, REVIVE_E_LIMIT, "cloud", 0, "URL too long");
        snprintf(res->url, sizeof(res->url), "%s", req->spec);
    } else
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                          "\"%s\" is neither an http(s) URL nor a firmware: query", req->spec);

    /* 2. key */
    bool verified = sha1[0] || sha256[0];
    if (sha256[0])
        snprintf(key, sizeof(key), "sha256-%s", sha256);
    else if (sha1[0])
        snprintf(key, sizeof(key), "sha1-%s", sha1);
    else {
        if (!req->allow_unverified || !req->out_dir)
            return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                              "no checksum for %s: give sha1 or sha256 so the file can be "
                              "verified (an unverified download needs allow_unverified and "
                              "an output directory)", res->url);
        url_key(res->url, key, sizeof(key));
    }
    char name[256];
    name_from_url(res->url, name, sizeof(name));

    /* 3. under the key's lock */
    char file[PATH_CAP], part[PATH_CAP], meta[PATH_CAP];
    cloud_cache_paths(cache, key, file, part, meta, NULL, PATH_CAP);
    int lock = -1;
    int rc = cloud_cache_lock_key(cache, key, io, &lock, err);
    if (rc)
        return rc;
    int held = -1; /* shared lock on the cache file while it is handed out */
    if (verified && (held = open(file, O_RDONLY | O_CLOEXEC)) >= 0) {
        flock(held, LOCK_SH);
        res->from_cache = true;
        cloud_cache_touch(file);
        cloud_log(io, REVIVE_LOG_INFO, "%s is in the cache", name);
        if (sha1[0]) {
            struct stat st;
            fstat(held, &st);
            res->dig.size = (uint64_t)st.st_size;
            snprintf(res->dig.sha1, sizeof(res->dig.sha1), "%s", sha1);
            snprintf(res->dig.sha256, sizeof(res->dig.sha256), "%s", sha256);
        } else
            rc = cloud_hash_file(file, true, &res->dig, err);
    } else {
        struct stat st;
        uint64_t have = stat(part, &st) == 0 ? (uint64_t)st.st_size : 0;
        if (size > have)
            rc = cloud_space_check(cache->root, size - have, cache->margin, err);
        cloud_dl_req dl = { .url = res->url, .part_path = part, .meta_path = meta,
                            .expected_size = size, .want_sha256 = sha256[0] != 0,
                            .space_dir = cache->root, .space_margin = cache->margin };
        for (int round = 0; rc == REVIVE_OK; round++) {
            cloud_dl_stats st1;
            rc = cloud_download(o, &dl, io, &res->dig, &st1, err);
            res->stats.body_bytes += st1.body_bytes;
            res->stats.attempts += st1.attempts;
            res->stats.restarts += st1.restarts;
            if (round == 0)
                res->stats.resumed_from = st1.resumed_from;
            bool bad = false;
            if (rc == REVIVE_OK)
                bad = (sha1[0] && strcmp(sha1, res->dig.sha1) != 0) ||
                      (sha256[0] && strcmp(sha256, res->dig.sha256) != 0) ||
                      (size && res->dig.size != size);
            else if (rc == REVIVE_E_CHECKSUM)
                bad = true; /* the server's length said it is another file */
            if (!bad)
                break;
            unlink(part);
            unlink(meta);
            if (round == 0) {
                cloud_log(io, REVIVE_LOG_WARN,
                          "%s did not match its checksum; discarded, downloading again", name);
                rc = REVIVE_OK;
                continue;
            }
            if (rc == REVIVE_OK)
                rc = cloud_fail(err, REVIVE_E_CHECKSUM, "cloud", 0,
                                "%s: downloaded twice and it does not match its checksum "
                                "(got SHA1 %s, %llu bytes; expected %s%s); nothing was "
                                "kept: the server or the catalog is wrong",
                                name, res->dig.sha1, (unsigned long long)res->dig.size,
                                sha1[0] ? "SHA1 " : "SHA256 ", sha1[0] ? sha1 : sha256);
            break;
        }
        if (rc == REVIVE_OK && verified) {
            rc = cloud_cache_insert(cache, key, part, err);
            unlink(meta);
            if (rc == REVIVE_OK && (held = open(file, O_RDONLY | O_CLOEXEC)) >= 0)
                flock(held, LOCK_SH);
        }
    }

    /* 4. deliver */
    if (rc == REVIVE_OK) {
        res->verified = verified;
        if (req->out_dir)
            rc = deliver(verified ? file : part, req->out_dir, name, !verified, res->path,
                         sizeof(res->path), err);
        else
            snprintf(res->path, sizeof(res->path), "%s", file);
        if (!verified)
            unlink(meta);
    }
    if (held >= 0)
        close(held);
    cloud_cache_unlock(lock);
    return rc;
}
