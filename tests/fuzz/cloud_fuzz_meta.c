/* The part file's side record and the Content-Range header: any bytes as either. */
#include "cloud.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cloud_meta m;
    if (cloud_meta_parse((const char *)data, size, &m) == REVIVE_OK &&
        (strlen(m.etag) >= sizeof(m.etag) || strlen(m.last_modified) >= sizeof(m.last_modified)))
        __builtin_trap();
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    uint64_t a, b, t;
    if (cloud_parse_content_range(s, &a, &b, &t) && a != UINT64_MAX && (b < a || (t && b >= t)))
        __builtin_trap(); /* a range the parser accepted must be consistent */
    free(s);
    return 0;
}
