/*
 * generate.h — write backups in every format itunes_backup reads, for tests, fuzz seeds
 * and benchmarks: iOS 10+ (Manifest.db) plain or encrypted with a known password (the
 * keybag built and every key wrapped here with libcrypto), or iOS 5-9 (Manifest.mbdb).
 * Not a shipping feature: it exists so the reader is tested against backups made from
 * the documented format rather than against itself alone.
 */
#ifndef REVIVE_ITUNES_GENERATE_H
#define REVIVE_ITUNES_GENERATE_H

#include "itunes.h"

typedef struct ib_gen_file {
    const char *domain, *path;
    int flags;                  /* IB_FLAG_FILE / DIR / LINK */
    const uint8_t *data;        /* file content */
    size_t len;
    uint32_t mode;              /* permission bits; type added from flags */
    int64_t mtime;
    const char *target;         /* symlinks */
    int protection_class;       /* 0: 3 */
} ib_gen_file;

/* Called for i in [0, n): fill *f (pointers must stay valid until the next call). */
typedef int (*ib_gen_fn)(void *ud, size_t i, ib_gen_file *f);

typedef struct ib_gen_opts {
    ib_format format;           /* IB_FMT_DB (default) or IB_FMT_MBDB */
    const char *password;       /* NULL: not encrypted */
    uint32_t iter, dpic;        /* PBKDF2 rounds; 0: 1 and 1 (fast, for tests); dpic
                                   UINT32_MAX: no DPSL/DPIC (pre-10.2 keybag) */
    bool forensic;              /* say encrypted, write everything plain (keys kept) */
    bool digests;               /* record Digest (default true via ib_gen_opts_init) */
    bool no_info, no_manifest_plist, no_status;
    const char *udid;
    const char *ios_version;
} ib_gen_opts;

void ib_gen_opts_init(ib_gen_opts *o);
int ib_gen_write(ib_ctx *c, const char *dir, const ib_gen_opts *o, ib_gen_fn fn, void *ud,
                 size_t n);
/* Convenience: from an array. */
int ib_gen_write_files(ib_ctx *c, const char *dir, const ib_gen_opts *o,
                       const ib_gen_file *files, size_t n);
/* Build a keybag for password (class keys 1..4 random) and return the class keys. */
int ib_gen_keybag(ib_ctx *c, const char *password, uint32_t iter, uint32_t dpic,
                  uint8_t **out, size_t *len, uint8_t class_keys[5][32]);

#endif
