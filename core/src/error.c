#include "error.h"
#include <stdio.h>
#include <string.h>

void rv_error_clear(revive_error *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->size = sizeof *err;
}

int rv_failv(revive_error *err, int code, const char *origin, int origin_code, const char *fmt,
             va_list ap)
{
    if (!err)
        return code;
    rv_error_clear(err);
    err->code = code;
    err->origin_code = origin_code;
    if (origin)
        snprintf(err->origin, sizeof err->origin, "%s", origin);
    if (fmt)
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    else
        snprintf(err->message, sizeof err->message, "%s", revive_error_message(code));
    return code;
}

int rv_fail(revive_error *err, int code, const char *origin, int origin_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rv_failv(err, code, origin, origin_code, fmt, ap);
    va_end(ap);
    return code;
}

const char *rv_error_describe(const revive_error *err, char *buf, size_t cap)
{
    const char *msg = err->message[0] ? err->message : revive_error_message(err->code);
    if (err->origin[0])
        snprintf(buf, cap, "%s [%s; %s code %d]", msg, revive_error_name(err->code), err->origin,
                 (int)err->origin_code);
    else
        snprintf(buf, cap, "%s [%s]", msg, revive_error_name(err->code));
    return buf;
}
