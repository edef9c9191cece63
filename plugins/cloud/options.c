/* options.c — network options: defaults and the documented config keys (docs/cloud.md). */
#include "cloud.h"

#include <errno.h>
#include <stdlib.h>

static long get_long(const char *(*get)(void *, const char *), void *ud, const char *key,
                     long def, long min, long max)
{
    const char *v = get ? get(ud, key) : NULL;
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < min || x > max)
        return def; /* a bad value must not disable a safety limit; keep the default */
    return x;
}

void cloud_net_opts_init(cloud_net_opts *o, const char *(*get)(void *ud, const char *key),
                         void *ud)
{
    const char *ca = get ? get(ud, "cloud.cacert") : NULL;
    o->cacert = ca && *ca ? ca : NULL;
    o->connect_timeout_s = get_long(get, ud, "cloud.connect_timeout", 30, 1, 3600);
    o->low_speed_limit = get_long(get, ud, "cloud.low_speed_limit", 1024, 1, 1L << 30);
    o->low_speed_time_s = get_long(get, ud, "cloud.low_speed_time", 60, 1, 3600);
    o->max_attempts = (int)get_long(get, ud, "cloud.retries", 5, 0, 100) + 1;
    o->retry_base_ms = get_long(get, ud, "cloud.retry_base_ms", 1000, 0, 600000);
    o->retry_max_ms = get_long(get, ud, "cloud.retry_max_ms", 60000, 0, 3600000);
    o->max_redirects = get_long(get, ud, "cloud.max_redirects", 10, 0, 100);
}
