/* ipsw.c: an IPSW's file list and contents, zip or directory (see ipsw.h). Names from
 * the archive are hostile input: a directory IPSW is only ever read at names the caller
 * asks for, and those are refused when they climb out of it. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ipsw.h"

static int add_entry(struct ipsw *z, const char *name, uint64_t size)
{
    struct ipsw_entry *n = realloc(z->entries, (z->count + 1) * sizeof *n);
    if (!n)
        return -1;
    z->entries = n;
    if (!(n[z->count].name = strdup(name)))
        return -1;
    n[z->count].size = size;
    z->count++;
    return 0;
}

/* Walks a directory IPSW, recording paths relative to its root. */
static int walk(struct ipsw *z, const char *root, const char *rel, int depth)
{
    if (depth > 16)
        return 0;
    char dir[8192];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *dp = opendir(dir);
    if (!dp)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096], full[8192];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(z, root, sub, depth + 1);
        else if (S_ISREG(st.st_mode))
            rc = add_entry(z, sub, (uint64_t)st.st_size);
    }
    closedir(dp);
    return rc;
}

static struct archive *open_zip(const char *path)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, path, 64 * 1024) != ARCHIVE_OK) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

int ipsw_open(struct ipsw *z, const char *path, char *err, size_t errlen)
{
    memset(z, 0, sizeof *z);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!(z->path = strdup(path)))
        return -1;
    if (S_ISDIR(st.st_mode)) {
        z->is_dir = true;
        if (walk(z, path, "", 0) != 0) {
            snprintf(err, errlen, "%s: cannot list the directory", path);
            ipsw_close(z);
            return -1;
        }
        return 0;
    }
    struct archive *a = open_zip(path);
    if (!a) {
        snprintf(err, errlen, "%s is not a zip archive (an IPSW is one)", path);
        ipsw_close(z);
        return -1;
    }
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (name && archive_entry_filetype(e) == AE_IFREG && add_entry(z, name, (uint64_t)archive_entry_size(e)) != 0) {
            r = ARCHIVE_FATAL;
            break;
        }
        archive_read_data_skip(a);
    }
    if (r != ARCHIVE_EOF) {
        snprintf(err, errlen, "%s: damaged zip archive (%s)", path, archive_error_string(a) ? archive_error_string(a) : "read error");
        archive_read_free(a);
        ipsw_close(z);
        return -1;
    }
    archive_read_free(a);
    return 0;
}

void ipsw_close(struct ipsw *z)
{
    for (size_t i = 0; i < z->count; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z->path);
    memset(z, 0, sizeof *z);
}

const struct ipsw_entry *ipsw_find(const struct ipsw *z, const char *name)
{
    for (size_t i = 0; name && i < z->count; i++)
        if (strcmp(z->entries[i].name, name) == 0)
            return &z->entries[i];
    return NULL;
}

int ipsw_read(const struct ipsw *z, const char *name, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const struct ipsw_entry *ent = ipsw_find(z, name);
    if (!ent || ent->size > max)
        return -1;
    char *buf = malloc((size_t)ent->size + 1);
    if (!buf)
        return -1;
    size_t got = 0;
    int rc = -1;
    if (z->is_dir) {
        if (strstr(name, "..")) {
            free(buf);
            return -1;
        }
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", z->path, name);
        FILE *f = fopen(full, "rb");
        if (f) {
            got = fread(buf, 1, (size_t)ent->size, f);
            rc = got == ent->size ? 0 : -1;
            fclose(f);
        }
    } else {
        struct archive *a = open_zip(z->path);
        struct archive_entry *e;
        while (a && archive_read_next_header(a, &e) == ARCHIVE_OK) {
            const char *n = archive_entry_pathname(e);
            if (!n || strcmp(n, name) != 0) {
                archive_read_data_skip(a);
                continue;
            }
            la_ssize_t r;
            while (got < ent->size && (r = archive_read_data(a, buf + got, (size_t)ent->size - got)) > 0)
                got += (size_t)r;
            rc = got == ent->size ? 0 : -1;
            break;
        }
        if (a)
            archive_read_free(a);
    }
    if (rc != 0) {
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}
