/* test_restored: a phone in restore mode as libimobiledevice sees it on usbmux: restored
 * answers QueryType and QueryValue (so hosts recognise restore mode and the phone),
 * lockdownd_client_new finds restored there, Reboot reboots the phone, and hostile
 * frames on port 62078 never crash simdevd.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/restore.h>
#include <plist/plist.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); fail(); } } while (0)
#define UDID "00008030-00001A2B3C4D5E40"

static char tmpdir[] = "/tmp/revive-restored.XXXXXX";
static char ctl_path[600];
static pid_t sim_pid;
static const char *build;

static void stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = 0;
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

static void fail(void)
{
    stop();
    exit(1);
}

/* One field of the device's state, via simctl. */
static void field(const char *name, char *out, size_t len)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/simctl' --socket '%s' --get devices.0.%s state", build, ctl_path, name);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    out[0] = '\0';
    if (!fgets(out, (int)len, p))
        out[0] = '\0';
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
}

int main(void)
{
    build = getenv("REVIVE_BUILD_DIR");
    if (!build)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    CHECK(mkdtemp(tmpdir) != NULL);
    char scen[700], dir[700], exe[700], mux[720];
    snprintf(scen, sizeof scen, "%s/s.json", tmpdir);
    FILE *f = fopen(scen, "w");
    CHECK(f != NULL);
    fputs("{\"name\":\"restored\",\"time_scale\":1000,\"devices\":[{\"product_type\":\"iPhone12,1\","
          "\"ecid\":\"0x1A2B3C4D5E40\",\"serial\":\"F2LXK0ABHG70\",\"mode\":\"restore\",\"os\":\"mild\"}]}", f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/sim", tmpdir);
    snprintf(exe, sizeof exe, "%s/simdevd", build);
    snprintf(ctl_path, sizeof ctl_path, "%s/control.sock", dir);
    sim_pid = fork();
    CHECK(sim_pid >= 0);
    if (sim_pid == 0) {
        execl(exe, exe, "--scenario", scen, "--dir", dir, "--foreground", "--quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && access(ctl_path, F_OK) != 0; i++)
        usleep(10000);
    snprintf(mux, sizeof mux, "UNIX:%s/usbmuxd.sock", dir);
    setenv("USBMUXD_SOCKET_ADDRESS", mux, 1);

    idevice_t dev = NULL;
    CHECK(idevice_new_with_options(&dev, UDID, IDEVICE_LOOKUP_USBMUX) == IDEVICE_E_SUCCESS);

    restored_client_t rc = NULL;
    CHECK(restored_client_new(dev, &rc, "test") == RESTORE_E_SUCCESS);
    char *type = NULL;
    uint64_t version = 0;
    CHECK(restored_query_type(rc, &type, &version) == RESTORE_E_SUCCESS);
    CHECK(type && !strcmp(type, "com.apple.mobile.restored"));
    CHECK(version == 15);
    free(type);
    plist_t v = NULL;
    CHECK(restored_query_value(rc, "HardwareInfo", &v) == RESTORE_E_SUCCESS && v);
    plist_t ecid = plist_dict_get_item(v, "UniqueChipID");
    uint64_t e = 0;
    CHECK(ecid && plist_get_node_type(ecid) == PLIST_UINT);
    plist_get_uint_val(ecid, &e);
    CHECK(e == 0x1A2B3C4D5E40ULL);
    plist_free(v);
    v = NULL;
    CHECK(restored_query_value(rc, "SerialNumber", &v) == RESTORE_E_SUCCESS && v);
    CHECK(!strcmp(plist_get_string_ptr(v, NULL), "F2LXK0ABHG70"));
    plist_free(v);
    v = NULL;
    CHECK(restored_query_value(rc, "NoSuchKey", &v) == RESTORE_E_PLIST_ERROR);
    CHECK(restored_goodbye(rc) == RESTORE_E_SUCCESS);
    restored_client_free(rc);

    /* A host expecting lockdownd finds restored. */
    lockdownd_client_t ld = NULL;
    if (lockdownd_client_new(dev, &ld, "test") == LOCKDOWN_E_SUCCESS) {
        char *t = NULL;
        CHECK(lockdownd_query_type(ld, &t) == LOCKDOWN_E_SUCCESS);
        CHECK(t && !strcmp(t, "com.apple.mobile.restored"));
        free(t);
        lockdownd_client_free(ld);
    }

    /* Hostile frames on port 62078. */
    for (int round = 0; round < 60; round++) {
        idevice_connection_t conn = NULL;
        CHECK(idevice_connect(dev, 62078, &conn) == IDEVICE_E_SUCCESS);
        unsigned char buf[300];
        uint32_t n = (uint32_t)(rand() % (int)sizeof buf);
        for (uint32_t i = 0; i < n; i++)
            buf[i] = (unsigned char)rand();
        if (round % 3 == 0) {   /* a plausible length, then garbage */
            uint32_t be = htonl(n);
            uint32_t sent = 0;
            idevice_connection_send(conn, (const char *)&be, 4, &sent);
        }
        uint32_t sent = 0;
        idevice_connection_send(conn, (const char *)buf, n, &sent);
        idevice_disconnect(conn);
    }

    char mode[64];
    field("mode", mode, sizeof mode);
    CHECK(!strcmp(mode, "restore"));
    CHECK(restored_client_new(dev, &rc, "test") == RESTORE_E_SUCCESS);
    CHECK(restored_reboot(rc) == RESTORE_E_SUCCESS);
    restored_client_free(rc);
    for (int i = 0; i < 100; i++) {
        field("mode", mode, sizeof mode);
        if (!strcmp(mode, "recovery"))
            break;
        usleep(20000);
    }
    CHECK(!strcmp(mode, "recovery"));   /* OS not whole: a reboot ends in recovery */
    idevice_free(dev);
    CHECK(kill(sim_pid, 0) == 0);
    stop();
    printf("ok\n");
    return 0;
}
