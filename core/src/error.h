/* Filling a revive_error inside the core. */
#ifndef RV_ERROR_H
#define RV_ERROR_H
#include <revive/host.h>
#include <stdarg.h>

void rv_error_clear(revive_error *err);
/* Fill err (if not NULL) and return code. */
int rv_fail(revive_error *err, int code, const char *origin, int origin_code, const char *fmt, ...)
    REVIVE_PRINTF(5, 6);
int rv_failv(revive_error *err, int code, const char *origin, int origin_code, const char *fmt,
             va_list ap) REVIVE_PRINTF(5, 0);
/* "name: message (origin code N)" for people. */
const char *rv_error_describe(const revive_error *err, char *buf, size_t cap);
#endif
