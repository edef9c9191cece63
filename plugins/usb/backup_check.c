/*
 * backup_check.c — the checks a device would fail a restore on, made on the host first,
 * before anything is sent: Info.plist and Manifest.plist readable, Status.plist says the
 * snapshot "finished", and every file Manifest.db lists is present with its recorded
 * size (for an encrypted backup, the size after AES padding: 1 to 16 bytes more).
 *
 * Manifest.db is opened read-only and immutable, so SQLite writes nothing next to it:
 * the source backup stays byte-for-byte unchanged. Each Files.file blob is an
 * NSKeyedArchiver binary plist whose MBFile object carries "Size"; a blob we cannot
 * read is counted as "size unknown", never guessed. An encrypted backup of iOS 10.2 and
 * later has Manifest.db itself encrypted: then only the plists are checked here.
 */
#include "backup_check.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

static bool blob_size(const void *blob, int len, uint64_t *size)
{
    plist_t p = NULL;
    if (!blob || len <= 8)
        return false;
    plist_from_bin(blob, (uint32_t)len, &p);
    if (!p)
        return false;
    bool found = false;
    plist_t objs = plist_get_node_type(p) == PLIST_DICT ? plist_dict_get_item(p, "$objects") : NULL;
    uint32_t n = objs && plist_get_node_type(objs) == PLIST_ARRAY ? plist_array_get_size(objs) : 0;
    for (uint32_t i = 0; i < n && !found; i++) {
        plist_t o = plist_array_get_item(objs, i);
        plist_t sz = plist_get_node_type(o) == PLIST_DICT ? plist_dict_get_item(o, "Size") : NULL;
        if (sz && plist_get_node_type(sz) == PLIST_UINT) {
            plist_get_uint_val(sz, size);
            found = true;
        }
    }
    plist_free(p);
    return found;
}

static bool bool_key(plist_t d, const char *key)
{
    plist_t n = d && plist_get_node_type(d) == PLIST_DICT ? plist_dict_get_item(d, key) : NULL;
    uint8_t b = 0;
    if (n && plist_get_node_type(n) == PLIST_BOOLEAN)
        plist_get_bool_val(n, &b);
    return b != 0;
}

static __thread uint64_t walk_bytes, walk_files;

static int walk_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F && S_ISREG(sb->st_mode)) {
        walk_bytes += (uint64_t)sb->st_size;
        walk_files++;
    }
    return 0;
}

static int check_manifest_db(const usb_state *st, revive_call *call, const char *udir, bool encrypted,
                             backup_facts *f)
{
    char db[PATH_MAX], uri[PATH_MAX + 64];
    snprintf(db, sizeof db, "%s/Manifest.db", udir);
    struct stat sb;
    if (stat(db, &sb) != 0) {
        snprintf(db, sizeof db, "%s/Manifest.mbdb", udir);
        if (stat(db, &sb) == 0) {
            st->host->log(call, REVIVE_LOG_WARN,
                          "%s is an iOS 9 or older backup (Manifest.mbdb): file sizes not checked", udir);
            return REVIVE_OK;
        }
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "%s has no Manifest.db: it is not a complete iOS backup", udir);
    }
    snprintf(uri, sizeof uri, "file:%s?mode=ro&immutable=1", db);
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(uri, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        int rc = st->host->fail(call, REVIVE_E_CORRUPT, "sqlite", sqlite3_errcode(h),
                                "cannot open %s: %s", db, h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return rc;
    }
    sqlite3_stmt *q = NULL;
    int prc = sqlite3_prepare_v2(h, "SELECT fileID, file FROM Files WHERE flags = 1", -1, &q, NULL);
    if (prc == SQLITE_NOTADB && encrypted) {
        /* iOS 10.2+ encrypts Manifest.db itself with a key only the password unlocks: the
         * per-file check is left to the device, which reports missing files as 205. */
        st->host->log(call, REVIVE_LOG_INFO,
                      "%s is encrypted: file sizes are checked by the device, not here", db);
        f->manifest_encrypted = true;
        sqlite3_close(h);
        return REVIVE_OK;
    }
    if (prc != SQLITE_OK) {
        int rc = st->host->fail(call, REVIVE_E_CORRUPT, "sqlite", sqlite3_errcode(h),
                                "%s has no readable Files table: %s", db, sqlite3_errmsg(h));
        sqlite3_close(h);
        return rc;
    }
    int rc = REVIVE_OK;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q, 0);
        f->listed++;
        if (!id || strlen(id) < 3 || !mb2_path_safe(id) || strchr(id, '/')) {
            f->missing++;
            continue;
        }
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%.2s/%s", udir, id, id);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            if (f->missing++ == 0)
                usb_copy(f->first_problem, sizeof f->first_problem, path);
            continue;
        }
        uint64_t want = 0;
        if (!blob_size(sqlite3_column_blob(q, 1), sqlite3_column_bytes(q, 1), &want)) {
            f->size_unknown++;
            continue;
        }
        uint64_t have = (uint64_t)sb.st_size;
        bool ok = encrypted ? (want == 0 ? have <= 16 : (have > want && have <= want + 16) || have == want)
                            : have == want;
        if (!ok && f->wrong_size++ == 0 && f->missing == 0)
            snprintf(f->first_problem, sizeof f->first_problem, "%s is %llu bytes, Manifest.db says %llu",
                     path, (unsigned long long)have, (unsigned long long)want);
    }
    if (step != SQLITE_DONE)
        rc = st->host->fail(call, REVIVE_E_CORRUPT, "sqlite", step, "reading %s: %s", db, sqlite3_errmsg(h));
    sqlite3_finalize(q);
    sqlite3_close(h);
    return rc;
}

int backup_check(const usb_state *st, revive_call *call, const char *udir, backup_facts *f)
{
    memset(f, 0, sizeof *f);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/Info.plist", udir);
    plist_t info = mb2_read_plist(path);
    if (!info)
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "%s is missing or unreadable: not an iOS backup folder", path);
    plist_free(info);
    snprintf(path, sizeof path, "%s/Manifest.plist", udir);
    plist_t man = mb2_read_plist(path);
    if (!man)
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "%s is missing or unreadable: the backup is incomplete", path);
    f->encrypted = bool_key(man, "IsEncrypted");
    plist_free(man);

    snprintf(path, sizeof path, "%s/.revive-incomplete", udir);
    struct stat sb;
    if (stat(path, &sb) == 0)
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "%s was marked incomplete by the revive backup that wrote it (see %s); "
                              "take a new backup", udir, path);
    snprintf(path, sizeof path, "%s/Status.plist", udir);
    plist_t status = mb2_read_plist(path);
    plist_t ss = status && plist_get_node_type(status) == PLIST_DICT ? plist_dict_get_item(status, "SnapshotState") : NULL;
    bool finished = ss && plist_get_node_type(ss) == PLIST_STRING && !strcmp(plist_get_string_ptr(ss, NULL), "finished");
    plist_free(status);
    if (!finished)
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "%s does not say the backup finished (SnapshotState is not \"finished\"): "
                              "it is an interrupted backup and a device would refuse it", path);

    int rc = check_manifest_db(st, call, udir, f->encrypted, f);
    if (rc != REVIVE_OK)
        return rc;
    if (f->missing || f->wrong_size)
        return st->host->fail(call, REVIVE_E_CORRUPT, NULL, 0,
                              "the backup is damaged: %llu of %llu files missing, %llu with the wrong "
                              "size (first: %s); a device would fail this restore with error 205",
                              (unsigned long long)f->missing, (unsigned long long)f->listed,
                              (unsigned long long)f->wrong_size, f->first_problem);
    walk_bytes = walk_files = 0;
    if (nftw(udir, walk_one, 16, FTW_PHYS) != 0)
        return st->host->fail(call, REVIVE_E_IO, NULL, errno, "cannot read %s: %s", udir, strerror(errno));
    f->bytes = walk_bytes;
    f->files = walk_files;
    return REVIVE_OK;
}
