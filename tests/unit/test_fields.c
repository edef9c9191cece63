#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "fields.h"
#include <stdlib.h>
#include <string.h>

static void put_replace_and_types(void **s)
{
    (void)s;
    rv_fields f;
    rv_fields_init(&f);
    assert_int_equal(rv_fields_put_assignment(&f, "erase=true"), 0);
    assert_int_equal(rv_fields_put_assignment(&f, "attempts=3"), 0);
    assert_int_equal(rv_fields_put_assignment(&f, "ipsw=/tmp/a b.ipsw"), 0);
    assert_int_equal(rv_fields_put_assignment(&f, "empty="), 0);
    assert_int_equal(rv_fields_put_assignment(&f, "=x"), -1);
    assert_int_equal(rv_fields_put_assignment(&f, "novalue"), -1);
    assert_int_equal(rv_fields_get(&f, "erase")->type, REVIVE_VAL_BOOL);
    assert_true(rv_fields_get(&f, "erase")->v.b);
    assert_int_equal(rv_fields_get(&f, "attempts")->v.i, 3);
    assert_string_equal(rv_fields_str(&f, "ipsw"), "/tmp/a b.ipsw");
    assert_string_equal(rv_fields_str(&f, "empty"), "");
    rv_fields_put_str(&f, "attempts", "many");
    assert_int_equal(f.n, 4);
    assert_string_equal(rv_fields_str(&f, "attempts"), "many");
    rv_fields_free(&f);
    assert_int_equal(f.n, 0);
}

static void json_never_carries_secrets(void **s)
{
    (void)s;
    revive_field v[] = {
        REVIVE_FIELD_STR("password", "hunter2"),
        REVIVE_FIELD_STR("backup_password", "hunter2"),
        REVIVE_FIELD_STR("udid", "abc"),
        REVIVE_FIELD_INT("files", 12),
        REVIVE_FIELD_STR("bad", "\xff\xfe"),
    };
    json_t *o = rv_fields_to_json(v, 5);
    char *text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    assert_null(strstr(text, "hunter2"));
    assert_string_equal(text, "{\"bad\":\"<not valid UTF-8>\",\"files\":12,\"udid\":\"abc\"}");
    free(text);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_replace_and_types),
        cmocka_unit_test(json_never_carries_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
