/* harness.c — see harness.h. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char scratch[256];

const char *scratch_new(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(scratch, sizeof(scratch), "%s/cloudtest.XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(scratch));
    char p[512];
    const char *subs[] = { "root", "cache", "out" };
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", scratch, subs[i]);
        assert_int_equal(mkdir(p, 0700), 0);
    }
    return scratch;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void scratch_remove(const char *dir)
{
    if (dir && *dir && !getenv("CLOUD_TEST_KEEP"))
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int server_start(server *s, const char *dir, bool tls)
{
    char script[1024], root[512], cert[512], key[512];
    const char *src = getenv("REVIVE_SOURCE_DIR");
    const char *py = getenv("REVIVE_PYTHON3");
    snprintf(script, sizeof(script), "%s/tests/cloud/faulty_server.py", src ? src : ".");
    snprintf(root, sizeof(root), "%s/root", dir);
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* never outlive the test, even when an assertion longjmps past server_stop */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *p = py && *py ? py : "python3";
        if (tls)
            execlp(p, p, script, "--root", root, "--cert", cert, "--key", key, (char *)NULL);
        else
            execlp(p, p, script, "--root", root, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    s->tls = tls;
    s->port = 0;
    char buf[64];
    size_t n = 0;
    struct pollfd pf = { fds[0], POLLIN, 0 };
    while (n < sizeof(buf) - 1 && !memchr(buf, '\n', n)) {
        if (poll(&pf, 1, 15000) <= 0)
            break;
        ssize_t r = read(fds[0], buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    close(fds[0]);
    if (sscanf(buf, "PORT %d", &s->port) != 1) {
        server_stop(s);
        return -1;
    }
    return 0;
}

void server_stop(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

char *url_of(const server *s, const char *fmt, ...)
{
    static char url[2][1024];
    static int which;
    char path[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    which ^= 1;
    snprintf(url[which], sizeof(url[which]), "%s://127.0.0.1:%d%s", s->tls ? "https" : "http",
             s->port, path);
    return url[which];
}

long long server_sent(const server *s, const char *path)
{
    cloud_net_opts o;
    test_net_opts(&o);
    char *buf = NULL;
    size_t len = 0;
    revive_error err = { 0 };
    server plain = *s;
    if (cloud_get(&o, url_of(&plain, "/_stats"), 1 << 20, NULL, &buf, &len, &err) != REVIVE_OK)
        return -1;
    char needle[300];
    snprintf(needle, sizeof(needle), "\"%s\": ", path);
    char *p = strstr(buf, needle);
    long long v = p ? strtoll(p + strlen(needle), NULL, 10) : 0;
    free(buf);
    return v;
}

int make_certs(const char *dir)
{
    char cmd[1200];
    const char *src = getenv("REVIVE_SOURCE_DIR");
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/cloud/make_certs.sh' '%s'", src ? src : ".", dir);
    return system(cmd);
}

void make_file(const char *dir, const char *name, size_t n, unsigned seed, char sha1[41])
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/root/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t x = seed * 2654435761u + 1;
    unsigned char buf[4096];
    for (size_t done = 0; done < n;) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (unsigned char)x;
        }
        size_t k = n - done < sizeof(buf) ? n - done : sizeof(buf);
        assert_int_equal(fwrite(buf, 1, k, f), k);
        done += k;
    }
    assert_int_equal(fclose(f), 0);
    if (sha1) {
        cloud_digest d;
        revive_error e;
        assert_int_equal(cloud_hash_file(path, false, &d, &e), REVIVE_OK);
        memcpy(sha1, d.sha1, 41);
    }
}

void test_net_opts(cloud_net_opts *o)
{
    cloud_net_opts_init(o, NULL, NULL);
    o->retry_base_ms = 10;
    o->retry_max_ms = 50;
    o->low_speed_limit = 1000;
    o->low_speed_time_s = 1;
    o->connect_timeout_s = 5;
}

long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Is `part` a prefix of `whole`? */
static bool is_prefix(const char *part, const char *whole)
{
    FILE *a = fopen(part, "rb"), *b = fopen(whole, "rb");
    bool ok = a && b;
    int ca, cb;
    while (ok && (ca = fgetc(a)) != EOF) {
        cb = fgetc(b);
        ok = ca == cb;
    }
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    return ok;
}

void assert_cache_sound(const char *root, const char *const *sources)
{
    char dirp[1024], path[1400];
    snprintf(dirp, sizeof(dirp), "%s/files", root);
    DIR *d = opendir(dirp);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dirp, de->d_name);
        cloud_digest dig;
        revive_error e;
        assert_int_equal(cloud_hash_file(path, true, &dig, &e), REVIVE_OK);
        char want[100];
        if (strncmp(de->d_name, "sha256-", 7) == 0)
            snprintf(want, sizeof(want), "sha256-%s", dig.sha256);
        else
            snprintf(want, sizeof(want), "sha1-%s", dig.sha1);
        if (strcmp(want, de->d_name) != 0)
            fail_msg("cache holds an unverified file: %s hashes to %s", de->d_name, want);
    }
    closedir(d);
    snprintf(dirp, sizeof(dirp), "%s/parts", root);
    d = opendir(dirp);
    assert_non_null(d);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".part") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dirp, de->d_name);
        bool ok = false;
        for (const char *const *s = sources; s && *s && !ok; s++)
            ok = is_prefix(path, *s);
        if (!ok)
            fail_msg("part %s is not a prefix of any served file (corrupt)", de->d_name);
    }
    closedir(d);
}

int cache_count(const char *root, const char *sub, const char *suffix)
{
    char dirp[1024];
    snprintf(dirp, sizeof(dirp), "%s/%s", root, sub);
    DIR *d = opendir(dirp);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (de->d_name[0] != '.' && l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}
