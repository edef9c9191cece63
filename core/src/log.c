#include "log.h"
#include "term.h"
#include <pthread.h>
#include <stdio.h>

static int current_level = REVIVE_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void rv_log_set_level(int level)
{
    if (level < REVIVE_LOG_ERROR)
        level = REVIVE_LOG_ERROR;
    if (level > REVIVE_LOG_TRACE)
        level = REVIVE_LOG_TRACE;
    current_level = level;
}

int rv_log_level(void) { return current_level; }

static const char *level_word(int level)
{
    switch (level) {
    case REVIVE_LOG_ERROR: return "error";
    case REVIVE_LOG_WARN:  return "warning";
    case REVIVE_LOG_INFO:  return "info";
    case REVIVE_LOG_DEBUG: return "debug";
    default:               return "trace";
    }
}

void rv_logv(int level, const char *prefix, const char *fmt, va_list ap)
{
    if (level > current_level)
        return;
    pthread_mutex_lock(&log_lock);
    /* A progress bar may own the current terminal line; clear it first. */
    rv_term_clear_line(stderr);
    fprintf(stderr, "revive: %s: ", level_word(level));
    if (prefix && *prefix)
        fprintf(stderr, "%s: ", prefix);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void rv_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rv_logv(level, NULL, fmt, ap);
    va_end(ap);
}
