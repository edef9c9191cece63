/* Backups generated in every format the importer takes, read back: iOS 10+ plain and
 * encrypted (known password), forensic decrypted copies, iOS 5-9 mbdb plain and encrypted,
 * zip and tar archives, a UDID parent folder with snapshots. Each is inspected, verified,
 * extracted (content, modes and times compared with what was written) and imported
 * (the result verified again); the input tree is hashed before and after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>

typedef struct kv {
    char key[32];
    char s[128];
    int64_t i;
    bool b;
} kv;
static kv results[64];
static size_t nresults;

static void on_result(void *ud, const revive_field *f)
{
    (void)ud;
    if (nresults == 64)
        return;
    kv *r = &results[nresults++];
    snprintf(r->key, sizeof(r->key), "%s", f->key);
    if (f->type == REVIVE_VAL_STR)
        snprintf(r->s, sizeof(r->s), "%s", f->v.s);
    r->i = f->type == REVIVE_VAL_INT ? f->v.i : 0;
    r->b = f->type == REVIVE_VAL_BOOL ? f->v.b : false;
}

static const kv *result(const char *key)
{
    for (size_t i = 0; i < nresults; i++)
        if (!strcmp(results[i].key, key))
            return &results[i];
    fail_msg("no result %s", key);
    return NULL;
}

/* Check an extracted folder against the sample files. */
static void check_extracted(const char *out)
{
    const ib_gen_file *f = sample_files();
    for (int i = 0; i < SAMPLE_N; i++) {
        char rel[256];
        snprintf(rel, sizeof(rel), "%s/%s", f[i].domain, f[i].path);
        char *p = path2(out, rel);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        if (f[i].flags == IB_FLAG_FILE) {
            assert_true(S_ISREG(st.st_mode));
            assert_true(file_equals(p, f[i].data, f[i].len));
            assert_int_equal(st.st_mode & 0777, f[i].mode);
            assert_int_equal(st.st_mtime, f[i].mtime);
        } else if (f[i].flags == IB_FLAG_LINK) {
            assert_true(S_ISLNK(st.st_mode));
        } else {
            assert_true(S_ISDIR(st.st_mode));
        }
        free(p);
    }
}

/* Open, inspect, verify, extract, import (and verify the import) one backup path. */
static void full_cycle(const char *path, const char *password, const char *want_format,
                       bool want_encrypted)
{
    char before[41], after[41];
    tree_hash(path, before);
    rec r = { .password = password };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    ib_open_opts oo = { .need_keys = true };
    assert_int_equal(ib_open(&c, path, &oo, &b), REVIVE_OK);
    nresults = 0;
    assert_int_equal(ib_inspect(&c, &b, on_result, NULL), REVIVE_OK);
    assert_string_equal(result("format")->s, want_format);
    assert_int_equal(result("encrypted")->b, want_encrypted);
    assert_int_equal(result("files")->i, 7);
    assert_int_equal(result("dirs")->i, 2);
    assert_int_equal(result("links")->i, 1);
    assert_int_equal(result("bytes")->i, 0 + 1 + 15 + 16 + 17 + 4099 + 6);
    assert_string_equal(result("udid")->s, "00008030-001A2B3C4D5E6F70");
    assert_int_equal(r.domains, 3);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    assert_int_equal(r.problems, 0);
    r.items = 0;
    assert_int_equal(ib_list(&c, &b, "HomeDomain", "Library/*teen"), REVIVE_OK);
    assert_int_equal(r.items, 3);

    char *t = tmpdir_new();
    char *out = path2(t, "extract");
    uint64_t files = 0, bytes = 0;
    assert_int_equal(ib_extract(&c, &b, NULL, NULL, out, &files, &bytes), REVIVE_OK);
    assert_int_equal(files, 7);
    check_extracted(out);

    char *imp = path2(t, "imported");
    assert_int_equal(ib_import(&c, &b, imp, &files, &bytes), REVIVE_OK);
    ib_close(&b);
    /* the import is plain iOS 10+ and verifies on its own, without a password */
    rec r2 = { 0 };
    ib_ctx c2;
    ctx_for(&c2, &r2);
    assert_int_equal(ib_open(&c2, imp, NULL, &b), REVIVE_OK);
    assert_int_equal(b.format, IB_FMT_DB);
    assert_false(b.encrypted);
    assert_null(plist_dict_get_item(b.manifest, "BackupKeyBag"));
    assert_int_equal(ib_verify(&c2, &b, 2), REVIVE_OK);
    char *out2 = path2(t, "extract2");
    assert_int_equal(ib_extract(&c2, &b, NULL, NULL, out2, &files, &bytes), REVIVE_OK);
    check_extracted(out2);
    ib_close(&b);
    assert_int_equal(r2.secret_calls, 0);
    ib_ctx_fini(&c2);
    ib_ctx_fini(&c);

    tree_hash(path, after);
    assert_string_equal(before, after); /* the input was not written */
    ib_rmtree(t);
    free(out);
    free(out2);
    free(imp);
    free(t);
}

static char *gen(const char *dir, const char *name, ib_gen_opts *o)
{
    char *p = path2(dir, name);
    ib_ctx c;
    ib_ctx_init(&c);
    assert_int_equal(ib_gen_write_files(&c, p, o, sample_files(), SAMPLE_N), REVIVE_OK);
    ib_ctx_fini(&c);
    return p;
}

static void ios10_plain(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    char *p = gen(t, "b", &o);
    full_cycle(p, NULL, "itunes-db", false);
    assert_int_equal(ib_probe(p), 100);
    /* a file of the backup stands for its folder */
    char *db = path2(p, "Manifest.db"), *found = NULL;
    ib_ctx c;
    ib_ctx_init(&c);
    assert_int_equal(ib_locate(&c, db, NULL, &found), REVIVE_OK);
    assert_string_equal(found, p);
    free(found);
    ib_ctx_fini(&c);
    free(db);
    ib_rmtree(t);
    free(p);
    free(t);
}

static void ios10_encrypted(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.password = "hunter2";
    o.iter = 7;
    o.dpic = 11;
    char *p = gen(t, "b", &o);
    /* Manifest.db really is encrypted on disk */
    char *db = path2(p, "Manifest.db");
    FILE *f = fopen(db, "rb");
    char h[16];
    assert_int_equal(fread(h, 1, 16, f), 16);
    fclose(f);
    assert_memory_not_equal(h, "SQLite format 3", 16);
    free(db);
    full_cycle(p, "hunter2", "itunes-db", true);

    /* no password -> password_needed; wrong -> wrong_password, asked once */
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, p, NULL, &b), REVIVE_E_PASSWORD_NEEDED);
    r.password = "hunter3";
    r.secret_calls = 0;
    assert_int_equal(ib_open(&c, p, NULL, &b), REVIVE_E_WRONG_PASSWORD);
    assert_int_equal(r.secret_calls, 1);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(p);
    free(t);
}

static void ios10_encrypted_pre_10_2_keybag(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.password = "old";
    o.iter = 5;
    o.dpic = UINT32_MAX; /* no DPSL/DPIC: SHA1 round only */
    char *p = gen(t, "b", &o);
    full_cycle(p, "old", "itunes-db", true);
    ib_rmtree(t);
    free(p);
    free(t);
}

/* every imported row: no key; files carry the SHA-1 of their plain content */
static int no_key_row(void *ud, const ib_entry *e)
{
    (*(unsigned *)ud)++;
    assert_null(e->key);
    if (e->flags == IB_FLAG_FILE) {
        assert_int_equal(e->digest_len, 20);
        const ib_gen_file *f = sample_files();
        for (int i = 0; i < SAMPLE_N; i++)
            if (!strcmp(f[i].path, e->path) && !strcmp(f[i].domain, e->domain)) {
                uint8_t d[20];
                unsigned l;
                EVP_Digest(f[i].data, f[i].len, d, &l, EVP_sha1(), NULL);
                assert_memory_equal(d, e->digest, 20);
                assert_int_equal(e->size, f[i].len);
            }
    }
    return REVIVE_OK;
}

static void forensic_copy(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.password = "x";
    o.forensic = true;
    o.digests = false;
    char *p = gen(t, "b", &o);
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, p, NULL, &b), REVIVE_OK);
    assert_true(b.encrypted);
    assert_true(b.forensic);
    assert_int_equal(r.secret_calls, 0);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    char *imp = path2(t, "imp");
    uint64_t files, bytes;
    assert_int_equal(ib_import(&c, &b, imp, &files, &bytes), REVIVE_OK);
    ib_close(&b);
    /* re-marked unencrypted, keys stripped, digests recomputed */
    assert_int_equal(ib_open(&c, imp, NULL, &b), REVIVE_OK);
    assert_false(b.encrypted);
    assert_null(plist_dict_get_item(b.manifest, "ManifestKey"));
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    ib_close(&b);
    char *db = path2(imp, "Manifest.db");
    unsigned n = 0;
    assert_int_equal(ib_db_foreach(&c, db, "imported", no_key_row, NULL, &n), REVIVE_OK);
    assert_int_equal(n, SAMPLE_N);
    free(db);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(imp);
    free(p);
    free(t);
}

static void mbdb_forensic_copy(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.format = IB_FMT_MBDB;
    o.password = "x";
    o.forensic = true;
    o.digests = false;
    char *p = gen(t, "b", &o);
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, p, &(ib_open_opts){ .need_keys = true }, &b), REVIVE_OK);
    assert_true(b.encrypted);
    assert_true(b.forensic);
    assert_int_equal(r.secret_calls, 0);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    char *x = path2(t, "x");
    uint64_t files, bytes;
    assert_int_equal(ib_extract(&c, &b, NULL, NULL, x, &files, &bytes), REVIVE_OK);
    check_extracted(x);
    ib_close(&b);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(x);
    free(p);
    free(t);
}

static void mbdb_plain_and_encrypted(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.format = IB_FMT_MBDB;
    o.ios_version = "9.3.5";
    char *p = gen(t, "plain", &o);
    full_cycle(p, NULL, "itunes-mbdb", false);
    o.password = "legacy";
    o.dpic = UINT32_MAX;
    char *e = gen(t, "enc", &o);
    full_cycle(e, "legacy", "itunes-mbdb", true);
    ib_rmtree(t);
    free(p);
    free(e);
    free(t);
}

/* Pack dir into an archive of `format` ("zip" / "tar") with libarchive, under `prefix`. */
static int add_tree(struct archive *a, const char *root, const char *rel, const char *prefix)
{
    char *dir = rel[0] ? path2(root, rel) : strdup(root);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char relp[1024], name[1200];
        snprintf(relp, sizeof(relp), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(name, sizeof(name), "%s%s", prefix, relp);
        char *full = path2(root, relp);
        struct stat st;
        lstat(full, &st);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_perm(e, st.st_mode & 0777);
        if (S_ISDIR(st.st_mode)) {
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_write_header(a, e);
            add_tree(a, root, relp, prefix);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, st.st_size);
            archive_write_header(a, e);
            uint8_t *data;
            size_t n;
            ib_ctx c;
            ib_ctx_init(&c);
            ib_read_file(&c, full, 1u << 30, &data, &n);
            archive_write_data(a, data, n);
            free(data);
        }
        archive_entry_free(e);
        free(full);
    }
    if (d)
        closedir(d);
    free(dir);
    return 0;
}

static void pack(const char *src, const char *dst, const char *format, const char *prefix)
{
    struct archive *a = archive_write_new();
    if (!strcmp(format, "zip"))
        archive_write_set_format_zip(a);
    else {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    }
    assert_int_equal(archive_write_open_filename(a, dst), ARCHIVE_OK);
    add_tree(a, src, "", prefix);
    archive_write_close(a);
    archive_write_free(a);
}

static void archives(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    char *p = gen(t, "b", &o);
    char *zip = path2(t, "backup.zip");
    char *tgz = path2(t, "backup.tar.gz");
    pack(p, zip, "zip", "");
    pack(p, tgz, "tar", "00008030-001A2B3C4D5E6F70/"); /* the UDID folder inside */
    assert_true(ib_probe(zip) >= 80);
    full_cycle(zip, NULL, "itunes-db", false);
    full_cycle(tgz, NULL, "itunes-db", false);
    /* inspect and ls read an archive's manifests without unpacking any content */
    {
        rec r = { 0 };
        ib_ctx c;
        ctx_for(&c, &r);
        ib_backup b;
        ib_open_opts oo = { .manifest_only = true };
        assert_int_equal(ib_open(&c, tgz, &oo, &b), REVIVE_OK);
        nresults = 0;
        assert_int_equal(ib_inspect(&c, &b, on_result, NULL), REVIVE_OK);
        assert_int_equal(result("files")->i, 7);
        assert_true(result("archive")->b);
        assert_int_equal(ib_list(&c, &b, NULL, NULL), REVIVE_OK);
        assert_int_equal(r.items, SAMPLE_N);
        /* Manifest.db, Info.plist, Manifest.plist, Status.plist and nothing else */
        assert_int_equal(tree_count_files(b.root), 4);
        ib_close(&b);
        ib_ctx_fini(&c);
    }
    /* an encrypted backup inside a zip */
    o.password = "zipped";
    char *e = gen(t, "e", &o);
    char *ezip = path2(t, "enc.zip");
    pack(e, ezip, "zip", "MyBackup/");
    full_cycle(ezip, "zipped", "itunes-db", true);
    /* no scratch folders left behind in TMPDIR by the reader */
    ib_rmtree(t);
    free(p);
    free(zip);
    free(tgz);
    free(e);
    free(ezip);
    free(t);
}

/* verify of an archive hashes members as they stream: sound, then altered and missing */
static void archive_verify_streams(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.password = "streamed";
    char *p = gen(t, "b", &o);
    char *zip = path2(t, "b.zip");
    pack(p, zip, "zip", "00008030-001A2B3C4D5E6F70/");
    rec r = { .password = "streamed" };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    ib_open_opts oo = { .manifest_only = true };
    assert_int_equal(ib_open(&c, zip, &oo, &b), REVIVE_OK);
    assert_int_equal(tree_count_files(b.scratch), 4 + 1); /* + the decrypted Manifest.db */
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    assert_int_equal(r.problems, 0);
    /* extract streams the members too: content decrypted straight out of the zip */
    char *x = path2(t, "x");
    uint64_t files = 0, bytes = 0;
    assert_int_equal(ib_extract(&c, &b, NULL, NULL, x, &files, &bytes), REVIVE_OK);
    assert_int_equal(files, 7);
    check_extracted(x);
    /* and import: decrypted straight from the zip into the new layout, then verified */
    char *imp = path2(t, "imp");
    assert_int_equal(ib_import(&c, &b, imp, &files, &bytes), REVIVE_OK);
    assert_int_equal(files, 7);
    assert_int_equal(tree_count_files(b.scratch), 4 + 1); /* still nothing unpacked */
    ib_close(&b);
    ib_open_opts plain = { 0 };
    assert_int_equal(ib_open(&c, imp, &plain, &b), REVIVE_OK);
    assert_false(b.encrypted);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    ib_close(&b);
    /* alter one stored file (same size), remove another, then pack again */
    char id[41], rel[45];
    ib_file_id("HomeDomain", "Library/seventeen", id);
    snprintf(rel, sizeof(rel), "%.2s/%s", id, id);
    char *f = path2(p, rel);
    FILE *fp = fopen(f, "r+b");
    fputc(0x55, fp);
    fclose(fp);
    free(f);
    ib_file_id("MediaDomain", "Media/big.bin", id);
    snprintf(rel, sizeof(rel), "%.2s/%s", id, id);
    f = path2(p, rel);
    assert_int_equal(unlink(f), 0);
    free(f);
    pack(p, zip, "zip", "");
    assert_int_equal(ib_open(&c, zip, &oo, &b), REVIVE_OK);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_E_CORRUPT);
    assert_int_equal(r.problems, 2);
    assert_non_null(strstr(r.all, "digest:HomeDomain/Library/seventeen"));
    assert_non_null(strstr(r.all, "missing:MediaDomain/Media/big.bin"));
    r.problems = 0;
    char *x2 = path2(t, "x2");
    assert_int_equal(ib_extract(&c, &b, NULL, NULL, x2, &files, &bytes), REVIVE_E_CORRUPT);
    assert_int_equal(r.problems, 1); /* the missing one; the others are written */
    assert_int_equal(files, 6);
    /* an import cannot be partial: refused, nothing left beside it */
    char *imp2 = path2(t, "imp2");
    assert_int_equal(ib_import(&c, &b, imp2, &files, &bytes), REVIVE_E_CORRUPT);
    assert_non_null(strstr(c.err.message, "no member"));
    struct stat st;
    assert_int_not_equal(stat(imp2, &st), 0);
    free(imp2);
    free(imp);
    ib_close(&b);
    free(x);
    free(x2);
    /* a byte limit stops the streaming read as it stops unpacking */
    ib_open_opts tight = { .manifest_only = true, .limits = { .max_total = 100 } };
    assert_int_equal(ib_open(&c, zip, &tight, &b), REVIVE_E_UNSAFE);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(zip);
    free(p);
    free(t);
}

static void udid_parent_and_snapshots(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    char *a = gen(t, "00008030-001A2B3C4D5E6F70-20240101-100000", &o);
    char *b2 = gen(t, "00008030-001A2B3C4D5E6F70-20250101-100000", &o);
    assert_int_equal(ib_probe(t), 70);
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    char *found = NULL;
    assert_int_equal(ib_locate(&c, t, NULL, &found), REVIVE_OK);
    assert_string_equal(found, b2); /* the newest snapshot */
    assert_int_equal(r.warnings, 1);
    free(found);
    full_cycle(t, NULL, "itunes-db", false);
    /* a second device: the person must choose */
    char *other = gen(t, "1cb128eafa77c5be74283e9a3a2130af36a3c059", &o);
    assert_int_equal(ib_locate(&c, t, NULL, &found), REVIVE_E_INVALID);
    assert_int_equal(ib_locate(&c, t, "1cb128eafa77c5be74283e9a3a2130af36a3c059", &found),
                     REVIVE_OK);
    assert_string_equal(found, other);
    free(found);
    assert_int_equal(ib_locate(&c, t, "ffffffffffffffffffffffffffffffffffffffff", &found),
                     REVIVE_E_NOT_FOUND);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(a);
    free(b2);
    free(other);
    free(t);
}

static void import_synthesizes_missing_plists(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.no_status = true;
    o.no_manifest_plist = true;
    char *p = gen(t, "b", &o);
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, p, NULL, &b), REVIVE_OK);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_E_CORRUPT);
    assert_int_equal(r.problems, 2);
    assert_non_null(strstr(r.all, "missing:Manifest.plist"));
    assert_non_null(strstr(r.all, "missing:Status.plist"));
    char *imp = path2(t, "imp");
    uint64_t files, bytes;
    r.warnings = 0;
    assert_int_equal(ib_import(&c, &b, imp, &files, &bytes), REVIVE_OK);
    assert_int_equal(r.warnings, 2);
    ib_close(&b);
    r.problems = 0;
    assert_int_equal(ib_open(&c, imp, NULL, &b), REVIVE_OK);
    assert_non_null(b.status);
    assert_string_equal(ib_pl_str(b.status, "SnapshotState"), "finished");
    plist_t l = plist_dict_get_item(b.manifest, "Lockdown");
    assert_string_equal(ib_pl_str(l, "UniqueDeviceID"), "00008030-001A2B3C4D5E6F70");
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_OK);
    ib_close(&b);
    /* importing onto an existing non-empty folder is refused, nothing changes */
    char before[41], after[41];
    tree_hash(imp, before);
    assert_int_equal(ib_open(&c, p, NULL, &b), REVIVE_OK);
    assert_int_equal(ib_import(&c, &b, imp, &files, &bytes), REVIVE_E_INVALID);
    ib_close(&b);
    tree_hash(imp, after);
    assert_string_equal(before, after);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(imp);
    free(p);
    free(t);
}

static bool always(void *ud)
{
    (void)ud;
    return true;
}

static int many_files(void *ud, size_t i, ib_gen_file *f)
{
    static char path[64];
    (void)ud;
    snprintf(path, sizeof(path), "Library/many/f%zu", i);
    f->domain = "HomeDomain";
    f->path = path;
    f->flags = IB_FLAG_FILE;
    f->data = (const uint8_t *)"x";
    f->len = 1;
    return REVIVE_OK;
}

/* A cancel stops extract, verify and import at their next safe point; an import that was
 * cancelled leaves neither its output nor its temp folder. */
static void cancel_stops_cleanly(void **s)
{
    (void)s;
    char *t = tmpdir_new();
    char *p = path2(t, "b");
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    ib_ctx c;
    ib_ctx_init(&c);
    assert_int_equal(ib_gen_write(&c, p, &o, many_files, NULL, 2100), REVIVE_OK);
    ib_backup b;
    assert_int_equal(ib_open(&c, p, NULL, &b), REVIVE_OK);
    c.cancelled = always;
    char *x = path2(t, "x"), *imp = path2(t, "imp");
    uint64_t files = 0, bytes;
    assert_int_equal(ib_extract(&c, &b, NULL, NULL, x, &files, &bytes), REVIVE_E_CANCELLED);
    assert_true(files < 2);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_E_CANCELLED);
    assert_int_equal(ib_import(&c, &b, imp, &files, &bytes), REVIVE_E_CANCELLED);
    ib_close(&b);
    ib_ctx_fini(&c);
    struct stat st;
    assert_int_not_equal(stat(imp, &st), 0);
    assert_int_equal(tree_count(t) - tree_count(p) - tree_count(x), 2); /* only b and x */
    ib_rmtree(t);
    free(x);
    free(imp);
    free(p);
    free(t);
}

int main(void)
{
    setenv("TMPDIR", "/tmp", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ios10_plain),
        cmocka_unit_test(ios10_encrypted),
        cmocka_unit_test(ios10_encrypted_pre_10_2_keybag),
        cmocka_unit_test(forensic_copy),
        cmocka_unit_test(mbdb_plain_and_encrypted),
        cmocka_unit_test(mbdb_forensic_copy),
        cmocka_unit_test(archives),
        cmocka_unit_test(archive_verify_streams),
        cmocka_unit_test(udid_parent_and_snapshots),
        cmocka_unit_test(import_synthesizes_missing_plists),
        cmocka_unit_test(cancel_stops_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
