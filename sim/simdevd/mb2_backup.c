/* mb2_backup.c: the Backup request, device side.
 *
 * Order, chosen so the host's copy is never both old-looking-finished and half new:
 *  1. read the previous Status.plist/Manifest.plist from the host (as a phone does; a
 *     first backup has none, which is fine: the simulator always sends a full backup);
 *  2. ask the host for its free space and refuse with 105 if the data does not fit;
 *  3. write Status.plist with SnapshotState "new" (the old backup stops being
 *     "finished"), create the <udid>/xx folders, upload every file to <udid>/xx/<fileID>;
 *  4. remove files of earlier backups this one lacks (DLContentsOfDirectory of <udid>
 *     and each <udid>/xx, DLMessageRemoveItems), upload Manifest.db and Manifest.plist
 *     into <udid>/Snapshot/, move them over the old ones with DLMessageMoveItems and
 *     remove Snapshot/;
 *  5. write Status.plist "finished", then report ErrorCode 0.
 * After every block the scenario's faults get their chance ("backup" op, in bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "data.h"
#include "dl.h"
#include "dl_xfer.h"
#include "mb2.h"
#include "mb2_crypto.h"
#include "mb2_manifest.h"

#define BATCH_FILES 32

struct progress {
    struct mb2_session *s;
    const char *op;
    uint64_t done, total;
};

static bool on_progress(void *ctx, uint64_t bytes)
{
    struct progress *p = ctx;
    p->done += bytes;
    sim_throttle(p->s->w, p->s->d, bytes);
    return !sim_fault_hit(p->s->w, p->s->d, p->op, p->done, p->total);
}

static int sha1_fd(int fd, unsigned char out[20])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    unsigned char buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        EVP_DigestUpdate(ctx, buf, (size_t)r);
    unsigned int len = 0;
    int rc = (r == 0 && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 20) ? 0 : -1;
    EVP_MD_CTX_free(ctx);
    return (rc == 0 && lseek(fd, 0, SEEK_SET) == 0) ? 0 : -1;
}

/* Sends a DL command array and reads the host's status code. 0 and *code, or -1. */
static int command(struct mb2_session *s, plist_t msg, int64_t *code, plist_t *payload)
{
    int rc = dl_send(s->fd, msg);
    plist_free(msg);
    if (rc != 0)
        return -1;
    char *desc = NULL;
    rc = dl_recv_status(s->fd, code, &desc, payload, DL_TIMEOUT_MS);
    free(desc);
    return rc;
}

static int make_dir(struct mb2_session *s, const char *path)
{
    plist_t m = plist_new_array();
    plist_array_append_item(m, plist_new_string("DLMessageCreateDirectory"));
    plist_array_append_item(m, plist_new_string(path));
    int64_t code;
    if (command(s, m, &code, NULL) != 0)
        return -1;
    return (code == 0 || code == -7 /* EEXIST as hosts map it */) ? 0 : 1;
}

static int upload_plist(struct mb2_session *s, const char *host_path, plist_t p, int64_t *status)
{
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(p, &bin, &len);
    if (!bin)
        return -1;
    plist_t files = plist_new_dict();
    plist_dict_set_item(files, host_path, plist_new_dict());
    int rc = dl_upload_begin(s->fd, files, 0.0, len);
    plist_free(files);
    if (rc == 0)
        rc = dl_upload_buffer(s->fd, host_path, host_path, bin, len);
    free(bin);
    char *desc = NULL;
    if (rc == 0)
        rc = dl_upload_end(s->fd, status, &desc, DL_TIMEOUT_MS);
    free(desc);
    return rc;
}

static int upload_local_file(struct mb2_session *s, const char *local, const char *host_path, int64_t *status)
{
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -2;
    }
    plist_t files = plist_new_dict();
    plist_dict_set_item(files, host_path, plist_new_dict());
    int rc = dl_upload_begin(s->fd, files, 95.0, (uint64_t)st.st_size);
    plist_free(files);
    if (rc == 0)
        rc = dl_upload_file(s->fd, host_path, host_path, fd, (uint64_t)st.st_size, NULL, NULL);
    close(fd);
    char *desc = NULL;
    if (rc == 0)
        rc = dl_upload_end(s->fd, status, &desc, DL_TIMEOUT_MS);
    free(desc);
    return rc;
}

static void add_dirs(struct mb2_entry **v, size_t *n, size_t *cap, const char *domain, const char *rel)
{
    /* the domain root and every folder above the file, each once */
    char buf[1100];
    snprintf(buf, sizeof buf, "%s", rel);
    for (;;) {
        char *slash = strrchr(buf, '/');
        if (slash)
            *slash = '\0';
        else
            buf[0] = '\0';
        bool seen = false;
        for (size_t i = *n; i-- > 0;) {
            if ((*v)[i].flags == MB2_FLAG_DIR && strcmp((*v)[i].domain, domain) == 0 && strcmp((*v)[i].relpath, buf) == 0) {
                seen = true;
                break;
            }
        }
        if (seen)
            return;
        if (*n == *cap) {
            size_t nc = *cap * 2 + 16;
            struct mb2_entry *nv = realloc(*v, nc * sizeof *nv);
            if (!nv)
                return;
            *v = nv;
            *cap = nc;
        }
        struct mb2_entry *e = &(*v)[(*n)++];
        memset(e, 0, sizeof *e);
        e->domain = strdup(domain);
        e->relpath = strdup(buf);
        e->flags = MB2_FLAG_DIR;
        e->mode = 040755;
        e->mtime = 1700000000;
        mb2_file_id(domain, buf, e->file_id);
        if (!buf[0])
            return;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Lists a host folder with DLContentsOfDirectory: the names in it, or NULL. */
static plist_t host_list(struct mb2_session *s, const char *path, int *broken)
{
    plist_t m = plist_new_array();
    plist_array_append_item(m, plist_new_string("DLContentsOfDirectory"));
    plist_array_append_item(m, plist_new_string(path));
    int64_t code = 0;
    plist_t payload = NULL;
    if (command(s, m, &code, &payload) != 0) {
        *broken = 1;
        return NULL;
    }
    if (code != 0 || !payload || plist_get_node_type(payload) != PLIST_DICT) {
        plist_free(payload);
        return NULL;
    }
    return payload;
}

/* A full backup replaces the previous one: files of earlier backups that this one does
 * not have (<udid>/xx/<fileID> not among ids) are removed from the host. 0, -1 broken. */
static int remove_stale(struct mb2_session *s, const char *udid, const struct mb2_entry *ents, size_t n)
{
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids)
        return 0;
    for (size_t i = 0; i < n; i++)
        ids[i] = ents[i].file_id;
    qsort(ids, n, sizeof *ids, cmp_str);
    int broken = 0;
    plist_t top = host_list(s, udid, &broken);
    plist_t gone = plist_new_array();
    plist_dict_iter it = NULL;
    if (top)
        plist_dict_new_iter(top, &it);
    while (it && !broken) {
        char *key = NULL;
        plist_t val = NULL;
        plist_dict_next_item(top, it, &key, &val);
        if (!key)
            break;
        if (is_hex(key, 2)) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s/%s", udid, key);
            plist_t names = host_list(s, sub, &broken);
            plist_dict_iter it2 = NULL;
            if (names)
                plist_dict_new_iter(names, &it2);
            while (it2) {
                char *name = NULL;
                plist_t v2 = NULL;
                plist_dict_next_item(names, it2, &name, &v2);
                if (!name)
                    break;
                const char *needle = name;
                if (is_hex(name, 40) && strncmp(name, key, 2) == 0 && !bsearch(&needle, ids, n, sizeof *ids, cmp_str)) {
                    char p[200];
                    snprintf(p, sizeof p, "%s/%s", sub, name);
                    plist_array_append_item(gone, plist_new_string(p));
                }
                free(name);
            }
            free(it2);
            plist_free(names);
        }
        free(key);
    }
    free(it);
    plist_free(top);
    free(ids);
    uint32_t ngone = plist_array_get_size(gone);
    if (!broken && ngone > 0) {
        plist_t m = plist_new_array();
        plist_array_append_item(m, plist_new_string("DLMessageRemoveItems"));
        plist_array_append_item(m, gone);
        plist_array_append_item(m, plist_new_dict());
        plist_array_append_item(m, plist_new_real(98.0));
        int64_t code = 0;
        if (command(s, m, &code, NULL) != 0)
            return -1;
        mb2_log(s, "backup removed %u files of an earlier backup from the computer", ngone);
        return 0;
    }
    plist_free(gone);
    return broken ? -1 : 0;
}

void mb2_backup(struct mb2_session *s, plist_t req)
{
    struct sim_device *snap = &s->snap;
    plist_t t = plist_dict_get_item(req, "TargetIdentifier");
    const char *udid = (t && plist_get_node_type(t) == PLIST_STRING) ? plist_get_string_ptr(t, NULL) : NULL;
    if (!mb2_identifier_ok(udid)) {
        mb2_send_result(s, MB2_ERR_BAD_REQUEST, "Backup needs a valid TargetIdentifier");
        return;
    }
    /* A backup password means an encrypted backup: a fresh keybag protected by it. */
    bool encrypted = snap->backup_password[0] != '\0';
    struct mb2_keybag kb;
    unsigned char *keybag = NULL;
    size_t keybag_len = 0;
    if (encrypted && mb2_keybag_create(snap->backup_password, MB2_SIM_DPIC, &kb, &keybag, &keybag_len) != 0) {
        mb2_log(s, "backup failed: cannot make the backup keybag");
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error creating the backup keybag");
        return;
    }

    struct sim_data_file *files = NULL;
    size_t nfiles = 0;
    if (sim_data_list(snap->data_dir, &files, &nfiles) != 0) {
        mb2_log(s, "backup failed: cannot read the device data: %s", strerror(errno));
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading the device's files");
        return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < nfiles; i++)
        total += files[i].size;
    mb2_log(s, "backup started: %zu files, %llu bytes%s", nfiles, (unsigned long long)total,
            encrypted ? ", encrypted" : "");

    struct mb2_entry *ents = NULL;
    size_t nents = 0, cap = 0;
    char path[200], local[4400];
    int64_t code = 0;
    plist_t payload = NULL;
    struct progress prog = { .s = s, .op = "backup", .total = total };

    /* 1. the previous backup's status, as a phone reads it */
    char p_status[128], p_manifest[128], l_status[4300], l_manifest[4300];
    snprintf(p_status, sizeof p_status, "%s/Status.plist", udid);
    snprintf(p_manifest, sizeof p_manifest, "%s/Manifest.plist", udid);
    snprintf(l_status, sizeof l_status, "%s/old-Status.plist", s->work);
    snprintf(l_manifest, sizeof l_manifest, "%s/old-Manifest.plist", s->work);
    const char *paths[] = { p_status, p_manifest }, *dest[] = { l_status, l_manifest };
    bool ok[2];
    if (mb2_fetch_small(s, paths, dest, ok, 2) != 0)
        goto broken;

    /* 2. room on the computer */
    plist_t m = plist_new_array();
    plist_array_append_item(m, plist_new_string("DLMessageGetFreeDiskSpace"));
    if (command(s, m, &code, &payload) != 0)
        goto broken;
    uint64_t host_free = 0;
    if (payload && plist_get_node_type(payload) == PLIST_UINT)
        plist_get_uint_val(payload, &host_free);
    plist_free(payload);
    payload = NULL;
    if (code != 0 || host_free < total + 1024 * 1024) {
        mb2_log(s, "backup failed: the computer has %llu bytes free, the backup needs %llu",
                (unsigned long long)host_free, (unsigned long long)total);
        mb2_send_result(s, MB2_ERR_HOST_FULL, "Insufficient free disk space on drive to backup");
        goto out;
    }

    /* 3. mark the backup in progress, then the files */
    char uuid[33];
    snprintf(uuid, sizeof uuid, "%016llX%016llX", (unsigned long long)snap->ecid, (unsigned long long)time(NULL));
    plist_t status = mb2_status_plist_new("new", true, uuid);
    int r = make_dir(s, udid);
    if (r == 0)
        r = upload_plist(s, p_status, status, &code);
    plist_free(status);
    if (r < 0)
        goto broken;
    if (r > 0 || code != 0)
        goto host_failed;

    bool made[256] = { false };
    for (size_t i = 0; i < nfiles; i++) {
        if (nents == cap) {
            cap = cap * 2 + 64;
            struct mb2_entry *nv = realloc(ents, cap * sizeof *nv);
            if (!nv)
                goto local_failed;
            ents = nv;
        }
        struct mb2_entry *e = &ents[nents++];
        memset(e, 0, sizeof *e);
        e->domain = strdup(files[i].domain);
        e->relpath = strdup(files[i].relpath);
        if (!e->domain || !e->relpath)
            goto local_failed;
        e->flags = MB2_FLAG_FILE;
        e->mode = files[i].mode;
        e->size = files[i].size;
        e->mtime = files[i].mtime;
        mb2_file_id(e->domain, e->relpath, e->file_id);
        unsigned idx = (unsigned)strtoul((char[]){ e->file_id[0], e->file_id[1], 0 }, NULL, 16);
        if (!made[idx]) {
            snprintf(path, sizeof path, "%s/%.2s", udid, e->file_id);
            r = make_dir(s, path);
            if (r < 0)
                goto broken;
            if (r > 0)
                goto host_failed;
            made[idx] = true;
        }
    }

    for (size_t start = 0; start < nfiles; start += BATCH_FILES) {
        size_t end = start + BATCH_FILES < nfiles ? start + BATCH_FILES : nfiles;
        plist_t batch = plist_new_dict();
        for (size_t i = start; i < end; i++) {
            snprintf(path, sizeof path, "%s/%.2s/%s", udid, ents[i].file_id, ents[i].file_id);
            plist_dict_set_item(batch, path, plist_new_dict());
        }
        double pct = total ? 100.0 * (double)prog.done / (double)total : 0.0;
        r = dl_upload_begin(s->fd, batch, pct < 1.0 ? 1.0 : pct, total);
        plist_free(batch);
        if (r != 0)
            goto broken;
        for (size_t i = start; i < end; i++) {
            snprintf(local, sizeof local, "%s/%s/%s", snap->data_dir, ents[i].domain, ents[i].relpath);
            snprintf(path, sizeof path, "%s/%.2s/%s", udid, ents[i].file_id, ents[i].file_id);
            uint64_t wire_size = ents[i].size;
            int fd;
            if (encrypted) {
                /* its own key, wrapped with the class key; the host stores ciphertext */
                unsigned char key[32];
                char enc[4400];
                snprintf(enc, sizeof enc, "%s/file.enc", s->work);
                struct stat est;
                if (mb2_new_file_key(&kb, key, ents[i].enc_key) != 0 || mb2_cbc_file(key, true, local, enc) != 0 ||
                    (fd = open(enc, O_RDONLY | O_CLOEXEC)) < 0)
                    goto local_failed;
                ents[i].has_key = true;
                if (fstat(fd, &est) != 0) {
                    close(fd);
                    goto local_failed;
                }
                wire_size = (uint64_t)est.st_size;
            } else {
                fd = open(local, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0 || sha1_fd(fd, ents[i].digest) != 0) {
                    if (fd >= 0)
                        close(fd);
                    goto local_failed;
                }
                ents[i].has_digest = true;
            }
            char devname[1400];
            snprintf(devname, sizeof devname, "%s/%s", ents[i].domain, ents[i].relpath);
            r = dl_upload_file(s->fd, devname, path, fd, wire_size, on_progress, &prog);
            close(fd);
            if (r == -2 || (r == 0 && ents[i].size == 0 && !on_progress(&prog, 0)))
                goto interrupted;
            if (r != 0)
                goto broken;
        }
        char *desc = NULL;
        r = dl_upload_end(s->fd, &code, &desc, DL_TIMEOUT_MS);
        free(desc);
        if (r != 0)
            goto broken;
        if (code != 0)
            goto host_failed;
    }

    /* 4. earlier backups' leftovers out, then the manifests, moved into place whole */
    if (remove_stale(s, udid, ents, nents) != 0)
        goto broken;
    for (size_t i = 0, n = nents; i < n; i++)
        add_dirs(&ents, &nents, &cap, ents[i].domain, ents[i].relpath);
    char err[300];
    snprintf(local, sizeof local, "%s/Manifest.db", s->work);
    if (mb2_manifest_db_write(local, ents, nents, err, sizeof err) != 0) {
        mb2_log(s, "backup failed: %s", err);
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "%s", err);
        goto out;
    }
    char snapdir[128], snap_db[160], snap_plist[160], final_db[160];
    snprintf(snapdir, sizeof snapdir, "%s/Snapshot", udid);
    snprintf(snap_db, sizeof snap_db, "%s/Manifest.db", snapdir);
    snprintf(snap_plist, sizeof snap_plist, "%s/Manifest.plist", snapdir);
    snprintf(final_db, sizeof final_db, "%s/Manifest.db", udid);
    unsigned char manifest_key[MB2_ENC_KEY_LEN];
    if (encrypted) {
        unsigned char key[32];
        char plain[4400];
        snprintf(plain, sizeof plain, "%s.plain", local);
        if (rename(local, plain) != 0 || mb2_new_file_key(&kb, key, manifest_key) != 0 ||
            mb2_cbc_file(key, true, plain, local) != 0) {
            mb2_log(s, "backup failed: cannot encrypt Manifest.db");
            mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error encrypting the backup database");
            goto out;
        }
    }
    r = make_dir(s, snapdir);
    if (r == 0)
        r = upload_local_file(s, local, snap_db, &code);
    if (r == -2)
        goto local_failed;
    if (r < 0)
        goto broken;
    if (r > 0 || code != 0)
        goto host_failed;
    plist_t manifest = mb2_manifest_plist_new(snap, encrypted);
    if (encrypted)
        mb2_manifest_plist_set_keys(manifest, keybag, keybag_len, manifest_key);
    r = upload_plist(s, snap_plist, manifest, &code);
    plist_free(manifest);
    if (r < 0)
        goto broken;
    if (code != 0)
        goto host_failed;
    plist_t moves = plist_new_dict();
    plist_dict_set_item(moves, snap_db, plist_new_string(final_db));
    plist_dict_set_item(moves, snap_plist, plist_new_string(p_manifest));
    m = plist_new_array();
    plist_array_append_item(m, plist_new_string("DLMessageMoveItems"));
    plist_array_append_item(m, moves);
    plist_array_append_item(m, plist_new_dict());
    plist_array_append_item(m, plist_new_real(99.0));
    if (command(s, m, &code, NULL) != 0)
        goto broken;
    if (code != 0)
        goto host_failed;
    plist_t rm = plist_new_array();
    plist_array_append_item(rm, plist_new_string(snapdir));
    m = plist_new_array();
    plist_array_append_item(m, plist_new_string("DLMessageRemoveItems"));
    plist_array_append_item(m, rm);
    plist_array_append_item(m, plist_new_dict());
    plist_array_append_item(m, plist_new_real(99.5));
    if (command(s, m, &code, NULL) != 0)
        goto broken;

    /* 5. finished */
    status = mb2_status_plist_new("finished", true, uuid);
    r = upload_plist(s, p_status, status, &code);
    plist_free(status);
    if (r != 0)
        goto broken;
    if (code != 0)
        goto host_failed;
    mb2_log(s, "backup finished: %zu files, %llu bytes%s", nfiles, (unsigned long long)total,
            encrypted ? ", encrypted" : "");
    mb2_send_result(s, MB2_OK, NULL);
    goto out;

host_failed:
    mb2_log(s, "backup failed: the computer could not store the files (status %lld)", (long long)code);
    mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Multiple errors uploading files (host status %lld)", (long long)code);
    goto out;
local_failed:
    /* the host may be in the middle of a batch: the stream cannot be resumed, so the
     * device drops the connection as a phone whose backup agent failed does */
    mb2_log(s, "backup failed: cannot read the device's own files: %s", strerror(errno));
    s->aborted = true;
    goto out;
interrupted:
    mb2_log(s, "backup interrupted at %llu/%llu bytes", (unsigned long long)prog.done, (unsigned long long)total);
    s->aborted = true;
    goto out;
broken:
    mb2_log(s, "backup aborted: the connection to the computer broke");
    s->aborted = true;
out:
    free(keybag);
    mb2_entries_free(ents, nents);
    sim_data_list_free(files, nfiles);
}
