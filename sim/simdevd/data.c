/* data.c: the simulated phone's user data as real files (see data.h).
 *
 * Seeding picks file names from a small table of what a phone really holds (Messages,
 * Contacts, Notes, system preferences, then camera-roll photos and app documents for the
 * rest), sizes them by random weights that add up exactly to the requested total, and
 * fills them from a splitmix64 stream. Everything derives from the seed, so two
 * simulator runs with the same scenario hold byte-identical data and a test can compare
 * digests across runs. Each file is written aside and renamed into place.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "data.h"

#define SIM_DATA_PATH_MAX 4096

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The first files a phone has, in order; later files alternate between the patterns. */
static const struct { const char *path; uint32_t perm; const char *magic; size_t magic_len; } fixed_files[] = {
    { "HomeDomain/Library/SMS/sms.db", 0600, "SQLite format 3", 16 },
    { "HomeDomain/Library/AddressBook/AddressBook.sqlitedb", 0644, "SQLite format 3", 16 },
    { "HomeDomain/Library/Preferences/com.apple.springboard.plist", 0644, "bplist00", 8 },
    { "SystemPreferencesDomain/SystemConfiguration/preferences.plist", 0644, "bplist00", 8 },
    { "HomeDomain/Library/Notes/notes.sqlite", 0644, "SQLite format 3", 16 },
    { "WirelessDomain/Library/Preferences/com.apple.wifi.plist", 0600, "bplist00", 8 },
};
#define FIXED_COUNT (sizeof fixed_files / sizeof fixed_files[0])

static void file_name(size_t i, char *out, size_t len, uint32_t *perm, const char **magic, size_t *magic_len)
{
    if (i < FIXED_COUNT) {
        snprintf(out, len, "%s", fixed_files[i].path);
        *perm = fixed_files[i].perm;
        *magic = fixed_files[i].magic;
        *magic_len = fixed_files[i].magic_len;
        return;
    }
    size_t k = i - FIXED_COUNT;
    *perm = 0644;
    switch (k % 3) {
    case 0:
        snprintf(out, len, "CameraRollDomain/Media/DCIM/100APPLE/IMG_%04zu.JPG", k / 3 + 1);
        *magic = "\xff\xd8\xff\xe0";
        *magic_len = 4;
        break;
    case 1:
        snprintf(out, len, "AppDomain-com.example.app/Documents/note-%04zu.txt", k / 3 + 1);
        *magic = "";
        *magic_len = 0;
        break;
    default:
        snprintf(out, len, "MediaDomain/Library/Recordings/%04zu.m4a", k / 3 + 1);
        *magic = "\0\0\0\x20" "ftypM4A ";
        *magic_len = 12;
        break;
    }
}

int sim_data_mkparents(const char *path)
{
    char buf[SIM_DATA_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0;
    *slash = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = (flag == FTW_DP || flag == FTW_D) ? rmdir(path) : unlink(path);
    return (r != 0 && errno != ENOENT) ? -1 : 0;
}

int sim_data_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

/* Writes one generated file aside then renames it into place. */
static int write_generated(const char *path, uint32_t perm, uint64_t size, const char *magic,
                           size_t magic_len, uint64_t *rng, int64_t mtime)
{
    char tmp[SIM_DATA_PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.seed-tmp", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (sim_data_mkparents(path) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    unsigned char buf[65536];
    uint64_t done = 0;
    while (done < size) {
        size_t n = (size - done) < sizeof buf ? (size_t)(size - done) : sizeof buf;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = splitmix64(rng);
            size_t k = n - i < 8 ? n - i : 8;
            memcpy(buf + i, &v, k);
        }
        if (done == 0 && magic_len > 0)
            memcpy(buf, magic, magic_len < n ? magic_len : n);
        size_t off = 0;
        while (off < n) {
            ssize_t w = write(fd, buf + off, n - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                int e = errno;
                close(fd);
                unlink(tmp);
                errno = e;
                return -1;
            }
            off += (size_t)w;
        }
        done += n;
    }
    struct timespec times[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
    if (fchmod(fd, perm) != 0 || futimens(fd, times) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int sim_data_seed(struct sim_device *d, uint64_t seed, int files, uint64_t bytes)
{
    if (files < 0 || (files == 0 && bytes > 0)) {
        errno = EINVAL;
        return -1;
    }
    if (sim_data_erase(d) != 0)
        return -1;
    if (files == 0)
        return 0;
    uint64_t rng = seed ^ 0x5349d4d0a7a5ULL;   /* "SIM data": keeps seed 0 useful too */
    uint64_t *weights = malloc((size_t)files * sizeof *weights);
    if (!weights)
        return -1;
    uint64_t sum = 0;
    for (int i = 0; i < files; i++) {
        weights[i] = 1 + splitmix64(&rng) % 1000;
        sum += weights[i];
    }
    uint64_t given = 0;
    int rc = 0;
    for (int i = 0; i < files && rc == 0; i++) {
        uint64_t size = (bytes / sum) * weights[i] + ((bytes % sum) * weights[i]) / sum;
        if (i == files - 1)
            size = bytes - given;
        given += size;
        char rel[512], path[SIM_DATA_PATH_MAX];
        uint32_t perm;
        const char *magic;
        size_t magic_len;
        file_name((size_t)i, rel, sizeof rel, &perm, &magic, &magic_len);
        if ((size_t)snprintf(path, sizeof path, "%s/%s", d->data_dir, rel) >= sizeof path) {
            errno = ENAMETOOLONG;
            rc = -1;
            break;
        }
        rc = write_generated(path, perm, size, magic, magic_len, &rng, 1700000000 + (int64_t)i * 60);
    }
    free(weights);
    return rc;
}

int sim_data_erase(struct sim_device *d)
{
    DIR *dir = opendir(d->data_dir);
    if (!dir)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[SIM_DATA_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", d->data_dir, e->d_name) >= sizeof path) {
            rc = -1;
            continue;
        }
        if (sim_data_rmtree(path) != 0)
            rc = -1;
    }
    closedir(dir);
    return rc;
}

/* --- listing --------------------------------------------------------------------- */

struct list_acc {
    struct sim_data_file *v;
    size_t n, cap;
    int failed;
};

static int acc_push(struct list_acc *a, const char *domain, const char *rel, const struct stat *st)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct sim_data_file *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    struct sim_data_file *f = &a->v[a->n];
    f->domain = strdup(domain);
    f->relpath = strdup(rel);
    if (!f->domain || !f->relpath) {
        free(f->domain);
        free(f->relpath);
        return -1;
    }
    f->mode = (uint32_t)st->st_mode;
    f->size = (uint64_t)st->st_size;
    f->mtime = (int64_t)st->st_mtime;
    a->n++;
    return 0;
}

/* Walks dir (absolute path) whose path inside the domain is rel ("" at the top). */
static int walk(struct list_acc *a, const char *domain, const char *dir, const char *rel, int depth)
{
    if (depth > 64)
        return 0;   /* deeper than any phone path: ignore rather than recurse forever */
    DIR *dh = opendir(dir);
    if (!dh)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[SIM_DATA_PATH_MAX], sub[SIM_DATA_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            (size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >= sizeof sub)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(a, domain, path, sub, depth + 1);
        else if (S_ISREG(st.st_mode) && !strstr(e->d_name, ".seed-tmp"))
            rc = acc_push(a, domain, sub, &st);
    }
    closedir(dh);
    return rc;
}

static int file_cmp(const void *x, const void *y)
{
    const struct sim_data_file *a = x, *b = y;
    int c = strcmp(a->domain, b->domain);
    return c ? c : strcmp(a->relpath, b->relpath);
}

int sim_data_list(const char *data_dir, struct sim_data_file **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    struct list_acc a = { 0 };
    DIR *dh = opendir(data_dir);
    if (!dh)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dh)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[SIM_DATA_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", data_dir, e->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || !sim_data_name_ok(e->d_name, "x"))
            continue;   /* only domain folders hold data */
        rc = walk(&a, e->d_name, path, "", 0);
    }
    closedir(dh);
    if (rc != 0) {
        sim_data_list_free(a.v, a.n);
        return -1;
    }
    if (a.n > 1)
        qsort(a.v, a.n, sizeof *a.v, file_cmp);
    *out = a.v;
    *count = a.n;
    return 0;
}

void sim_data_list_free(struct sim_data_file *files, size_t count)
{
    if (!files)
        return;
    for (size_t i = 0; i < count; i++) {
        free(files[i].domain);
        free(files[i].relpath);
    }
    free(files);
}

/* --- digest ---------------------------------------------------------------------- */

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

int sim_data_digest(struct sim_device *d, char out[65])
{
    struct sim_data_file *files;
    size_t n;
    if (sim_data_list(d->data_dir, &files, &n) != 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) ? 0 : -1;
    unsigned char buf[65536];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[SIM_DATA_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s/%s", d->data_dir, files[i].domain,
                             files[i].relpath) >= sizeof path) {
            rc = -1;
            break;
        }
        unsigned char hdr[12];
        put_be(hdr, files[i].mode & 07777, 4);
        put_be(hdr + 4, files[i].size, 8);
        EVP_DigestUpdate(ctx, files[i].domain, strlen(files[i].domain) + 1);
        EVP_DigestUpdate(ctx, files[i].relpath, strlen(files[i].relpath) + 1);
        EVP_DigestUpdate(ctx, hdr, sizeof hdr);
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = -1;
            break;
        }
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            EVP_DigestUpdate(ctx, buf, (size_t)r);
        if (r < 0)
            rc = -1;
        close(fd);
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32) {
        for (int i = 0; i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    } else {
        rc = -1;
    }
    EVP_MD_CTX_free(ctx);
    sim_data_list_free(files, n);
    return rc;
}

/* --- names ------------------------------------------------------------------------ */

int sim_data_name_ok(const char *domain, const char *relpath)
{
    if (!domain || !relpath)
        return 0;
    size_t dl = strlen(domain), rl = strlen(relpath);
    if (dl == 0 || dl > 255 || strcmp(domain, ".") == 0 || strcmp(domain, "..") == 0)
        return 0;
    for (const char *p = domain; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return 0;
    }
    if (rl == 0 || rl >= 1024 || relpath[0] == '/')
        return 0;
    const char *p = relpath;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p)
            return 0;   /* trailing slash: names a folder, not a file */
    }
    return 1;
}

int sim_data_domain_is_system(const char *domain)
{
    static const char *const system_domains[] = {
        "SystemPreferencesDomain", "WirelessDomain", "KeychainDomain", "ManagedPreferencesDomain",
        "DatabaseDomain", "RootDomain", "MobileDeviceDomain", NULL
    };
    for (size_t i = 0; system_domains[i]; i++)
        if (strcmp(domain, system_domains[i]) == 0)
            return 1;
    return 0;
}
