/* Hostile clients: garbage, truncated and oversized usbmux, lockdown and control messages,
 * then a seeded mutation fuzz of valid messages. After every case simdevd must still be
 * running and answer the next client (ListDevices and a lockdown QueryType). */
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void still_serving(const char *after)
{
    CHECK(simd_alive(&sim), "simdevd died after %s", after);
    CHECK(mux_list(&sim, NULL) == 1, "ListDevices fails after %s", after);
    CHECK(ld_query_ok(&sim) == 0, "lockdown QueryType fails after %s", after);
}

static int mux_fd(void)
{
    int fd = unix_connect(sim.mux);
    if (fd < 0) {
        fprintf(stderr, "cannot connect to usbmuxd socket\n");
        exit(1);
    }
    return fd;
}

/* Half-closes and reads whatever comes back until simdevd closes its side too, so the
 * daemon has dealt with the message before the next case runs. */
static void drain_and_close(int fd)
{
    shutdown(fd, SHUT_WR);
    char junk[512];
    for (int i = 0; i < 200; i++) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 2000) <= 0 || read(fd, junk, sizeof junk) <= 0)
            break;
    }
    close(fd);
}

static void raw_and_close(const void *buf, size_t len)
{
    int fd = mux_fd();
    write_all(fd, buf, len);
    drain_and_close(fd);
}

static plist_t msg(const char *type)
{
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "MessageType", plist_new_string(type));
    return p;
}

/* Sends one plist-typed payload and returns the Result number (or -1). */
static long mux_ask_raw(int fd, const void *payload, uint32_t len)
{
    mux_send(fd, 1, 8, 7, payload, len);
    plist_t r = mux_recv_plist(fd, 2000);
    long n = mux_result(r);
    plist_free(r);
    return n;
}

static long mux_ask(plist_t p)
{
    int fd = mux_fd();
    mux_send_plist(fd, 9, p);
    plist_t r = mux_recv_plist(fd, 2000);
    long n = mux_result(r);
    plist_free(r);
    plist_free(p);
    close(fd);
    return n;
}

static void usbmux_cases(void)
{
    char noise[1000];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)(i * 131 + 7);
    raw_and_close(noise, sizeof noise);
    still_serving("random bytes on usbmux");

    uint32_t huge[4] = { 0xFFFFFFFFu, 1, 8, 1 };
    raw_and_close(huge, sizeof huge);
    still_serving("a 4 GiB usbmux length");

    uint32_t tiny[4] = { 5, 1, 8, 1 };
    raw_and_close(tiny, sizeof tiny);
    still_serving("a usbmux length shorter than the header");

    uint32_t trunc[6] = { 1000, 1, 8, 1, 0x6c6d783c, 0x3e };
    raw_and_close(trunc, sizeof trunc);
    still_serving("a truncated usbmux payload");

    raw_and_close(huge, 7);
    still_serving("a truncated usbmux header");

    /* The errors a usbmuxd gives, on a connection that stays usable. */
    int fd = mux_fd();
    CHECK(mux_ask_raw(fd, "hello", 5) == 1, "a non-plist payload is not BADCOMMAND");
    CHECK(mux_ask_raw(fd, "bplist00\xff\xff\xff", 11) == 1, "binary junk is not BADCOMMAND");
    const char arr[] = "<?xml version=\"1.0\"?><plist version=\"1.0\"><array><integer>1</integer></array></plist>";
    CHECK(mux_ask_raw(fd, arr, sizeof arr - 1) == 1, "a plist array is not BADCOMMAND");
    const char unk[] = "<plist version=\"1.0\"><dict><key>MessageType</key><string>Explode</string></dict></plist>";
    CHECK(mux_ask_raw(fd, unk, sizeof unk - 1) == 1, "an unknown MessageType is not BADCOMMAND");
    plist_t l = msg("ListDevices");
    mux_send_plist(fd, 3, l);
    plist_free(l);
    plist_t r = mux_recv_plist(fd, 2000);
    CHECK(r && plist_dict_get_item(r, "DeviceList"), "the connection did not survive the bad requests");
    plist_free(r);
    uint32_t v0[6] = { 24, 0, 2, 5, 1, 0 };   /* version 0 binary Connect */
    write_all(fd, v0, sizeof v0);
    r = mux_recv_plist(fd, 2000);
    CHECK(mux_result(r) == 6, "a version 0 message does not get BADVERSION");
    plist_free(r);
    close(fd);

    plist_t c = msg("Connect");
    plist_dict_set_item(c, "DeviceID", plist_new_uint(4242));
    plist_dict_set_item(c, "PortNumber", plist_new_uint(htons(62078)));
    CHECK(mux_ask(c) == 2, "Connect to an unknown device is not BADDEV");
    uint32_t id = 0;
    mux_list(&sim, &id);
    c = msg("Connect");
    plist_dict_set_item(c, "DeviceID", plist_new_uint(id));
    plist_dict_set_item(c, "PortNumber", plist_new_uint(htons(1234)));
    CHECK(mux_ask(c) == 3, "Connect to a closed port is not CONNREFUSED");
    c = msg("Connect");
    plist_dict_set_item(c, "DeviceID", plist_new_string("one"));
    CHECK(mux_ask(c) == 1, "Connect with a string DeviceID is not BADCOMMAND");

    plist_t pr = msg("ReadPairRecord");
    plist_dict_set_item(pr, "PairRecordID", plist_new_string("../../../etc/passwd"));
    CHECK(mux_ask(pr) == 1, "a path in PairRecordID is not refused");
    pr = msg("SavePairRecord");
    plist_dict_set_item(pr, "PairRecordID", plist_new_string("ABCD"));
    plist_dict_set_item(pr, "PairRecordData", plist_new_data("not a plist", 11));
    CHECK(mux_ask(pr) > 0, "a pair record that is not a plist was saved");
    pr = msg("SavePairRecord");
    plist_dict_set_item(pr, "PairRecordID", plist_new_string("ABCD"));
    CHECK(mux_ask(pr) == 1, "SavePairRecord without data is not BADCOMMAND");
    pr = msg("ReadPairRecord");
    plist_dict_set_item(pr, "PairRecordID", plist_new_string("ABCD"));
    CHECK(mux_ask(pr) == 2, "reading a missing pair record is not ENOENT");
    still_serving("bad usbmux requests");
}

static int ld_fd(void)
{
    uint32_t id = 0;
    if (mux_list(&sim, &id) < 1)
        return -1;
    return mux_connect(&sim, id, 62078, NULL);
}

static char *error_of(plist_t r)
{
    plist_t e = r ? plist_dict_get_item(r, "Error") : NULL;
    char *s = NULL;
    if (e && plist_get_node_type(e) == PLIST_STRING)
        plist_get_string_val(e, &s);
    return s;
}

/* Sends p on lockdown and returns the Error string of the reply (NULL if none). */
static char *ld_error(int fd, plist_t p)
{
    ld_send(fd, p);
    plist_free(p);
    plist_t r = ld_recv(fd, 2000);
    char *e = error_of(r);
    plist_free(r);
    return e;
}

static plist_t req(const char *name)
{
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "Request", plist_new_string(name));
    return p;
}

static void expect_error(int fd, plist_t p, const char *want, const char *what)
{
    char *e = ld_error(fd, p);
    CHECK(e && strcmp(e, want) == 0, "%s: expected error %s, got %s", what, want, e ? e : "(none)");
    free(e);
}

static void lockdown_cases(void)
{
    static const uint32_t lens[] = { 0, 0x7FFFFFFF, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        int fd = ld_fd();
        CHECK(fd >= 0, "cannot reach lockdown");
        uint32_t be = htonl(lens[i]);
        write_all(fd, &be, 4);
        char junk[8];
        read_all(fd, junk, sizeof junk, 200);
        close(fd);
        still_serving("a lockdown frame with an absurd length");
    }
    int fd = ld_fd();
    uint32_t be = htonl(100);
    write_all(fd, &be, 4);
    write_all(fd, "<plist>", 7);
    close(fd);
    still_serving("a truncated lockdown frame");

    fd = ld_fd();
    be = htonl(9);
    write_all(fd, &be, 4);
    write_all(fd, "garbage!!", 9);
    char junk[8];
    read_all(fd, junk, sizeof junk, 200);
    close(fd);
    still_serving("a lockdown frame that is not a plist");

    fd = ld_fd();
    expect_error(fd, plist_new_array(), "InvalidRequest", "a plist array");
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "Request", plist_new_uint(5));
    expect_error(fd, p, "InvalidRequest", "a numeric Request");
    expect_error(fd, req("Explode"), "InvalidRequest", "an unknown request");
    expect_error(fd, req("StartService"), "MissingService", "StartService without a name");
    p = req("StartService");
    plist_dict_set_item(p, "Service", plist_new_string("com.apple.mobile.diagnostics_relay"));
    expect_error(fd, p, "InvalidHostID", "StartService without a session");
    expect_error(fd, req("StopSession"), "SessionInactive", "StopSession without a session");
    p = req("StartSession");
    plist_dict_set_item(p, "HostID", plist_new_string("NOT-A-KNOWN-HOST"));
    expect_error(fd, p, "InvalidHostID", "StartSession from an unknown host");
    p = req("Pair");
    plist_dict_set_item(p, "PairRecord", plist_new_string("x"));
    expect_error(fd, p, "InvalidPairRecord", "Pair with a bad PairRecord");
    p = req("GetValue");
    plist_dict_set_item(p, "Domain", plist_new_string("com.apple.nothing"));
    expect_error(fd, p, "MissingValue", "GetValue of an unknown domain");
    p = req("GetValue");
    plist_dict_set_item(p, "Key", plist_new_string("SerialNumber"));
    expect_error(fd, p, "GetProhibited", "GetValue of a private key without a session");
    p = req("GetValue");
    plist_dict_set_item(p, "Key", plist_new_uint(3));
    ld_send(fd, p);   /* a numeric Key reads as no key: the public dictionary */
    plist_free(p);
    plist_t r = ld_recv(fd, 2000);
    CHECK(r && plist_dict_get_item(r, "Value"), "GetValue with a numeric Key got no answer");
    plist_free(r);
    close(fd);
    still_serving("bad lockdown requests");
}

/* libplist 2.2 recurses per nesting level (reading binary, freeing any): deep nesting must be
 * refused, not parsed. */
static void deep_nesting_cases(void)
{
    size_t n = 1000000;   /* 15 MB: under lockdown's 16 MiB limit; freeing it recurses 1e6 deep */
    char *xml = malloc(n * 15 + 64);
    char *p = xml;
    p += sprintf(p, "<plist version=\"1.0\">");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "<array>");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "</array>");
    p += sprintf(p, "</plist>");
    size_t len = (size_t)(p - xml);
    /* usbmux messages stop at 1 MiB: 140000 opening tags and no closing ones fit. */
    int fd = mux_fd();
    CHECK(mux_ask_raw(fd, xml, 20 + 140000 * 7) == 1, "deeply nested usbmux plist is not BADCOMMAND");
    close(fd);
    still_serving("a deeply nested usbmux plist");
    fd = ld_fd();
    uint32_t be = htonl((uint32_t)len);
    write_all(fd, &be, 4);
    write_all(fd, xml, len);
    drain_and_close(fd);
    free(xml);
    still_serving("a deeply nested lockdown XML plist");

    /* binary: a chain of n one-element arrays, 4-byte refs and offsets */
    n = 400000;
    size_t cap = 8 + n * 5 + n * 4 + 32;
    unsigned char *b = calloc(1, cap);
    size_t off = 8, table;
    memcpy(b, "bplist00", 8);
    uint32_t *offs = malloc(n * sizeof *offs);
    for (size_t i = 0; i < n; i++) {
        offs[i] = (uint32_t)off;
        if (i == n - 1) {
            b[off++] = 0xA0;
        } else {
            b[off++] = 0xA1;
            uint32_t r = htonl((uint32_t)(i + 1));
            memcpy(b + off, &r, 4);
            off += 4;
        }
    }
    table = off;
    for (size_t i = 0; i < n; i++) {
        uint32_t o = htonl(offs[i]);
        memcpy(b + off, &o, 4);
        off += 4;
    }
    unsigned char *t = b + off;
    t[6] = 4;
    t[7] = 4;
    for (int i = 0; i < 8; i++) {
        t[8 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        t[24 + i] = (unsigned char)((uint64_t)table >> (56 - 8 * i));
    }
    off += 32;
    fd = ld_fd();
    be = htonl((uint32_t)off);
    write_all(fd, &be, 4);
    write_all(fd, b, off);
    drain_and_close(fd);
    free(offs);
    free(b);
    still_serving("a deeply nested lockdown binary plist");
}

static void control_cases(void)
{
    char out[4096];
    CHECK(ctl_request(&sim, "this is not json", out, sizeof out) == 0 && strstr(out, "\"ok\":false"),
          "garbage on the control socket got no error");
    CHECK(ctl_request(&sim, "[1,2,3]", out, sizeof out) == 0 && strstr(out, "\"ok\":false"), "array request");
    CHECK(ctl_request(&sim, "{\"cmd\":\"explode\"}", out, sizeof out) == 0 && strstr(out, "unknown command"),
          "unknown command");
    CHECK(ctl_request(&sim, "{\"cmd\":\"set\",\"device\":-1,\"battery\":5}", out, sizeof out) == 0 &&
          strstr(out, "no such device"), "negative device");
    CHECK(ctl_request(&sim, "{\"cmd\":\"set\",\"device\":\"zz\"}", out, sizeof out) == 0 && strstr(out, "no such device"),
          "bad device name");
    CHECK(ctl_request(&sim, "{\"cmd\":\"set\",\"battery\":\"full\"}", out, sizeof out) == 0 &&
          strstr(out, "bad value"), "bad battery value");
    CHECK(ctl_request(&sim, "{\"cmd\":\"set\",\"mode\":\"normal\",\"warp\":1}", out, sizeof out) == 0 &&
          strstr(out, "unknown field"), "unknown set field");
    CHECK(ctl_request(&sim, "{\"cmd\":\"trust\"}", out, sizeof out) == 0 && strstr(out, "no \\\"Trust"),
          "trust with no dialog");
    CHECK(ctl_request(&sim, "{\"cmd\":\"wait\",\"mode\":\"dfu\",\"timeout\":0.05}", out, sizeof out) == 0 &&
          strstr(out, "timed out"), "wait timeout");
    int fd = unix_connect(sim.ctl);
    char *big = malloc(300 * 1024);
    memset(big, 'x', 300 * 1024);
    write_all(fd, big, 300 * 1024);
    free(big);
    close(fd);
    still_serving("control messages");
    CHECK(ctl_request(&sim, "{\"cmd\":\"state\"}", out, sizeof out) == 0 && strstr(out, "\"mode\":\"normal\""),
          "state after the bad control requests");
}

/* Seeded mutations of valid messages: flip bytes, truncate, splice. */
static unsigned long long rng = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static size_t mutate(char *buf, size_t len, size_t cap)
{
    unsigned k = 1 + rnd(8);
    for (unsigned i = 0; i < k; i++) {
        switch (rnd(4)) {
        case 0: buf[rnd((unsigned)len)] = (char)rnd(256); break;
        case 1: len = 1 + rnd((unsigned)len); break;
        case 2: if (len + 8 < cap) { memmove(buf + 8, buf, len); len += 8; } break;
        default: buf[rnd((unsigned)len)] ^= (char)(1u << rnd(8)); break;
        }
    }
    return len;
}

static void fuzz(int rounds)
{
    static const char *mux_types[] = { "ListDevices", "ReadBUID", "ReadPairRecord", "Connect", "Listen" };
    static const char *ld_reqs[] = { "QueryType", "GetValue", "StartSession", "Pair", "ValidatePair", "StartService" };
    uint32_t id = 0;
    mux_list(&sim, &id);
    for (int i = 0; i < rounds; i++) {
        plist_t p = msg(mux_types[rnd(5)]);
        plist_dict_set_item(p, "PairRecordID", plist_new_string("00008030-00001A2B3C4D5E6F"));
        plist_dict_set_item(p, "DeviceID", plist_new_uint(id));
        plist_dict_set_item(p, "PortNumber", plist_new_uint(htons(62078)));
        char *xml = NULL;
        uint32_t len = 0;
        plist_to_xml(p, &xml, &len);
        plist_free(p);
        char buf[4096 + 16];
        uint32_t h[4] = { 16 + len, 1, 8, 1 };
        memcpy(buf, h, 16);
        memcpy(buf + 16, xml, len);
        free(xml);
        size_t n = mutate(buf, 16 + len, sizeof buf);
        raw_and_close(buf, n);

        int fd = mux_connect(&sim, id, 62078, NULL);
        if (fd >= 0) {
            plist_t q = req(ld_reqs[rnd(6)]);
            plist_dict_set_item(q, "Domain", plist_new_string("com.apple.mobile.battery"));
            plist_dict_set_item(q, "Service", plist_new_string("com.apple.mobile.notification_proxy"));
            plist_dict_set_item(q, "HostID", plist_new_string("1234"));
            plist_t rec = plist_new_dict();
            plist_dict_set_item(rec, "HostID", plist_new_string("5678"));
            plist_dict_set_item(q, "PairRecord", rec);
            plist_to_xml(q, &xml, &len);
            plist_free(q);
            uint32_t be = htonl(len);
            memcpy(buf, &be, 4);
            memcpy(buf + 4, xml, len);
            free(xml);
            n = mutate(buf, 4 + len, sizeof buf);
            write_all(fd, buf, n);
            drain_and_close(fd);
        }
        if (i % 50 == 49)
            still_serving("fuzzed messages");
    }
    still_serving("the fuzz rounds");
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
    still_serving("start");
    usbmux_cases();
    lockdown_cases();
    deep_nesting_cases();
    control_cases();
    const char *r = getenv("SIM_FUZZ_ROUNDS");
    fuzz(r ? atoi(r) : 1000);
    simd_stop(&sim);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
