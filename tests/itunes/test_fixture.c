/* The real iOS 14 manifest (../shared/fixtures/real-ios14-backup, see its PROVENANCE.md):
 * every one of its 3,721 rows parses; its stand-in content files are reported as
 * mismatched, not accepted; its missing Manifest.plist and Status.plist are reported;
 * import refuses it and leaves nothing behind; the fixture is not touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

static char *fixture;

typedef struct counts {
    unsigned rows, files, dirs, links, keyed, id_ok;
} counts;

static int count_row(void *ud, const ib_entry *e)
{
    counts *n = ud;
    n->rows++;
    n->files += e->flags == IB_FLAG_FILE;
    n->dirs += e->flags == IB_FLAG_DIR;
    n->links += e->flags == IB_FLAG_LINK;
    n->keyed += e->key != NULL && e->key_len == 40;
    char id[41];
    ib_file_id(e->domain, e->path, id);
    n->id_ok += strcmp(id, e->file_id) == 0;
    if (e->flags == IB_FLAG_LINK)
        assert_non_null(e->target);
    assert_true(e->mode != 0);
    return REVIVE_OK;
}

static void every_row_parses(void **s)
{
    (void)s;
    char *db = path2(fixture, "Manifest.db");
    ib_ctx c;
    ib_ctx_init(&c);
    counts n = { 0 };
    /* bad = NULL: any row that does not decode fails the whole walk */
    assert_int_equal(ib_db_foreach(&c, db, "Manifest.db", count_row, NULL, &n), REVIVE_OK);
    assert_int_equal(n.rows, 3721);
    assert_int_equal(n.files, 1089);
    assert_int_equal(n.dirs, 2618);
    assert_int_equal(n.links, 14);
    assert_int_equal(n.id_ok, 3721);
    assert_true(n.keyed > 1000); /* the forensic tool left the EncryptionKey blobs */
    ib_ctx_fini(&c);
    free(db);
}

typedef struct kv {
    char key[32], s[128];
    int64_t i;
    bool b;
} kv;
static kv res[64];
static size_t nres;
static void on_result(void *ud, const revive_field *f)
{
    (void)ud;
    kv *r = &res[nres++ % 64];
    snprintf(r->key, sizeof(r->key), "%s", f->key);
    snprintf(r->s, sizeof(r->s), "%s", f->type == REVIVE_VAL_STR ? f->v.s : "");
    r->i = f->type == REVIVE_VAL_INT ? f->v.i : 0;
    r->b = f->type == REVIVE_VAL_BOOL && f->v.b;
}
static const kv *get(const char *k)
{
    for (size_t i = 0; i < nres && i < 64; i++)
        if (!strcmp(res[i].key, k))
            return &res[i];
    fail_msg("no %s", k);
    return NULL;
}

static void inspect_facts(void **s)
{
    (void)s;
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, fixture, NULL, &b), REVIVE_OK);
    nres = 0;
    assert_int_equal(ib_inspect(&c, &b, on_result, NULL), REVIVE_OK);
    assert_string_equal(get("product_type")->s, "iPhone9,3");
    assert_string_equal(get("ios_version")->s, "14.3");
    assert_string_equal(get("udid")->s, "1CB128EAFA77C5BE74283E9A3A2130AF36A3C059");
    assert_string_equal(get("date")->s, "2021-12-03T19:33:13Z");
    assert_false(get("has_manifest_plist")->b);
    assert_false(get("has_status_plist")->b);
    assert_int_equal(get("files")->i, 1089);
    assert_true(r.domains > 100);
    ib_close(&b);
    ib_ctx_fini(&c);
}

static void standins_reported(void **s)
{
    (void)s;
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, fixture, NULL, &b), REVIVE_OK);
    assert_int_equal(ib_verify(&c, &b, 2), REVIVE_E_CORRUPT);
    ib_close(&b);
    /* the stand-in sms.db (28,672 bytes on disk, 278,528 in the manifest) */
    assert_non_null(strstr(r.all, "size:HomeDomain/Library/SMS/sms.db"));
    assert_non_null(strstr(r.all, "missing:Manifest.plist"));
    assert_non_null(strstr(r.all, "missing:Status.plist"));
    /* every one of the 1,089 files is a problem (stand-in or absent) plus the 2 plists */
    assert_int_equal(r.problems, 1089 + 2);
    assert_non_null(strstr(c.err.message, "1091 problems"));
    ib_ctx_fini(&c);
}

static void import_refuses(void **s)
{
    (void)s;
    char before[41], after[41];
    tree_hash(fixture, before);
    char *t = tmpdir_new();
    char *out = path2(t, "imported");
    rec r = { 0 };
    ib_ctx c;
    ctx_for(&c, &r);
    ib_backup b;
    assert_int_equal(ib_open(&c, fixture, NULL, &b), REVIVE_OK);
    uint64_t f, by;
    int rc = ib_import(&c, &b, out, &f, &by);
    assert_true(rc == REVIVE_E_CORRUPT || rc == REVIVE_E_NOT_FOUND);
    assert_int_equal(tree_count(t), 0); /* no output, no temp folder */
    /* into an empty folder the person made: it is left as it was */
    assert_int_equal(mkdir(out, 0750), 0);
    rc = ib_import(&c, &b, out, &f, &by);
    assert_true(rc == REVIVE_E_CORRUPT || rc == REVIVE_E_NOT_FOUND);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(tree_count(t), 1);
    ib_close(&b);
    tree_hash(fixture, after);
    assert_string_equal(before, after);
    ib_ctx_fini(&c);
    ib_rmtree(t);
    free(out);
    free(t);
}

int main(void)
{
    const char *root = getenv("REVIVE_FIXTURES");
    if (!root) {
        fprintf(stderr, "REVIVE_FIXTURES is not set (run through ctest)\n");
        return 1;
    }
    fixture = path2(root, "real-ios14-backup");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_parses),
        cmocka_unit_test(inspect_facts),
        cmocka_unit_test(standins_reported),
        cmocka_unit_test(import_refuses),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(fixture);
    return rc;
}
