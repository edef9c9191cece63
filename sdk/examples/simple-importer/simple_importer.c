/*
 * simple_importer — an example revive plugin: an importer for "revive folder backups".
 *
 * The format is deliberately small so the plugin shows the SDK rather than a format: a
 * folder holding a file named REVIVE-FOLDER-BACKUP whose first line is
 * "revive-folder-backup 1" and whose other lines are "<size> <relative path>", one per
 * file kept beside it. The importer recognises such a folder (probe), describes it
 * (inspect), checks every listed file is there with its size (verify), and lists entries
 * (list). It cannot produce an iTunes-layout backup (import), and says so.
 *
 * What it shows: one exported entry (REVIVE_PLUGIN), the descriptor and an importer table
 * that start with their size, answers through host->result(), problems and items through
 * host->event(), errors through host->fail(), and inputs opened read-only.
 */
#include <revive/revive.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAGIC "revive-folder-backup 1"
#define INDEX "REVIVE-FOLDER-BACKUP"

static const revive_host *host;

static int sdk_init(const revive_host *h, void **state, revive_error *err)
{
    (void)err;
    host = h;
    *state = NULL;
    return REVIVE_OK;
}

static void sdk_fini(void *state) { (void)state; }

/* Open the index of a folder backup; NULL (errno set) if it is not one. */
static FILE *open_index(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, INDEX) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[64];
    if (!fgets(line, sizeof line, f) || strncmp(line, MAGIC, strlen(MAGIC)) != 0) {
        fclose(f);
        errno = EINVAL;
        return NULL;
    }
    return f;
}

/* Read the next "<size> <path>" line; 1 on success, 0 at the end, -1 if malformed. */
static int next_entry(FILE *f, unsigned long long *size, char *path, size_t cap)
{
    char line[4200];
    if (!fgets(line, sizeof line, f))
        return 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *sp = strchr(line, ' ');
    if (!sp || sp == line || strlen(sp + 1) >= cap)
        return -1;
    *sp = '\0';
    char *end;
    *size = strtoull(line, &end, 10);
    if (*end)
        return -1;
    /* Paths stay inside the backup: no absolute paths, no "..". */
    if (sp[1] == '/' || strstr(sp + 1, ".."))
        return -1;
    memcpy(path, sp + 1, strlen(sp + 1) + 1);
    return 1;
}

static int probe(void *state, revive_call *call, const char *path)
{
    (void)state;
    (void)call;
    FILE *f = open_index(path);
    if (!f)
        return 0;
    fclose(f);
    return 100;
}

static int inspect(void *state, revive_call *call, const char *path, const revive_field *opts, size_t nopts)
{
    (void)state;
    (void)opts;
    (void)nopts;
    FILE *f = open_index(path);
    if (!f)
        return host->fail(call, REVIVE_E_UNSUPPORTED, NULL, errno,
                          "%s is not a revive folder backup (no %s starting with '%s')", path, INDEX, MAGIC);
    unsigned long long size, bytes = 0;
    long long files = 0;
    char rel[4096];
    int r;
    while ((r = next_entry(f, &size, rel, sizeof rel)) == 1) {
        files++;
        bytes += size;
    }
    fclose(f);
    if (r < 0)
        return host->fail(call, REVIVE_E_CORRUPT, NULL, 0, "%s/%s: line %lld is not '<size> <path>'",
                          path, INDEX, files + 2);
    revive_field out[] = {
        REVIVE_FIELD_STR("format", "revive-folder-backup"),
        REVIVE_FIELD_INT("files", files),
        REVIVE_FIELD_INT("bytes", (int64_t)bytes),
        REVIVE_FIELD_BOOL("encrypted", false),
    };
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        host->result(call, &out[i]);
    return REVIVE_OK;
}

static int walk(revive_call *call, const char *path, bool verify)
{
    FILE *f = open_index(path);
    if (!f)
        return host->fail(call, REVIVE_E_UNSUPPORTED, NULL, errno, "%s is not a revive folder backup", path);
    unsigned long long size;
    char rel[4096], full[8300];
    int r, problems = 0;
    while ((r = next_entry(f, &size, rel, sizeof rel)) == 1) {
        if (host->cancelled(call)) {
            fclose(f);
            return host->fail(call, REVIVE_E_CANCELLED, NULL, 0, "stopped");
        }
        if (!verify) {
            revive_field item[] = { REVIVE_FIELD_STR("path", rel), REVIVE_FIELD_INT("size", (int64_t)size) };
            host->event(call, "item", item, 2);
            continue;
        }
        snprintf(full, sizeof full, "%s/%s", path, rel);
        struct stat st;
        const char *problem = NULL;
        if (stat(full, &st) != 0)
            problem = "missing";
        else if ((unsigned long long)st.st_size != size)
            problem = "size differs";
        if (problem) {
            revive_field ev[] = { REVIVE_FIELD_STR("path", rel), REVIVE_FIELD_STR("problem", problem) };
            host->event(call, "problem", ev, 2);
            problems++;
        }
    }
    fclose(f);
    if (r < 0)
        return host->fail(call, REVIVE_E_CORRUPT, NULL, 0, "%s/%s has a malformed line", path, INDEX);
    if (problems)
        return host->fail(call, REVIVE_E_CORRUPT, NULL, 0, "%d file(s) missing or of the wrong size", problems);
    return REVIVE_OK;
}

static int verify(void *state, revive_call *call, const char *path, const revive_field *opts, size_t nopts)
{
    (void)state;
    (void)opts;
    (void)nopts;
    return walk(call, path, true);
}

static int list(void *state, revive_call *call, const char *path, const revive_field *opts, size_t nopts)
{
    (void)state;
    (void)opts;
    (void)nopts;
    return walk(call, path, false);
}

static int import(void *state, revive_call *call, const char *path, const char *out_dir,
                  const revive_field *opts, size_t nopts)
{
    (void)state;
    (void)out_dir;
    (void)opts;
    (void)nopts;
    return host->fail(call, REVIVE_E_UNSUPPORTED, NULL, 0,
                      "%s: a revive folder backup holds plain files, not a device backup; "
                      "it cannot be imported for a restore", path);
}

static const revive_importer importer = {
    .size = sizeof(revive_importer),
    .name = "simple",
    .description = "revive folder backups (the SDK's example)",
    .probe = probe,
    .inspect = inspect,
    .verify = verify,
    .import = import,
    .list = list,
    .extract = NULL, /* not offered: the core answers "unsupported" */
};

static const revive_importer *const importers[] = { &importer, NULL };

static const revive_plugin descriptor = {
    REVIVE_PLUGIN_HEADER,
    .name = "simple",
    .version = "1.0.0",
    .license = "MIT",
    .description = "Example importer built against the revive SDK",
    .flags = 0,
    .init = sdk_init,
    .fini = sdk_fini,
    .importers = importers,
};

REVIVE_PLUGIN(descriptor)
