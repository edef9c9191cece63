/* test_usb_garbage: hostile clients on simdevd's usb socket never crash it.
 *
 * Starts simdevd (a recovery phone and a DFU phone) and throws at the usb socket: frames
 * with absurd lengths, bytes that are no plist, plists that are not dicts, requests with
 * missing or mistyped keys, handles used after the phone re-enumerated, DFU requests out
 * of order, then a few thousand seeded random frames. After each round a well-formed List
 * must still answer with both phones, and simdevd must still be running at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <plist/plist.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); fail(); } } while (0)

static char tmpdir[] = "/tmp/revive-usbg.XXXXXX";
static char sock_path[512];
static pid_t sim_pid;

static void stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = 0;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void fail(void)
{
    stop();
    exit(1);
}

static int dial(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_raw(int fd, const void *buf, size_t len)
{
    if (send(fd, buf, len, MSG_NOSIGNAL) < 0) {
        /* the daemon may hang up first: that is an allowed answer */
    }
}

static void send_frame(int fd, const void *buf, uint32_t len)
{
    unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                             (unsigned char)len };
    send_raw(fd, hdr, 4);
    send_raw(fd, buf, len);
}

static void send_plist(int fd, plist_t p)
{
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(p, &bin, &len);
    send_frame(fd, bin, len);
    free(bin);
}

static plist_t recv_plist(int fd)
{
    unsigned char hdr[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = recv(fd, hdr + got, 4 - got, 0);
        if (n <= 0)
            return NULL;
        got += (size_t)n;
    }
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0 || len > (1u << 24))
        return NULL;
    char *buf = malloc(len);
    got = 0;
    while (buf && got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    plist_t p = NULL;
    if (buf)
        plist_from_bin(buf, len, &p);
    free(buf);
    return p;
}

static plist_t req(const char *name)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "Request", plist_new_string(name));
    return r;
}

/* Both phones are still listed: simdevd is alive and serving. Returns the list. */
static plist_t list_ok(void)
{
    int fd = dial();
    CHECK(fd >= 0);
    plist_t r = req("List");
    send_plist(fd, r);
    plist_free(r);
    plist_t ans = recv_plist(fd);
    close(fd);
    CHECK(ans != NULL);
    plist_t devs = plist_dict_get_item(ans, "Devices");
    CHECK(devs && plist_get_node_type(devs) == PLIST_ARRAY);
    CHECK(plist_array_get_size(devs) == 2);
    return ans;
}

static uint64_t location_of(int i)
{
    plist_t l = list_ok();
    plist_t e = plist_array_get_item(plist_dict_get_item(l, "Devices"), (uint32_t)i);
    uint64_t loc = 0;
    plist_get_uint_val(plist_dict_get_item(e, "Location"), &loc);
    plist_free(l);
    return loc;
}

static int open_handle(uint64_t loc)
{
    int fd = dial();
    CHECK(fd >= 0);
    plist_t r = req("Open");
    plist_dict_set_item(r, "Location", plist_new_uint(loc));
    send_plist(fd, r);
    plist_free(r);
    plist_t a = recv_plist(fd);
    CHECK(a != NULL);
    CHECK(plist_dict_get_item(a, "Error") == NULL);
    plist_free(a);
    return fd;
}

/* Sends one request on a handle; returns the answer's Error (0 if none, -1 if hung up). */
static int64_t call(int fd, plist_t r)
{
    send_plist(fd, r);
    plist_free(r);
    plist_t a = recv_plist(fd);
    if (!a)
        return -1;
    uint64_t e = 0;
    plist_t en = plist_dict_get_item(a, "Error");
    if (en)
        plist_get_uint_val(en, &e);
    plist_free(a);
    return (int64_t)e;
}

static plist_t control(uint64_t rt, uint64_t rq, const char *data, uint64_t len, uint64_t want)
{
    plist_t r = req("Control");
    plist_dict_set_item(r, "RequestType", plist_new_uint(rt));
    plist_dict_set_item(r, "BRequest", plist_new_uint(rq));
    plist_dict_set_item(r, "Length", plist_new_uint(want));
    if (data)
        plist_dict_set_item(r, "Data", plist_new_data(data, len));
    return r;
}

static void start_sim(const char *build)
{
    CHECK(mkdtemp(tmpdir) != NULL);
    char scen[600];
    snprintf(scen, sizeof scen, "%s/s.json", tmpdir);
    FILE *f = fopen(scen, "w");
    CHECK(f != NULL);
    fputs("{\"name\":\"garbage\",\"time_scale\":100,\"devices\":["
          "{\"product_type\":\"iPhone12,1\",\"ecid\":\"0x1A2B3C4D5E80\",\"mode\":\"recovery\",\"nvram\":{\"auto-boot\":\"false\"}},"
          "{\"product_type\":\"iPhone12,1\",\"ecid\":\"0x1A2B3C4D5E81\",\"mode\":\"dfu\"}]}", f);
    fclose(f);
    snprintf(sock_path, sizeof sock_path, "%s/sim/usb.sock", tmpdir);
    char exe[600], dir[600];
    snprintf(exe, sizeof exe, "%s/simdevd", build);
    snprintf(dir, sizeof dir, "%s/sim", tmpdir);
    sim_pid = fork();
    CHECK(sim_pid >= 0);
    if (sim_pid == 0) {
        int null = open("/dev/null", 1);
        if (null >= 0)
            dup2(null, 1);
        execl(exe, exe, "--scenario", scen, "--dir", dir, "--foreground", "--quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int fd = dial();
        if (fd >= 0) {
            close(fd);
            return;
        }
        usleep(10000);
    }
    CHECK(!"simdevd did not start");
}

int main(void)
{
    const char *build = getenv("REVIVE_BUILD_DIR");
    if (!build) {
        fprintf(stderr, "REVIVE_BUILD_DIR is not set\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    start_sim(build);
    plist_free(list_ok());

    /* Framing: absurd lengths, zero length, a length with no body, not a plist. */
    static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 'b', 'p' };
    static const unsigned char zero[] = { 0, 0, 0, 0 };
    static const unsigned char short_hdr[] = { 0, 0 };
    const struct { const void *b; size_t n; } raw[] = {
        { huge, sizeof huge }, { zero, sizeof zero }, { short_hdr, sizeof short_hdr },
        { "\0\0\0\x10" "not a plist at all", 22 }, { "\0\0\0\x08" "bplist00", 12 },
        { "\0\0\0\x0c" "<plist><dict", 16 },
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        int fd = dial();
        CHECK(fd >= 0);
        send_raw(fd, raw[i].b, raw[i].n);
        shutdown(fd, SHUT_WR);
        plist_t a = recv_plist(fd);
        if (a)
            plist_free(a);
        close(fd);
    }
    plist_free(list_ok());

    /* Plists that are not requests. */
    plist_t odd[] = { plist_new_array(), plist_new_string("List"), plist_new_dict(), req("Fly"), NULL };
    plist_dict_set_item(odd[2], "Request", plist_new_uint(7));
    for (int i = 0; odd[i]; i++) {
        int fd = dial();
        CHECK(fd >= 0);
        send_plist(fd, odd[i]);
        plist_free(odd[i]);
        plist_t a = recv_plist(fd);
        if (a)
            plist_free(a);
        close(fd);
    }
    plist_free(list_ok());

    /* Open a location that does not exist: NO_DEVICE (4). */
    {
        int fd = dial();
        CHECK(fd >= 0);
        CHECK(call(fd, req("Open")) == 4);
        close(fd);
    }

    /* A recovery handle: mistyped keys, oversized lengths, bulk without an upload. */
    uint64_t rec = location_of(0);
    int h = open_handle(rec);
    plist_t bad = control(0x40, 0, NULL, 0, 0);
    plist_dict_set_item(bad, "Data", plist_new_string("not data"));
    CHECK(call(h, bad) == 2);                                    /* INVALID_PARAM, then hang-up */
    CHECK(call(h, req("String")) == -1);
    close(h);
    h = open_handle(rec);
    CHECK(call(h, control(0xC0, 0, NULL, 0, 1u << 20)) == 2);     /* > 0xFFFF: INVALID_PARAM */
    plist_t bulk = req("Bulk");
    plist_dict_set_item(bulk, "Endpoint", plist_new_uint(4));
    plist_dict_set_item(bulk, "Data", plist_new_data("x", 1));
    CHECK(call(h, bulk) == 9);                                   /* no upload started: PIPE */
    char line[300];
    memset(line, 'A', sizeof line);                              /* no NUL, longer than a line */
    CHECK(call(h, control(0x40, 0, line, sizeof line, 0)) == 0);
    CHECK(call(h, control(0x40, 0, "setenv a\"b c", 13, 0)) == 0);   /* refused, not crashed */
    CHECK(call(h, control(0x40, 0, "setenv", 7, 0)) == 0);
    CHECK(call(h, control(0x40, 0, "getenv", 7, 0)) == 0);
    CHECK(call(h, control(0x40, 0, "go", 3, 0)) == 0);           /* nothing uploaded */
    plist_t s = req("String");
    plist_dict_set_item(s, "Index", plist_new_uint(99));
    CHECK(call(h, s) == 9);
    /* reboot: the handle's enumeration is gone afterwards. */
    CHECK(call(h, control(0x40, 0, "reboot", 7, 0)) == 0);
    CHECK(call(h, control(0xC0, 0, NULL, 0, 255)) == 4);         /* NO_DEVICE */
    close(h);
    plist_free(list_ok());

    /* A DFU handle: out-of-order DFU requests, bad suffix, iBoot commands. */
    uint64_t dfu = location_of(1);
    h = open_handle(dfu);
    CHECK(call(h, control(0x40, 0, "reboot", 7, 0)) == 9);       /* SecureROM: stall */
    CHECK(call(h, control(0x21, 1, NULL, 0, 0)) == 9);           /* manifest with nothing */
    CHECK(call(h, control(0x21, 1, "abcd", 4, 0)) == 9);         /* still in dfuERROR */
    CHECK(call(h, control(0x21, 4, NULL, 0, 0)) == 0);           /* CLRSTATUS */
    CHECK(call(h, control(0x21, 1, "0123456789abcdefXYZ", 19, 0)) == 0);
    CHECK(call(h, control(0x21, 1, NULL, 0, 0)) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(call(h, control(0xA1, 3, NULL, 0, 6)) == 0);       /* ends in dfuERROR: bad CRC */
    plist_t rs = req("Reset");
    CHECK(call(h, rs) == 5);                                     /* re-enumerates, stays DFU */
    close(h);
    plist_free(list_ok());

    /* Random iBoot command lines on a recovery handle (no reboot-like commands, so the
     * phone stays on the bus), and random DFU requests on the DFU phone. */
    srand(4242);
    static const char *const verbs[] = { "getenv", "setenv", "saveenv", "go", "bootx", "bgcolor", "setpicture",
                                         "ramdisk", "devicetree", "printenv", "", "setenv auto-boot", "getenv \"" };
    h = open_handle(location_of(0));
    for (int i = 0; i < 400; i++) {
        char cmdline[400];
        int n = snprintf(cmdline, sizeof cmdline, "%s ", verbs[rand() % (int)(sizeof verbs / sizeof *verbs)]);
        int extra = rand() % 300;
        for (int k = 0; k < extra && n < (int)sizeof cmdline - 1; k++)
            cmdline[n++] = (char)(rand() % 3 ? 32 + rand() % 95 : rand() % 256);
        if (strstr(cmdline, "reboot") || strstr(cmdline, "reset") || strstr(cmdline, "fsboot"))
            continue;
        int64_t e = call(h, control(0x40, 0, cmdline, (uint64_t)n, 0));
        if (e == 0 && rand() % 4 == 0)
            e = call(h, control(0xC0, 0, NULL, 0, (uint64_t)(rand() % 300)));
        if (e == 4 || e < 0) {   /* re-enumerated (go) or hung up: open it again */
            close(h);
            h = open_handle(location_of(0));
        }
    }
    close(h);
    plist_free(list_ok());
    h = open_handle(location_of(1));
    for (int i = 0; i < 400; i++) {
        static const uint64_t rts[] = { 0x21, 0xA1, 0x40, 0xC0 };
        char data[3000];
        uint64_t len = (uint64_t)(rand() % 3 ? rand() % (int)sizeof data : 0);
        for (uint64_t k = 0; k < len; k++)
            data[k] = (char)rand();
        int64_t e = rand() % 40 == 0 ? call(h, req("Reset"))
                                     : call(h, control(rts[rand() % 4], (uint64_t)(rand() % 8), data, len,
                                                       (uint64_t)(rand() % 10)));
        if (e == 4 || e == 5 || e < 0) {
            close(h);
            h = open_handle(location_of(1));
        }
    }
    close(h);
    plist_free(list_ok());

    /* Random frames, seeded so a failure can be replayed. */
    srand(20261125);
    for (int round = 0; round < 300; round++) {
        int fd = dial();
        CHECK(fd >= 0);
        if (round % 3 == 0) {
            plist_t r = req("Open");
            plist_dict_set_item(r, "Location", plist_new_uint(location_of(rand() % 2)));
            send_plist(fd, r);
            plist_free(r);
            plist_t a = recv_plist(fd);
            if (a)
                plist_free(a);
        }
        unsigned char buf[512];
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)rand();
        if (round % 2)
            send_frame(fd, buf, (uint32_t)n);
        else
            send_raw(fd, buf, n);
        shutdown(fd, SHUT_WR);
        plist_t a = recv_plist(fd);
        if (a)
            plist_free(a);
        close(fd);
    }
    plist_free(list_ok());
    CHECK(kill(sim_pid, 0) == 0);
    stop();
    printf("ok\n");
    return 0;
}
