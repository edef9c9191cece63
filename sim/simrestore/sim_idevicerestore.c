/* sim-idevicerestore: a stand-in for idevicerestore 1.0.0 against simdevd.
 *
 * It takes idevicerestore's options and an IPSW, checks the IPSW as idevicerestore does
 * (a zip or directory with a BuildManifest.plist naming the device's product type, a
 * build identity for its model and the components a restore needs), then asks simdevd to
 * restore the phone with the control command "firmware-restore" (sim/simdevd/restore.c),
 * which walks the phone through the modes a real restore takes and streams what happens.
 * This program turns that stream into idevicerestore's own output: its step messages on
 * stdout, its errors on stderr, its progress bars (or, with -P, its "progress: STEP
 * FRACTION" lines) and its exit status (its return value as a byte: -1 -> 255, ...).
 * So the engine runs it exactly as it runs the real one. The device is found through the
 * control socket ($SIMDEVD_CONTROL), not USB: simdevd is the only device there is.
 *
 * Options idevicerestore has that need Apple's servers or an exploit (-l, -t, -c, -p, -z)
 * are refused with a message saying they are not simulated.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "ipsw.h"
#include "manifest.h"

/* idevicerestore's progress steps. */
enum { STEP_DETECT, STEP_PREPARE, STEP_UPLOAD_FS, STEP_VERIFY_FS, STEP_FLASH_FW, STEP_FLASH_BB, STEP_FUD, NUM_STEPS };

static bool plain_progress;

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

/* A 50-column bar redrawn in place, as idevicerestore draws it for the long steps. */
static void progress_bar(double percent)
{
    if (percent < 0)
        return;
    if (percent > 100)
        percent = 100;
    char bar[51];
    for (int i = 0; i < 50; i++)
        bar[i] = i < percent / 2 ? '=' : ' ';
    bar[50] = '\0';
    info("\r[%s] %5.1f%%%s", bar, percent, percent >= 100 ? "\n" : "");
}

static void progress(int step, double fraction)
{
    if (plain_progress)
        info("progress: %u %f\n", (unsigned)step, fraction);
    else if (step == STEP_UPLOAD_FS || step == STEP_VERIFY_FS || step == STEP_FLASH_FW)
        progress_bar(100.0 * fraction);
}

static void usage(FILE *f, const char *name)
{
    fprintf(f,
            "Usage: %s [OPTIONS] PATH\n"
            "\n"
            "Restores the IPSW at PATH (a .ipsw zip or an extracted directory) to a phone\n"
            "simulated by simdevd, as idevicerestore 1.0.0 would, with the same options,\n"
            "messages and exit codes. The phone is reached through $SIMDEVD_CONTROL.\n"
            "\n"
            "  -i, --ecid ECID        the phone with this ECID (hex 0x... or decimal)\n"
            "  -u, --udid UDID        the phone with this UDID (normal mode only)\n"
            "  -e, --erase            erase restore (all user data lost); default: update\n"
            "  -y, --no-input         non-interactive (this stand-in never asks anyway)\n"
            "  -n, --no-action        find the phone, then stop before doing anything\n"
            "  -P, --plain-progress   progress as 'progress: STEP FRACTION' lines\n"
            "  -R, --restore-mode     allow starting from restore mode\n"
            "  -d, --debug            accepted (no extra output)\n"
            "  -C, --cache-path DIR   accepted (nothing is cached)\n"
            "  -s, --cydia, -x, --exclude, -k, --keep-pers   accepted, no effect here\n"
            "  -T, --ticket PATH      read an AP ticket from PATH\n"
            "  -l, --latest, -t, --shsh, -c, --custom, -p, --pwn, -z, --no-restore\n"
            "                         need Apple's servers or an exploit: not simulated\n"
            "  -v, --version          print the version it stands in for\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 done; 255 (-1) no device, bad IPSW, not signed, failed restore;\n"
            "254 (-2) lost entering recovery/restore mode from DFU or iBEC; 251 (-5) lost\n"
            "entering recovery from normal mode; 245 (-11) lost late in the restore.\n",
            name);
}

struct target {
    char ecid[24];
    char udid[48];
    char product_type[32];
    char hardware_model[16];
    char mode[16];
    char ios_version[16];
};

static const char *mode_label(const char *m)
{
    if (!strcmp(m, "normal")) return "Normal";
    if (!strcmp(m, "recovery")) return "Recovery";
    if (!strcmp(m, "dfu")) return "DFU";
    if (!strcmp(m, "restore")) return "Restore";
    return "Unknown";
}

static void copy_str(char *dst, size_t len, json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(dst, len, "%s", s ? s : "");
}

/* The phone to restore, as idevicerestore picks it: by ECID, by UDID (normal mode only),
 * or the first one attached. Waits up to 2 s for one to show. */
static bool find_target(const char *ctl, uint64_t ecid, const char *udid, struct target *t)
{
    for (int tries = 0; tries < 20; tries++) {
        json_t *req = json_pack("{s:s}", "cmd", "state");
        json_t *st = ctl_call(ctl, req);
        json_decref(req);
        json_t *devs = json_object_get(st, "devices");
        size_t i;
        json_t *d;
        json_array_foreach(devs, i, d) {
            const char *mode = json_string_value(json_object_get(d, "mode"));
            const char *e = json_string_value(json_object_get(d, "ecid"));
            const char *u = json_string_value(json_object_get(d, "udid"));
            if (!mode || !json_is_true(json_object_get(d, "plugged")) || !strcmp(mode, "off"))
                continue;
            if (ecid && (!e || strtoull(e, NULL, 0) != ecid))
                continue;
            if (udid && (!u || strcasecmp(u, udid) != 0 || strcmp(mode, "normal") != 0))
                continue;
            copy_str(t->ecid, sizeof t->ecid, d, "ecid");
            copy_str(t->udid, sizeof t->udid, d, "udid");
            copy_str(t->product_type, sizeof t->product_type, d, "product_type");
            copy_str(t->hardware_model, sizeof t->hardware_model, d, "hardware_model");
            copy_str(t->mode, sizeof t->mode, d, "mode");
            copy_str(t->ios_version, sizeof t->ios_version, d, "ios_version");
            for (char *p = t->hardware_model; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            json_decref(st);
            return true;
        }
        json_decref(st);
        usleep(100000);
    }
    return false;
}

/* The device stream's final answer as idevicerestore's messages and return value. */
static int report_failure(json_t *ans, const struct target *t)
{
    const char *failure = json_string_value(json_object_get(ans, "failure"));
    const char *phase = json_string_value(json_object_get(ans, "phase"));
    const char *msg = json_string_value(json_object_get(ans, "error"));
    if (!failure)
        failure = "";
    if (!phase)
        phase = "";
    if (!strcmp(failure, "not-signed")) {
        error("TSS server returned: STATUS=94&MESSAGE=%s\n", msg ? msg : "");
        error("ERROR: TSS request failed (status=94, message=%s)\n", msg ? msg : "");
        info("ERROR: Unable to send TSS request\n");
        error("ERROR: Unable to get SHSH blobs for this device\n");
        return -1;
    }
    if (!strcmp(failure, "no-device") || !strcmp(failure, "busy")) {
        error("ERROR: Unable to discover device mode. Please make sure a device is attached.\n");
        return -1;
    }
    if (!strcmp(failure, "not-for-device")) {
        error("ERROR: Could not make sure this firmware is suitable for the current device. Refusing to continue.\n");
        return -1;
    }
    if (!strcmp(failure, "needs-dfu")) {
        error("ERROR: Device did not reconnect in recovery mode. Possibly invalid iBEC. Reset device and try again.\n");
        return -2;
    }
    if (!strcmp(failure, "status")) {
        error("ERROR: Unable to successfully restore device\n");
        error("ERROR: Unable to restore device\n");
        return -1;
    }
    /* lost: what idevicerestore says depends on where it lost the phone. */
    if (!strcmp(phase, "enter-recovery")) {
        error("ERROR: Unable to place device into recovery mode from normal mode\n");
        return -5;
    }
    if (!strcmp(phase, "exit-restore")) {
        error("ERROR: Unable to exit restore mode\n");
        return -2;
    }
    if (!strcmp(phase, "dfu")) {
        error("ERROR: Unable to place device into recovery mode from DFU mode\n");
        return -2;
    }
    if (!strcmp(phase, "ibec")) {
        error("ERROR: Device did not reconnect in recovery mode. Possibly invalid iBEC. Reset device and try again.\n");
        return -2;
    }
    if (!strcmp(phase, "restore-mode")) {
        error("ERROR: Device failed to enter restore mode.\n");
        return -1;
    }
    if (!strcmp(phase, "restore") || !strcmp(phase, "upload-fs")) {
        error("ERROR: Unable to send payload to ASR\n");
        error("ERROR: Unable to successfully restore device\n");
        error("ERROR: Unable to restore device\n");
        return -1;
    }
    error("ERROR: Could not read data (-3). Aborting.\n");
    error("ERROR: Unable to restore device\n");
    (void)t;
    return -11;
}

static const char *operation_name(int code)
{
    switch (code) {
    case 11: return "Creating partition map";
    case 12: return "Creating filesystem";
    case 13: return "Restoring image";
    case 14: return "Verifying restore";
    case 15: return "Checking filesystems";
    case 16: return "Mounting filesystems";
    case 18: return "Flashing firmware";
    case 20: return "Setting boot stage";
    case 21: return "Rebooting device";
    case 28: return "Waiting for NAND";
    default: return "Unknown operation";
    }
}

/* Runs the restore on simdevd, printing as idevicerestore prints. Returns its result. */
static int drive(const char *ctl, const struct target *t, const struct manifest *m, json_t *components, bool erase,
                 bool allow_restore_mode)
{
    int fd = ctl_connect(ctl);
    if (fd < 0) {
        error("ERROR: Unable to discover device mode. Please make sure a device is attached.\n");
        return -1;
    }
    json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:O}", "cmd", "firmware-restore", "device", t->ecid,
                            "product_type", t->product_type, "version", m->version, "build", m->build, "erase", erase,
                            "allow_restore_mode", allow_restore_mode, "components", components);
    int rc = req ? ctl_send(fd, req) : -1;
    json_decref(req);
    int result = -1;
    bool finished = false;
    int recoveries = 0;
    json_t *ev;
    while (rc == 0 && (ev = ctl_recv(fd))) {
        if (json_object_get(ev, "ok")) {
            if (json_is_true(json_object_get(ev, "ok"))) {
                info("Cleaning up...\n");
                info("DONE\n");
                progress(NUM_STEPS - 1, 1.0);
                result = 0;
            } else {
                result = report_failure(ev, t);
            }
            finished = true;
            json_decref(ev);
            break;
        }
        const char *kind = json_string_value(json_object_get(ev, "event"));
        const char *phase = json_string_value(json_object_get(ev, "phase"));
        const char *mode = json_string_value(json_object_get(ev, "mode"));
        const char *comp = json_string_value(json_object_get(ev, "component"));
        if (!kind) {
            /* not ours to interpret */
        } else if (!strcmp(kind, "tss")) {
            info("Trying to fetch new SHSH blob\n");
            if (json_is_true(json_object_get(ev, "signed"))) {
                info("Sending TSS request attempt 1... response successfully received\n");
                info("Received SHSH blobs\n");
                progress(STEP_PREPARE, 0.25);
            } else {
                info("Sending TSS request attempt 1... ");
            }
        } else if (!strcmp(kind, "phase") && phase) {
            if (!strcmp(phase, "enter-recovery"))
                info("Entering recovery mode...\n");
            else if (!strcmp(phase, "exit-restore"))
                info("Rebooting restore mode device...\n");
            else if (!strcmp(phase, "restore-mode"))
                progress(STEP_PREPARE, 0.7);
            else if (!strcmp(phase, "restore")) {
                info("About to restore device... \n");
                info("Connecting now...\n");
                info("Connected to com.apple.mobile.restored, version 15\n");
                info("Device %s has successfully entered restore mode\n", t->udid);
            } else if (!strcmp(phase, "upload-fs")) {
                info("Connected to ASR\n");
                info("Sending filesystem now...\n");
            } else if (!strcmp(phase, "verify")) {
                info("Done sending filesystem\n");
            }
        } else if (!strcmp(kind, "mode") && mode) {
            if (!strcmp(mode, "recovery"))
                progress(STEP_PREPARE, recoveries++ == 0 && !strcmp(t->mode, "normal") ? 0.3 : 0.5);
            else if (!strcmp(mode, "restore"))
                progress(STEP_PREPARE, 0.9);
        } else if (!strcmp(kind, "send") && comp) {
            json_int_t bytes = json_integer_value(json_object_get(ev, "bytes"));
            info("Sending %s (%" JSON_INTEGER_FORMAT " bytes)...\n", comp, bytes);
            if (!strcmp(comp, "RestoreKernelCache"))
                info("Waiting for device to enter restore mode...\n");
        } else if (!strcmp(kind, "operation")) {
            int code = (int)json_integer_value(json_object_get(ev, "code"));
            info("%s (%d)\n", operation_name(code), code);
        } else if (!strcmp(kind, "progress")) {
            progress((int)json_integer_value(json_object_get(ev, "step")),
                     json_number_value(json_object_get(ev, "progress")));
        } else if (!strcmp(kind, "status")) {
            int code = (int)json_integer_value(json_object_get(ev, "code"));
            info("Got status message\n");
            if (code == 0)
                info("Status: Restore Finished\n");
            else if (code == 14)
                info("Status: Failed to mount filesystems.\n");
            else
                info("Status: Fail\n");
        }
        json_decref(ev);
    }
    close(fd);
    if (!finished) {
        /* simdevd went away mid-restore: the phone is gone as far as the host can tell. */
        error("ERROR: Could not read data (-3). Aborting.\n");
        error("ERROR: Unable to restore device\n");
        return -11;
    }
    return result;
}

static const struct option longopts[] = {
    { "ecid", required_argument, NULL, 'i' }, { "udid", required_argument, NULL, 'u' },
    { "debug", no_argument, NULL, 'd' },      { "help", no_argument, NULL, 'h' },
    { "erase", no_argument, NULL, 'e' },      { "custom", no_argument, NULL, 'c' },
    { "cydia", no_argument, NULL, 's' },      { "exclude", no_argument, NULL, 'x' },
    { "shsh", no_argument, NULL, 't' },       { "keep-pers", no_argument, NULL, 'k' },
    { "pwn", no_argument, NULL, 'p' },        { "no-action", no_argument, NULL, 'n' },
    { "cache-path", required_argument, NULL, 'C' }, { "no-input", no_argument, NULL, 'y' },
    { "plain-progress", no_argument, NULL, 'P' },   { "restore-mode", no_argument, NULL, 'R' },
    { "ticket", required_argument, NULL, 'T' },     { "no-restore", no_argument, NULL, 'z' },
    { "version", no_argument, NULL, 'v' },          { "latest", no_argument, NULL, 'l' },
    { NULL, 0, NULL, 0 }
};

static int restore_main(int argc, char **argv)
{
    uint64_t ecid = 0;
    const char *udid = NULL;
    bool erase = false, no_action = false, allow_restore_mode = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "dhcesxtpli:u:nC:kyPRT:zv", longopts, NULL)) > 0) {
        switch (opt) {
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        case 'v': {
            /* The version it claims decides what revive lets it restore (1.0.0 stops at
             * iOS 14.4); SIM_IDEVICERESTORE_VERSION plays a newer idevicerestore. */
            const char *v = getenv("SIM_IDEVICERESTORE_VERSION");
            info("idevicerestore %s (sim-idevicerestore, simulated)\n", v && *v ? v : "1.0.0");
            return 0;
        }
        case 'i': {
            char *tail = NULL;
            ecid = strtoull(optarg, &tail, 0);
            if (!tail || *tail)
                ecid = 0;
            if (!ecid) {
                error("ERROR: Could not parse ECID from '%s'\n", optarg);
                return -1;
            }
            break;
        }
        case 'u':
            if (!*optarg) {
                error("ERROR: UDID must not be empty!\n");
                usage(stderr, argv[0]);
                return -1;
            }
            udid = optarg;
            break;
        case 'e': erase = true; break;
        case 'n': no_action = true; break;
        case 'P': plain_progress = true; break;
        case 'R': allow_restore_mode = true; break;
        case 'd': case 'y': case 's': case 'x': case 'k': case 'C':
            break;   /* no effect on a simulated restore */
        case 'T': {
            struct stat st;
            if (stat(optarg, &st) != 0 || !S_ISREG(st.st_mode)) {
                error("ERROR: could not read ApTicket from %s\n", optarg);
                return -1;
            }
            info("Using ApTicket found at %s length %u\n", optarg, (unsigned)st.st_size);
            break;
        }
        case 'l': case 't': case 'c': case 'p': case 'z':
            error("sim-idevicerestore: option -%c needs Apple's servers or a bootrom exploit and is not simulated; "
                  "restore from an IPSW file (sim-ipsw makes one)\n", opt);
            return -1;
        default:
            usage(stderr, argv[0]);
            return -1;
        }
    }
    if (argc - optind != 1) {
        usage(stderr, argv[0]);
        return -1;
    }
    const char *ipsw_path = argv[optind];
    const char *ctl = getenv("SIMDEVD_CONTROL");
    if (!ctl || !*ctl) {
        error("sim-idevicerestore: SIMDEVD_CONTROL is not set; start simdevd and eval the environment it prints\n");
        return -1;
    }

    int probe = ctl_connect(ctl);
    if (probe < 0) {
        error("sim-idevicerestore: cannot reach simdevd at %s (%s); is simdevd running?\n", ctl, strerror(errno));
        return -1;
    }
    close(probe);

    progress(STEP_DETECT, 0.0);
    struct target t;
    if (!find_target(ctl, ecid, udid, &t)) {
        error("ERROR: Unable to discover device mode. Please make sure a device is attached.\n");
        return -1;
    }
    progress(STEP_DETECT, 0.1);
    info("Found device in %s mode\n", mode_label(t.mode));
    progress(STEP_DETECT, 0.2);
    info("Identified device as %s, %s\n", t.hardware_model, t.product_type);
    progress(STEP_DETECT, 0.6);
    if (no_action)
        return 0;

    if (access(ipsw_path, F_OK) != 0) {
        error("ERROR: Firmware file %s does not exist.\n", ipsw_path);
        return -1;
    }
    info("Extracting BuildManifest from IPSW\n");
    struct ipsw z;
    char err[512];
    struct manifest m;
    if (ipsw_open(&z, ipsw_path, err, sizeof err) != 0 || manifest_load(&z, &m) != 0) {
        if (z.path)
            ipsw_close(&z);
        error("ERROR: Unable to extract BuildManifest from %s. Firmware file might be corrupt.\n", ipsw_path);
        return -1;
    }
    int result = -1;
    json_t *components = json_object();
    progress(STEP_DETECT, 0.8);
    if (!manifest_supports(&m, t.product_type)) {
        error("ERROR: Could not make sure this firmware is suitable for the current device. Refusing to continue.\n");
        goto out;
    }
    info("Product Version: %s\n", m.version);
    info("Product Build: %s Major: %d\n", m.build, m.build_major);
    info("Device supports Image4: true\n");
    plist_t id = manifest_identity(&m, t.hardware_model, erase);
    if (!id) {
        error("ERROR: Unable to find any build identities\n");
        goto out;
    }
    const char *variant = identity_info(id, "Variant");
    const char *behavior = identity_info(id, "RestoreBehavior");
    info("Variant: %s\n", variant ? variant : "(unknown)");
    if (behavior && !strcmp(behavior, "Erase"))
        info("This restore will erase your device data.\n");
    else if (behavior && !strcmp(behavior, "Update"))
        info("This restore will update your device without erasing user data.\n");
    /* The identity decides: an IPSW whose only identity for the model erases, erases. */
    erase = erase || (behavior && !strcmp(behavior, "Erase"));

    progress(STEP_PREPARE, 0.0);
    info("Checking IPSW for required components...\n");
    for (size_t i = 0; manifest_required[i]; i++) {
        const struct ipsw_entry *e = ipsw_find(&z, identity_path(id, manifest_required[i]));
        if (!e) {
            error("ERROR: Could not find all required components in IPSW %s\n", ipsw_path);
            goto out;
        }
        json_object_set_new(components, manifest_required[i], json_integer((json_int_t)e->size));
    }
    info("All required components found in IPSW\n");
    info("Extracting filesystem from IPSW: %s\n", identity_path(id, "OS"));
    progress(STEP_PREPARE, 0.2);
    info("Found ECID %llu\n", strtoull(t.ecid, NULL, 0));
    result = drive(ctl, &t, &m, components, erase, allow_restore_mode);
out:
    json_decref(components);
    manifest_free(&m);
    ipsw_close(&z);
    return result;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* idevicerestore returns its result from main: the shell sees it as a byte. */
    return restore_main(argc, argv) & 0xff;
}
