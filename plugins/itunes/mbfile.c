/*
 * mbfile.c — the `file` column of Manifest.db: an NSKeyedArchiver archive of one MBFile.
 *
 * The archive is a plist dict {$archiver, $version, $top {root: UID}, $objects [...]}.
 * The root object is a dict of scalars (Size, Mode, LastModified, ...) and UIDs that
 * point back into $objects for the strings and data (RelativePath, Target,
 * EncryptionKey {NS.data}, Digest). Every UID is bounds-checked against $objects and
 * every value type-checked: the blob comes from the backup and is hostile input.
 * libplist does the plist decoding (binary or XML).
 */
#include "itunes.h"

#include <stdlib.h>
#include <string.h>

/* Follow a UID into $objects (once; archives do not chain UIDs for these fields). */
static plist_t deref(plist_t objects, plist_t n)
{
    if (!n)
        return NULL;
    if (plist_get_node_type(n) == PLIST_UID) {
        uint64_t uid = 0;
        plist_get_uid_val(n, &uid);
        if (uid == 0 || uid >= plist_array_get_size(objects))
            return NULL; /* 0 is $null */
        n = plist_array_get_item(objects, (uint32_t)uid);
    }
    return n;
}

static bool get_uint(plist_t root, const char *key, uint64_t *out)
{
    plist_t n = plist_dict_get_item(root, key);
    if (!n)
        return false;
    if (plist_get_node_type(n) == PLIST_UINT) {
        plist_get_uint_val(n, out);
        return true;
    }
    if (plist_get_node_type(n) == PLIST_REAL) {
        double d = 0;
        plist_get_real_val(n, &d);
        *out = d < 0 ? 0 : (uint64_t)d;
        return true;
    }
    return false;
}

/* NSData may be archived either as a plain data node or as {NS.data: <data>}. */
static const char *get_data(plist_t objects, plist_t root, const char *key, uint64_t *len)
{
    plist_t n = deref(objects, plist_dict_get_item(root, key));
    if (n && plist_get_node_type(n) == PLIST_DICT)
        n = plist_dict_get_item(n, "NS.data");
    if (!n || plist_get_node_type(n) != PLIST_DATA)
        return NULL;
    return plist_get_data_ptr(n, len);
}

static const char *get_string(plist_t objects, plist_t root, const char *key)
{
    plist_t n = deref(objects, plist_dict_get_item(root, key));
    if (n && plist_get_node_type(n) == PLIST_DICT) /* NSString archived as {NS.string} */
        n = plist_dict_get_item(n, "NS.string");
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    return plist_get_string_ptr(n, NULL);
}

int ib_mbfile_decode(ib_ctx *c, const uint8_t *blob, size_t len, ib_entry *e, plist_t *hold)
{
    *hold = NULL;
    if (!blob || len < 8 || len > (16u << 20))
        return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0, "MBFile blob of %zu bytes", len);
    plist_t p = NULL;
    plist_from_memory((const char *)blob, (uint32_t)len, &p);
    if (!p || plist_get_node_type(p) != PLIST_DICT) {
        plist_free(p);
        return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0, "MBFile blob is not a property list");
    }
    plist_t objects = plist_dict_get_item(p, "$objects");
    plist_t top = plist_dict_get_item(p, "$top");
    plist_t root = NULL;
    if (objects && plist_get_node_type(objects) == PLIST_ARRAY && top &&
        plist_get_node_type(top) == PLIST_DICT)
        root = deref(objects, plist_dict_get_item(top, "root"));
    if (!root || plist_get_node_type(root) != PLIST_DICT) {
        plist_free(p);
        return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0,
                       "MBFile blob is not an NSKeyedArchiver archive with a root object");
    }
    uint64_t v = 0;
    if (!get_uint(root, "Mode", &v) || v > 0xFFFF) {
        plist_free(p);
        return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0, "MBFile has no valid Mode");
    }
    e->mode = (uint32_t)v;
    e->size = get_uint(root, "Size", &v) ? v : 0;
    if (e->size > (1ull << 50)) {
        plist_free(p);
        return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0, "MBFile Size %llu is absurd",
                       (unsigned long long)e->size);
    }
    e->uid = get_uint(root, "UserID", &v) ? (uint32_t)v : 501;
    e->gid = get_uint(root, "GroupID", &v) ? (uint32_t)v : 501;
    e->mtime = get_uint(root, "LastModified", &v) ? (int64_t)v : 0;
    e->ctime_ = get_uint(root, "LastStatusChange", &v) ? (int64_t)v : e->mtime;
    e->btime = get_uint(root, "Birth", &v) ? (int64_t)v : e->mtime;
    e->protection_class = get_uint(root, "ProtectionClass", &v) ? (int)(v & 0xFF) : 0;
    uint64_t klen = 0;
    const char *key = get_data(objects, root, "EncryptionKey", &klen);
    e->key = NULL;
    e->key_len = 0;
    e->key_class = 0;
    if (key) {
        if (klen != 44) {
            plist_free(p);
            return ib_fail(c, REVIVE_E_CORRUPT, "plist", 0,
                           "MBFile EncryptionKey is %llu bytes, expected 44",
                           (unsigned long long)klen);
        }
        const uint8_t *k = (const uint8_t *)key;
        e->key_class = (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 |
                       (uint32_t)k[3] << 24;
        e->key = k + 4;
        e->key_len = 40;
    }
    uint64_t dlen = 0;
    const char *dig = get_data(objects, root, "Digest", &dlen);
    e->digest_len = 0;
    if (dig && (dlen == 20 || dlen == 32)) {
        memcpy(e->digest, dig, dlen);
        e->digest_len = dlen;
    }
    e->target = get_string(objects, root, "Target");
    const char *rp = get_string(objects, root, "RelativePath");
    if (rp && !e->path)
        e->path = rp;
    *hold = p;
    return REVIVE_OK;
}

static plist_t uid(uint64_t v)
{
    return plist_new_uid(v);
}

static plist_t class_dict(const char *name, const char *const *classes, size_t n)
{
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "$classname", plist_new_string(name));
    plist_t a = plist_new_array();
    for (size_t i = 0; i < n; i++)
        plist_array_append_item(a, plist_new_string(classes[i]));
    plist_dict_set_item(d, "$classes", a);
    return d;
}

int ib_mbfile_encode(ib_ctx *c, const ib_entry *e, uint8_t **out, size_t *len)
{
    plist_t objs = plist_new_array();
    plist_array_append_item(objs, plist_new_string("$null"));
    plist_t root = plist_new_dict();
    plist_array_append_item(objs, root); /* index 1 */
    uint64_t next = 2;
    plist_dict_set_item(root, "Size", plist_new_uint(e->size));
    plist_dict_set_item(root, "Mode", plist_new_uint(e->mode));
    plist_dict_set_item(root, "UserID", plist_new_uint(e->uid));
    plist_dict_set_item(root, "GroupID", plist_new_uint(e->gid));
    plist_dict_set_item(root, "LastModified", plist_new_uint((uint64_t)e->mtime));
    plist_dict_set_item(root, "LastStatusChange", plist_new_uint((uint64_t)e->ctime_));
    plist_dict_set_item(root, "Birth", plist_new_uint((uint64_t)e->btime));
    plist_dict_set_item(root, "ProtectionClass", plist_new_uint((uint64_t)e->protection_class));
    plist_dict_set_item(root, "Flags", plist_new_uint(0));
    plist_dict_set_item(root, "InodeNumber", plist_new_uint(0));
    plist_dict_set_item(root, "RelativePath", uid(next++));
    plist_array_append_item(objs, plist_new_string(e->path ? e->path : ""));
    if (e->target) {
        plist_dict_set_item(root, "Target", uid(next++));
        plist_array_append_item(objs, plist_new_string(e->target));
    }
    uint64_t data_class = 0;
    if (e->key && e->key_len == 40) {
        uint8_t k[44];
        k[0] = (uint8_t)e->key_class;
        k[1] = (uint8_t)(e->key_class >> 8);
        k[2] = (uint8_t)(e->key_class >> 16);
        k[3] = (uint8_t)(e->key_class >> 24);
        memcpy(k + 4, e->key, 40);
        plist_dict_set_item(root, "EncryptionKey", uid(next++));
        plist_t kd = plist_new_dict();
        plist_dict_set_item(kd, "NS.data", plist_new_data((const char *)k, 44));
        plist_array_append_item(objs, kd);
        data_class = next++;
        static const char *const dc[] = { "NSMutableData", "NSData", "NSObject" };
        plist_array_append_item(objs, class_dict("NSMutableData", dc, 3));
        plist_dict_set_item(kd, "$class", uid(data_class));
    }
    if (e->digest_len) {
        plist_dict_set_item(root, "Digest", uid(next++));
        plist_array_append_item(objs, plist_new_data((const char *)e->digest, e->digest_len));
    }
    static const char *const mc[] = { "MBFile", "NSObject" };
    plist_dict_set_item(root, "$class", uid(next++));
    plist_array_append_item(objs, class_dict("MBFile", mc, 2));

    plist_t a = plist_new_dict();
    plist_dict_set_item(a, "$version", plist_new_uint(100000));
    plist_dict_set_item(a, "$archiver", plist_new_string("NSKeyedArchiver"));
    plist_t top = plist_new_dict();
    plist_dict_set_item(top, "root", uid(1));
    plist_dict_set_item(a, "$top", top);
    plist_dict_set_item(a, "$objects", objs);
    char *bin = NULL;
    uint32_t blen = 0;
    plist_to_bin(a, &bin, &blen);
    plist_free(a);
    if (!bin)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "plist", 0, "cannot encode MBFile");
    *out = malloc(blen);
    if (!*out) {
        plist_to_bin_free(bin);
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    }
    memcpy(*out, bin, blen);
    *len = blen;
    plist_to_bin_free(bin);
    return REVIVE_OK;
}
