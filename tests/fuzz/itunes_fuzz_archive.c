/* Fuzz archive handling (zip, tar, any libarchive filter): the header walk that decides
 * whether an archive is safe, then — for archives that pass — opening the backup inside
 * (manifests only), verifying it by streaming the members, and extracting it into a
 * private folder. The input is written to a temp file because the importer, like a
 * person, works from a path. */
#include "itunes.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_secret(void *ud, const char *purpose, char *buf, size_t cap)
{
    (void)ud; (void)purpose;
    snprintf(buf, cap, "fuzz");
    return REVIVE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/itunes-fuzz-archive-XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    char *path = ib_join(dir, "in.zip");
    char *out = ib_join(dir, "out");
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
    }
    ib_ctx c;
    ib_ctx_init(&c);
    c.secret = no_secret;
    uint64_t members = 0, bytes = 0;
    ib_limits lim = { .max_total = 64u << 20, .max_ratio = 1000, .max_entries = 100000 };
    if (ib_archive_check(&c, path, &lim, &members, &bytes) == REVIVE_OK) {
        ib_backup b;
        ib_open_opts oo = { .manifest_only = true, .need_keys = true, .limits = lim };
        if (ib_open(&c, path, &oo, &b) == REVIVE_OK) {
            ib_verify(&c, &b, 1);
            uint64_t files, by;
            ib_extract_threads(&c, &b, NULL, NULL, out, 1, &files, &by);
            ib_close(&b);
        }
    }
    ib_ctx_fini(&c);
    ib_rmtree(dir);
    free(path);
    free(out);
    return 0;
}
