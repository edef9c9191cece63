/*
 * test_usb_firmware.c — restore method "firmware" around the idevicerestore child
 * process: scripted stand-ins print what idevicerestore 1.0.0 prints (steps, \r progress
 * bars, ERROR lines, exit codes), so the parsing, the error classes, the checks made
 * before starting, cancellation and reaping are tested without a device. The run
 * against the simulator's sim-idevicerestore is test_usb_sim_firmware.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_host.h"

static char tmp[64];
static th_plugin plug;
static const revive_restore_method *FW;

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static const char *manifest(const char *version, const char *product)
{
    static char m[1024];
    snprintf(m, sizeof m,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
             "<plist version=\"1.0\"><dict><key>ProductVersion</key><string>%s</string>"
             "<key>ProductBuildVersion</key><string>18D52</string>"
             "<key>SupportedProductTypes</key><array><string>%s</string></array></dict></plist>\n",
             version, product);
    return m;
}

/* an IPSW folder (idevicerestore takes extracted IPSWs too) */
static void make_ipsw_dir(const char *name, const char *version, const char *product, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", tmp, name);
    mkdir(out, 0755);
    char p[256];
    snprintf(p, sizeof p, "%s/BuildManifest.plist", out);
    write_file(p, manifest(version, product), 0644);
}

/* a zipped IPSW, written with libarchive */
static void make_ipsw_zip(const char *name, const char *version, const char *product, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", tmp, name);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
    const char *files[][2] = { { "Restore.plist", "<plist version=\"1.0\"><dict/></plist>" },
                               { "BuildManifest.plist", manifest(version, product) } };
    for (int i = 0; i < 2; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, files[i][0]);
        archive_entry_set_size(e, (la_int64_t)strlen(files[i][1]));
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, files[i][1], strlen(files[i][1]));
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* A stand-in idevicerestore: `--version` answers 1.0.0, a run prints `body`. It records
 * its arguments and pid in the temp dir. */
static void make_tool(const char *name, const char *body, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", tmp, name);
    char script[4096];
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "if [ \"$1\" = \"--version\" ]; then echo 'idevicerestore 1.0.0'; exit 0; fi\n"
             "echo \"$@\" > '%s/args'\n"
             "echo $$ > '%s/pid'\n"
             "%s\n",
             tmp, tmp, body);
    write_file(out, script, 0755);
}

static bool exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    return access(p, F_OK) == 0;
}

static void read_tmp(const char *name, char *out, size_t cap)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    out[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static revive_device_id recovery_dev(const char *product)
{
    revive_device_id d = { .size = sizeof d, .ecid = 0x1A2B3C4D5E6FULL, .mode = REVIVE_MODE_RECOVERY,
                           .cpid = 0x8030, .bdid = 0x04 };
    snprintf(d.product_type, sizeof d.product_type, "%s", product);
    return d;
}

static int run(revive_call *c, const revive_device_id *d, const char *ipsw, bool erase, bool force)
{
    revive_field o[] = { REVIVE_FIELD_STR("ipsw", ipsw), REVIVE_FIELD_BOOL("erase", erase),
                         REVIVE_FIELD_BOOL("force", force) };
    return FW->restore(plug.state, c, d, o, 3);
}

static int setup(void **s)
{
    (void)s;
    snprintf(tmp, sizeof tmp, "/tmp/usbfw.XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/usb.so", getenv("REVIVE_BUILD_DIR"));
    th_load(&plug, path);
    FW = plug.desc->restore_methods[1];
    return 0;
}

static int teardown(void **s)
{
    (void)s;
    th_unload(&plug);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static const char OK_BODY[] =
    "echo 'Found device in Recovery mode'\n"
    "echo 'Identified device as n104ap, iPhone12,1'\n"
    "echo 'Extracting BuildManifest from IPSW'\n"
    "echo 'Trying to fetch new SHSH blob'\necho 'Received SHSH blobs'\n"
    "echo 'Sending iBEC (123 bytes)...'\necho 'Waiting for device to enter restore mode...'\n"
    "echo 'About to restore device... '\necho 'Verifying restore (14)'\n"
    "printf '\\r[==========                                        ]  20.0%%'\n"
    "printf '\\r[====================                              ]  40.0%%'\n"
    "printf '\\r[==================================================] 100.0%%\\n'\n"
    "echo 'Status: Restore Finished'\necho 'Cleaning up...'\necho 'DONE'\nexit 0";

static void restore_ok(void **s)
{
    (void)s;
    char tool[256], ipsw[256];
    make_tool("idr-ok", OK_BODY, tool, sizeof tool);
    make_ipsw_zip("ok.ipsw", "14.4", "iPhone12,1", ipsw, sizeof ipsw);
    th_config_set("usb.idevicerestore", tool);
    revive_call *c = th_call_new();
    revive_device_id d = recovery_dev("iPhone12,1");
    assert_int_equal(run(c, &d, ipsw, true, false), REVIVE_OK);
    char args[512];
    read_tmp("args", args, sizeof args);
    assert_non_null(strstr(args, "-e"));
    assert_non_null(strstr(args, "-i 0x1a2b3c4d5e6f"));
    assert_non_null(strstr(args, "-y"));
    assert_non_null(strstr(args, ipsw));
    assert_string_equal(c->last_phase, "firmware:finish");
    assert_true(c->progress_calls >= 6); /* prepare, sign, boot, restore, verify x3, finish */
    const th_field *f = th_result(c, "ios_version");
    assert_non_null(f);
    assert_string_equal(f->s, "14.4");
    f = th_result(c, "last_output");
    assert_non_null(f);
    assert_non_null(strstr(f->s, "DONE"));
    th_call_free(c);

    /* update (no -e), IPSW as a folder */
    unlink(strcat(strcpy(args, tmp), "/args"));
    make_ipsw_dir("okdir", "14.4", "iPhone12,1", ipsw, sizeof ipsw);
    c = th_call_new();
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_OK);
    read_tmp("args", args, sizeof args);
    assert_null(strstr(args, "-e "));
    th_call_free(c);
}

static void restore_errors(void **s)
{
    (void)s;
    char tool[256], ipsw[256];
    make_ipsw_zip("e.ipsw", "14.4", "iPhone12,1", ipsw, sizeof ipsw);
    revive_device_id d = recovery_dev("iPhone12,1");
    struct { const char *body; int code; const char *needle; } cases[] = {
        { "echo 'Trying to fetch new SHSH blob'\n"
          "echo 'ERROR: TSS request failed (status=94, message=This device isn'\\''t eligible for the requested build.)'\n"
          "echo 'ERROR: Unable to get SHSH blobs for this device'\nexit 255",
          REVIVE_E_NOT_SIGNED, "eligible" },
        { "echo 'About to restore device... '\nprintf '\\r[====]  40.0%%\\n'\n"
          "echo 'ERROR: Unable to restore device'\nexit 255",
          REVIVE_E_DISCONNECTED, "Unable to restore device" },
        { "echo 'ERROR: Unable to discover device mode. Please make sure a device is attached.'\nexit 255",
          REVIVE_E_NO_DEVICE, "discover device mode" },
        { "echo 'ERROR: Could not make sure this firmware is suitable for the current device. Refusing to continue.'\nexit 255",
          REVIVE_E_INVALID, "suitable" },
        { "echo 'something odd'\nexit 3", REVIVE_E_UNKNOWN, "something odd" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "idr-err%zu", i);
        make_tool(name, cases[i].body, tool, sizeof tool);
        th_config_set("usb.idevicerestore", tool);
        revive_call *c = th_call_new();
        int rc = run(c, &d, ipsw, false, false);
        assert_int_equal(rc, cases[i].code);
        assert_string_equal(c->err.origin, "idevicerestore");
        assert_non_null(strstr(c->err.message, cases[i].needle)); /* its last lines travel along */
        th_call_free(c);
    }
}

static void checks_before_start(void **s)
{
    (void)s;
    char tool[256], ipsw[256], args[256];
    make_tool("idr-check", OK_BODY, tool, sizeof tool);
    th_config_set("usb.idevicerestore", tool);
    snprintf(args, sizeof args, "%s/args", tmp);
    revive_device_id d = recovery_dev("iPhone12,1");

    /* iOS 14.5+ with idevicerestore 1.0.0: refused before it runs */
    unlink(args);
    make_ipsw_zip("new.ipsw", "15.0", "iPhone12,1", ipsw, sizeof ipsw);
    revive_call *c = th_call_new();
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_E_UNSUPPORTED);
    assert_non_null(strstr(c->err.message, "14.4"));
    assert_false(exists("args"));
    th_call_free(c);
    c = th_call_new(); /* force=true tries anyway */
    assert_int_equal(run(c, &d, ipsw, false, true), REVIVE_OK);
    assert_true(exists("args"));
    th_call_free(c);

    /* a model libirecovery 1.0.0 does not know (iPhone 13) */
    unlink(args);
    make_ipsw_zip("13.ipsw", "14.4", "iPhone14,5", ipsw, sizeof ipsw);
    revive_device_id d13 = recovery_dev("iPhone14,5");
    d13.cpid = 0x8110;
    c = th_call_new();
    assert_int_equal(run(c, &d13, ipsw, false, false), REVIVE_E_UNSUPPORTED);
    assert_non_null(strstr(c->err.message, "libirecovery"));
    assert_false(exists("args"));
    th_call_free(c);

    /* an IPSW for another model */
    make_ipsw_zip("other.ipsw", "14.4", "iPhone11,8", ipsw, sizeof ipsw);
    c = th_call_new();
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_E_INVALID);
    assert_non_null(strstr(c->err.message, "not for this device"));
    assert_false(exists("args"));
    th_call_free(c);

    /* not an IPSW */
    snprintf(ipsw, sizeof ipsw, "%s/junk.ipsw", tmp);
    write_file(ipsw, "junk", 0644);
    c = th_call_new();
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_E_CORRUPT);
    th_call_free(c);

    /* no idevicerestore */
    th_config_set("usb.idevicerestore", "/nonexistent/idevicerestore");
    make_ipsw_zip("ok2.ipsw", "14.4", "iPhone12,1", ipsw, sizeof ipsw);
    c = th_call_new();
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_E_NOT_FOUND);
    assert_non_null(strstr(c->err.message, "usb.idevicerestore"));
    th_call_free(c);
}

static bool reaped(void)
{
    char pid[32];
    read_tmp("pid", pid, sizeof pid);
    pid_t p = (pid_t)atoi(pid);
    /* kill(pid, 0) still succeeds on a zombie: ESRCH means it was reaped */
    return p > 0 && kill(p, 0) != 0 && errno == ESRCH;
}

static void cancel_safe(void **s)
{
    (void)s;
    char tool[256], ipsw[256];
    make_tool("idr-slow", "echo 'Extracting BuildManifest from IPSW'\nexec sleep 30", tool, sizeof tool);
    make_ipsw_zip("c.ipsw", "14.4", "iPhone12,1", ipsw, sizeof ipsw);
    th_config_set("usb.idevicerestore", tool);
    revive_device_id d = recovery_dev("iPhone12,1");
    revive_call *c = th_call_new();
    snprintf(c->cancel_phase, sizeof c->cancel_phase, "firmware:prepare");
    time_t t0 = time(NULL);
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_E_CANCELLED);
    assert_true(time(NULL) - t0 < 10);
    assert_non_null(strstr(c->err.message, "not touched"));
    assert_true(reaped());
    th_call_free(c);
}

static void cancel_after_touch(void **s)
{
    (void)s;
    char tool[256], ipsw[256];
    make_tool("idr-touch",
              "echo 'Sending iBEC (1 bytes)...'\nsleep 1\necho 'About to restore device... '\n"
              "echo 'Verifying restore (14)'\nsleep 1\necho 'Status: Restore Finished'\necho DONE\nexit 0",
              tool, sizeof tool);
    make_ipsw_zip("t.ipsw", "14.4", "iPhone12,1", ipsw, sizeof ipsw);
    th_config_set("usb.idevicerestore", tool);
    th_config_set("usb.firmware_cancel", NULL);
    revive_device_id d = recovery_dev("iPhone12,1");
    revive_call *c = th_call_new();
    snprintf(c->cancel_phase, sizeof c->cancel_phase, "firmware:boot");
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_OK); /* it went on to the end */
    assert_int_equal(th_count_events(c, "warning", NULL), 1);
    assert_non_null(strstr(c->events[0].text, "recovery mode"));
    assert_true(reaped());
    th_call_free(c);

    /* usb.firmware_cancel=kill stops it and says where the device is left */
    th_config_set("usb.firmware_cancel", "kill");
    c = th_call_new();
    snprintf(c->cancel_phase, sizeof c->cancel_phase, "firmware:boot");
    assert_int_equal(run(c, &d, ipsw, false, false), REVIVE_E_CANCELLED);
    assert_non_null(strstr(c->err.message, "recovery mode"));
    assert_true(reaped());
    th_call_free(c);
    th_config_set("usb.firmware_cancel", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restore_ok),
        cmocka_unit_test(restore_errors),
        cmocka_unit_test(checks_before_start),
        cmocka_unit_test(cancel_safe),
        cmocka_unit_test(cancel_after_touch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
