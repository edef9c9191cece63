/* revive — entry point: global options, logging, config, signals, then one subcommand. */
#include "cancel.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include <getopt.h>

int rv_sim_wrap(int argc, char **argv, const char *scenario);
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: revive [OPTIONS] COMMAND [ARGS...]\n"
            "Bring iPhones and iPads back after an interrupted restore.\n\n"
            "Options:\n"
            "  -v, --verbose          more detail on stderr (repeat for more)\n"
            "  -q, --quiet            only errors on stderr\n"
            "      --json             events and results as JSON Lines on stdout\n"
            "  -y, --yes              confirm destructive actions without asking\n"
            "  -o, --set KEY=VALUE    a config value for this run (e.g. usb.idevicerestore=PATH)\n"
            "      --config FILE      read FILE instead of ~/.config/revive/config.json\n"
            "      --password-file F  read a backup password from F (never pass it as an argument)\n"
            "  -h, --help             this help; 'revive COMMAND --help' for a command's\n"
            "      --version          the version\n"
            "      --sim SCENARIO     run the command against a fresh simulated phone (dry run;\n"
            "                         scenarios in sim/scenarios, e.g. interrupted-restore)\n\n"
            "Commands:\n");
    for (size_t i = 0; i < rv_ncommands; i++)
        fprintf(out, "  %-17s %s\n", rv_commands[i].name, rv_commands[i].summary);
    fprintf(out,
            "\nExit status: 0 ok, 1 failed, 2 usage, 3 no device, 4 needs a person, 5 cancelled,\n"
            "6 not built yet. See revive(1) and docs/ for more.\n");
}

int rv_cmd_help(rv_app *app, int argc, char **argv)
{
    (void)app;
    if (argc > 1 && argv[1][0] != '-') {
        for (size_t i = 0; i < rv_ncommands; i++)
            if (strcmp(rv_commands[i].name, argv[1]) == 0) {
                char *args[] = { argv[1], "--help", NULL };
                return rv_commands[i].run(app, 2, args);
            }
        fprintf(stderr, "revive: no command '%s'; 'revive help' lists them\n", argv[1]);
        return EXIT_USAGE;
    }
    usage(stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    rv_app app;
    memset(&app, 0, sizeof app);
    app.argv0 = argv[0];
    int verbosity = REVIVE_LOG_INFO;
    const char *config_file = NULL;
    revive_error err;
    rv_error_clear(&err);

    enum { OPT_JSON = 256, OPT_CONFIG, OPT_PASSWORD_FILE, OPT_VERSION, OPT_SIM };
    const char *sim = NULL;
    static const struct option opts[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "json", no_argument, NULL, OPT_JSON },
        { "yes", no_argument, NULL, 'y' },
        { "set", required_argument, NULL, 'o' },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { "sim", required_argument, NULL, OPT_SIM },
        { NULL, 0, NULL, 0 },
    };
    /* Flags given with -o are applied after the config file is read; keep them. */
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t nsets = 0;
    if (!sets) {
        fprintf(stderr, "revive: out of memory\n");
        return EXIT_FAILED;
    }
    int c;
    while ((c = getopt_long(argc, argv, "+vqyo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': verbosity++; break;
        case 'q': verbosity = REVIVE_LOG_ERROR; break;
        case 'y': app.yes = true; break;
        case 'o': sets[nsets++] = optarg; break;
        case OPT_JSON: app.json = true; break;
        case OPT_CONFIG: config_file = optarg; break;
        case OPT_PASSWORD_FILE:
            if (rv_config_set("password_file", optarg) != REVIVE_OK) {
                fprintf(stderr, "revive: out of memory\n");
                free(sets);
                return EXIT_FAILED;
            }
            break;
        case OPT_SIM: sim = optarg; break;
        case OPT_VERSION: printf("revive %s\n", REVIVE_VERSION); free(sets); return EXIT_OK;
        case 'h': usage(stdout); free(sets); return EXIT_OK;
        default: usage(stderr); free(sets); return EXIT_USAGE;
        }
    }
    rv_log_set_level(verbosity);
    if (rv_config_load(config_file, &err) != REVIVE_OK) {
        rv_error("%s", err.message);
        free(sets);
        return EXIT_FAILED;
    }
    for (size_t i = 0; i < nsets; i++) {
        if (rv_config_set_assignment(sets[i], &err) != REVIVE_OK) {
            rv_error("%s", err.message);
            free(sets);
            return EXIT_USAGE;
        }
    }
    free(sets);
    if (app.yes && rv_config_set("yes", "true") != REVIVE_OK) {
        fprintf(stderr, "revive: out of memory\n");
        return EXIT_FAILED;
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (sim && !getenv("REVIVE_SIM_ACTIVE")) {
        /* Re-run this command line against a fresh simulator (sim.c); the child sees
         * REVIVE_SIM_ACTIVE and skips this. */
        return rv_sim_wrap(argc, argv, sim);
    }
    rv_cancel_install();
    app.term_sink = -1;
    if (app.json)
        rv_events_json_sink(stdout);
    else
        app.term_sink = rv_events_terminal_sink(stderr);

    const char *name = argv[optind];
    const rv_command *cmd = NULL;
    for (size_t i = 0; i < rv_ncommands; i++)
        if (strcmp(rv_commands[i].name, name) == 0)
            cmd = &rv_commands[i];
    if (!cmd) {
        fprintf(stderr, "revive: no command '%s'; 'revive help' lists them\n", name);
        return EXIT_USAGE;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* glibc: re-initialise getopt for the subcommand's own options */
    int rc = cmd->run(&app, sub_argc, sub_argv);
    if (app.plugins_loaded)
        rv_plugins_unload(&app.plugins);
    if (rc == EXIT_OK && rv_cancelled())
        rc = EXIT_CANCELLED;
    return rc;
}
