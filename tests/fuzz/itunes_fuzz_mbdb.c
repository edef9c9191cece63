/* Fuzz the iOS 5-9 Manifest.mbdb reader: any bytes must give records or CORRUPT, never a
 * read past the buffer. */
#include "itunes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_entry(void *ud, const ib_entry *e)
{
    size_t *n = ud;
    *n += strlen(e->domain) + strlen(e->path) + (e->target ? strlen(e->target) : 0);
    return REVIVE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ib_ctx c;
    ib_ctx_init(&c);
    size_t n = 0;
    ib_mbdb_foreach(&c, data, size, "fuzz", on_entry, &n);
    ib_ctx_fini(&c);
    return 0;
}
