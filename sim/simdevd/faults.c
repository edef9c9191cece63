/* faults.c: the scenario's faults and the device's own timers.
 *
 * Two ways in: long operations report progress through sim_fault_hit (faults triggered
 * by a percentage or byte count of a named op), and a scheduler thread fires faults
 * triggered by device time plus the timers the phone sets itself (cable back in, power
 * back, the person tapping Trust, a low battery dying). Every effect goes through the
 * same world functions a control command would use, so the operation log shows it.
 */
#include <stdio.h>
#include <string.h>

#include "simcore.h"

static const char *kind_name(sim_fault_kind k)
{
    switch (k) {
    case SIM_FAULT_UNPLUG: return "unplug";
    case SIM_FAULT_POWER_LOSS: return "power-loss";
    case SIM_FAULT_CANCEL: return "cancel";
    case SIM_FAULT_BATTERY_DIES: return "battery-dies";
    }
    return "?";
}

/* Lock held. */
static void fire(struct sim_world *w, struct sim_fault *f, const char *why)
{
    struct sim_device *d = &w->devices[f->device];
    f->fired = true;
    sim_log(w, d, "fault %s (%s)", kind_name(f->kind), why);
    switch (f->kind) {
    case SIM_FAULT_UNPLUG:
        sim_unplug(w, d);
        if (f->back_after_s >= 0)
            sim_timer_add(w, d, SIM_TIMER_PLUG, f->back_after_s);
        break;
    case SIM_FAULT_POWER_LOSS:
    case SIM_FAULT_BATTERY_DIES:
        sim_power_off(w, d, kind_name(f->kind));
        if (f->back_after_s >= 0)
            sim_timer_add(w, d, SIM_TIMER_POWER_ON, f->back_after_s);
        break;
    case SIM_FAULT_CANCEL:
        break;
    }
    sim_notify_change(w);
}

bool sim_fault_hit(struct sim_world *w, struct sim_device *d, const char *op,
                   uint64_t done, uint64_t total)
{
    bool hit = false;
    sim_lock(w);
    for (size_t i = 0; i < w->nfaults; i++) {
        struct sim_fault *f = &w->faults[i];
        if (f->fired || f->device != d->index || f->at_s >= 0 || !op || strcmp(f->op, op) != 0)
            continue;
        bool due = false;
        if (f->at_percent >= 0 && total > 0)
            due = (double)done * 100.0 >= f->at_percent * (double)total;
        else if (f->at_bytes >= 0)
            due = done >= (uint64_t)f->at_bytes;
        if (due) {
            char why[96];
            snprintf(why, sizeof why, "%s at %llu/%llu", op, (unsigned long long)done, (unsigned long long)total);
            fire(w, f, why);
            hit = true;
        }
    }
    /* An operation also ends when the phone went away by other means (a timed fault, a
     * control command): the caller must stop as it would on a broken connection. */
    if (!d->plugged || d->mode == SIM_MODE_OFF)
        hit = true;
    sim_unlock(w);
    return hit;
}

/* Lock held. */
static void run_timer(struct sim_world *w, struct sim_timer *t)
{
    struct sim_device *d = &w->devices[t->device];
    t->used = false;
    switch (t->kind) {
    case SIM_TIMER_PLUG:
        sim_plug(w, d);
        break;
    case SIM_TIMER_POWER_ON:
        if (d->mode == SIM_MODE_OFF) {
            sim_log(w, d, "power on");
            sim_reboot(w, d);
        }
        break;
    case SIM_TIMER_TRUST:
        if (d->trust_pending)
            sim_tap_trust(w, d, true);
        break;
    case SIM_TIMER_BATTERY_DIES:
        if (d->mode != SIM_MODE_OFF && !d->charging) {
            d->battery = 0;
            sim_power_off(w, d, "battery empty");
        }
        break;
    }
}

void *sim_scheduler_thread(void *arg)
{
    struct sim_world *w = arg;
    sim_lock(w);
    for (size_t i = 0; i < w->ndevices; i++) {
        struct sim_device *d = &w->devices[i];
        if (d->battery_policy == SIM_BATTERY_DIES)
            sim_timer_add(w, d, SIM_TIMER_BATTERY_DIES, d->battery_dies_after_s);
    }
    while (!w->stopping) {
        double now = sim_now(w);
        double next = now + 0.25 * w->time_scale;   /* at least four looks a second */
        for (size_t i = 0; i < w->nfaults; i++) {
            struct sim_fault *f = &w->faults[i];
            if (f->fired || f->at_s < 0)
                continue;
            if (f->at_s <= now) {
                char why[48];
                snprintf(why, sizeof why, "at %.1fs", f->at_s);
                fire(w, f, why);
            } else if (f->at_s < next) {
                next = f->at_s;
            }
        }
        for (int i = 0; i < SIM_MAX_TIMERS; i++) {
            struct sim_timer *t = &w->timers[i];
            if (!t->used)
                continue;
            if (t->due <= now)
                run_timer(w, t);
            else if (t->due < next)
                next = t->due;
        }
        double wait = (next - sim_now(w)) / w->time_scale;
        if (wait > 0)
            sim_wait_change(w, wait < 0.001 ? 0.001 : wait);
    }
    sim_unlock(w);
    return NULL;
}
