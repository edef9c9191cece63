#include "dirs.h"
#include "log.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static char *dirs[5];

int rv_mkdirs(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void base_for(int which, char *out, size_t cap)
{
    static const char *const env[] = { "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
                                       "XDG_DATA_HOME", "XDG_RUNTIME_DIR" };
    static const char *const fallback[] = { ".config", ".local/state", ".cache", ".local/share", NULL };
    const char *v = getenv(env[which]);
    if (v && v[0] == '/') {
        snprintf(out, cap, "%s/revive", v);
        return;
    }
    const char *home = getenv("HOME");
    if (which == 4 || !home || home[0] != '/') {
        snprintf(out, cap, "%s/revive-%u", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                 (unsigned)getuid());
        if (which != 4) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "/%s", env[which] + 4);
        }
        return;
    }
    snprintf(out, cap, "%s/%s/revive", home, fallback[which]);
}

const char *rv_dir(int which)
{
    if (which < 0 || which > 4)
        return NULL;
    pthread_mutex_lock(&dirs_lock);
    if (!dirs[which]) {
        char path[PATH_MAX];
        base_for(which, path, sizeof path);
        if (rv_mkdirs(path, 0700) == 0)
            dirs[which] = strdup(path);
        else
            rv_warn("cannot create %s: %s (set the XDG_* variables to a writable place)",
                    path, strerror(errno));
    }
    const char *d = dirs[which];
    pthread_mutex_unlock(&dirs_lock);
    return d;
}
