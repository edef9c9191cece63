/* revive test PLAYBOOK [--scenario S ...]: run a playbook against simulator scenarios and
 * report each outcome — how a shop proves an adapted playbook before it meets a
 * customer's phone. Each scenario runs as `revive --sim S --yes --json run PLAYBOOK` in a
 * child process, so one scenario can never disturb another. A scenario file may say what
 * it expects of a playbook ("expect": {"<playbook name>": "fixed" | "needs_person"}); a
 * different outcome fails the test. */
#include "cli.h"
#include "log.h"
#include "playbooks.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int rv_cmd_test(rv_app *app, int argc, char **argv);

/* Run one scenario; fills outcome ("fixed", "needs_person", "failed", ...). Returns the
 * child's exit status. */
static int run_one(const char *self, const char *scenario, const char *playbook, char *outcome, size_t cap,
                   char *detail, size_t dcap)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", 0);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execl(self, self, "--sim", scenario, "--yes", "--json", "run", playbook, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char line[65536];
    snprintf(outcome, cap, "failed");
    detail[0] = '\0';
    while (in && fgets(line, sizeof line, in)) {
        json_t *ev = json_loads(line, 0, NULL);
        if (!ev)
            continue;
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *f = json_object_get(ev, "fields");
        if (type && strcmp(type, "outcome") == 0) {
            const char *o = json_string_value(json_object_get(f, "outcome"));
            if (o)
                snprintf(outcome, cap, "%s", o);
            const char *why = json_string_value(json_object_get(f, "summary"));
            if (!why)
                why = json_string_value(json_object_get(f, "message"));
            if (why)
                snprintf(detail, dcap, "%s", why);
        } else if (type && strcmp(type, "error") == 0 && !detail[0]) {
            const char *m = json_string_value(json_object_get(f, "message"));
            if (m)
                snprintf(detail, dcap, "%s", m);
        }
        json_decref(ev);
    }
    if (in)
        fclose(in);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (rc == EXIT_CANCELLED)
        snprintf(outcome, cap, "cancelled");
    return rc;
}

/* The outcome the scenario file expects of this playbook, or NULL. */
static char *expected(const char *scenario_path, const char *playbook)
{
    json_t *root = json_load_file(scenario_path, 0, NULL);
    if (!root)
        return NULL;
    char pb[PATH_MAX];
    snprintf(pb, sizeof pb, "%s", playbook);
    char *name = basename(pb);
    char *dot = strstr(name, ".lua");
    if (dot)
        *dot = '\0';
    const char *e = json_string_value(json_object_get(json_object_get(root, "expect"), name));
    char *copy = e ? strdup(e) : NULL;
    json_decref(root);
    return copy;
}

static bool scenario_path(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        return access(out, R_OK) == 0;
    }
#ifdef REVIVE_SOURCE_DIR
    snprintf(out, cap, "%s/sim/scenarios/%s.json", REVIVE_SOURCE_DIR, name);
    if (access(out, R_OK) == 0)
        return true;
#endif
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return false;
    exe[len] = '\0';
    snprintf(out, cap, "%s/../share/revive/scenarios/%s.json", dirname(exe), name);
    return access(out, R_OK) == 0;
}

int rv_cmd_test(rv_app *app, int argc, char **argv)
{
    static const char usage[] =
        "Usage: revive test PLAYBOOK [--scenario S ...]\n"
        "Run PLAYBOOK against simulated phones, one fresh simulator per scenario (sim/scenarios,\n"
        "docs/simulator.md), with --yes, and print each outcome. Without --scenario, every\n"
        "scenario that declares an expectation for this playbook is run. A scenario's declared\n"
        "expectation (\"expect\": {\"PLAYBOOK\": \"fixed\"}) that is not met fails the test (exit 1).\n";
    static const struct option opts[] = { { "scenario", required_argument, NULL, 's' },
                                          { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
    const char **scen = calloc((size_t)argc + 64, sizeof *scen);
    size_t ns = 0;
    int c;
    optind = 0; /* glibc: 0 resets getopt fully (1 keeps the last scan's permutation state) */
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        if (c == 's')
            scen[ns++] = optarg;
        else if (c == 'h') {
            printf("%s", usage);
            free(scen);
            return EXIT_OK;
        } else {
            free(scen);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        free(scen);
        return EXIT_USAGE;
    }
    char playbook[PATH_MAX];
    if (rv_find_playbook(argv[optind], playbook, sizeof playbook) != 0) {
        rv_error("no playbook '%s'", argv[optind]);
        free(scen);
        return EXIT_USAGE;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        free(scen);
        return EXIT_FAILED;
    }
    self[len] = '\0';
    char **owned = NULL;
    size_t nowned = 0;
    if (ns == 0) {
        /* Every scenario that says what it expects of this playbook. */
        char dir[PATH_MAX];
        if (scenario_path("healthy", dir, sizeof dir)) {
            char *d = dirname(dir);
            DIR *dh = opendir(d);
            struct dirent *e;
            while (dh && (e = readdir(dh)) && ns < 64) {
                size_t l = strlen(e->d_name);
                if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
                    continue;
                char p[PATH_MAX + 300];
                snprintf(p, sizeof p, "%s/%s", d, e->d_name);
                char *exp = expected(p, playbook);
                if (exp) {
                    owned = realloc(owned, (nowned + 1) * sizeof *owned);
                    owned[nowned] = strdup(p);
                    scen[ns++] = owned[nowned++];
                    free(exp);
                }
            }
            if (dh)
                closedir(dh);
        }
        if (ns == 0) {
            rv_error("no scenario declares an expectation for %s; name some with --scenario", playbook);
            free(scen);
            return EXIT_USAGE;
        }
    }
    int failures = 0;
    if (!app->json)
        printf("%-32s %-14s %-14s %s\n", "SCENARIO", "EXPECTED", "OUTCOME", "DETAIL");
    for (size_t i = 0; i < ns; i++) {
        char path[PATH_MAX];
        if (!scenario_path(scen[i], path, sizeof path)) {
            rv_error("no scenario '%s'", scen[i]);
            failures++;
            continue;
        }
        char outcome[32], detail[512];
        run_one(self, path, playbook, outcome, sizeof outcome, detail, sizeof detail);
        char *exp = expected(path, playbook);
        bool pass = exp ? strcmp(exp, outcome) == 0 : (strcmp(outcome, "fixed") == 0 || strcmp(outcome, "needs_person") == 0);
        failures += !pass;
        char nm[PATH_MAX];
        snprintf(nm, sizeof nm, "%s", path);
        char *base = basename(nm);
        if (app->json) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "scenario", base, "expected", exp ? exp : "",
                                  "outcome", outcome, "detail", detail, "pass", pass);
            char *s = json_dumps(o, JSON_COMPACT);
            puts(s);
            free(s);
            json_decref(o);
        } else {
            printf("%-32s %-14s %-14s %s%s\n", base, exp ? exp : "-", outcome, pass ? "" : "FAIL: ", detail);
        }
        fflush(stdout);
        free(exp);
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(scen);
    if (!app->json)
        printf("%zu scenarios, %d failed\n", ns, failures);
    return failures ? EXIT_FAILED : EXIT_OK;
}
