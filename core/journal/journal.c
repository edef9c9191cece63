/* Writing and reading run journals; the format and its guarantees are in journal.h. */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RVJ_MAX_FILE (256L * 1024 * 1024)

struct rv_journal {
    int fd;
    size_t seq;
    char prev[65];
    char id[RV_RUN_ID_MAX];
    char path[PATH_MAX];
};

static int jfail(revive_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int jfail(revive_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    memset(err, 0, sizeof *err);
    err->size = sizeof *err;
    err->code = code;
    snprintf(err->origin, sizeof err->origin, "journal");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

static int errno_code(int e)
{
    switch (e) {
    case ENOSPC: return REVIVE_E_NO_SPACE_HOST;
    case EACCES: case EPERM: case EROFS: return REVIVE_E_PERMISSION;
    case ENOENT: return REVIVE_E_NOT_FOUND;
    default: return REVIVE_E_IO;
    }
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

bool rv_journal_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= RV_RUN_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool rv_journal_path(const char *state_dir, const char *run_id, char *buf, size_t cap)
{
    if (!rv_journal_id_ok(run_id))
        return false;
    int n = snprintf(buf, cap, "%s/runs/%s/journal.jsonl", state_dir, run_id);
    return n > 0 && (size_t)n < cap;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir that is fine with an existing directory; fsyncs the parent when it made one. */
static int make_dir(const char *dir, const char *parent, revive_error *err)
{
    if (mkdir(dir, 0700) == 0) {
        if (fsync_dir(parent) != 0)
            return jfail(err, errno_code(errno), "cannot sync %s: %s", parent, strerror(errno));
        return REVIVE_OK;
    }
    if (errno == EEXIST)
        return REVIVE_OK;
    return jfail(err, errno_code(errno), "cannot create %s: %s", dir, strerror(errno));
}

static int lock_fd(int fd, const char *path, revive_error *err)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return REVIVE_OK;
    if (errno == EWOULDBLOCK)
        return jfail(err, REVIVE_E_BUSY, "%s is in use by another revive process", path);
    return jfail(err, REVIVE_E_IO, "cannot lock %s: %s", path, strerror(errno));
}

int rv_journal_create(const char *state_dir, const char *run_id, rv_journal **out,
                      revive_error *err)
{
    *out = NULL;
    char id[RV_RUN_ID_MAX];
    if (run_id) {
        if (!rv_journal_id_ok(run_id))
            return jfail(err, REVIVE_E_INVALID, "run id '%s': use letters, digits, '_' and '-' "
                         "(at most %d)", run_id, RV_RUN_ID_MAX - 1);
        snprintf(id, sizeof id, "%s", run_id);
    } else {
        unsigned char rnd[4];
        if (RAND_bytes(rnd, sizeof rnd) != 1)
            return jfail(err, REVIVE_E_UNKNOWN, "no random bytes for a run id");
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char stamp[20];
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(id, sizeof id, "%s-%02x%02x%02x%02x", stamp, rnd[0], rnd[1], rnd[2], rnd[3]);
    }
    char runs[PATH_MAX], dir[PATH_MAX];
    if (snprintf(runs, sizeof runs, "%s/runs", state_dir) >= (int)sizeof runs ||
        snprintf(dir, sizeof dir, "%s/%s", runs, id) >= (int)sizeof dir)
        return jfail(err, REVIVE_E_INVALID, "state directory path too long: %s", state_dir);
    int rc;
    if ((rc = make_dir(state_dir, ".", err)) || (rc = make_dir(runs, state_dir, err)))
        return rc;
    if (mkdir(dir, 0700) != 0)
        return jfail(err, errno == EEXIST ? REVIVE_E_BUSY : errno_code(errno),
                     "cannot create run directory %s: %s", dir, strerror(errno));
    rv_journal *j = calloc(1, sizeof *j);
    if (!j)
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory for a journal");
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->path, sizeof j->path, "%s/journal.jsonl", dir);
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        rc = jfail(err, errno_code(errno), "cannot create %s: %s", j->path, strerror(errno));
        free(j);
        return rc;
    }
    if ((rc = lock_fd(j->fd, j->path, err)) != REVIVE_OK) {
        rv_journal_close(j);
        return rc;
    }
    if (fsync(j->fd) != 0 || fsync_dir(dir) != 0 || fsync_dir(runs) != 0) {
        rc = jfail(err, errno_code(errno), "cannot sync %s: %s", j->path, strerror(errno));
        rv_journal_close(j);
        return rc;
    }
    *out = j;
    return REVIVE_OK;
}

static int read_all(const char *path, char **buf, size_t *len, revive_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return jfail(err, errno_code(errno), "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > RVJ_MAX_FILE) {
        close(fd);
        return jfail(err, REVIVE_E_LIMIT, "%s is larger than %ld bytes", path, RVJ_MAX_FILE);
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) {
        close(fd);
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory to read %s", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    b[got] = '\0';
    *buf = b;
    *len = got;
    return REVIVE_OK;
}

/* Verify buf as a journal; *good_len is the length of its complete, verified lines. */
static int parse(const char *path, const char *buf, size_t len, json_t **records,
                 size_t *good_len, char prev[65], bool *torn, revive_error *err)
{
    json_t *arr = json_array();
    if (!arr)
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory");
    prev[0] = '\0';
    size_t pos = 0, line = 0;
    if (torn)
        *torn = false;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) { /* a write cut off by a crash */
            if (torn)
                *torn = true;
            break;
        }
        size_t n = (size_t)(nl - (buf + pos));
        line++;
        json_error_t jerr;
        json_t *rec = json_loadb(buf + pos, n, JSON_REJECT_DUPLICATES, &jerr);
        const char *why = NULL;
        json_t *seq = rec ? json_object_get(rec, "seq") : NULL;
        json_t *jprev = rec ? json_object_get(rec, "prev") : NULL;
        if (!rec || !json_is_object(rec))
            why = "is not a JSON object";
        else if (!json_is_integer(seq) || json_integer_value(seq) != (json_int_t)line)
            why = "has the wrong sequence number (a record was removed or moved)";
        else if (!json_is_string(json_object_get(rec, "type")))
            why = "has no type";
        else if (!json_is_string(jprev) || strcmp(json_string_value(jprev), prev) != 0)
            why = "does not follow from the record before it (the journal was edited)";
        if (why) {
            json_decref(rec);
            json_decref(arr);
            return jfail(err, REVIVE_E_CORRUPT, "journal %s, line %zu %s; it cannot be trusted "
                         "for a resume (start a new run)", path, line, why);
        }
        json_array_append_new(arr, rec);
        sha256_hex(buf + pos, n, prev);
        pos += n + 1;
    }
    *good_len = pos;
    *records = arr;
    return REVIVE_OK;
}

int rv_journal_read(const char *path, json_t **records, bool *torn, revive_error *err)
{
    char *buf;
    size_t len, good;
    char prev[65];
    int rc = read_all(path, &buf, &len, err);
    if (rc)
        return rc;
    rc = parse(path, buf, len, records, &good, prev, torn, err);
    free(buf);
    return rc;
}

int rv_journal_resume(const char *state_dir, const char *run_id, rv_journal **out,
                      json_t **records, revive_error *err)
{
    *out = NULL;
    *records = NULL;
    rv_journal *j = calloc(1, sizeof *j);
    if (!j)
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory for a journal");
    j->fd = -1;
    int rc;
    if (!rv_journal_path(state_dir, run_id, j->path, sizeof j->path)) {
        free(j);
        return jfail(err, REVIVE_E_INVALID, "no such run '%s'", run_id ? run_id : "");
    }
    snprintf(j->id, sizeof j->id, "%s", run_id);
    j->fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (j->fd < 0) {
        rc = jfail(err, errno_code(errno), "no run %s in %s (%s)", run_id, state_dir, strerror(errno));
        free(j);
        return rc;
    }
    char *buf = NULL;
    size_t len, good;
    bool torn;
    if ((rc = lock_fd(j->fd, j->path, err)) || (rc = read_all(j->path, &buf, &len, err)) ||
        (rc = parse(j->path, buf, len, records, &good, j->prev, &torn, err)))
        goto fail;
    if (torn && (ftruncate(j->fd, (off_t)good) != 0 || fsync(j->fd) != 0)) {
        rc = jfail(err, errno_code(errno), "cannot cut the torn last line of %s: %s", j->path,
                   strerror(errno));
        goto fail;
    }
    j->seq = json_array_size(*records);
    free(buf);
    *out = j;
    return REVIVE_OK;
fail:
    free(buf);
    json_decref(*records);
    *records = NULL;
    rv_journal_close(j);
    return rc;
}

int rv_journal_append(rv_journal *j, const char *type, json_t *fields, revive_error *err)
{
    json_t *rec = json_object();
    if (!rec)
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory for a journal record");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_object_set_new(rec, "seq", json_integer((json_int_t)j->seq + 1));
    json_object_set_new(rec, "time", json_real((double)ts.tv_sec + ts.tv_nsec / 1e9));
    json_object_set_new(rec, "type", json_string(type));
    const char *key;
    json_t *val;
    if (json_is_object(fields))
        json_object_foreach(fields, key, val)
            if (strcmp(key, "seq") && strcmp(key, "time") && strcmp(key, "type") && strcmp(key, "prev"))
                json_object_set(rec, key, val);
    json_object_set_new(rec, "prev", json_string(j->prev));
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(rec);
    if (!line)
        return jfail(err, REVIVE_E_INVALID, "a journal record could not be written as JSON");
    size_t n = strlen(line);
    char *out = realloc(line, n + 2);
    if (!out) {
        free(line);
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory for a journal record");
    }
    out[n] = '\n';
    /* One write for the whole line: a crash leaves it whole or torn at its end. */
    size_t done = 0;
    while (done < n + 1) {
        ssize_t w = write(j->fd, out + done, n + 1 - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            free(out);
            return jfail(err, errno_code(e), "cannot write %s: %s", j->path, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(j->fd) != 0) {
        int e = errno;
        free(out);
        return jfail(err, errno_code(e), "cannot sync %s: %s", j->path, strerror(e));
    }
    sha256_hex(out, n, j->prev);
    free(out);
    j->seq++;
    return REVIVE_OK;
}

const char *rv_journal_run_id(const rv_journal *j) { return j->id; }
const char *rv_journal_file(const rv_journal *j) { return j->path; }
size_t rv_journal_count(const rv_journal *j) { return j->seq; }

void rv_journal_close(rv_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j);
}

int rv_journal_sha256_file(const char *path, char hex[65], revive_error *err)
{
    char *buf;
    size_t len;
    int rc = read_all(path, &buf, &len, err);
    if (rc)
        return rc;
    sha256_hex(buf, len, hex);
    free(buf);
    return REVIVE_OK;
}

/* ---- listing and timelines --------------------------------------------------------- */

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static json_t *summarise(const char *state_dir, const char *id)
{
    char path[PATH_MAX];
    json_t *o = json_pack("{s:s}", "id", id);
    if (!o || !rv_journal_path(state_dir, id, path, sizeof path))
        return o;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool running = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (fd >= 0)
        close(fd);
    json_t *recs;
    revive_error e;
    if (rv_journal_read(path, &recs, NULL, &e) != REVIVE_OK) {
        json_object_set_new(o, "state", json_string(running ? "running" : "corrupt"));
        json_object_set_new(o, "error", json_string(e.message));
        return o;
    }
    size_t i, steps = 0;
    json_t *r, *outcome = NULL;
    json_array_foreach(recs, i, r) {
        const char *t = json_string_value(json_object_get(r, "type"));
        if (strcmp(t, "run_started") == 0) {
            json_object_set(o, "playbook", json_object_get(r, "playbook"));
            json_object_set(o, "started", json_object_get(r, "time"));
        } else if (strcmp(t, "step_finished") == 0) {
            steps++;
        } else if (strcmp(t, "outcome") == 0) {
            outcome = json_object_get(r, "outcome");
        }
        json_object_set(o, "updated", json_object_get(r, "time"));
    }
    json_object_set_new(o, "steps", json_integer((json_int_t)steps));
    json_object_set_new(o, "state", json_string(running ? "running" : outcome ? "finished" : "interrupted"));
    if (outcome)
        json_object_set(o, "outcome", outcome);
    json_decref(recs);
    return o;
}

int rv_journal_runs(const char *state_dir, json_t **runs, revive_error *err)
{
    char dir[PATH_MAX];
    *runs = json_array();
    if (!*runs)
        return jfail(err, REVIVE_E_NO_MEMORY, "no memory");
    snprintf(dir, sizeof dir, "%s/runs", state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? REVIVE_OK
                               : jfail(err, errno_code(errno), "cannot list %s: %s", dir, strerror(errno));
    char **ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!rv_journal_id_ok(de->d_name))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **p = realloc(ids, nc * sizeof *p);
            if (!p)
                break;
            ids = p;
            cap = nc;
        }
        if (!(ids[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(ids, n, sizeof *ids, cmp_ids);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(*runs, summarise(state_dir, ids[i]));
        free(ids[i]);
    }
    free(ids);
    return REVIVE_OK;
}

static void describe(json_t *r, char *buf, size_t cap)
{
    const char *keys[] = {"step", "playbook", "outcome", "summary", "state", "question", "answer",
                          "by", "mode", "message", "what", NULL};
    size_t used = 0;
    buf[0] = '\0';
    for (const char **k = keys; *k; k++) {
        json_t *v = json_object_get(r, *k);
        if (!v)
            continue;
        char *s = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s)
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s=%s", used ? " " : "", *k, s);
        free(s);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    json_t *e = json_object_get(r, "error");
    /* A step that returned nil, err: its error is the second recorded value. */
    json_t *second = json_object_get(json_object_get(r, "values"), "2");
    if (!e && json_is_object(second))
        e = json_object_get(second, "__error");
    json_t *id = json_object_get(r, "identity");
    if (json_is_object(id) && used < cap) {
        int n = snprintf(buf + used, cap - used, "%sphone=%s", used ? " " : "",
                         json_string_value(json_object_get(id, "product_type")) ? json_string_value(json_object_get(id, "product_type")) : "?");
        if (n > 0 && (size_t)n < cap - used)
            used += (size_t)n;
    }
    if (json_is_object(e) && used < cap)
        snprintf(buf + used, cap - used, "%serror=%s: %s", used ? " " : "",
                 json_string_value(json_object_get(e, "name")) ? json_string_value(json_object_get(e, "name")) : "?",
                 json_string_value(json_object_get(e, "message")) ? json_string_value(json_object_get(e, "message")) : "");
}

int rv_journal_timeline(const char *path, FILE *out, revive_error *err)
{
    json_t *recs;
    bool torn;
    int rc = rv_journal_read(path, &recs, &torn, err);
    if (rc)
        return rc;
    double t0 = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        double t = json_number_value(json_object_get(r, "time"));
        if (i == 0)
            t0 = t;
        char what[600];
        describe(r, what, sizeof what);
        fprintf(out, "%+9.1fs  %-14s %s\n", t - t0, json_string_value(json_object_get(r, "type")), what);
    }
    if (torn)
        fprintf(out, "(the last record was cut off by a crash; a resume continues from here)\n");
    json_decref(recs);
    return REVIVE_OK;
}
