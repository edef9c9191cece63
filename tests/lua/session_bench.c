/*
 * session_bench SESSIONS SECONDS: what the playbook runtime costs while playbooks wait on
 * their phones. SESSIONS threads each run a playbook (rv_run, a sandbox, a journal) that
 * waits SECONDS for a phone that never comes (the engine side sleeps, as a real engine
 * blocks on its device registry), then finishes. Prints, for bench/runtime_wait.sh:
 *   cpu_percent_per_session=X   process CPU time / wall time / sessions, whole run
 *   rss_mib_per_session=Y       resident memory added per waiting session
 * The engine's own polling is not counted: this measures the runtime's share.
 */
#include "runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double wait_seconds;
static char book[128], state[128];
static volatile int waiting;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int device_call(void *ctx, const char *verb, const revive_field *a, size_t n,
                       void (*put)(void *, const revive_field *), void *ud, revive_error *err)
{
    if (strcmp(verb, "mode") == 0) {
        revive_field f = REVIVE_FIELD_STR("mode", "recovery");
        put(ud, &f);
    }
    return REVIVE_OK;
}

static int wait_mode(void *ctx, const char *const *modes, double timeout, revive_error *err)
{
    pthread_mutex_lock(&lock);
    waiting++;
    pthread_mutex_unlock(&lock);
    nap(timeout);
    pthread_mutex_lock(&lock);
    waiting--;
    pthread_mutex_unlock(&lock);
    memset(err, 0, sizeof *err);
    err->size = sizeof *err;
    err->code = REVIVE_E_TIMEOUT;
    snprintf(err->message, sizeof err->message, "not seen");
    return REVIVE_E_TIMEOUT;
}

static void event(void *ctx, const char *t, const revive_field *f, size_t n) {}
static int confirm(void *ctx, const char *q, bool *yes, revive_error *err) { *yes = true; return REVIVE_OK; }
static int prompt_until(void *ctx, const char *t, const char *const *l, const char *const *m, double s,
                        revive_error *err) { return REVIVE_OK; }
static bool cancelled(void *ctx) { return false; }
static double now(void *ctx) { return mono(); }
static void do_sleep(void *ctx, double s) { nap(s); }

static const struct rv_engine_ops ops = {
    .size = sizeof ops, .device_call = device_call, .wait_mode = wait_mode, .event = event,
    .confirm = confirm, .prompt_until = prompt_until, .cancelled = cancelled, .now = now,
    .sleep = do_sleep,
};

static void *session(void *arg)
{
    (void)arg;
    const char *none[] = {NULL};
    struct rv_run_config cfg = {.size = sizeof cfg, .playbook = book, .params = none, .state_dir = state};
    char outcome[32];
    revive_error err;
    if (rv_run(&cfg, &ops, NULL, outcome, sizeof outcome, &err) != REVIVE_OK)
        fprintf(stderr, "session failed: %s\n", err.message);
    return NULL;
}

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lf kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib / 1024.0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    wait_seconds = argc > 2 ? atof(argv[2]) : 2;
    if (n < 1 || n > 1000 || wait_seconds <= 0) {
        fprintf(stderr, "usage: session_bench SESSIONS SECONDS\n");
        return 2;
    }
    char dir[] = "/tmp/rv-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    snprintf(book, sizeof book, "%s/wait.lua", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    FILE *f = fopen(book, "w");
    fprintf(f, "return playbook { name = 'bench-wait', summary = 'wait on a phone',\n"
               "  run = function()\n"
               "    local ok, err = device.wait_for('normal', %g)\n"
               "    step('after', function() return device.mode() end)\n"
               "    return outcome.fixed(ok and 'seen' or err.name)\n"
               "  end }\n", wait_seconds);
    fclose(f);

    /* Warm up once so the libraries' own pages are not charged to the sessions. */
    double w = wait_seconds;
    wait_seconds = 0.01;
    session(NULL);
    wait_seconds = w;
    double rss0 = rss_mib();

    pthread_t *t = calloc((size_t)n, sizeof *t);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double start = mono();
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, session, NULL);
    while (waiting < n && mono() - start < 30)
        nap(0.01);
    nap(wait_seconds / 2);
    double rss1 = rss_mib();
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    double wall = mono() - start;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
                 (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    printf("sessions=%d wait_s=%g wall_s=%.3f cpu_s=%.4f\n", n, wait_seconds, wall, cpu);
    printf("cpu_percent_per_session=%.4f\n", 100.0 * cpu / wall / n);
    printf("rss_mib_per_session=%.3f\n", (rss1 - rss0) / n);
    free(t);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
