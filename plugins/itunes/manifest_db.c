/*
 * manifest_db.c — Manifest.db (iOS 10+), read row by row.
 *
 * Files(fileID TEXT, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB) holds one
 * row per file, folder and symlink; `file` is an MBFile archive (mbfile.c). The database
 * is opened read-only and immutable through a URI, so SQLite never creates a -wal or
 * -shm file beside a backup we were told not to touch, and rows are stepped one at a
 * time so a manifest of millions of rows costs the memory of one row.
 */
#include "itunes.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static char *file_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(n * 3 + 32);
    if (!u)
        return NULL;
    char *o = u;
    o += sprintf(o, "file:");
    for (const char *s = path; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '%' || ch == '?' || ch == '#' || ch < 0x20 || ch >= 0x7f)
            o += sprintf(o, "%%%02X", ch);
        else
            *o++ = (char)ch;
    }
    strcpy(o, "?mode=ro&immutable=1");
    return u;
}

int ib_db_foreach(ib_ctx *c, const char *db_path, const char *label, ib_entry_fn fn,
                  ib_bad_fn bad, void *ud)
{
    char *uri = file_uri(db_path);
    if (!uri)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    sqlite3 *db = NULL;
    int src = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri);
    if (src != SQLITE_OK) {
        int rc = ib_fail(c, REVIVE_E_CORRUPT, "sqlite", src, "%s cannot be opened: %s", label,
                         db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    src = sqlite3_prepare_v2(db,
                             "SELECT fileID, domain, relativePath, flags, file FROM Files "
                             "ORDER BY fileID", -1, &st, NULL);
    if (src != SQLITE_OK) {
        int rc = ib_fail(c, REVIVE_E_CORRUPT, "sqlite", src,
                         "%s is not a backup manifest database (%s); it is truncated, "
                         "damaged, or still encrypted", label, sqlite3_errmsg(db));
        sqlite3_close(db);
        return rc;
    }
    int rc = REVIVE_OK;
    uint64_t n = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if ((++n & 4095) == 0 && ib_cancelled(c)) {
            rc = ib_fail(c, REVIVE_E_CANCELLED, NULL, 0, "cancelled");
            break;
        }
        const char *fid = (const char *)sqlite3_column_text(st, 0);
        const char *domain = (const char *)sqlite3_column_text(st, 1);
        const char *rel = (const char *)sqlite3_column_text(st, 2);
        int flags = sqlite3_column_int(st, 3);
        const uint8_t *blob = sqlite3_column_blob(st, 4);
        int blen = sqlite3_column_bytes(st, 4);
        const char *what = NULL;
        char idbuf[41] = "(none)";
        if (fid)
            snprintf(idbuf, sizeof(idbuf), "%s", fid);
        if (!fid || !ib_is_file_id(fid))
            what = "fileID is not 40 lowercase hex digits";
        else if (!domain || !*domain)
            what = "domain is empty";
        else if (flags != IB_FLAG_FILE && flags != IB_FLAG_DIR && flags != IB_FLAG_LINK)
            what = "flags is not 1 (file), 2 (folder) or 4 (symlink)";
        ib_entry e;
        memset(&e, 0, sizeof(e));
        plist_t hold = NULL;
        if (!what) {
            e.domain = domain;
            e.path = rel ? rel : "";
            e.flags = flags;
            memcpy(e.file_id, fid, 41);
            if (ib_mbfile_decode(c, blob, blen > 0 ? (size_t)blen : 0, &e, &hold) != REVIVE_OK)
                what = c->err.message[0] ? c->err.message : "file column does not decode";
        }
        if (what) {
            if (!bad) {
                rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0, "%s: row %s: %s", label, idbuf,
                             what);
                break;
            }
            char w[600];
            snprintf(w, sizeof(w), "%s", what);
            rc = bad(ud, idbuf, w);
            if (rc)
                break;
            continue;
        }
        rc = fn(ud, &e);
        plist_free(hold);
        if (rc)
            break;
    }
    if (!rc && src != SQLITE_DONE)
        rc = ib_fail(c, REVIVE_E_CORRUPT, "sqlite", src, "%s: reading rows failed after %llu: %s",
                     label, (unsigned long long)n, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
