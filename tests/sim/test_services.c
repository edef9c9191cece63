/* libimobiledevice 1.3.0's own client API against simdevd: lockdownd errors and values,
 * notification_proxy (observe, post, relay), diagnostics_relay sleep. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libimobiledevice/diagnostics_relay.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/notification_proxy.h>

#include "simclient.h"

static struct simd sim;
static int failures;
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char relayed[256];

static void on_notification(const char *name, void *user)
{
    (void)user;
    pthread_mutex_lock(&mu);
    snprintf(relayed, sizeof relayed, "%s", name);
    pthread_mutex_unlock(&mu);
}

static int log_has(const char *needle)
{
    char out[16384];
    return ctl_request(&sim, "{\"cmd\":\"log\"}", out, sizeof out) == 0 && strstr(out, needle) != NULL;
}

int main(void)
{
    const char *src = getenv("REVIVE_SOURCE_DIR");
    char scen[1024];
    snprintf(scen, sizeof scen, "%s/sim/scenarios/healthy.json", src ? src : ".");
    if (simd_start(&sim, scen) != 0) {
        fprintf(stderr, "FAIL: simdevd did not start\n");
        return 1;
    }
    char addr[400];
    snprintf(addr, sizeof addr, "UNIX:%s", sim.mux);
    setenv("USBMUXD_SOCKET_ADDRESS", addr, 1);

    idevice_t dev = NULL;
    CHECK(idevice_new(&dev, NULL) == IDEVICE_E_SUCCESS, "idevice_new");
    lockdownd_client_t ld = NULL;
    CHECK(lockdownd_client_new_with_handshake(dev, &ld, "simtest") == LOCKDOWN_E_SUCCESS, "handshake");

    plist_t v = NULL;
    CHECK(lockdownd_get_value(ld, "com.apple.disk_usage", "TotalDiskCapacity", &v) == LOCKDOWN_E_SUCCESS, "disk");
    uint64_t cap = 0;
    if (v)
        plist_get_uint_val(v, &cap);
    CHECK(cap == 68719476736ULL, "TotalDiskCapacity %llu", (unsigned long long)cap);
    plist_free(v);
    v = NULL;
    CHECK(lockdownd_get_value(ld, NULL, "NoSuchKey", &v) != LOCKDOWN_E_SUCCESS, "a missing key was answered");
    plist_free(v);
    v = NULL;
    CHECK(lockdownd_set_value(ld, NULL, "DeviceName", plist_new_string("Renamed")) == LOCKDOWN_E_SUCCESS, "SetValue");
    CHECK(lockdownd_get_value(ld, NULL, "DeviceName", &v) == LOCKDOWN_E_SUCCESS, "DeviceName");
    char *name = NULL;
    if (v)
        plist_get_string_val(v, &name);
    CHECK(name && strcmp(name, "Renamed") == 0, "DeviceName after SetValue: %s", name ? name : "(null)");
    free(name);
    plist_free(v);

    lockdownd_service_descriptor_t svc = NULL;
    CHECK(lockdownd_start_service(ld, "com.apple.no.such.service", &svc) == LOCKDOWN_E_INVALID_SERVICE,
          "an unknown service is not InvalidService");

    np_client_t np = NULL;
    CHECK(lockdownd_start_service(ld, NP_SERVICE_NAME, &svc) == LOCKDOWN_E_SUCCESS && svc, "start np");
    CHECK(svc && np_client_new(dev, svc, &np) == NP_E_SUCCESS, "np client");
    lockdownd_service_descriptor_free(svc);
    svc = NULL;
    if (np) {
        np_set_notify_callback(np, on_notification, NULL);
        CHECK(np_observe_notification(np, NP_SYNC_CANCEL_REQUEST) == NP_E_SUCCESS, "observe");
        CHECK(np_post_notification(np, NP_SYNC_WILL_START) == NP_E_SUCCESS, "post");
        char out[1024];
        ctl_request(&sim, "{\"cmd\":\"notify\",\"name\":\"com.apple.itunes-client.syncCancelRequest\"}", out, sizeof out);
        int got = 0;
        for (int i = 0; i < 300 && !got; i++) {
            pthread_mutex_lock(&mu);
            got = strcmp(relayed, NP_SYNC_CANCEL_REQUEST) == 0;
            pthread_mutex_unlock(&mu);
            usleep(10000);
        }
        CHECK(got, "the phone's cancel request was not relayed to the observer");
        CHECK(log_has("notification com.apple.itunes-mobdev.syncWillStart"), "the posted notification is not logged");
        np_client_free(np);
    }

    diagnostics_relay_client_t diag = NULL;
    CHECK(lockdownd_start_service(ld, DIAGNOSTICS_RELAY_SERVICE_NAME, &svc) == LOCKDOWN_E_SUCCESS && svc, "start diag");
    CHECK(svc && diagnostics_relay_client_new(dev, svc, &diag) == DIAGNOSTICS_RELAY_E_SUCCESS, "diag client");
    lockdownd_service_descriptor_free(svc);
    if (diag) {
        CHECK(diagnostics_relay_sleep(diag) == DIAGNOSTICS_RELAY_E_SUCCESS, "Sleep");
        CHECK(diagnostics_relay_goodbye(diag) == DIAGNOSTICS_RELAY_E_SUCCESS, "Goodbye");
        diagnostics_relay_client_free(diag);
    }
    CHECK(log_has(" sleep\""), "sleep is not in the log");
    lockdownd_client_free(ld);
    idevice_free(dev);
    simd_stop(&sim);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
