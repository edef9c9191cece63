/*
 * errors.c — what the libraries say, turned into revive's codes.
 *
 * Every failure keeps the library's own code and text (origin, origin_code, and the
 * library's strerror in the message) beside the revive code, and where we know what a
 * person can do about it, the message says so. The usb_status_* functions are pure maps
 * (unit-tested one by one); the usb_fail_* functions record the error through host->fail.
 *
 * USB permission problems are the commonest failure in the field, so they are diagnosed
 * rather than guessed: for usbmuxd we look at its socket (missing, refused, no access);
 * for libirecovery we name the udev rule and group that give access to the device.
 */
#include "usb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libimobiledevice/mobilebackup2.h>

int usb_status_lockdown(int lerr)
{
    switch (lerr) {
    case LOCKDOWN_E_SUCCESS:                    return REVIVE_OK;
    case LOCKDOWN_E_INVALID_ARG:                return REVIVE_E_INVALID;
    case LOCKDOWN_E_RECEIVE_TIMEOUT:            return REVIVE_E_TIMEOUT;
    case LOCKDOWN_E_MUX_ERROR:                  return REVIVE_E_DISCONNECTED;
    case LOCKDOWN_E_PLIST_ERROR:
    case LOCKDOWN_E_DICT_ERROR:
    case LOCKDOWN_E_INVALID_RESPONSE:           return REVIVE_E_PROTOCOL;
    case LOCKDOWN_E_PASSWORD_PROTECTED:         return REVIVE_E_PASSCODE;
    case LOCKDOWN_E_USER_DENIED_PAIRING:        return REVIVE_E_REFUSED;
    case LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING:
    case LOCKDOWN_E_INVALID_HOST_ID:
    case LOCKDOWN_E_MISSING_HOST_ID:
    case LOCKDOWN_E_MISSING_PAIR_RECORD:
    case LOCKDOWN_E_INVALID_PAIR_RECORD:
    case LOCKDOWN_E_PAIRING_FAILED:             return REVIVE_E_NOT_PAIRED;
    case LOCKDOWN_E_SAVE_PAIR_RECORD_FAILED:    return REVIVE_E_PERMISSION;
    case LOCKDOWN_E_GET_PROHIBITED:
    case LOCKDOWN_E_SET_PROHIBITED:
    case LOCKDOWN_E_REMOVE_PROHIBITED:
    case LOCKDOWN_E_IMMUTABLE_VALUE:
    case LOCKDOWN_E_SERVICE_PROHIBITED:
    case LOCKDOWN_E_PAIRING_PROHIBITED_OVER_THIS_CONNECTION:
    case LOCKDOWN_E_FMIP_PROTECTED:
    case LOCKDOWN_E_MC_PROTECTED:
    case LOCKDOWN_E_MC_CHALLENGE_REQUIRED:      return REVIVE_E_REFUSED;
    case LOCKDOWN_E_ESCROW_LOCKED:              return REVIVE_E_PASSCODE;
    case LOCKDOWN_E_SERVICE_LIMIT:              return REVIVE_E_BUSY;
    case LOCKDOWN_E_MISSING_SERVICE:
    case LOCKDOWN_E_INVALID_SERVICE:            return REVIVE_E_UNSUPPORTED;
    case LOCKDOWN_E_MISSING_KEY:
    case LOCKDOWN_E_MISSING_VALUE:              return REVIVE_E_NOT_FOUND;
    case LOCKDOWN_E_SSL_ERROR:
    case LOCKDOWN_E_NO_RUNNING_SESSION:
    case LOCKDOWN_E_SESSION_ACTIVE:
    case LOCKDOWN_E_SESSION_INACTIVE:
    case LOCKDOWN_E_MISSING_SESSION_ID:
    case LOCKDOWN_E_INVALID_SESSION_ID:         return REVIVE_E_PROTOCOL;
    default:                                    return REVIVE_E_UNKNOWN;
    }
}

static const char *lockdown_advice(int lerr)
{
    switch (lerr) {
    case LOCKDOWN_E_PASSWORD_PROTECTED:
        return "unlock the phone with its passcode, then try again";
    case LOCKDOWN_E_USER_DENIED_PAIRING:
        return "the person tapped \"Don't Trust\" on the phone; unplug and replug it and tap \"Trust\"";
    case LOCKDOWN_E_PAIRING_DIALOG_RESPONSE_PENDING:
        return "tap \"Trust\" on the phone and enter its passcode";
    case LOCKDOWN_E_INVALID_HOST_ID:
    case LOCKDOWN_E_INVALID_PAIR_RECORD:
        return "the phone no longer trusts this computer's pairing record; unplug, replug and tap \"Trust\" again";
    case LOCKDOWN_E_SAVE_PAIR_RECORD_FAILED:
        return "usbmuxd could not save the pairing record: check that /var/lib/lockdown exists and belongs to usbmuxd's user";
    case LOCKDOWN_E_MUX_ERROR:
        return "the device went away; check the cable and that the phone stays unlocked";
    case LOCKDOWN_E_FMIP_PROTECTED:
        return "turn off Find My iPhone on the phone first";
    case LOCKDOWN_E_SERVICE_LIMIT:
        return "another program is talking to the phone; close it and try again";
    case LOCKDOWN_E_ESCROW_LOCKED:
        return "unlock the phone once with its passcode (it was restarted)";
    default:
        return NULL;
    }
}

int usb_status_idevice(int ierr)
{
    switch (ierr) {
    case IDEVICE_E_SUCCESS:         return REVIVE_OK;
    case IDEVICE_E_INVALID_ARG:     return REVIVE_E_INVALID;
    case IDEVICE_E_NO_DEVICE:       return REVIVE_E_NO_DEVICE;
    case IDEVICE_E_NOT_ENOUGH_DATA: return REVIVE_E_PROTOCOL;
    case IDEVICE_E_SSL_ERROR:       return REVIVE_E_PROTOCOL;
    case IDEVICE_E_TIMEOUT:         return REVIVE_E_TIMEOUT;
    default:                        return REVIVE_E_UNKNOWN;
    }
}

int usb_status_irecv(int rerr)
{
    switch (rerr) {
    case IRECV_E_SUCCESS:           return REVIVE_OK;
    case IRECV_E_NO_DEVICE:         return REVIVE_E_NO_DEVICE;
    case IRECV_E_OUT_OF_MEMORY:     return REVIVE_E_NO_MEMORY;
    case IRECV_E_UNABLE_TO_CONNECT: return REVIVE_E_PERMISSION;
    case IRECV_E_INVALID_INPUT:     return REVIVE_E_INVALID;
    case IRECV_E_FILE_NOT_FOUND:    return REVIVE_E_NOT_FOUND;
    case IRECV_E_USB_UPLOAD:
    case IRECV_E_USB_STATUS:
    case IRECV_E_PIPE:              return REVIVE_E_IO;
    case IRECV_E_USB_INTERFACE:
    case IRECV_E_USB_CONFIGURATION: return REVIVE_E_PERMISSION;
    case IRECV_E_TIMEOUT:           return REVIVE_E_TIMEOUT;
    case IRECV_E_UNSUPPORTED:       return REVIVE_E_UNSUPPORTED;
    default:                        return REVIVE_E_UNKNOWN;
    }
}

int usb_status_mb2(int merr)
{
    switch (merr) {
    case MOBILEBACKUP2_E_SUCCESS:           return REVIVE_OK;
    case MOBILEBACKUP2_E_INVALID_ARG:       return REVIVE_E_INVALID;
    case MOBILEBACKUP2_E_PLIST_ERROR:       return REVIVE_E_PROTOCOL;
    case MOBILEBACKUP2_E_MUX_ERROR:         return REVIVE_E_DISCONNECTED;
    case MOBILEBACKUP2_E_SSL_ERROR:         return REVIVE_E_PROTOCOL;
    case MOBILEBACKUP2_E_RECEIVE_TIMEOUT:   return REVIVE_E_TIMEOUT;
    case MOBILEBACKUP2_E_BAD_VERSION:
    case MOBILEBACKUP2_E_NO_COMMON_VERSION: return REVIVE_E_UNSUPPORTED;
    case MOBILEBACKUP2_E_REPLY_NOT_OK:      return REVIVE_E_REFUSED;
    default:                                return REVIVE_E_UNKNOWN;
    }
}

static const char *mb2_name(int merr)
{
    switch (merr) {
    case MOBILEBACKUP2_E_INVALID_ARG:       return "invalid argument";
    case MOBILEBACKUP2_E_PLIST_ERROR:       return "malformed message";
    case MOBILEBACKUP2_E_MUX_ERROR:         return "connection lost";
    case MOBILEBACKUP2_E_SSL_ERROR:         return "SSL error";
    case MOBILEBACKUP2_E_RECEIVE_TIMEOUT:   return "receive timeout";
    case MOBILEBACKUP2_E_BAD_VERSION:       return "bad protocol version";
    case MOBILEBACKUP2_E_REPLY_NOT_OK:      return "device replied not OK";
    case MOBILEBACKUP2_E_NO_COMMON_VERSION: return "no common protocol version";
    default:                                return "unknown error";
    }
}

/* Error codes a device's BackupAgent reports (MBErrorDomain) in the final
 * DLMessageProcessMessage; the ones people meet, with what to do about them. */
static const struct {
    int code;
    int status;
    const char *advice;
} device_codes[] = {
    { 1,   REVIVE_E_PASSCODE, "the device could not read its keychain: unlock it and keep it unlocked during the backup" },
    { 2,   REVIVE_E_INVALID, "the device rejected an argument" },
    { 17,  REVIVE_E_CORRUPT, "a file the device expected already exists; take the backup into an empty directory" },
    { 102, REVIVE_E_BUSY, "the device still holds the result of an earlier restore: reboot the device, then run the restore again" },
    { 103, REVIVE_E_CORRUPT, "the device could not read the backup's Status.plist; use a complete backup" },
    { 104, REVIVE_E_IO, "the device could not send some files; unlock it, keep it unlocked and try again" },
    { 105, REVIVE_E_NO_SPACE_HOST, "not enough free space for the backup on this computer" },
    { 106, REVIVE_E_NO_SPACE_DEVICE, "not enough free space on the device for this restore; free space on the device or restore a smaller backup" },
    { 205, REVIVE_E_CORRUPT, "the device could not read files of the backup (missing, truncated or unreadable); verify the backup and that the disk holding it is readable" },
    { 207, REVIVE_E_WRONG_PASSWORD, "the backup password is wrong" },
    { 208, REVIVE_E_UNSUPPORTED, "the backup was made by a newer iOS than the device runs; update the device first" },
    { 211, REVIVE_E_REFUSED, "turn off Find My iPhone on the device (Settings > your name > Find My), then restore again" },
    { 212, REVIVE_E_NEEDS_PERSON, "finish the setup assistant on the device first" },
};

int usb_status_device_code(int code)
{
    if (code == 0)
        return REVIVE_OK;
    for (size_t i = 0; i < sizeof device_codes / sizeof device_codes[0]; i++)
        if (device_codes[i].code == code)
            return device_codes[i].status;
    return REVIVE_E_UNKNOWN;
}

const char *usb_device_code_advice(int code)
{
    for (size_t i = 0; i < sizeof device_codes / sizeof device_codes[0]; i++)
        if (device_codes[i].code == code)
            return device_codes[i].advice;
    return NULL;
}

int usb_fail_lockdown(const usb_state *st, revive_call *call, int lerr, const char *what)
{
    const char *advice = lockdown_advice(lerr);
    return st->host->fail(call, usb_status_lockdown(lerr), "lockdownd", lerr, "%s: %s (lockdownd %d)%s%s",
                          what, lockdownd_strerror((lockdownd_error_t)lerr), lerr,
                          advice ? "; " : "", advice ? advice : "");
}

int usb_fail_idevice(const usb_state *st, revive_call *call, int ierr, const char *what)
{
    if (ierr == IDEVICE_E_NO_DEVICE || ierr == IDEVICE_E_UNKNOWN_ERROR) {
        /* libimobiledevice says "no device" both when the phone is gone and when usbmuxd
         * cannot be reached; tell them apart. */
        char diag[400];
        int rc = usb_diagnose_usbmuxd(diag, sizeof diag);
        if (rc != REVIVE_OK)
            return st->host->fail(call, rc, "usbmuxd", ierr, "%s: %s", what, diag);
        return st->host->fail(call, REVIVE_E_NO_DEVICE, "idevice", ierr,
                              "%s: the device is not connected (idevice %d); check the cable and that "
                              "the phone is on and unlocked", what, ierr);
    }
    return st->host->fail(call, usb_status_idevice(ierr), "idevice", ierr, "%s: idevice error %d",
                          what, ierr);
}

int usb_fail_irecv(const usb_state *st, revive_call *call, int rerr, const char *what)
{
    int code = usb_status_irecv(rerr);
    const char *text = irecv_strerror((irecv_error_t)rerr);
    if (code == REVIVE_E_PERMISSION)
        return st->host->fail(call, code, "irecv", rerr,
                              "%s: %s (irecv %d): this user may not open the USB device. Install "
                              "libirecovery's udev rule (package libirecovery-common, "
                              "/lib/udev/rules.d/39-libirecovery.rules) and add yourself to the "
                              "plugdev group (sudo usermod -aG plugdev $USER, then log in again), "
                              "or run as root", what, text ? text : "unable to connect", rerr);
    if (code == REVIVE_E_NO_DEVICE)
        return st->host->fail(call, code, "irecv", rerr,
                              "%s: no device in recovery or DFU mode with this ECID (irecv %d); check "
                              "the cable", what, rerr);
    return st->host->fail(call, code, "irecv", rerr, "%s: %s (irecv %d)", what,
                          text ? text : "error", rerr);
}

int usb_fail_mb2(const usb_state *st, revive_call *call, int merr, const char *what)
{
    int code = usb_status_mb2(merr);
    if (code == REVIVE_E_DISCONNECTED)
        return st->host->fail(call, code, "mobilebackup2", merr,
                              "%s: %s (mobilebackup2 %d); the device disconnected: check the cable "
                              "and run it again", what, mb2_name(merr), merr);
    return st->host->fail(call, code, "mobilebackup2", merr, "%s: %s (mobilebackup2 %d)", what,
                          mb2_name(merr), merr);
}

int usb_fail_device_code(const usb_state *st, revive_call *call, int code, const char *desc,
                         const char *what)
{
    const char *advice = usb_device_code_advice(code);
    return st->host->fail(call, usb_status_device_code(code), "mobilebackup2", code,
                          "%s: the device reported error %d: %s%s%s", what, code,
                          desc && *desc ? desc : "(no description)", advice ? "; " : "",
                          advice ? advice : "");
}

/* Where libusbmuxd looks for usbmuxd: USBMUXD_SOCKET_ADDRESS=UNIX:<path>, a TCP address,
 * or the system socket. */
static const char *usbmuxd_socket_path(bool *is_tcp)
{
    const char *env = getenv("USBMUXD_SOCKET_ADDRESS");
    *is_tcp = false;
    if (env && *env) {
        if (!strncmp(env, "UNIX:", 5))
            return env + 5;
        *is_tcp = true;
        return env;
    }
    return "/var/run/usbmuxd";
}

int usb_diagnose_usbmuxd(char *buf, size_t cap)
{
    bool tcp;
    const char *path = usbmuxd_socket_path(&tcp);
    if (tcp) {
        snprintf(buf, cap, "usbmuxd at %s (from USBMUXD_SOCKET_ADDRESS) does not answer; start it "
                 "there or unset USBMUXD_SOCKET_ADDRESS", path);
        return REVIVE_E_NO_DEVICE;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == EACCES) {
            snprintf(buf, cap, "no permission to reach usbmuxd's socket %s: add yourself to the "
                     "group that owns it or run as root", path);
            return REVIVE_E_PERMISSION;
        }
        snprintf(buf, cap, "usbmuxd is not running (no socket at %s): install usbmuxd and start "
                 "it (sudo systemctl start usbmuxd, or replug the phone so udev starts it)", path);
        return REVIVE_E_NO_DEVICE;
    }
    if (!S_ISSOCK(sb.st_mode)) {
        snprintf(buf, cap, "%s is not a socket, so usbmuxd cannot be reached: remove it and "
                 "restart usbmuxd", path);
        return REVIVE_E_NO_DEVICE;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(buf, cap, "cannot make a socket to reach usbmuxd: %s", strerror(errno));
        return REVIVE_E_IO;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    usb_copy(sa.sun_path, sizeof sa.sun_path, path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0) {
        buf[0] = '\0';
        return REVIVE_OK; /* usbmuxd answers: the problem is elsewhere */
    }
    if (e == EACCES || e == EPERM) {
        snprintf(buf, cap, "permission denied on usbmuxd's socket %s: add yourself to the group "
                 "that owns it (ls -l %s) or run as root", path, path);
        return REVIVE_E_PERMISSION;
    }
    if (e == ECONNREFUSED) {
        snprintf(buf, cap, "usbmuxd is not running: its socket %s exists but refuses connections "
                 "(a stale socket of a stopped usbmuxd); restart it (sudo systemctl restart "
                 "usbmuxd)", path);
        return REVIVE_E_NO_DEVICE;
    }
    snprintf(buf, cap, "cannot connect to usbmuxd at %s: %s", path, strerror(e));
    return REVIVE_E_NO_DEVICE;
}

int usb_fail_usbmuxd(const usb_state *st, revive_call *call, const char *what)
{
    char diag[400];
    int rc = usb_diagnose_usbmuxd(diag, sizeof diag);
    if (rc == REVIVE_OK)
        return st->host->fail(call, REVIVE_E_PROTOCOL, "usbmuxd", 0,
                              "%s: usbmuxd answered something unexpected", what);
    return st->host->fail(call, rc, "usbmuxd", 0, "%s: %s", what, diag);
}
