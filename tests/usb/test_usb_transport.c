/*
 * test_usb_transport.c — the usb plugin's transport against simdevd, through the
 * plugin's descriptor as loaded with dlopen. One subtest per run:
 *   test_usb_transport SUBTEST      (list, info, enter-recovery, reboot, shutdown,
 *                                    hotplug, pair-trust, pair-deny, pair-timeout, pair-locked,
 *                                    gone, usbmuxd-gone)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_harness.h"
#include "test_host.h"

static const char HEALTHY[] =
    "{\"name\":\"t-healthy\",\"time_scale\":100,\"devices\":[{\"product_type\":\"iPhone12,1\","
    "\"ecid\":\"0x1A2B3C4D5E6F\",\"name\":\"Alice\",\"ios_version\":\"16.7.2\",\"build_version\":\"20H115\","
    "\"battery\":80,\"charging\":true,\"storage_total\":68719476736,\"storage_free\":21474836480,"
    "\"data\":{\"seed\":1,\"files\":4,\"bytes\":4096}}]}";

static const char LOCKED[] =
    "{\"name\":\"t-locked\",\"time_scale\":100,\"devices\":[{\"product_type\":\"iPhone12,1\","
    "\"ecid\":\"0x2B3C4D5E6F71\",\"name\":\"Eve\",\"paired\":false,\"passcode\":true,\"trust_after\":\"never\"}]}";

static const char UNTRUSTED[] =
    "{\"name\":\"t-untrusted\",\"time_scale\":100,\"devices\":[{\"product_type\":\"iPhone12,1\","
    "\"ecid\":\"0x2B3C4D5E6F70\",\"name\":\"Bob\",\"paired\":false,\"trust_after\":\"never\"}]}";

#define ECID 0x1A2B3C4D5E6FULL

static th_plugin plug;
static const revive_transport *T;

static void load(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/usb.so", getenv("REVIVE_BUILD_DIR"));
    th_load(&plug, path);
    T = plug.desc->transport;
    th_config_set("usb.irecv_settle", "0.2");
}

static revive_device_id first_device(void)
{
    revive_device_id out[8];
    size_t n = 0;
    revive_call *c = th_call_new();
    int rc = T->list(plug.state, c, out, 8, &n);
    CHECK(rc == REVIVE_OK);
    CHECK(n >= 1);
    th_call_free(c);
    return out[0];
}

static void t_list(void)
{
    revive_device_id out[8];
    size_t n = 0;
    revive_call *c = th_call_new();
    CHECK(T->list(plug.state, c, out, 8, &n) == REVIVE_OK);
    CHECK(n == 1);
    CHECK(out[0].mode == REVIVE_MODE_NORMAL);
    CHECK(out[0].ecid == ECID);
    CHECK(!strcmp(out[0].udid, "00008030-00001A2B3C4D5E6F"));
    CHECK(!strcmp(out[0].product_type, "iPhone12,1"));
    CHECK(out[0].cpid == 0x8030);
    CHECK(out[0].size == sizeof(revive_device_id));
    /* a capacity of 0 still counts */
    n = 0;
    CHECK(T->list(plug.state, c, NULL, 0, &n) == REVIVE_OK);
    CHECK(n == 1);
    th_call_free(c);
}

static void t_info(void)
{
    revive_device_id d = first_device();
    revive_call *c = th_call_new();
    CHECK(T->info(plug.state, c, &d) == REVIVE_OK);
    const th_field *f;
    CHECK((f = th_result(c, "ecid")) && !strcmp(f->s, "0x1A2B3C4D5E6F"));
    CHECK((f = th_result(c, "udid")) && !strcmp(f->s, "00008030-00001A2B3C4D5E6F"));
    CHECK((f = th_result(c, "product_type")) && !strcmp(f->s, "iPhone12,1"));
    CHECK((f = th_result(c, "ios_version")) && !strcmp(f->s, "16.7.2"));
    CHECK((f = th_result(c, "build_version")) && !strcmp(f->s, "20H115"));
    CHECK((f = th_result(c, "battery_level")) && f->i == 80);
    CHECK((f = th_result(c, "charging")) && f->b);
    CHECK((f = th_result(c, "storage_total")) && f->i == 68719476736LL);
    CHECK((f = th_result(c, "storage_free")) && f->i == 21474836480LL);
    CHECK((f = th_result(c, "paired")) && f->b);
    CHECK((f = th_result(c, "backup_encrypted")) && !f->b);
    CHECK((f = th_result(c, "marketing_name")) && strstr(f->s, "iPhone 11"));
    CHECK(th_result(c, "serial") != NULL);
    CHECK(th_result(c, "activation_state") != NULL);
    th_call_free(c);
}

static void t_enter_recovery(void)
{
    revive_device_id d = first_device();
    revive_call *c = th_call_new();
    CHECK(T->enter_recovery(plug.state, c, &d) == REVIVE_OK);
    CHECK(sim_wait_mode(0, "recovery", 10));
    CHECK(!strcmp(sim_field(0, "mode"), "recovery"));
    th_call_free(c);
    /* the device is gone from usbmuxd now */
    revive_device_id out[4];
    size_t n = 9;
    c = th_call_new();
    CHECK(T->list(plug.state, c, out, 4, &n) == REVIVE_OK);
    for (size_t i = 0; i < n && i < 4; i++)
        CHECK(out[i].mode != REVIVE_MODE_NORMAL);
    th_call_free(c);
}

static void t_reboot(void)
{
    revive_device_id d = first_device();
    revive_call *c = th_call_new();
    CHECK(T->reboot(plug.state, c, &d) == REVIVE_OK);
    th_call_free(c);
    CHECK(sim_log_has(0, "restart") || sim_log_has(0, "reboot"));
    CHECK(sim_wait_mode(0, "normal", 10));
}

static void t_shutdown(void)
{
    revive_device_id d = first_device();
    revive_call *c = th_call_new();
    CHECK(T->shutdown(plug.state, c, &d) == REVIVE_OK);
    th_call_free(c);
    CHECK(sim_wait_mode(0, "off", 10));
}

/* ---- hotplug ---- */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static struct { int what; revive_device_id id; } evs[64];
static size_t nevs;

static void on_hotplug(void *data, int what, const revive_device_id *id)
{
    (void)data;
    pthread_mutex_lock(&ev_lock);
    if (nevs < 64) {
        evs[nevs].what = what;
        evs[nevs].id = *id;
        nevs++;
    }
    pthread_cond_broadcast(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
}

/* Wait for an event `what` for ECID at index >= from; returns its index or -1. */
static int wait_event(int what, uint64_t ecid, size_t from, double timeout)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout;
    pthread_mutex_lock(&ev_lock);
    for (;;) {
        for (size_t i = from; i < nevs; i++)
            if (evs[i].what == what && evs[i].id.ecid == ecid) {
                pthread_mutex_unlock(&ev_lock);
                return (int)i;
            }
        if (pthread_cond_timedwait(&ev_cond, &ev_lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&ev_lock);
    return -1;
}

static void t_hotplug(void)
{
    CHECK(T->watch(plug.state, on_hotplug, NULL) == REVIVE_OK);
    int i = wait_event(REVIVE_ATTACHED, ECID, 0, 5);
    CHECK(i >= 0);
    CHECK(evs[i].id.mode == REVIVE_MODE_NORMAL);
    CHECK(!strcmp(evs[i].id.udid, "00008030-00001A2B3C4D5E6F"));
    /* a second watch at the same time is refused */
    CHECK(T->watch(plug.state, on_hotplug, NULL) == REVIVE_E_BUSY);

    json_t *r = sim_ctl("{\"cmd\":\"unplug\",\"device\":0}");
    CHECK(r);
    json_decref(r);
    int j = wait_event(REVIVE_DETACHED, ECID, (size_t)i + 1, 5);
    CHECK(j > i); /* the removal names the device in full, not just a handle */
    CHECK(!strcmp(evs[j].id.udid, "00008030-00001A2B3C4D5E6F"));
    r = sim_ctl("{\"cmd\":\"plug\",\"device\":0}");
    CHECK(r);
    json_decref(r);
    CHECK(wait_event(REVIVE_ATTACHED, ECID, (size_t)j + 1, 5) > j);
    T->unwatch(plug.state);
    size_t before = nevs;
    r = sim_ctl("{\"cmd\":\"unplug\",\"device\":0}");
    json_decref(r);
    usleep(300000);
    CHECK(nevs == before); /* nothing after unwatch */
}

/* ---- pairing ---- */
struct info_job { revive_device_id d; revive_call *c; int rc; };

static void *info_thread(void *arg)
{
    struct info_job *j = arg;
    j->rc = T->info(plug.state, j->c, &j->d);
    return NULL;
}

static void pair_case(const char *answer)
{
    revive_device_id d = first_device();
    CHECK(d.mode == REVIVE_MODE_NORMAL);
    CHECK(d.ecid == 0x2B3C4D5E6F70ULL); /* unpaired: from the UDID's ECID half */
    struct info_job job = { .d = d, .c = th_call_new(), .rc = -1 };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, info_thread, &job) == 0);
    /* the prompt comes first */
    int k;
    for (k = 0; k < 100 && th_count_events(job.c, "prompt", "trust") == 0; k++)
        usleep(50000);
    CHECK(th_count_events(job.c, "prompt", "trust") == 1);
    CHECK(!strcmp(sim_field(0, "trust_pending"), "true"));
    json_t *r = answer ? sim_ctl("{\"cmd\":\"trust\",\"device\":0,\"answer\":\"%s\"}", answer) : NULL;
    if (answer)
        CHECK(r);
    json_decref(r);
    pthread_join(t, NULL);
    if (!answer || !strcmp(answer, "deny")) {
        CHECK(job.rc == (answer ? REVIVE_E_REFUSED : REVIVE_E_TIMEOUT));
        CHECK(job.c->err.code == job.rc);
        CHECK(strstr(job.c->err.message, "Trust"));
        CHECK(th_count_events(job.c, "trusted", NULL) == 0);
    } else {
        CHECK(job.rc == REVIVE_OK);
        CHECK(th_count_events(job.c, "trusted", NULL) == 1);
        const th_field *f = th_result(job.c, "paired");
        CHECK(f && f->b);
        CHECK(th_result(job.c, "ecid") != NULL);
        /* trusted now: a second info needs no prompt */
        revive_call *c2 = th_call_new();
        CHECK(T->info(plug.state, c2, &d) == REVIVE_OK);
        CHECK(th_count_events(c2, "prompt", NULL) == 0);
        th_call_free(c2);
    }
    th_call_free(job.c);
}

/* A locked phone first asks to be unlocked, then shows the Trust dialog. */
static void t_pair_locked(void)
{
    revive_device_id d = first_device();
    struct info_job job = { .d = d, .c = th_call_new(), .rc = -1 };
    pthread_t t;
    CHECK(pthread_create(&t, NULL, info_thread, &job) == 0);
    for (int k = 0; k < 100 && th_count_events(job.c, "prompt", "unlock") == 0; k++)
        usleep(50000);
    CHECK(th_count_events(job.c, "prompt", "unlock") == 1);
    CHECK(th_count_events(job.c, "prompt", "trust") == 0);
    json_t *r = sim_ctl("{\"cmd\":\"set\",\"device\":0,\"passcode\":false}");
    CHECK(r);
    json_decref(r);
    for (int k = 0; k < 100 && th_count_events(job.c, "prompt", "trust") == 0; k++)
        usleep(50000);
    CHECK(th_count_events(job.c, "prompt", "trust") == 1);
    r = sim_ctl("{\"cmd\":\"trust\",\"device\":0}");
    CHECK(r);
    json_decref(r);
    pthread_join(t, NULL);
    CHECK(job.rc == REVIVE_OK);
    th_call_free(job.c);
}

static void t_gone(void)
{
    revive_device_id d = first_device();
    json_t *r = sim_ctl("{\"cmd\":\"unplug\",\"device\":0}");
    CHECK(r);
    json_decref(r);
    revive_call *c = th_call_new();
    int rc = T->info(plug.state, c, &d);
    CHECK(rc == REVIVE_E_NO_DEVICE);
    CHECK(strstr(c->err.message, "not connected"));
    th_call_free(c);
    c = th_call_new();
    CHECK(T->enter_recovery(plug.state, c, &d) == REVIVE_E_NO_DEVICE);
    th_call_free(c);
}

static void t_usbmuxd_gone(void)
{
    revive_device_id d = first_device();
    (void)d;
    /* simdevd stops: its socket file stays behind, nobody listens */
    char keep[256];
    snprintf(keep, sizeof keep, "%s", getenv("USBMUXD_SOCKET_ADDRESS"));
    setenv("USBSIM_KEEP", "1", 1);
    sim_stop();
    setenv("USBMUXD_SOCKET_ADDRESS", keep, 1);
    revive_call *c = th_call_new();
    revive_device_id out[2];
    size_t n = 0;
    int rc = T->list(plug.state, c, out, 2, &n);
    CHECK(rc == REVIVE_E_NO_DEVICE);
    CHECK(!strcmp(c->err.origin, "usbmuxd"));
    CHECK(strstr(c->err.message, "usbmuxd is not running"));
    th_call_free(c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", keep + 5);
    char *slash = strrchr(cmd, '/');
    if (slash) {
        slash[0] = '\'';
        slash[1] = '\0';
    }
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SUBTEST\n", argv[0]);
        return 2;
    }
    const char *t = argv[1];
    bool untrusted = !strncmp(t, "pair-", 5);
    sim_start(!strcmp(t, "pair-locked") ? LOCKED : untrusted ? UNTRUSTED : HEALTHY);
    load();
    if (!strcmp(t, "list"))
        t_list();
    else if (!strcmp(t, "info"))
        t_info();
    else if (!strcmp(t, "enter-recovery"))
        t_enter_recovery();
    else if (!strcmp(t, "reboot"))
        t_reboot();
    else if (!strcmp(t, "shutdown"))
        t_shutdown();
    else if (!strcmp(t, "hotplug"))
        t_hotplug();
    else if (!strcmp(t, "pair-trust"))
        pair_case("trust");
    else if (!strcmp(t, "pair-deny"))
        pair_case("deny");
    else if (!strcmp(t, "pair-timeout")) {
        th_config_set("usb.pair_timeout", "1");
        pair_case(NULL);
    } else if (!strcmp(t, "pair-locked"))
        t_pair_locked();
    else if (!strcmp(t, "gone"))
        t_gone();
    else if (!strcmp(t, "usbmuxd-gone"))
        t_usbmuxd_gone();
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
