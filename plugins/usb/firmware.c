/*
 * firmware.c — restore method "firmware": runs idevicerestore as a child process.
 *
 * Before starting, we find out what the installed idevicerestore can do and say so
 * instead of letting it fail half-way: its version (`--version`), the iOS version of the
 * IPSW (BuildManifest.plist) against Debian's 1.0.0 limit (it cannot restore iOS 14.5 and
 * later), whether the device's model is one its libirecovery 1.0.0 knows (nothing after
 * the iPhone 11 generation), and whether the IPSW names the device's product type.
 *
 * Then: `idevicerestore -y [-e] -i <ECID> <IPSW>` (posix_spawn) in its own process group, stdout and
 * stderr on one pipe, read line by line (progress bars end in \r) into firmware_parse.c,
 * which gives steps (host->progress phase "firmware:<step>", unit "percent") and the
 * error class for its failures. The last lines travel in the error message and in the
 * result "last_output".
 *
 * Cancelling: before idevicerestore touches the device (extracting, signing) we stop it
 * (SIGTERM, then SIGKILL) — safe. After that, stopping would leave the device in recovery,
 * so by default we warn and let it finish (usb.firmware_cancel=kill stops it anyway and
 * says where the device is left). The child is always reaped: no zombies.
 */
#include "usb.h"
#include "firmware_parse.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <plist/plist.h>

#define IOS_14_5 140500
#define IDR_1_0_0 10000

/* Start argv[0] (searched in PATH) with stdin from /dev/null and stdout+stderr into
 * out_fd, in a process group of its own (so a stop reaches its children too), with the
 * default SIGPIPE. posix_spawn, not fork: the host may have many threads. -1 on failure
 * with errno set. */
static pid_t spawn_tool(char *const argv[], int out_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    pid_t pid = -1;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigdefault(&at, &def);
    extern char **environ;
    int e = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return pid;
}

/* Run `path --version` and parse what it prints; 0 if it did not run. */
static int tool_version(const char *path, char *text, size_t cap)
{
    int fds[2];
    text[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return 0;
    char *const argv[] = { (char *)path, (char *)"--version", NULL };
    pid_t pid = spawn_tool(argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return 0;
    }
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fds[0], text + used, cap - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used >= cap - 1)
            break;
    }
    text[used] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
        return 0;
    /* the version line names idevicerestore; other lines (a loader warning) do not count */
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        int v = strstr(line, "idevicerestore") ? fw_parse_version(line) : 0;
        if (v) {
            memmove(text, line, strlen(line) + 1);
            return v;
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* BuildManifest.plist of an IPSW file (zip) or extracted folder; NULL if none. */
static plist_t read_manifest(const char *ipsw)
{
    struct stat sb;
    if (stat(ipsw, &sb) != 0)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    if (S_ISDIR(sb.st_mode)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/BuildManifest.plist", ipsw);
        FILE *f = fopen(path, "rb");
        if (!f)
            return NULL;
        buf = malloc(16u << 20);
        len = buf ? fread(buf, 1, 16u << 20, f) : 0;
        fclose(f);
    } else {
        struct archive *a = archive_read_new();
        archive_read_support_format_zip_seekable(a);
        if (archive_read_open_filename(a, ipsw, 65536) == ARCHIVE_OK) {
            struct archive_entry *e;
            while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);
                if (name && !strcmp(name, "BuildManifest.plist")) {
                    int64_t sz = archive_entry_size(e);
                    if (sz > 0 && sz <= (16 << 20)) {
                        buf = malloc((size_t)sz);
                        la_ssize_t got = buf ? archive_read_data(a, buf, (size_t)sz) : -1;
                        len = got > 0 ? (size_t)got : 0;
                    }
                    break;
                }
                archive_read_data_skip(a);
            }
        }
        archive_read_free(a);
    }
    plist_t p = NULL;
    if (buf && len)
        plist_from_memory(buf, (uint32_t)len, &p);
    free(buf);
    return p;
}

static bool manifest_supports(plist_t m, const char *product_type)
{
    plist_t types = plist_dict_get_item(m, "SupportedProductTypes");
    if (!types || plist_get_node_type(types) != PLIST_ARRAY)
        return true; /* cannot tell: let idevicerestore decide */
    for (uint32_t i = 0; i < plist_array_get_size(types); i++) {
        plist_t t = plist_array_get_item(types, i);
        if (plist_get_node_type(t) == PLIST_STRING && !strcmp(plist_get_string_ptr(t, NULL), product_type))
            return true;
    }
    return false;
}

static bool model_known(const revive_device_id *dev)
{
    irecv_device_t d = NULL;
    if (dev->product_type[0])
        return irecv_devices_get_device_by_product_type(dev->product_type, &d) == IRECV_E_SUCCESS && d;
    irecv_device_t all = irecv_devices_get_all();
    for (size_t i = 0; all && all[i].product_type; i++)
        if (all[i].chip_id == dev->cpid && all[i].board_id == dev->bdid)
            return true;
    return false;
}

static void stop_child(pid_t pid)
{
    kill(-pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static void emit_step(usb_state *st, revive_call *call, fw_parse *p)
{
    char phase[64];
    snprintf(phase, sizeof phase, "firmware:%s", p->step);
    uint64_t pct = p->percent < 0 ? 0 : (uint64_t)p->percent;
    st->host->progress(call, phase, pct, 100, "percent");
}

int usb_firmware_restore(void *state, revive_call *call, const revive_device_id *dev,
                         const revive_field *opts, size_t nopts)
{
    usb_state *st = state;
    const char *ipsw = usb_opt_str(opts, nopts, "ipsw");
    bool erase = usb_opt_bool(opts, nopts, "erase", false);
    bool force = usb_opt_bool(opts, nopts, "force", false);
    if (!ipsw || !*ipsw)
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0, "restore-firmware: the option ipsw is missing");
    if (access(ipsw, R_OK) != 0)
        return st->host->fail(call, REVIVE_E_NOT_FOUND, NULL, errno, "cannot read the IPSW %s: %s", ipsw,
                              strerror(errno));
    if (dev->mode == REVIVE_MODE_OFF || dev->mode == REVIVE_MODE_UNKNOWN)
        return st->host->fail(call, REVIVE_E_NO_DEVICE, NULL, 0, "the device is not connected");
    if (!dev->ecid && !dev->udid[0])
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0, "the device has neither ECID nor UDID");

    const char *tool = st->host->config(call, "usb.idevicerestore");
    if (!tool || !*tool)
        tool = "idevicerestore";
    char vtext[256];
    int tver = tool_version(tool, vtext, sizeof vtext);
    if (!tver)
        return st->host->fail(call, REVIVE_E_NOT_FOUND, "idevicerestore", 0,
                              "cannot run \"%s --version\": install idevicerestore (apt install "
                              "idevicerestore) or set usb.idevicerestore to its path", tool);

    plist_t m = read_manifest(ipsw);
    if (!m)
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "%s has no readable BuildManifest.plist: it is not an IPSW (or it is damaged)",
                              ipsw);
    char target[32] = "";
    plist_t pv = plist_dict_get_item(m, "ProductVersion");
    if (pv && plist_get_node_type(pv) == PLIST_STRING)
        usb_copy(target, sizeof target, plist_get_string_ptr(pv, NULL));
    bool fits = !dev->product_type[0] || manifest_supports(m, dev->product_type);
    plist_free(m);
    if (!fits)
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0,
                              "%s is not for this device (%s): download the IPSW for %s", ipsw,
                              dev->product_type, dev->product_type);
    int iver = fw_ios_version(target);
    if (tver <= IDR_1_0_0 && iver >= IOS_14_5 && !force)
        return st->host->fail(call, REVIVE_E_UNSUPPORTED, "idevicerestore", tver,
                              "%s (%s) cannot restore iOS %s: Debian's idevicerestore 1.0.0 stops "
                              "at iOS 14.4. Install a newer idevicerestore (built from "
                              "libimobiledevice's sources) and set usb.idevicerestore to it, or pass "
                              "force=true to try anyway", tool, vtext, target);
    if (tver <= IDR_1_0_0 && !model_known(dev) && !force)
        return st->host->fail(call, REVIVE_E_UNSUPPORTED, "idevicerestore", tver,
                              "%s (%s) uses libirecovery 1.0.0, which does not know this model (%s, "
                              "CPID 0x%x BDID 0x%x; it knows nothing after the iPhone 11 generation): "
                              "install newer idevicerestore/libirecovery, or pass force=true",
                              tool, vtext, dev->product_type[0] ? dev->product_type : "unknown",
                              dev->cpid, dev->bdid);

    char target_arg[64];
    const char *argv[10];
    int ac = 0;
    argv[ac++] = tool;
    argv[ac++] = "-y";
    if (erase)
        argv[ac++] = "-e";
    if (dev->ecid) {
        snprintf(target_arg, sizeof target_arg, "0x%" PRIx64, dev->ecid);
        argv[ac++] = "-i";
    } else {
        usb_copy(target_arg, sizeof target_arg, dev->udid);
        argv[ac++] = "-u";
    }
    argv[ac++] = target_arg;
    argv[ac++] = ipsw;
    argv[ac] = NULL;
    st->host->log(call, REVIVE_LOG_INFO, "running %s %s%s %s %s (iOS %s, %s)", tool,
                  erase ? "-e " : "", dev->ecid ? "-i" : "-u", target_arg, ipsw, target, vtext);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return st->host->fail(call, REVIVE_E_IO, NULL, errno, "pipe: %s", strerror(errno));
    pid_t pid = spawn_tool((char *const *)argv, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        return st->host->fail(call, e == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "idevicerestore", e,
                              "cannot start %s: %s", tool, strerror(e));
    }

    fw_parse p;
    fw_parse_init(&p);
    double idle_limit = usb_config_seconds(st, call, "usb.firmware_idle_timeout", 900.0);
    const char *cancel_mode = st->host->config(call, "usb.firmware_cancel");
    bool kill_on_cancel = cancel_mode && !strcmp(cancel_mode, "kill");
    bool warned = false, killed = false;
    int killed_code = 0;
    char line[1024];
    size_t ll = 0;
    double last_output = usb_now();
    double last_pct = -2;
    for (;;) {
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        int r = poll(&pfd, 1, 200);
        if (r > 0) {
            char buf[4096];
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            last_output = usb_now();
            for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n' || c == '\r' || ll == sizeof line - 1) {
                    line[ll] = '\0';
                    fw_parse_line(&p, line);
                    ll = 0;
                    if (p.step_changed) {
                        p.step_changed = false;
                        st->host->log(call, REVIVE_LOG_INFO, "firmware: %s", p.step);
                        emit_step(st, call, &p);
                        last_pct = p.percent;
                    } else if (p.percent != last_pct) {
                        emit_step(st, call, &p);
                        last_pct = p.percent;
                    }
                    if (c != '\n' && c != '\r')
                        line[ll++] = c;
                } else {
                    line[ll++] = c;
                }
            }
        } else if (r < 0 && errno != EINTR) {
            break;
        }
        if (!killed && st->host->cancelled(call)) {
            if (!p.device_touched || kill_on_cancel) {
                stop_child(pid);
                killed = true;
                killed_code = REVIVE_E_CANCELLED;
                break;
            }
            if (!warned) {
                revive_field f[] = {
                    REVIVE_FIELD_STR("message",
                                     "cancel requested, but idevicerestore is already working on the "
                                     "device: stopping now would leave it in recovery mode, so the "
                                     "restore goes on to its end (usb.firmware_cancel=kill stops it)"),
                    REVIVE_FIELD_STR("step", p.step),
                };
                st->host->event(call, "warning", f, 2);
                warned = true;
            }
        }
        if (!killed && usb_now() - last_output > idle_limit) {
            stop_child(pid);
            killed = true;
            killed_code = REVIVE_E_TIMEOUT;
            break;
        }
    }
    if (ll) {
        line[ll] = '\0';
        fw_parse_line(&p, line);
    }
    close(fds[0]);
    int status = 0;
    if (!killed)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }

    char tail[400];
    fw_parse_tail(&p, tail, sizeof tail, 6);
    char full[FW_TAIL_LINES * 200];
    fw_parse_tail(&p, full, sizeof full, FW_TAIL_LINES);
    usb_result_str(st, call, "last_output", full);
    usb_result_str(st, call, "idevicerestore_version", vtext);
    usb_result_str(st, call, "ios_version", target);
    usb_result_bool(st, call, "erase", erase);

    const char *left = p.device_touched ? "the device is probably left in recovery mode; run the "
                                          "restore again (or revive recovery exit for an update)"
                                        : "the device was not touched";
    if (killed)
        return st->host->fail(call, killed_code, "idevicerestore", 0,
                              "%s %s; %s. Last output: %s", tool,
                              killed_code == REVIVE_E_CANCELLED ? "was stopped on cancel"
                                                                : "printed nothing for too long and was stopped",
                              left, tail);
    int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (WIFEXITED(status) && exit_code == 0 && !p.error_code) {
        if (warned)
            st->host->log(call, REVIVE_LOG_WARN, "the restore finished although a cancel was requested");
        st->host->progress(call, "firmware:finish", 100, 100, "percent");
        return REVIVE_OK;
    }
    if (exit_code == 127)
        return st->host->fail(call, REVIVE_E_NOT_FOUND, "idevicerestore", 127, "cannot run %s", tool);
    int code = p.error_code ? p.error_code : REVIVE_E_UNKNOWN;
    const char *what = code == REVIVE_E_NOT_SIGNED ? "Apple does not sign this iOS for the device "
                                                     "any more; use a signed IPSW"
                       : code == REVIVE_E_DISCONNECTED ? "the device was lost during the restore"
                       : code == REVIVE_E_NO_DEVICE    ? "idevicerestore did not find the device"
                       : code == REVIVE_E_INVALID      ? "the IPSW is not for this device"
                       : code == REVIVE_E_CORRUPT      ? "the IPSW is damaged; download it again"
                                                       : "idevicerestore failed";
    return st->host->fail(call, code, "idevicerestore", exit_code, "%s (exit %d); %s. Last output: %s",
                          what, exit_code, left, tail);
}
