/* A stand-in for logind's Inhibit method on a private D-Bus daemon, so the sleep check
 * can be tested through the real protocol: sd-bus in revive, a real dbus-daemon, fd
 * passing. It records each Inhibit call and the moment the caller lets go of the lock
 * (the last copy of the read end closes: the write end then polls POLLERR).
 *   fake_logind RECORD_FILE ok|refuse
 * libsystemd is loaded at run time, as revive loads it (no libsystemd-dev needed). */
#include <dlfcn.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*handler_fn)(void *m, void *ud, void *err);
static int (*open_system)(void **bus);
static int (*request_name)(void *bus, const char *name, uint64_t flags);
static int (*add_object)(void *bus, void **slot, const char *path, handler_fn cb, void *ud);
static const char *(*get_member)(void *m);
static int (*msg_read)(void *m, const char *types, ...);
static int (*reply_return)(void *m, const char *types, ...);
static int (*reply_errorf)(void *m, const char *name, const char *fmt, ...);
static int (*bus_process)(void *bus, void **r);
static int (*bus_wait)(void *bus, uint64_t usec);

static FILE *record;
static bool refuse;
static int held[16];
static size_t nheld;

static int on_call(void *m, void *ud, void *err)
{
    (void)ud;
    (void)err;
    const char *member = get_member(m);
    if (!member || strcmp(member, "Inhibit") != 0)
        return 0; /* not ours: let sd-bus answer "unknown method" */
    const char *what, *who, *why, *mode;
    if (msg_read(m, "ssss", &what, &who, &why, &mode) < 0)
        return reply_errorf(m, "org.freedesktop.DBus.Error.InvalidArgs", "want ssss");
    fprintf(record, "inhibit what=%s who=%s mode=%s why=%s\n", what, who, mode, why);
    fflush(record);
    if (refuse)
        return reply_errorf(m, "org.freedesktop.DBus.Error.AccessDenied", "Permission denied (test)");
    int p[2];
    if (pipe(p) != 0 || nheld >= 16)
        return reply_errorf(m, "org.freedesktop.DBus.Error.Failed", "no pipe");
    int r = reply_return(m, "h", p[0]);
    close(p[0]); /* the caller holds the only read end now */
    held[nheld++] = p[1];
    return r;
}

#define LOAD(var, name)                                                  \
    do {                                                                 \
        *(void **)&var = dlsym(lib, name);                               \
        if (!var) {                                                      \
            fprintf(stderr, "fake_logind: %s missing\n", name);          \
            return 2;                                                    \
        }                                                                \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    void *lib = dlopen("libsystemd.so.0", RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "fake_logind: %s\n", dlerror());
        return 2;
    }
    LOAD(open_system, "sd_bus_open_system");
    LOAD(request_name, "sd_bus_request_name");
    LOAD(add_object, "sd_bus_add_object");
    LOAD(get_member, "sd_bus_message_get_member");
    LOAD(msg_read, "sd_bus_message_read");
    LOAD(reply_return, "sd_bus_reply_method_return");
    LOAD(reply_errorf, "sd_bus_reply_method_errorf");
    LOAD(bus_process, "sd_bus_process");
    LOAD(bus_wait, "sd_bus_wait");
    record = fopen(argv[1], "a");
    refuse = strcmp(argv[2], "refuse") == 0;
    void *bus = NULL;
    int r;
    if (!record || (r = open_system(&bus)) < 0 || (r = request_name(bus, "org.freedesktop.login1", 0)) < 0 ||
        (r = add_object(bus, NULL, "/org/freedesktop/login1", on_call, NULL)) < 0) {
        fprintf(stderr, "fake_logind: cannot serve\n");
        return 1;
    }
    fprintf(record, "ready\n");
    fflush(record);
    for (;;) {
        while ((r = bus_process(bus, NULL)) > 0)
            ;
        if (r < 0)
            return 1;
        for (size_t i = 0; i < nheld; i++) {
            struct pollfd p = { .fd = held[i], .events = POLLOUT };
            if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) {
                fprintf(record, "released\n");
                fflush(record);
                close(held[i]);
                held[i--] = held[--nheld];
            }
        }
        bus_wait(bus, 100 * 1000);
    }
}
