/*
 * test_usb_sim_firmware.c — restore method "firmware" running sim-idevicerestore (the
 * simulator's idevicerestore 1.0.0 stand-in) on a synthetic IPSW from sim-ipsw, against
 * simdevd. One subtest per run:
 *   test_usb_sim_firmware SUBTEST  (update, erase, interrupted, unsigned, from-recovery,
 *                                   wrong-ipsw)
 * libsimusb is preloaded by CTest so that the transport sees recovery mode too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_harness.h"
#include "test_host.h"

static th_plugin plug;
static const revive_restore_method *FW;
static const revive_transport *T;
static char ipsw[512];

static void start(const char *device_extra, const char *faults, const char *ipsw_product)
{
    char s[2048];
    snprintf(s, sizeof s,
             "{\"name\":\"t-fw\",\"time_scale\":1000,\"devices\":[{\"product_type\":\"iPhone12,1\","
             "\"ecid\":\"0x1A2B3C4D5EA0\",\"name\":\"Fay\",\"data\":{\"seed\":5,\"files\":8,\"bytes\":65536}%s}]"
             "%s%s%s}",
             device_extra ? device_extra : "", faults ? ",\"faults\":[" : "", faults ? faults : "",
             faults ? "]" : "");
    sim_start(s);
    const char *bd = getenv("REVIVE_BUILD_DIR");
    char cmd[1024], tool[512];
    snprintf(ipsw, sizeof ipsw, "%s/fw.ipsw", sim_dir());
    snprintf(cmd, sizeof cmd, "'%s/sim-ipsw' -o '%s' -p %s -V 14.4 -b 18D52 >/dev/null", bd, ipsw, ipsw_product);
    CHECK(system(cmd) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/usb.so", bd);
    th_load(&plug, path);
    FW = plug.desc->restore_methods[1];
    T = plug.desc->transport;
    snprintf(tool, sizeof tool, "%s/sim-idevicerestore", bd);
    th_config_set("usb.idevicerestore", tool);
    th_config_set("usb.irecv_settle", "1");
}

static revive_device_id device(revive_mode want)
{
    for (int i = 0; i < 50; i++) {
        revive_device_id out[4];
        size_t n = 0;
        revive_call *c = th_call_new();
        CHECK(T->list(plug.state, c, out, 4, &n) == REVIVE_OK);
        th_call_free(c);
        for (size_t k = 0; k < n && k < 4; k++)
            if (out[k].ecid == 0x1A2B3C4D5EA0ULL && out[k].mode == want)
                return out[k];
        usleep(100000);
    }
    CHECK(0);
    revive_device_id none = { 0 };
    return none;
}

static int restore(revive_call *c, const revive_device_id *d, bool erase)
{
    revive_field o[] = { REVIVE_FIELD_STR("ipsw", ipsw), REVIVE_FIELD_BOOL("erase", erase) };
    return FW->restore(plug.state, c, d, o, 2);
}

static void t_update(void)
{
    start(NULL, NULL, "iPhone12,1");
    char before[80];
    snprintf(before, sizeof before, "%s", sim_field(0, "data_digest"));
    revive_device_id d = device(REVIVE_MODE_NORMAL);
    revive_call *c = th_call_new();
    CHECK(restore(c, &d, false) == REVIVE_OK);
    CHECK(!strcmp(c->last_phase, "firmware:finish"));
    CHECK(c->progress_calls > 5);
    const th_field *f = th_result(c, "ios_version");
    CHECK(f && !strcmp(f->s, "14.4"));
    CHECK((f = th_result(c, "last_output")) && strstr(f->s, "DONE"));
    th_call_free(c);
    CHECK(sim_wait_mode(0, "normal", 20));
    CHECK(!strcmp(sim_field(0, "ios_version"), "14.4"));
    CHECK(!strcmp(sim_field(0, "data_digest"), before)); /* an update keeps the data */
}

static void t_erase(void)
{
    start(NULL, NULL, "iPhone12,1");
    char before[80];
    snprintf(before, sizeof before, "%s", sim_field(0, "data_digest"));
    revive_device_id d = device(REVIVE_MODE_NORMAL);
    revive_call *c = th_call_new();
    CHECK(restore(c, &d, true) == REVIVE_OK);
    const th_field *f = th_result(c, "erase");
    CHECK(f && f->b);
    th_call_free(c);
    CHECK(sim_wait_mode(0, "normal", 20));
    CHECK(strcmp(sim_field(0, "data_digest"), before) != 0); /* erased */
}

/* Power lost at 40% of the restore: the error says the device was lost and where it is
 * left; it comes back in recovery with its OS not whole, and the same restore again
 * brings it back to normal. */
static void t_interrupted(void)
{
    start(NULL, "{\"device\":0,\"kind\":\"power-loss\",\"op\":\"firmware-restore\",\"at_percent\":40,\"back_after\":10}",
          "iPhone12,1");
    revive_device_id d = device(REVIVE_MODE_NORMAL);
    revive_call *c = th_call_new();
    int rc = restore(c, &d, false);
    CHECK(rc == REVIVE_E_DISCONNECTED);
    CHECK(!strcmp(c->err.origin, "idevicerestore"));
    CHECK(strstr(c->err.message, "recovery mode"));
    CHECK(strstr(c->err.message, "Last output:"));
    th_call_free(c);
    CHECK(sim_wait_mode(0, "recovery", 20));
    CHECK(strcmp(sim_field(0, "os"), "whole") != 0);
    d = device(REVIVE_MODE_RECOVERY);
    c = th_call_new();
    CHECK(restore(c, &d, false) == REVIVE_OK);
    th_call_free(c);
    CHECK(sim_wait_mode(0, "normal", 20));
    CHECK(!strcmp(sim_field(0, "os"), "whole"));
}

static void t_unsigned(void)
{
    start(",\"sign_refused\":true", NULL, "iPhone12,1");
    revive_device_id d = device(REVIVE_MODE_NORMAL);
    revive_call *c = th_call_new();
    CHECK(restore(c, &d, false) == REVIVE_E_NOT_SIGNED);
    CHECK(strstr(c->err.message, "not touched"));
    th_call_free(c);
    CHECK(!strcmp(sim_field(0, "mode"), "normal"));
    CHECK(!sim_log_has(0, "recovery"));
}

static void t_from_recovery(void)
{
    start(",\"mode\":\"recovery\",\"stuck_in_recovery\":true", NULL, "iPhone12,1");
    revive_device_id d = device(REVIVE_MODE_RECOVERY);
    CHECK(d.udid[0] == '\0'); /* targeted by ECID */
    revive_call *c = th_call_new();
    CHECK(restore(c, &d, false) == REVIVE_OK);
    th_call_free(c);
    CHECK(sim_wait_mode(0, "normal", 20));
}

static void t_wrong_ipsw(void)
{
    start(NULL, NULL, "iPhone11,8");
    revive_device_id d = device(REVIVE_MODE_NORMAL);
    revive_call *c = th_call_new();
    CHECK(restore(c, &d, false) == REVIVE_E_INVALID);
    CHECK(strstr(c->err.message, "not for this device"));
    th_call_free(c);
    CHECK(!sim_log_has(0, "firmware-restore"));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SUBTEST\n", argv[0]);
        return 2;
    }
    static const struct { const char *name; void (*fn)(void); } tests[] = {
        { "update", t_update },       { "erase", t_erase },
        { "interrupted", t_interrupted }, { "unsigned", t_unsigned },
        { "from-recovery", t_from_recovery }, { "wrong-ipsw", t_wrong_ipsw },
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (!strcmp(argv[1], tests[i].name)) {
            tests[i].fn();
            th_unload(&plug);
            sim_stop();
            printf("ok %s\n", argv[1]);
            return 0;
        }
    }
    fprintf(stderr, "unknown subtest %s\n", argv[1]);
    return 2;
}
