/*
 * failalloc — an LD_PRELOAD allocator wrapper for torture runs (as curl's torture tests
 * fail each allocation in turn): with FAILALLOC_N=n the n-th call to malloc, calloc or
 * realloc (counting from 1, in every thread) returns NULL with ENOMEM; all others go to the
 * real allocator. At exit it writes "calls=C live=L failed=F" to FAILALLOC_REPORT, where
 * live counts blocks allocated and not freed: a run whose live count exceeds the baseline
 * run's (no failure) lost memory on an error path.
 *
 * dlsym itself may allocate before the real functions are known; those first requests are
 * served from a small static arena that free() recognises and ignores.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static atomic_long calls, live, failed;
static long fail_at = -1;
static char arena[65536];
static size_t arena_used;
static int resolving;

static int in_arena(const void *p)
{
    return (const char *)p >= arena && (const char *)p < arena + sizeof arena;
}

static void *arena_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (arena_used + n > sizeof arena)
        return NULL;
    void *p = arena + arena_used;
    arena_used += n;
    return p;
}

static void resolve(void)
{
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    const char *n = getenv("FAILALLOC_N");
    fail_at = n ? atol(n) : -1;
    resolving = 0;
}

/* True if this call is the one to fail. */
static int should_fail(void)
{
    long c = atomic_fetch_add(&calls, 1) + 1;
    if (c == fail_at) {
        atomic_fetch_add(&failed, 1);
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *malloc(size_t n)
{
    resolve();
    if (!real_malloc)
        return arena_alloc(n);
    if (should_fail())
        return NULL;
    void *p = real_malloc(n);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *calloc(size_t a, size_t b)
{
    resolve();
    if (!real_calloc) {
        void *p = arena_alloc(a * b);
        if (p)
            memset(p, 0, a * b);
        return p;
    }
    if (should_fail())
        return NULL;
    void *p = real_calloc(a, b);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *realloc(void *old, size_t n)
{
    resolve();
    if (in_arena(old)) {
        void *p = malloc(n);
        if (p)
            memcpy(p, old, n); /* the arena block is at least as long as what was asked of it */
        return p;
    }
    if (!real_realloc)
        return NULL;
    if (should_fail())
        return NULL;
    void *p = real_realloc(old, n);
    if (p && !old)
        atomic_fetch_add(&live, 1);
    if (!p && n == 0 && old)
        atomic_fetch_sub(&live, 1);
    return p;
}

void free(void *p)
{
    if (!p || in_arena(p))
        return;
    resolve();
    atomic_fetch_sub(&live, 1);
    real_free(p);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FAILALLOC_REPORT");
    if (!path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    char line[128];
    int len = snprintf(line, sizeof line, "calls=%ld live=%ld failed=%ld\n", atomic_load(&calls),
                       atomic_load(&live), atomic_load(&failed));
    if (write(fd, line, (size_t)len) != len) {
        /* nothing to do: the runner treats a missing report as a failure */
    }
    close(fd);
}
