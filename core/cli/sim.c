/*
 * revive --sim SCENARIO COMMAND ...: run any revive command against a fresh simulated
 * phone (sim/, docs/simulator.md), for dry runs of playbooks and for the demo.
 *
 * The parent starts simdevd on a private directory, waits for its sockets, then runs this
 * same binary again as a child with the environment pointing the real libraries at the
 * simulator: libusbmuxd through USBMUXD_SOCKET_ADDRESS, libirecovery through libsimusb
 * (LD_PRELOAD has to be set before the process starts, hence the re-exec), idevicerestore
 * through the simulator's stand-in. When the child is done, the simulator is stopped and
 * its directory removed; the child's exit status is revive's.
 */
#include "cli.h"
#include "config.h"
#include "log.h"
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int rv_sim_wrap(int argc, char **argv, const char *scenario);

static char exe_dir[PATH_MAX];

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The first candidate that exists: a config override, the build tree, the install. */
static bool locate(const char *key, const char *const *rel, char *out, size_t cap)
{
    const char *cfg = rv_config_get(key);
    if (cfg) {
        snprintf(out, cap, "%s", cfg);
        return exists(out);
    }
    for (size_t i = 0; rel[i]; i++) {
        snprintf(out, cap, "%s/%s", exe_dir, rel[i]);
        if (exists(out))
            return true;
    }
    return false;
}

static bool find_scenario(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/') || exists(name)) {
        snprintf(out, cap, "%s", name);
        return exists(out);
    }
    const char *ext = strstr(name, ".json") ? "" : ".json";
    const char *dirs[] = { "sim/scenarios", "../share/revive/scenarios", NULL };
    for (size_t i = 0; dirs[i]; i++) {
        snprintf(out, cap, "%s/%s/%s%s", exe_dir, dirs[i], name, ext);
        if (exists(out))
            return true;
    }
#ifdef REVIVE_SOURCE_DIR
    snprintf(out, cap, "%s/sim/scenarios/%s%s", REVIVE_SOURCE_DIR, name, ext);
    if (exists(out))
        return true;
#endif
    return false;
}

/*
 * Firmware for dry runs: one synthetic IPSW per product type in the scenario, made by the
 * simulator's sim-ipsw, in <dir>/firmware/<ProductType>.ipsw. The engine answers firmware
 * queries ("firmware:iPhone12,1:latest") from there while REVIVE_SIM_FIRMWARE_DIR is set,
 * so a playbook's default "latest" works with no network.
 */
static void make_sim_firmware(const char *scenario, const char *dir)
{
    static const char *const ipsw_rel[] = { "sim-ipsw", "sim/simrestore/sim-ipsw", NULL };
    char tool[PATH_MAX];
    if (!locate("sim.ipsw", ipsw_rel, tool, sizeof tool))
        return;
    json_t *root = json_load_file(scenario, 0, NULL);
    json_t *devs = json_object_get(root, "devices");
    char fwdir[PATH_MAX + 16];
    snprintf(fwdir, sizeof fwdir, "%s/firmware", dir);
    if (mkdir(fwdir, 0700) != 0) {
        json_decref(root);
        return;
    }
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d) {
        const char *pt = json_string_value(json_object_get(d, "product_type"));
        if (!pt || strchr(pt, '/') || strstr(pt, ".."))
            continue;
        char out[PATH_MAX + 64];
        snprintf(out, sizeof out, "%s/%s.ipsw", fwdir, pt);
        if (exists(out))
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (devnull >= 0) {
                dup2(devnull, STDOUT_FILENO);
                dup2(devnull, STDERR_FILENO);
            }
            execl(tool, tool, "-o", out, "-p", pt, "-V", "17.0", "-b", "21A329", (char *)NULL);
            _exit(127);
        }
        int st;
        if (pid > 0)
            waitpid(pid, &st, 0);
    }
    json_decref(root);
    setenv("REVIVE_SIM_FIRMWARE_DIR", fwdir, 1);
}

static void wait_socket(const char *path, pid_t child, double seconds)
{
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    for (double waited = 0; waited < seconds; waited += 0.005) {
        if (exists(path) || waitpid(child, NULL, WNOHANG) == child)
            return;
        nanosleep(&ts, NULL);
    }
}

int rv_sim_wrap(int argc, char **argv, const char *scenario_name)
{
    ssize_t len = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (len <= 0) {
        rv_error("--sim: cannot find revive's own path");
        return EXIT_FAILED;
    }
    exe_dir[len] = '\0';
    char self[PATH_MAX];
    snprintf(self, sizeof self, "%s", exe_dir);
    snprintf(exe_dir, sizeof exe_dir, "%s", dirname(self));
    snprintf(self, sizeof self, "%s/%s", exe_dir, "revive");

    char simdevd[PATH_MAX], simusb[PATH_MAX], restore[PATH_MAX], scenario[PATH_MAX];
    static const char *const simdevd_rel[] = { "sim/simdevd/simdevd", "simdevd", NULL };
    static const char *const simusb_rel[] = { "libsimusb.so", "sim/simusb/libsimusb.so", "../lib/revive/libsimusb.so",
                                              "../lib/x86_64-linux-gnu/revive/libsimusb.so", NULL };
    static const char *const restore_rel[] = { "sim-idevicerestore", "sim/simrestore/sim-idevicerestore", NULL };
    if (!find_scenario(scenario_name, scenario, sizeof scenario)) {
        rv_error("--sim: no scenario '%s' (a file, or a name from sim/scenarios/ such as interrupted-restore)",
                 scenario_name);
        return EXIT_USAGE;
    }
    if (!locate("sim.simdevd", simdevd_rel, simdevd, sizeof simdevd)) {
        rv_error("--sim: the simulator (simdevd) is not built or installed; build revive with sim/");
        return EXIT_NOT_BUILT;
    }
    bool have_usb = locate("sim.libsimusb", simusb_rel, simusb, sizeof simusb);
    bool have_restore = locate("sim.idevicerestore", restore_rel, restore, sizeof restore);

    char dir[] = "/tmp/revive-sim-XXXXXX";
    if (!mkdtemp(dir)) {
        rv_error("--sim: cannot make a directory for the simulator: %s", strerror(errno));
        return EXIT_FAILED;
    }
    pid_t sim = fork();
    if (sim == 0) {
        /* simdevd prints the environment for a shell to eval; we set it ourselves. */
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execl(simdevd, simdevd, "--scenario", scenario, "--dir", dir, "--foreground", (char *)NULL);
        fprintf(stderr, "revive: --sim: cannot run %s: %s\n", simdevd, strerror(errno));
        _exit(127);
    }
    if (sim < 0) {
        rv_error("--sim: fork: %s", strerror(errno));
        rmdir(dir);
        return EXIT_FAILED;
    }
    char mux[PATH_MAX + 32], usb[PATH_MAX + 32], ctl[PATH_MAX + 32];
    snprintf(mux, sizeof mux, "%s/usbmuxd.sock", dir);
    snprintf(usb, sizeof usb, "%s/usb.sock", dir);
    snprintf(ctl, sizeof ctl, "%s/control.sock", dir);
    wait_socket(ctl, sim, 10.0);
    wait_socket(mux, sim, 2.0);
    if (!exists(mux) || waitpid(sim, NULL, WNOHANG) == sim) {
        rv_error("--sim: the simulator did not start (scenario %s); run simdevd --scenario %s --foreground to see why",
                 scenario, scenario);
        kill(sim, SIGTERM);
        waitpid(sim, NULL, 0);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            rv_warn("could not remove %s", dir);
        return EXIT_FAILED;
    }
    char env_mux[PATH_MAX + 64];
    snprintf(env_mux, sizeof env_mux, "UNIX:%s", mux);
    setenv("USBMUXD_SOCKET_ADDRESS", env_mux, 1);
    setenv("SIMDEVD_USB_SOCKET", usb, 1);
    setenv("SIMDEVD_CONTROL", ctl, 1);
    setenv("REVIVE_SIM_ACTIVE", scenario, 1);
    setenv("REVIVE_SIM_DIR", dir, 1);
    if (have_usb) {
        const char *old = getenv("LD_PRELOAD");
        char pre[2 * PATH_MAX];
        snprintf(pre, sizeof pre, "%s%s%s", simusb, old && *old ? ":" : "", old && *old ? old : "");
        setenv("LD_PRELOAD", pre, 1);
    } else {
        rv_warn("--sim: libsimusb is not built; recovery and DFU mode will not be seen");
    }
    if (have_restore) {
        setenv("REVIVE_USB_IDEVICERESTORE", restore, 1);
        /* The stand-in plays a current idevicerestore (Debian's 1.0.0 stops at iOS 14.4),
         * so dry runs exercise the playbooks rather than that limit; set it yourself to
         * play 1.0.0. */
        setenv("SIM_IDEVICERESTORE_VERSION", "1.1.0", 0);
    }
    make_sim_firmware(scenario, dir);
    /* The engine's clock keeps pace with the simulated phone's (see session.c). */
    json_t *sc = json_load_file(scenario, 0, NULL);
    json_t *ts = json_object_get(sc, "time_scale");
    if (json_is_number(ts) && json_number_value(ts) >= 1) {
        char v[32];
        snprintf(v, sizeof v, "%g", json_number_value(ts));
        setenv("REVIVE_TIME_SCALE", v, 0);
    }
    json_decref(sc);

    pid_t child = fork();
    if (child == 0) {
        argv[0] = self;
        execv(self, argv);
        fprintf(stderr, "revive: --sim: cannot run %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    /* The child gets the person's Ctrl-C too (same process group); we wait for it. */
    signal(SIGINT, SIG_IGN);
    int status = 0;
    while (child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    kill(sim, SIGTERM);
    waitpid(sim, NULL, 0);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rv_warn("could not remove %s", dir);
    (void)argc;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return EXIT_FAILED;
}
