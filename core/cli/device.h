/* Helpers for the commands that act on one device. */
#ifndef RV_CLI_DEVICE_H
#define RV_CLI_DEVICE_H
#include "cli.h"
#include "registry.h"

/* Scan the transports and pick the device named by `selector` (or the only one). On
 * failure reports the error and returns the exit status (non-zero). */
int rv_cli_pick_device(rv_app *app, rv_registry **reg, const char *selector, rv_device *out);
/* Ask a person to confirm a destructive action; true under --yes. Without a terminal and
 * without --yes, refuses (and says how to confirm). */
bool rv_cli_confirm(rv_app *app, const char *question);
#endif
