/* Unit tests for the simulated phone's data (sim/simdevd/data.c): seeding is exact and
 * deterministic, the digest sees every change that matters, erase empties the phone,
 * and hostile names from a restore are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "data.h"

struct fixture {
    char root[256];
    struct sim_device a, b;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/sim-data-test-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->a.data_dir, sizeof f->a.data_dir, "%s/a", f->root);
    snprintf(f->b.data_dir, sizeof f->b.data_dir, "%s/b", f->root);
    mkdir(f->a.data_dir, 0755);
    mkdir(f->b.data_dir, 0755);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sim_data_rmtree(f->root);
    free(f);
    return 0;
}

static void test_seed_exact_counts(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(sim_data_seed(&f->a, 7, 25, 300001), 0);
    struct sim_data_file *files;
    size_t n;
    assert_int_equal(sim_data_list(f->a.data_dir, &files, &n), 0);
    assert_int_equal(n, 25);
    uint64_t total = 0;
    int saw_sms = 0, saw_photo = 0, saw_app = 0;
    for (size_t i = 0; i < n; i++) {
        total += files[i].size;
        if (i > 0) {
            int c = strcmp(files[i - 1].domain, files[i].domain);
            assert_true(c < 0 || (c == 0 && strcmp(files[i - 1].relpath, files[i].relpath) < 0));
        }
        if (strcmp(files[i].domain, "HomeDomain") == 0 && strcmp(files[i].relpath, "Library/SMS/sms.db") == 0) {
            saw_sms = 1;
            assert_int_equal(files[i].mode & 07777, 0600);
        }
        if (strcmp(files[i].domain, "CameraRollDomain") == 0 &&
            strcmp(files[i].relpath, "Media/DCIM/100APPLE/IMG_0001.JPG") == 0)
            saw_photo = 1;
        if (strcmp(files[i].domain, "AppDomain-com.example.app") == 0)
            saw_app = 1;
    }
    assert_true(saw_sms && saw_photo && saw_app);
    assert_int_equal(total, 300001);
    sim_data_list_free(files, n);
}

static void test_seed_deterministic(void **state)
{
    struct fixture *f = *state;
    char da[65], db[65];
    assert_int_equal(sim_data_seed(&f->a, 42, 12, 100000), 0);
    assert_int_equal(sim_data_seed(&f->b, 42, 12, 100000), 0);
    assert_int_equal(sim_data_digest(&f->a, da), 0);
    assert_int_equal(sim_data_digest(&f->b, db), 0);
    assert_string_equal(da, db);
    assert_int_equal(strlen(da), 64);
    assert_int_equal(sim_data_seed(&f->b, 43, 12, 100000), 0);
    assert_int_equal(sim_data_digest(&f->b, db), 0);
    assert_string_not_equal(da, db);
    /* reseeding replaces, it does not add */
    assert_int_equal(sim_data_seed(&f->b, 42, 12, 100000), 0);
    assert_int_equal(sim_data_digest(&f->b, db), 0);
    assert_string_equal(da, db);
}

static void test_digest_sees_changes(void **state)
{
    struct fixture *f = *state;
    char before[65], after[65], path[4400];
    assert_int_equal(sim_data_seed(&f->a, 1, 8, 50000), 0);
    assert_int_equal(sim_data_digest(&f->a, before), 0);
    snprintf(path, sizeof path, "%s/HomeDomain/Library/Notes/notes.sqlite", f->a.data_dir);

    /* one byte of content */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 20, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, 20, SEEK_SET);
    fputc(c ^ 1, fp);
    fclose(fp);
    assert_int_equal(sim_data_digest(&f->a, after), 0);
    assert_string_not_equal(before, after);

    /* permission bits */
    assert_int_equal(sim_data_seed(&f->a, 1, 8, 50000), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(sim_data_digest(&f->a, after), 0);
    assert_string_not_equal(before, after);

    /* a rename */
    assert_int_equal(sim_data_seed(&f->a, 1, 8, 50000), 0);
    char moved[4400];
    snprintf(moved, sizeof moved, "%s/HomeDomain/Library/Notes/notes2.sqlite", f->a.data_dir);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(sim_data_digest(&f->a, after), 0);
    assert_string_not_equal(before, after);

    /* and back to the seed, the digest is the seed's again */
    assert_int_equal(sim_data_seed(&f->a, 1, 8, 50000), 0);
    assert_int_equal(sim_data_digest(&f->a, after), 0);
    assert_string_equal(before, after);
}

static void test_erase(void **state)
{
    struct fixture *f = *state;
    char empty[65], full[65], now[65];
    assert_int_equal(sim_data_digest(&f->b, empty), 0);
    assert_int_equal(sim_data_seed(&f->a, 3, 10, 4096), 0);
    assert_int_equal(sim_data_digest(&f->a, full), 0);
    assert_string_not_equal(empty, full);
    assert_int_equal(sim_data_erase(&f->a), 0);
    struct sim_data_file *files;
    size_t n;
    assert_int_equal(sim_data_list(f->a.data_dir, &files, &n), 0);
    assert_int_equal(n, 0);
    sim_data_list_free(files, n);
    struct stat st;
    assert_int_equal(stat(f->a.data_dir, &st), 0);   /* the folder itself stays */
    assert_int_equal(sim_data_digest(&f->a, now), 0);
    assert_string_equal(now, empty);
}

static void test_zero_files_and_bad_args(void **state)
{
    struct fixture *f = *state;
    struct sim_data_file *files;
    size_t n;
    assert_int_equal(sim_data_seed(&f->a, 3, 0, 0), 0);
    assert_int_equal(sim_data_list(f->a.data_dir, &files, &n), 0);
    assert_int_equal(n, 0);
    sim_data_list_free(files, n);
    assert_int_equal(sim_data_seed(&f->a, 3, 0, 10), -1);
    assert_int_equal(sim_data_seed(&f->a, 3, -1, 10), -1);
    /* more files than bytes: some are empty, the total still holds */
    assert_int_equal(sim_data_seed(&f->a, 9, 30, 7), 0);
    assert_int_equal(sim_data_list(f->a.data_dir, &files, &n), 0);
    assert_int_equal(n, 30);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += files[i].size;
    assert_int_equal(total, 7);
    sim_data_list_free(files, n);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(sim_data_name_ok("HomeDomain", "Library/SMS/sms.db"));
    assert_true(sim_data_name_ok("AppDomain-com.example.app", "Documents/a b.txt"));
    assert_false(sim_data_name_ok("", "x"));
    assert_false(sim_data_name_ok("..", "x"));
    assert_false(sim_data_name_ok("Home/Domain", "x"));
    assert_false(sim_data_name_ok("HomeDomain", ""));
    assert_false(sim_data_name_ok("HomeDomain", "/etc/passwd"));
    assert_false(sim_data_name_ok("HomeDomain", "../../etc/passwd"));
    assert_false(sim_data_name_ok("HomeDomain", "Library/../../x"));
    assert_false(sim_data_name_ok("HomeDomain", "Library//x"));
    assert_false(sim_data_name_ok("HomeDomain", "Library/./x"));
    assert_false(sim_data_name_ok("HomeDomain", "Library/"));
    assert_false(sim_data_name_ok(NULL, "x"));
    char longpath[1100];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_false(sim_data_name_ok("HomeDomain", longpath));
    assert_true(sim_data_domain_is_system("SystemPreferencesDomain"));
    assert_false(sim_data_domain_is_system("HomeDomain"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed_exact_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_sees_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_files_and_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
