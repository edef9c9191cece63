/* Fuzz archive listing (zip, tar, any libarchive filter): the header walk that decides
 * whether an archive is safe to unpack. The input is written to a private temp file
 * because the reader, like the importer, works from a path. */
#include "itunes.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/itunes-fuzz-archive-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    ib_ctx c;
    ib_ctx_init(&c);
    uint64_t members = 0, bytes = 0;
    ib_limits lim = { .max_total = 1u << 30, .max_ratio = 1000, .max_entries = 100000 };
    ib_archive_check(&c, path, &lim, &members, &bytes);
    ib_ctx_fini(&c);
    unlink(path);
    return 0;
}
