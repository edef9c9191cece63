/* notify.c: com.apple.mobile.notification_proxy. The host observes and posts named
 * notifications; the phone relays the ones observed. Enough for idevicebackup2: its
 * sync-lock dance posts syncWillStart/syncLockRequest/syncDidStart/syncDidFinish and
 * observes cancel requests. A control command ("notify") posts a phone-side notification
 * to every observer, e.g. a cancel request from the person. */
#include <pthread.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simcore.h"

#define MAX_OBSERVED 32

static void relay(int fd, const char *name)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "Command", plist_new_string("RelayNotification"));
    plist_dict_set_item(r, "Name", plist_new_string(name));
    sim_plist_send(fd, r);
    plist_free(r);
}

/* Phone-side notifications waiting to be relayed, per device (lock: the world lock). */
static char pending[SIM_MAX_DEVICES][8][128];
static unsigned pending_seq[SIM_MAX_DEVICES];

static void notify_serve(struct sim_world *w, struct sim_device *d, int fd)
{
    char observed[MAX_OBSERVED][128];
    size_t nobs = 0;
    sim_lock(w);
    unsigned seen = pending_seq[d->index];
    sim_unlock(w);
    for (;;) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        int ready = poll(&pfd, 1, 200);
        if (ready == 0) {
            /* The host is quiet: relay what the phone posted meanwhile. */
            sim_lock(w);
            unsigned now = pending_seq[d->index];
            char names[8][128];
            unsigned count = now - seen > 8 ? 8 : now - seen;
            for (unsigned i = 0; i < count; i++)
                memcpy(names[i], pending[d->index][(now - count + i) % 8], 128);
            seen = now;
            sim_unlock(w);
            for (unsigned i = 0; i < count; i++)
                for (size_t j = 0; j < nobs; j++)
                    if (strcmp(observed[j], names[i]) == 0)
                        relay(fd, names[i]);
            if (w->stopping)
                break;
            continue;
        }
        plist_t req = NULL;
        if (ready < 0 || sim_plist_recv(fd, &req, 5000) != 0)
            break;
        char *cmd = sim_plist_get_string(req, "Command");
        char *name = sim_plist_get_string(req, "Name");
        plist_free(req);
        int stop = 0;
        if (cmd && strcmp(cmd, "ObserveNotification") == 0 && name && strlen(name) < 128) {
            if (nobs < MAX_OBSERVED)
                strcpy(observed[nobs++], name);
        } else if (cmd && strcmp(cmd, "PostNotification") == 0 && name) {
            sim_lock(w);
            sim_log(w, d, "notification %s", name);
            sim_unlock(w);
        } else if (cmd && strcmp(cmd, "Shutdown") == 0) {
            plist_t p = plist_new_dict();
            plist_dict_set_item(p, "Command", plist_new_string("ProxyDeath"));
            sim_plist_send(fd, p);
            plist_free(p);
            stop = 1;
        } else {
            stop = 1;   /* nothing else exists in this protocol: a confused client is dropped */
        }
        free(cmd);
        free(name);
        if (stop)
            break;
    }
    close(fd);
}

static void control_notify(struct sim_world *w, json_t *req, int fd)
{
    struct sim_device *d = sim_control_device(w, req, fd);
    if (!d)
        return;
    const char *name = json_string_value(json_object_get(req, "name"));
    if (!name || strlen(name) >= 128) {
        sim_control_error(fd, "notify needs \"name\": the notification to post (under 128 characters)");
        return;
    }
    sim_lock(w);
    unsigned *seq = &pending_seq[d->index];
    strcpy(pending[d->index][*seq % 8], name);
    (*seq)++;
    sim_log(w, d, "phone posts %s", name);
    sim_unlock(w);
    sim_control_reply(fd, json_pack("{s:b}", "ok", 1));
}

__attribute__((constructor)) static void register_notify(void)
{
    sim_service_register("com.apple.mobile.notification_proxy", notify_serve);
    sim_service_register("com.apple.mobile.insecure_notification_proxy", notify_serve);
    sim_control_register("notify", control_notify);
}
