/*
 * cache.c — the download cache shared by every revive run of this user.
 *
 * Layout under <XDG cache>/revive/cloud:
 *   files/<key>          verified files only, <key> = sha1-<hex> | sha256-<hex>
 *   parts/<key>.part     a download in progress (or interrupted: resumable)
 *   parts/<key>.meta     its validators (meta.c)
 *   parts/<key>.lock     flock'ed exclusively by the run downloading <key>
 *   .lock                flock'ed exclusively while entries are added or evicted
 *
 * Several runs may share it: a second run that wants the same key waits on the key's lock
 * and then finds the file in files/. A run that hands a cache file to its caller holds a
 * shared flock on that file meanwhile; eviction skips files it cannot lock exclusively.
 * Least recently used order is the files' mtime, set on every use (atime is unreliable
 * on relatime/noatime mounts). Parts untouched for CLOUD_STALE_PART_DAYS (abandoned
 * downloads) are removed whenever an entry is added.
 */
#include "cloud.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int cloud_cache_open(cloud_cache *c, const char *root, uint64_t max_bytes, uint64_t margin,
                     revive_error *err)
{
    char p[1100];
    if (!root || !*root || strlen(root) >= sizeof(c->root) - 32)
        return cloud_fail(err, REVIVE_E_INVALID, "cloud", 0, "no usable cache directory");
    snprintf(c->root, sizeof(c->root), "%s", root);
    c->max_bytes = max_bytes;
    c->margin = margin;
    const char *subs[] = { "files", "parts" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, subs[i]);
        if (mkdir_p(p) != 0)
            return cloud_fail(err, errno == EACCES ? REVIVE_E_PERMISSION : REVIVE_E_IO, "os",
                              errno, "cannot create the cache directory %s: %s", p,
                              strerror(errno));
    }
    return REVIVE_OK;
}

void cloud_cache_paths(const cloud_cache *c, const char *key, char *file, char *part,
                       char *meta, char *lock, size_t cap)
{
    if (file)
        snprintf(file, cap, "%s/files/%s", c->root, key);
    if (part)
        snprintf(part, cap, "%s/parts/%s.part", c->root, key);
    if (meta)
        snprintf(meta, cap, "%s/parts/%s.meta", c->root, key);
    if (lock)
        snprintf(lock, cap, "%s/parts/%s.lock", c->root, key);
}

int cloud_cache_lock_key(const cloud_cache *c, const char *key, const cloud_io *io, int *fd,
                         revive_error *err)
{
    char path[1200];
    cloud_cache_paths(c, key, NULL, NULL, NULL, path, sizeof(path));
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot open the lock %s: %s", path,
                          strerror(errno));
    bool said = false;
    while (flock(f, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(f);
            return cloud_fail(err, REVIVE_E_IO, "os", e, "cannot lock %s: %s", path,
                              strerror(e));
        }
        if (!said) {
            cloud_log(io, REVIVE_LOG_INFO,
                      "another revive run is downloading the same file; waiting for it");
            said = true;
        }
        if (cloud_is_cancelled(io)) {
            close(f);
            return cloud_fail(err, REVIVE_E_CANCELLED, "cloud", 0,
                              "cancelled while waiting for another run's download");
        }
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
    *fd = f;
    return REVIVE_OK;
}

void cloud_cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the flock */
}

int cloud_space_check(const char *dir, uint64_t need, uint64_t margin, revive_error *err)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0)
        return cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot read free space of %s: %s",
                          dir, strerror(errno));
    uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    uint64_t want = need + margin < need ? UINT64_MAX : need + margin;
    if (avail < want)
        return cloud_fail(err, REVIVE_E_NO_SPACE_HOST, "os", ENOSPC,
                          "%s has %llu MiB free, the download needs %llu MiB plus a margin of "
                          "%llu MiB: free some space or set cloud.cache_dir elsewhere",
                          dir, (unsigned long long)(avail >> 20),
                          (unsigned long long)(need >> 20), (unsigned long long)(margin >> 20));
    return REVIVE_OK;
}

void cloud_cache_touch(const char *file)
{
    utimensat(AT_FDCWD, file, NULL, 0);
}

static int global_lock(const cloud_cache *c, revive_error *err)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/.lock", c->root);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0 || flock(f, LOCK_EX) != 0) {
        int e = errno;
        if (f >= 0)
            close(f);
        return -cloud_fail(err, REVIVE_E_IO, "os", e, "cannot lock the cache %s: %s", path,
                           strerror(e));
    }
    return f;
}

typedef struct entry {
    char name[256];
    uint64_t size;
    struct timespec used;
} entry;

static int by_use(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Caller holds the global lock. */
static int evict_locked(cloud_cache *c, const char *keep, revive_error *err)
{
    char dirp[1100], path[1400];
    snprintf(dirp, sizeof(dirp), "%s/files", c->root);
    DIR *d = opendir(dirp);
    if (!d)
        return cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot read %s: %s", dirp,
                          strerror(errno));
    entry *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(v->name))
            continue;
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dirp, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            entry *nv = realloc(v, nc * sizeof(*v));
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
        v[n].size = (uint64_t)st.st_size;
        v[n].used = st.st_mtim;
        total += v[n].size;
        n++;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof(*v), by_use);
    for (size_t i = 0; i < n && total > c->max_bytes; i++) {
        snprintf(path, sizeof(path), "%s/%s", dirp, v[i].name);
        if (keep && strcmp(path, keep) == 0)
            continue;
        int f = open(path, O_RDONLY | O_CLOEXEC);
        if (f < 0)
            continue;
        if (flock(f, LOCK_EX | LOCK_NB) == 0 && unlink(path) == 0)
            total -= v[i].size; /* in use by another run otherwise: keep it */
        close(f);
    }
    free(v);
    return REVIVE_OK;
}

/* Parts nobody has touched for CLOUD_STALE_PART_DAYS are downloads someone gave up on:
 * remove them (with their meta) unless a run holds their key's lock. Caller holds the
 * global lock. */
static void drop_stale_parts(const cloud_cache *c)
{
    char dirp[1100], path[1400], lock[1400];
    snprintf(dirp, sizeof(dirp), "%s/parts", c->root);
    DIR *d = opendir(dirp);
    if (!d)
        return;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || l > 300 || strcmp(de->d_name + l - 5, ".part") != 0)
            continue;
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dirp, de->d_name);
        if (lstat(path, &st) != 0 || now - st.st_mtime < CLOUD_STALE_PART_DAYS * 86400L)
            continue;
        snprintf(lock, sizeof(lock), "%s/%.*s.lock", dirp, (int)(l - 5), de->d_name);
        int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (f < 0)
            continue;
        if (flock(f, LOCK_EX | LOCK_NB) == 0) {
            unlink(path);
            snprintf(path, sizeof(path), "%s/%.*s.meta", dirp, (int)(l - 5), de->d_name);
            unlink(path);
        }
        close(f);
    }
    closedir(d);
}

int cloud_cache_evict(cloud_cache *c, const char *keep, revive_error *err)
{
    if (!c->max_bytes)
        return REVIVE_OK;
    int g = global_lock(c, err);
    if (g < 0)
        return -g;
    int rc = evict_locked(c, keep, err);
    close(g);
    return rc;
}

int cloud_cache_insert(cloud_cache *c, const char *key, const char *part, revive_error *err)
{
    char file[1200];
    cloud_cache_paths(c, key, file, NULL, NULL, NULL, sizeof(file));
    int g = global_lock(c, err);
    if (g < 0)
        return -g;
    int rc = REVIVE_OK;
    if (rename(part, file) != 0)
        rc = cloud_fail(err, REVIVE_E_IO, "os", errno, "cannot move %s into the cache: %s",
                        part, strerror(errno));
    else {
        cloud_cache_touch(file);
        drop_stale_parts(c);
        if (c->max_bytes)
            rc = evict_locked(c, file, err);
    }
    close(g);
    return rc;
}
