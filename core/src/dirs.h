/* The per-user XDG directories revive uses (see revive_dir in host.h). */
#ifndef RV_DIRS_H
#define RV_DIRS_H
/* The directory for `which` (a revive_dir), created (0700) on first use; NULL if it
 * cannot be made (the reason is logged once). The string lives until exit. */
const char *rv_dir(int which);
/* mkdir -p with mode; 0 or -1 with errno. */
int rv_mkdirs(const char *path, unsigned mode);
#endif
