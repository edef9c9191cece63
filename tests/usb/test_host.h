/*
 * test_host.h — a small stand-in for revive's host table, in one file so that the usb
 * tests can swap it for the core's loader later. It loads a plugin with dlopen, records
 * what the plugin reports (results, events, progress, the error) per call, and answers
 * config and secret questions from what the test set.
 */
#ifndef REVIVE_TEST_HOST_H
#define REVIVE_TEST_HOST_H

#include <revive/revive.h>

#include <pthread.h>

#define TH_MAX_FIELDS 128
#define TH_MAX_EVENTS 256

typedef struct th_field {
    char key[64];
    revive_value_type type;
    int64_t i;
    double r;
    bool b;
    char s[1024];
} th_field;

typedef struct th_event {
    char type[32];
    char kind[32];       /* the "kind" field of prompts, if any */
    char text[512];      /* the "message" field, if any */
} th_event;

struct revive_call {
    pthread_mutex_t lock;
    th_field results[TH_MAX_FIELDS];
    size_t nresults;
    th_event events[TH_MAX_EVENTS];
    size_t nevents;
    revive_error err;
    char last_phase[64];
    uint64_t progress_calls;
    uint64_t last_done, last_total;
    volatile bool cancel;
    /* cancel automatically once a progress phase with this prefix reports >= cancel_at */
    char cancel_phase[64];
    uint64_t cancel_at;
};

typedef struct th_plugin {
    void *dl;
    const revive_plugin *desc;
    void *state;
} th_plugin;

const revive_host *th_host(void);
/* Load a plugin file and init it; aborts the test on failure. */
void th_load(th_plugin *p, const char *path);
void th_unload(th_plugin *p);

revive_call *th_call_new(void);
void th_call_free(revive_call *c);
const th_field *th_result(revive_call *c, const char *key);
size_t th_count_events(revive_call *c, const char *type, const char *kind);

/* Config values the host answers (key -> value); NULL value removes. */
void th_config_set(const char *key, const char *value);
/* The secret the host answers; NULL = none can be had. */
void th_secret_set(const char *secret);

#endif
