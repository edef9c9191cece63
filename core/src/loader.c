#include "loader.h"
#include "call.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sizes of the ABI 1.0 structs: the least a plugin may hand us. They never change. */
#define SIZE_1_0(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
#define PLUGIN_MIN    SIZE_1_0(revive_plugin, importers)
#define TRANSPORT_MIN SIZE_1_0(revive_transport, setvar)
#define METHOD_MIN    SIZE_1_0(revive_restore_method, backup)
#define SOURCE_MIN    SIZE_1_0(revive_source, list)
#define IMPORTER_MIN  SIZE_1_0(revive_importer, extract)

static int refuse(rv_plugins *set, const char *path, int code, const char *fmt, ...) REVIVE_PRINTF(4, 5);

static int refuse(rv_plugins *set, const char *path, int code, const char *fmt, ...)
{
    char reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    rv_refusal *nv = realloc(set->refused, (set->nrefused + 1) * sizeof *nv);
    if (nv) {
        set->refused = nv;
        nv[set->nrefused].path = strdup(path);
        nv[set->nrefused].reason = strdup(reason);
        nv[set->nrefused].code = code;
        set->nrefused++;
    }
    rv_debug("refused plugin %s: %s", path, reason);
    return code;
}

/* Refuse a file or directory that someone other than root or us could have written. */
static bool unsafe_owner(const char *path, const struct stat *st, char *why, size_t cap)
{
    if (st->st_mode & S_IWOTH) {
        snprintf(why, cap, "%s is writable by every user (mode %03o); run: chmod o-w '%s'", path,
                 (unsigned)(st->st_mode & 0777), path);
        return true;
    }
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        snprintf(why, cap, "%s belongs to another user (uid %u); only root's or your own plugins load",
                 path, (unsigned)st->st_uid);
        return true;
    }
    return false;
}

static bool valid_name(const char *name)
{
    if (!name || !*name || strlen(name) > 31)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* Copy a NULL-terminated array of capability tables into zeroed core-size structs. */
#define COPY_CAPS(type, minsz, src, dst, count, what)                                          \
    do {                                                                                       \
        size_t k = 0;                                                                          \
        while ((src) && (src)[k] && k < 64)                                                    \
            k++;                                                                               \
        if (k) {                                                                               \
            (dst) = calloc(k, sizeof(type));                                                   \
            if (!(dst))                                                                        \
                return refuse(set, path, REVIVE_E_NO_MEMORY, "out of memory");                 \
            for (size_t i = 0; i < k; i++) {                                                   \
                uint32_t sz = (src)[i]->size;                                                  \
                if (sz < (minsz)) {                                                            \
                    free(dst);                                                                 \
                    (dst) = NULL;                                                              \
                    return refuse(set, path, REVIVE_E_PLUGIN_ABI,                              \
                                  "its %s table #%zu is %u bytes, smaller than ABI %d.0's %zu" \
                                  " (rebuild it against the current SDK)", what, i,            \
                                  (unsigned)sz, REVIVE_ABI_MAJOR, (size_t)(minsz));            \
                }                                                                              \
                memcpy(&(dst)[i], (src)[i], sz < sizeof(type) ? sz : sizeof(type));            \
                (dst)[i].size = sizeof(type);                                                  \
            }                                                                                  \
        }                                                                                      \
        (count) = k;                                                                           \
    } while (0)

static int check_and_copy(rv_plugins *set, const char *path, const revive_plugin *d, rv_plugin *p)
{
    if (d->size < sizeof(uint32_t) + 2 * sizeof(uint16_t))
        return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                      "its descriptor is %u bytes, too small to be a revive plugin", (unsigned)d->size);
    if (d->abi_major != REVIVE_ABI_MAJOR)
        return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                      "built for revive ABI %u.%u, this revive speaks %d.%d (another major); rebuild it "
                      "against this SDK", d->abi_major, d->abi_minor, REVIVE_ABI_MAJOR, REVIVE_ABI_MINOR);
    if (d->abi_minor > REVIVE_ABI_MINOR)
        return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                      "built for revive ABI %u.%u, newer than this revive (%d.%d); update revive",
                      d->abi_major, d->abi_minor, REVIVE_ABI_MAJOR, REVIVE_ABI_MINOR);
    if (d->size < PLUGIN_MIN)
        return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                      "its descriptor is %u bytes, smaller than ABI %d.0's %zu (descriptor too small)",
                      (unsigned)d->size, REVIVE_ABI_MAJOR, (size_t)PLUGIN_MIN);
    memcpy(&p->desc, d, d->size < sizeof p->desc ? d->size : sizeof p->desc);
    p->desc.size = sizeof p->desc;
    if (!valid_name(p->desc.name))
        return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                      "its name '%s' is not 1-31 characters of a-z, 0-9, '_' and '-'",
                      p->desc.name ? p->desc.name : "(none)");
    if (p->desc.transport) {
        uint32_t sz = p->desc.transport->size;
        if (sz < TRANSPORT_MIN)
            return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                          "its transport table is %u bytes, smaller than ABI %d.0's %zu",
                          (unsigned)sz, REVIVE_ABI_MAJOR, (size_t)TRANSPORT_MIN);
        memcpy(&p->transport, p->desc.transport, sz < sizeof p->transport ? sz : sizeof p->transport);
        p->transport.size = sizeof p->transport;
        p->has_transport = true;
    }
    COPY_CAPS(revive_restore_method, METHOD_MIN, p->desc.restore_methods, p->methods, p->nmethods,
              "restore method");
    COPY_CAPS(revive_source, SOURCE_MIN, p->desc.sources, p->sources, p->nsources, "source");
    COPY_CAPS(revive_importer, IMPORTER_MIN, p->desc.importers, p->importers, p->nimporters, "importer");
    return REVIVE_OK;
}

static void plugin_free(rv_plugin *p)
{
    if (!p)
        return;
    free(p->methods);
    free(p->sources);
    free(p->importers);
    free(p->path);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int rv_plugins_load_file(rv_plugins *set, const char *path)
{
    struct stat st;
    char why[PATH_MAX + 200];
    if (stat(path, &st) != 0)
        return refuse(set, path, REVIVE_E_NOT_FOUND, "cannot read it: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return refuse(set, path, REVIVE_E_INVALID, "it is not a regular file");
    if (unsafe_owner(path, &st, why, sizeof why))
        return refuse(set, path, REVIVE_E_PERMISSION, "%s", why);
    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    const char *dir = dirname(dirbuf);
    if (stat(dir, &st) == 0 && unsafe_owner(dir, &st, why, sizeof why))
        return refuse(set, path, REVIVE_E_PERMISSION, "its directory %s", why);

    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return refuse(set, path, REVIVE_E_PLUGIN, "cannot load it: %s", e ? e : "unknown dlopen error");
    }
    revive_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, REVIVE_PLUGIN_ENTRY_NAME);
    if (!entry) {
        dlclose(h);
        return refuse(set, path, REVIVE_E_PLUGIN_ABI,
                      "it has no '%s' symbol: not a revive plugin, or built without REVIVE_PLUGIN()",
                      REVIVE_PLUGIN_ENTRY_NAME);
    }
    const revive_plugin *d = entry();
    if (!d) {
        dlclose(h);
        return refuse(set, path, REVIVE_E_PLUGIN_ABI, "its entry function returned no descriptor");
    }
    rv_plugin *p = calloc(1, sizeof *p);
    if (!p) {
        dlclose(h);
        return refuse(set, path, REVIVE_E_NO_MEMORY, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    int rc = check_and_copy(set, path, d, p);
    if (rc != REVIVE_OK) {
        plugin_free(p);
        dlclose(h);
        return rc;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->v[i]->desc.name, p->desc.name) == 0) {
            rc = refuse(set, path, REVIVE_E_PLUGIN,
                        "a plugin named '%s' is already loaded from %s; remove one of the two",
                        p->desc.name, set->v[i]->path);
            plugin_free(p);
            dlclose(h);
            return rc;
        }
    }
    if (p->desc.init) {
        revive_error err;
        rv_error_clear(&err);
        rc = p->desc.init(rv_host(), &p->state, &err);
        if (rc != REVIVE_OK) {
            rc = refuse(set, path, rc, "its init failed: %s [%s]",
                        err.message[0] ? err.message : revive_error_message(rc), revive_error_name(rc));
            plugin_free(p);
            dlclose(h);
            return rc;
        }
    }
    rv_plugin **nv = realloc(set->v, (set->n + 1) * sizeof *nv);
    if (!nv) {
        if (p->desc.fini)
            p->desc.fini(p->state);
        plugin_free(p);
        dlclose(h);
        return refuse(set, path, REVIVE_E_NO_MEMORY, "out of memory");
    }
    p->handle = h;
    p->path = strdup(path);
    set->v = nv;
    set->v[set->n++] = p;
    rv_debug("loaded plugin %s %s from %s", p->desc.name, p->desc.version ? p->desc.version : "", path);
    return REVIVE_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rv_plugins_load(rv_plugins *set, const char *const *dirs, size_t ndirs)
{
    for (size_t i = 0; i < ndirs; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) {
            if (errno != ENOENT)
                refuse(set, dirs[i], REVIVE_E_PERMISSION, "cannot read the plugin directory: %s", strerror(errno));
            continue;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || e->d_name[0] == '.')
                continue;
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            if (!(names[n] = strdup(e->d_name))) {
                rv_warn("out of memory listing %s; some plugins were not loaded", dirs[i]);
                break;
            }
            n++;
        }
        closedir(d);
        if (n)
            qsort(names, n, sizeof *names, by_name); /* a stable order makes duplicates predictable */
        for (size_t k = 0; k < n; k++) {
            char path[PATH_MAX];
            if (names[k] && snprintf(path, sizeof path, "%s/%s", dirs[i], names[k]) < (int)sizeof path)
                rv_plugins_load_file(set, path);
            free(names[k]);
        }
        free(names);
    }
}

void rv_plugins_unload(rv_plugins *set)
{
    for (size_t i = set->n; i-- > 0;) {
        rv_plugin *p = set->v[i];
        if (p->desc.fini)
            p->desc.fini(p->state);
        void *h = p->handle;
        plugin_free(p);
        /* Under ASan keep the code mapped so leak reports can still symbolise it. */
        if (!getenv("REVIVE_KEEP_PLUGINS_MAPPED"))
            dlclose(h);
    }
    free(set->v);
    for (size_t i = 0; i < set->nrefused; i++) {
        free(set->refused[i].path);
        free(set->refused[i].reason);
    }
    free(set->refused);
    memset(set, 0, sizeof *set);
}

void rv_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    nv[*n] = strdup(s);
    if (!nv[*n])
        return -1;
    (*n)++;
    return 0;
}

char **rv_plugin_dirs(size_t *count)
{
    char **v = NULL;
    size_t n = 0;
    const char *builtin = rv_config_get("plugins.builtin");
    if (!builtin || strcmp(builtin, "false") != 0) {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = '\0';
            char *dir = dirname(exe);
            char cand[PATH_MAX + 64];
            /* A build tree keeps plugins/ beside the binary; an install keeps them under lib. */
            snprintf(cand, sizeof cand, "%s/plugins", dir);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode))
                push(&v, &n, cand);
            else {
                snprintf(cand, sizeof cand, "%s/../%s", dir, REVIVE_PLUGIN_RELDIR);
                push(&v, &n, cand);
            }
        }
    }
    const char *env = getenv("REVIVE_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok; tok = strtok_r(NULL, ":", &save))
            if (*tok)
                push(&v, &n, tok);
        free(copy);
    }
    *count = n;
    return v;
}

const rv_plugin *rv_plugins_find(const rv_plugins *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i]->desc.name, name) == 0)
            return set->v[i];
    return NULL;
}

const revive_importer *rv_find_importer(const rv_plugins *set, const char *name, const rv_plugin **owner)
{
    for (size_t i = 0; i < set->n; i++)
        for (size_t k = 0; k < set->v[i]->nimporters; k++)
            if (!name || strcmp(set->v[i]->importers[k].name, name) == 0) {
                if (owner)
                    *owner = set->v[i];
                return &set->v[i]->importers[k];
            }
    return NULL;
}

const revive_importer *rv_probe_importer(const rv_plugins *set, const char *path, const char *run,
                                         const char *device, const rv_plugin **owner)
{
    const revive_importer *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < set->n; i++) {
        const rv_plugin *p = set->v[i];
        for (size_t k = 0; k < p->nimporters; k++) {
            if (!p->importers[k].probe)
                continue;
            revive_call call;
            rv_call_init(&call, run, device, p->desc.name);
            rv_plugin_enter(p);
            int score = p->importers[k].probe(p->state, &call, path);
            rv_plugin_leave(p);
            rv_call_free(&call);
            if (score > best_score) {
                best_score = score;
                best = &p->importers[k];
                if (owner)
                    *owner = p;
            }
        }
    }
    return best;
}

const revive_source *rv_find_source(const rv_plugins *set, const char *spec, const rv_plugin **owner)
{
    for (size_t i = 0; i < set->n; i++)
        for (size_t k = 0; k < set->v[i]->nsources; k++) {
            const revive_source *s = &set->v[i]->sources[k];
            if (s->handles && s->handles(set->v[i]->state, spec)) {
                if (owner)
                    *owner = set->v[i];
                return s;
            }
        }
    return NULL;
}

const revive_restore_method *rv_find_method(const rv_plugins *set, const char *name, const rv_plugin **owner)
{
    for (size_t i = 0; i < set->n; i++)
        for (size_t k = 0; k < set->v[i]->nmethods; k++)
            if (strcmp(set->v[i]->methods[k].name, name) == 0) {
                if (owner)
                    *owner = set->v[i];
                return &set->v[i]->methods[k];
            }
    return NULL;
}

void rv_plugin_enter(const rv_plugin *p)
{
    if (p->desc.flags & REVIVE_PLUGIN_SERIAL)
        pthread_mutex_lock((pthread_mutex_t *)&p->lock);
}

void rv_plugin_leave(const rv_plugin *p)
{
    if (p->desc.flags & REVIVE_PLUGIN_SERIAL)
        pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
}
