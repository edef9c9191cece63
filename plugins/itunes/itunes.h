/*
 * itunes.h — the internal API of itunes_backup, the library behind the itunes importer
 * plugin, itunes-tool and the tests. Nothing here crosses the plugin boundary; plugin.c
 * adapts it to the SDK (host->fail/event/progress/secret).
 *
 * The parts, one file each:
 *   ctx.c         errors, warnings, problems and progress, routed to whoever drives us
 *   util.c        small file helpers (read whole small files, mkdir -p, hex, sha1 of names)
 *   mbfile.c      one NSKeyedArchiver MBFile blob -> ib_entry fields (through libplist)
 *   manifest_db.c Manifest.db (SQLite), streamed row by row
 *   mbdb.c        Manifest.mbdb (iOS 5-9), big-endian records, bounds-checked
 *   keybag.c      BackupKeyBag TLV, password -> key, class keys by RFC 3394 unwrap
 *   decrypt.c     ManifestKey / per-file keys, AES-256-CBC content
 *   locate.c      where a backup lives: folder, UDID parent, snapshots, zip/tar archives
 *   backup.c      open a located backup: plists, format, encryption, entry iteration
 *   inspect.c     facts and per-domain counts
 *   verify.c      every listed file present with its size and digest, hashed on all cores
 *   verify_archive.c  the same for an archive, hashing members as they stream
 *   extract.c     ls, and entries out into a directory, safely, by a pool of writers
 *   extract_archive.c one pass over an archive feeding extract and import
 *   import.c      the canonical iOS 10+ layout from any supported input
 *
 * Every function that can fail returns REVIVE_OK or a revive_status code and records the
 * message in ctx->err (ib_fail).
 */
#ifndef REVIVE_ITUNES_H
#define REVIVE_ITUNES_H

#include <revive/revive.h>
#include <plist/plist.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- context ------ */

/* How the library reaches whoever drives it (plugin host, itunes-tool, a test).
 * Every callback may be NULL. event() may be called from worker threads; ctx.c
 * serialises the calls with `lock`. */
typedef struct ib_ctx {
    void *ud;
    void (*event)(void *ud, const char *type, const revive_field *f, size_t n);
    void (*progress)(void *ud, const char *phase, uint64_t done, uint64_t total,
                     const char *unit);
    bool (*cancelled)(void *ud);
    /* Ask for the backup password; REVIVE_OK, PASSWORD_NEEDED or CANCELLED. */
    int (*secret)(void *ud, const char *purpose, char *buf, size_t cap);
    /* Optional cache of derived password keys for the run, keyed by SHA-256 of the
     * keybag: a hit skips both the prompt and the (deliberately slow) PBKDF2. */
    bool (*key_get)(void *ud, const uint8_t id[32], uint8_t key[32]);
    void (*key_put)(void *ud, const uint8_t id[32], const uint8_t key[32]);
    revive_error err;
    pthread_mutex_t lock;
    unsigned problems;          /* problems reported so far (verify) */
    unsigned warnings;
} ib_ctx;

void ib_ctx_init(ib_ctx *c);
void ib_ctx_fini(ib_ctx *c);
int ib_fail(ib_ctx *c, int code, const char *origin, int origin_code, const char *fmt, ...)
    REVIVE_PRINTF(5, 6);
void ib_warn(ib_ctx *c, const char *fmt, ...) REVIVE_PRINTF(2, 3);
/* A "problem" event {path, problem, detail}; counted in c->problems. */
void ib_problem(ib_ctx *c, const char *path, const char *problem, const char *fmt, ...)
    REVIVE_PRINTF(4, 5);
void ib_progress(ib_ctx *c, const char *phase, uint64_t done, uint64_t total, const char *unit);
bool ib_cancelled(ib_ctx *c);

/* ---------------------------------------------------------------- util ------ */

/* Read a whole file of at most `max` bytes. CORRUPT if larger, NOT_FOUND if absent. */
int ib_read_file(ib_ctx *c, const char *path, size_t max, uint8_t **out, size_t *len);
int ib_read_plist(ib_ctx *c, const char *path, plist_t *out);
int ib_write_file(ib_ctx *c, const char *path, const void *data, size_t len);
int ib_write_plist_xml(ib_ctx *c, const char *path, plist_t p);
int ib_mkdirs(ib_ctx *c, const char *path, mode_t mode);
int ib_rmtree(const char *path);
void ib_hex(const uint8_t *in, size_t n, char *out); /* out: 2n+1 */
/* fileID = lowercase hex SHA1("domain-path"); out has 41 bytes. */
void ib_file_id(const char *domain, const char *path, char out[41]);
bool ib_is_file_id(const char *s);
char *ib_join(const char *a, const char *b);     /* a/b, malloc'd */
/* plist helpers: string/int/bool/data of dict[key], or defaults. */
const char *ib_pl_str(plist_t dict, const char *key);
bool ib_pl_int(plist_t dict, const char *key, int64_t *out);
bool ib_pl_bool(plist_t dict, const char *key, bool dflt);

/* ---------------------------------------------------------------- entry ----- */

enum { IB_FLAG_FILE = 1, IB_FLAG_DIR = 2, IB_FLAG_LINK = 4 };

/* One row of a manifest, format independent. Pointers stay valid for the callback. */
typedef struct ib_entry {
    char file_id[41];
    const char *domain;
    const char *path;
    int flags;                    /* IB_FLAG_* */
    uint64_t size;
    uint32_t mode;
    uint32_t uid, gid;
    int64_t mtime, ctime_, btime;
    int protection_class;
    const uint8_t *key;           /* wrapped per-file key, 40 bytes, or NULL */
    size_t key_len;
    uint32_t key_class;           /* the 4-byte class before the wrapped key */
    uint8_t digest[32];
    size_t digest_len;            /* 0: none recorded */
    const char *target;           /* symlink target or NULL */
} ib_entry;

/* Decode an MBFile blob (binary or XML plist, NSKeyedArchiver) into e. Strings are
 * allocated in `*hold` (plist tree) which the caller frees with plist_free. */
int ib_mbfile_decode(ib_ctx *c, const uint8_t *blob, size_t len, ib_entry *e, plist_t *hold);
/* Encode e as an NSKeyedArchiver MBFile (binary plist). Caller frees *out with free(). */
int ib_mbfile_encode(ib_ctx *c, const ib_entry *e, uint8_t **out, size_t *len);

typedef int (*ib_entry_fn)(void *ud, const ib_entry *e);

/* Stream Manifest.db rows in fileID order. `label` names the file in messages. A row that
 * does not decode is reported through bad() (if not NULL; it may return non-OK to stop)
 * and skipped; NULL bad() turns it into CORRUPT. */
typedef int (*ib_bad_fn)(void *ud, const char *file_id, const char *what);
int ib_db_foreach(ib_ctx *c, const char *db_path, const char *label, ib_entry_fn fn,
                  ib_bad_fn bad, void *ud);
/* Manifest.mbdb records. Same contract. */
int ib_mbdb_foreach(ib_ctx *c, const uint8_t *data, size_t len, const char *label,
                    ib_entry_fn fn, void *ud);

/* -------------------------------------------------------------- keybag ------ */

typedef struct ib_class_key {
    uint32_t clas;
    uint32_t wrap;
    uint8_t wpky[40];
    size_t wpky_len;
    uint8_t key[32];
    bool unwrapped;
} ib_class_key;

typedef struct ib_keybag {
    uint32_t vers, type;
    uint8_t salt[64]; size_t salt_len;
    uint32_t iter;
    uint8_t dpsl[64]; size_t dpsl_len;
    uint32_t dpic;                 /* 0: absent (SHA1 only) */
    ib_class_key classes[16];
    size_t nclasses;
    bool unlocked;
} ib_keybag;

int ib_keybag_parse(ib_ctx *c, const uint8_t *data, size_t len, ib_keybag *kb);
/* Derive the key from the password (the costly part; kept in *key for reuse). */
int ib_keybag_derive(ib_ctx *c, const ib_keybag *kb, const char *password, uint8_t key[32]);
/* Unwrap every class key with the derived key; WRONG_PASSWORD if the check fails. */
int ib_keybag_unlock(ib_ctx *c, ib_keybag *kb, const uint8_t key[32]);
/* RFC 3394 with the default IV. Returns false if the integrity check fails. */
bool ib_aes_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                   uint8_t *out);
bool ib_aes_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                 uint8_t *out);
/* The plain per-file (or manifest) key for a 4-byte class + 40-byte wrapped key. */
int ib_keybag_file_key(ib_ctx *c, const ib_keybag *kb, uint32_t clas, const uint8_t *wrapped,
                       size_t wlen, uint8_t out[32]);

/* ------------------------------------------------------------- decrypt ------ */

/* Decrypt a whole file (AES-256-CBC, zero IV) from `in` into `out`, keeping `size` bytes
 * of plaintext (the manifest's size; padding anomalies are tolerated when the size says
 * where the data ends). Also fed to `sha1_plain` if not NULL (EVP_MD_CTX). */
int ib_decrypt_stream(ib_ctx *c, const uint8_t key[32], FILE *in, const char *in_label,
                      FILE *out, uint64_t size, void *sha1_plain);
/* The same with caller-owned work space of IB_DECRYPT_WORK bytes (reused across files,
 * so a backup of many small files does not pay for fresh buffers each time). */
enum { IB_CHUNK = 1 << 20, IB_DECRYPT_WORK = 2 * (1 << 20) + 32 };
int ib_decrypt_stream_buf(ib_ctx *c, const uint8_t key[32], FILE *in, const char *in_label,
                          FILE *out, uint64_t size, void *sha1_plain, uint8_t *work);
int ib_decrypt_file(ib_ctx *c, const uint8_t key[32], const char *in, const char *out,
                    uint64_t size);

/* ------------------------------------------------------------- backup ------ */

/* Limits for archives (zip slip, bombs). 0 = defaults. */
typedef struct ib_limits {
    uint64_t max_total;            /* bytes unpacked, default 256 GiB */
    uint64_t max_ratio;            /* unpacked/packed, default 1000 */
    uint64_t max_entries;          /* default 10,000,000 */
} ib_limits;

typedef enum ib_format { IB_FMT_NONE = 0, IB_FMT_DB = 1, IB_FMT_MBDB = 2 } ib_format;

typedef struct ib_backup {
    char *root;                    /* folder holding Info.plist / Manifest.* */
    char *scratch;                 /* private temp dir (unpacked archive, plain db); removed */
    char *source;                  /* what the person gave us */
    bool from_archive;
    bool manifest_only;            /* unpacked without content (ib_open_opts) */
    char *archive;                 /* the archive it came from, or NULL */
    ib_limits limits;              /* the archive limits it was opened with */
    char *archive_prefix;          /* where the backup sits inside it ("" or "UDID/") */
    ib_format format;
    plist_t info, manifest, status;/* NULL when missing */
    bool encrypted;                /* Manifest.plist says IsEncrypted */
    bool forensic;                 /* says encrypted but the manifest and files are plain */
    bool unlocked;
    bool locked;                   /* encrypted, opened without its password (allow_locked):
                                      the plists are readable, the manifest is not */
    ib_keybag kb;
    char *db_path;                 /* the Manifest.db to read (a decrypted copy if needed) */
    uint8_t *mbdb; size_t mbdb_len;
    uint8_t *work;                 /* IB_DECRYPT_WORK bytes for copies, made on first use */
} ib_backup;

/* Find the backup at `path`: the folder itself, a parent with exactly one <UDID> backup
 * (or `udid` chooses), iMazing <UDID>-<date> snapshots (the newest), a zip or tar. */
int ib_locate(ib_ctx *c, const char *path, const char *udid, char **found);
/* Probe score 0..100, cheap, read-only. */
int ib_probe(const char *path);
bool ib_is_archive(const char *path);
/* Walk an archive's members without unpacking; check names, sizes and ratio. */
int ib_archive_check(ib_ctx *c, const char *path, const ib_limits *lim, uint64_t *members,
                     uint64_t *bytes);
/* Unpack an archive into dir (must exist), refusing unsafe members. With manifest_only,
 * only the manifests and plists are written (enough for inspect and ls). */
int ib_archive_unpack(ib_ctx *c, const char *path, const char *dir, const ib_limits *lim,
                      bool manifest_only);

typedef struct ib_open_opts {
    const char *udid;
    bool need_keys;                /* ask for the password if encrypted */
    bool allow_locked;             /* no password to be had: open anyway, plists only */
    bool manifest_only;            /* archives: unpack only manifests and plists (inspect,
                                      ls); content is then not readable */
    ib_limits limits;
} ib_open_opts;

int ib_open(ib_ctx *c, const char *path, const ib_open_opts *o, ib_backup *b);
void ib_close(ib_backup *b);
int ib_foreach(ib_ctx *c, ib_backup *b, ib_entry_fn fn, ib_bad_fn bad, void *ud);
/* Where the stored content of e lives (malloc'd). */
char *ib_content_path(const ib_backup *b, const ib_entry *e);
/* Size the stored bytes must have (padded for encrypted content). */
uint64_t ib_stored_size(const ib_backup *b, const ib_entry *e);
/* Whether `stored` bytes on disk are acceptable for e: exactly Size for plain content;
 * for encrypted content the padded size, or Size itself when that is already whole
 * blocks (some real backups store those without the extra padding block). */
bool ib_stored_size_ok(const ib_backup *b, const ib_entry *e, uint64_t stored);
bool ib_stored_size_ok2(bool encrypted, uint64_t size, uint64_t stored);
bool ib_entry_encrypted(const ib_backup *b, const ib_entry *e);

/* ------------------------------------------------------- the operations ------ */

typedef struct ib_inspect {
    const char *format;            /* "itunes-db" / "itunes-mbdb" */
    uint64_t files, dirs, links, bytes;
} ib_inspect_t;

/* Inspect: results through emit(key, value) — see docs/itunes.md. */
typedef void (*ib_result_fn)(void *ud, const revive_field *f);
int ib_inspect(ib_ctx *c, ib_backup *b, ib_result_fn res, void *ud);
int ib_verify(ib_ctx *c, ib_backup *b, unsigned threads);
/* verify of a backup opened manifest_only from an archive: content hashed as it streams
 * out of the archive, nothing written (called by ib_verify for such backups). */
int ib_verify_archive(ib_ctx *c, ib_backup *b, const ib_limits *lim);
/* The fileID an archive member name stands for (under b->archive_prefix, as xx/<id> or
 * <id> by format), or NULL when the member is not a content file of the backup. */
const char *ib_archive_member_id(const ib_backup *b, const char *name);
/* The checks verify makes besides content (shared by both verifiers). */
void ib_verify_plists(ib_ctx *c, ib_backup *b);
void ib_verify_entry(ib_ctx *c, ib_backup *b, const ib_entry *e, const char *label);
/* List (item events) and extract entries matching domain (exact, NULL any) and a
 * fnmatch pattern on relativePath (NULL any). */
int ib_list(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern);
int ib_extract(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern,
               const char *out_dir, uint64_t *files, uint64_t *bytes);
/* The same with `threads` writers (0: default 4; file creation waits on the filesystem
 * more than on the CPU, so more writers than cores pays). */
int ib_extract_threads(ib_ctx *c, ib_backup *b, const char *domain, const char *pattern,
                       const char *out_dir, unsigned threads, uint64_t *files,
                       uint64_t *bytes);
int ib_import(ib_ctx *c, ib_backup *b, const char *out_dir, uint64_t *files, uint64_t *bytes);

/* Write the plain content of file entry e to out (decrypting when needed), checking the
 * stored size against the manifest; also fed to sha1_md (EVP_MD_CTX *) if not NULL. */
int ib_copy_content(ib_ctx *c, ib_backup *b, const ib_entry *e, FILE *out, void *sha1_md,
                    uint8_t *work /* IB_DECRYPT_WORK bytes, or NULL: b->work */);
/* The same from an open stream of the stored bytes (`stored` their length, -1 unknown);
 * src names the source in messages. */
int ib_copy_stream(ib_ctx *c, ib_backup *b, const ib_entry *e, FILE *in, const char *src,
                   int64_t stored, FILE *out, void *sha1_md, uint8_t *work);
/* Does this domain/path stay inside a folder? REVIVE_OK or UNSAFE with a message. */
int ib_check_entry_path(ib_ctx *c, const ib_entry *e);

/* One file to extract (extract.c keeps them while an archive is streamed). */
typedef struct ib_xjob {
    ib_entry e;
    char *domain, *path, *dst;
    uint8_t key[40];
    bool done;
} ib_xjob;
/* Write e's content to dst (via a part file, mode and time set). in NULL: from the
 * backup folder; else from that stream of `stored` bytes (-1 unknown) named src. */
int ib_write_entry_file(ib_ctx *c, ib_backup *b, const ib_entry *e, const char *dst,
                        FILE *in, const char *src, int64_t stored, uint8_t *work);
/* Stream b->archive once and write every member that is one of jobs[0..n); jobs no
 * member supplied are "missing" problems. Counts into files/bytes/problems. */
int ib_extract_from_archive(ib_ctx *c, ib_backup *b, ib_xjob **jobs, size_t n,
                            uint64_t *files, uint64_t *bytes, uint64_t *problems);
/* The pass underneath: fn is called for each member that is the content of a job not yet
 * done, with a stream of its stored bytes; a non-OK return stops the pass. Jobs left
 * with done == false had no member. */
typedef int (*ib_member_fn)(void *ud, ib_xjob *job, FILE *in, const char *label,
                            int64_t stored);
int ib_archive_each(ib_ctx *c, ib_backup *b, ib_xjob **jobs, size_t n, ib_member_fn fn,
                    void *ud);
/* A job holding its own copy of e (strings, key); dst is taken over. NULL: no memory. */
ib_xjob *ib_xjob_new(const ib_entry *e, char *dst);
void ib_xjob_free(ib_xjob *j);

/* Safe join of out_dir with a relative path from the input: UNSAFE for "..", absolute
 * paths, empty components; result malloc'd in *out. */
int ib_safe_join(ib_ctx *c, const char *dir, const char *rel, char **out);

#endif
