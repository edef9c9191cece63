/* The firmware catalog parser and selection: any bytes as an ipsw.me v4 device document. */
#include "cloud.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cloud_catalog cat;
    revive_error err;
    if (cloud_catalog_parse((const char *)data, size, &cat, &err) != REVIVE_OK)
        return 0;
    const cloud_firmware *f;
    static const char *const what[] = { "latest", "17.1", "21B80", "16.10" };
    for (size_t i = 0; i < 4; i++)
        if (cloud_catalog_select(&cat, what[i], &f, &err) == REVIVE_OK &&
            (!cloud_is_url(f->url) || (f->sha1[0] && !cloud_hex_valid(f->sha1, 40))))
            __builtin_trap(); /* the parser promised only clean entries */
    cloud_catalog_free(&cat);
    return 0;
}
