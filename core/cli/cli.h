/* The revive command line: shared state and helpers for the subcommands (one file each). */
#ifndef RV_CLI_H
#define RV_CLI_H
#include "call.h"
#include "loader.h"
#include <stdbool.h>

/* Exit codes (docs/revive.1, "EXIT STATUS"). */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_NO_DEVICE = 3,
    EXIT_NEEDS_PERSON = 4,
    EXIT_CANCELLED = 5,
    EXIT_NOT_BUILT = 6
};

typedef struct rv_app {
    bool json;             /* --json: events and results as JSON Lines on stdout */
    bool yes;              /* --yes: confirm destructive actions */
    bool plugins_loaded;
    rv_plugins plugins;
    const char *argv0;
    int term_sink;         /* id of the terminal event sink (-1 under --json) */
} rv_app;

typedef struct rv_command {
    const char *name;
    const char *summary;
    int (*run)(rv_app *app, int argc, char **argv); /* argv[0] is the command name */
} rv_command;

/* Load plugins once (built-in dir + REVIVE_PLUGIN_PATH). */
rv_plugins *rv_app_plugins(rv_app *app);
/* Map a revive error code to an exit status. */
int rv_exit_for(int code);
/* Report a failed call (its error) the way the output mode wants; returns the exit status. */
int rv_report_error(rv_app *app, const revive_error *err);
/* Print a call's results: "key: value" lines, or a "result" event under --json. */
void rv_print_results(rv_app *app, const char *what, const rv_fields *results);
/* True if argv holds -h or --help (subcommands call this first). */
bool rv_wants_help(int argc, char **argv);
/* The subcommands. */
extern const rv_command rv_commands[];
extern const size_t rv_ncommands;
int rv_cmd_help(rv_app *app, int argc, char **argv);
#endif
