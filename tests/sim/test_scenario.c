/* Unit tests of simdevd's scenario parser, the phone's boot rules and the fault hooks,
 * linked directly against the core's files (no sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "simcore.h"

static struct sim_world w;
static char err[1024];

static int load(const char *text)
{
    sim_world_free(&w);
    sim_world_init(&w, "/tmp/simdevd-unit");
    err[0] = '\0';
    return sim_scenario_load(&w, text, err, sizeof err);
}

static void defaults_make_a_paired_normal_phone(void **state)
{
    (void)state;
    assert_int_equal(load("{\"devices\":[{\"ecid\":\"0x1A2B\"}]}"), 0);
    assert_int_equal(sim_device_count(&w), 1);
    struct sim_device *d = sim_device_at(&w, 0);
    assert_int_equal(d->ecid, 0x1A2B);
    assert_string_equal(d->product_type, "iPhone12,1");
    assert_string_equal(d->hardware_model, "N104AP");
    assert_int_equal(d->cpid, 0x8030);
    assert_string_equal(d->udid, "00008030-0000000000001A2B");
    assert_int_equal(d->mode, SIM_MODE_NORMAL);
    assert_int_equal(d->os, SIM_OS_WHOLE);
    assert_true(d->paired);
    assert_true(d->plugged);
    assert_string_equal(sim_nvram_get(d, "auto-boot"), "true");
    assert_ptr_equal(sim_device_by_ecid(&w, 0x1A2B), d);
    assert_ptr_equal(sim_device_by_udid(&w, "00008030-0000000000001a2b"), d);
}

static void older_models_get_a_40_hex_udid(void **state)
{
    (void)state;
    assert_int_equal(load("{\"devices\":[{\"product_type\":\"iPhone10,3\",\"ecid\":77}]}"), 0);
    struct sim_device *d = sim_device_at(&w, 0);
    assert_int_equal(strlen(d->udid), 40);
    assert_string_equal(d->hardware_model, "D22AP");
}

static void every_field_is_read(void **state)
{
    (void)state;
    const char *s =
        "{\"name\":\"x\",\"time_scale\":50,\"boot_seconds\":5,\"devices\":[{"
        "\"product_type\":\"iPhone11,8\",\"ecid\":\"0x99\",\"serial\":\"ABC\",\"name\":\"N\","
        "\"ios_version\":\"15.1\",\"build_version\":\"19B74\",\"mode\":\"recovery\",\"os\":\"severe\","
        "\"plugged\":false,\"battery\":7,\"charging\":true,\"storage_total\":1000,\"storage_free\":10,"
        "\"nvram\":{\"auto-boot\":\"false\",\"boot-args\":\"-v\"},\"paired\":false,\"trust_after\":3,"
        "\"passcode\":true,\"backup_password\":\"pw\",\"data\":{\"seed\":9,\"files\":2,\"bytes\":100},"
        "\"stuck_in_recovery\":true,\"sign_refused\":true,\"slow_transfer\":1024,\"low_battery\":\"dies\","
        "\"battery_dies_after\":30}]}";
    assert_int_equal(load(s), 0);
    struct sim_device *d = sim_device_at(&w, 0);
    assert_string_equal(w.name, "x");
    assert_true(w.time_scale == 50);
    assert_true(w.boot_seconds == 5);
    assert_string_equal(d->serial, "ABC");
    assert_string_equal(d->device_name, "N");
    assert_string_equal(d->ios_version, "15.1");
    assert_int_equal(d->mode, SIM_MODE_RECOVERY);
    assert_int_equal(d->os, SIM_OS_SEVERE);
    assert_false(d->plugged);
    assert_int_equal(d->battery, 7);
    assert_true(d->charging);
    assert_int_equal(d->storage_free, 10);
    assert_string_equal(sim_nvram_get(d, "boot-args"), "-v");
    assert_string_equal(d->nvram_saved.vars[0].value, "false");
    assert_false(d->paired);
    assert_true(d->trust_after_s == 3);
    assert_true(d->passcode_set);
    assert_string_equal(d->backup_password, "pw");
    assert_int_equal(d->data_seed, 9);
    assert_int_equal(d->data_files, 2);
    assert_true(d->stuck_in_recovery);
    assert_true(d->sign_refused);
    assert_true(d->transfer_bytes_per_s == 1024);
    assert_int_equal(d->battery_policy, SIM_BATTERY_DIES);
    assert_true(d->battery_dies_after_s == 30);
}

static void errors_name_the_problem(void **state)
{
    (void)state;
    assert_int_equal(load("{\"devices\":[{\"ecdi\":1}]}"), -1);
    assert_non_null(strstr(err, "devices[0]: unknown key \"ecdi\""));
    assert_int_equal(load("{\"devices\":[{\"mode\":\"sleeping\"}]}"), -1);
    assert_non_null(strstr(err, "mode \"sleeping\""));
    assert_int_equal(load("{\"devices\":[]}"), -1);
    assert_non_null(strstr(err, "\"devices\""));
    assert_int_equal(load("{\"devices\":[{\"ecid\":1},{\"ecid\":1}]}"), -1);
    assert_non_null(strstr(err, "same ECID"));
    assert_int_equal(load("{\"devices\":[{\"storage_total\":10,\"storage_free\":11}]}"), -1);
    assert_int_equal(load("{\"devices\":[{\"battery\":101}]}"), -1);
    assert_int_equal(load("{\"devices\":[{\"ecid\":\"0xZZ\"}]}"), -1);
    assert_int_equal(load("{\"devices\":[{\"ecid\":-4}]}"), -1);
    assert_int_equal(load("{\"devices\":[{\"udid\":\"../../etc\"}]}"), -1);
    assert_int_equal(load("{\"devices\":[{\"product_type\":\"iPhone99,9\"}]}"), -1);
    assert_non_null(strstr(err, "model table"));
    assert_int_equal(load("[1,2]"), -1);
    assert_int_equal(load("{\"devices\":[{}"), -1);
    assert_non_null(strstr(err, "not valid JSON"));
    /* a failed load leaves no half-read devices behind */
    assert_int_equal(sim_device_count(&w), 0);
}

static void faults_are_checked(void **state)
{
    (void)state;
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"kind\":\"unplug\"}]}"), -1);
    assert_non_null(strstr(err, "exactly one trigger"));
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"kind\":\"unplug\",\"at\":1,\"at_percent\":5,\"op\":\"backup\"}]}"), -1);
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"kind\":\"unplug\",\"at_percent\":5}]}"), -1);
    assert_non_null(strstr(err, "needs \"op\""));
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"kind\":\"melt\",\"at\":1}]}"), -1);
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"device\":1,\"kind\":\"unplug\",\"at\":1}]}"), -1);
    assert_non_null(strstr(err, "does not exist"));
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"kind\":\"cancel\",\"at\":1}]}"), -1);
    assert_int_equal(load("{\"devices\":[{}],\"faults\":[{\"kind\":\"power-loss\",\"op\":\"firmware-restore\","
                          "\"at_percent\":40,\"back_after\":\"never\"}]}"), 0);
    assert_int_equal(w.nfaults, 1);
    assert_true(w.faults[0].back_after_s < 0);
}

static void boot_follows_nvram_and_os(void **state)
{
    (void)state;
    assert_int_equal(load("{\"devices\":[{}]}"), 0);
    struct sim_device *d = sim_device_at(&w, 0);
    sim_reboot(&w, d);
    assert_int_equal(d->mode, SIM_MODE_NORMAL);
    sim_nvram_set(d, "auto-boot", "false");   /* not saved: lost on reboot */
    sim_reboot(&w, d);
    assert_int_equal(d->mode, SIM_MODE_NORMAL);
    assert_string_equal(sim_nvram_get(d, "auto-boot"), "true");
    sim_nvram_set(d, "auto-boot", "false");
    sim_nvram_save(d);
    sim_reboot(&w, d);
    assert_int_equal(d->mode, SIM_MODE_RECOVERY);
    sim_nvram_set(d, "auto-boot", "true");
    sim_nvram_save(d);
    d->os = SIM_OS_MILD;
    sim_reboot(&w, d);
    assert_int_equal(d->mode, SIM_MODE_RECOVERY);
    d->os = SIM_OS_WHOLE;
    sim_reboot(&w, d);
    assert_int_equal(d->mode, SIM_MODE_NORMAL);
    assert_int_equal(d->boot_count, 5);
    assert_true(d->mux_id != 0);
    uint32_t id = d->mux_id;
    sim_set_mode(&w, d, SIM_MODE_RECOVERY);
    assert_int_equal(d->mux_id, 0);   /* recovery is not on usbmuxd */
    sim_set_mode(&w, d, SIM_MODE_NORMAL);
    assert_true(d->mux_id != 0 && d->mux_id != id);   /* re-enumerated */
    sim_nvram_unset(d, "boot-args");
    assert_null(sim_nvram_get(d, "boot-args"));
}

static void progress_faults_fire_once_at_their_point(void **state)
{
    (void)state;
    assert_int_equal(load("{\"devices\":[{},{\"ecid\":5}],\"faults\":["
                          "{\"kind\":\"power-loss\",\"op\":\"firmware-restore\",\"at_percent\":40},"
                          "{\"device\":1,\"kind\":\"unplug\",\"op\":\"backup\",\"at_bytes\":1000,\"back_after\":2}]}"), 0);
    struct sim_device *d0 = sim_device_at(&w, 0), *d1 = sim_device_at(&w, 1);
    sim_nvram_set(d0, "auto-boot", "false");   /* unsaved: power loss forgets it */
    assert_false(sim_fault_hit(&w, d0, "firmware-restore", 39, 100));
    assert_false(sim_fault_hit(&w, d0, "backup", 99, 100));   /* other op */
    assert_false(sim_fault_hit(&w, d1, "firmware-restore", 99, 100)); /* other device */
    assert_true(sim_fault_hit(&w, d0, "firmware-restore", 40, 100));
    assert_int_equal(d0->mode, SIM_MODE_OFF);
    assert_string_equal(sim_nvram_get(d0, "auto-boot"), "true");
    assert_true(w.faults[0].fired);
    assert_false(sim_fault_hit(&w, d1, "backup", 999, 0));
    assert_true(sim_fault_hit(&w, d1, "backup", 1000, 0));
    assert_false(d1->plugged);
    assert_int_equal(d1->mux_id, 0);
    bool timer = false;
    for (int i = 0; i < SIM_MAX_TIMERS; i++)
        if (w.timers[i].used && w.timers[i].device == 1 && w.timers[i].kind == SIM_TIMER_PLUG)
            timer = true;
    assert_true(timer);
    /* the log tells what happened */
    struct sim_devpriv *p = sim_priv(&w, d0);
    bool logged = false;
    for (size_t i = 0; i < p->nlog; i++)
        if (strstr(p->log[i], "fault power-loss (firmware-restore at 40/100)"))
            logged = true;
    assert_true(logged);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_make_a_paired_normal_phone),
        cmocka_unit_test(older_models_get_a_40_hex_udid),
        cmocka_unit_test(every_field_is_read),
        cmocka_unit_test(errors_name_the_problem),
        cmocka_unit_test(faults_are_checked),
        cmocka_unit_test(boot_follows_nvram_and_os),
        cmocka_unit_test(progress_faults_fire_once_at_their_point),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sim_world_free(&w);
    return rc;
}
