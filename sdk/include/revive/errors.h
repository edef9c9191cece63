/*
 * revive/errors.h — the one list of revive's error codes.
 *
 * The list below is append-only: a code, once published, keeps its number, name and
 * meaning forever (as curl's CURLcode does). Everything else — the enum, the names that
 * playbooks branch on, the messages, the "worth retrying" flag — is generated from it,
 * so they cannot drift apart (libuv's UV_ERRNO_MAP does the same).
 *
 * Errors that come from a library (lockdownd, irecv, mobilebackup2, curl, ...) are mapped
 * to one of these codes; the library's own code and text travel beside it in
 * struct revive_error (see plugin.h), so nothing the library said is lost.
 */
#ifndef REVIVE_ERRORS_H
#define REVIVE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

/* X(ENUM_SUFFIX, number, "name", retry, "message")
 * retry: 1 if trying the same operation again can help (after a reconnect, a wait, ...). */
#define REVIVE_ERROR_MAP(X)                                                                   \
    X(OK,               0, "ok",               0, "success")                                  \
    X(UNKNOWN,          1, "unknown",          0, "an unexpected error")                      \
    X(DISCONNECTED,     2, "disconnected",     1, "the device disconnected")                  \
    X(TIMEOUT,          3, "timeout",          1, "timed out")                                \
    X(CANCELLED,        4, "cancelled",        0, "cancelled")                                \
    X(NOT_FOUND,        5, "not_found",        0, "not found")                                \
    X(BUSY,             6, "busy",             1, "busy, try again later")                    \
    X(PROTOCOL,         7, "protocol",         1, "the device answered something unexpected") \
    X(REFUSED,          8, "refused",          0, "the device refused the request")           \
    X(NOT_SIGNED,       9, "not_signed",       0, "Apple does not sign this firmware for this device") \
    X(CHECKSUM,        10, "checksum",         1, "checksum mismatch")                        \
    X(NO_SPACE_HOST,   11, "no_space_host",    0, "not enough free space on this computer")  \
    X(NO_SPACE_DEVICE, 12, "no_space_device",  0, "not enough free space on the device")     \
    X(LOW_BATTERY,     13, "low_battery",      1, "the device battery is too low")            \
    X(WRONG_PASSWORD,  14, "wrong_password",   0, "wrong password")                           \
    X(CORRUPT,         15, "corrupt",          0, "the input is corrupt")                     \
    X(UNSUPPORTED,     16, "unsupported",      0, "not supported")                            \
    X(PERMISSION,      17, "permission",       0, "permission denied")                        \
    X(IO,              18, "io",               1, "input/output error")                       \
    X(NETWORK,         19, "network",          1, "network error")                            \
    X(PLUGIN_ABI,      20, "plugin_abi",       0, "the plugin was built for another revive ABI") \
    X(INVALID,         21, "invalid",          0, "invalid argument")                         \
    X(NO_MEMORY,       22, "no_memory",        0, "out of memory")                            \
    X(NOT_PAIRED,      23, "not_paired",       1, "the device does not trust this computer")  \
    X(PASSCODE,        24, "passcode",         1, "the device is locked with a passcode")     \
    X(NO_DEVICE,       25, "no_device",        1, "no device found")                          \
    X(WRONG_MODE,      26, "wrong_mode",       0, "the device is not in the mode this needs") \
    X(LIMIT,           27, "limit",            0, "a limit was exceeded")                     \
    X(NOT_BUILT,       28, "not_built",        0, "this part of revive is not built yet")     \
    X(PLAYBOOK,        29, "playbook",         0, "the playbook failed")                      \
    X(UNSAFE,          30, "unsafe",           0, "the input tries to reach outside where it may") \
    X(NEEDS_PERSON,    31, "needs_person",     0, "a person has to act")                      \
    X(POLICY,          32, "policy",           0, "not allowed by the playbook's policy")     \
    X(PASSWORD_NEEDED, 33, "password_needed",  0, "a password is needed")                     \
    X(PLUGIN,          34, "plugin",           0, "a plugin failed to load or start")

/* The codes. Functions in the SDK return int: REVIVE_OK or one of these. */
typedef enum revive_status {
#define REVIVE__ENUM(sym, num, name, retry, msg) REVIVE_E_##sym = num,
    REVIVE_ERROR_MAP(REVIVE__ENUM)
#undef REVIVE__ENUM
    REVIVE_E__COUNT
} revive_status;

#define REVIVE_OK REVIVE_E_OK

/* The stable, lowercase name of a code ("disconnected"); "unknown" for a code this header
 * does not know (a newer core may pass one to an older plugin). */
static inline const char *revive_error_name(int code)
{
    switch (code) {
#define REVIVE__NAME(sym, num, name, retry, msg) case num: return name;
        REVIVE_ERROR_MAP(REVIVE__NAME)
#undef REVIVE__NAME
    default: return "unknown";
    }
}

/* One short sentence for a code, without trailing punctuation. */
static inline const char *revive_error_message(int code)
{
    switch (code) {
#define REVIVE__MSG(sym, num, name, retry, msg) case num: return msg;
        REVIVE_ERROR_MAP(REVIVE__MSG)
#undef REVIVE__MSG
    default: return "an unexpected error";
    }
}

/* Whether trying the same thing again (after a wait or a reconnect) can help. */
static inline bool revive_error_retryable(int code)
{
    switch (code) {
#define REVIVE__RETRY(sym, num, name, retry, msg) case num: return retry != 0;
        REVIVE_ERROR_MAP(REVIVE__RETRY)
#undef REVIVE__RETRY
    default: return false;
    }
}

#endif /* REVIVE_ERRORS_H */
