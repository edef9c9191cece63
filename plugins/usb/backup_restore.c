/*
 * backup_restore.c — restore method "backup", restoring: put a backup folder (iTunes/
 * Finder layout, DIR/<UDID>/) back onto a device in normal mode over mobilebackup2,
 * with idevicebackup2's options (system, reboot, copy, settings, remove).
 *
 * Order: check the backup on the host (backup_check.c) — a restore that would fail on
 * the device fails here, before the device is touched; ask for the password if the
 * backup is encrypted; then request Restore and serve the files the device asks for.
 * The backup is opened read-only and every request to change it is refused (mb2.c).
 *
 * If the device goes away in the middle, the error says how far it got and what state
 * the device is in: it has not confirmed the restore, the backup is untouched, and
 * running the same restore again is safe.
 */
#include "backup.h"
#include "backup_check.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Find the backup folder: DIR/<source>/ or DIR itself when it holds Info.plist. */
static int locate(usb_state *st, revive_call *call, const char *dir, const char *source,
                  const char *device_udid, char *root, size_t rcap, char *src, size_t scap)
{
    char path[PATH_MAX];
    struct stat sb;
    snprintf(path, sizeof path, "%s/Info.plist", dir);
    if (!source && stat(path, &sb) == 0) {
        /* DIR is the <UDID> folder itself */
        usb_copy(root, rcap, dir);
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
            root[--n] = '\0';
        char *slash = strrchr(root, '/');
        if (!slash) {
            usb_copy(src, scap, root);
            usb_copy(root, rcap, ".");
        } else {
            usb_copy(src, scap, slash + 1);
            if (slash == root)
                slash[1] = '\0';
            else
                *slash = '\0';
        }
        return REVIVE_OK;
    }
    usb_copy(root, rcap, dir);
    const char *want = source ? source : device_udid;
    if (!want || !mb2_path_safe(want) || strchr(want, '/'))
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0, "invalid backup source \"%s\"",
                              want ? want : "");
    snprintf(path, sizeof path, "%s/%s/Info.plist", dir, want);
    if (stat(path, &sb) != 0)
        return st->host->fail(call, REVIVE_E_NOT_FOUND, NULL, 0,
                              "no backup of %s in %s (no %s); pass the backup folder itself or "
                              "set the option source=<UDID of the backed-up device>",
                              want, dir, path);
    usb_copy(src, scap, want);
    return REVIVE_OK;
}

int usb_backup_restore(void *state, revive_call *call, const revive_device_id *dev,
                       const revive_field *opts, size_t nopts)
{
    usb_state *st = state;
    const char *dir = usb_opt_str(opts, nopts, "dir");
    if (!dir || !*dir)
        return st->host->fail(call, REVIVE_E_INVALID, NULL, 0,
                              "restore-backup: the option dir (the backup folder) is missing");
    char root[PATH_MAX], source[128], udir[PATH_MAX];
    int rc = locate(st, call, dir, usb_opt_str(opts, nopts, "source"), dev->udid, root, sizeof root,
                    source, sizeof source);
    if (rc != REVIVE_OK)
        return rc;
    snprintf(udir, sizeof udir, "%s/%s", root, source);

    backup_facts f;
    rc = backup_check(st, call, udir, &f);
    if (rc != REVIVE_OK)
        return rc;
    if (usb_opt_bool(opts, nopts, "check_only", false)) {
        usb_result_str(st, call, "path", udir);
        usb_result_int(st, call, "files", (int64_t)f.files);
        usb_result_int(st, call, "bytes", (int64_t)f.bytes);
        usb_result_bool(st, call, "encrypted", f.encrypted);
        return REVIVE_OK;
    }
    if (dev->mode != REVIVE_MODE_NORMAL)
        return st->host->fail(call, REVIVE_E_WRONG_MODE, NULL, 0,
                              "restoring a backup needs the device booted into iOS (normal mode); it "
                              "is in %s mode", usb_mode_name(dev->mode));

    char password[512] = "";
    if (f.encrypted) {
        char purpose[160];
        snprintf(purpose, sizeof purpose, "backup password for %s", source);
        rc = st->host->secret(call, purpose, password, sizeof password);
        if (rc == REVIVE_E_PASSWORD_NEEDED)
            return st->host->fail(call, REVIVE_E_PASSWORD_NEEDED, NULL, 0,
                                  "%s is encrypted and no password was given: use --password-file, "
                                  "REVIVE_BACKUP_PASSWORD or answer the prompt", udir);
        if (rc != REVIVE_OK)
            return rc;
        if (!password[0])
            return st->host->fail(call, REVIVE_E_PASSWORD_NEEDED, NULL, 0,
                                  "%s is encrypted and the password given is empty", udir);
    }

    bool system = usb_opt_bool(opts, nopts, "system", false);
    bool reboot = usb_opt_bool(opts, nopts, "reboot", true) &&
                  !usb_opt_bool(opts, nopts, "no-reboot", false);
    bool copy = usb_opt_bool(opts, nopts, "copy", false);
    bool settings = usb_opt_bool(opts, nopts, "settings", false);
    bool remove = usb_opt_bool(opts, nopts, "remove", false);

    usb_sync sy;
    mb2_session s;
    memset(&s, 0, sizeof s);
    rc = usb_sync_begin(st, call, dev, &sy, &s.dl);
    if (rc != REVIVE_OK) {
        memset(password, 0, sizeof password);
        return rc;
    }
    plist_t o = plist_new_dict();
    plist_dict_set_item(o, "RestoreSystemFiles", plist_new_bool(system));
    if (!reboot)
        plist_dict_set_item(o, "RestoreShouldReboot", plist_new_bool(0));
    if (!copy)
        plist_dict_set_item(o, "RestoreDontCopyBackup", plist_new_bool(1));
    plist_dict_set_item(o, "RestorePreserveSettings", plist_new_bool(!settings));
    if (remove)
        plist_dict_set_item(o, "RemoveItemsNotRestored", plist_new_bool(1));
    if (password[0])
        plist_dict_set_item(o, "Password", plist_new_string(password));
    memset(password, 0, sizeof password);

    s.st = st;
    s.call = call;
    s.root = root;
    s.read_only = true;
    s.phase = "restore";
    s.bytes_total = f.bytes;
    s.files_total = f.files;
    st->host->log(call, REVIVE_LOG_INFO, "restoring %s (%" PRIu64 " files, %" PRIu64 " bytes) onto %s",
                  udir, f.files, f.bytes, dev->udid);
    rc = dl_request(&s.dl, "Restore", dev->udid, source, o);
    if (rc == REVIVE_OK)
        rc = mb2_run(&s);
    usb_sync_end(st, call, &sy, &s.dl);

    usb_result_str(st, call, "path", udir);
    usb_result_int(st, call, "files", (int64_t)s.files_done);
    usb_result_int(st, call, "bytes", (int64_t)s.bytes_done);
    usb_result_bool(st, call, "reboot", reboot);
    if (rc == REVIVE_E_DISCONNECTED || rc == REVIVE_E_TIMEOUT || rc == REVIVE_E_CANCELLED) {
        revive_field fl[] = {
            REVIVE_FIELD_STR("state", "restore_unconfirmed"),
            REVIVE_FIELD_INT("files_sent", (int64_t)s.files_done),
            REVIVE_FIELD_INT("files_total", (int64_t)f.files),
            REVIVE_FIELD_STR("message",
                             "the device did not confirm the restore, so it has not applied it as a "
                             "whole; the backup on this computer is unchanged; reconnect the device "
                             "(reboot it if it reports error 102) and run the same restore again"),
        };
        st->host->event(call, "warning", fl, sizeof fl / sizeof fl[0]);
        return st->host->fail(call, rc, "mobilebackup2", 0,
                              "the restore stopped after %" PRIu64 " of %" PRIu64 " files (%s): the "
                              "device did not confirm it and the backup is unchanged; reconnect the "
                              "device and run the same restore again, it is safe to repeat",
                              s.files_done, f.files, revive_error_name(rc));
    }
    if (rc != REVIVE_OK)
        return rc;
    if (s.device_code != 0)
        return usb_fail_device_code(st, call, (int)s.device_code, s.device_text, "restore failed");
    return REVIVE_OK;
}
