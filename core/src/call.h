/* struct revive_call: what the core hands a plugin for one capability call — the run and
 * device the work belongs to, where the error and the answer go, progress bookkeeping. */
#ifndef RV_CALL_H
#define RV_CALL_H
#include "events.h"
#include "fields.h"
#include <revive/host.h>

struct revive_call {
    const char *run;       /* tags for events; may be NULL */
    const char *device;
    const char *plugin;    /* name, for log lines */
    revive_error err;      /* filled by host->fail() */
    rv_fields results;     /* filled by host->result() */
    rv_progress progress;
    bool cancel;           /* this call only (the global flag also counts) */
    const char *password_file; /* where host->secret may read a password */
};

void rv_call_init(revive_call *c, const char *run, const char *device, const char *plugin);
void rv_call_free(revive_call *c);
/* The table handed to every plugin's init(). */
const revive_host *rv_host(void);
#endif
