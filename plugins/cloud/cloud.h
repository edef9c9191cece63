/*
 * cloud.h — the internal API of cloud_core, the library behind the cloud plugin and
 * cloud-tool. Nothing here crosses the plugin boundary; plugin.c adapts it to the SDK.
 *
 * The parts, one file each:
 *   error.c    revive_error helpers and the mapping of CURLcode / HTTP status to revive codes
 *   catalog.c  ipsw.me v4 documents (device/<id>?type=ipsw): parse, query
 *   download.c one URL into a part file: Range resume guarded by If-Range, inline hashes,
 *              retries with backoff, progress and cancellation
 *   cache.c    the shared download cache: layout, locks, free space, LRU eviction
 *   fetch.c    the whole "spec -> verified file" flow on top of the three above
 *
 * Every function that can fail returns REVIVE_OK or a revive_status code and fills the
 * revive_error it is given (code, origin "curl"/"http"/"os"/"cloud", origin_code, message).
 */
#ifndef REVIVE_CLOUD_H
#define REVIVE_CLOUD_H

#include <revive/revive.h>
#include <stdarg.h>

/* ------------------------------------------------------------------ errors ------ */

int cloud_fail(revive_error *err, int code, const char *origin, int origin_code,
               const char *fmt, ...) REVIVE_PRINTF(5, 6);
/* revive code for a CURLcode; *retry says whether another attempt can help. */
int cloud_curl_code(int curlcode, int *retry);
/* revive code for a final HTTP status >= 400; *retry as above. */
int cloud_http_code(long status, int *retry);

/* ------------------------------------------------------- caller callbacks ------ */

/* How the library reaches whoever drives it (the plugin's host, cloud-tool, a test). */
typedef struct cloud_io {
    void *ud;
    void (*progress)(void *ud, uint64_t done, uint64_t total); /* may be NULL */
    bool (*cancelled)(void *ud);                                /* may be NULL */
    void (*log)(void *ud, int level, const char *msg);          /* may be NULL */
} cloud_io;

void cloud_log(const cloud_io *io, int level, const char *fmt, ...) REVIVE_PRINTF(3, 4);
bool cloud_is_cancelled(const cloud_io *io);

/* ----------------------------------------------------------- network opts ------ */

typedef struct cloud_net_opts {
    const char *cacert;          /* extra CA bundle (a shop's own CA); NULL: system store */
    long connect_timeout_s;      /* per attempt */
    long low_speed_limit;        /* bytes/s below which ... */
    long low_speed_time_s;       /* ... for this long counts as a stall (retried) */
    int max_attempts;            /* attempts that made no progress, in a row */
    long retry_base_ms;          /* first backoff; doubles, with full jitter */
    long retry_max_ms;           /* backoff cap */
    long max_redirects;
} cloud_net_opts;

/* Defaults above, then overrides from `get(key)` for the documented config keys
 * ("cloud.cacert", "cloud.connect_timeout", ...). get may be NULL. */
void cloud_net_opts_init(cloud_net_opts *o, const char *(*get)(void *ud, const char *key),
                         void *ud);

/* --------------------------------------------------------------- download ------ */

typedef struct cloud_digest {
    uint64_t size;
    char sha1[41];
    char sha256[65];             /* empty unless asked for */
} cloud_digest;

typedef struct cloud_dl_stats {
    uint64_t body_bytes;         /* body bytes that came over the network, all attempts */
    uint64_t resumed_from;       /* size of the part when the first attempt started */
    int attempts;
    int restarts;                /* times the part was thrown away and started over */
} cloud_dl_stats;

typedef struct cloud_dl_req {
    const char *url;
    const char *part_path;       /* data so far */
    const char *meta_path;       /* validators for If-Range, beside the part */
    uint64_t expected_size;      /* 0: unknown; else more bytes than this is an error */
    bool want_sha256;
    const char *space_dir;       /* where free space is checked; NULL: not checked */
    uint64_t space_margin;
} cloud_dl_req;

/* Bring req->url's content into req->part_path, resuming what is there when the server's
 * validators allow it. On success the part is complete and dig holds its hashes. On any
 * failure the part is left resumable (never spliced from two versions). */
int cloud_download(const cloud_net_opts *o, const cloud_dl_req *req, const cloud_io *io,
                   cloud_digest *dig, cloud_dl_stats *stats, revive_error *err);

/* A small document (a catalog) into memory, at most `max` bytes; *buf is NUL-terminated,
 * free() it. Same retries, TLS rules and error mapping as cloud_download. */
int cloud_get(const cloud_net_opts *o, const char *url, size_t max, const cloud_io *io,
              char **buf, size_t *len, revive_error *err);

/* Hash a whole file (used to check a cache entry or an existing part). */
int cloud_hash_file(const char *path, bool want_sha256, cloud_digest *dig, revive_error *err);

/* The part file's side record: the validators the server gave for the bytes in the part. */
typedef struct cloud_meta {
    char etag[256];
    char last_modified[128];
    uint64_t total;              /* 0 if unknown */
} cloud_meta;
/* Parse the text of a meta file; REVIVE_E_CORRUPT if it is not one. */
int cloud_meta_parse(const char *text, size_t len, cloud_meta *m);

/* Parse "bytes START-END/TOTAL" (TOTAL may be "*"); false if malformed. */
bool cloud_parse_content_range(const char *v, uint64_t *start, uint64_t *end, uint64_t *total);

/* ---------------------------------------------------------------- catalog ------ */

typedef struct cloud_firmware {
    char identifier[64];
    char version[32];
    char build[32];
    char url[2048];
    char sha1[41];               /* lowercase hex, or empty */
    char sha256[65];             /* lowercase hex, or empty */
    uint64_t size;               /* 0 if unknown */
    bool is_signed;
    char released[40];
} cloud_firmware;

typedef struct cloud_catalog {
    char identifier[64];
    char name[128];
    size_t count;
    cloud_firmware *fw;          /* newest first, as served */
} cloud_catalog;

/* Parse an ipsw.me v4 device document. Entries whose url is not http(s) or whose
 * checksums are not hex are refused (REVIVE_E_CORRUPT), never passed on. */
int cloud_catalog_parse(const char *json, size_t len, cloud_catalog *cat, revive_error *err);
void cloud_catalog_free(cloud_catalog *cat);

/* "firmware:<ProductType>:<latest|VERSION|BUILD>" -> parts; false if not that shape. */
bool cloud_query_parse(const char *spec, char *model, size_t model_cap, char *what,
                       size_t what_cap);
/* Valid product type ("iPhone12,1"): letters, digits, one comma. */
bool cloud_model_valid(const char *model);

/* The entry `what` names: "latest" = newest signed; else an exact version or build.
 * REVIVE_E_NOT_SIGNED if "latest" and nothing is signed; REVIVE_E_NOT_FOUND otherwise. */
int cloud_catalog_select(const cloud_catalog *cat, const char *what, const cloud_firmware **out,
                         revive_error *err);

/* <base>/device/<model>?type=ipsw */
int cloud_catalog_url(const char *base, const char *model, char *out, size_t cap);
#define CLOUD_DEFAULT_CATALOG "https://api.ipsw.me/v4"
#define CLOUD_CATALOG_MAX (8u << 20)

/* ------------------------------------------------------------------ cache ------ */

typedef struct cloud_cache {
    char root[1024];             /* <cache dir>/cloud */
    uint64_t max_bytes;          /* 0: no limit */
    uint64_t margin;             /* free space kept beyond a download's size */
} cloud_cache;

int cloud_cache_open(cloud_cache *c, const char *root, uint64_t max_bytes, uint64_t margin,
                     revive_error *err);
/* Paths for a key ("sha1-<hex>"): the verified file, the part, its meta, its lock. */
void cloud_cache_paths(const cloud_cache *c, const char *key, char *file, char *part,
                       char *meta, char *lock, size_t cap);
/* Hold the key's lock (exclusive; waits while another run downloads it, checking
 * cancellation). Release with cloud_cache_unlock(fd). */
int cloud_cache_lock_key(const cloud_cache *c, const char *key, const cloud_io *io, int *fd,
                         revive_error *err);
void cloud_cache_unlock(int fd);
/* REVIVE_E_NO_SPACE_HOST unless `dir` has need + margin bytes free. */
int cloud_space_check(const char *dir, uint64_t need, uint64_t margin, revive_error *err);
/* Move a verified part into the cache as `key` (rename), mark it used, then evict the
 * least recently used other entries until the cache is within max_bytes. */
int cloud_cache_insert(cloud_cache *c, const char *key, const char *part, revive_error *err);
#define CLOUD_STALE_PART_DAYS 14
/* Mark an entry as just used (its mtime; LRU order). */
void cloud_cache_touch(const char *file);
/* Evict least-recently-used entries (never `keep`) until within max_bytes. */
int cloud_cache_evict(cloud_cache *c, const char *keep, revive_error *err);

/* ------------------------------------------------------------------ fetch ------ */

typedef struct cloud_fetch_req {
    const char *spec;            /* URL or firmware:<model>:<what> */
    const char *sha1;            /* expected, hex; may be NULL */
    const char *sha256;
    const char *out_dir;         /* copy/link the result here; NULL: answer the cache path */
    const char *catalog_base;    /* for firmware: queries */
    bool allow_unverified;       /* a URL with no checksum: deliver once complete */
} cloud_fetch_req;

typedef struct cloud_fetch_res {
    char path[4096];
    cloud_digest dig;
    bool verified;
    bool from_cache;
    cloud_dl_stats stats;
    char url[2048];
    char version[32];
    char build[32];
} cloud_fetch_res;

int cloud_fetch(const cloud_net_opts *o, cloud_cache *cache, const cloud_fetch_req *req,
                const cloud_io *io, cloud_fetch_res *res, revive_error *err);

/* Resolve a model's catalog (download + parse). */
int cloud_catalog_fetch(const cloud_net_opts *o, const char *base, const char *model,
                        const cloud_io *io, cloud_catalog *cat, revive_error *err);

/* True for http:// and https:// URLs (case-insensitive scheme). */
bool cloud_is_url(const char *s);
/* Lowercase hex of exactly n digits? */
bool cloud_hex_valid(const char *s, size_t n);

#endif /* REVIVE_CLOUD_H */
