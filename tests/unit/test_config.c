/* Precedence: flags over environment over the file; a broken file is named. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "config.h"
#include "error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static void write_file(const char *text)
{
    strcpy(path, "/tmp/revive-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void precedence(void **s)
{
    (void)s;
    rv_config_reset();
    write_file("{\"usb\": {\"idevicerestore\": \"/from/file\", \"timeout\": 30, \"fast\": true},"
               " \"cloud\": {\"catalog_url\": \"http://file\"}}");
    revive_error err;
    assert_int_equal(rv_config_load(path, &err), REVIVE_OK);
    assert_string_equal(rv_config_get("usb.idevicerestore"), "/from/file");
    assert_string_equal(rv_config_get("usb.timeout"), "30");
    assert_string_equal(rv_config_get("usb.fast"), "true");
    setenv("REVIVE_USB_IDEVICERESTORE", "/from/env", 1);
    assert_string_equal(rv_config_get("usb.idevicerestore"), "/from/env");
    assert_int_equal(rv_config_set_assignment("usb.idevicerestore=/from/flag", &err), REVIVE_OK);
    assert_string_equal(rv_config_get("usb.idevicerestore"), "/from/flag");
    assert_string_equal(rv_config_get("cloud.catalog_url"), "http://file");
    assert_null(rv_config_get("cloud.nothing"));
    assert_int_equal(rv_config_set_assignment("novalue", &err), REVIVE_E_INVALID);
    unsetenv("REVIVE_USB_IDEVICERESTORE");
    unlink(path);
    rv_config_reset();
}

static void broken_file_is_named(void **s)
{
    (void)s;
    rv_config_reset();
    write_file("{\"usb\": {\"idevicerestore\": }");
    revive_error err;
    assert_int_equal(rv_config_load(path, &err), REVIVE_E_CORRUPT);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "line 1"));
    unlink(path);
    write_file("[1, 2]");
    assert_int_equal(rv_config_load(path, &err), REVIVE_E_CORRUPT);
    assert_non_null(strstr(err.message, "JSON object"));
    unlink(path);
    assert_int_equal(rv_config_load("/nonexistent/revive/config.json", &err), REVIVE_OK);
    rv_config_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precedence),
        cmocka_unit_test(broken_file_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
