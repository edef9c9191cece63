/* Fuzz the BackupKeyBag TLV parser, and the unwrap of whatever class keys it accepts with
 * a fixed key (the password derivation is skipped: its cost is set by the input). */
#include "itunes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ib_ctx c;
    ib_ctx_init(&c);
    ib_keybag kb;
    if (ib_keybag_parse(&c, data, size, &kb) == REVIVE_OK) {
        static const uint8_t key[32] = { 7 };
        if (ib_keybag_unlock(&c, &kb, key) == REVIVE_OK) {
            uint8_t out[32];
            ib_keybag_file_key(&c, &kb, kb.classes[0].clas, kb.classes[0].wpky, 40, out);
        }
    }
    ib_ctx_fini(&c);
    return 0;
}
