/* test_simusb_api: libsimusb through the libusb API itself (preloaded by CTest), the way
 * any libusb program would use it, beyond what libirecovery exercises.
 *   test_simusb_api list         descriptors, strings, a stale handle after a reboot
 *   test_simusb_api hotplug      ENUMERATE, mode change = LEFT + ARRIVED, unplug = LEFT
 *   test_simusb_api passthrough  without SIMDEVD_USB_SOCKET: the real libusb answers and
 *                                no simulated phone appears
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libusb.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); fail(); } } while (0)

static char tmpdir[] = "/tmp/revive-simusb.XXXXXX";
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

static void start_sim(void)
{
    CHECK(mkdtemp(tmpdir) != NULL);
    char scen[700], dir[700], exe[700], usb[700];
    snprintf(scen, sizeof scen, "%s/s.json", tmpdir);
    FILE *f = fopen(scen, "w");
    CHECK(f != NULL);
    fputs("{\"name\":\"api\",\"time_scale\":1000,\"devices\":["
          "{\"product_type\":\"iPhone12,1\",\"ecid\":\"0x1A2B3C4D5E50\",\"mode\":\"recovery\",\"nvram\":{\"auto-boot\":\"false\"}},"
          "{\"product_type\":\"iPhone12,1\",\"ecid\":\"0x1A2B3C4D5E51\",\"mode\":\"dfu\"}]}", f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/sim", tmpdir);
    snprintf(exe, sizeof exe, "%s/simdevd", build);
    snprintf(usb, sizeof usb, "%s/usb.sock", dir);
    snprintf(ctl_path, sizeof ctl_path, "%s/control.sock", dir);
    sim_pid = fork();
    CHECK(sim_pid >= 0);
    if (sim_pid == 0) {
        unsetenv("LD_PRELOAD");
        execl(exe, exe, "--scenario", scen, "--dir", dir, "--foreground", "--quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && access(ctl_path, F_OK) != 0; i++)
        usleep(10000);
    usleep(20000);
    setenv("SIMDEVD_USB_SOCKET", usb, 1);
}

/* simctl ARGS against this test's simdevd (without libsimusb preloaded). */
static void simctl(const char *args)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD '%s/simctl' --socket '%s' %s > /dev/null", build, ctl_path, args);
    CHECK(system(cmd) == 0);
}

static int serial_of(libusb_device *dev, char *out, int len)
{
    libusb_device_handle *h = NULL;
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(dev, &dd) != 0 || libusb_open(dev, &h) != 0)
        return -1;
    int n = libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, (unsigned char *)out, len);
    libusb_close(h);
    return n;
}

static void t_list(void)
{
    libusb_context *ctx = NULL;
    CHECK(libusb_init(&ctx) == 0);
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    CHECK(n == 2);
    int seen_rec = 0, seen_dfu = 0;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        CHECK(libusb_get_device_descriptor(list[i], &dd) == 0);
        CHECK(dd.idVendor == 0x05ac);
        char serial[256];
        CHECK(serial_of(list[i], serial, sizeof serial) > 0);
        CHECK(strstr(serial, "CPID:8030 ") != NULL);
        if (dd.idProduct == 0x1281) {
            seen_rec++;
            CHECK(strstr(serial, "ECID:00001A2B3C4D5E50") != NULL);
        } else if (dd.idProduct == 0x1227) {
            seen_dfu++;
            CHECK(strstr(serial, "ECID:00001A2B3C4D5E51") != NULL);
            CHECK(strstr(serial, "SRTG:[") != NULL);
        }
    }
    CHECK(seen_rec == 1 && seen_dfu == 1);

    /* A handle, then the phone reboots: the handle is stale, as on a real bus. */
    libusb_device *rec = NULL;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        libusb_get_device_descriptor(list[i], &dd);
        if (dd.idProduct == 0x1281)
            rec = list[i];
    }
    libusb_device_handle *h = NULL;
    CHECK(libusb_open(rec, &h) == 0);
    CHECK(libusb_set_configuration(h, 1) == 0);
    CHECK(libusb_claim_interface(h, 0) == 0);
    CHECK(libusb_set_configuration(h, 7) == LIBUSB_ERROR_NOT_FOUND);
    unsigned char cmd[] = "getenv auto-boot";
    CHECK(libusb_control_transfer(h, 0x40, 0, 0, 0, cmd, sizeof cmd, 1000) == (int)sizeof cmd);
    unsigned char ans[256] = { 0 };
    CHECK(libusb_control_transfer(h, 0xC0, 0, 0, 0, ans, 255, 1000) == 6);
    CHECK(strcmp((char *)ans, "false") == 0);
    unsigned char big[70000];
    memset(big, 0x5a, sizeof big);
    int moved = 0;
    CHECK(libusb_control_transfer(h, 0x41, 0, 0, 0, NULL, 0, 1000) == 0);
    CHECK(libusb_bulk_transfer(h, 0x04, big, (int)sizeof big, &moved, 1000) == 0);
    CHECK(moved == (int)sizeof big);
    unsigned char reboot[] = "reboot";
    CHECK(libusb_control_transfer(h, 0x40, 0, 0, 0, reboot, sizeof reboot, 1000) == (int)sizeof reboot);
    CHECK(libusb_control_transfer(h, 0xC0, 0, 0, 0, ans, 255, 1000) == LIBUSB_ERROR_NO_DEVICE);
    libusb_close(h);
    /* It came back in recovery (auto-boot false) as a new enumeration. */
    CHECK(libusb_open(rec, &h) == LIBUSB_ERROR_NO_DEVICE);
    libusb_free_device_list(list, 1);
    CHECK(libusb_get_device_list(ctx, &list) == 2);
    libusb_free_device_list(list, 1);

    /* The rest of the API: what works, and what says it is not simulated. */
    h = libusb_open_device_with_vid_pid(ctx, 0x05ac, 0x1227);
    CHECK(h != NULL);
    char serial[256];
    CHECK(serial_of(libusb_get_device(h), serial, sizeof serial) > 0);
    CHECK(strstr(serial, "ECID:00001A2B3C4D5E51") != NULL);
    struct libusb_config_descriptor *cfg = (struct libusb_config_descriptor *)1;
    CHECK(libusb_get_active_config_descriptor(libusb_get_device(h), &cfg) == LIBUSB_ERROR_NOT_SUPPORTED);
    CHECK(cfg == NULL);
    CHECK(libusb_kernel_driver_active(h, 0) == 0);
    uint8_t ports[7];
    CHECK(libusb_get_port_numbers(libusb_get_device(h), ports, 7) == 1);
    libusb_close(h);
    CHECK(libusb_open_device_with_vid_pid(ctx, 0x05ac, 0x12a8) == NULL);   /* no phone in normal mode here */
    CHECK(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG));
    libusb_exit(ctx);
}

struct event { int arrived; uint16_t pid; char serial[256]; };
static struct event events[64];
static int nevents;

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev, void *ud)
{
    (void)ctx;
    (void)ud;
    if (nevents == 64)
        return 0;
    struct libusb_device_descriptor dd;
    libusb_get_device_descriptor(dev, &dd);
    events[nevents].arrived = ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED;
    events[nevents].pid = dd.idProduct;
    if (events[nevents].arrived)
        serial_of(dev, events[nevents].serial, sizeof events[nevents].serial);
    nevents++;
    return 0;
}

static int count(int arrived, uint16_t pid)
{
    int c = 0;
    for (int i = 0; i < nevents; i++)
        c += events[i].arrived == arrived && events[i].pid == pid;
    return c;
}

static void pump_until(int arrived, uint16_t pid, int want)
{
    for (int i = 0; i < 100 && count(arrived, pid) < want; i++) {
        struct timeval tv = { 0, 50000 };
        libusb_handle_events_timeout(NULL, &tv);
    }
    CHECK(count(arrived, pid) >= want);
}

static void t_hotplug(void)
{
    CHECK(libusb_init(NULL) == 0);
    libusb_hotplug_callback_handle cb;
    CHECK(libusb_hotplug_register_callback(NULL, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
                                           LIBUSB_HOTPLUG_ENUMERATE, 0x05ac, LIBUSB_HOTPLUG_MATCH_ANY,
                                           LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, NULL, &cb) == 0);
    CHECK(nevents == 2);   /* both phones, inside the register call */
    CHECK(count(1, 0x1281) == 1 && count(1, 0x1227) == 1);

    simctl("set device=0 mode=dfu");
    pump_until(0, 0x1281, 1);
    pump_until(1, 0x1227, 2);
    CHECK(strstr(events[nevents - 1].serial, "ECID:00001A2B3C4D5E50") != NULL);

    simctl("unplug device=1");
    pump_until(0, 0x1227, 1);
    libusb_hotplug_deregister_callback(NULL, cb);
    libusb_exit(NULL);
}

static void t_passthrough(void)
{
    unsetenv("SIMDEVD_USB_SOCKET");
    libusb_context *ctx = NULL;
    int rc = libusb_init(&ctx);
    if (rc != 0) {
        /* No usbfs in this sandbox: the real libusb said so, which is the point. */
        printf("real libusb_init: %s\n", libusb_error_name(rc));
        return;
    }
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        CHECK(libusb_get_device_descriptor(list[i], &dd) == 0);
        char serial[256] = "";
        libusb_device_handle *h = NULL;
        if (dd.idVendor == 0x05ac && libusb_open(list[i], &h) == 0) {
            libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, (unsigned char *)serial, sizeof serial);
            libusb_close(h);
        }
        CHECK(strstr(serial, "ECID:00001A2B3C4D5E5") == NULL);   /* never a simulated phone */
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    libusb_exit(ctx);
}

int main(int argc, char **argv)
{
    build = getenv("REVIVE_BUILD_DIR");
    if (argc != 2 || !build) {
        fprintf(stderr, "usage: test_simusb_api list|hotplug|passthrough (REVIVE_BUILD_DIR set)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(argv[1], "passthrough")) {
        t_passthrough();
        printf("ok\n");
        return 0;
    }
    start_sim();
    if (!strcmp(argv[1], "list"))
        t_list();
    else if (!strcmp(argv[1], "hotplug"))
        t_hotplug();
    else
        CHECK(!"unknown subtest");
    stop();
    printf("ok\n");
    return 0;
}
