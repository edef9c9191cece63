/*
 * harness.h — what the cloud tests share: a scratch directory, the faulty loopback
 * server (faulty_server.py) as a child process, test files, and the cache invariant
 * checks every case ends with.
 */
#ifndef CLOUD_TEST_HARNESS_H
#define CLOUD_TEST_HARNESS_H

#include "cloud.h"

typedef struct server {
    int pid;
    int port;
    bool tls;
} server;

/* A fresh scratch directory (mkdtemp) with root/, cache/, out/ under it. */
const char *scratch_new(void);
void scratch_remove(const char *dir);

/* Start faulty_server.py serving <dir>/root; TLS with <dir>/server.pem if tls. */
int server_start(server *s, const char *dir, bool tls);
void server_stop(server *s);
/* Body bytes the server sent for `path` ("/a.bin"); -1 on error. */
long long server_sent(const server *s, const char *path);

/* Make certs in dir with make_certs.sh; 0 on success. */
int make_certs(const char *dir);

/* Write n pseudo-random bytes (seeded) to <dir>/root/<name>; the SHA1 hex into sha1. */
void make_file(const char *dir, const char *name, size_t n, unsigned seed, char sha1[41]);
char *url_of(const server *s, const char *fmt, ...) REVIVE_PRINTF(2, 3);

/* Test network options: quick retries, quick stall detection. */
void test_net_opts(cloud_net_opts *o);

/* Every file in the cache hashes to its key; every part is a prefix of one of the given
 * files (NULL-terminated list of paths). Fails the test otherwise. */
void assert_cache_sound(const char *cache_root, const char *const *sources);
/* Number of files in <cache_root>/files and of .part files in parts/. */
int cache_count(const char *cache_root, const char *sub, const char *suffix);
long long file_size(const char *path);

#endif
