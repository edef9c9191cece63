#include "events.h"
#include "fields.h"
#include "term.h"
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SINKS 16
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { rv_sink_fn fn; void *ud; } sinks[MAX_SINKS];

double rv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double rv_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int rv_events_add_sink(rv_sink_fn fn, void *ud)
{
    pthread_mutex_lock(&bus_lock);
    for (int i = 0; i < MAX_SINKS; i++) {
        if (!sinks[i].fn) {
            sinks[i].fn = fn;
            sinks[i].ud = ud;
            pthread_mutex_unlock(&bus_lock);
            return i;
        }
    }
    pthread_mutex_unlock(&bus_lock);
    return -1;
}

void rv_events_remove_sink(int id)
{
    if (id < 0 || id >= MAX_SINKS)
        return;
    pthread_mutex_lock(&bus_lock);
    sinks[id].fn = NULL;
    sinks[id].ud = NULL;
    pthread_mutex_unlock(&bus_lock);
}

void rv_emit(const char *run, const char *device, const char *type, const revive_field *f, size_t n)
{
    rv_event ev = { rv_now(), run, device, type, f, n };
    pthread_mutex_lock(&bus_lock);
    for (int i = 0; i < MAX_SINKS; i++)
        if (sinks[i].fn)
            sinks[i].fn(&ev, sinks[i].ud);
    pthread_mutex_unlock(&bus_lock);
}

void rv_format_bytes(double b, char *buf, size_t cap)
{
    static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
    int u = 0;
    while (b >= 1000.0 && u < 4) {
        b /= 1000.0;
        u++;
    }
    snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.1f %s", b, unit[u]);
}

/* ---------------------------------------------------------------- progress */

void rv_progress_report(rv_progress *p, const char *run, const char *device, const char *phase,
                        uint64_t done, uint64_t total, const char *unit)
{
    double now = rv_monotonic();
    if (strncmp(p->phase, phase, sizeof p->phase - 1) != 0) {
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->started = now;
        p->last_emit = 0;
        p->last_done = 0;
        p->last_percent_bucket = -1;
    }
    bool last = total > 0 && done >= total;
    int bucket = total > 0 ? (int)((double)done * 20.0 / (double)total) : -1; /* 5% steps */
    double gap = now - p->last_emit;
    bool due = rv_term_is_tty() ? gap >= 0.1 : (bucket != p->last_percent_bucket || gap >= 10.0);
    if (!last && !due && p->last_emit != 0)
        return;
    if (last && p->last_done == done && p->last_emit != 0)
        return;
    double elapsed = now - p->started;
    double rate = elapsed > 0.05 ? (double)done / elapsed : 0.0;
    revive_field f[8];
    size_t n = 0;
    f[n++] = (revive_field)REVIVE_FIELD_STR("phase", phase);
    f[n++] = (revive_field)REVIVE_FIELD_INT("done", (int64_t)done);
    f[n++] = (revive_field)REVIVE_FIELD_INT("total", (int64_t)total);
    f[n++] = (revive_field)REVIVE_FIELD_STR("unit", unit ? unit : "");
    if (total > 0)
        f[n++] = (revive_field)REVIVE_FIELD_REAL("percent", floor((double)done * 1000.0 / (double)total) / 10.0);
    if (rate > 0)
        f[n++] = (revive_field)REVIVE_FIELD_REAL("rate", rate);
    if (rate > 0 && total > done)
        f[n++] = (revive_field)REVIVE_FIELD_REAL("eta", (double)(total - done) / rate);
    rv_emit(run, device, "progress", f, n);
    p->last_emit = now;
    p->last_done = done;
    p->last_percent_bucket = bucket;
}

/* ---------------------------------------------------------------- JSON sink */

static void json_sink(const rv_event *ev, void *ud)
{
    FILE *out = ud;
    json_t *o = json_object();
    char when[64];
    time_t secs = (time_t)ev->time;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + len, sizeof when - len, ".%03dZ", (int)((ev->time - (double)secs) * 1000.0));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "run", ev->run ? json_string(ev->run) : json_null());
    json_object_set_new(o, "device", ev->device ? json_string(ev->device) : json_null());
    json_object_set_new(o, "type", json_string(ev->type));
    json_t *fields = rv_fields_to_json(ev->fields, ev->n);
    json_object_set_new(o, "fields", fields ? fields : json_object());
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (line) {
        fputs(line, out);
        fputc('\n', out);
        fflush(out);
        free(line);
    }
    json_decref(o);
}

int rv_events_json_sink(FILE *out) { return rv_events_add_sink(json_sink, out); }

/* ---------------------------------------------------------------- terminal sink */

static const char *fstr(const rv_event *ev, const char *key)
{
    const revive_field *x = revive_field_find(ev->fields, ev->n, key);
    return x && x->type == REVIVE_VAL_STR ? x->v.s : NULL;
}

static double fnum(const rv_event *ev, const char *key, double dflt)
{
    const revive_field *x = revive_field_find(ev->fields, ev->n, key);
    if (!x)
        return dflt;
    if (x->type == REVIVE_VAL_INT)
        return (double)x->v.i;
    if (x->type == REVIVE_VAL_REAL)
        return x->v.r;
    return dflt;
}

static void format_amount(double v, const char *unit, char *buf, size_t cap)
{
    if (unit && strcmp(unit, "bytes") == 0)
        rv_format_bytes(v, buf, cap);
    else
        snprintf(buf, cap, "%.0f%s%s", v, unit && *unit ? " " : "", unit ? unit : "");
}

static void progress_text(const rv_event *ev, char *buf, size_t cap, bool bar)
{
    const char *phase = fstr(ev, "phase");
    const char *unit = fstr(ev, "unit");
    double done = fnum(ev, "done", 0), total = fnum(ev, "total", 0);
    double pct = fnum(ev, "percent", -1), rate = fnum(ev, "rate", 0), eta = fnum(ev, "eta", -1);
    char d[32], t[32], r[32] = "", e[32] = "", who[80] = "";
    format_amount(done, unit, d, sizeof d);
    format_amount(total, unit, t, sizeof t);
    if (rate > 0) {
        char rb[24];
        format_amount(rate, unit, rb, sizeof rb);
        snprintf(r, sizeof r, ", %s/s", rb);
    }
    if (eta >= 0)
        snprintf(e, sizeof e, ", ETA %d:%02d", (int)eta / 60, (int)eta % 60);
    if (ev->device)
        snprintf(who, sizeof who, "[%s] ", ev->device);
    if (pct < 0) {
        snprintf(buf, cap, "%s%s: %s%s", who, phase ? phase : "progress", d, r);
        return;
    }
    bool percent_only = unit && strcmp(unit, "percent") == 0;
    char bars[32] = "";
    if (bar) {
        int width = 24, fill = (int)(pct / 100.0 * width);
        if (fill > width)
            fill = width;
        bars[0] = '[';
        for (int i = 0; i < width; i++)
            bars[1 + i] = i < fill ? '#' : '.';
        bars[width + 1] = ']';
        bars[width + 2] = ' ';
        bars[width + 3] = '\0';
    }
    if (percent_only)
        snprintf(buf, cap, "%s%s: %s%5.1f%%%s%s%s", who, phase ? phase : "progress", bars, pct, e[0] ? " (" : "",
                 e[0] ? e + 2 : "", e[0] ? ")" : "");
    else
        snprintf(buf, cap, "%s%s: %s%5.1f%% (%s of %s%s%s)", who, phase ? phase : "progress", bars, pct, d, t, r, e);
}

static void terminal_sink(const rv_event *ev, void *ud)
{
    FILE *out = ud;
    char line[1024];
    if (strcmp(ev->type, "progress") == 0) {
        if (rv_term_is_tty()) {
            progress_text(ev, line, sizeof line, true);
            int w = rv_term_width() - 1;
            if (w > 0 && (size_t)w < sizeof line)
                line[w] = '\0';
            rv_term_status(out, line);
            if (fnum(ev, "percent", 0) >= 100.0) {
                fputc('\n', out);
                rv_term_clear_line(out); /* the line is finished; nothing to erase */
            }
        } else {
            progress_text(ev, line, sizeof line, false);
            fprintf(out, "%s\n", line);
        }
        fflush(out);
        return;
    }
    if (strcmp(ev->type, "item") == 0 || strcmp(ev->type, "result") == 0)
        return; /* data: the command that asked for it prints it on stdout */
    if (strcmp(ev->type, "countdown_tick") == 0) {
        /* A live "10... 9..." on a terminal only; a log does not need every second. */
        char tick[64];
        snprintf(tick, sizeof tick, "      %.0f...", fnum(ev, "left", fnum(ev, "seconds", 0)));
        rv_term_status(out, tick);
        return;
    }
    rv_term_clear_line(out);
    const char *msg = fstr(ev, "message");
    const char *who = ev->device;
    if (who)
        fprintf(out, "[%s] ", who);
    const char *step = fstr(ev, "step");
    const char *t = ev->type;
    if (strcmp(t, "warning") == 0) {
        fprintf(out, "warning: %s\n", msg ? msg : "");
    } else if (strcmp(t, "run_started") == 0) {
        const char *pb = fstr(ev, "playbook");
        fprintf(out, "run %s: %s%s\n", ev->run ? ev->run : "", pb ? pb : "", fstr(ev, "resume") && strcmp(fstr(ev, "resume"), "yes") == 0 ? " (resumed)" : "");
    } else if (strcmp(t, "step_started") == 0) {
        fprintf(out, "==> %s\n", step ? step : "?");
    } else if (strcmp(t, "step_replayed") == 0) {
        fprintf(out, "==> %s (finished before; not repeated)\n", step ? step : "?");
    } else if (strcmp(t, "step_finished") == 0) {
        fprintf(out, "    done: %s\n", step ? step : "?");
    } else if (strcmp(t, "step_failed") == 0) {
        const char *name = fstr(ev, "name");
        fprintf(out, "    failed: %s%s%s%s%s\n", step ? step : "?", msg ? ": " : "", msg ? msg : "", name ? " " : "",
                name ? name : "");
    } else if (strcmp(t, "log") == 0) {
        const char *level = fstr(ev, "level");
        fprintf(out, "    %s%s\n", level && strcmp(level, "warn") == 0 ? "warning: " : "", msg ? msg : "");
    } else if (strcmp(t, "retry") == 0) {
        const char *e = fstr(ev, "error");
        fprintf(out, "    trying again (attempt %.0f) in %.1f s%s%s\n", fnum(ev, "attempt", 0), fnum(ev, "delay", 0),
                e ? " after: " : "", e ? e : "");
    } else if (strcmp(t, "countdown") == 0) {
        const char *text = fstr(ev, "text");
        double secs = fnum(ev, "seconds", 0);
        fprintf(out, "      [%.0f/%.0f] %s", fnum(ev, "phase", 0), fnum(ev, "phases", 0), text ? text : "");
        if (secs > 0)
            fprintf(out, " (%.0f s)", secs);
        fputc('\n', out);
    } else if (strcmp(t, "check") == 0) {
        const char *st = fstr(ev, "status"), *name = fstr(ev, "name"), *rem = fstr(ev, "remedy");
        fprintf(out, "    %-4s %s: %s\n", st ? st : "?", name ? name : "?", msg ? msg : "");
        if (rem && *rem && st && strcmp(st, "fail") == 0)
            fprintf(out, "         -> %s\n", rem);
    } else if (strcmp(t, "outcome") == 0) {
        const char *o = fstr(ev, "outcome"), *sum = fstr(ev, "summary");
        bool fixed = o && strcmp(o, "fixed") == 0;
        fprintf(out, "%s%s%s\n", fixed ? "FIXED" : o && strcmp(o, "needs_person") == 0 ? "NEEDS A PERSON" : (o ? o : "outcome"),
                sum ? ": " : "", sum ? sum : "");
        for (size_t i = 0; i < ev->n; i++) {
            const char *k = ev->fields[i].key;
            if (strcmp(k, "outcome") == 0 || strcmp(k, "summary") == 0 || ev->fields[i].type != REVIVE_VAL_STR)
                continue;
            fprintf(out, "  %s: %s\n", k, ev->fields[i].v.s);
        }
    } else if (strcmp(ev->type, "prompt") == 0) {
        const char *title = fstr(ev, "title");
        fprintf(out, ">>> %s\n", title ? title : "A person is needed");
        for (int k = 1; k <= 32; k++) { /* line1, line2, ... in order, whatever the field order */
            char key[16];
            snprintf(key, sizeof key, "line%d", k);
            const char *l = fstr(ev, key);
            if (l)
                fprintf(out, "      %s\n", l);
        }
        if (msg)
            fprintf(out, "      %s\n", msg);
        fputc('\n', out);
    } else {
        fprintf(out, "%s", ev->type);
        for (size_t i = 0; i < ev->n; i++) {
            if (rv_field_is_secret(ev->fields[i].key))
                continue;
            char v[512];
            rv_field_format(&ev->fields[i], v, sizeof v);
            if (strcmp(ev->fields[i].key, "message") == 0)
                fprintf(out, ": %s", v);
            else
                fprintf(out, " %s=%s", ev->fields[i].key, v);
        }
        fputc('\n', out);
    }
    fflush(out);
}

int rv_events_terminal_sink(FILE *out) { return rv_events_add_sink(terminal_sink, out); }
