/* generate.c — see generate.h. */
#include "generate.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ib_gen_opts_init(ib_gen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->format = IB_FMT_DB;
    o->digests = true;
    o->udid = "00008030-001A2B3C4D5E6F70";
    o->ios_version = "16.7";
}

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_be(buf *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    put(b, t, (size_t)n);
}

static void tlv(buf *b, const char *tag, const void *v, size_t n)
{
    put(b, tag, 4);
    put_be(b, n, 4);
    put(b, v, n);
}

static void tlv_int(buf *b, const char *tag, uint32_t v)
{
    put(b, tag, 4);
    put_be(b, 4, 4);
    put_be(b, v, 4);
}

int ib_gen_keybag(ib_ctx *c, const char *password, uint32_t iter, uint32_t dpic,
                  uint8_t **out, size_t *len, uint8_t class_keys[5][32])
{
    buf b = { 0 };
    uint8_t r[40], salt[20], dpsl[20];
    RAND_bytes(salt, 20);
    RAND_bytes(dpsl, 20);
    tlv_int(&b, "VERS", 3);
    tlv_int(&b, "TYPE", 1);
    RAND_bytes(r, 16);
    tlv(&b, "UUID", r, 16);
    RAND_bytes(r, 40);
    tlv(&b, "HMCK", r, 40);
    tlv_int(&b, "WRAP", 0);
    tlv(&b, "SALT", salt, 20);
    tlv_int(&b, "ITER", iter ? iter : 1);
    ib_keybag kb;
    memset(&kb, 0, sizeof(kb));
    memcpy(kb.salt, salt, 20);
    kb.salt_len = 20;
    kb.iter = iter ? iter : 1;
    if (dpic != UINT32_MAX) {
        tlv_int(&b, "DPWT", 1);
        tlv_int(&b, "DPIC", dpic ? dpic : 1);
        tlv(&b, "DPSL", dpsl, 20);
        kb.dpic = dpic ? dpic : 1;
        memcpy(kb.dpsl, dpsl, 20);
        kb.dpsl_len = 20;
    }
    uint8_t key[32];
    int rc = ib_keybag_derive(c, &kb, password, key);
    if (rc) {
        free(b.p);
        return rc;
    }
    for (uint32_t cl = 1; cl <= 4; cl++) {
        RAND_bytes(class_keys[cl], 32);
        uint8_t w[40];
        ib_aes_wrap(key, 32, class_keys[cl], 32, w);
        RAND_bytes(r, 16);
        tlv(&b, "UUID", r, 16);
        tlv_int(&b, "CLAS", cl);
        tlv_int(&b, "WRAP", 2);
        tlv_int(&b, "KTYP", 0);
        tlv(&b, "WPKY", w, 40);
    }
    *out = b.p;
    *len = b.n;
    return REVIVE_OK;
}

/* Encrypt data with a fresh key; *stored gets the ciphertext; wrapped gets class+key. */
static void encrypt_content(const uint8_t class_key[32], uint32_t clas, const uint8_t *data,
                            size_t len, uint8_t **stored, size_t *slen, uint8_t wrapped[44])
{
    static const uint8_t iv[16];
    uint8_t key[32];
    RAND_bytes(key, 32);
    wrapped[0] = (uint8_t)clas;
    wrapped[1] = wrapped[2] = wrapped[3] = 0;
    ib_aes_wrap(class_key, 32, key, 32, wrapped + 4);
    *stored = malloc(len + 32);
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, key, iv);
    EVP_EncryptUpdate(x, *stored, &l1, data, (int)len);
    EVP_EncryptFinal_ex(x, *stored + l1, &l2);
    EVP_CIPHER_CTX_free(x);
    *slen = (size_t)(l1 + l2);
}

static void sha1(const uint8_t *d, size_t n, uint8_t out[20])
{
    unsigned l = 0;
    EVP_Digest(d, n, out, &l, EVP_sha1(), NULL);
}

static void mbdb_str(buf *b, const char *s, size_t n)
{
    if (!s) {
        put_be(b, 0xFFFF, 2);
        return;
    }
    put_be(b, n, 2);
    put(b, s, n);
}

static int write_plists(ib_ctx *c, const char *dir, const ib_gen_opts *o, const uint8_t *kb,
                        size_t kblen, const uint8_t *mkey)
{
    int rc = REVIVE_OK;
    char *p;
    int32_t when = 800000000; /* 2026-05 in Mac time */
    if (!o->no_info) {
        plist_t i = plist_new_dict();
        plist_dict_set_item(i, "Unique Identifier", plist_new_string(o->udid));
        plist_dict_set_item(i, "Target Identifier", plist_new_string(o->udid));
        plist_dict_set_item(i, "Device Name", plist_new_string("Test iPhone"));
        plist_dict_set_item(i, "Display Name", plist_new_string("Test iPhone"));
        plist_dict_set_item(i, "Product Type", plist_new_string("iPhone12,1"));
        plist_dict_set_item(i, "Product Version", plist_new_string(o->ios_version));
        plist_dict_set_item(i, "Build Version", plist_new_string("20H20"));
        plist_dict_set_item(i, "Serial Number", plist_new_string("F00TESTSERIAL"));
        plist_dict_set_item(i, "Last Backup Date", plist_new_date(when, 0));
        p = ib_join(dir, "Info.plist");
        rc = ib_write_plist_xml(c, p, i);
        free(p);
        plist_free(i);
        if (rc)
            return rc;
    }
    if (!o->no_manifest_plist) {
        plist_t m = plist_new_dict();
        plist_dict_set_item(m, "IsEncrypted", plist_new_bool(o->password != NULL));
        plist_dict_set_item(m, "Version",
                            plist_new_string(o->format == IB_FMT_MBDB ? "9.1" : "10.0"));
        plist_dict_set_item(m, "Date", plist_new_date(when, 0));
        plist_dict_set_item(m, "WasPasscodeSet", plist_new_bool(0));
        plist_dict_set_item(m, "Applications", plist_new_dict());
        plist_t l = plist_new_dict();
        plist_dict_set_item(l, "UniqueDeviceID", plist_new_string(o->udid));
        plist_dict_set_item(l, "ProductVersion", plist_new_string(o->ios_version));
        plist_dict_set_item(l, "ProductType", plist_new_string("iPhone12,1"));
        plist_dict_set_item(l, "BuildVersion", plist_new_string("20H20"));
        plist_dict_set_item(m, "Lockdown", l);
        if (kb)
            plist_dict_set_item(m, "BackupKeyBag", plist_new_data((const char *)kb, kblen));
        if (mkey)
            plist_dict_set_item(m, "ManifestKey", plist_new_data((const char *)mkey, 44));
        p = ib_join(dir, "Manifest.plist");
        rc = ib_write_plist_xml(c, p, m);
        free(p);
        plist_free(m);
        if (rc)
            return rc;
    }
    if (!o->no_status) {
        plist_t s = plist_new_dict();
        plist_dict_set_item(s, "Version", plist_new_string("3.3"));
        plist_dict_set_item(s, "BackupState", plist_new_string("new"));
        plist_dict_set_item(s, "SnapshotState", plist_new_string("finished"));
        plist_dict_set_item(s, "IsFullBackup", plist_new_bool(1));
        plist_dict_set_item(s, "UUID", plist_new_string("7B1E3C5A-0000-4000-8000-000000000001"));
        plist_dict_set_item(s, "Date", plist_new_date(when, 0));
        p = ib_join(dir, "Status.plist");
        rc = ib_write_plist_xml(c, p, s);
        free(p);
        plist_free(s);
    }
    return rc;
}

int ib_gen_write(ib_ctx *c, const char *dir, const ib_gen_opts *o, ib_gen_fn fn, void *ud,
                 size_t n)
{
    int rc = ib_mkdirs(c, dir, 0755);
    if (rc)
        return rc;
    uint8_t *kb = NULL;
    size_t kblen = 0;
    uint8_t ck[5][32];
    bool enc = o->password != NULL;
    if (enc && (rc = ib_gen_keybag(c, o->password, o->iter, o->dpic, &kb, &kblen, ck)))
        return rc;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    buf mb = { 0 };
    char *dbpath = ib_join(dir, "Manifest.db");
    if (o->format == IB_FMT_DB) {
        if (sqlite3_open(dbpath, &db) != SQLITE_OK ||
            sqlite3_exec(db,
                         "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                         "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, "
                         "relativePath TEXT, flags INTEGER, file BLOB);"
                         "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB); BEGIN;",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO Files VALUES (?,?,?,?,?)", -1, &ins, NULL)) {
            rc = ib_fail(c, REVIVE_E_IO, "sqlite", 0, "cannot create %s", dbpath);
            goto out;
        }
    } else {
        put(&mb, "mbdb\x05\x00", 6);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        ib_gen_file f;
        memset(&f, 0, sizeof(f));
        if ((rc = fn(ud, i, &f)))
            break;
        ib_entry e;
        memset(&e, 0, sizeof(e));
        e.domain = f.domain;
        e.path = f.path;
        e.flags = f.flags ? f.flags : IB_FLAG_FILE;
        uint32_t type = e.flags == IB_FLAG_DIR ? S_IFDIR : e.flags == IB_FLAG_LINK ? S_IFLNK
                                                                                   : S_IFREG;
        e.mode = type | (f.mode ? f.mode & 07777 : (e.flags == IB_FLAG_DIR ? 0755 : 0644));
        e.uid = e.gid = 501;
        e.mtime = e.ctime_ = e.btime = f.mtime ? f.mtime : 1700000000;
        e.protection_class = f.protection_class ? f.protection_class : 3;
        e.target = f.target;
        ib_file_id(f.domain, f.path, e.file_id);
        uint8_t wrapped[44];
        if (e.flags == IB_FLAG_FILE) {
            e.size = f.len;
            const uint8_t *stored = f.data;
            size_t slen = f.len;
            uint8_t *cipher = NULL;
            if (enc) {
                uint32_t cl = (uint32_t)e.protection_class;
                if (cl < 1 || cl > 4)
                    cl = 3;
                encrypt_content(ck[cl], cl, f.data, f.len, &cipher, &slen, wrapped);
                e.key_class = cl;
                e.key = wrapped + 4;
                e.key_len = 40;
                if (!o->forensic)
                    stored = cipher;
                else
                    slen = f.len;
            }
            if (o->digests) {
                sha1(stored, slen, e.digest);
                e.digest_len = 20;
            }
            char rel[45];
            if (o->format == IB_FMT_DB) {
                snprintf(rel, sizeof(rel), "%.2s", e.file_id);
                char *sub = ib_join(dir, rel);
                rc = ib_mkdirs(c, sub, 0755);
                free(sub);
                snprintf(rel, sizeof(rel), "%.2s/%s", e.file_id, e.file_id);
            } else {
                snprintf(rel, sizeof(rel), "%s", e.file_id);
            }
            char *fp = ib_join(dir, rel);
            if (!rc)
                rc = ib_write_file(c, fp, stored, slen);
            free(fp);
            free(cipher);
        }
        if (rc)
            break;
        if (o->format == IB_FMT_DB) {
            uint8_t *blob;
            size_t blen;
            if ((rc = ib_mbfile_encode(c, &e, &blob, &blen)))
                break;
            sqlite3_reset(ins);
            sqlite3_bind_text(ins, 1, e.file_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 2, e.domain, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 3, e.path, -1, SQLITE_STATIC);
            sqlite3_bind_int(ins, 4, e.flags);
            sqlite3_bind_blob(ins, 5, blob, (int)blen, free);
            if (sqlite3_step(ins) != SQLITE_DONE)
                rc = ib_fail(c, REVIVE_E_IO, "sqlite", 0, "insert: %s", sqlite3_errmsg(db));
        } else {
            mbdb_str(&mb, e.domain, strlen(e.domain));
            mbdb_str(&mb, e.path, strlen(e.path));
            mbdb_str(&mb, e.target, e.target ? strlen(e.target) : 0);
            mbdb_str(&mb, e.digest_len ? (const char *)e.digest : NULL, e.digest_len);
            mbdb_str(&mb, e.key ? (const char *)wrapped : NULL, 44);
            put_be(&mb, e.mode, 2);
            put_be(&mb, i + 1, 8);
            put_be(&mb, e.uid, 4);
            put_be(&mb, e.gid, 4);
            put_be(&mb, (uint64_t)e.mtime, 4);
            put_be(&mb, (uint64_t)e.mtime, 4);
            put_be(&mb, (uint64_t)e.mtime, 4);
            put_be(&mb, e.size, 8);
            put_be(&mb, (uint64_t)e.protection_class, 1);
            put_be(&mb, 0, 1);
        }
    }
    if (rc)
        goto out;
    uint8_t mkey[44], *mkp = NULL;
    if (o->format == IB_FMT_DB) {
        sqlite3_finalize(ins);
        ins = NULL;
        sqlite3_exec(db, "COMMIT; CREATE INDEX FilesDomainIdx ON Files(domain);", NULL, NULL,
                     NULL);
        sqlite3_close(db);
        db = NULL;
        if (enc && !o->forensic) {
            uint8_t *plain, *cipher;
            size_t plen, clen;
            if ((rc = ib_read_file(c, dbpath, 1u << 30, &plain, &plen)))
                goto out;
            encrypt_content(ck[4], 4, plain, plen, &cipher, &clen, mkey);
            free(plain);
            rc = ib_write_file(c, dbpath, cipher, clen);
            free(cipher);
            mkp = mkey;
        } else if (enc) {
            RAND_bytes(mkey + 4, 40);
            mkey[0] = 4;
            mkey[1] = mkey[2] = mkey[3] = 0;
            mkp = mkey;
        }
    } else {
        char *p = ib_join(dir, "Manifest.mbdb");
        rc = ib_write_file(c, p, mb.p, mb.n);
        free(p);
    }
    if (!rc)
        rc = write_plists(c, dir, o, kb, kblen, mkp);
out:
    if (ins)
        sqlite3_finalize(ins);
    if (db)
        sqlite3_close(db);
    free(dbpath);
    free(mb.p);
    free(kb);
    return rc;
}

static int from_array(void *ud, size_t i, ib_gen_file *f)
{
    *f = ((const ib_gen_file *)ud)[i];
    return REVIVE_OK;
}

int ib_gen_write_files(ib_ctx *c, const char *dir, const ib_gen_opts *o,
                       const ib_gen_file *files, size_t n)
{
    return ib_gen_write(c, dir, o, from_array, (void *)files, n);
}
