#include "fake_engine.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Every ops call passes here: the kill tests die at a chosen one, as with SIGKILL. */
static void tick(struct fake *f)
{
    if (f->kill_at && ++f->calls == f->kill_at)
        kill(getpid(), SIGKILL);
}

void fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->mode, sizeof f->mode, "normal");
    snprintf(f->product_type, sizeof f->product_type, "iPhone10,1");
    f->ecid = 0x1234;
    f->confirm_answer = true;
    f->person_obeys = true;
}

static int *slot(struct fake *f, const char *verb)
{
    for (int i = 0; i < FAKE_MAX_VERBS; i++) {
        if (f->verbs[i][0] == '\0')
            snprintf(f->verbs[i], sizeof f->verbs[i], "%s", verb);
        if (strcmp(f->verbs[i], verb) == 0)
            return &f->counts[i];
    }
    return &f->counts[0];
}

int fake_count(const struct fake *f, const char *verb)
{
    for (int i = 0; i < FAKE_MAX_VERBS; i++)
        if (strcmp(f->verbs[i], verb) == 0)
            return f->counts[i];
    return 0;
}

static void put_str(void (*put)(void *, const revive_field *), void *ud, const char *k, const char *v)
{
    revive_field fl = REVIVE_FIELD_STR(k, v);
    put(ud, &fl);
}

static int fail(revive_error *err, int code, const char *msg)
{
    memset(err, 0, sizeof *err);
    err->size = sizeof *err;
    err->code = code;
    snprintf(err->origin, sizeof err->origin, "fake");
    snprintf(err->message, sizeof err->message, "%s", msg);
    return code;
}

static int device_call(void *ctx, const char *verb, const revive_field *args, size_t nargs,
                       void (*put)(void *, const revive_field *), void *ud, revive_error *err)
{
    struct fake *f = ctx;
    tick(f);
    int n = ++*slot(f, verb);
    if (strcmp(verb, "mode") && strcmp(verb, "info") && strcmp(verb, "preflight")) {
        size_t used = strlen(f->order);
        snprintf(f->order + used, sizeof f->order - used, "%s%s", used ? "," : "", verb);
    }
    if (f->crash_verb && strcmp(verb, f->crash_verb) == 0 && n >= f->crash_after)
        _exit(9); /* the engine dies mid-run, as with SIGKILL */
    if (f->fail_verb && strcmp(verb, f->fail_verb) == 0 && f->fail_times > 0) {
        f->fail_times--;
        return fail(err, f->fail_code, "scripted failure");
    }
    if (strcmp(verb, "mode") == 0) {
        put_str(put, ud, "mode", f->mode);
    } else if (strcmp(verb, "info") == 0 && f->broken) {
        return fail(err, REVIVE_E_PROTOCOL, "lockdownd does not answer");
    } else if (strcmp(verb, "restore_firmware") == 0 && f->broken) {
        const revive_field *erase = revive_field_find(args, nargs, "erase");
        if (!erase || erase->type != REVIVE_VAL_BOOL || !erase->v.b)
            return fail(err, REVIVE_E_TIMEOUT, "the update restore did not finish");
        f->broken = false;
        f->erases_done++;
        snprintf(f->mode, sizeof f->mode, "normal");
    } else if (strcmp(verb, "restore_backup") == 0) {
        f->backup_restores_done++;
    } else if (strcmp(verb, "info") == 0) {
        put_str(put, ud, "product_type", f->product_type);
        put_str(put, ud, "mode", f->mode);
        revive_field e = REVIVE_FIELD_INT("ecid", f->ecid);
        put(ud, &e);
    } else if (strcmp(verb, "backup") == 0) {
        put_str(put, ud, "path", "/backups/fake");
    } else if (strcmp(verb, "fetch") == 0) {
        put_str(put, ud, "path", "/firmware/fake.ipsw");
    } else if (strcmp(verb, "import") == 0) {
        put_str(put, ud, "path", "/backups/canonical");
    } else if (strcmp(verb, "exit_recovery") == 0 || strcmp(verb, "restore_firmware") == 0 ||
               strcmp(verb, "reboot") == 0) {
        if (f->stuck)
            return fail(err, REVIVE_E_TIMEOUT, "the device did not come back");
        snprintf(f->mode, sizeof f->mode, "normal");
    } else if (strcmp(verb, "enter_recovery") == 0) {
        snprintf(f->mode, sizeof f->mode, "recovery");
    } else if (strcmp(verb, "getvar") == 0) {
        const revive_field *nm = revive_field_find(args, nargs, "name");
        put_str(put, ud, "value", nm && strcmp(nm->v.s, "auto-boot") == 0 ? "false" : "");
    } else if (strcmp(verb, "unknown_verb") == 0) {
        return fail(err, REVIVE_E_UNSUPPORTED, "no such verb");
    }
    return REVIVE_OK;
}

static bool in(const char *const *modes, const char *m)
{
    for (; *modes; modes++)
        if (strcmp(*modes, m) == 0)
            return true;
    return false;
}

static int wait_mode(void *ctx, const char *const *modes, double timeout, revive_error *err)
{
    struct fake *f = ctx;
    tick(f);
    f->clock += 1;
    if (strcmp(f->mode, "off") == 0) /* a phone that restarted comes back */
        snprintf(f->mode, sizeof f->mode, "%s", f->stuck ? "recovery" : "normal");
    return in(modes, f->mode) ? REVIVE_OK : fail(err, REVIVE_E_TIMEOUT, "not seen in time");
}

static void event(void *ctx, const char *type, const revive_field *fl, size_t n)
{
    struct fake *f = ctx;
    tick(f);
    f->events++;
    if (strcmp(type, "outcome") == 0) {
        const revive_field *o = revive_field_find(fl, n, "outcome");
        if (o && o->type == REVIVE_VAL_STR)
            snprintf(f->outcome, sizeof f->outcome, "%s", o->v.s);
    }
}

static int confirm(void *ctx, const char *q, bool *yes, revive_error *err)
{
    struct fake *f = ctx;
    tick(f);
    f->confirms++;
    *yes = f->confirm_answer;
    return REVIVE_OK;
}

static int prompt_until(void *ctx, const char *title, const char *const *lines,
                        const char *const *modes, double timeout, revive_error *err)
{
    struct fake *f = ctx;
    tick(f);
    f->prompts++;
    snprintf(f->last_prompt, sizeof f->last_prompt, "%s", title);
    f->last_prompt_lines[0] = '\0';
    for (; *lines; lines++) {
        size_t u = strlen(f->last_prompt_lines);
        snprintf(f->last_prompt_lines + u, sizeof f->last_prompt_lines - u, "%s\n", *lines);
    }
    if (f->person_obeys && !((f->stuck || f->broken) && strcmp(modes[0], "normal") == 0))
        snprintf(f->mode, sizeof f->mode, "%s", modes[0]);
    return in(modes, f->mode) ? REVIVE_OK : fail(err, REVIVE_E_TIMEOUT, "the person did not manage");
}

static bool cancelled(void *ctx) { return false; }
static double now(void *ctx) { return ((struct fake *)ctx)->clock; }
static void do_sleep(void *ctx, double s)
{
    struct fake *f = ctx;
    tick(f);
    f->sleeps++;
    f->slept += s;
    f->clock += s;
}

const struct rv_engine_ops fake_ops = {
    .size = sizeof(struct rv_engine_ops), .device_call = device_call, .wait_mode = wait_mode,
    .event = event, .confirm = confirm, .prompt_until = prompt_until, .cancelled = cancelled,
    .now = now, .sleep = do_sleep,
};
