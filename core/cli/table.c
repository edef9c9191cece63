/*
 * The station table. With many phones on one bench, a stream of lines is unreadable; the
 * table keeps one line per phone — port, model, ECID tail, step, progress, state — and
 * redraws it in place (ANSI cursor movement) at most every 100 ms. Prompts for a person
 * are listed under the table naming the phone by port and model, since "press the side
 * button" means nothing without saying which phone.
 */
#include "table.h"
#include "events.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 64

typedef struct row {
    char label[80], model[32], port[32], step[64], state[24], prompt[200];
    double percent;
} row;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static row rows[MAX_ROWS];
static int nrows, drawn_lines;
static double last_draw;
static FILE *table_out;

static row *find_row(const char *label)
{
    for (int i = 0; i < nrows; i++)
        if (strcmp(rows[i].label, label) == 0)
            return &rows[i];
    if (nrows == MAX_ROWS)
        return NULL;
    row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->label, sizeof r->label, "%s", label);
    snprintf(r->state, sizeof r->state, "starting");
    r->percent = -1;
    return r;
}

void rv_table_add(const char *label, const char *model, const char *port)
{
    pthread_mutex_lock(&table_lock);
    row *r = find_row(label);
    if (r) {
        snprintf(r->model, sizeof r->model, "%s", model ? model : "");
        snprintf(r->port, sizeof r->port, "%s", port ? port : "");
    }
    pthread_mutex_unlock(&table_lock);
}

static const char *fstr(const rv_event *ev, const char *k)
{
    const revive_field *f = revive_field_find(ev->fields, ev->n, k);
    return f && f->type == REVIVE_VAL_STR ? f->v.s : NULL;
}

static void draw(void)
{
    FILE *o = table_out;
    if (drawn_lines > 0)
        fprintf(o, "\033[%dA", drawn_lines);
    int lines = 0;
    fprintf(o, "\r\033[K%-10s %-12s %-8s %-28s %-7s %s\n", "PORT", "MODEL", "ECID", "STEP", "PROG", "STATE");
    lines++;
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        size_t len = strlen(r->label);
        const char *tail = len > 6 ? r->label + len - 6 : r->label;
        char prog[16] = "";
        if (r->percent >= 0)
            snprintf(prog, sizeof prog, "%5.1f%%", r->percent);
        fprintf(o, "\r\033[K%-10.10s %-12.12s %-8s %-28.28s %-7s %s\n", r->port[0] ? r->port : "-",
                r->model[0] ? r->model : "?", tail, r->step, prog, r->state);
        lines++;
    }
    for (int i = 0; i < nrows; i++) {
        if (!rows[i].prompt[0])
            continue;
        fprintf(o, "\r\033[K  >>> %s %s (port %s): %s\n", rows[i].model, rows[i].label, rows[i].port[0] ? rows[i].port : "?",
                rows[i].prompt);
        lines++;
    }
    /* Clear what a longer previous drawing left below. */
    for (int i = lines; i < drawn_lines; i++)
        fprintf(o, "\r\033[K\n");
    if (drawn_lines > lines)
        fprintf(o, "\033[%dA", drawn_lines - lines);
    drawn_lines = lines;
    fflush(o);
}

static void sink(const rv_event *ev, void *ud)
{
    (void)ud;
    if (!ev->device)
        return;
    pthread_mutex_lock(&table_lock);
    row *r = find_row(ev->device);
    if (!r) {
        pthread_mutex_unlock(&table_lock);
        return;
    }
    const char *t = ev->type;
    bool force = false;
    if (strcmp(t, "step_started") == 0 || strcmp(t, "step_replayed") == 0) {
        const char *name = fstr(ev, "step");
        if (!name)
            name = fstr(ev, "name");
        snprintf(r->step, sizeof r->step, "%s", name ? name : "");
        snprintf(r->state, sizeof r->state, "running");
        r->percent = -1;
        r->prompt[0] = '\0';
    } else if (strcmp(t, "progress") == 0) {
        const revive_field *p = revive_field_find(ev->fields, ev->n, "percent");
        if (p && p->type == REVIVE_VAL_REAL)
            r->percent = p->v.r;
    } else if (strcmp(t, "waiting") == 0) {
        snprintf(r->state, sizeof r->state, "waiting");
        force = true;
    } else if (strcmp(t, "running") == 0) {
        snprintf(r->state, sizeof r->state, "running");
    } else if (strcmp(t, "prompt") == 0) {
        const char *title = fstr(ev, "title"), *l1 = fstr(ev, "line1");
        snprintf(r->prompt, sizeof r->prompt, "%s%s%s", title ? title : "", l1 ? " — " : "", l1 ? l1 : "");
        snprintf(r->state, sizeof r->state, "needs a person");
        force = true;
    } else if (strcmp(t, "outcome") == 0) {
        const char *o = fstr(ev, "outcome");
        snprintf(r->state, sizeof r->state, "%s", o ? (strcmp(o, "needs_person") == 0 ? "needs a person" : o) : "done");
        r->prompt[0] = '\0';
        r->percent = -1;
        force = true;
    } else if (strcmp(t, "error") == 0) {
        snprintf(r->state, sizeof r->state, "failed");
        force = true;
    } else {
        pthread_mutex_unlock(&table_lock);
        return;
    }
    double now = rv_monotonic();
    if (force || now - last_draw >= 0.1) {
        draw();
        last_draw = now;
    }
    pthread_mutex_unlock(&table_lock);
}

int rv_table_start(FILE *out)
{
    table_out = out;
    return rv_events_add_sink(sink, NULL);
}

void rv_table_stop(int id)
{
    rv_events_remove_sink(id);
    pthread_mutex_lock(&table_lock);
    if (table_out)
        draw();
    pthread_mutex_unlock(&table_lock);
}
