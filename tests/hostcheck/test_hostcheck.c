/* Host checks, driven through fake root directories (config host.sysroot) that each test
 * builds in a temp dir: the checks read them exactly as they read / on a user's machine. */
#include "config.h"
#include "hostcheck.h"
#include <revive/host.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libirecovery.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

static char root[256];

static void mkdirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    mkdir(p, 0755);
}

/* Write <root>/<rel> with content (parents made). */
static void put(const char *rel, const char *content)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    char d[1024];
    snprintf(d, sizeof d, "%s", p);
    *strrchr(d, '/') = '\0';
    mkdirs(d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/rv-hostcheck-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    rv_config_set("host.sysroot", root);
    unsetenv("USBMUXD_SOCKET_ADDRESS");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static bool has(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("'%s' not in '%s'\n", needle, hay);
        return false;
    }
    return true;
}

/* ---- power ---- */

static void power_ac_online(void **state)
{
    (void)state;
    put("sys/class/power_supply/AC/type", "Mains\n");
    put("sys/class/power_supply/AC/online", "1\n");
    put("sys/class/power_supply/BAT0/type", "Battery\n");
    put("sys/class/power_supply/BAT0/status", "Charging\n");
    put("sys/class/power_supply/BAT0/capacity", "80\n");
    rv_hostcheck c;
    rv_check_power(&c);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_string_equal(c.name, "power");
    assert_true(has(c.message, "on AC power (AC online"));
    assert_string_equal(c.remedy, "");
}

static void power_on_battery(void **state)
{
    (void)state;
    put("sys/class/power_supply/ACAD/type", "Mains\n");
    put("sys/class/power_supply/ACAD/online", "0\n");
    put("sys/class/power_supply/BAT1/type", "Battery\n");
    put("sys/class/power_supply/BAT1/status", "Discharging\n");
    put("sys/class/power_supply/BAT1/capacity", "42\n");
    rv_hostcheck c;
    rv_check_power(&c);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "on battery"));
    assert_true(has(c.message, "42%"));
    assert_true(has(c.remedy, "mains power"));
}

static void power_mouse_battery_does_not_count(void **state)
{
    (void)state;
    put("sys/class/power_supply/hidpp_battery_0/type", "Battery\n");
    put("sys/class/power_supply/hidpp_battery_0/scope", "Device\n");
    put("sys/class/power_supply/hidpp_battery_0/status", "Discharging\n");
    rv_hostcheck c;
    rv_check_power(&c);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_true(has(c.message, "desktop"));
    /* A UPS running on its battery is mains failing. */
    put("sys/class/power_supply/ups0/type", "UPS\n");
    put("sys/class/power_supply/ups0/status", "Discharging\n");
    rv_check_power(&c);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "UPS"));
}

static void power_no_supplies(void **state)
{
    (void)state;
    rv_hostcheck c;
    rv_check_power(&c);
    assert_int_equal(c.status, RV_CHECK_OK);
}

/* ---- USB topology ---- */

static void usb_dev(const char *port, const char *pid, const char *serial, const char *bus, const char *dev)
{
    char p[256];
    snprintf(p, sizeof p, "sys/bus/usb/devices/%s/idVendor", port);
    put(p, "05ac\n");
    snprintf(p, sizeof p, "sys/bus/usb/devices/%s/idProduct", port);
    put(p, pid);
    snprintf(p, sizeof p, "sys/bus/usb/devices/%s/serial", port);
    put(p, serial);
    snprintf(p, sizeof p, "sys/bus/usb/devices/%s/busnum", port);
    put(p, bus);
    snprintf(p, sizeof p, "sys/bus/usb/devices/%s/devnum", port);
    put(p, dev);
}

static void build_bench(void)
{
    /* A root hub, a phone on a root port in normal mode, a hub, a phone behind it in DFU,
     * an interface entry and a keyboard that must be ignored. */
    put("sys/bus/usb/devices/usb1/idVendor", "1d6b\n");
    put("sys/bus/usb/devices/1-3/idVendor", "05e3\n");
    put("sys/bus/usb/devices/1-3/product", "USB2.0 Hub\n");
    put("sys/bus/usb/devices/1-1/idVendor", "046d\n");
    usb_dev("1-2", "12a8\n", "00008030001A2B3C4D5E6F70\n", "1\n", "4\n");
    usb_dev("1-3.4", "1227\n", "CPID:8020 CPRV:11 CPFM:03 SCEP:01 BDID:0E ECID:000A1B2C3D4E5F60 IBFL:3C SRTG:[iBoot-3865.0.0.4.7]\n",
            "1\n", "7\n");
    put("sys/bus/usb/devices/1-3.4:1.0/idVendor", "05ac\n");
}

static void usb_phone_on_root_port(void **state)
{
    (void)state;
    build_bench();
    rv_usb_dev v[8];
    assert_int_equal(rv_usb_apple_devices(v, 8), 2);
    rv_hostcheck c;
    rv_check_usb_path(&c, "00008030-001A2B3C4D5E6F70", 0);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_true(has(c.message, "root port 1-2"));
    assert_true(has(c.message, "normal"));
}

static void usb_phone_behind_hub(void **state)
{
    (void)state;
    build_bench();
    rv_hostcheck c;
    rv_check_usb_path(&c, NULL, 0x000A1B2C3D4E5F60ull);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "port 1-3.4 behind 1 hub"));
    assert_true(has(c.message, "USB2.0 Hub"));
    assert_true(has(c.message, "dfu"));
    assert_true(has(c.remedy, "port on the computer itself"));
    /* Every Apple device at once (doctor): one is behind a hub. */
    rv_check_usb_path(&c, NULL, 0);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "root port 1-2"));
    /* Finding a phone's port for a prompt. */
    rv_usb_dev u;
    assert_true(rv_usb_find_device(NULL, 0x000A1B2C3D4E5F60ull, &u));
    assert_string_equal(u.port, "1-3.4");
    assert_int_equal(u.hubs, 1);
    assert_int_equal(u.pid, 0x1227);
    assert_int_equal(u.devnum, 7);
    assert_true(rv_usb_find_device("00008030001A2B3C4D5E6F70", 0, &u));
    assert_string_equal(u.port, "1-2");
    assert_false(rv_usb_find_device("00008030-FFFF", 0x99, &u));
    /* A phone that is not on this bus cannot be judged. */
    rv_check_usb_path(&c, NULL, 0x1234);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "not among the 2 Apple devices"));
}

static void usb_nothing_attached(void **state)
{
    (void)state;
    rv_hostcheck c;
    rv_check_usb_path(&c, NULL, 0);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_true(has(c.message, "no Apple device"));
    assert_string_equal(rv_usb_product_mode(0x1227), "dfu");
    assert_string_equal(rv_usb_product_mode(0x1281), "recovery");
    assert_string_equal(rv_usb_product_mode(0x12a8), "normal");
    assert_null(rv_usb_product_mode(0x0001));
}

/* ---- disk ---- */

static void disk_full_and_fine(void **state)
{
    (void)state;
    rv_hostcheck c;
    /* A need larger than any disk: a full disk. */
    rv_check_disk(&c, root, UINT64_MAX / 4, 0);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_true(has(c.remedy, "Free space"));
    rv_check_disk(&c, root, 1, 0);
    assert_int_equal(c.status, RV_CHECK_OK);
    /* Fits, but not with the margin. */
    rv_check_disk(&c, root, 1, UINT64_MAX / 4);
    assert_int_equal(c.status, RV_CHECK_WARN);
    /* A path not made yet is judged by its parent. */
    char p[512];
    snprintf(p, sizeof p, "%s/not/yet/made.ipsw", root);
    rv_check_disk(&c, p, 1, 0);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_true(has(c.message, root));
    /* Before a restore: at least 10 GB; a huge firmware cannot fit. */
    rv_check_restore_disk(&c, root, UINT64_MAX / 8);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_string_equal(c.name, "disk.restore");
}

/* ---- permissions ---- */

static rv_host_cred user(gid_t extra)
{
    rv_host_cred c;
    memset(&c, 0, sizeof c);
    c.uid = 4242; /* no such user: never listed in a group */
    c.gids[c.ngids++] = 4242;
    if (extra != (gid_t)-1)
        c.gids[c.ngids++] = extra;
    return c;
}

static const char *access_group(gid_t *gid)
{
    struct group *g = getgrnam("plugdev");
    if (!g)
        g = getgrgid(0);
    assert_non_null(g);
    *gid = g->gr_gid;
    return g->gr_name;
}

static void access_missing_rules(void **state)
{
    (void)state;
    rv_host_cred c = user((gid_t)-1);
    rv_hostcheck chk;
    rv_check_usb_access_as(&chk, &c);
    assert_int_equal(chk.status, RV_CHECK_FAIL);
    assert_string_equal(chk.name, "usb.access");
    assert_true(has(chk.message, "no udev rule"));
    assert_true(has(chk.remedy, "60-revive.rules"));
    /* usbmuxd's rule (normal mode only, an OWNER) does not grant recovery/DFU. */
    put("lib/udev/rules.d/39-usbmuxd.rules",
        "SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", ENV{PRODUCT}==\"5ac/12[9a][0-9a-f]/*|5ac/8600/*\", "
        "ACTION==\"add\", OWNER=\"usbmux\"\n");
    rv_check_usb_access_as(&chk, &c);
    assert_int_equal(chk.status, RV_CHECK_FAIL);
    /* Root needs no rule. */
    c.uid = 0;
    rv_check_usb_access_as(&chk, &c);
    assert_int_equal(chk.status, RV_CHECK_OK);
}

static void access_group_rule(void **state)
{
    (void)state;
    gid_t gid;
    const char *grp = access_group(&gid);
    char rule[512];
    snprintf(rule, sizeof rule,
             "# revive\nSUBSYSTEM==\"usb\", ATTR{idVendor}==\"05ac\", ATTR{idProduct}==\"1227|128[0-3]\", "
             "MODE=\"0660\", GROUP=\"%s\"\n", grp);
    put("etc/udev/rules.d/60-revive.rules", rule);
    rv_host_cred out = user((gid_t)-1), in = user(gid);
    rv_hostcheck chk;
    rv_check_usb_access_as(&chk, &out);
    assert_int_equal(chk.status, RV_CHECK_FAIL);
    assert_true(has(chk.message, "you are not in it"));
    assert_true(has(chk.remedy, "usermod -aG"));
    rv_check_usb_access_as(&chk, &in);
    assert_int_equal(chk.status, RV_CHECK_OK);
    assert_true(has(chk.message, "60-revive.rules"));

    /* A phone in recovery is attached; its node must be open to a group the user is in.
     * The node keeps the owner and group the test runner gave it (no chown: CI is not
     * root); the user is given that group. */
    usb_dev("2-1", "1281\n", "CPID:8030 BDID:04 ECID:0011223344556677\n", "2\n", "9\n");
    put("dev/bus/usb/002/009", "");
    char node[512];
    snprintf(node, sizeof node, "%s/dev/bus/usb/002/009", root);
    struct stat st;
    assert_int_equal(stat(node, &st), 0);
    in.gids[in.ngids++] = st.st_gid;
    assert_int_equal(chmod(node, 0600), 0);
    rv_check_usb_access_as(&chk, &in);
    assert_int_equal(chk.status, RV_CHECK_FAIL);
    assert_true(has(chk.message, "recovery mode on port 2-1 cannot be opened"));
    assert_true(has(chk.remedy, "replug"));
    assert_int_equal(chmod(node, 0660), 0);
    rv_check_usb_access_as(&chk, &in);
    assert_int_equal(chk.status, RV_CHECK_OK);
    assert_true(has(chk.message, "attached devices checked"));
}

/* The rule revive ships (dist/udev) grants recovery and DFU to plugdev. */
static void access_shipped_rule(void **state)
{
    (void)state;
    const char *src = getenv("REVIVE_SOURCE_DIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/dist/udev/60-revive.rules", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    put("etc/udev/rules.d/60-revive.rules", text);
    struct group *g = getgrnam("plugdev");
    if (!g)
        skip();
    rv_host_cred out = user((gid_t)-1), in = user(g->gr_gid);
    rv_hostcheck chk;
    rv_check_usb_access_as(&chk, &out);
    assert_int_equal(chk.status, RV_CHECK_FAIL);
    assert_true(has(chk.message, "group plugdev"));
    rv_check_usb_access_as(&chk, &in);
    assert_int_equal(chk.status, RV_CHECK_OK);
    /* And uaccess for the person at the seat. */
    out.local_session = true;
    rv_check_usb_access_as(&chk, &out);
    assert_int_equal(chk.status, RV_CHECK_OK);
}

static void access_uaccess_and_missing_group(void **state)
{
    (void)state;
    put("lib/udev/rules.d/39-libirecovery.rules",
        "ACTION==\"add\", SUBSYSTEM==\"usb\", ATTR{idVendor}==\"05ac\", ATTR{idProduct}==\"122[27]|128[0-3]\", TAG+=\"uaccess\"\n");
    rv_host_cred c = user((gid_t)-1);
    rv_hostcheck chk;
    rv_check_usb_access_as(&chk, &c);
    assert_int_equal(chk.status, RV_CHECK_WARN);
    assert_true(has(chk.message, "uaccess"));
    c.local_session = true;
    rv_check_usb_access_as(&chk, &c);
    assert_int_equal(chk.status, RV_CHECK_OK);

    c.local_session = false;
    put("etc/udev/rules.d/60-other.rules",
        "SUBSYSTEM==\"usb\", ATTRS{idVendor}==\"05ac\", GROUP=\"revive-no-such-group\", MODE=\"0660\"\n");
    rv_check_usb_access_as(&chk, &c);
    assert_int_equal(chk.status, RV_CHECK_FAIL);
    assert_true(has(chk.message, "does not exist"));
}

/* ---- usbmuxd ---- */

static int listen_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void usbmuxd_states(void **state)
{
    (void)state;
    rv_hostcheck c;
    rv_check_usbmuxd(&c);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_true(has(c.message, "not installed"));
    assert_true(has(c.remedy, "apt install usbmuxd"));

    put("usr/sbin/usbmuxd", "");
    rv_check_usbmuxd(&c);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_true(has(c.message, "idle"));

    /* A phone in normal mode is attached and usbmuxd does not answer. */
    usb_dev("1-2", "12a8\n", "00008030001A2B3C4D5E6F70\n", "1\n", "4\n");
    rv_check_usbmuxd(&c);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_true(has(c.remedy, "systemctl restart usbmuxd"));
    assert_true(has(c.message, "although 1 phone in normal mode is attached"));

    char sock[512];
    snprintf(sock, sizeof sock, "%s/var/run", root);
    mkdirs(sock);
    snprintf(sock, sizeof sock, "%s/var/run/usbmuxd", root);
    int fd = listen_unix(sock);
    rv_check_usbmuxd(&c);
    assert_int_equal(c.status, RV_CHECK_OK);
    assert_true(has(c.message, "answers"));
    close(fd);

    /* USBMUXD_SOCKET_ADDRESS wins, as libusbmuxd reads it. */
    char env[600];
    snprintf(env, sizeof env, "UNIX:%s/muxd.sock", root);
    setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
    rv_check_usbmuxd(&c);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_true(has(c.message, "does not answer"));
    snprintf(sock, sizeof sock, "%s/muxd.sock", root);
    fd = listen_unix(sock);
    rv_check_usbmuxd(&c);
    assert_int_equal(c.status, RV_CHECK_OK);
    close(fd);
    unsetenv("USBMUXD_SOCKET_ADDRESS");
}

/* ---- sleep inhibition ---- */

static void sleep_inhibit_degrades(void **state)
{
    (void)state;
    rv_hostcheck c;
    rv_config_set("host.libsystemd", "/nonexistent/libsystemd.so.0");
    rv_check_sleep_inhibit(&c);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "libsystemd"));
    assert_true(has(c.remedy, "systemd-inhibit"));
    assert_null(rv_inhibit_take("test", &c));
    rv_config_set("host.libsystemd", "libsystemd.so.0");

    /* No system bus where DBUS_SYSTEM_BUS_ADDRESS points. */
    char addr[600];
    snprintf(addr, sizeof addr, "unix:path=%s/no-bus", root);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1);
    rv_check_sleep_inhibit(&c);
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_true(has(c.message, "system bus"));
}

/* ---- versions ---- */

static void version_compare(void **state)
{
    (void)state;
    assert_int_equal(rv_version_compare("1.0.0", "1.0.0"), 0);
    assert_int_equal(rv_version_compare("1.0.0-3+b1", "1.0.0"), 0);
    assert_int_equal(rv_version_compare("1.0.0-271-g8a8d1a1", "1.0.0"), 1);
    assert_int_equal(rv_version_compare("1.0.0+git20230513-1", "1.0.0"), 1);
    assert_int_equal(rv_version_compare("1.3.0", "1.3.1"), -1);
    assert_int_equal(rv_version_compare("2.2.0", "1.9.9"), 1);
    assert_int_equal(rv_version_compare("0.9", "1.0.0"), -1);
}

static void write_tool(const char *name, const char *out)
{
    char p[512], text[512];
    snprintf(text, sizeof text, "#!/bin/sh\necho '%s'\n", out);
    snprintf(p, sizeof p, "tools/%s", name);
    put(p, text);
    snprintf(p, sizeof p, "%s/tools/%s", root, name);
    assert_int_equal(chmod(p, 0755), 0);
    rv_config_set("usb.idevicerestore", p);
}

static const rv_hostcheck *find(const rv_hostcheck *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static void versions_and_limits(void **state)
{
    (void)state;
    static rv_hostcheck v[RV_VERSION_CHECKS];
    write_tool("idevicerestore", "idevicerestore 1.0.0");
    size_t n = rv_check_versions(v, RV_VERSION_CHECKS);
    assert_int_equal(n, RV_VERSION_CHECKS);
    const rv_hostcheck *c = find(v, n, "versions.idevicerestore");
    assert_non_null(c);
    assert_int_equal(c->status, RV_CHECK_WARN);
    assert_true(has(c->message, "iOS 14.5"));
    for (const char *const *lib = (const char *const[]){ "versions.libimobiledevice", "versions.libusbmuxd",
                                                          "versions.libplist", NULL }; *lib; lib++) {
        c = find(v, n, *lib);
        assert_non_null(c);
        assert_int_equal(c->status, RV_CHECK_OK);
        assert_null(strstr(c->message, "unknown"));
    }

    /* libirecovery: exactly the models its own table lacks. */
    size_t expect = 0;
    const rv_model *first = NULL;
    for (size_t i = 0; i < rv_model_count(); i++) {
        const rv_model *m = rv_model_at(i);
        bool known = false;
        for (irecv_device_t d = irecv_devices_get_all(); d->product_type && !known; d++)
            known = d->chip_id == m->cpid && d->board_id == m->bdid && strcasecmp(d->hardware_model, m->board) == 0;
        if (!known && !first)
            first = m;
        expect += !known;
    }
    const rv_model *unknown[256];
    assert_int_equal(rv_irecovery_unknown_models(unknown, 256), expect);
    c = find(v, n, "versions.libirecovery");
    assert_non_null(c);
    if (expect) {
        assert_int_equal(c->status, RV_CHECK_WARN);
        assert_ptr_equal(unknown[0], first);
        assert_true(has(c->message, first->product_type));
        assert_true(has(c->remedy, "newer libirecovery"));
    } else {
        assert_int_equal(c->status, RV_CHECK_OK);
    }
    /* libirecovery 1.0.0 (Debian 12) knows the iPhone 11 and not the iPhone 12. */
    irecv_device_t d = NULL;
    if (irecv_devices_get_device_by_product_type("iPhone13,2", &d) != IRECV_E_SUCCESS) {
        bool seen = false;
        for (size_t i = 0; i < expect && i < 256; i++)
            seen = seen || strcmp(unknown[i]->product_type, "iPhone13,2") == 0;
        assert_true(seen);
    }

    write_tool("idevicerestore", "idevicerestore 1.0.0-271-g8a8d1a1");
    n = rv_check_versions(v, RV_VERSION_CHECKS);
    c = find(v, n, "versions.idevicerestore");
    assert_int_equal(c->status, RV_CHECK_OK);
    assert_true(has(c->message, "1.0.0-271-g8a8d1a1"));

    char missing[512];
    snprintf(missing, sizeof missing, "%s/tools/none", root);
    rv_config_set("usb.idevicerestore", missing);
    n = rv_check_versions(v, RV_VERSION_CHECKS);
    c = find(v, n, "versions.idevicerestore");
    assert_int_equal(c->status, RV_CHECK_FAIL);
    assert_true(has(c->remedy, "usb.idevicerestore"));
}

/* ---- device facts ---- */

static void device_battery_and_storage(void **state)
{
    (void)state;
    rv_hostcheck c;
    rv_check_device_battery(&c, 3, false, 20);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_true(has(c.message, "3%"));
    assert_true(has(c.remedy, "at least 20%"));
    rv_check_device_battery(&c, 3, true, 20);
    assert_int_equal(c.status, RV_CHECK_WARN);
    rv_check_device_battery(&c, 20, false, 20);
    assert_int_equal(c.status, RV_CHECK_OK);
    rv_check_device_battery(&c, -1, false, 20);
    assert_int_equal(c.status, RV_CHECK_WARN);
    assert_string_equal(c.name, "device.battery");
    rv_check_device_storage(&c, 1000, 2000);
    assert_int_equal(c.status, RV_CHECK_FAIL);
    assert_string_equal(c.name, "device.storage");
    rv_check_device_storage(&c, 2000, 2000);
    assert_int_equal(c.status, RV_CHECK_OK);
}

/* ---- directories and all ---- */

static void dirs_and_all(void **state)
{
    (void)state;
    rv_hostcheck c;
    rv_check_dir(&c, REVIVE_DIR_STATE);
    assert_string_equal(c.name, "dirs.state");
    assert_true(has(c.message, "is writable"));
    assert_int_not_equal(c.status, RV_CHECK_FAIL);
    static rv_hostcheck all[RV_HOST_CHECKS_MAX];
    size_t n = rv_host_checks_all(all, RV_HOST_CHECKS_MAX);
    assert_true(n >= 12);
    static const char *const names[] = { "dirs.cache", "dirs.state", "power", "sleep.inhibit", "usbmuxd",
                                         "usb.access", "usb.path", "versions.libirecovery", "versions.idevicerestore" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const rv_hostcheck *x = find(all, n, names[i]);
        if (!x)
            print_error("missing check %s\n", names[i]);
        assert_non_null(x);
        assert_true(x->message[0] != '\0');
        if (x->status != RV_CHECK_OK)
            assert_true(x->remedy[0] != '\0'); /* every problem says what to do */
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    /* revive's own directories go to a temp home, not the user's. */
    char home[] = "/tmp/rv-hostcheck-home-XXXXXX";
    if (!mkdtemp(home))
        return 1;
    char p[128];
    snprintf(p, sizeof p, "%s/state", home);
    setenv("XDG_STATE_HOME", p, 1);
    snprintf(p, sizeof p, "%s/cache", home);
    setenv("XDG_CACHE_HOME", p, 1);
    const struct CMUnitTest tests[] = {
        T(power_ac_online), T(power_on_battery), T(power_mouse_battery_does_not_count), T(power_no_supplies),
        T(usb_phone_on_root_port), T(usb_phone_behind_hub), T(usb_nothing_attached),
        T(disk_full_and_fine),
        T(access_missing_rules), T(access_group_rule), T(access_shipped_rule), T(access_uaccess_and_missing_group),
        T(usbmuxd_states), T(sleep_inhibit_degrades),
        T(version_compare), T(versions_and_limits), T(device_battery_and_storage), T(dirs_and_all),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
