#ifndef RV_CLI_PLAYBOOKS_H
#define RV_CLI_PLAYBOOKS_H
#include <stddef.h>
const char *rv_shipped_scripts_dir(void);
const char *rv_user_playbooks_dir(void);
/* Resolve a playbook name or path to a file; 0 or -1 if none. */
int rv_find_playbook(const char *name, char *out, size_t cap);
/* The NULL-terminated require path (shipped lib first); returns the count. */
size_t rv_playbook_lib_path(const char *lib[4]);
#endif
