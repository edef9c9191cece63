/* diagnostics.c: com.apple.mobile.diagnostics_relay (Restart, Shutdown, Sleep, Goodbye).
 * Replies carry "Status" as the real service does. A restart turns the phone off and
 * boots it boot_seconds (device time) later by its NVRAM and OS state; a shutdown leaves
 * it off until power comes back (control "power-on" or "force-restart"). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simcore.h"

static void reply_status(int fd, const char *status)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "Status", plist_new_string(status));
    sim_plist_send(fd, r);
    plist_free(r);
}

static void diagnostics_serve(struct sim_world *w, struct sim_device *d, int fd)
{
    for (;;) {
        plist_t req = NULL;
        if (sim_plist_recv(fd, &req, SIM_IDLE_TIMEOUT_MS) != 0)
            break;
        char *what = sim_plist_get_string(req, "Request");
        plist_free(req);
        if (!what) {
            reply_status(fd, "UnknownRequest");
            continue;
        }
        int stop = 0;
        if (strcmp(what, "Goodbye") == 0) {
            reply_status(fd, "Success");
            stop = 1;
        } else if (strcmp(what, "Restart") == 0 || strcmp(what, "Shutdown") == 0) {
            reply_status(fd, "Success");
            bool restart = what[0] == 'R';
            sim_lock(w);
            sim_log(w, d, "%s", restart ? "restart" : "shutdown");
            sim_power_off(w, d, restart ? "restart" : "shutdown");
            if (restart)
                sim_timer_add(w, d, SIM_TIMER_POWER_ON, w->boot_seconds);
            sim_unlock(w);
            stop = 1;
        } else if (strcmp(what, "Sleep") == 0) {
            reply_status(fd, "Success");
            sim_lock(w);
            sim_log(w, d, "sleep");
            sim_unlock(w);
        } else {
            reply_status(fd, "UnknownRequest");
        }
        free(what);
        if (stop)
            break;
    }
    close(fd);
}

__attribute__((constructor)) static void register_diagnostics(void)
{
    sim_service_register("com.apple.mobile.diagnostics_relay", diagnostics_serve);
    sim_service_register("com.apple.iosdiagnostics.relay", diagnostics_serve);
}
