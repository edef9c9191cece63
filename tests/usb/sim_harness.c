/* sim_harness.c — see sim_harness.h. simdevd runs as our child in the foreground and
 * dies with us (PR_SET_PDEATHSIG), so a crashed test never leaves a daemon behind. */
#include "sim_harness.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t sim_pid;
static char dir[128];
static char control[256];

const char *sim_dir(void)
{
    return dir;
}

static int connect_control(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", control);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

void sim_start(const char *scenario_json)
{
    const char *bd = getenv("REVIVE_BUILD_DIR");
    CHECK(bd != NULL);
    snprintf(dir, sizeof dir, "/tmp/usbsim.XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char scen[256], bin[512];
    snprintf(scen, sizeof scen, "%s/scenario.json", dir);
    FILE *f = fopen(scen, "w");
    CHECK(f != NULL);
    fputs(scenario_json, f);
    fclose(f);
    snprintf(bin, sizeof bin, "%s/simdevd", bd);
    if (access(bin, X_OK) != 0)
        snprintf(bin, sizeof bin, "%s/sim/simdevd/simdevd", bd);
    snprintf(control, sizeof control, "%s/control.sock", dir);
    pid_t parent = getpid();
    sim_pid = fork();
    CHECK(sim_pid >= 0);
    if (sim_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        char log[300];
        snprintf(log, sizeof log, "%s/simdevd.log", dir);
        FILE *lf = freopen(log, "w", stdout);
        (void)lf;
        dup2(1, 2);
        execl(bin, bin, "--scenario", scen, "--dir", dir, "--foreground", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int fd = connect_control();
        if (fd >= 0) {
            close(fd);
            char env[300];
            snprintf(env, sizeof env, "UNIX:%s/usbmuxd.sock", dir);
            setenv("USBMUXD_SOCKET_ADDRESS", env, 1);
            setenv("SIMDEVD_CONTROL", control, 1);
            snprintf(env, sizeof env, "%s/usb.sock", dir);
            setenv("SIMDEVD_USB_SOCKET", env, 1);
            return;
        }
        if (waitpid(sim_pid, NULL, WNOHANG) == sim_pid) {
            sim_pid = 0;
            fprintf(stderr, "simdevd exited at start; see %s/simdevd.log\n", dir);
            exit(1);
        }
        usleep(10000);
    }
    fprintf(stderr, "simdevd did not open %s\n", control);
    sim_stop();
    exit(1);
}

void sim_stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        for (int i = 0; i < 300 && waitpid(sim_pid, NULL, WNOHANG) != sim_pid; i++)
            usleep(10000);
        kill(sim_pid, SIGKILL);
        waitpid(sim_pid, NULL, WNOHANG);
        sim_pid = 0;
    }
    if (dir[0] && !getenv("USBSIM_KEEP")) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
        dir[0] = '\0';
    }
}

json_t *sim_ctl(const char *fmt, ...)
{
    char req[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req, sizeof req, fmt, ap);
    va_end(ap);
    int fd = connect_control();
    if (fd < 0) {
        fprintf(stderr, "control socket: %s\n", strerror(errno));
        return NULL;
    }
    size_t len = strlen(req);
    if (write(fd, req, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        close(fd);
        return NULL;
    }
    /* read lines; the last complete one is the answer */
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap);
    json_t *last = NULL;
    for (;;) {
        if (used + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        char *nl;
        while ((nl = memchr(buf, '\n', used)) != NULL) {
            *nl = '\0';
            json_t *j = json_loads(buf, 0, NULL);
            size_t rest = used - (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, rest);
            used = rest;
            if (j) {
                json_decref(last);
                last = j;
                if (json_object_get(j, "ok"))
                    goto done;
            }
        }
    }
done:
    free(buf);
    close(fd);
    if (!last || !json_is_true(json_object_get(last, "ok"))) {
        fprintf(stderr, "control %s -> %s\n", req,
                last ? json_string_value(json_object_get(last, "error")) : "no answer");
        json_decref(last);
        return NULL;
    }
    return last;
}

const char *sim_field(int device, const char *field)
{
    static char out[4096];
    out[0] = '\0';
    json_t *st = sim_ctl("{\"cmd\":\"state\"}");
    if (!st)
        return out;
    json_t *d = json_array_get(json_object_get(st, "devices"), (size_t)device);
    json_t *v = json_object_get(d, field);
    if (json_is_string(v))
        snprintf(out, sizeof out, "%s", json_string_value(v));
    else if (v) {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(out, sizeof out, "%s", s ? s : "");
        free(s);
    }
    json_decref(st);
    return out;
}

bool sim_log_has(int device, const char *needle)
{
    json_t *l = sim_ctl("{\"cmd\":\"log\",\"device\":%d}", device);
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(l, "log"), i, v)
    {
        if (json_is_string(v) && strstr(json_string_value(v), needle))
            found = true;
    }
    json_decref(l);
    return found;
}

bool sim_wait_mode(int device, const char *mode, double timeout)
{
    json_t *r = sim_ctl("{\"cmd\":\"wait\",\"device\":%d,\"mode\":\"%s\",\"timeout\":%g}", device, mode, timeout);
    bool ok = r != NULL;
    json_decref(r);
    return ok;
}
