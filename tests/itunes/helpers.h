/*
 * helpers.h — shared by the itunes tests: temp folders, a tree hash (to prove inputs are
 * never written and nothing lands outside an output folder), and a context that records
 * the events the library emits.
 */
#ifndef ITUNES_TEST_HELPERS_H
#define ITUNES_TEST_HELPERS_H

#include "generate.h"
#include "itunes.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct rec {
    unsigned problems, warnings, items, domains;
    char last_problem[256];     /* "problem path" of the last problem */
    char all[262144];           /* every problem as "problem:path\n", truncated */
    const char *password;       /* answered to secret(); NULL: PASSWORD_NEEDED */
    unsigned secret_calls;
} rec;

static inline void rec_event(void *ud, const char *type, const revive_field *f, size_t n)
{
    rec *r = ud;
    if (!strcmp(type, "problem")) {
        r->problems++;
        const revive_field *p = revive_field_find(f, n, "problem");
        const revive_field *q = revive_field_find(f, n, "path");
        snprintf(r->last_problem, sizeof(r->last_problem), "%s %s", p->v.s, q->v.s);
        size_t l = strlen(r->all);
        if (l + 300 < sizeof(r->all))
            snprintf(r->all + l, sizeof(r->all) - l, "%s:%s\n", p->v.s, q->v.s);
    } else if (!strcmp(type, "warning"))
        r->warnings++;
    else if (!strcmp(type, "item"))
        r->items++;
    else if (!strcmp(type, "domain"))
        r->domains++;
}

static inline int rec_secret(void *ud, const char *purpose, char *buf, size_t cap)
{
    rec *r = ud;
    (void)purpose;
    r->secret_calls++;
    if (!r->password)
        return REVIVE_E_PASSWORD_NEEDED;
    snprintf(buf, cap, "%s", r->password);
    return REVIVE_OK;
}

static inline void ctx_for(ib_ctx *c, rec *r)
{
    ib_ctx_init(c);
    c->ud = r;
    c->event = rec_event;
    c->secret = rec_secret;
}

static inline char *tmpdir_new(void)
{
    const char *t = getenv("TMPDIR");
    char *p = ib_join(t && *t ? t : "/tmp", "itunes-test-XXXXXX");
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

/* A digest of every name, type, mode and content under root (order independent). */
static uint8_t tree_acc[20];
static int tree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestInit_ex(m, EVP_sha1(), NULL);
    EVP_DigestUpdate(m, path, strlen(path));
    unsigned mode = (unsigned)st->st_mode, f = (unsigned)flag;
    EVP_DigestUpdate(m, &mode, sizeof(mode));
    EVP_DigestUpdate(m, &f, sizeof(f));
    if (S_ISREG(st->st_mode)) {
        FILE *fp = fopen(path, "rb");
        uint8_t b[65536];
        size_t n;
        while (fp && (n = fread(b, 1, sizeof(b), fp)) > 0)
            EVP_DigestUpdate(m, b, n);
        if (fp)
            fclose(fp);
    } else if (S_ISLNK(st->st_mode)) {
        char t[4096];
        ssize_t n = readlink(path, t, sizeof(t));
        if (n > 0)
            EVP_DigestUpdate(m, t, (size_t)n);
    }
    uint8_t d[20];
    unsigned l;
    EVP_DigestFinal_ex(m, d, &l);
    EVP_MD_CTX_free(m);
    for (int i = 0; i < 20; i++)
        tree_acc[i] ^= d[i];
    return 0;
}

static inline void tree_hash(const char *root, char out[41])
{
    memset(tree_acc, 0, sizeof(tree_acc));
    nftw(root, tree_one, 32, FTW_PHYS);
    ib_hex(tree_acc, 20, out);
}

/* Number of entries under root (files, dirs, links), root excluded. */
static unsigned tree_count_n;
static int count_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)p; (void)s; (void)f;
    if (w->level > 0)
        tree_count_n++;
    return 0;
}
static inline unsigned tree_count(const char *root)
{
    tree_count_n = 0;
    nftw(root, count_one, 32, FTW_PHYS);
    return tree_count_n;
}

/* Number of regular files under root. */
static int count_file(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)p; (void)f; (void)w;
    if (S_ISREG(s->st_mode))
        tree_count_n++;
    return 0;
}
static inline unsigned tree_count_files(const char *root)
{
    tree_count_n = 0;
    nftw(root, count_file, 32, FTW_PHYS);
    return tree_count_n;
}

static inline char *path2(const char *a, const char *b)
{
    return ib_join(a, b);
}

/* A small varied set of entries: folders, files of several sizes (0, 1, 15, 16, 17,
 * 4096+3 bytes: every padding case), a symlink that stays inside. */
#define SAMPLE_N 10
static uint8_t sample_data[5000];
static inline const ib_gen_file *sample_files(void)
{
    static ib_gen_file f[SAMPLE_N];
    for (size_t i = 0; i < sizeof(sample_data); i++)
        sample_data[i] = (uint8_t)(i * 7 + 3);
    ib_gen_file v[SAMPLE_N] = {
        { "HomeDomain", "", IB_FLAG_DIR, NULL, 0, 0755, 1600000000, NULL, 0 },
        { "HomeDomain", "Library", IB_FLAG_DIR, NULL, 0, 0755, 1600000000, NULL, 0 },
        { "HomeDomain", "Library/empty", IB_FLAG_FILE, sample_data, 0, 0644, 1600000001, NULL, 0 },
        { "HomeDomain", "Library/one", IB_FLAG_FILE, sample_data, 1, 0600, 1600000002, NULL, 0 },
        { "HomeDomain", "Library/fifteen", IB_FLAG_FILE, sample_data, 15, 0644, 1600000003, NULL, 1 },
        { "HomeDomain", "Library/sixteen", IB_FLAG_FILE, sample_data, 16, 0644, 1600000004, NULL, 2 },
        { "HomeDomain", "Library/seventeen", IB_FLAG_FILE, sample_data, 17, 0640, 1600000005, NULL, 4 },
        { "MediaDomain", "Media/big.bin", IB_FLAG_FILE, sample_data, 4099, 0644, 1600000006, NULL, 3 },
        { "HomeDomain", "Library/link", IB_FLAG_LINK, NULL, 0, 0777, 1600000007, "one", 0 },
        { "AppDomain-com.example.app", "Documents/a.txt", IB_FLAG_FILE, (const uint8_t *)"hello\n", 6, 0644, 1600000008, NULL, 0 },
    };
    memcpy(f, v, sizeof(v));
    return f;
}

static inline bool file_equals(const char *path, const uint8_t *data, size_t len)
{
    uint8_t *got;
    size_t n;
    ib_ctx c;
    ib_ctx_init(&c);
    int rc = ib_read_file(&c, path, 1u << 30, &got, &n);
    ib_ctx_fini(&c);
    if (rc)
        return false;
    bool eq = n == len && memcmp(got, data, len) == 0;
    free(got);
    return eq;
}

#endif
