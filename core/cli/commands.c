/* The table of subcommands, and the ones whose part of revive is not built yet: they say
 * so plainly and exit 6, rather than pretending. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

int rv_cmd_version(rv_app *app, int argc, char **argv);
int rv_cmd_plugins(rv_app *app, int argc, char **argv);
int rv_cmd_backup(rv_app *app, int argc, char **argv);
int rv_cmd_devices(rv_app *app, int argc, char **argv);
int rv_cmd_info(rv_app *app, int argc, char **argv);
int rv_cmd_recovery(rv_app *app, int argc, char **argv);
int rv_cmd_fetch(rv_app *app, int argc, char **argv);
int rv_cmd_firmware(rv_app *app, int argc, char **argv);
int rv_cmd_restore_backup(rv_app *app, int argc, char **argv);
int rv_cmd_restore_firmware(rv_app *app, int argc, char **argv);
int rv_cmd_reboot(rv_app *app, int argc, char **argv);
int rv_cmd_shutdown(rv_app *app, int argc, char **argv);

__attribute__((unused)) static int not_built(const char *name, const char *what, int argc, char **argv)
{
    if (rv_wants_help(argc, argv)) {
        printf("revive %s: %s\nThis command is not built yet in this version of revive.\n", name, what);
        return EXIT_OK;
    }
    fprintf(stderr, "revive %s: not built yet in this version (%s). Nothing was done.\n", name, what);
    return EXIT_NOT_BUILT;
}

#define NOT_BUILT(fn, name, what) \
    static int fn(rv_app *app, int argc, char **argv) { (void)app; return not_built(name, what, argc, argv); }

#ifdef REVIVE_HAVE_revive_lua
int rv_cmd_run(rv_app *app, int argc, char **argv);
int rv_cmd_check(rv_app *app, int argc, char **argv);
#define cmd_run rv_cmd_run
#define cmd_check rv_cmd_check
#else
NOT_BUILT(cmd_run, "run", "run a playbook on a device")
NOT_BUILT(cmd_check, "check", "validate a playbook without a device")
#endif
#if defined(REVIVE_HAVE_revive_lua) && defined(REVIVE_HAVE_revive_journal)
int rv_cmd_runs(rv_app *app, int argc, char **argv);
int rv_cmd_resume(rv_app *app, int argc, char **argv);
#define cmd_runs rv_cmd_runs
#define cmd_resume rv_cmd_resume
#else
NOT_BUILT(cmd_resume, "resume", "resume an interrupted run from its journal")
NOT_BUILT(cmd_runs, "runs", "list runs and their outcomes")
#endif
#ifdef REVIVE_HAVE_revive_lua
int rv_cmd_test(rv_app *app, int argc, char **argv);
#define cmd_test rv_cmd_test
#else
NOT_BUILT(cmd_test, "test", "run a playbook against simulator scenarios")
#endif
int rv_cmd_doctor(rv_app *app, int argc, char **argv);
#define cmd_doctor rv_cmd_doctor

const rv_command rv_commands[] = {
    { "version", "print the version", rv_cmd_version },
    { "plugins", "list loaded and refused plugins", rv_cmd_plugins },
    { "devices", "list attached devices in every mode", rv_cmd_devices },
    { "info", "show a device's facts", rv_cmd_info },
    { "recovery", "enter or exit recovery mode", rv_cmd_recovery },
    { "reboot", "restart a device", rv_cmd_reboot },
    { "shutdown", "turn a device off", rv_cmd_shutdown },
    { "backup", "take, inspect, verify, list, extract or import a backup", rv_cmd_backup },
    { "restore-backup", "restore a backup onto a device", rv_cmd_restore_backup },
    { "restore-firmware", "restore iOS on a device (update or erase)", rv_cmd_restore_firmware },
    { "fetch", "download and verify firmware or a backup", rv_cmd_fetch },
    { "firmware", "list the firmware a catalog offers for a model", rv_cmd_firmware },
    { "run", "run a playbook on a device", cmd_run },
    { "resume", "resume an interrupted run", cmd_resume },
    { "runs", "list runs and their outcomes", cmd_runs },
    { "check", "validate a playbook without a device", cmd_check },
    { "test", "run a playbook against simulator scenarios", cmd_test },
    { "doctor", "check this computer for what revive needs", cmd_doctor },
    { "help", "help on a command", rv_cmd_help },
};
const size_t rv_ncommands = sizeof rv_commands / sizeof rv_commands[0];
