/* restore.c: the phone's side of a firmware restore, for sim-idevicerestore (S2).
 *
 * A real restore takes the phone normal -> recovery (iBoot) -> iBEC -> restore mode
 * (the restore ramdisk's restored) -> normal. sim-idevicerestore checks the IPSW and
 * then sends one control command, "firmware-restore", whose handler walks the phone
 * through the same modes, streaming one JSON line per thing idevicerestore would see:
 *
 *   {"event":"tss","signed":true}                the signing server's answer
 *   {"event":"phase","phase":"enter-recovery"}   a new stage starts (see phase_names)
 *   {"event":"send","component":"iBEC","bytes":n} an image goes to iBoot or the SecureROM
 *   {"event":"mode","mode":"restore"}            the phone re-enumerated in that mode
 *   {"event":"operation","code":13}              restored's ProgressMsg operation
 *   {"event":"progress","step":2,"progress":0.4} idevicerestore's progress (step, 0..1)
 *   {"event":"status","code":0}                  restored's StatusMsg (0 = finished)
 * and ends with {"ok":true} or {"ok":false,"error":..., "failure":kind, "phase":...}
 * (kinds: not-signed, no-device, not-for-device, needs-dfu, status, lost, busy).
 *
 * The whole restore is 1000 units of progress, reported to sim_fault_hit as op
 * "firmware-restore" at every chunk, so a scenario's power loss "at_percent 40" lands in
 * the filesystem upload. What the phone is left with follows its rules:
 * - entering recovery saves auto-boot=false, as EnterRecovery does;
 * - once the restore ramdisk starts writing, the OS is no longer whole (mild, or worse
 *   if it already was), so an interruption leaves a phone that boots to recovery;
 * - an erase restore erases the user data (S3's sim_data_erase) before the filesystem;
 *   an update restore keeps it, and cannot repair a severely damaged or needs-DFU OS
 *   (restored fails to mount the filesystems);
 * - a phone whose OS needs DFU cannot load iBEC from recovery: it must start in DFU;
 * - a phone whose low battery refuses long operations (and is not charging) has restored
 *   refuse before writing anything: it reboots to recovery with its OS untouched;
 * - success: OS whole at the new version, auto-boot=true saved, reboot to normal.
 * If the host goes away (the command's connection closes) the phone behaves as if the
 * cable went: restored gives up and the phone reboots (to recovery).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "data.h"
#include "iboot.h"
#include "world.h"

#define TOTAL_UNITS 1000

/* restored's ProgressMsg operation codes (as idevicerestore 1.0.0 names them). */
enum { OP_CREATE_PARTITION_MAP = 11, OP_CREATE_FILESYSTEM = 12, OP_RESTORE_IMAGE = 13, OP_VERIFY_RESTORE = 14,
       OP_CHECK_FILESYSTEMS = 15, OP_MOUNT_FILESYSTEMS = 16, OP_FLASH_FIRMWARE = 18, OP_SET_BOOT_STAGE = 20,
       OP_REBOOT_DEVICE = 21, OP_WAIT_FOR_NAND = 28 };
/* idevicerestore's progress steps. */
enum { STEP_UPLOAD_FS = 2, STEP_VERIFY_FS = 3, STEP_FLASH_FW = 4 };
/* restored's StatusMsg codes. */
enum { STATUS_FINISHED = 0, STATUS_FAIL = 1, STATUS_MOUNT_FAILED = 14 };

struct job {
    struct sim_world *w;
    struct sim_device *d;
    int fd;
    bool erase;
    bool allow_restore_mode;
    char version[16], build[16];
    uint64_t bytes_ibss, bytes_ibec, bytes_ramdisk, bytes_kernel, bytes_devicetree, bytes_os;
    uint64_t units;              /* progress so far, of TOTAL_UNITS */
    const char *phase;
    sim_mode mode;               /* the mode the phone should be in now */
    bool lost;                   /* a fault fired, the host went away, or the phone left the mode */
};

static void emit(struct job *j, json_t *ev)
{
    sim_control_reply(j->fd, ev);
}

/* The host is still there: its end of the control connection is not closed. (A client
 * that only shut down its writing side, as simctl does after its request, is still there:
 * a Unix socket reports POLLHUP only once the peer closed both directions.) */
static bool host_present(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = 0 };
    return poll(&pfd, 1, 0) == 0 || !(pfd.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Advances the progress by `units` in `chunks` steps taking `seconds` of device time,
 * reporting each chunk to the fault injector (and as idevicerestore progress when
 * step >= 0). Returns false when the restore must stop. */
static bool advance(struct job *j, uint64_t units, int chunks, double seconds, int step)
{
    uint64_t start = j->units;
    for (int i = 1; i <= chunks; i++) {
        sim_sleep(j->w, seconds / chunks);
        if (j->bytes_os && step == STEP_UPLOAD_FS)
            sim_throttle(j->w, j->d, j->bytes_os / (uint64_t)chunks);
        j->units = start + units * (uint64_t)i / (uint64_t)chunks;
        if (sim_fault_hit(j->w, j->d, "firmware-restore", j->units, TOTAL_UNITS) || !host_present(j->fd)) {
            j->lost = true;
            return false;
        }
        sim_lock(j->w);
        bool moved = j->d->mode != j->mode;   /* rebooted or switched by someone else */
        sim_unlock(j->w);
        if (moved) {
            j->lost = true;
            return false;
        }
        if (step >= 0)
            emit(j, json_pack("{s:s,s:i,s:f}", "event", "progress", "step", step, "progress", (double)i / chunks));
    }
    return true;
}

static void phase(struct job *j, const char *name)
{
    j->phase = name;
    emit(j, json_pack("{s:s,s:s}", "event", "phase", "phase", name));
}

static void operation(struct job *j, int code)
{
    emit(j, json_pack("{s:s,s:i}", "event", "operation", "code", code));
}

/* Lock not held. Changes mode and says so. */
static void set_mode(struct job *j, sim_mode m, const char *why)
{
    j->mode = m;
    sim_lock(j->w);
    sim_log(j->w, j->d, "firmware-restore: %s", why);
    sim_iboot_reset(j->d);
    sim_set_mode(j->w, j->d, m);
    sim_unlock(j->w);
    emit(j, json_pack("{s:s,s:s}", "event", "mode", "mode",
                      m == SIM_MODE_RECOVERY ? "recovery" : m == SIM_MODE_RESTORE ? "restore"
                      : m == SIM_MODE_DFU ? "dfu" : m == SIM_MODE_NORMAL ? "normal" : "off"));
}

static void fail(struct job *j, const char *kind, const char *msg)
{
    sim_lock(j->w);
    sim_log(j->w, j->d, "restore-firmware failed (%s%s%s)", kind, j->phase ? " during " : "", j->phase ? j->phase : "");
    sim_unlock(j->w);
    json_t *r = json_pack("{s:b,s:s,s:s}", "ok", 0, "error", msg, "failure", kind);
    if (r && j->phase)
        json_object_set_new(r, "phase", json_string(j->phase));
    sim_control_reply(j->fd, r);
}

/* The phone after an interrupted restore: off stays off (it comes back by its NVRAM and
 * OS when powered); a phone still powered in restore mode gives up and reboots. */
static void after_loss(struct job *j)
{
    sim_lock(j->w);
    if (j->d->mode == SIM_MODE_RESTORE) {
        sim_log(j->w, j->d, "restored: host lost, rebooting");
        sim_iboot_reset(j->d);
        sim_reboot(j->w, j->d);
    }
    sim_unlock(j->w);
    char msg[128];
    snprintf(msg, sizeof msg, "the device went away during %s", j->phase ? j->phase : "the restore");
    fail(j, "lost", msg);
}

static uint64_t uint_member(json_t *o, const char *key, uint64_t dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : dflt;
}

static bool parse(struct job *j, json_t *req)
{
    j->erase = json_is_true(json_object_get(req, "erase"));
    j->allow_restore_mode = json_is_true(json_object_get(req, "allow_restore_mode"));
    const char *v = json_string_value(json_object_get(req, "version"));
    const char *b = json_string_value(json_object_get(req, "build"));
    if (!v || !b || strlen(v) >= sizeof j->version || strlen(b) >= sizeof j->build)
        return false;
    strcpy(j->version, v);
    strcpy(j->build, b);
    json_t *c = json_object_get(req, "components");
    j->bytes_ibss = uint_member(c, "iBSS", 0);
    j->bytes_ibec = uint_member(c, "iBEC", 0);
    j->bytes_ramdisk = uint_member(c, "RestoreRamDisk", 0);
    j->bytes_kernel = uint_member(c, "RestoreKernelCache", 0);
    j->bytes_devicetree = uint_member(c, "RestoreDeviceTree", 0);
    j->bytes_os = uint_member(c, "OS", 0);
    return true;
}

static void send_component(struct job *j, const char *name, uint64_t bytes)
{
    emit(j, json_pack("{s:s,s:s,s:I}", "event", "send", "component", name, "bytes", (json_int_t)bytes));
    sim_lock(j->w);
    sim_log(j->w, j->d, "firmware-restore: %s (%llu bytes) sent", name, (unsigned long long)bytes);
    sim_unlock(j->w);
}

/* One restore, start to end. Returns after the final answer was sent. */
static void run(struct job *j)
{
    struct sim_world *w = j->w;
    struct sim_device *d = j->d;
    sim_lock(w);
    sim_mode mode = d->plugged ? d->mode : SIM_MODE_OFF;
    j->mode = d->mode;
    bool refused = d->sign_refused;
    sim_os_state os = d->os;
    sim_unlock(w);
    if (mode == SIM_MODE_OFF) {
        fail(j, "no-device", "no device attached (unplugged or powered off)");
        return;
    }
    /* The signing server (TSS) answers before anything touches the phone. */
    emit(j, json_pack("{s:s,s:b}", "event", "tss", "signed", !refused));
    if (refused) {
        sim_lock(w);
        sim_log(w, d, "restore-firmware refused: not signed");
        sim_unlock(w);
        fail(j, "not-signed", "This device isn't eligible for the requested build.");
        return;
    }
    sim_lock(w);
    sim_log(w, d, "restore-firmware start (%s, iOS %s %s, from %s)", j->erase ? "erase" : "update", j->version,
            j->build, mode == SIM_MODE_NORMAL ? "normal" : mode == SIM_MODE_RECOVERY ? "recovery"
                      : mode == SIM_MODE_DFU ? "dfu" : "restore");
    sim_unlock(w);

    bool from_dfu = mode == SIM_MODE_DFU;
    if (mode == SIM_MODE_RESTORE && !j->allow_restore_mode) {
        phase(j, "exit-restore");
        sim_lock(w);
        sim_log(w, d, "firmware-restore: rebooting the restore mode device");
        sim_reboot(w, d);
        mode = j->mode = d->mode;
        sim_unlock(w);
        if (mode != SIM_MODE_RECOVERY && mode != SIM_MODE_NORMAL) {
            fail(j, "lost", "Unable to exit restore mode");
            return;
        }
    }
    if (mode == SIM_MODE_NORMAL) {
        phase(j, "enter-recovery");
        sim_lock(w);
        sim_nvram_set(d, "auto-boot", "false");
        sim_nvram_save(d);
        sim_unlock(w);
        if (!advance(j, 50, 5, 10.0, -1))
            { after_loss(j); return; }
        set_mode(j, SIM_MODE_RECOVERY, "entering recovery mode");
        mode = SIM_MODE_RECOVERY;
    } else {
        j->units = 50;
    }
    if (mode == SIM_MODE_DFU) {
        phase(j, "dfu");
        send_component(j, "iBSS", j->bytes_ibss);
        if (!advance(j, 10, 2, 3.0, -1))
            { after_loss(j); return; }
        set_mode(j, SIM_MODE_RECOVERY, "iBSS booted from DFU");
        mode = SIM_MODE_RECOVERY;
    } else {
        j->units = 60;
    }
    if (mode == SIM_MODE_RECOVERY) {
        phase(j, "ibec");
        send_component(j, "iBEC", j->bytes_ibec);
        if (!advance(j, 20, 2, 3.0, -1))
            { after_loss(j); return; }
        if (os == SIM_OS_NEEDS_DFU && !from_dfu) {
            /* iBoot is too damaged to run the iBEC: the phone never comes back. */
            sim_lock(w);
            sim_log(w, d, "firmware-restore: iBEC did not start (the phone needs DFU)");
            sim_unlock(w);
            fail(j, "needs-dfu", "Device did not reconnect in recovery mode (it needs a restore from DFU mode)");
            return;
        }
        sim_lock(w);
        sim_log(w, d, "firmware-restore: iBEC running");
        sim_iboot_reenumerate(w, d);
        sim_unlock(w);
        emit(j, json_pack("{s:s,s:s}", "event", "mode", "mode", "recovery"));
        phase(j, "restore-mode");
        send_component(j, "RestoreRamDisk", j->bytes_ramdisk);
        send_component(j, "RestoreDeviceTree", j->bytes_devicetree);
        send_component(j, "RestoreKernelCache", j->bytes_kernel);
        if (!advance(j, 20, 4, 15.0, -1))
            { after_loss(j); return; }
        set_mode(j, SIM_MODE_RESTORE, "booting the restore ramdisk");
    }
    j->units = 100;

    /* restored: from here on the OS is being rewritten. */
    phase(j, "restore");
    sim_lock(w);
    if (d->battery_policy == SIM_BATTERY_REFUSES && !d->charging) {
        /* restored will not start on an empty battery; the phone reboots untouched
         * (to recovery: auto-boot is still false). */
        sim_log(w, d, "restored: battery too low (%d%%), restore refused", d->battery);
        sim_iboot_reset(d);
        sim_reboot(w, d);
        sim_unlock(w);
        emit(j, json_pack("{s:s,s:i}", "event", "status", "code", STATUS_FAIL));
        fail(j, "status", "the battery is too low for a restore; charge the phone");
        return;
    }
    if (d->os == SIM_OS_WHOLE)
        d->os = SIM_OS_MILD;
    os = d->os;
    sim_log(w, d, "restored: restore started, OS %s", os == SIM_OS_MILD ? "no longer whole" : "still damaged");
    sim_unlock(w);
    if (j->erase) {
        operation(j, OP_WAIT_FOR_NAND);
        operation(j, OP_CREATE_PARTITION_MAP);
        int rc = sim_data_erase(d);   /* files on the host: not under the lock */
        sim_lock(w);
        sim_log(w, d, rc == 0 ? "erase" : "erase failed");
        sim_unlock(w);
        if (rc != 0) {
            emit(j, json_pack("{s:s,s:i}", "event", "status", "code", 1));
            after_loss(j);
            return;
        }
        operation(j, OP_CREATE_FILESYSTEM);
    } else {
        operation(j, OP_CHECK_FILESYSTEMS);
        operation(j, OP_MOUNT_FILESYSTEMS);
        if (os == SIM_OS_SEVERE || (os == SIM_OS_NEEDS_DFU && !from_dfu)) {
            /* An update restore cannot repair a damaged filesystem: restored fails and the
             * phone reboots. A phone that needed DFU had a damaged boot chain, which a
             * restore started from DFU rewrites; its data partition is sound, so there an
             * update restore succeeds and keeps the data. */
            sim_lock(w);
            sim_log(w, d, "restored: cannot mount the filesystems (an erase restore is needed)");
            sim_iboot_reset(d);
            sim_reboot(w, d);
            sim_unlock(w);
            emit(j, json_pack("{s:s,s:i}", "event", "status", "code", STATUS_MOUNT_FAILED));
            fail(j, "status", "Failed to mount filesystems (an update restore cannot repair this OS; erase)");
            return;
        }
    }
    operation(j, OP_RESTORE_IMAGE);
    phase(j, "upload-fs");
    if (!advance(j, 500, 50, 120.0, STEP_UPLOAD_FS))
        { after_loss(j); return; }
    phase(j, "verify");
    operation(j, OP_VERIFY_RESTORE);
    if (!advance(j, 200, 20, 60.0, STEP_VERIFY_FS))
        { after_loss(j); return; }
    phase(j, "flash");
    operation(j, OP_FLASH_FIRMWARE);
    if (!advance(j, 150, 15, 30.0, STEP_FLASH_FW))
        { after_loss(j); return; }
    phase(j, "finish");
    operation(j, OP_SET_BOOT_STAGE);
    if (!advance(j, 50, 2, 5.0, -1))
        { after_loss(j); return; }

    sim_lock(w);
    d->os = SIM_OS_WHOLE;
    d->stuck_in_recovery = false;
    snprintf(d->ios_version, sizeof d->ios_version, "%s", j->version);
    snprintf(d->build_version, sizeof d->build_version, "%s", j->build);
    sim_nvram_set(d, "auto-boot", "true");
    sim_nvram_save(d);
    sim_log(w, d, "restore-firmware ok (%s, iOS %s %s)", j->erase ? "erase" : "update", j->version, j->build);
    sim_unlock(w);
    emit(j, json_pack("{s:s,s:i}", "event", "status", "code", STATUS_FINISHED));
    operation(j, OP_REBOOT_DEVICE);
    sim_lock(w);
    sim_iboot_reset(d);
    sim_reboot(w, d);
    sim_unlock(w);
    sim_control_reply(j->fd, json_pack("{s:b,s:s,s:s}", "ok", 1, "version", j->version, "build", j->build));
}

/* One restore at a time per phone, as one host drives it. */
static bool busy[64];

static void cmd_firmware_restore(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    struct job j = { .w = w, .d = d, .fd = fd };
    if (!parse(&j, req)) {
        sim_control_error(fd, "firmware-restore needs \"version\" and \"build\" (strings), optional \"erase\", "
                              "\"allow_restore_mode\" (booleans) and \"components\" (sizes)");
        return;
    }
    const char *product = json_string_value(json_object_get(req, "product_type"));
    sim_lock(w);
    bool mismatch = product && strcmp(product, d->product_type) != 0;
    bool taken = d->index < 0 || d->index >= 64 || busy[d->index];
    if (!mismatch && !taken)
        busy[d->index] = true;
    sim_unlock(w);
    if (mismatch) {
        sim_control_reply(fd, json_pack("{s:b,s:s,s:s}", "ok", 0, "error", "this firmware is not for this device",
                                        "failure", "not-for-device"));
        return;
    }
    if (taken) {
        sim_control_reply(fd, json_pack("{s:b,s:s,s:s}", "ok", 0, "error", "a restore of this device is already running",
                                        "failure", "busy"));
        return;
    }
    run(&j);
    sim_lock(w);
    busy[d->index] = false;
    sim_unlock(w);
}

__attribute__((constructor)) static void register_restore(void)
{
    sim_control_register("firmware-restore", cmd_firmware_restore);
}
