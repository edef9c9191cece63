/*
 * backup.c — restore method "backup", taking a backup: a full mobilebackup2 backup of a
 * device in normal mode into DIR/<UDID>/, the iTunes/Finder layout idevicebackup2 also
 * writes (so either tool restores what the other took).
 *
 * Never a half backup that looks whole: before the device sends anything we remove any
 * old Status.plist (its "finished" would vouch for files about to be replaced) and drop
 * a marker, DIR/<UDID>/.revive-incomplete. The marker goes only when the device reported
 * success AND its new Status.plist says SnapshotState "finished". Interrupted, cancelled
 * or failed, the marker stays with the reason in it and the result says complete=false.
 *
 * Free space: refused before starting if the disk has less than usb.backup_reserve_mb
 * (default 256 MiB) free, and stopped (incomplete) if it falls below that while writing.
 */
#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MARKER ".revive-incomplete"
#define MAC_EPOCH 978307200

static void copy_key(plist_t from, const char *fkey, plist_t to, const char *tkey)
{
    plist_t n = from ? plist_dict_get_item(from, fkey) : NULL;
    if (n)
        plist_dict_set_item(to, tkey, plist_copy(n));
}

/* Info.plist as iTunes writes it, from lockdown's values. */
static plist_t make_info(const usb_sync *sy, const char *udid)
{
    plist_t v = sy->values && plist_get_node_type(sy->values) == PLIST_DICT ? sy->values : NULL;
    plist_t info = plist_new_dict();
    copy_key(v, "BuildVersion", info, "Build Version");
    copy_key(v, "DeviceName", info, "Device Name");
    copy_key(v, "DeviceName", info, "Display Name");
    char guid[33];
    unsigned char rnd[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd)
        memset(rnd, 0x5a, sizeof rnd);
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < 16; i++)
        snprintf(guid + 2 * i, 3, "%02X", rnd[i]);
    plist_dict_set_item(info, "GUID", plist_new_string(guid));
    copy_key(v, "IntegratedCircuitCardIdentity", info, "ICCID");
    copy_key(v, "InternationalMobileEquipmentIdentity", info, "IMEI");
    copy_key(v, "MobileEquipmentIdentifier", info, "MEID");
    copy_key(v, "PhoneNumber", info, "Phone Number");
    plist_dict_set_item(info, "Last Backup Date", plist_new_date((int32_t)(time(NULL) - MAC_EPOCH), 0));
    copy_key(v, "ProductType", info, "Product Name");
    copy_key(v, "ProductType", info, "Product Type");
    copy_key(v, "ProductVersion", info, "Product Version");
    copy_key(v, "SerialNumber", info, "Serial Number");
    plist_dict_set_item(info, "Target Identifier", plist_new_string(udid));
    plist_dict_set_item(info, "Target Type", plist_new_string("Device"));
    char up[64];
    usb_copy(up, sizeof up, udid);
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    plist_dict_set_item(info, "Unique Identifier", plist_new_string(up));
    plist_dict_set_item(info, "Installed Applications", plist_new_array());
    plist_dict_set_item(info, "Applications", plist_new_dict());
    plist_dict_set_item(info, "iTunes Files", plist_new_dict());
    plist_dict_set_item(info, "iTunes Settings", plist_new_dict());
    plist_dict_set_item(info, "iTunes Version", plist_new_string("10.0.1"));
    return info;
}

static void write_marker(const char *path, const char *reason)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char text[768];
    int n = snprintf(text, sizeof text,
                     "This backup is INCOMPLETE and must not be restored.\nreason: %s\n", reason);
    if (n > 0)
        (void)!write(fd, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    close(fd);
}

/* True if DIR/<udid>/Status.plist says SnapshotState "finished". */
static bool status_finished(const char *udir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/Status.plist", udir);
    plist_t p = mb2_read_plist(path);
    bool ok = false;
    plist_t n = p && plist_get_node_type(p) == PLIST_DICT ? plist_dict_get_item(p, "SnapshotState") : NULL;
    if (n && plist_get_node_type(n) == PLIST_STRING)
        ok = !strcmp(plist_get_string_ptr(n, NULL), "finished");
    plist_free(p);
    return ok;
}

int usb_backup_take(void *state, revive_call *call, const revive_device_id *dev, const char *dir,
                    const revive_field *opts, size_t nopts)
{
    usb_state *st = state;
    (void)opts;
    (void)nopts;
    if (!dir || !*dir)
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0, "backup: no directory given");
    if (dev->mode != REVIVE_MODE_NORMAL)
        return st->host->fail(call, REVIVE_E_WRONG_MODE, NULL, 0,
                              "a backup needs the device booted into iOS (normal mode); it is in %s mode",
                              usb_mode_name(dev->mode));
    int e = mb2_mkdirs(dir, 0755);
    if (e)
        return st->host->fail(call, e == EACCES ? REVIVE_E_PERMISSION : REVIVE_E_IO, NULL, e,
                              "cannot create the backup directory %s: %s", dir, strerror(e));
    uint64_t reserve = (uint64_t)(usb_config_seconds(st, call, "usb.backup_reserve_mb", 256.0) * 1048576.0);
    uint64_t free0 = mb2_free_space(dir);
    if (free0 != UINT64_MAX && free0 < reserve)
        return st->host->fail(call, REVIVE_E_NO_SPACE_HOST, NULL, ENOSPC,
                              "only %" PRIu64 " MiB free on the disk of %s; a backup needs at least "
                              "%" PRIu64 " MiB (usb.backup_reserve_mb) plus the size of the phone's "
                              "data: free space or choose another directory",
                              free0 >> 20, dir, reserve >> 20);

    usb_sync sy;
    mb2_session s;
    memset(&s, 0, sizeof s);
    int rc = usb_sync_begin(st, call, dev, &sy, &s.dl);
    if (rc != REVIVE_OK)
        return rc;

    /* The backup is usually much smaller than the phone's data (apps are not in it), so a
     * disk smaller than the data is a warning, not a refusal. */
    if (sy.data_used && free0 != UINT64_MAX && free0 < sy.data_used + reserve) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "the phone holds %" PRIu64 " MiB of data and %s has %" PRIu64 " MiB free: the backup "
                 "may not fit (it stops, marked incomplete, if the disk fills)",
                 sy.data_used >> 20, dir, free0 >> 20);
        revive_field f[] = { REVIVE_FIELD_STR("message", msg),
                             REVIVE_FIELD_INT("device_data", (int64_t)sy.data_used),
                             REVIVE_FIELD_INT("host_free", (int64_t)free0) };
        st->host->event(call, "warning", f, 3);
    }

    char udir[PATH_MAX], marker[PATH_MAX], path[PATH_MAX];
    if (snprintf(udir, sizeof udir, "%s/%s", dir, dev->udid) >= (int)sizeof udir ||
        !mb2_path_safe(dev->udid)) {
        usb_sync_end(st, call, &sy, &s.dl);
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0, "backup directory path too long");
    }
    snprintf(marker, sizeof marker, "%s/%s", udir, MARKER);
    e = mb2_mkdirs(udir, 0755);
    if (!e) {
        write_marker(marker, "the backup was started and has not finished");
        snprintf(path, sizeof path, "%s/Status.plist", udir);
        if (unlink(path) != 0 && errno != ENOENT)
            e = errno;
    }
    if (!e) {
        plist_t info = make_info(&sy, dev->udid);
        snprintf(path, sizeof path, "%s/Info.plist", udir);
        e = mb2_write_plist(path, info);
        plist_free(info);
    }
    if (e) {
        usb_sync_end(st, call, &sy, &s.dl);
        return st->host->fail(call, e == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, NULL, e,
                              "cannot prepare %s: %s", udir, strerror(e));
    }
    bool encrypted = sy.will_encrypt;
    st->host->log(call, REVIVE_LOG_INFO, "backing up %s into %s (%s)", dev->udid, udir,
                  encrypted ? "encrypted by the device" : "not encrypted");

    plist_t o = plist_new_dict();
    plist_dict_set_item(o, "ForceFullBackup", plist_new_bool(1));
    s.st = st;
    s.call = call;
    s.root = dir;
    s.read_only = false;
    s.phase = "backup";
    s.reserve = reserve;
    rc = dl_request(&s.dl, "Backup", dev->udid, dev->udid, o);
    if (rc == REVIVE_OK)
        rc = mb2_run(&s);
    usb_sync_end(st, call, &sy, &s.dl);

    bool finished = status_finished(udir);
    bool complete = rc == REVIVE_OK && s.finished && s.device_code == 0 && finished;
    if (complete) {
        unlink(marker);
    } else {
        char reason[512];
        if (rc != REVIVE_OK)
            snprintf(reason, sizeof reason, "the transfer stopped (%s)", revive_error_name(rc));
        else if (s.device_code != 0)
            snprintf(reason, sizeof reason, "the device reported error %" PRId64 ": %s", s.device_code,
                     s.device_text);
        else
            snprintf(reason, sizeof reason, "Status.plist does not say the snapshot finished");
        write_marker(marker, reason);
    }
    usb_result_str(st, call, "path", udir);
    usb_result_bool(st, call, "complete", complete);
    usb_result_int(st, call, "files", (int64_t)s.files_done);
    usb_result_int(st, call, "bytes", (int64_t)s.bytes_done);
    usb_result_bool(st, call, "encrypted", encrypted);
    if (rc != REVIVE_OK)
        return rc;
    if (s.device_code != 0)
        return usb_fail_device_code(st, call, (int)s.device_code, s.device_text,
                                    "backup failed; it is marked incomplete");
    if (!finished)
        return st->host->fail(call, REVIVE_E_CORRUPT, "mobilebackup2", 0,
                              "the device reported success but %s/Status.plist does not say "
                              "\"finished\"; the backup is marked incomplete", udir);
    return REVIVE_OK;
}
