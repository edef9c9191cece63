#include "cancel.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int cancel_count;
static int wake_pipe[2] = { -1, -1 };
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int install_rc;

#define INFLIGHT_MAX 64
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static char inflight[INFLIGHT_MAX][160];

static void on_signal(int sig)
{
    int saved = errno;
    atomic_fetch_add(&cancel_count, 1);
    char c = (char)sig;
    if (wake_pipe[1] >= 0)
        (void)!write(wake_pipe[1], &c, 1);
    errno = saved;
}

static void report_inflight(void)
{
    int any = 0;
    pthread_mutex_lock(&inflight_lock);
    for (int i = 0; i < INFLIGHT_MAX; i++) {
        if (inflight[i][0]) {
            if (!any)
                rv_warn("still in flight (stopping now could leave a device or a file half-done):");
            rv_warn("  - %s", inflight[i]);
            any = 1;
        }
    }
    pthread_mutex_unlock(&inflight_lock);
    if (!any)
        rv_warn("nothing is in flight; revive is finishing");
}

static void *watcher(void *arg)
{
    (void)arg;
    for (;;) {
        char c;
        ssize_t n = read(wake_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        int count = atomic_load(&cancel_count);
        if (count == 1)
            rv_warn("stopping at the next safe point (press Ctrl-C again to see what is in flight)");
        else
            report_inflight();
    }
}

static void install(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC) != 0) {
        install_rc = -1;
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, NULL) == 0)
        pthread_detach(t);
}

int rv_cancel_install(void)
{
    pthread_once(&once, install);
    return install_rc;
}

bool rv_cancelled(void) { return atomic_load(&cancel_count) > 0; }
void rv_cancel_request(void) { on_signal(SIGINT); }
void rv_cancel_reset(void) { atomic_store(&cancel_count, 0); }

int rv_inflight_begin(const char *what)
{
    pthread_mutex_lock(&inflight_lock);
    for (int i = 0; i < INFLIGHT_MAX; i++) {
        if (!inflight[i][0]) {
            snprintf(inflight[i], sizeof inflight[i], "%s", what && *what ? what : "(work)");
            pthread_mutex_unlock(&inflight_lock);
            return i;
        }
    }
    pthread_mutex_unlock(&inflight_lock);
    return -1;
}

int rv_inflight_begin_fmt(const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rv_inflight_begin(what);
}

void rv_inflight_end(int slot)
{
    if (slot < 0 || slot >= INFLIGHT_MAX)
        return;
    pthread_mutex_lock(&inflight_lock);
    inflight[slot][0] = '\0';
    pthread_mutex_unlock(&inflight_lock);
}
