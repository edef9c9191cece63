/* Configuration: flags over environment over the config file.
 *
 * The file is $XDG_CONFIG_HOME/revive/config.json (or REVIVE_CONFIG): a JSON object whose
 * nested objects name sections, so {"usb": {"idevicerestore": "/opt/bin/idevicerestore"}}
 * is the key "usb.idevicerestore". The same key in the environment is
 * REVIVE_USB_IDEVICERESTORE; on the command line, -o usb.idevicerestore=PATH. */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H
#include <revive/errors.h>
#include <revive/types.h>

/* Load the file (a missing file is fine). On a broken file: REVIVE_E_CORRUPT and a message
 * naming the file, line and column. */
int rv_config_load(const char *path_or_null, revive_error *err);
/* A flag: "key=value". */
int rv_config_set_assignment(const char *assignment, revive_error *err);
int rv_config_set(const char *key, const char *value); /* REVIVE_OK or REVIVE_E_NO_MEMORY */
/* Lookup by precedence; the string lives until exit. NULL if unset. */
const char *rv_config_get(const char *key);
const char *rv_config_path(void);
/* rv_config_get, or `fallback` when unset. */
const char *rv_config_get_or(const char *key, const char *fallback);
/* Every key set anywhere, for `revive doctor` and tests: calls fn for each. */
void rv_config_each(void (*fn)(const char *key, const char *value, const char *from, void *ud), void *ud);
void rv_config_reset(void); /* tests */
#endif
