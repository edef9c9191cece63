/* simdevd: the simulated iPhone daemon.
 *
 *   simdevd --scenario FILE [--dir DIR] [--foreground] [--quiet]
 *
 * Binds its three sockets in DIR (usbmuxd.sock, usb.sock, control.sock), writes
 * simdevd.pid, prints the environment a client needs in the form ssh-agent uses
 * (`eval "$(simdevd --scenario s.json)"`), then serves until SIGTERM/SIGINT. Without
 * --foreground it forks, and the parent returns once the sockets accept connections,
 * so the printed environment is usable at once. Nothing slow happens before that:
 * keys are made on first use (pairing.c), so start-up takes milliseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "simcore.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

static struct sim_world world;

struct listener { int fd; void (*serve)(struct sim_world *, int); };
struct conn_arg { int fd; void (*serve)(struct sim_world *, int); };

static void *conn_thread(void *arg)
{
    struct conn_arg a = *(struct conn_arg *)arg;
    free(arg);
    a.serve(&world, a.fd);
    return NULL;
}

static void *accept_thread(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        int fd = accept(l->fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE)
                    usleep(10000);
                continue;
            }
            break;
        }
        struct conn_arg *a = malloc(sizeof *a);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (!a) {
            close(fd);
        } else {
            a->fd = fd;
            a->serve = l->serve;
            if (pthread_create(&t, &attr, conn_thread, a) != 0) {
                close(fd);
                free(a);
            }
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

static int bind_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "simdevd: socket path %s is too long for a Unix socket (max %zu); use a shorter --dir\n",
                path, sizeof sa.sun_path - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "simdevd: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void control_entry(struct sim_world *w, int fd) { sim_control_serve(w, fd); }

static void usb_entry(struct sim_world *w, int fd)
{
    sim_wait_data_ready(w);   /* a restore may erase the data: not while it is being made */
    sim_core_usb_serve(w, fd);
}

/* Seeding the phones' data takes tens of milliseconds, more than start-up may take, so it
 * runs after the sockets serve; everything that reaches the data waits for it
 * (sim_wait_data_ready: service connections, the usb socket, module commands, digests). */
static void *seed_thread(void *arg)
{
    struct sim_world *w = arg;
    for (size_t i = 0; i < w->ndevices; i++) {
        if (sim_core_data_seed(&w->devices[i]) != 0)
            fprintf(stderr, "simdevd: warning: could not seed device %zu's data (data module missing or failed)\n", i);
    }
    sim_lock(w);
    w->data_ready = true;
    sim_notify_change(w);
    sim_unlock(w);
    return NULL;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (strlen(path) >= sizeof tmp)
        return -1;
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static void write_pid_file(const char *path, pid_t pid)
{
    char tmp[PATH_MAX + 40];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%ld\n", (long)pid) < 0 || fclose(pf) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "simdevd: warning: cannot write %s: %s\n", path, strerror(errno));
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: simdevd --scenario FILE [--dir DIR] [--foreground] [--quiet] [--check]\n"
            "  --scenario FILE  the devices and faults to simulate (JSON, see docs/simulator.md)\n"
            "  --dir DIR        where the sockets, pid file and device data go (default: a new /tmp/simdevd-XXXXXX)\n"
            "  --foreground     do not fork; serve until SIGTERM or SIGINT\n"
            "  --quiet          do not print the environment\n"
            "  --check          only validate the scenario and exit (0 if valid)\n"
            "Prints, like ssh-agent: USBMUXD_SOCKET_ADDRESS, SIMDEVD_USB_SOCKET, SIMDEVD_CONTROL, SIMDEVD_PID.\n");
}

int main(int argc, char **argv)
{
    const char *scenario = NULL, *dir_arg = NULL;
    bool foreground = false, quiet = false, check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scenario") && i + 1 < argc)
            scenario = argv[++i];
        else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
            dir_arg = argv[++i];
        else if (!strcmp(argv[i], "--foreground") || !strcmp(argv[i], "-f"))
            foreground = true;
        else if (!strcmp(argv[i], "--check"))
            check = true;
        else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
            quiet = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "simdevd: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!scenario) {
        fprintf(stderr, "simdevd: --scenario FILE is required (sim/scenarios/ has ready ones)\n");
        usage(stderr);
        return 2;
    }
    char dir[PATH_MAX];
    if (check) {
        char err[1024];
        if (sim_world_init(&world, "/nonexistent") != 0 ||
            sim_scenario_load_file(&world, scenario, err, sizeof err) != 0) {
            fprintf(stderr, "simdevd: %s\n", err);
            return 1;
        }
        printf("%s: %zu device(s), %zu fault(s), time scale %g\n", scenario, world.ndevices, world.nfaults,
               world.time_scale);
        return 0;
    }
    if (dir_arg) {
        if (mkdir_p(dir_arg) != 0 || !realpath(dir_arg, dir)) {
            fprintf(stderr, "simdevd: cannot create or resolve --dir %s: %s\n", dir_arg, strerror(errno));
            return 1;
        }
    } else {
        strcpy(dir, "/tmp/simdevd-XXXXXX");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "simdevd: cannot create a directory in /tmp: %s\n", strerror(errno));
            return 1;
        }
    }
    if (sim_world_init(&world, dir) != 0) {
        fprintf(stderr, "simdevd: directory path too long: %s\n", dir);
        return 1;
    }
    char err[1024];
    if (sim_scenario_load_file(&world, scenario, err, sizeof err) != 0) {
        fprintf(stderr, "simdevd: %s\n", err);
        return 1;
    }
    if (sim_pairing_init(&world) != 0) {
        fprintf(stderr, "simdevd: cannot create %s/pairrecords: %s\n", dir, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < world.ndevices; i++) {
        struct sim_device *d = &world.devices[i];
        if (mkdir_p(d->data_dir) != 0) {
            fprintf(stderr, "simdevd: cannot create %s: %s\n", d->data_dir, strerror(errno));
            return 1;
        }
        sim_nvram_save(d);
        sim_set_mode(&world, d, d->mode);   /* attach to usbmuxd as the mode says */
        sim_log(&world, d, "start: mode %s, os %s", sim_mode_name(d->mode), sim_os_name(d->os));
    }

    char mux_path[PATH_MAX + 32], usb_path[PATH_MAX + 32], ctl_path[PATH_MAX + 32], pid_path[PATH_MAX + 32];
    snprintf(mux_path, sizeof mux_path, "%s/usbmuxd.sock", dir);
    snprintf(usb_path, sizeof usb_path, "%s/usb.sock", dir);
    snprintf(ctl_path, sizeof ctl_path, "%s/control.sock", dir);
    snprintf(pid_path, sizeof pid_path, "%s/simdevd.pid", dir);
    struct listener ls[3] = {
        { bind_unix(mux_path), sim_usbmux_serve },
        { bind_unix(usb_path), usb_entry },
        { bind_unix(ctl_path), control_entry },
    };
    if (ls[0].fd < 0 || ls[1].fd < 0 || ls[2].fd < 0)
        return 1;

    pid_t pid = getpid();
    if (!foreground) {
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
            fprintf(stderr, "simdevd: fork failed: %s\n", strerror(errno));
            return 1;
        }
        if (pid > 0) {
            /* The sockets are bound and listening already: the child only has to accept.
             * The pid file is written here, so it is there when the caller reads it. */
            write_pid_file(pid_path, pid);
            if (!quiet)
                printf("USBMUXD_SOCKET_ADDRESS=UNIX:%s; export USBMUXD_SOCKET_ADDRESS;\n"
                       "SIMDEVD_USB_SOCKET=%s; export SIMDEVD_USB_SOCKET;\n"
                       "SIMDEVD_CONTROL=%s; export SIMDEVD_CONTROL;\n"
                       "SIMDEVD_DIR=%s; export SIMDEVD_DIR;\n"
                       "SIMDEVD_PID=%ld; export SIMDEVD_PID;\n"
                       "echo simdevd pid %ld;\n",
                       mux_path, usb_path, ctl_path, dir, (long)pid, (long)pid);
            return 0;
        }
        setsid();
        char logp[PATH_MAX + 32];
        snprintf(logp, sizeof logp, "%s/simdevd.log", dir);
        int nul = open("/dev/null", O_RDONLY);
        int lf = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (nul >= 0)
            dup2(nul, 0);
        if (lf >= 0) {
            dup2(lf, 1);
            dup2(lf, 2);
        }
        if (nul > 2)
            close(nul);
        if (lf > 2)
            close(lf);
        pid = getpid();
    }
    if (foreground)
        write_pid_file(pid_path, pid);
    if (foreground && !quiet) {
        printf("USBMUXD_SOCKET_ADDRESS=UNIX:%s; export USBMUXD_SOCKET_ADDRESS;\n"
               "SIMDEVD_USB_SOCKET=%s; export SIMDEVD_USB_SOCKET;\n"
               "SIMDEVD_CONTROL=%s; export SIMDEVD_CONTROL;\n"
               "SIMDEVD_DIR=%s; export SIMDEVD_DIR;\n"
               "SIMDEVD_PID=%ld; export SIMDEVD_PID;\n",
               mux_path, usb_path, ctl_path, dir, (long)pid);
        fflush(stdout);
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    pthread_create(&t, NULL, seed_thread, &world);
    pthread_detach(t);
    pthread_create(&t, NULL, sim_scheduler_thread, &world);
    pthread_detach(t);
    for (int i = 0; i < 3; i++) {
        pthread_create(&t, NULL, accept_thread, &ls[i]);
        pthread_detach(t);
    }
    int sig = 0;
    sigwait(&set, &sig);
    sim_lock(&world);
    world.stopping = 1;
    sim_notify_change(&world);
    sim_unlock(&world);
    unlink(mux_path);
    unlink(usb_path);
    unlink(ctl_path);
    unlink(pid_path);
    fflush(NULL);
#if defined(__SANITIZE_ADDRESS__)
    /* _exit skips LeakSanitizer's exit hook; a sanitizer build still checks for leaks. */
    __lsan_do_leak_check();
#endif
    _exit(0);
}
