/*
 * test_usb_unit.c — the usb plugin's parts that need no device: error maps, the usbmuxd
 * diagnosis, idevicerestore output parsing, recovery serial parsing, path checks, and
 * the plugin's descriptor as the core sees it through dlopen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libimobiledevice/mobilebackup2.h>

#include "firmware_parse.h"
#include "mb2.h"
#include "test_host.h"
#include "usb.h"

static void lockdown_map(void **s)
{
    (void)s;
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_SUCCESS), REVIVE_OK);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_PASSWORD_PROTECTED), REVIVE_E_PASSCODE);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_USER_DENIED_PAIRING), REVIVE_E_REFUSED);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING), REVIVE_E_NOT_PAIRED);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_INVALID_HOST_ID), REVIVE_E_NOT_PAIRED);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_MUX_ERROR), REVIVE_E_DISCONNECTED);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_RECEIVE_TIMEOUT), REVIVE_E_TIMEOUT);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_INVALID_SERVICE), REVIVE_E_UNSUPPORTED);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_SERVICE_LIMIT), REVIVE_E_BUSY);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_SAVE_PAIR_RECORD_FAILED), REVIVE_E_PERMISSION);
    assert_int_equal(usb_status_lockdown(LOCKDOWN_E_UNKNOWN_ERROR), REVIVE_E_UNKNOWN);
}

static void other_maps(void **s)
{
    (void)s;
    assert_int_equal(usb_status_idevice(IDEVICE_E_NO_DEVICE), REVIVE_E_NO_DEVICE);
    assert_int_equal(usb_status_idevice(IDEVICE_E_TIMEOUT), REVIVE_E_TIMEOUT);
    assert_int_equal(usb_status_idevice(IDEVICE_E_SSL_ERROR), REVIVE_E_PROTOCOL);
    assert_int_equal(usb_status_irecv(IRECV_E_NO_DEVICE), REVIVE_E_NO_DEVICE);
    assert_int_equal(usb_status_irecv(IRECV_E_UNABLE_TO_CONNECT), REVIVE_E_PERMISSION);
    assert_int_equal(usb_status_irecv(IRECV_E_USB_CONFIGURATION), REVIVE_E_PERMISSION);
    assert_int_equal(usb_status_irecv(IRECV_E_TIMEOUT), REVIVE_E_TIMEOUT);
    assert_int_equal(usb_status_irecv(IRECV_E_PIPE), REVIVE_E_IO);
    assert_int_equal(usb_status_mb2(MOBILEBACKUP2_E_MUX_ERROR), REVIVE_E_DISCONNECTED);
    assert_int_equal(usb_status_mb2(MOBILEBACKUP2_E_REPLY_NOT_OK), REVIVE_E_REFUSED);
    assert_int_equal(usb_status_mb2(MOBILEBACKUP2_E_NO_COMMON_VERSION), REVIVE_E_UNSUPPORTED);
    assert_int_equal(usb_status_mb2(MOBILEBACKUP2_E_RECEIVE_TIMEOUT), REVIVE_E_TIMEOUT);
}

static void device_codes(void **s)
{
    (void)s;
    assert_int_equal(usb_status_device_code(0), REVIVE_OK);
    assert_int_equal(usb_status_device_code(102), REVIVE_E_BUSY);
    assert_int_equal(usb_status_device_code(205), REVIVE_E_CORRUPT);
    assert_int_equal(usb_status_device_code(211), REVIVE_E_REFUSED);
    assert_int_equal(usb_status_device_code(207), REVIVE_E_WRONG_PASSWORD);
    assert_int_equal(usb_status_device_code(105), REVIVE_E_NO_SPACE_HOST);
    assert_int_equal(usb_status_device_code(9999), REVIVE_E_UNKNOWN);
    assert_non_null(strstr(usb_device_code_advice(102), "reboot"));
    assert_non_null(strstr(usb_device_code_advice(211), "Find My"));
    assert_null(usb_device_code_advice(9999));

    /* through host->fail: code, origin and origin code kept, advice in the message */
    usb_state st = { .host = th_host() };
    revive_call *c = th_call_new();
    int rc = usb_fail_device_code(&st, c, 205, "Multiple errors downloading files", "restore failed");
    assert_int_equal(rc, REVIVE_E_CORRUPT);
    assert_int_equal(c->err.code, REVIVE_E_CORRUPT);
    assert_int_equal(c->err.origin_code, 205);
    assert_string_equal(c->err.origin, "mobilebackup2");
    assert_non_null(strstr(c->err.message, "Multiple errors downloading files"));
    th_call_free(c);

    c = th_call_new();
    rc = usb_fail_lockdown(&st, c, LOCKDOWN_E_PASSWORD_PROTECTED, "opening a session");
    assert_int_equal(rc, REVIVE_E_PASSCODE);
    assert_int_equal(c->err.origin_code, LOCKDOWN_E_PASSWORD_PROTECTED);
    assert_string_equal(c->err.origin, "lockdownd");
    assert_non_null(strstr(c->err.message, "unlock"));
    th_call_free(c);

    c = th_call_new();
    rc = usb_fail_irecv(&st, c, IRECV_E_UNABLE_TO_CONNECT, "opening");
    assert_int_equal(rc, REVIVE_E_PERMISSION);
    assert_non_null(strstr(c->err.message, "udev"));
    assert_non_null(strstr(c->err.message, "plugdev"));
    th_call_free(c);
}

static char tmpdir[64];

static int setup_tmp(void **s)
{
    (void)s;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/usbunit.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **s)
{
    (void)s;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int make_listener(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0)
        return -1;
    return fd;
}

static void usbmuxd_diagnosis(void **s)
{
    (void)s;
    char env[256], path[200], msg[400];
    /* missing socket */
    snprintf(path, sizeof path, "%s/none.sock", tmpdir);
    snprintf(env, sizeof env, "UNIX:%s", path);
    setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
    assert_int_equal(usb_diagnose_usbmuxd(msg, sizeof msg), REVIVE_E_NO_DEVICE);
    assert_non_null(strstr(msg, "usbmuxd is not running"));
    assert_non_null(strstr(msg, "systemctl start usbmuxd"));

    /* a stale socket nobody listens on */
    snprintf(path, sizeof path, "%s/stale.sock", tmpdir);
    int fd = make_listener(path);
    assert_true(fd >= 0);
    close(fd);
    snprintf(env, sizeof env, "UNIX:%s", path);
    setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
    assert_int_equal(usb_diagnose_usbmuxd(msg, sizeof msg), REVIVE_E_NO_DEVICE);
    assert_non_null(strstr(msg, "refuses connections"));

    /* not a socket */
    snprintf(path, sizeof path, "%s/file", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(env, sizeof env, "UNIX:%s", path);
    setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
    assert_int_equal(usb_diagnose_usbmuxd(msg, sizeof msg), REVIVE_E_NO_DEVICE);
    assert_non_null(strstr(msg, "not a socket"));

    /* a live one: nothing to fix */
    snprintf(path, sizeof path, "%s/live.sock", tmpdir);
    fd = make_listener(path);
    assert_true(fd >= 0);
    snprintf(env, sizeof env, "UNIX:%s", path);
    setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
    assert_int_equal(usb_diagnose_usbmuxd(msg, sizeof msg), REVIVE_OK);
    close(fd);
    unsetenv("USBMUXD_SOCKET_ADDRESS");
}

static void feed(fw_parse *p, const char *text)
{
    char line[512];
    size_t n = 0;
    for (const char *c = text;; c++) {
        if (*c == '\n' || *c == '\r' || !*c) {
            line[n] = '\0';
            fw_parse_line(p, line);
            n = 0;
            if (!*c)
                break;
        } else if (n < sizeof line - 1) {
            line[n++] = *c;
        }
    }
}

static void firmware_output(void **s)
{
    (void)s;
    fw_parse p;
    fw_parse_init(&p);
    feed(&p, "Found device in Recovery mode\nIdentified device as n104ap, iPhone12,1\n"
             "Extracting BuildManifest from IPSW\nProduct Version: 14.4\n");
    assert_string_equal(p.step, "prepare");
    assert_false(p.device_touched);
    feed(&p, "Trying to fetch new SHSH blob\nReceived SHSH blobs\n");
    assert_string_equal(p.step, "sign");
    feed(&p, "Sending iBEC (1234 bytes)...\nWaiting for device to enter restore mode...\n");
    assert_string_equal(p.step, "boot");
    assert_true(p.device_touched);
    feed(&p, "About to restore device... \nConnected to ASR\nSending filesystem now...\n");
    assert_string_equal(p.step, "upload-fs");
    feed(&p, "Verifying restore (14)\n"
             "\r[====================                              ]  40.0%");
    assert_string_equal(p.step, "verify");
    assert_true(p.percent > 39.9 && p.percent < 40.1);
    feed(&p, "Status: Restore Finished\nCleaning up...\nDONE\n");
    assert_true(p.finished);
    assert_true(p.done);
    assert_int_equal(p.error_code, 0);
    char tail[400];
    fw_parse_tail(&p, tail, sizeof tail, 2);
    assert_string_equal(tail, "Cleaning up... | DONE");

    /* signing refused: the specific cause wins over the generic last line */
    fw_parse_init(&p);
    feed(&p, "Trying to fetch new SHSH blob\n"
             "ERROR: TSS request failed (status=94, message=This device isn't eligible for the requested build.)\n"
             "ERROR: Unable to get SHSH blobs for this device\nERROR: Unable to proceed without a TSS record.\n");
    assert_int_equal(p.error_code, REVIVE_E_NOT_SIGNED);
    assert_non_null(strstr(p.error_line, "status=94"));

    /* lost mid-restore */
    fw_parse_init(&p);
    feed(&p, "About to restore device... \n\r[=====       ]  40.0%\nERROR: Unable to restore device\n");
    assert_int_equal(p.error_code, REVIVE_E_DISCONNECTED);

    /* no device / wrong IPSW */
    fw_parse_init(&p);
    feed(&p, "ERROR: Unable to discover device mode. Please make sure a device is attached.\n");
    assert_int_equal(p.error_code, REVIVE_E_NO_DEVICE);
    fw_parse_init(&p);
    feed(&p, "ERROR: Could not make sure this firmware is suitable for the current device. Refusing to continue.\n");
    assert_int_equal(p.error_code, REVIVE_E_INVALID);

    assert_int_equal(fw_parse_version("idevicerestore 1.0.0"), 10000);
    assert_int_equal(fw_parse_version("sim-idevicerestore (idevicerestore 1.0.1)"), 10001);
    assert_int_equal(fw_ios_version("14.5"), 140500);
    assert_int_equal(fw_ios_version("14.4.2"), 140402);
}

static void recovery_serial(void **s)
{
    (void)s;
    revive_device_id id = { .size = sizeof id };
    usb_rec_parse_serial("CPID:8030 CPRV:11 CPFM:03 SCEP:01 BDID:0C ECID:001A2B3C4D5E6F70 IBFL:3C "
                         "SRTG:[iBoot-6723.102.4]", &id);
    assert_true(id.ecid == 0x001A2B3C4D5E6F70ULL);
    assert_int_equal(id.cpid, 0x8030);
    assert_int_equal(id.bdid, 0x0C);
    assert_non_null(strstr(id.serial, "ECID:001A2B3C4D5E6F70"));
}

static void paths(void **s)
{
    (void)s;
    assert_true(mb2_path_safe("00008030-001A/Manifest.db"));
    assert_true(mb2_path_safe("abc/12/12ab"));
    assert_false(mb2_path_safe("../etc/passwd"));
    assert_false(mb2_path_safe("a/../../b"));
    assert_false(mb2_path_safe("/etc/passwd"));
    assert_false(mb2_path_safe(""));
    assert_true(mb2_path_safe("a/..b/c"));
}

static void descriptor(void **s)
{
    (void)s;
    const char *bd = getenv("REVIVE_BUILD_DIR");
    assert_non_null(bd);
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/usb.so", bd);
    th_plugin p;
    th_load(&p, path);
    assert_string_equal(p.desc->name, "usb");
    assert_non_null(p.desc->transport);
    assert_string_equal(p.desc->transport->name, "usb");
    assert_non_null(p.desc->restore_methods);
    const revive_restore_method *b = p.desc->restore_methods[0], *f = p.desc->restore_methods[1];
    assert_string_equal(b->name, "backup");
    assert_int_equal(b->flags, REVIVE_RESTORE_CAN_BACKUP | REVIVE_RESTORE_DESTRUCTIVE);
    assert_non_null(b->backup);
    assert_string_equal(f->name, "firmware");
    assert_int_equal(f->flags, REVIVE_RESTORE_DESTRUCTIVE);
    assert_null(f->backup);
    assert_null(p.desc->restore_methods[2]);

    /* usbmuxd not running: list fails and says what to fix */
    char env[256];
    snprintf(env, sizeof env, "UNIX:%s/no-usbmuxd.sock", tmpdir);
    setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
    revive_call *c = th_call_new();
    revive_device_id out[4];
    size_t n = 99;
    int rc = p.desc->transport->list(p.state, c, out, 4, &n);
    assert_int_equal(rc, REVIVE_E_NO_DEVICE);
    assert_string_equal(c->err.origin, "usbmuxd");
    assert_non_null(strstr(c->err.message, "usbmuxd is not running"));
    th_call_free(c);

    /* a device action on a device in the wrong mode names the mode it needs */
    revive_device_id dfu = { .size = sizeof dfu, .ecid = 0x1234, .mode = REVIVE_MODE_DFU };
    c = th_call_new();
    rc = p.desc->transport->getvar(p.state, c, &dfu, "auto-boot");
    assert_int_equal(rc, REVIVE_E_WRONG_MODE);
    assert_non_null(strstr(c->err.message, "recovery"));
    th_call_free(c);
    c = th_call_new();
    rc = p.desc->transport->exit_recovery(p.state, c, &dfu);
    assert_int_equal(rc, REVIVE_E_WRONG_MODE);
    th_call_free(c);
    unsetenv("USBMUXD_SOCKET_ADDRESS");
    th_unload(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lockdown_map),
        cmocka_unit_test(other_maps),
        cmocka_unit_test(device_codes),
        cmocka_unit_test(usbmuxd_diagnosis),
        cmocka_unit_test(firmware_output),
        cmocka_unit_test(recovery_serial),
        cmocka_unit_test(paths),
        cmocka_unit_test(descriptor),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
