/* Logging: leveled lines to stderr, never to stdout (stdout carries --json events). */
#ifndef RV_LOG_H
#define RV_LOG_H
#include <revive/host.h>
#include <stdarg.h>

void rv_log_set_level(int level);          /* REVIVE_LOG_* ; default WARN+1 = INFO */
int rv_log_level(void);
void rv_log(int level, const char *fmt, ...) REVIVE_PRINTF(2, 3);
void rv_logv(int level, const char *prefix, const char *fmt, va_list ap) REVIVE_PRINTF(3, 0);

#define rv_error(...) rv_log(REVIVE_LOG_ERROR, __VA_ARGS__)
#define rv_warn(...)  rv_log(REVIVE_LOG_WARN, __VA_ARGS__)
#define rv_info(...)  rv_log(REVIVE_LOG_INFO, __VA_ARGS__)
#define rv_debug(...) rv_log(REVIVE_LOG_DEBUG, __VA_ARGS__)
#endif
