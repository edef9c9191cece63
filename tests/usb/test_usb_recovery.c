/*
 * test_usb_recovery.c — the transport in recovery and DFU mode, through libirecovery
 * with libsimusb preloaded (LD_PRELOAD, set by CTest) talking to simdevd's usb socket.
 *   test_usb_recovery SUBTEST   (list, info, getvar-setvar, exit, reboot, hotplug-modes,
 *                                dfu, gone)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim_harness.h"
#include "test_host.h"

#define ECID 0x1A2B3C4D5E90ULL

static th_plugin plug;
static const revive_transport *T;

static void start(const char *mode)
{
    char s[1024];
    snprintf(s, sizeof s,
             "{\"name\":\"t-recovery\",\"time_scale\":1000,\"devices\":[{\"product_type\":\"iPhone12,1\","
             "\"ecid\":\"0x1A2B3C4D5E90\",\"name\":\"Dave\",\"mode\":\"%s\","
             "\"nvram\":{\"auto-boot\":\"%s\"}}]}",
             mode, strcmp(mode, "normal") ? "false" : "true");
    sim_start(s);
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/usb.so", getenv("REVIVE_BUILD_DIR"));
    th_load(&plug, path);
    T = plug.desc->transport;
    th_config_set("usb.irecv_settle", "1");
}

/* The device as the transport lists it, waiting up to 5 s for it to show in `mode`. */
static revive_device_id find(revive_mode mode)
{
    for (int tries = 0; tries < 50; tries++) {
        revive_device_id out[4];
        size_t n = 0;
        revive_call *c = th_call_new();
        int rc = T->list(plug.state, c, out, 4, &n);
        th_call_free(c);
        CHECK(rc == REVIVE_OK);
        for (size_t i = 0; i < n && i < 4; i++)
            if (out[i].ecid == ECID && out[i].mode == mode)
                return out[i];
        usleep(100000);
    }
    fprintf(stderr, "device not listed in mode %d\n", mode);
    CHECK(0);
    revive_device_id none = { 0 };
    return none;
}

static void t_list(void)
{
    revive_device_id d = find(REVIVE_MODE_RECOVERY);
    CHECK(d.cpid == 0x8030);
    CHECK(d.bdid == 0x04);
    CHECK(!strcmp(d.product_type, "iPhone12,1")); /* from libirecovery's table */
    CHECK(!strcmp(d.hardware_model, "n104ap") || !strcmp(d.hardware_model, "N104AP"));
    CHECK(d.udid[0] == '\0');
    CHECK(strstr(d.serial, "ECID:"));
}

static void t_info(void)
{
    revive_device_id d = find(REVIVE_MODE_RECOVERY);
    revive_call *c = th_call_new();
    CHECK(T->info(plug.state, c, &d) == REVIVE_OK);
    const th_field *f;
    CHECK((f = th_result(c, "mode")) && !strcmp(f->s, "recovery"));
    CHECK((f = th_result(c, "ecid")) && !strcmp(f->s, "0x1A2B3C4D5E90"));
    CHECK((f = th_result(c, "cpid")) && f->i == 0x8030);
    CHECK((f = th_result(c, "auto_boot")) && !strcmp(f->s, "false"));
    CHECK((f = th_result(c, "product_type")) && !strcmp(f->s, "iPhone12,1"));
    CHECK(th_result(c, "usb_serial") != NULL);
    th_call_free(c);
}

static void t_getvar_setvar(void)
{
    revive_device_id d = find(REVIVE_MODE_RECOVERY);
    revive_call *c = th_call_new();
    CHECK(T->getvar(plug.state, c, &d, "auto-boot") == REVIVE_OK);
    const th_field *f = th_result(c, "auto-boot");
    CHECK(f && !strcmp(f->s, "false"));
    th_call_free(c);

    c = th_call_new(); /* set, not saved */
    CHECK(T->setvar(plug.state, c, &d, "boot-args", "-v", false) == REVIVE_OK);
    th_call_free(c);
    CHECK(strstr(sim_field(0, "nvram"), "\"-v\""));
    CHECK(!strstr(sim_field(0, "nvram_saved"), "\"-v\""));
    c = th_call_new(); /* set and saved */
    CHECK(T->setvar(plug.state, c, &d, "boot-args", "-v", true) == REVIVE_OK);
    th_call_free(c);
    CHECK(strstr(sim_field(0, "nvram_saved"), "\"-v\""));
    c = th_call_new();
    CHECK(T->getvar(plug.state, c, &d, "boot-args") == REVIVE_OK);
    CHECK((f = th_result(c, "boot-args")) && !strcmp(f->s, "-v"));
    th_call_free(c);

    c = th_call_new(); /* hostile input never reaches iBoot */
    CHECK(T->setvar(plug.state, c, &d, "boot-args\"; reboot", "x", false) == REVIVE_E_INVALID);
    th_call_free(c);
    c = th_call_new();
    CHECK(T->setvar(plug.state, c, &d, "boot-args", "a\"b", false) == REVIVE_E_INVALID);
    th_call_free(c);
}

static void t_exit(void)
{
    revive_device_id d = find(REVIVE_MODE_RECOVERY);
    revive_call *c = th_call_new();
    CHECK(T->exit_recovery(plug.state, c, &d) == REVIVE_OK);
    th_call_free(c);
    CHECK(sim_wait_mode(0, "normal", 10));
    CHECK(strstr(sim_field(0, "nvram_saved"), "\"auto-boot\":\"true\""));
    find(REVIVE_MODE_NORMAL);
}

static void t_reboot(void)
{
    revive_device_id d = find(REVIVE_MODE_RECOVERY);
    int boots = atoi(sim_field(0, "boot_count"));
    revive_call *c = th_call_new();
    CHECK(T->reboot(plug.state, c, &d) == REVIVE_OK);
    th_call_free(c);
    for (int i = 0; i < 100 && atoi(sim_field(0, "boot_count")) == boots; i++)
        usleep(50000);
    CHECK(atoi(sim_field(0, "boot_count")) > boots);
    CHECK(sim_wait_mode(0, "recovery", 10)); /* auto-boot is still false */
}

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { int what; revive_mode mode; uint64_t ecid; } evs[128];
static size_t nevs;

static void on_hotplug(void *data, int what, const revive_device_id *id)
{
    (void)data;
    pthread_mutex_lock(&ev_lock);
    if (nevs < 128) {
        evs[nevs].what = what;
        evs[nevs].mode = id->mode;
        evs[nevs].ecid = id->ecid;
        nevs++;
    }
    pthread_mutex_unlock(&ev_lock);
}

static bool saw(int what, revive_mode mode, size_t from, double timeout)
{
    for (double t = 0; t < timeout; t += 0.05) {
        pthread_mutex_lock(&ev_lock);
        for (size_t i = from; i < nevs; i++)
            if (evs[i].what == what && evs[i].ecid == ECID && (mode == REVIVE_MODE_UNKNOWN || evs[i].mode == mode)) {
                pthread_mutex_unlock(&ev_lock);
                return true;
            }
        pthread_mutex_unlock(&ev_lock);
        usleep(50000);
    }
    return false;
}

static void t_hotplug_modes(void)
{
    CHECK(T->watch(plug.state, on_hotplug, NULL) == REVIVE_OK);
    CHECK(saw(REVIVE_ATTACHED, REVIVE_MODE_NORMAL, 0, 5));
    revive_device_id d = find(REVIVE_MODE_NORMAL);
    size_t mark = nevs;
    revive_call *c = th_call_new();
    CHECK(T->enter_recovery(plug.state, c, &d) == REVIVE_OK);
    th_call_free(c);
    /* one phone, one ECID: it leaves usbmuxd and arrives through libirecovery */
    CHECK(saw(REVIVE_DETACHED, REVIVE_MODE_UNKNOWN, mark, 5) || saw(REVIVE_DETACHED, REVIVE_MODE_OFF, mark, 1));
    CHECK(saw(REVIVE_ATTACHED, REVIVE_MODE_RECOVERY, mark, 10));
    mark = nevs;
    d = find(REVIVE_MODE_RECOVERY);
    c = th_call_new();
    CHECK(T->exit_recovery(plug.state, c, &d) == REVIVE_OK);
    th_call_free(c);
    CHECK(saw(REVIVE_ATTACHED, REVIVE_MODE_NORMAL, mark, 10));
    T->unwatch(plug.state);
}

static void t_dfu(void)
{
    revive_device_id d = find(REVIVE_MODE_DFU);
    revive_call *c = th_call_new();
    CHECK(T->info(plug.state, c, &d) == REVIVE_OK);
    const th_field *f = th_result(c, "mode");
    CHECK(f && !strcmp(f->s, "dfu"));
    CHECK(th_result(c, "auto_boot") == NULL); /* no iBoot, no NVRAM */
    th_call_free(c);
    c = th_call_new();
    CHECK(T->exit_recovery(plug.state, c, &d) == REVIVE_E_WRONG_MODE);
    th_call_free(c);
}

static void t_gone(void)
{
    revive_device_id d = find(REVIVE_MODE_RECOVERY);
    json_t *r = sim_ctl("{\"cmd\":\"unplug\",\"device\":0}");
    CHECK(r);
    json_decref(r);
    revive_call *c = th_call_new();
    int rc = T->getvar(plug.state, c, &d, "auto-boot");
    CHECK(rc == REVIVE_E_NO_DEVICE);
    CHECK(!strcmp(c->err.origin, "irecv"));
    th_call_free(c);
    c = th_call_new();
    CHECK(T->exit_recovery(plug.state, c, &d) == REVIVE_E_NO_DEVICE);
    th_call_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SUBTEST\n", argv[0]);
        return 2;
    }
    const char *t = argv[1];
    start(!strcmp(t, "hotplug-modes") ? "normal" : !strcmp(t, "dfu") ? "dfu" : "recovery");
    if (!strcmp(t, "list"))
        t_list();
    else if (!strcmp(t, "info"))
        t_info();
    else if (!strcmp(t, "getvar-setvar"))
        t_getvar_setvar();
    else if (!strcmp(t, "exit"))
        t_exit();
    else if (!strcmp(t, "reboot"))
        t_reboot();
    else if (!strcmp(t, "hotplug-modes"))
        t_hotplug_modes();
    else if (!strcmp(t, "dfu"))
        t_dfu();
    else if (!strcmp(t, "gone"))
        t_gone();
    else {
        fprintf(stderr, "unknown subtest %s\n", t);
        sim_stop();
        return 2;
    }
    th_unload(&plug);
    sim_stop();
    printf("ok %s\n", t);
    return 0;
}
