/* plistsafe.c: parse a plist from a hostile client without letting libplist crash.
 *
 * libplist 2.2's XML and binary readers recurse once per nesting level, so a message of
 * a few hundred kilobytes nesting 100000 arrays overflows the stack (found by feeding
 * simdevd such messages). Before handing bytes to libplist we measure the nesting:
 *  - XML: count open and close tags of array and dict (self-closing ones do not nest);
 *    anything that could hide tags (comments, CDATA) is counted as written, which can
 *    only over-estimate the depth, never under-estimate it.
 *  - binary: read the trailer and walk the object references iteratively, with a depth
 *    limit (which also catches reference cycles) and a bound on the work done (a DAG
 *    that shares children could otherwise make the walk exponential).
 * Real lockdown, usbmux and DeviceLink messages nest a handful of levels.
 */
#include <stdlib.h>
#include <string.h>

#include "simcore.h"

#define MAX_DEPTH 64
#define MAX_WALK 200000

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool xml_depth_ok(const char *buf, size_t len)
{
    int depth = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '<')
            continue;
        bool closing = buf[i + 1] == '/';
        size_t s = i + 1 + (closing ? 1 : 0), e = s;
        while (e < len && is_alpha(buf[e]))
            e++;
        size_t n = e - s;
        bool container = (n == 5 && memcmp(buf + s, "array", 5) == 0) || (n == 4 && memcmp(buf + s, "dict", 4) == 0);
        if (!container)
            continue;
        if (closing) {
            depth--;
            continue;
        }
        size_t gt = e;
        while (gt < len && buf[gt] != '>')
            gt++;
        if (gt < len && gt > e && buf[gt - 1] == '/')
            continue;   /* <array/> */
        if (++depth > MAX_DEPTH)
            return false;
    }
    return true;
}

static uint64_t be_uint(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads a container's element count (with the 0xF "count follows" form). Returns the
 * offset of the first reference, or 0 when the object does not fit. */
static size_t container_count(const unsigned char *b, size_t limit, size_t off, uint64_t *count)
{
    unsigned low = b[off] & 0x0F;
    size_t p = off + 1;
    if (low != 0x0F) {
        *count = low;
        return p;
    }
    if (p >= limit || (b[p] & 0xF0) != 0x10)
        return 0;
    size_t n = (size_t)1 << (b[p] & 0x0F);
    if (n > 8 || p + 1 + n > limit)
        return 0;
    *count = be_uint(b + p + 1, n);
    return p + 1 + n;
}

static bool bin_depth_ok(const unsigned char *b, size_t len)
{
    if (len < 8 + 32)
        return false;
    const unsigned char *t = b + len - 32;
    size_t osize = t[6], rsize = t[7];
    uint64_t nobj = be_uint(t + 8, 8), top = be_uint(t + 16, 8), table = be_uint(t + 24, 8);
    if (osize < 1 || osize > 8 || rsize < 1 || rsize > 8 || nobj == 0 || nobj > len || top >= nobj ||
        table >= len - 32 || (len - 32 - table) / osize < nobj)
        return false;
    size_t limit = len - 32;
    struct frame { uint64_t obj; int depth; };
    struct frame *stack = malloc(sizeof *stack * 4096);
    if (!stack)
        return false;
    size_t sp = 0, work = 0;
    bool ok = true;
    stack[sp++] = (struct frame){ top, 1 };
    while (sp > 0 && ok) {
        struct frame f = stack[--sp];
        if (f.depth > MAX_DEPTH || ++work > MAX_WALK) {
            ok = false;
            break;
        }
        uint64_t off = be_uint(b + table + f.obj * osize, osize);
        if (off < 8 || off >= limit) {
            ok = false;
            break;
        }
        unsigned kind = b[off] >> 4;
        if (kind != 0xA && kind != 0xC && kind != 0xD)
            continue;   /* not a container: cannot nest */
        uint64_t count;
        size_t refs = container_count(b, limit, (size_t)off, &count);
        uint64_t nrefs = kind == 0xD ? count * 2 : count;
        if (!refs || count > limit || nrefs > (limit - refs) / rsize) {
            ok = false;
            break;
        }
        for (uint64_t i = 0; i < nrefs; i++) {
            uint64_t child = be_uint(b + refs + i * rsize, rsize);
            if (child >= nobj) {
                ok = false;
                break;
            }
            if (sp == 4096) {   /* wider than any real message */
                ok = false;
                break;
            }
            stack[sp++] = (struct frame){ child, f.depth + 1 };
        }
    }
    free(stack);
    return ok;
}

int sim_plist_from_bytes(const char *buf, size_t len, plist_t *out)
{
    *out = NULL;
    if (!buf || len == 0 || len > SIM_PLIST_MAX)
        return -1;
    if (len >= 8 && memcmp(buf, "bplist00", 8) == 0) {
        if (!bin_depth_ok((const unsigned char *)buf, len))
            return -1;
        plist_from_bin(buf, (uint32_t)len, out);
    } else {
        if (!memchr(buf, '<', len) || !xml_depth_ok(buf, len))
            return -1;
        plist_from_xml(buf, (uint32_t)len, out);
    }
    return *out ? 0 : -1;
}
