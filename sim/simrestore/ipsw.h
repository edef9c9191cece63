/* ipsw.h: reading an IPSW (a zip, or a directory holding an extracted one) through
 * libarchive, for sim-idevicerestore. */
#ifndef SIMRESTORE_IPSW_H
#define SIMRESTORE_IPSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipsw_entry {
    char *name;
    uint64_t size;
};

struct ipsw {
    char *path;
    bool is_dir;
    struct ipsw_entry *entries;
    size_t count;
};

/* Lists the IPSW's files. 0, or -1 with a message in err naming the problem. */
int ipsw_open(struct ipsw *z, const char *path, char *err, size_t errlen);
void ipsw_close(struct ipsw *z);
/* The entry called name (exact path inside the IPSW), or NULL. */
const struct ipsw_entry *ipsw_find(const struct ipsw *z, const char *name);
/* Reads one file (at most max bytes) into a malloc'd buffer. 0 or -1. */
int ipsw_read(const struct ipsw *z, const char *name, size_t max, char **out, size_t *len);

#endif
