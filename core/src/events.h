/* The event bus. Everything that happens in a run is an event: one type word, the run and
 * device it belongs to, and typed fields (docs/events.md lists the types and fields).
 * Sinks receive every event in order, one at a time: the terminal, JSON Lines on stdout
 * (--json), and the journal (registered by the playbook runtime). */
#ifndef RV_EVENTS_H
#define RV_EVENTS_H
#include <revive/types.h>
#include <stdio.h>

typedef struct rv_event {
    double time;            /* seconds since the epoch */
    const char *run;        /* may be NULL */
    const char *device;     /* may be NULL */
    const char *type;
    const revive_field *fields;
    size_t n;
} rv_event;

typedef void (*rv_sink_fn)(const rv_event *ev, void *ud);

/* Add a sink; returns an id for rv_events_remove_sink, or -1. */
int rv_events_add_sink(rv_sink_fn fn, void *ud);
void rv_events_remove_sink(int id);
void rv_emit(const char *run, const char *device, const char *type, const revive_field *f, size_t n);

/* The two built-in sinks. */
int rv_events_terminal_sink(FILE *out);   /* people: progress bars on a TTY, plain lines otherwise */
int rv_events_json_sink(FILE *out);       /* one JSON object per line */

/* Progress bookkeeping for one operation: rate, ETA and throttling (at most every 100 ms
 * on a terminal, every 5% or 10 s otherwise; always the last). */
typedef struct rv_progress {
    char phase[64];
    double started, last_emit;
    uint64_t last_done;
    int last_percent_bucket;
} rv_progress;
void rv_progress_report(rv_progress *p, const char *run, const char *device, const char *phase,
                        uint64_t done, uint64_t total, const char *unit);
double rv_now(void);       /* wall clock, seconds */
double rv_monotonic(void); /* monotonic seconds */
/* "1.5 GB", "12 MB" */
void rv_format_bytes(double bytes, char *buf, size_t cap);
#endif
