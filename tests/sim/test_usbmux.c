/* libusbmuxd 2.0.2 itself against simdevd: device list, Listen events as the cable and
 * the mode change, BUID, and pair records whose certificates OpenSSL can read. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <usbmuxd.h>

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
static struct { int event; uint32_t handle; char udid[64]; } events[64];
static int nevents;

static void on_event(const usbmuxd_event_t *e, void *user)
{
    (void)user;
    pthread_mutex_lock(&mu);
    if (nevents < 64) {
        events[nevents].event = e->event;
        events[nevents].handle = e->device.handle;
        snprintf(events[nevents].udid, sizeof events[0].udid, "%s", e->device.udid);
        nevents++;
    }
    pthread_mutex_unlock(&mu);
}

/* Waits up to 3 s for the n-th event; returns its index or -1. */
static int wait_event(int n)
{
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&mu);
        int have = nevents;
        pthread_mutex_unlock(&mu);
        if (have > n)
            return n;
        usleep(10000);
    }
    return -1;
}

static void ctl(const char *line)
{
    char out[8192];
    CHECK(ctl_request(&sim, line, out, sizeof out) == 0 && strstr(out, "\"ok\":true"), "control %s: %s", line, out);
}

static int pem_cert_ok(plist_t rec, const char *key)
{
    plist_t n = plist_dict_get_item(rec, key);
    char *data = NULL;
    uint64_t len = 0;
    if (!n || plist_get_node_type(n) != PLIST_DATA)
        return 0;
    plist_get_data_val(n, &data, &len);
    BIO *b = BIO_new_mem_buf(data, (int)len);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    int ok = x != NULL;
    X509_free(x);
    BIO_free(b);
    free(data);
    return ok;
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

    usbmuxd_device_info_t *list = NULL;
    int n = usbmuxd_get_device_list(&list);
    CHECK(n == 1, "usbmuxd_get_device_list gave %d devices", n);
    char udid[64] = "";
    if (n == 1)
        snprintf(udid, sizeof udid, "%s", list[0].udid);
    CHECK(strcmp(udid, "00008030-00001A2B3C4D5E6F") == 0, "udid %s", udid);
    usbmuxd_device_list_free(&list);

    char *buid = NULL;
    CHECK(usbmuxd_read_buid(&buid) == 0 && buid && strlen(buid) == 36, "ReadBUID");
    free(buid);

    char *rec = NULL;
    uint32_t rlen = 0;
    CHECK(usbmuxd_read_pair_record(udid, &rec, &rlen) == 0 && rlen > 0, "ReadPairRecord of a paired device");
    plist_t pr = NULL;
    if (rec)
        plist_from_xml(rec, rlen, &pr);
    CHECK(pr && plist_dict_get_item(pr, "HostID") && plist_dict_get_item(pr, "SystemBUID"), "pair record fields");
    /* idevicebackup2 starts mobilebackup2 only with the escrow bag a pairing gives */
    CHECK(pr && plist_dict_get_item(pr, "EscrowBag"), "the default pair record has no EscrowBag");
    CHECK(pr && pem_cert_ok(pr, "RootCertificate") && pem_cert_ok(pr, "HostCertificate") &&
          pem_cert_ok(pr, "DeviceCertificate"), "pair record certificates are not PEM X.509");
    plist_free(pr);
    free(rec);
    const char other[] = "<plist version=\"1.0\"><dict><key>HostID</key><string>X</string></dict></plist>";
    CHECK(usbmuxd_save_pair_record("0000ABCD", other, sizeof other - 1) == 0, "SavePairRecord");
    rec = NULL;
    CHECK(usbmuxd_read_pair_record("0000ABCD", &rec, &rlen) == 0 && rlen == sizeof other - 1, "read back");
    free(rec);
    CHECK(usbmuxd_delete_pair_record("0000ABCD") == 0, "DeletePairRecord");
    rec = NULL;
    CHECK(usbmuxd_read_pair_record("0000ABCD", &rec, &rlen) != 0, "a deleted record is still there");
    free(rec);

    usbmuxd_subscription_context_t ctx = NULL;
    CHECK(usbmuxd_events_subscribe(&ctx, on_event, NULL) == 0, "subscribe");
    CHECK(wait_event(0) == 0 && events[0].event == UE_DEVICE_ADD && strcmp(events[0].udid, udid) == 0,
          "no Attached event for the plugged-in phone");
    uint32_t first = events[0].handle;
    ctl("{\"cmd\":\"unplug\"}");
    CHECK(wait_event(1) == 1 && events[1].event == UE_DEVICE_REMOVE && events[1].handle == first,
          "no Detached event after unplug");
    ctl("{\"cmd\":\"plug\"}");
    CHECK(wait_event(2) == 2 && events[2].event == UE_DEVICE_ADD && events[2].handle != first,
          "no Attached event with a new DeviceID after plug");
    ctl("{\"cmd\":\"set\",\"mode\":\"recovery\"}");
    CHECK(wait_event(3) == 3 && events[3].event == UE_DEVICE_REMOVE, "no Detached event when entering recovery");
    n = usbmuxd_get_device_list(&list);
    CHECK(n == 0, "a phone in recovery is listed by usbmuxd (%d)", n);
    usbmuxd_device_list_free(&list);
    ctl("{\"cmd\":\"set\",\"mode\":\"restore\"}");
    CHECK(wait_event(4) == 4 && events[4].event == UE_DEVICE_ADD, "restore mode is not attached on usbmuxd");
    usbmuxd_events_unsubscribe(ctx);
    simd_stop(&sim);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
