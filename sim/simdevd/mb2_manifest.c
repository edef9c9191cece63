/* mb2_manifest.c: Manifest.db, MBFile archives, Manifest.plist and Status.plist (see
 * mb2_manifest.h). The MBFile archive is built as the keyed archiver lays it out:
 * $objects[0] is "$null", $objects[1] the MBFile dict whose object-valued fields
 * (RelativePath, Digest) and $class are UIDs into $objects, and $top.root = UID 1. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "mb2_manifest.h"
#include "world.h"

#define MAC_EPOCH 978307200

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void mb2_file_id(const char *domain, const char *relpath, char out[41])
{
    unsigned char md[20];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        memset(out, '0', 40);
        out[40] = '\0';
        return;
    }
    EVP_DigestUpdate(ctx, domain, strlen(domain));
    EVP_DigestUpdate(ctx, "-", 1);
    EVP_DigestUpdate(ctx, relpath, strlen(relpath));
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

plist_t mb2_mbfile_new(const struct mb2_entry *e, uint64_t inode)
{
    plist_t objects = plist_new_array();
    plist_array_append_item(objects, plist_new_string("$null"));
    plist_t f = plist_new_dict();
    plist_array_append_item(objects, f);
    uint64_t next = 2;
    plist_dict_set_item(f, "RelativePath", plist_new_uid(next++));
    plist_array_append_item(objects, plist_new_string(e->relpath));
    if (e->has_digest) {
        plist_dict_set_item(f, "Digest", plist_new_uid(next++));
        plist_array_append_item(objects, plist_new_data((const char *)e->digest, 20));
    }
    if (e->has_key) {
        plist_dict_set_item(f, "EncryptionKey", plist_new_uid(next++));
        plist_t k = plist_new_dict();
        plist_dict_set_item(k, "NS.data", plist_new_data((const char *)e->enc_key, sizeof e->enc_key));
        plist_dict_set_item(k, "$class", plist_new_uid(next + 1));
        plist_array_append_item(objects, k);
        plist_dict_set_item(f, "$class", plist_new_uid(next++));
    } else {
        plist_dict_set_item(f, "$class", plist_new_uid(next++));
    }
    plist_t cls = plist_new_dict();
    plist_dict_set_item(cls, "$classname", plist_new_string("MBFile"));
    plist_t classes = plist_new_array();
    plist_array_append_item(classes, plist_new_string("MBFile"));
    plist_array_append_item(classes, plist_new_string("NSObject"));
    plist_dict_set_item(cls, "$classes", classes);
    plist_array_append_item(objects, cls);
    if (e->has_key) {
        plist_t dcls = plist_new_dict();
        plist_dict_set_item(dcls, "$classname", plist_new_string("NSMutableData"));
        plist_t dclasses = plist_new_array();
        plist_array_append_item(dclasses, plist_new_string("NSMutableData"));
        plist_array_append_item(dclasses, plist_new_string("NSData"));
        plist_array_append_item(dclasses, plist_new_string("NSObject"));
        plist_dict_set_item(dcls, "$classes", dclasses);
        plist_array_append_item(objects, dcls);
    }

    plist_dict_set_item(f, "Birth", plist_new_uint((uint64_t)e->mtime));
    plist_dict_set_item(f, "Flags", plist_new_uint(0));
    plist_dict_set_item(f, "GroupID", plist_new_uint(501));
    plist_dict_set_item(f, "InodeNumber", plist_new_uint(inode));
    plist_dict_set_item(f, "LastModified", plist_new_uint((uint64_t)e->mtime));
    plist_dict_set_item(f, "LastStatusChange", plist_new_uint((uint64_t)e->mtime));
    plist_dict_set_item(f, "Mode", plist_new_uint(e->mode));
    plist_dict_set_item(f, "ProtectionClass", plist_new_uint(e->flags == MB2_FLAG_FILE ? 3 : 0));
    plist_dict_set_item(f, "Size", plist_new_uint(e->flags == MB2_FLAG_FILE ? e->size : 0));
    plist_dict_set_item(f, "UserID", plist_new_uint(501));

    plist_t root = plist_new_dict();
    plist_dict_set_item(root, "$version", plist_new_uint(100000));
    plist_dict_set_item(root, "$archiver", plist_new_string("NSKeyedArchiver"));
    plist_t top = plist_new_dict();
    plist_dict_set_item(top, "root", plist_new_uid(1));
    plist_dict_set_item(root, "$top", top);
    plist_dict_set_item(root, "$objects", objects);
    return root;
}

/* The object a UID node points to, or NULL. */
static plist_t deref(plist_t objects, plist_t uid)
{
    if (!uid || plist_get_node_type(uid) != PLIST_UID)
        return NULL;
    uint64_t i = 0;
    plist_get_uid_val(uid, &i);
    if (i >= plist_array_get_size(objects))
        return NULL;
    return plist_array_get_item(objects, (uint32_t)i);
}

static int get_uint(plist_t dict, const char *key, uint64_t *v)
{
    plist_t n = plist_dict_get_item(dict, key);
    if (!n || plist_get_node_type(n) != PLIST_UINT)
        return -1;
    plist_get_uint_val(n, v);
    return 0;
}

int mb2_mbfile_parse(const void *blob, size_t len, struct mb2_entry *out, char *err, size_t errlen)
{
    if (!blob || len < 8 || len > (1u << 20) || memcmp(blob, "bplist00", 8) != 0) {
        seterr(err, errlen, "MBFile is not a binary plist");
        return -1;
    }
    plist_t root = NULL;
    if (sim_plist_from_bytes((const char *)blob, len, (sim_plist_t *)&root) != 0) /* nesting guard */
        root = NULL;
    int rc = -1;
    if (!root || plist_get_node_type(root) != PLIST_DICT) {
        seterr(err, errlen, "MBFile archive is not a dictionary");
        goto out;
    }
    plist_t objects = plist_dict_get_item(root, "$objects");
    plist_t top = plist_dict_get_item(root, "$top");
    if (!objects || plist_get_node_type(objects) != PLIST_ARRAY || !top || plist_get_node_type(top) != PLIST_DICT) {
        seterr(err, errlen, "MBFile archive lacks $objects or $top");
        goto out;
    }
    plist_t f = deref(objects, plist_dict_get_item(top, "root"));
    if (!f || plist_get_node_type(f) != PLIST_DICT) {
        seterr(err, errlen, "MBFile archive root is not an object");
        goto out;
    }
    uint64_t size = 0, mode = 0;
    if (get_uint(f, "Size", &size) != 0 || get_uint(f, "Mode", &mode) != 0) {
        seterr(err, errlen, "MBFile lacks Size or Mode");
        goto out;
    }
    out->size = size;
    out->mode = (uint32_t)mode;
    uint64_t mtime = 0;
    if (get_uint(f, "LastModified", &mtime) == 0)
        out->mtime = (int64_t)mtime;
    out->has_digest = false;
    plist_t dg = plist_dict_get_item(f, "Digest");
    if (dg) {
        plist_t data = deref(objects, dg);
        uint64_t dlen = 0;
        const char *p = (data && plist_get_node_type(data) == PLIST_DATA) ? plist_get_data_ptr(data, &dlen) : NULL;
        if (!p || dlen != 20) {
            seterr(err, errlen, "MBFile Digest is not a 20-byte SHA-1");
            goto out;
        }
        memcpy(out->digest, p, 20);
        out->has_digest = true;
    }
    out->has_key = false;
    plist_t ek = plist_dict_get_item(f, "EncryptionKey");
    if (ek) {
        plist_t obj = deref(objects, ek);
        plist_t data = (obj && plist_get_node_type(obj) == PLIST_DICT) ? plist_dict_get_item(obj, "NS.data") : obj;
        uint64_t klen = 0;
        const char *p = (data && plist_get_node_type(data) == PLIST_DATA) ? plist_get_data_ptr(data, &klen) : NULL;
        if (!p || klen != sizeof out->enc_key) {
            seterr(err, errlen, "MBFile EncryptionKey is not 44 bytes");
            goto out;
        }
        memcpy(out->enc_key, p, sizeof out->enc_key);
        out->has_key = true;
    }
    rc = 0;
out:
    plist_free(root);
    return rc;
}

static const char schema[] =
    "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);"
    "CREATE INDEX FilesDomainIdx ON Files(domain);"
    "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
    "CREATE INDEX FilesFlagsIdx ON Files(flags);"
    "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);";

int mb2_manifest_db_write(const char *path, const struct mb2_entry *entries, size_t n, char *err, size_t errlen)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        seterr(err, errlen, "path too long: %s", path);
        return -1;
    }
    unlink(tmp);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK || sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        plist_t mb = mb2_mbfile_new(&entries[i], 1000 + i);
        char *bin = NULL;
        uint32_t blen = 0;
        plist_to_bin(mb, &bin, &blen);
        plist_free(mb);
        if (!bin)
            goto out;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, entries[i].file_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, entries[i].domain, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, entries[i].relpath, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, (int)entries[i].flags);
        sqlite3_bind_blob(st, 5, bin, (int)blen, SQLITE_TRANSIENT);
        int s = sqlite3_step(st);
        free(bin);
        if (s != SQLITE_DONE)
            goto out;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        seterr(err, errlen, "cannot write Manifest.db: %s", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_finalize(st);
    if (db && sqlite3_close(db) != SQLITE_OK)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) {
        seterr(err, errlen, "cannot move Manifest.db into place: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(tmp);
    return rc;
}

void mb2_entries_free(struct mb2_entry *entries, size_t n)
{
    if (!entries)
        return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].domain);
        free(entries[i].relpath);
    }
    free(entries);
}

int mb2_manifest_db_read(const char *path, struct mb2_entry **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct mb2_entry *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        seterr(err, errlen, "cannot open Manifest.db: %s", db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(db, "SELECT fileID, domain, relativePath, flags, file FROM Files", -1, &st, NULL) != SQLITE_OK) {
        seterr(err, errlen, "Manifest.db has no usable Files table: %s", sqlite3_errmsg(db));
        goto out;
    }
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *fid = (const char *)sqlite3_column_text(st, 0);
        const char *dom = (const char *)sqlite3_column_text(st, 1);
        const char *rel = (const char *)sqlite3_column_text(st, 2);
        int flags = sqlite3_column_int(st, 3);
        const void *blob = sqlite3_column_blob(st, 4);
        int blen = sqlite3_column_bytes(st, 4);
        if (!fid || !dom || !rel || strlen(fid) != 40) {
            seterr(err, errlen, "Manifest.db row without fileID, domain or relativePath");
            goto out;
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct mb2_entry *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                goto out;
            v = nv;
            cap = nc;
        }
        struct mb2_entry *e = &v[cnt];
        memset(e, 0, sizeof *e);
        e->domain = strdup(dom);
        e->relpath = strdup(rel);
        cnt++;
        if (!e->domain || !e->relpath)
            goto out;
        memcpy(e->file_id, fid, 41);
        e->flags = (uint32_t)flags;
        if (blob && blen > 0) {
            char why[160];
            if (mb2_mbfile_parse(blob, (size_t)blen, e, why, sizeof why) != 0) {
                seterr(err, errlen, "%s (entry %s)", why, fid);
                goto out;
            }
        } else if (flags == MB2_FLAG_FILE) {
            seterr(err, errlen, "Manifest.db file %s has no MBFile", fid);
            goto out;
        }
    }
    if (s != SQLITE_DONE) {
        seterr(err, errlen, "cannot read Manifest.db: %s", sqlite3_errmsg(db));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (rc != 0) {
        mb2_entries_free(v, cnt);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

plist_t mb2_manifest_plist_new(const struct sim_device *d, bool encrypted)
{
    plist_t m = plist_new_dict();
    plist_t lockdown = plist_new_dict();
    plist_dict_set_item(lockdown, "BuildVersion", plist_new_string(d->build_version));
    plist_dict_set_item(lockdown, "DeviceName", plist_new_string(d->device_name));
    plist_dict_set_item(lockdown, "ProductType", plist_new_string(d->product_type));
    plist_dict_set_item(lockdown, "ProductVersion", plist_new_string(d->ios_version));
    plist_dict_set_item(lockdown, "SerialNumber", plist_new_string(d->serial));
    plist_dict_set_item(lockdown, "UniqueDeviceID", plist_new_string(d->udid));
    plist_dict_set_item(m, "Lockdown", lockdown);
    plist_dict_set_item(m, "Applications", plist_new_dict());
    plist_dict_set_item(m, "IsEncrypted", plist_new_bool(encrypted));
    plist_dict_set_item(m, "Version", plist_new_string("10.0"));
    plist_dict_set_item(m, "SystemDomainsVersion", plist_new_string("24.0"));
    plist_dict_set_item(m, "WasPasscodeSet", plist_new_bool(d->passcode_set));
    plist_dict_set_item(m, "Date", plist_new_date((int32_t)(time(NULL) - MAC_EPOCH), 0));
    return m;
}

void mb2_manifest_plist_set_keys(plist_t manifest, const unsigned char *keybag, size_t keybag_len,
                                 const unsigned char manifest_key[44])
{
    plist_dict_set_item(manifest, "BackupKeyBag", plist_new_data((const char *)keybag, keybag_len));
    plist_dict_set_item(manifest, "ManifestKey", plist_new_data((const char *)manifest_key, 44));
}

plist_t mb2_status_plist_new(const char *snapshot_state, bool full, const char *uuid)
{
    plist_t s = plist_new_dict();
    plist_dict_set_item(s, "BackupState", plist_new_string("new"));
    plist_dict_set_item(s, "Date", plist_new_date((int32_t)(time(NULL) - MAC_EPOCH), 0));
    plist_dict_set_item(s, "IsFullBackup", plist_new_bool(full));
    plist_dict_set_item(s, "SnapshotState", plist_new_string(snapshot_state));
    plist_dict_set_item(s, "UUID", plist_new_string(uuid));
    plist_dict_set_item(s, "Version", plist_new_string("3.3"));
    return s;
}
