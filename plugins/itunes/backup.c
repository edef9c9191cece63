/*
 * backup.c — opening a backup once it is located: the plists, which manifest, whether
 * it is encrypted, and the keys.
 *
 * An encrypted backup is unlocked here, at open, before any content file is read: the
 * keybag is parsed, the password asked for once (ib_ctx.secret), turned into a key and
 * checked by unwrapping the class keys; a wrong password stops us here. Manifest.db of
 * an encrypted backup is itself encrypted with the ManifestKey; it is decrypted into the
 * private scratch folder and read from there. A backup whose Manifest.plist says
 * "encrypted" but whose Manifest.db is plain SQLite is a forensic decrypted copy: its
 * files are plain too, and it is read without a password.
 */
#include "itunes.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_scratch(ib_ctx *c, ib_backup *b)
{
    if (b->scratch)
        return REVIVE_OK;
    const char *t = getenv("TMPDIR");
    char *tmpl = ib_join(t && *t ? t : "/tmp", "revive-itunes-XXXXXX");
    if (!tmpl || !mkdtemp(tmpl)) {
        int e = errno;
        free(tmpl);
        return ib_fail(c, REVIVE_E_IO, "os", e, "cannot create a scratch folder: %s",
                       strerror(e));
    }
    b->scratch = tmpl;
    return REVIVE_OK;
}

static bool is_sqlite(const char *path)
{
    FILE *f = fopen(path, "rb");
    char h[16] = { 0 };
    bool ok = f && fread(h, 1, 16, f) == 16 && memcmp(h, "SQLite format 3", 16) == 0;
    if (f)
        fclose(f);
    return ok;
}

static int after_unlock(ib_ctx *c, ib_backup *b);

static int unlock(ib_ctx *c, ib_backup *b)
{
    uint64_t kblen = 0;
    plist_t kbn = plist_dict_get_item(b->manifest, "BackupKeyBag");
    const char *kbd = kbn && plist_get_node_type(kbn) == PLIST_DATA
                          ? plist_get_data_ptr(kbn, &kblen) : NULL;
    if (!kbd)
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                       "%s/Manifest.plist says the backup is encrypted but holds no "
                       "BackupKeyBag", b->root);
    int rc = ib_keybag_parse(c, (const uint8_t *)kbd, (size_t)kblen, &b->kb);
    if (rc)
        return rc;
    uint8_t kb_id[32], key[32];
    unsigned idlen = 0;
    EVP_Digest(kbd, (size_t)kblen, kb_id, &idlen, EVP_sha256(), NULL);
    if (c->key_get && c->key_get(c->ud, kb_id, key)) {
        rc = ib_keybag_unlock(c, &b->kb, key);
        OPENSSL_cleanse(key, sizeof(key));
        if (!rc)
            return after_unlock(c, b);
    }
    char pw[1024];
    if (!c->secret)
        return ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                       "the backup is encrypted and no password was given");
    const char *udid = ib_pl_str(b->info, "Unique Identifier");
    char purpose[160];
    snprintf(purpose, sizeof(purpose), "backup password for %s", udid ? udid : b->root);
    rc = c->secret(c->ud, purpose, pw, sizeof(pw));
    if (rc) {
        OPENSSL_cleanse(pw, sizeof(pw));
        return rc == REVIVE_E_CANCELLED
                   ? ib_fail(c, rc, NULL, 0, "cancelled")
                   : ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                             "the backup is encrypted: give its password (REVIVE_BACKUP_PASSWORD,"
                             " --password-file, or the prompt)");
    }
    rc = ib_keybag_derive(c, &b->kb, pw, key);
    OPENSSL_cleanse(pw, sizeof(pw));
    if (!rc)
        rc = ib_keybag_unlock(c, &b->kb, key);
    if (!rc && c->key_put)
        c->key_put(c->ud, kb_id, key);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        return rc;
    return after_unlock(c, b);
}

/* With the class keys unwrapped: decrypt Manifest.db (iOS 10+) into the scratch folder. */
static int after_unlock(ib_ctx *c, ib_backup *b)
{
    int rc;
    b->unlocked = true;
    if (b->format != IB_FMT_DB)
        return REVIVE_OK;
    uint64_t mklen = 0;
    plist_t mkn = plist_dict_get_item(b->manifest, "ManifestKey");
    const char *mk = mkn && plist_get_node_type(mkn) == PLIST_DATA
                         ? plist_get_data_ptr(mkn, &mklen) : NULL;
    if (!mk || mklen != 44)
        return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                       "%s/Manifest.plist has no valid ManifestKey (44 bytes)", b->root);
    const uint8_t *m = (const uint8_t *)mk;
    uint32_t clas = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 |
                    (uint32_t)m[3] << 24;
    uint8_t dbkey[32];
    if ((rc = ib_keybag_file_key(c, &b->kb, clas, m + 4, 40, dbkey)))
        return rc;
    if ((rc = make_scratch(c, b)))
        return rc;
    char *in = ib_join(b->root, "Manifest.db");
    char *out = ib_join(b->scratch, "Manifest.db");
    rc = ib_decrypt_file(c, dbkey, in, out, 0);
    OPENSSL_cleanse(dbkey, sizeof(dbkey));
    if (rc)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s/Manifest.db does not decrypt with the ManifestKey: %s", b->root,
                     c->err.message);
    else if (!is_sqlite(out))
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s/Manifest.db decrypted to something that is not SQLite", b->root);
    free(in);
    free(b->db_path);
    b->db_path = out;
    return rc;
}

/* An iOS 5-9 backup keeps its manifest plain even when encrypted, so a forensic copy is
 * told by its files: an encrypted file is stored padded to the next AES block, a
 * decrypted one at its own size. The first file whose size is not a multiple of 16
 * decides. */
typedef struct plainprobe {
    ib_backup *b;
    int verdict; /* -1 undecided, 0 encrypted, 1 plain */
} plainprobe;

static int probe_entry(void *ud, const ib_entry *e)
{
    plainprobe *p = ud;
    if (e->flags != IB_FLAG_FILE || !e->key || e->size % 16 == 0)
        return REVIVE_OK;
    char *path = ib_content_path(p->b, e);
    struct stat st;
    if (path && stat(path, &st) == 0) {
        if ((uint64_t)st.st_size == e->size)
            p->verdict = 1;
        else if ((uint64_t)st.st_size == (e->size / 16 + 1) * 16)
            p->verdict = 0;
    }
    free(path);
    return p->verdict >= 0 ? REVIVE_E_CANCELLED : REVIVE_OK; /* stop at the first verdict */
}

static bool mbdb_looks_plain(ib_ctx *c, ib_backup *b)
{
    plainprobe p = { b, -1 };
    ib_ctx quiet;
    ib_ctx_init(&quiet); /* a damaged manifest is reported later, by the real reader */
    ib_mbdb_foreach(&quiet, b->mbdb, b->mbdb_len, "Manifest.mbdb", probe_entry, &p);
    ib_ctx_fini(&quiet);
    (void)c;
    return p.verdict == 1;
}

/* The backup in an unpacked archive: at its top, or under a single wrapping folder. */
static int locate_unpacked(ib_ctx *c, const char *dir, const char *udid, char **found)
{
    char *cur = strdup(dir);
    int rc = REVIVE_E_NOT_FOUND;
    for (int depth = 0; cur && depth < 4; depth++) {
        rc = ib_locate(c, cur, udid, found);
        if (rc != REVIVE_E_NOT_FOUND)
            break;
        DIR *d = opendir(cur);
        char *only = NULL;
        int n = 0;
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            n++;
            free(only);
            only = ib_join(cur, de->d_name);
        }
        if (d)
            closedir(d);
        struct stat st;
        if (n != 1 || !only || stat(only, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(only);
            break;
        }
        free(cur);
        cur = only;
    }
    free(cur);
    return rc;
}

static int read_optional_plist(ib_ctx *c, const char *root, const char *name, plist_t *out)
{
    char *p = ib_join(root, name);
    int rc = ib_read_plist(c, p, out);
    free(p);
    return rc == REVIVE_E_NOT_FOUND ? REVIVE_OK : rc;
}

int ib_open(ib_ctx *c, const char *path, const ib_open_opts *o, ib_backup *b)
{
    memset(b, 0, sizeof(*b));
    ib_open_opts dflt = { 0 };
    if (!o)
        o = &dflt;
    b->source = strdup(path);
    char *found = NULL;
    int rc = ib_locate(c, path, o->udid, &found);
    if (rc)
        goto fail;
    if (ib_is_archive(found)) {
        b->archive = found; /* kept: verify reads content straight from it */
        b->limits = o->limits;
        found = NULL;
        if ((rc = make_scratch(c, b)))
            goto fail;
        char *dir = ib_join(b->scratch, "unpacked");
        if (!dir || mkdir(dir, 0700) != 0) {
            free(dir);
            rc = ib_fail(c, REVIVE_E_IO, "os", errno, "cannot create scratch folder");
            goto fail;
        }
        rc = ib_archive_unpack(c, b->archive, dir, &o->limits, o->manifest_only);
        b->manifest_only = o->manifest_only;
        if (!rc) {
            /* the archive may hold the backup folder, its parent, or the files at top */
            rc = locate_unpacked(c, dir, o->udid, &found);
            if (rc && rc != REVIVE_E_INVALID) {
                rc = ib_fail(c, REVIVE_E_NOT_FOUND, "itunes", 0,
                             "%s holds no backup (no Manifest.db or Manifest.mbdb inside)",
                             path);
            }
        }
        free(dir);
        if (rc)
            goto fail;
        b->from_archive = true;
        /* found is <scratch>/unpacked[/<prefix>] */
        size_t ul = strlen(b->scratch) + strlen("/unpacked");
        const char *pre = strlen(found) > ul ? found + ul + 1 : "";
        b->archive_prefix = malloc(strlen(pre) + 2);
        if (b->archive_prefix)
            sprintf(b->archive_prefix, "%s%s", pre, *pre ? "/" : "");
    }
    b->root = found;
    found = NULL;
    if ((rc = read_optional_plist(c, b->root, "Info.plist", &b->info)) ||
        (rc = read_optional_plist(c, b->root, "Manifest.plist", &b->manifest)) ||
        (rc = read_optional_plist(c, b->root, "Status.plist", &b->status)))
        goto fail;
    char *db = ib_join(b->root, "Manifest.db");
    char *mbdb = ib_join(b->root, "Manifest.mbdb");
    struct stat st;
    if (db && stat(db, &st) == 0) {
        b->format = IB_FMT_DB;
        b->db_path = db;
        db = NULL;
    } else if (mbdb && stat(mbdb, &st) == 0) {
        b->format = IB_FMT_MBDB;
        rc = ib_read_file(c, mbdb, 2ull << 30, &b->mbdb, &b->mbdb_len);
    } else {
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s has no Manifest.db or Manifest.mbdb: the backup is incomplete",
                     b->root);
    }
    free(db);
    free(mbdb);
    if (rc)
        goto fail;
    b->encrypted = ib_pl_bool(b->manifest, "IsEncrypted", false);
    if (b->encrypted && b->format == IB_FMT_DB && is_sqlite(b->db_path))
        b->forensic = true;
    if (b->encrypted && b->format == IB_FMT_MBDB && !b->manifest_only)
        b->forensic = mbdb_looks_plain(c, b);
    if (b->encrypted && !b->forensic && (b->format == IB_FMT_DB || o->need_keys)) {
        rc = unlock(c, b);
        if (rc == REVIVE_E_PASSWORD_NEEDED && o->allow_locked) {
            b->locked = true;
            rc = REVIVE_OK;
        }
        if (rc)
            goto fail;
    }
    return REVIVE_OK;
fail:
    free(found);
    ib_close(b);
    return rc;
}

void ib_close(ib_backup *b)
{
    if (b->scratch)
        ib_rmtree(b->scratch);
    free(b->scratch);
    free(b->root);
    free(b->source);
    free(b->db_path);
    free(b->mbdb);
    free(b->work);
    free(b->archive);
    free(b->archive_prefix);
    plist_free(b->info);
    plist_free(b->manifest);
    plist_free(b->status);
    OPENSSL_cleanse(&b->kb, sizeof(b->kb));
    memset(b, 0, sizeof(*b));
}

int ib_foreach(ib_ctx *c, ib_backup *b, ib_entry_fn fn, ib_bad_fn bad, void *ud)
{
    if (b->locked)
        return ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                       "the backup is encrypted: its manifest cannot be read without the "
                       "password");
    if (b->format == IB_FMT_DB)
        return ib_db_foreach(c, b->db_path, "Manifest.db", fn, bad, ud);
    if (b->format == IB_FMT_MBDB)
        return ib_mbdb_foreach(c, b->mbdb, b->mbdb_len, "Manifest.mbdb", fn, ud);
    return ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0, "no manifest");
}

char *ib_content_path(const ib_backup *b, const ib_entry *e)
{
    if (b->manifest_only)
        return strdup("/nonexistent/(content not unpacked: opened for inspect/ls only)");
    char rel[45];
    if (b->format == IB_FMT_DB)
        snprintf(rel, sizeof(rel), "%.2s/%s", e->file_id, e->file_id);
    else
        snprintf(rel, sizeof(rel), "%s", e->file_id);
    return ib_join(b->root, rel);
}

bool ib_entry_encrypted(const ib_backup *b, const ib_entry *e)
{
    return b->encrypted && !b->forensic && e->key != NULL;
}

uint64_t ib_stored_size(const ib_backup *b, const ib_entry *e)
{
    if (!ib_entry_encrypted(b, e))
        return e->size;
    return (e->size / 16 + 1) * 16;
}

bool ib_stored_size_ok2(bool encrypted, uint64_t size, uint64_t stored)
{
    if (!encrypted)
        return stored == size;
    return stored == (size / 16 + 1) * 16 || (size % 16 == 0 && stored == size);
}

bool ib_stored_size_ok(const ib_backup *b, const ib_entry *e, uint64_t stored)
{
    return ib_stored_size_ok2(ib_entry_encrypted(b, e), e->size, stored);
}
