/*
 * ctx.c — how itunes_backup says what happened: errors into ctx->err, warnings and
 * problems as events, progress. Worker threads (verify) report through the same calls,
 * so events are serialised with the context's lock.
 */
#include "itunes.h"

#include <stdio.h>
#include <string.h>

void ib_ctx_init(ib_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->err.size = sizeof(c->err);
    pthread_mutex_init(&c->lock, NULL);
}

void ib_ctx_fini(ib_ctx *c)
{
    pthread_mutex_destroy(&c->lock);
}

int ib_fail(ib_ctx *c, int code, const char *origin, int origin_code, const char *fmt, ...)
{
    if (!c)
        return code;
    pthread_mutex_lock(&c->lock);
    c->err.size = sizeof(c->err);
    c->err.code = code;
    c->err.origin_code = origin_code;
    snprintf(c->err.origin, sizeof(c->err.origin), "%s", origin ? origin : "itunes");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err.message, sizeof(c->err.message), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&c->lock);
    return code;
}

static void emit(ib_ctx *c, const char *type, const revive_field *f, size_t n)
{
    pthread_mutex_lock(&c->lock);
    if (c->event)
        c->event(c->ud, type, f, n);
    pthread_mutex_unlock(&c->lock);
}

void ib_warn(ib_ctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    revive_field f[] = { REVIVE_FIELD_STR("message", msg) };
    pthread_mutex_lock(&c->lock);
    c->warnings++;
    pthread_mutex_unlock(&c->lock);
    emit(c, "warning", f, 1);
}

void ib_problem(ib_ctx *c, const char *path, const char *problem, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    revive_field f[] = {
        REVIVE_FIELD_STR("path", path ? path : ""),
        REVIVE_FIELD_STR("problem", problem),
        REVIVE_FIELD_STR("detail", detail),
    };
    pthread_mutex_lock(&c->lock);
    c->problems++;
    pthread_mutex_unlock(&c->lock);
    emit(c, "problem", f, 3);
}

void ib_progress(ib_ctx *c, const char *phase, uint64_t done, uint64_t total, const char *unit)
{
    if (c->progress)
        c->progress(c->ud, phase, done, total, unit);
}

bool ib_cancelled(ib_ctx *c)
{
    return c->cancelled && c->cancelled(c->ud);
}
