/*
 * download.c — one URL into a part file, resumably, hashing as the bytes arrive.
 *
 * The invariant everything here keeps: the part file is always a prefix of ONE version of
 * the remote file, and the meta file beside it (meta.c) names that version by the
 * validators the server sent. So:
 *   - a resume sends Range: bytes=<part size>- with If-Range: <validator>; a server whose
 *     file changed answers 200 with the whole new file, and a server that ignores Range
 *     answers 200 too: either way the part is truncated and refilled from zero (never
 *     spliced). A part with no usable validator is not resumed at all;
 *   - a 206 must start exactly where the part ends (Content-Range), or the attempt fails;
 *   - a 416 means the part is already whole (its size is the total the server names) or
 *     is longer than the file (it changed): the first is success, the second a restart;
 *   - the meta is written (aside, then renamed) when the response headers arrive and
 *     before any body byte is written, so the record and the bytes never disagree.
 *
 * Hashes (SHA1, and SHA256 when asked) are EVP contexts that always cover exactly
 * part[0, offset): the existing part is hashed once when the first attempt starts, body
 * bytes are hashed as they are written, and a restart re-initialises them. One pass over
 * the data, whatever happens.
 *
 * Attempts: errors worth retrying (see error.c) wait with exponential backoff and jitter;
 * an attempt that moved the part forward resets the count, so a connection that drops
 * every few hundred megabytes still finishes. Cancellation is checked in curl's progress
 * callback and between attempts; the part is left as it is, ready to resume.
 */
#include "cloud.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESTARTS 3

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int curl_ready(revive_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return cloud_fail(err, REVIVE_E_NETWORK, "curl", (int)curl_init_rc,
                          "libcurl could not start: %s", curl_easy_strerror(curl_init_rc));
    return REVIVE_OK;
}

/* ------------------------------------------------------------------ hashes ------ */

typedef struct hashes {
    EVP_MD_CTX *sha1;
    EVP_MD_CTX *sha256; /* NULL unless wanted */
} hashes;

static int hashes_init(hashes *h, bool want256)
{
    if (!h->sha1 && !(h->sha1 = EVP_MD_CTX_new()))
        return REVIVE_E_NO_MEMORY;
    if (EVP_DigestInit_ex(h->sha1, EVP_sha1(), NULL) != 1)
        return REVIVE_E_UNKNOWN;
    if (want256) {
        if (!h->sha256 && !(h->sha256 = EVP_MD_CTX_new()))
            return REVIVE_E_NO_MEMORY;
        if (EVP_DigestInit_ex(h->sha256, EVP_sha256(), NULL) != 1)
            return REVIVE_E_UNKNOWN;
    }
    return REVIVE_OK;
}

static void hashes_update(hashes *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->sha1, p, n);
    if (h->sha256)
        EVP_DigestUpdate(h->sha256, p, n);
}

static void hex(const unsigned char *in, unsigned n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static void hashes_final(hashes *h, cloud_digest *dig)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(h->sha1, md, &n);
    hex(md, n, dig->sha1);
    dig->sha256[0] = 0;
    if (h->sha256) {
        EVP_DigestFinal_ex(h->sha256, md, &n);
        hex(md, n, dig->sha256);
    }
}

static void hashes_free(hashes *h)
{
    EVP_MD_CTX_free(h->sha1);
    EVP_MD_CTX_free(h->sha256);
    h->sha1 = h->sha256 = NULL;
}

/* Feed fd[0, len) into h. */
static int hash_fd(int fd, uint64_t len, hashes *h, const cloud_io *io, revive_error *err)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        return cloud_fail(err, REVIVE_E_NO_MEMORY, "cloud", 0, "out of memory hashing");
    uint64_t off = 0;
    int rc = REVIVE_OK;
    while (off < len) {
        size_t want = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = cloud_fail(err, REVIVE_E_IO, "os", n < 0 ? errno : 0,
                            "reading back the partial download failed: %s",
                            n < 0 ? strerror(errno) : "file shrank");
            break;
        }
        hashes_update(h, buf, (size_t)n);
        off += (uint64_t)n;
        if (cloud_is_cancelled(io)) {
            rc = cloud_fail(err, REVIVE_E_CANCELLED, "cloud", 0, "cancelled while hashing");
            break;
        }
    }
    free(buf);
    return rc;
}

int cloud_hash_file(const char *path, bool want_sha256, cloud_digest *dig, revive_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cloud_fail(err, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "os", errno,
                          "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    hashes h = { 0 };
    int rc = fstat(fd, &st) == 0 ? REVIVE_OK
                                 : cloud_fail(err, REVIVE_E_IO, "os", errno, "stat %s", path);
    if (rc == REVIVE_OK && hashes_init(&h, want_sha256) != REVIVE_OK)
        rc = cloud_fail(err, REVIVE_E_NO_MEMORY, "openssl", 0, "cannot start a hash");
    if (rc == REVIVE_OK)
        rc = hash_fd(fd, (uint64_t)st.st_size, &h, NULL, err);
    if (rc == REVIVE_OK) {
        hashes_final(&h, dig);
        dig->size = (uint64_t)st.st_size;
    }
    hashes_free(&h);
    close(fd);
    return rc;
}

/* -------------------------------------------------------------------- meta ------ */

static int meta_load(const char *path, cloud_meta *m)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return REVIVE_E_NOT_FOUND;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n <= 0 || (size_t)n == sizeof(buf))
        return REVIVE_E_CORRUPT;
    return cloud_meta_parse(buf, (size_t)n, m);
}

static int meta_save(const char *path, const cloud_meta *m, revive_error *err)
{
    char tmp[4200], text[1024];
    int len = snprintf(text, sizeof(text), "etag=%s\nlast_modified=%s\ntotal=%llu\n", m->etag,
                       m->last_modified, (unsigned long long)m->total);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot write %s: %s", tmp,
                          strerror(errno));
    bool ok = write(fd, text, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cloud_fail(err, REVIVE_E_IO, "os", e, "cannot write %s: %s", path, strerror(e));
    }
    return REVIVE_OK;
}

/* ------------------------------------------------------------ one transfer ------ */

typedef struct xfer {
    const cloud_dl_req *req;
    const cloud_io *io;
    cloud_dl_stats *stats;
    int fd;
    hashes h;
    uint64_t offset;      /* bytes in the part, all covered by h */
    uint64_t start;       /* where this attempt's range starts (0: no range) */
    uint64_t total;       /* the remote file's size once known, else 0 */
    /* the response being received (reset at each status line: redirects, 100) */
    long status;
    char etag[256];
    char last_modified[128];
    bool have_cr, have_cl, decided, discard;
    uint64_t cr_start, cr_end, cr_total, content_length;
    /* an error found inside a callback; wins over curl's code */
    int cb_rc;
    revive_error *err;
} xfer;

static void response_reset(xfer *x)
{
    x->status = 0;
    x->etag[0] = x->last_modified[0] = 0;
    x->have_cr = x->have_cl = x->decided = x->discard = false;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap) { /* longer than any sane validator: treat as absent */
        dst[0] = 0;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20) {
            dst[0] = 0;
            return;
        }
    memcpy(dst, v, n);
    dst[n] = 0;
}

static int truncate_part(xfer *x)
{
    if (ftruncate(x->fd, 0) != 0)
        return cloud_fail(x->err, REVIVE_E_IO, "os", errno, "cannot truncate %s: %s",
                          x->req->part_path, strerror(errno));
    if (lseek(x->fd, 0, SEEK_SET) < 0)
        return cloud_fail(x->err, REVIVE_E_IO, "os", errno, "cannot seek %s: %s",
                          x->req->part_path, strerror(errno));
    x->offset = 0;
    if (hashes_init(&x->h, x->req->want_sha256) != REVIVE_OK)
        return cloud_fail(x->err, REVIVE_E_NO_MEMORY, "openssl", 0, "cannot start a hash");
    return REVIVE_OK;
}

/* The final response's headers are in: decide what its body means for the part. */
static int decide(xfer *x)
{
    x->decided = true;
    if (x->status < 200 || x->status > 299) {
        x->discard = true; /* an error page (or 416): never part of the file */
        return REVIVE_OK;
    }
    if (x->status == 206) {
        if (!x->have_cr || x->cr_start != x->start || (x->start > 0 && x->offset != x->start))
            return cloud_fail(x->err, REVIVE_E_PROTOCOL, "http", 206,
                              "the server answered a range other than the one asked for "
                              "(asked from byte %llu)", (unsigned long long)x->start);
        x->total = x->cr_total;
    } else {
        if (x->offset > 0) {
            /* Range ignored, or If-Range saw another version: the whole file follows. */
            cloud_log(x->io, REVIVE_LOG_INFO,
                      "the server sent the whole file (status %ld) instead of resuming at "
                      "byte %llu: starting over", x->status, (unsigned long long)x->offset);
            int rc = truncate_part(x);
            if (rc)
                return rc;
            x->stats->restarts++;
        }
        x->total = x->have_cl ? x->content_length : 0;
    }
    if (x->req->expected_size && x->total && x->total != x->req->expected_size)
        return cloud_fail(x->err, REVIVE_E_CHECKSUM, "http", (int)x->status,
                          "the server's file is %llu bytes, but %llu were expected: "
                          "it is not the file asked for",
                          (unsigned long long)x->total,
                          (unsigned long long)x->req->expected_size);
    if (x->req->space_dir) {
        uint64_t size = x->total ? x->total : x->req->expected_size;
        if (size > x->offset) {
            int rc = cloud_space_check(x->req->space_dir, size - x->offset,
                                       x->req->space_margin, x->err);
            if (rc)
                return rc;
        }
    }
    cloud_meta m = { 0 };
    /* A weak ETag may not be used in If-Range (RFC 9110 13.1.5). */
    if (strncmp(x->etag, "W/", 2) != 0)
        snprintf(m.etag, sizeof(m.etag), "%s", x->etag);
    snprintf(m.last_modified, sizeof(m.last_modified), "%s", x->last_modified);
    m.total = x->total;
    return meta_save(x->req->meta_path, &m, x->err);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        response_reset(x);
        /* "HTTP/1.1 206 Partial Content": three digits after the first space (the
         * line is not NUL-terminated, so parse within n only) */
        const char *sp = memchr(p, ' ', n);
        size_t at = sp ? (size_t)(sp - p) + 1 : n;
        long st = 0;
        for (size_t i = at; i < n && i < at + 3 && p[i] >= '0' && p[i] <= '9'; i++)
            st = st * 10 + (p[i] - '0');
        x->status = st;
        return n;
    }
    if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        /* end of a header block: the final one unless it is a redirect or 1xx */
        bool more = x->status < 200 || (x->status >= 300 && x->status < 400);
        if (!more && !x->decided) {
            x->cb_rc = decide(x);
            if (x->cb_rc)
                return 0;
        }
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon)
        return n;
    size_t kl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = n - kl - 1;
    char tmp[256];
    if (kl == 4 && strncasecmp(p, "etag", 4) == 0)
        copy_value(x->etag, sizeof(x->etag), v, vl);
    else if (kl == 13 && strncasecmp(p, "last-modified", 13) == 0)
        copy_value(x->last_modified, sizeof(x->last_modified), v, vl);
    else if (kl == 13 && strncasecmp(p, "content-range", 13) == 0) {
        copy_value(tmp, sizeof(tmp), v, vl);
        x->have_cr = cloud_parse_content_range(tmp, &x->cr_start, &x->cr_end, &x->cr_total);
    } else if (kl == 14 && strncasecmp(p, "content-length", 14) == 0) {
        copy_value(tmp, sizeof(tmp), v, vl);
        char *end;
        errno = 0;
        unsigned long long cl = strtoull(tmp, &end, 10);
        x->have_cl = tmp[0] >= '0' && tmp[0] <= '9' && !*end && !errno;
        x->content_length = cl;
    }
    return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->decided && (x->cb_rc = decide(x)) != REVIVE_OK)
        return 0;
    if (x->discard)
        return n;
    uint64_t limit = x->total ? x->total : x->req->expected_size;
    if (limit && x->offset + n > limit) {
        x->cb_rc = cloud_fail(x->err, REVIVE_E_CHECKSUM, "http", (int)x->status,
                              "the server sent more than the %llu bytes of the file",
                              (unsigned long long)limit);
        return 0;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(x->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            x->cb_rc = cloud_fail(x->err, e == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO,
                                  "os", e, "writing %s failed: %s", x->req->part_path,
                                  strerror(e));
            /* what did reach the file is still a correct prefix; keep offset in step */
            if (done)
                hashes_update(&x->h, p, done);
            x->offset += done;
            return 0;
        }
        done += (size_t)w;
    }
    hashes_update(&x->h, p, n);
    x->offset += n;
    x->stats->body_bytes += n;
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ult,
                       curl_off_t ulnow)
{
    xfer *x = ud;
    if (cloud_is_cancelled(x->io))
        return 1;
    if (x->io && x->io->progress && x->decided && !x->discard)
        x->io->progress(x->io->ud, x->offset, x->total ? x->total : x->req->expected_size);
    return 0;
}

/* The settings every request shares: TLS always verified, http(s) only, redirects
 * followed up to a limit, stalls detected, proxies from the environment (libcurl's own
 * default: http_proxy, https_proxy, no_proxy). */
static void common_setup(CURL *c, const cloud_net_opts *o, const char *url, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirects);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "revive-cloud/0.1");
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
}

/* Wait before attempt `n` (n >= 1 failures so far): base * 2^(n-1), capped, with half
 * of it random so that many clients do not come back in step. */
static int backoff(const cloud_net_opts *o, int n, const cloud_io *io, revive_error *err)
{
    long d = o->retry_base_ms;
    for (int i = 1; i < n && d < o->retry_max_ms; i++)
        d *= 2;
    if (d > o->retry_max_ms)
        d = o->retry_max_ms;
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)getpid();
    long wait = d / 2 + (d > 1 ? (long)(r % (uint32_t)(d / 2 + 1)) : 0);
    while (wait > 0) {
        if (cloud_is_cancelled(io))
            return cloud_fail(err, REVIVE_E_CANCELLED, "cloud", 0, "cancelled");
        long step = wait < 50 ? wait : 50;
        struct timespec ts = { 0, step * 1000000L };
        nanosleep(&ts, NULL);
        wait -= step;
    }
    return REVIVE_OK;
}

/* One attempt. Returns REVIVE_OK when the part is whole; otherwise the error and
 * *retry (worth another attempt) and *restart (part was found stale: start over now). */
static int attempt(CURL *c, const cloud_net_opts *o, xfer *x, int *retry, bool *restart)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    char range[32], ifrange[320];
    struct curl_slist *hdrs = NULL;
    cloud_meta m;
    *retry = 0;
    *restart = false;

    x->start = x->offset;
    if (x->offset > 0) {
        /* resume only with a strong validator for what the part holds */
        if (meta_load(x->req->meta_path, &m) != REVIVE_OK || (!m.etag[0] && !m.last_modified[0])) {
            int rc = truncate_part(x);
            if (rc)
                return rc;
            x->start = 0;
        } else {
            snprintf(range, sizeof(range), "%llu-", (unsigned long long)x->offset);
            snprintf(ifrange, sizeof(ifrange), "If-Range: %s",
                     m.etag[0] ? m.etag : m.last_modified);
            hdrs = curl_slist_append(hdrs, ifrange);
            if (!hdrs)
                return cloud_fail(x->err, REVIVE_E_NO_MEMORY, "curl", 0, "out of memory");
            x->total = m.total;
        }
    }
    curl_easy_reset(c);
    common_setup(c, o, x->req->url, errbuf);
    if (x->start > 0) {
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);

    response_reset(x);
    x->cb_rc = REVIVE_OK;
    x->stats->attempts++;
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    if (x->cb_rc != REVIVE_OK)
        return x->cb_rc;
    if (cc == CURLE_OK && status == 416) {
        uint64_t whole = x->have_cr && x->cr_start == UINT64_MAX ? x->cr_total : 0;
        if (whole && x->offset == whole) {
            x->total = whole;
            return REVIVE_OK; /* the part was already complete */
        }
        cloud_log(x->io, REVIVE_LOG_INFO,
                  "the server refused the resume range (416): the file changed; starting over");
        int rc = truncate_part(x);
        if (rc)
            return rc;
        x->stats->restarts++;
        *restart = true;
        return cloud_fail(x->err, REVIVE_E_PROTOCOL, "http", 416,
                          "the server refused every resume range (416)");
    }
    if (cc == CURLE_OK && status >= 400) {
        int code = cloud_http_code(status, retry);
        return cloud_fail(x->err, code, "http", (int)status, "%s answered HTTP %ld%s",
                          x->req->url, status,
                          code == REVIVE_E_NOT_FOUND ? ": no such file on the server" : "");
    }
    if (cc == CURLE_OK && (status < 200 || status > 299))
        return cloud_fail(x->err, REVIVE_E_PROTOCOL, "http", (int)status,
                          "%s answered HTTP %ld, which is not a file", x->req->url, status);
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return cloud_fail(x->err, REVIVE_E_CANCELLED, "curl", (int)cc,
                          "download cancelled at byte %llu; run again to resume",
                          (unsigned long long)x->offset);
    if (cc != CURLE_OK) {
        int code = cloud_curl_code((int)cc, retry);
        const char *hint = "";
        if (code == REVIVE_E_PERMISSION)
            hint = "; the server's TLS certificate is not trusted: if it is your shop's "
                   "own CA, pass its certificate with --cacert (config cloud.cacert)";
        else if (cc == CURLE_TOO_MANY_REDIRECTS)
            hint = "; the server redirects in a loop or too often";
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            hint = "; the transfer stalled or could not connect in time";
        return cloud_fail(x->err, code, "curl", (int)cc, "downloading %s failed at byte %llu: %s%s",
                          x->req->url, (unsigned long long)x->offset,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc), hint);
    }
    if (x->total && x->offset != x->total) {
        *retry = 1; /* the connection ended early without curl noticing (no length) */
        return cloud_fail(x->err, REVIVE_E_NETWORK, "http", (int)status,
                          "the transfer ended at byte %llu of %llu",
                          (unsigned long long)x->offset, (unsigned long long)x->total);
    }
    return REVIVE_OK;
}

int cloud_download(const cloud_net_opts *o, const cloud_dl_req *req, const cloud_io *io,
                   cloud_digest *dig, cloud_dl_stats *stats, revive_error *err)
{
    cloud_dl_stats dummy;
    if (!stats)
        stats = &dummy;
    memset(stats, 0, sizeof(*stats));
    int rc = curl_ready(err);
    if (rc)
        return rc;
    if (!cloud_is_url(req->url))
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                          "'%s' is not an http:// or https:// URL", req->url);
    xfer x = { .req = req, .io = io, .stats = stats, .err = err };
    x.fd = open(req->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (x.fd < 0)
        return cloud_fail(err, errno == EACCES ? REVIVE_E_PERMISSION : REVIVE_E_IO, "os", errno,
                          "cannot open %s: %s", req->part_path, strerror(errno));
    CURL *c = curl_easy_init();
    struct stat st;
    if (!c)
        rc = cloud_fail(err, REVIVE_E_NO_MEMORY, "curl", 0, "cannot start libcurl");
    else if (fstat(x.fd, &st) != 0)
        rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "stat %s", req->part_path);
    else if (hashes_init(&x.h, req->want_sha256) != REVIVE_OK)
        rc = cloud_fail(err, REVIVE_E_NO_MEMORY, "openssl", 0, "cannot start a hash");
    if (rc == REVIVE_OK && st.st_size > 0) {
        cloud_meta m;
        if (meta_load(req->meta_path, &m) == REVIVE_OK && (m.etag[0] || m.last_modified[0]) &&
            (!m.total || (uint64_t)st.st_size <= m.total)) {
            cloud_log(io, REVIVE_LOG_INFO, "resuming %s at byte %llu", req->url,
                      (unsigned long long)st.st_size);
            rc = hash_fd(x.fd, (uint64_t)st.st_size, &x.h, io, err);
            x.offset = (uint64_t)st.st_size;
            stats->resumed_from = x.offset;
        } else if (ftruncate(x.fd, 0) != 0)
            rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot truncate %s", req->part_path);
    }
    if (rc == REVIVE_OK && lseek(x.fd, (off_t)x.offset, SEEK_SET) < 0)
        rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "seek %s", req->part_path);

    int failures = 0, restarts = 0;
    while (rc == REVIVE_OK) {
        uint64_t before = x.offset;
        int retry;
        bool restart;
        rc = attempt(c, o, &x, &retry, &restart);
        if (rc == REVIVE_OK || rc == REVIVE_E_CANCELLED)
            break;
        if (restart && ++restarts <= MAX_RESTARTS) {
            rc = REVIVE_OK;
            continue;
        }
        if (!retry)
            break;
        failures = x.offset > before ? 1 : failures + 1;
        if (failures >= o->max_attempts) {
            cloud_log(io, REVIVE_LOG_WARN, "giving up after %d attempts without progress",
                      failures);
            break;
        }
        cloud_log(io, REVIVE_LOG_INFO, "retrying (%s): %s", revive_error_name(rc),
                  err ? err->message : "");
        int brc = backoff(o, failures, io, err);
        if (brc) {
            rc = brc;
            break;
        }
        rc = REVIVE_OK;
    }
    if (rc == REVIVE_OK) {
        if (fsync(x.fd) != 0)
            rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "fsync %s: %s", req->part_path,
                            strerror(errno));
        hashes_final(&x.h, dig);
        dig->size = x.offset;
    }
    if (c)
        curl_easy_cleanup(c);
    hashes_free(&x.h);
    close(x.fd);
    return rc;
}

/* ------------------------------------------------------------ into memory ------ */

typedef struct membuf {
    char *p;
    size_t len, max;
    bool too_big;
    const cloud_io *io;
} membuf;

static size_t on_mem(char *p, size_t size, size_t nmemb, void *ud)
{
    membuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > b->max) {
        b->too_big = true;
        return 0;
    }
    char *np = realloc(b->p, b->len + n + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

static int on_mem_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    membuf *m = ud;
    return cloud_is_cancelled(m->io) ? 1 : 0;
}

int cloud_get(const cloud_net_opts *o, const char *url, size_t max, const cloud_io *io,
              char **buf, size_t *len, revive_error *err)
{
    int rc = curl_ready(err);
    if (rc)
        return rc;
    if (!cloud_is_url(url))
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0,
                          "'%s' is not an http:// or https:// URL", url);
    CURL *c = curl_easy_init();
    if (!c)
        return cloud_fail(err, REVIVE_E_NO_MEMORY, "curl", 0, "cannot start libcurl");
    membuf b = { .max = max, .io = io };
    for (int n = 1;; n++) {
        char errbuf[CURL_ERROR_SIZE] = "";
        int retry = 0;
        free(b.p);
        b.p = NULL;
        b.len = 0;
        curl_easy_reset(c);
        common_setup(c, o, url, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_mem);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_mem_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &b);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK) {
            rc = REVIVE_OK;
            break;
        }
        if (b.too_big) {
            rc = cloud_fail(err, REVIVE_E_LIMIT, "cloud", 0,
                            "%s is larger than %zu bytes: not a catalog", url, max);
            break;
        }
        if (cc == CURLE_HTTP_RETURNED_ERROR) {
            int code = cloud_http_code(status, &retry);
            rc = cloud_fail(err, code, "http", (int)status, "%s answered HTTP %ld", url, status);
        } else {
            int code = cloud_curl_code((int)cc, &retry);
            rc = cloud_fail(err, code, "curl", (int)cc, "fetching %s failed: %s%s", url,
                            errbuf[0] ? errbuf : curl_easy_strerror(cc),
                            code == REVIVE_E_PERMISSION
                                ? "; if the server uses your shop's own CA, pass --cacert"
                                : "");
        }
        if (!retry || n >= o->max_attempts)
            break;
        if ((rc = backoff(o, n, io, err)) != REVIVE_OK)
            break;
    }
    curl_easy_cleanup(c);
    if (rc != REVIVE_OK) {
        free(b.p);
        return rc;
    }
    if (!b.p && !(b.p = calloc(1, 1)))
        return cloud_fail(err, REVIVE_E_NO_MEMORY, "cloud", 0, "out of memory");
    *buf = b.p;
    *len = b.len;
    return REVIVE_OK;
}
