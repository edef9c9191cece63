/* A test double of the engine boundary (runtime.h) for runtime unit tests only: a device
 * held in a few variables, every call counted. End-to-end runs against the simulator are
 * the engine's tests. */
#ifndef FAKE_ENGINE_H
#define FAKE_ENGINE_H
#include "runtime.h"

#define FAKE_MAX_VERBS 32

struct fake {
    char mode[16];                /* what "mode" answers */
    char product_type[32];
    int64_t ecid;
    bool confirm_answer;
    int confirms, prompts, sleeps, events;
    double clock, slept;
    const char *fail_verb;        /* this verb fails with fail_code, fail_times times */
    int fail_code, fail_times;
    const char *crash_verb;       /* _exit(9) when this verb is called (fork tests) */
    int crash_after;              /* ... on its crash_after-th call (1 = first) */
    bool stuck;                   /* nothing brings the device back to normal */
    bool broken;                  /* normal mode but not answering until an erase */
    int erases_done, backup_restores_done; /* destructive operations that completed */
    int calls, kill_at;           /* SIGKILL ourselves on the kill_at-th ops call */
    bool person_obeys;            /* prompt_until: the device reaches the first mode */
    char last_prompt[128];
    char last_prompt_lines[1024];
    char outcome[32];
    char verbs[FAKE_MAX_VERBS][32];
    int counts[FAKE_MAX_VERBS];
    char order[1024];             /* "backup,restore_firmware,..." */
};

void fake_init(struct fake *f);
int fake_count(const struct fake *f, const char *verb);
extern const struct rv_engine_ops fake_ops;
#endif
