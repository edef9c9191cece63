/* Bad and hostile input: each gets its named error, and nothing is written outside the
 * output folder (the sandbox folder holding the backup and the output is listed and
 * hashed before and after). Path traversal, absolute paths, odd domains, symlinks that
 * escape, zip slip, archive links, decompression bombs, sizes that lie, truncated
 * Manifest.db / Manifest.plist / Manifest.mbdb, damaged rows, digest mismatches, a keybag
 * that is gone, wrong and missing passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

#include <dirent.h>
#include <archive.h>
#include <archive_entry.h>
#include <sqlite3.h>

static char *sandbox, *backup, *out;
static char input_hash[41];

static int setup_one(const ib_gen_file *extra, size_t nextra, ib_gen_opts *o)
{
    sandbox = tmpdir_new();
    backup = path2(sandbox, "b");
    out = path2(sandbox, "out");
    ib_gen_file files[SAMPLE_N + 4];
    memcpy(files, sample_files(), sizeof(ib_gen_file) * SAMPLE_N);
    if (nextra)
        memcpy(files + SAMPLE_N, extra, sizeof(ib_gen_file) * nextra);
    ib_gen_opts d;
    ib_gen_opts_init(&d);
    ib_ctx c;
    ib_ctx_init(&c);
    int rc = ib_gen_write_files(&c, backup, o ? o : &d, files, SAMPLE_N + nextra);
    ib_ctx_fini(&c);
    tree_hash(backup, input_hash);
    return rc;
}

static void teardown_one(void)
{
    char now[41];
    tree_hash(backup, now);
    assert_string_equal(now, input_hash); /* input never written */
    ib_rmtree(sandbox);
    free(sandbox);
    free(backup);
    free(out);
}

/* The sandbox holds only "b" and, if allowed, "out": nothing escaped beside them. */
static void assert_sandbox_only(bool out_allowed)
{
    DIR *d = opendir(sandbox);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "b"))
            continue;
        if (out_allowed && !strcmp(de->d_name, "out"))
            continue;
        if (strstr(de->d_name, ".zip") || strstr(de->d_name, ".tar"))
            continue;
        fail_msg("unexpected %s in the sandbox", de->d_name);
    }
    closedir(d);
}

static int op(const char *which, const char *password, rec *r, ib_ctx *c)
{
    ctx_for(c, r);
    r->password = password;
    ib_backup b;
    ib_open_opts oo = { .need_keys = true };
    int rc = ib_open(c, backup, &oo, &b);
    if (rc)
        return rc;
    uint64_t f, by;
    if (!strcmp(which, "extract"))
        rc = ib_extract(c, &b, NULL, NULL, out, &f, &by);
    else if (!strcmp(which, "import"))
        rc = ib_import(c, &b, out, &f, &by);
    else if (!strcmp(which, "verify"))
        rc = ib_verify(c, &b, 2);
    else
        rc = ib_list(c, &b, NULL, NULL);
    ib_close(&b);
    return rc;
}

static void traversal(const char *domain, const char *path)
{
    ib_gen_file evil = { domain, path, IB_FLAG_FILE, (const uint8_t *)"pwned", 5, 0644, 0,
                         NULL, 0 };
    assert_int_equal(setup_one(&evil, 1, NULL), REVIVE_OK);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("extract", NULL, &r, &c), REVIVE_E_UNSAFE);
    assert_sandbox_only(true);
    ib_rmtree(out);
    assert_int_equal(op("import", NULL, &r, &c), REVIVE_E_UNSAFE);
    assert_sandbox_only(false); /* no temp folder left, no output */
    r.problems = 0;
    assert_int_equal(op("verify", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(r.all, "unsafe_path"));
    teardown_one();
}

static void path_traversal(void **s)
{
    (void)s;
    traversal("HomeDomain", "../../evil");
    traversal("HomeDomain", "Library/../../../../../../../../tmp/itunes-test-evil");
    struct stat st;
    assert_int_not_equal(stat("/tmp/itunes-test-evil", &st), 0);
}

static void absolute_path(void **s)
{
    (void)s;
    traversal("HomeDomain", "/tmp/itunes-test-evil-abs");
    struct stat st;
    assert_int_not_equal(stat("/tmp/itunes-test-evil-abs", &st), 0);
}

static void bad_domain(void **s)
{
    (void)s;
    ib_gen_file evil = { "..", "evil", IB_FLAG_FILE, (const uint8_t *)"x", 1, 0644, 0, NULL, 0 };
    assert_int_equal(setup_one(&evil, 1, NULL), REVIVE_OK);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("extract", NULL, &r, &c), REVIVE_E_UNSAFE);
    assert_sandbox_only(true);
    teardown_one();
}

static void symlink_escape(void **s)
{
    (void)s;
    ib_gen_file evil[] = {
        { "HomeDomain", "Library/esc", IB_FLAG_LINK, NULL, 0, 0777, 0, "../../../../../etc", 0 },
        { "HomeDomain", "Library/abs", IB_FLAG_LINK, NULL, 0, 0777, 0, "/etc", 0 },
        /* a file "through" the link: must land in a real folder inside out */
        { "HomeDomain", "Library/esc/passwd", IB_FLAG_FILE, (const uint8_t *)"x", 1, 0644, 0,
          NULL, 0 },
    };
    assert_int_equal(setup_one(evil, 3, NULL), REVIVE_OK);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("extract", NULL, &r, &c), REVIVE_OK);
    assert_int_equal(r.warnings, 2); /* both links refused, by name */
    char *esc = path2(out, "HomeDomain/Library/esc");
    char *abs = path2(out, "HomeDomain/Library/abs");
    char *ok = path2(out, "HomeDomain/Library/link");
    struct stat st;
    assert_int_equal(lstat(esc, &st), 0);
    assert_true(S_ISDIR(st.st_mode)); /* a real folder, not a link */
    assert_int_not_equal(lstat(abs, &st), 0);
    assert_int_equal(lstat(ok, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* the harmless one is kept */
    assert_sandbox_only(true);
    free(esc);
    free(abs);
    free(ok);
    teardown_one();
}

/* Links that are harmless one by one but escape together: l1 -> ".." (the domain),
 * m -> "Library/l1/.." (the output folder), n -> "m/.." (outside). */
static void symlink_chain_escape(void **s)
{
    (void)s;
    ib_gen_file evil[] = {
        { "HomeDomain", "Library/l1", IB_FLAG_LINK, NULL, 0, 0777, 0, "..", 0 },
        { "HomeDomain", "m", IB_FLAG_LINK, NULL, 0, 0777, 0, "Library/l1/..", 0 },
        { "HomeDomain", "n", IB_FLAG_LINK, NULL, 0, 0777, 0, "m/..", 0 },
    };
    assert_int_equal(setup_one(evil, 3, NULL), REVIVE_OK);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("extract", NULL, &r, &c), REVIVE_OK);
    char *root = realpath(out, NULL);
    static const char *const names[] = { "HomeDomain/Library/l1", "HomeDomain/m",
                                         "HomeDomain/n" };
    unsigned present = 0;
    for (int i = 0; i < 3; i++) {
        char *p = path2(out, names[i]);
        char *real = realpath(p, NULL);
        if (real) {
            present++;
            assert_true(strncmp(real, root, strlen(root)) == 0); /* nothing leads outside */
        }
        free(real);
        free(p);
    }
    assert_int_equal(present, 2); /* n was removed, l1 and m stay inside */
    assert_int_equal(r.warnings, 1);
    free(root);
    teardown_one();
}

static void write_archive(const char *path, bool zip, const char *name, int type,
                          const char *link, size_t zeros)
{
    struct archive *a = archive_write_new();
    if (zip)
        archive_write_set_format_zip(a);
    else {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    }
    archive_write_open_filename(a, path);
    /* a plausible backup member first */
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "Manifest.db");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 4);
    archive_write_header(a, e);
    archive_write_data(a, "junk", 4);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, (unsigned)type);
    archive_entry_set_perm(e, 0644);
    if (link)
        archive_entry_set_symlink(e, link);
    archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)(zeros ? zeros : 5) : 0);
    archive_write_header(a, e);
    if (type == AE_IFREG) {
        if (zeros) {
            static uint8_t z[1 << 16];
            for (size_t k = 0; k < zeros; k += sizeof(z))
                archive_write_data(a, z, zeros - k < sizeof(z) ? zeros - k : sizeof(z));
        } else
            archive_write_data(a, "pwned", 5);
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

static int open_archive_at(const char *arch, const ib_limits *lim, rec *r, ib_ctx *c)
{
    ctx_for(c, r);
    ib_backup b;
    ib_open_opts oo = { 0 };
    if (lim)
        oo.limits = *lim;
    int rc = ib_open(c, arch, &oo, &b);
    if (!rc)
        ib_close(&b);
    return rc;
}

static void zip_slip_and_links(void **s)
{
    (void)s;
    assert_int_equal(setup_one(NULL, 0, NULL), REVIVE_OK);
    char *z = path2(sandbox, "slip.zip");
    rec r = { 0 };
    ib_ctx c;
    write_archive(z, true, "../evil.txt", AE_IFREG, NULL, 0);
    assert_int_equal(open_archive_at(z, NULL, &r, &c), REVIVE_E_UNSAFE);
    assert_non_null(strstr(c.err.message, "zip slip"));
    uint64_t members = 0;
    assert_int_equal(ib_archive_check(&c, z, NULL, &members, NULL), REVIVE_E_UNSAFE);
    write_archive(z, true, "/tmp/itunes-test-evil-zip", AE_IFREG, NULL, 0);
    assert_int_equal(open_archive_at(z, NULL, &r, &c), REVIVE_E_UNSAFE);
    char *t = path2(sandbox, "links.tar.gz");
    write_archive(t, false, "Snapshot", AE_IFLNK, "/etc", 0);
    assert_int_equal(open_archive_at(t, NULL, &r, &c), REVIVE_E_UNSAFE);
    assert_non_null(strstr(c.err.message, "symlink"));
    write_archive(t, false, "Snapshot", AE_IFLNK, "../../..", 0);
    assert_int_equal(open_archive_at(t, NULL, &r, &c), REVIVE_E_UNSAFE);
    struct stat st;
    assert_int_not_equal(stat("/tmp/itunes-test-evil-zip", &st), 0);
    assert_sandbox_only(false);
    free(z);
    free(t);
    teardown_one();
}

static void decompression_bomb(void **s)
{
    (void)s;
    assert_int_equal(setup_one(NULL, 0, NULL), REVIVE_OK);
    char *t = path2(sandbox, "bomb.tar.gz");
    write_archive(t, false, "Manifest.mbdb", AE_IFREG, NULL, 32u << 20); /* 32 MiB of 0 */
    rec r = { 0 };
    ib_ctx c;
    ib_limits lim = { .max_total = 4u << 20 };
    assert_int_equal(open_archive_at(t, &lim, &r, &c), REVIVE_E_UNSAFE);
    assert_non_null(strstr(c.err.message, "bomb"));
    ib_limits ratio = { .max_ratio = 10 };
    assert_int_equal(open_archive_at(t, &ratio, &r, &c), REVIVE_E_UNSAFE);
    /* the same archive within generous limits unpacks (the limits are what stopped it) */
    ib_limits roomy = { .max_total = 64u << 20, .max_ratio = 100000 };
    assert_int_equal(open_archive_at(t, &roomy, &r, &c), REVIVE_OK);
    free(t);
    teardown_one();
}

static char *content_of(const char *domain, const char *path)
{
    char id[41], rel[45];
    ib_file_id(domain, path, id);
    snprintf(rel, sizeof(rel), "%.2s/%s", id, id);
    return path2(backup, rel);
}

static void sizes_that_lie(void **s)
{
    (void)s;
    assert_int_equal(setup_one(NULL, 0, NULL), REVIVE_OK);
    /* make the stored file shorter than the manifest says, and another one altered */
    char *big = content_of("MediaDomain", "Media/big.bin");
    char *one = content_of("HomeDomain", "Library/seventeen");
    assert_int_equal(truncate(big, 100), 0);
    FILE *f = fopen(one, "r+b");
    fputc('Z', f);
    fclose(f);
    tree_hash(backup, input_hash);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("verify", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(r.all, "size:MediaDomain/Media/big.bin"));
    assert_non_null(strstr(r.all, "digest:HomeDomain/Library/seventeen"));
    r.problems = 0;
    assert_int_equal(op("extract", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_int_equal(r.problems, 1);
    char *got = path2(out, "MediaDomain/Media/big.bin");
    struct stat st;
    assert_int_not_equal(stat(got, &st), 0); /* a lying file is not half-written */
    free(got);
    ib_rmtree(out);
    assert_int_equal(op("import", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_sandbox_only(false);
    free(big);
    free(one);
    teardown_one();
}

static void encrypted_truncated_content(void **s)
{
    (void)s;
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.password = "pw";
    assert_int_equal(setup_one(NULL, 0, &o), REVIVE_OK);
    char *big = content_of("MediaDomain", "Media/big.bin");
    assert_int_equal(truncate(big, 1000), 0);
    tree_hash(backup, input_hash);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("verify", "pw", &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(r.all, "size:MediaDomain/Media/big.bin"));
    assert_int_equal(op("import", "pw", &r, &c), REVIVE_E_CORRUPT);
    assert_sandbox_only(false);
    /* wrong password: refused at open, no output at all */
    assert_int_equal(op("extract", "nope", &r, &c), REVIVE_E_WRONG_PASSWORD);
    assert_int_equal(op("extract", NULL, &r, &c), REVIVE_E_PASSWORD_NEEDED);
    assert_sandbox_only(false);
    free(big);
    teardown_one();
}

static void truncate_to(const char *name, off_t keep)
{
    char *p = path2(backup, name);
    assert_int_equal(truncate(p, keep), 0);
    free(p);
    tree_hash(backup, input_hash);
}

static void truncated_db(void **s)
{
    (void)s;
    assert_int_equal(setup_one(NULL, 0, NULL), REVIVE_OK);
    truncate_to("Manifest.db", 1500);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("verify", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(c.err.message, "Manifest.db"));
    assert_int_equal(op("import", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_sandbox_only(false);
    teardown_one();
}

static void truncated_plist(void **s)
{
    (void)s;
    assert_int_equal(setup_one(NULL, 0, NULL), REVIVE_OK);
    truncate_to("Manifest.plist", 200);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("verify", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(c.err.message, "Manifest.plist"));
    teardown_one();
}

static void truncated_mbdb(void **s)
{
    (void)s;
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.format = IB_FMT_MBDB;
    assert_int_equal(setup_one(NULL, 0, &o), REVIVE_OK);
    char *p = path2(backup, "Manifest.mbdb");
    struct stat st;
    stat(p, &st);
    free(p);
    truncate_to("Manifest.mbdb", st.st_size - 5);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("ls", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(c.err.message, "runs past the end"));
    assert_int_equal(op("import", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_sandbox_only(false);
    truncate_to("Manifest.mbdb", 3);
    assert_int_equal(op("ls", NULL, &r, &c), REVIVE_E_CORRUPT);
    teardown_one();
}

static void damaged_rows(void **s)
{
    (void)s;
    assert_int_equal(setup_one(NULL, 0, NULL), REVIVE_OK);
    char *p = path2(backup, "Manifest.db");
    sqlite3 *db;
    sqlite3_open(p, &db);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE Files SET file = x'62706c6973743030' WHERE "
                                  "relativePath = 'Library/one';"
                                  "UPDATE Files SET fileID = 'NOTHEX' WHERE "
                                  "relativePath = 'Library/fifteen';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    free(p);
    tree_hash(backup, input_hash);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("verify", NULL, &r, &c), REVIVE_E_CORRUPT);
    assert_int_equal(r.problems, 2);
    assert_non_null(strstr(r.all, "corrupt_row:NOTHEX"));
    assert_int_equal(op("ls", NULL, &r, &c), REVIVE_E_CORRUPT);
    teardown_one();
}

static void keybag_gone(void **s)
{
    (void)s;
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    o.password = "pw";
    assert_int_equal(setup_one(NULL, 0, &o), REVIVE_OK);
    char *p = path2(backup, "Manifest.plist");
    plist_t m;
    ib_ctx c0;
    ib_ctx_init(&c0);
    assert_int_equal(ib_read_plist(&c0, p, &m), REVIVE_OK);
    plist_dict_remove_item(m, "BackupKeyBag");
    ib_write_plist_xml(&c0, p, m);
    plist_free(m);
    free(p);
    tree_hash(backup, input_hash);
    rec r = { 0 };
    ib_ctx c;
    assert_int_equal(op("verify", "pw", &r, &c), REVIVE_E_CORRUPT);
    assert_non_null(strstr(c.err.message, "BackupKeyBag"));
    assert_int_equal(r.secret_calls, 0); /* no password asked for a bag that is not there */
    teardown_one();
}

int main(void)
{
    setenv("TMPDIR", "/tmp", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_traversal),
        cmocka_unit_test(absolute_path),
        cmocka_unit_test(bad_domain),
        cmocka_unit_test(symlink_escape),
        cmocka_unit_test(symlink_chain_escape),
        cmocka_unit_test(zip_slip_and_links),
        cmocka_unit_test(decompression_bomb),
        cmocka_unit_test(sizes_that_lie),
        cmocka_unit_test(encrypted_truncated_content),
        cmocka_unit_test(truncated_db),
        cmocka_unit_test(truncated_plist),
        cmocka_unit_test(truncated_mbdb),
        cmocka_unit_test(damaged_rows),
        cmocka_unit_test(keybag_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
