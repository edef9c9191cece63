/* Where playbooks are found: a path as given, else by name in the user's playbook
 * directory ($XDG_DATA_HOME/revive/playbooks) and then the shipped ones (scripts/ beside
 * the binary in a build tree, <prefix>/share/revive/scripts installed). */
#include "playbooks.h"
#include "config.h"
#include "dirs.h"
#include <revive/host.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *rv_shipped_scripts_dir(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *cfg = rv_config_get("playbooks.shipped_dir");
    if (cfg) {
        snprintf(dir, sizeof dir, "%s", cfg);
        return dir;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return NULL;
    exe[len] = '\0';
    char *d = dirname(exe);
    char cand[PATH_MAX + 64];
    snprintf(cand, sizeof cand, "%s/scripts", d);
    if (!is_dir(cand))
        snprintf(cand, sizeof cand, "%s/../%s", d, REVIVE_PLAYBOOK_RELDIR);
    snprintf(dir, sizeof dir, "%s", cand);
    return dir;
}

const char *rv_user_playbooks_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        const char *data = rv_dir(REVIVE_DIR_DATA);
        snprintf(dir, sizeof dir, "%s/playbooks", data ? data : ".");
    }
    return dir;
}

int rv_find_playbook(const char *name, char *out, size_t cap)
{
    if (strchr(name, '/') || is_file(name)) {
        if (!is_file(name))
            return -1;
        snprintf(out, cap, "%s", name);
        return 0;
    }
    const char *dirs[] = { rv_user_playbooks_dir(), rv_shipped_scripts_dir() };
    const char *ext = strstr(name, ".lua") ? "" : ".lua";
    for (size_t i = 0; i < 2; i++) {
        if (!dirs[i])
            continue;
        snprintf(out, cap, "%s/%s%s", dirs[i], name, ext);
        if (is_file(out))
            return 0;
    }
    return -1;
}

size_t rv_playbook_lib_path(const char *lib[4])
{
    static char shipped[PATH_MAX + 8], user[PATH_MAX + 8];
    size_t n = 0;
    if (rv_shipped_scripts_dir()) {
        snprintf(shipped, sizeof shipped, "%s/lib", rv_shipped_scripts_dir());
        lib[n++] = shipped;
    }
    snprintf(user, sizeof user, "%s", rv_user_playbooks_dir());
    lib[n++] = user;
    lib[n] = NULL;
    return n;
}
