/* Fuzz the MBFile (NSKeyedArchiver) decoder that reads Manifest.db's `file` column; a
 * decoded entry is encoded again to exercise the writer on odd values. */
#include "itunes.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ib_ctx c;
    ib_ctx_init(&c);
    ib_entry e;
    memset(&e, 0, sizeof(e));
    e.domain = "HomeDomain";
    plist_t hold = NULL;
    if (ib_mbfile_decode(&c, data, size, &e, &hold) == REVIVE_OK) {
        if (!e.path)
            e.path = "";
        uint8_t *out = NULL;
        size_t len = 0;
        if (ib_mbfile_encode(&c, &e, &out, &len) == REVIVE_OK)
            free(out);
    }
    plist_free(hold);
    ib_ctx_fini(&c);
    return 0;
}
