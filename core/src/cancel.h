/* Cancellation. SIGINT and SIGTERM only set a flag (and wake a watcher thread through a
 * pipe); long operations poll rv_cancelled() at safe points. A second SIGINT does not kill
 * the process mid-write: it prints what is still in flight, so the person can decide to
 * wait or to pull the plug knowingly. */
#ifndef RV_CANCEL_H
#define RV_CANCEL_H
#include <stdbool.h>

int rv_cancel_install(void);   /* signal handlers + watcher thread; idempotent */
bool rv_cancelled(void);
void rv_cancel_request(void);  /* as if SIGINT */
void rv_cancel_reset(void);    /* tests */

/* Work in flight, for the second-SIGINT report. Returns a slot id (or -1 if full). */
int rv_inflight_begin(const char *what);
int rv_inflight_begin_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rv_inflight_end(int slot);
#endif
