/*
 * itunes-tool — drive itunes_backup from a shell: the same code the plugin runs, for
 * tests, benchmarks and people, until `revive backup ...` calls the plugin.
 *
 *   itunes-tool inspect PATH              facts about a backup
 *   itunes-tool verify PATH [--threads N] every file present, sizes and digests
 *   itunes-tool ls PATH [--domain D] [--pattern GLOB]
 *   itunes-tool extract PATH OUT [--domain D] [--pattern GLOB]
 *   itunes-tool import PATH OUT           canonical iOS 10+ layout
 *   itunes-tool cat PATH [--domain D] [--pattern GLOB]
 *                                         plain content of the matching files, in manifest
 *                                         order, to stdout (decrypting; for benchmarks)
 *   itunes-tool generate OUT --files N --bytes B [--format db|mbdb] [--encrypted]
 *                         [--iter N] [--dpic N]   (test and benchmark backups)
 * Common: --json (JSON Lines on stdout), --udid U, --password-file F. The password is
 * otherwise taken from REVIVE_BACKUP_PASSWORD; never from the command line.
 * Exit status: 0 ok, 1 the operation failed (error name and message on stderr), 2 usage.
 */
#include "generate.h"
#include "itunes.h"

#include <fnmatch.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static bool json;
static const char *password_file;

static void print_fields(const char *type, const revive_field *f, size_t n)
{
    if (json) {
        json_t *o = json_object();
        if (type)
            json_object_set_new(o, "event", json_string(type));
        for (size_t i = 0; i < n; i++) {
            json_t *v = NULL;
            switch (f[i].type) {
            case REVIVE_VAL_BOOL: v = json_boolean(f[i].v.b); break;
            case REVIVE_VAL_INT: v = json_integer(f[i].v.i); break;
            case REVIVE_VAL_REAL: v = json_real(f[i].v.r); break;
            case REVIVE_VAL_STR: v = json_string(f[i].v.s ? f[i].v.s : ""); break;
            default: v = json_null();
            }
            json_object_set_new(o, f[i].key, v ? v : json_null());
        }
        char *s = json_dumps(o, JSON_COMPACT);
        puts(s ? s : "{}");
        free(s);
        json_decref(o);
        return;
    }
    if (type)
        printf("%s", type);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s=", type || i ? " " : "", f[i].key);
        switch (f[i].type) {
        case REVIVE_VAL_BOOL: printf("%s", f[i].v.b ? "true" : "false"); break;
        case REVIVE_VAL_INT: printf("%lld", (long long)f[i].v.i); break;
        case REVIVE_VAL_REAL: printf("%g", f[i].v.r); break;
        case REVIVE_VAL_STR: printf("%s", f[i].v.s ? f[i].v.s : ""); break;
        default: break;
        }
    }
    printf("\n");
}

static void on_event(void *ud, const char *type, const revive_field *f, size_t n)
{
    (void)ud;
    print_fields(type, f, n);
}

static void on_result(void *ud, const revive_field *f)
{
    (void)ud;
    print_fields(json ? "result" : NULL, f, 1);
}

static int on_secret(void *ud, const char *purpose, char *buf, size_t cap)
{
    (void)ud; (void)purpose;
    if (password_file) {
        FILE *f = fopen(password_file, "r");
        if (!f)
            return REVIVE_E_PASSWORD_NEEDED;
        size_t n = fread(buf, 1, cap - 1, f);
        fclose(f);
        buf[n] = 0;
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = 0;
        return REVIVE_OK;
    }
    const char *e = getenv("REVIVE_BACKUP_PASSWORD");
    if (!e)
        return REVIVE_E_PASSWORD_NEEDED;
    snprintf(buf, cap, "%s", e);
    return REVIVE_OK;
}

/* ------------------------------------------------------------- generate ------ */

typedef struct gen {
    uint64_t files, bytes;
    uint8_t *data;
    char path[64];
    uint64_t seed;
} gen;

static int gen_file(void *ud, size_t i, ib_gen_file *f)
{
    gen *g = ud;
    /* sizes vary around the mean so both small and large files are exercised */
    uint64_t mean = g->files ? g->bytes / g->files : 0;
    uint64_t size = mean ? (mean / 2) + ((i * 2654435761u) % (mean + 1)) : 0;
    for (uint64_t k = 0; k < size; k += 8) {
        g->seed = g->seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = g->seed;
        memcpy(g->data + k, &v, size - k < 8 ? size - k : 8);
    }
    snprintf(g->path, sizeof(g->path), "Library/Bench/%02zu/file%zu.bin", i % 97, i);
    f->domain = i % 3 ? "HomeDomain" : "AppDomain-com.example.bench";
    f->path = g->path;
    f->flags = IB_FLAG_FILE;
    f->data = g->data;
    f->len = (size_t)size;
    return REVIVE_OK;
}

static int cmd_generate(ib_ctx *c, int argc, char **argv)
{
    ib_gen_opts o;
    ib_gen_opts_init(&o);
    gen g = { .files = 100, .bytes = 1 << 20, .seed = 42 };
    const char *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--files") && i + 1 < argc)
            g.files = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
            g.bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--format") && i + 1 < argc)
            o.format = !strcmp(argv[++i], "mbdb") ? IB_FMT_MBDB : IB_FMT_DB;
        else if (!strcmp(argv[i], "--encrypted")) {
            o.password = getenv("REVIVE_BACKUP_PASSWORD");
            if (!o.password)
                return ib_fail(c, REVIVE_E_PASSWORD_NEEDED, "itunes", 0,
                               "--encrypted takes the password from REVIVE_BACKUP_PASSWORD");
        } else if (!strcmp(argv[i], "--iter") && i + 1 < argc)
            o.iter = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dpic") && i + 1 < argc)
            o.dpic = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!out)
            out = argv[i];
    }
    if (!out)
        return ib_fail(c, REVIVE_E_INVALID, "itunes", 0, "generate needs an output folder");
    uint64_t mean = g.files ? g.bytes / g.files : 0;
    g.data = malloc(mean * 2 + 16);
    if (!g.data)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    int rc = ib_gen_write(c, out, &o, gen_file, &g, (size_t)g.files);
    free(g.data);
    return rc;
}

/* ----------------------------------------------------------------- cat ------ */

typedef struct catst {
    ib_ctx *c;
    ib_backup *b;
    const char *domain, *pattern;
} catst;

static int cat_one(void *ud, const ib_entry *e)
{
    catst *s = ud;
    if (e->flags != IB_FLAG_FILE || (s->domain && strcmp(s->domain, e->domain)) ||
        (s->pattern && fnmatch(s->pattern, e->path, 0)))
        return REVIVE_OK;
    return ib_copy_content(s->c, s->b, e, stdout, NULL, NULL);
}

/* ---------------------------------------------------------------- main ------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: itunes-tool inspect|verify|ls|cat|extract|import|generate PATH [OUT] "
            "[--json] [--udid U] [--password-file F] [--domain D] [--pattern GLOB] "
            "[--threads N]\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    ib_ctx c;
    ib_ctx_init(&c);
    c.event = on_event;
    c.secret = on_secret;
    int rc;
    if (!strcmp(cmd, "generate")) {
        rc = cmd_generate(&c, argc - 2, argv + 2);
        goto done;
    }
    const char *pos[2] = { NULL, NULL };
    int npos = 0;
    const char *domain = NULL, *pattern = NULL;
    unsigned threads = 0;
    ib_open_opts oo;
    memset(&oo, 0, sizeof(oo));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json"))
            json = true;
        else if (!strcmp(a, "--udid") && i + 1 < argc)
            oo.udid = argv[++i];
        else if (!strcmp(a, "--password-file") && i + 1 < argc)
            password_file = argv[++i];
        else if (!strcmp(a, "--domain") && i + 1 < argc)
            domain = argv[++i];
        else if (!strcmp(a, "--pattern") && i + 1 < argc)
            pattern = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc)
            threads = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--password")) {
            fprintf(stderr, "itunes-tool: passwords are never taken on the command line (they "
                            "show in the process list); use REVIVE_BACKUP_PASSWORD or "
                            "--password-file\n");
            return 2;
        } else if (a[0] == '-' && a[1] == '-') {
            usage();
            return 2;
        } else if (npos < 2)
            pos[npos++] = a;
    }
    bool needs_out = !strcmp(cmd, "extract") || !strcmp(cmd, "import");
    bool needs_keys = needs_out || !strcmp(cmd, "cat");
    if (!pos[0] || (needs_out && !pos[1])) {
        usage();
        return 2;
    }
    oo.need_keys = needs_keys;
    oo.allow_locked = !strcmp(cmd, "inspect");
    oo.manifest_only = !strcmp(cmd, "inspect") || !strcmp(cmd, "ls") ||
                       !strcmp(cmd, "verify") || !strcmp(cmd, "extract") ||
                       !strcmp(cmd, "import");
    ib_backup b;
    rc = ib_open(&c, pos[0], &oo, &b);
    if (rc)
        goto done;
    uint64_t files = 0, bytes = 0;
    if (!strcmp(cmd, "inspect"))
        rc = ib_inspect(&c, &b, on_result, NULL);
    else if (!strcmp(cmd, "verify")) {
        rc = ib_verify(&c, &b, threads);
        revive_field f[] = { REVIVE_FIELD_INT("problems", c.problems),
                             REVIVE_FIELD_BOOL("ok", rc == REVIVE_OK) };
        on_result(NULL, &f[0]);
        on_result(NULL, &f[1]);
    } else if (!strcmp(cmd, "ls"))
        rc = ib_list(&c, &b, domain, pattern);
    else if (!strcmp(cmd, "cat")) {
        catst cs = { &c, &b, domain, pattern };
        setvbuf(stdout, NULL, _IOFBF, 1 << 20);
        rc = ib_foreach(&c, &b, cat_one, NULL, &cs);
    } else if (!strcmp(cmd, "extract") || !strcmp(cmd, "import")) {
        rc = cmd[0] == 'e' ? ib_extract_threads(&c, &b, domain, pattern, pos[1], threads, &files,
                                                &bytes)
                           : ib_import(&c, &b, pos[1], &files, &bytes);
        revive_field f[] = { REVIVE_FIELD_INT("files", (int64_t)files),
                             REVIVE_FIELD_INT("bytes", (int64_t)bytes) };
        on_result(NULL, &f[0]);
        on_result(NULL, &f[1]);
    } else {
        ib_close(&b);
        usage();
        return 2;
    }
    ib_close(&b);
done:
    fflush(stdout);
    if (rc)
        fprintf(stderr, "itunes-tool: %s: %s\n", revive_error_name(rc), c.err.message);
    ib_ctx_fini(&c);
    return rc ? 1 : 0;
}
