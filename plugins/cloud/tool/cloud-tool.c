/*
 * cloud-tool — cloud_core from a shell, for benchmarks and for trying a mirror by hand.
 *
 *   cloud-tool fetch [--sha1 X] [--sha256 X] [--out DIR] [--cacert FILE] [--cache DIR]
 *                    [--allow-unverified] SPEC
 *   cloud-tool list MODEL
 *
 * Config keys are read from the environment the way revive reads them (cloud.catalog_url
 * -> REVIVE_CLOUD_CATALOG_URL). Prints key=value lines; exits with the revive code.
 */
#include "../cloud.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

static bool cancelled(void *ud)
{
    return stop != 0;
}

static void logline(void *ud, int level, const char *msg)
{
    if (level <= REVIVE_LOG_INFO || getenv("CLOUD_TOOL_DEBUG"))
        fprintf(stderr, "cloud-tool: %s\n", msg);
}

static const char *env_config(void *ud, const char *key)
{
    char name[128] = "REVIVE_";
    size_t o = strlen(name);
    for (const char *p = key; *p && o + 1 < sizeof(name); p++)
        name[o++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    name[o] = 0;
    return getenv(name);
}

static uint64_t env_u64(const char *key, uint64_t def)
{
    const char *v = env_config(NULL, key);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

static int usage(void)
{
    fprintf(stderr, "usage: cloud-tool fetch [--sha1 X] [--sha256 X] [--out DIR] [--cacert F]\n"
                    "                        [--cache DIR] [--allow-unverified] SPEC\n"
                    "       cloud-tool list MODEL\n");
    return REVIVE_E_INVALID;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cloud_io io = { NULL, NULL, cancelled, logline };
    cloud_net_opts no;
    cloud_net_opts_init(&no, env_config, NULL);
    const char *base = env_config(NULL, "cloud.catalog_url");
    if (!base || !*base)
        base = CLOUD_DEFAULT_CATALOG;
    revive_error err = { sizeof(err), 0, 0, "", "" };
    int rc;

    if (strcmp(argv[1], "list") == 0) {
        cloud_catalog cat;
        rc = cloud_catalog_fetch(&no, base, argv[2], &io, &cat, &err);
        if (rc == REVIVE_OK) {
            for (size_t i = 0; i < cat.count; i++) {
                const cloud_firmware *f = &cat.fw[i];
                printf("%-8s %-10s %-8s %12llu %s %s\n", f->version, f->build,
                       f->is_signed ? "signed" : "-", (unsigned long long)f->size,
                       f->sha1[0] ? f->sha1 : "-", f->url);
            }
            cloud_catalog_free(&cat);
        }
    } else if (strcmp(argv[1], "fetch") == 0) {
        cloud_fetch_req req = { .catalog_base = base };
        const char *cache_dir = env_config(NULL, "cloud.cache_dir");
        for (int i = 2; i < argc; i++) {
            const char *a = argv[i];
            bool has = i + 1 < argc;
            if (strcmp(a, "--sha1") == 0 && has)
                req.sha1 = argv[++i];
            else if (strcmp(a, "--sha256") == 0 && has)
                req.sha256 = argv[++i];
            else if (strcmp(a, "--out") == 0 && has)
                req.out_dir = argv[++i];
            else if (strcmp(a, "--cacert") == 0 && has)
                no.cacert = argv[++i];
            else if (strcmp(a, "--cache") == 0 && has)
                cache_dir = argv[++i];
            else if (strcmp(a, "--allow-unverified") == 0)
                req.allow_unverified = true;
            else if (a[0] == '-' || req.spec)
                return usage();
            else
                req.spec = a;
        }
        if (!req.spec)
            return usage();
        char root[1024];
        if (cache_dir && *cache_dir)
            snprintf(root, sizeof(root), "%s", cache_dir);
        else {
            const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
            if (x && *x)
                snprintf(root, sizeof(root), "%s/revive/cloud", x);
            else
                snprintf(root, sizeof(root), "%s/.cache/revive/cloud", home ? home : "/tmp");
        }
        cloud_cache cache;
        rc = cloud_cache_open(&cache, root, env_u64("cloud.cache_max", 64ull << 30),
                              env_u64("cloud.space_margin", 256ull << 20), &err);
        static cloud_fetch_res res;
        if (rc == REVIVE_OK)
            rc = cloud_fetch(&no, &cache, &req, &io, &res, &err);
        if (rc == REVIVE_OK) {
            printf("path=%s\nsize=%llu\nsha1=%s\n", res.path, (unsigned long long)res.dig.size,
                   res.dig.sha1);
            if (res.dig.sha256[0])
                printf("sha256=%s\n", res.dig.sha256);
            printf("verified=%d\ncached=%d\ndownloaded=%llu\nresumed_from=%llu\nattempts=%d\n",
                   res.verified, res.from_cache, (unsigned long long)res.stats.body_bytes,
                   (unsigned long long)res.stats.resumed_from, res.stats.attempts);
        }
    } else
        return usage();
    if (rc != REVIVE_OK)
        fprintf(stderr, "cloud-tool: error %s (%s %d): %s\n", revive_error_name(rc), err.origin,
                err.origin_code, err.message);
    return rc;
}
