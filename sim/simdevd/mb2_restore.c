/* mb2_restore.c: the Restore request, device side.
 *
 * The phone pulls everything from the host with DLMessageDownloadFiles: first the
 * backup's Status.plist (must say "finished"), Manifest.plist, Manifest.db and
 * Info.plist, then every file the manifest lists, in batches. An encrypted backup needs
 * the Password option: it unlocks the keybag, ManifestKey decrypts Manifest.db and each
 * file's EncryptionKey its content. Each file lands in a staging folder beside the data
 * (<data_dir>.restoring, the simulator's /var/.backup.i) and is checked as a phone
 * checks it: its size against the MBFile's Size, its SHA-1 against the MBFile's Digest
 * (unencrypted backups) or its CBC padding (encrypted ones).
 * Only when every file arrived whole are they moved into the data; a failed or
 * interrupted restore leaves the phone's data as it was. Options honoured:
 *   RestoreSystemFiles      restore system domains too (otherwise they are skipped)
 *   RestoreShouldReboot     reboot once the host disconnects (default true)
 *   RestoreDontCopyBackup   false: the host first copies the backup to <src>-copy, item
 *                           by item, and the phone restores from the copy
 *   RestorePreserveSettings false: take the device name from the backup
 *   RemoveItemsNotRestored  delete files the backup does not have
 * The scenario's faults are consulted after every block ("backup-restore", in bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    uint64_t done, total;
};

static bool on_progress(void *ctx, uint64_t bytes)
{
    struct progress *p = ctx;
    p->done += bytes;
    sim_throttle(p->s->w, p->s->d, bytes);
    return !sim_fault_hit(p->s->w, p->s->d, "backup-restore", p->done, p->total);
}

struct sink {
    int fd;
    EVP_MD_CTX *sha;
    uint64_t limit, got;        /* plaintext: what the manifest promised, what was written */
    struct mb2_cbc *dec;        /* encrypted backups: decrypts on the way in */
    uint64_t wire;              /* bytes received */
    unsigned char *plain;       /* decryption buffer */
};

static int write_plain(struct sink *k, const void *buf, size_t len)
{
    if (k->got + len > k->limit)
        return -1;   /* more than the manifest promised: refuse, the size check reports it */
    EVP_DigestUpdate(k->sha, buf, len);
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(k->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
        k->got += (uint64_t)w;
    }
    return 0;
}

static int to_file(void *ctx, const void *buf, size_t len)
{
    struct sink *k = ctx;
    if (!k->dec)
        return write_plain(k, buf, len);
    k->wire += len;
    if (k->wire > k->limit + 16 || len > 65536)
        return -1;   /* more ciphertext than Size plus padding */
    size_t n = 0;
    if (mb2_cbc_update(k->dec, buf, len, k->plain, &n) != 0)
        return -1;
    return write_plain(k, k->plain, n);
}

static const char *str_opt(plist_t dict, const char *key)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    return (n && plist_get_node_type(n) == PLIST_STRING) ? plist_get_string_ptr(n, NULL) : NULL;
}

static int staged_path(const char *staging, const struct mb2_entry *e, char *out, size_t len)
{
    return (size_t)snprintf(out, len, "%s/%s/%s", staging, e->domain, e->relpath) < len ? 0 : -1;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct mb2_entry *x = *(const struct mb2_entry *const *)a, *y = *(const struct mb2_entry *const *)b;
    int c = strcmp(x->domain, y->domain);
    return c ? c : strcmp(x->relpath, y->relpath);
}

/* A manifest that names "a" and "a/b" as files cannot be laid out as files: the first
 * such pair's later entry, or NULL. todo gets sorted. */
static const struct mb2_entry *file_under_file(struct mb2_entry **todo, size_t n)
{
    qsort(todo, n, sizeof *todo, entry_cmp);
    for (size_t i = 0; i < n; i++) {
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "%s", todo[i]->relpath);
        for (char *slash = strchr(prefix, '/'); slash; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            struct mb2_entry probe = { .domain = todo[i]->domain, .relpath = prefix };
            const struct mb2_entry *pp = &probe;
            if (bsearch(&pp, todo, n, sizeof *todo, entry_cmp))
                return todo[i];
            *slash = '/';
        }
    }
    return NULL;
}

/* Bytes of the phone's data (0 if it cannot be listed). */
static uint64_t data_bytes(const char *data_dir)
{
    struct sim_data_file *f = NULL;
    size_t n = 0;
    uint64_t sum = 0;
    if (sim_data_list(data_dir, &f, &n) == 0)
        for (size_t i = 0; i < n; i++)
            sum += f[i].size;
    sim_data_list_free(f, n);
    return sum;
}

/* Moves the staged files into the data (and removes what the backup lacks when asked).
 * 0, or -1 with errno. */
static int apply(const char *staging, const char *data_dir, struct mb2_entry **todo, size_t n,
                 bool remove_missing, bool system_files)
{
    if (remove_missing) {
        struct sim_data_file *have = NULL;
        size_t nhave = 0;
        if (sim_data_list(data_dir, &have, &nhave) != 0)
            return -1;
        for (size_t i = 0; i < nhave; i++) {
            if (!system_files && sim_data_domain_is_system(have[i].domain))
                continue;   /* not part of this restore: kept */
            bool keep = false;
            for (size_t j = 0; j < n && !keep; j++)
                keep = strcmp(todo[j]->domain, have[i].domain) == 0 && strcmp(todo[j]->relpath, have[i].relpath) == 0;
            if (!keep) {
                char p[4400];
                snprintf(p, sizeof p, "%s/%s/%s", data_dir, have[i].domain, have[i].relpath);
                unlink(p);
            }
        }
        sim_data_list_free(have, nhave);
    }
    for (size_t i = 0; i < n; i++) {
        char from[4400], to[4400];
        if (staged_path(staging, todo[i], from, sizeof from) != 0 ||
            (size_t)snprintf(to, sizeof to, "%s/%s/%s", data_dir, todo[i]->domain, todo[i]->relpath) >= sizeof to) {
            errno = ENAMETOOLONG;
            return -1;
        }
        struct stat st;
        if (lstat(to, &st) == 0 && S_ISDIR(st.st_mode) && sim_data_rmtree(to) != 0)
            return -1;
        if (sim_data_mkparents(to) != 0 || rename(from, to) != 0)
            return -1;
    }
    return 0;
}

/* Host command with a status answer: 0 ok, 1 the host failed, -1 broken connection. */
static int host_command(struct mb2_session *s, plist_t msg)
{
    int64_t code = 0;
    char *desc = NULL;
    int r = dl_send(s->fd, msg);
    plist_free(msg);
    if (r != 0 || dl_recv_status(s->fd, &code, &desc, NULL, DL_TIMEOUT_MS) != 0) {
        free(desc);
        return -1;
    }
    free(desc);
    return (code == 0 || code == -7 /* EEXIST */) ? 0 : 1;
}

/* RestoreDontCopyBackup false: the host copies the backup to <src>-copy first, item by
 * item (hosts copy a folder only one level deep), and the phone restores from the copy
 * so the original stays as it was. */
static int copy_backup(struct mb2_session *s, const char *src, struct mb2_entry **todo, size_t n)
{
    static const char *const meta[] = { "Status.plist", "Manifest.plist", "Manifest.db", "Info.plist" };
    char a[200], b[200];
    bool made[256] = { false };
    snprintf(b, sizeof b, "%s-copy", src);
    plist_t m = plist_new_array();
    plist_array_append_item(m, plist_new_string("DLMessageCreateDirectory"));
    plist_array_append_item(m, plist_new_string(b));
    int r = host_command(s, m);
    for (size_t i = 0; r == 0 && i < 4 + n; i++) {
        if (i < 4) {
            snprintf(a, sizeof a, "%s/%s", src, meta[i]);
            snprintf(b, sizeof b, "%s-copy/%s", src, meta[i]);
        } else {
            const char *fid = todo[i - 4]->file_id;
            unsigned idx = (unsigned)strtoul((char[]){ fid[0], fid[1], 0 }, NULL, 16);
            if (!made[idx]) {
                snprintf(b, sizeof b, "%s-copy/%.2s", src, fid);
                m = plist_new_array();
                plist_array_append_item(m, plist_new_string("DLMessageCreateDirectory"));
                plist_array_append_item(m, plist_new_string(b));
                if ((r = host_command(s, m)) != 0)
                    break;
                made[idx] = true;
            }
            snprintf(a, sizeof a, "%s/%.2s/%s", src, fid, fid);
            snprintf(b, sizeof b, "%s-copy/%.2s/%s", src, fid, fid);
        }
        m = plist_new_array();
        plist_array_append_item(m, plist_new_string("DLMessageCopyItem"));
        plist_array_append_item(m, plist_new_string(a));
        plist_array_append_item(m, plist_new_string(b));
        r = host_command(s, m);
    }
    return r;
}

void mb2_restore(struct mb2_session *s, plist_t req)
{
    plist_t opts = plist_dict_get_item(req, "Options");
    if (opts && plist_get_node_type(opts) != PLIST_DICT)
        opts = NULL;
    bool system_files = mb2_opt_bool(opts, "RestoreSystemFiles", false);
    bool reboot = mb2_opt_bool(opts, "RestoreShouldReboot", true);
    bool dont_copy = mb2_opt_bool(opts, "RestoreDontCopyBackup", false);
    bool preserve = mb2_opt_bool(opts, "RestorePreserveSettings", true);
    bool remove_missing = mb2_opt_bool(opts, "RemoveItemsNotRestored", false);
    const char *src = mb2_request_source(req);
    if (!mb2_identifier_ok(src)) {
        mb2_send_result(s, MB2_ERR_BAD_REQUEST, "Restore needs a valid SourceIdentifier or TargetIdentifier");
        return;
    }
    mb2_log(s, "backup-restore started from %s (system files %s, reboot %s, copy %s, preserve settings %s, remove others %s)",
            src, system_files ? "yes" : "no", reboot ? "yes" : "no", dont_copy ? "no" : "yes",
            preserve ? "yes" : "no", remove_missing ? "yes" : "no");

    char root[80];
    snprintf(root, sizeof root, "%s", src);

    /* the backup's description */
    static const char *const names[] = { "Status.plist", "Manifest.plist", "Manifest.db", "Info.plist" };
    char hp[4][128], lp[4][4300];
    const char *paths[4], *dest[4];
    bool ok[4];
    for (int i = 0; i < 4; i++) {
        snprintf(hp[i], sizeof hp[i], "%s/%s", root, names[i]);
        snprintf(lp[i], sizeof lp[i], "%s/%s", s->work, names[i]);
        paths[i] = hp[i];
        dest[i] = lp[i];
    }
    if (mb2_fetch_small(s, paths, dest, ok, 4) != 0) {
        mb2_log(s, "backup-restore aborted: the connection to the computer broke");
        s->aborted = true;
        return;
    }
    plist_t status = ok[0] ? mb2_read_plist_file(lp[0]) : NULL;
    plist_t manifest = ok[1] ? mb2_read_plist_file(lp[1]) : NULL;
    struct mb2_entry *ents = NULL;
    size_t nents = 0;
    struct mb2_entry **todo = NULL;
    bool encrypted = false;
    struct mb2_keybag kb;
    size_t ntodo = 0, skipped = 0;
    char staging[4200] = "";
    char err[400];
    const char *state = status && plist_get_node_type(status) == PLIST_DICT ? str_opt(status, "SnapshotState") : NULL;
    if (!state || strcmp(state, "finished") != 0) {
        mb2_log(s, "backup-restore failed: Status.plist is missing or not finished");
        mb2_send_result(s, MB2_ERR_STATUS, "Error reading status at path \"%s\": the backup is not finished", hp[0]);
        goto out;
    }
    if (!manifest || plist_get_node_type(manifest) != PLIST_DICT) {
        mb2_log(s, "backup-restore failed: Manifest.plist is missing or unreadable");
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup properties at path \"%s\"", hp[1]);
        goto out;
    }
    if (mb2_opt_bool(manifest, "IsEncrypted", false)) {
        /* unlock the keybag with the password the host sent, decrypt Manifest.db */
        encrypted = true;
        const char *password = str_opt(opts, "Password");
        plist_t bag = plist_dict_get_item(manifest, "BackupKeyBag");
        plist_t mk = plist_dict_get_item(manifest, "ManifestKey");
        uint64_t bag_len = 0, mk_len = 0;
        const char *bag_p = bag && plist_get_node_type(bag) == PLIST_DATA ? plist_get_data_ptr(bag, &bag_len) : NULL;
        const char *mk_p = mk && plist_get_node_type(mk) == PLIST_DATA ? plist_get_data_ptr(mk, &mk_len) : NULL;
        if (!password || !*password) {
            mb2_log(s, "backup-restore failed: the backup is encrypted and no password was given");
            mb2_send_result(s, MB2_ERR_PASSWORD, "The backup is encrypted: a backup password is required");
            goto out;
        }
        int u = bag_p && mk_p && mk_len == MB2_ENC_KEY_LEN ? mb2_keybag_unlock(bag_p, bag_len, password, &kb) : -1;
        if (u == -2) {
            mb2_log(s, "backup-restore failed: wrong backup password");
            mb2_send_result(s, MB2_ERR_PASSWORD, "The backup password is not correct");
            goto out;
        }
        unsigned char key[32];
        char plain[4400];
        snprintf(plain, sizeof plain, "%s.plain", lp[2]);
        if (u != 0 || !ok[2] || mb2_file_key(&kb, (const unsigned char *)mk_p, key) != 0 ||
            mb2_cbc_file(key, false, lp[2], plain) != 0 || rename(plain, lp[2]) != 0) {
            mb2_log(s, "backup-restore failed: the backup's keybag or encrypted Manifest.db is unreadable");
            mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup properties: the keybag or the encrypted database is unreadable");
            goto out;
        }
    }
    if (!ok[2] || mb2_manifest_db_read(lp[2], &ents, &nents, err, sizeof err) != 0) {
        if (!ok[2])
            snprintf(err, sizeof err, "no such file at path \"%s\"", hp[2]);
        mb2_log(s, "backup-restore failed: %s", err);
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup database: %s", err);
        goto out;
    }

    /* what to restore, checked before anything is written */
    todo = calloc(nents ? nents : 1, sizeof *todo);
    if (!todo)
        goto out;
    uint64_t total = 0;
    for (size_t i = 0; i < nents; i++) {
        struct mb2_entry *e = &ents[i];
        if (e->flags != MB2_FLAG_FILE)
            continue;
        char want[41];
        mb2_file_id(e->domain, e->relpath, want);
        if (!sim_data_name_ok(e->domain, e->relpath) || strcmp(want, e->file_id) != 0) {
            mb2_log(s, "backup-restore failed: manifest entry %s names an invalid file", e->file_id);
            mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup database: entry %s (%s-%s) is not valid",
                            e->file_id, e->domain, e->relpath);
            goto out;
        }
        if (encrypted && !e->has_key) {
            mb2_log(s, "backup-restore failed: manifest entry %s has no EncryptionKey", e->file_id);
            mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup database: entry %s has no EncryptionKey", e->file_id);
            goto out;
        }
        if (!system_files && sim_data_domain_is_system(e->domain)) {
            skipped++;
            continue;
        }
        todo[ntodo++] = e;
        total += e->size;
    }
    const struct mb2_entry *clash = file_under_file(todo, ntodo);
    if (clash) {
        mb2_log(s, "backup-restore failed: manifest entry %s lies under another file", clash->file_id);
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup database: %s-%s lies under another file",
                        clash->domain, clash->relpath);
        goto out;
    }
    if (total > s->snap.storage_free) {
        mb2_log(s, "backup-restore failed: the backup needs %llu bytes, the phone has %llu free",
                (unsigned long long)total, (unsigned long long)s->snap.storage_free);
        mb2_send_result(s, MB2_ERR_DEVICE_FULL, "Not enough free space on the device to restore (%llu bytes needed, %llu free)",
                        (unsigned long long)total, (unsigned long long)s->snap.storage_free);
        goto out;
    }

    if (!dont_copy) {
        int r = copy_backup(s, src, todo, ntodo);
        if (r < 0)
            goto broken;
        if (r > 0) {
            mb2_log(s, "backup-restore failed: the computer could not copy the backup");
            mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error copying the backup at path \"%s\"", src);
            goto out;
        }
        snprintf(root, sizeof root, "%s-copy", src);
    }

    snprintf(staging, sizeof staging, "%s.restoring", s->snap.data_dir);
    if (sim_data_rmtree(staging) != 0 || mkdir(staging, 0700) != 0) {
        mb2_log(s, "backup-restore failed: cannot prepare %s: %s", staging, strerror(errno));
        mb2_send_result(s, MB2_ERR_RESTORE_MOVE, "Error preparing the restore directory");
        staging[0] = '\0';
        goto out;
    }

    struct progress prog = { .s = s, .total = total };
    size_t nfailed = 0;
    char first_failure[300] = "";
    for (size_t start = 0; start < ntodo; start += BATCH_FILES) {
        size_t end = start + BATCH_FILES < ntodo ? start + BATCH_FILES : ntodo;
        plist_t arr = plist_new_array();
        for (size_t i = start; i < end; i++) {
            char p[200];
            snprintf(p, sizeof p, "%s/%.2s/%s", root, todo[i]->file_id, todo[i]->file_id);
            plist_array_append_item(arr, plist_new_string(p));
        }
        /* the host shows this as the overall progress once the batch is through */
        uint64_t batch_bytes = 0;
        for (size_t i = start; i < end; i++)
            batch_bytes += todo[i]->size;
        double pct = total ? 100.0 * (double)(prog.done + batch_bytes) / (double)total : 100.0;
        int r = dl_download_begin(s->fd, arr, pct > 100.0 ? 100.0 : pct);
        plist_free(arr);
        if (r != 0)
            goto broken;
        size_t i = start;
        for (;; i++) {
            char *path = NULL;
            r = dl_download_next(s->fd, &path, DL_TIMEOUT_MS);
            if (r < 0)
                goto broken;
            if (r == 0)
                break;
            char want[200];
            if (i < end)
                snprintf(want, sizeof want, "%s/%.2s/%s", root, todo[i]->file_id, todo[i]->file_id);
            bool match = i < end && strcmp(path, want) == 0;
            free(path);
            if (!match)
                goto broken;
            struct mb2_entry *e = todo[i];
            char local[4400];
            if (staged_path(staging, e, local, sizeof local) != 0 || sim_data_mkparents(local) != 0)
                goto broken;
            struct sink k = { .limit = e->size };
            bool key_ok = true;
            if (encrypted) {
                unsigned char key[32];
                key_ok = mb2_file_key(&kb, e->enc_key, key) == 0;
                k.dec = key_ok ? mb2_cbc_new(key, false) : NULL;
                k.plain = malloc(65536 + 32);
                if ((key_ok && !k.dec) || !k.plain) {
                    mb2_cbc_free(k.dec);
                    free(k.plain);
                    goto broken;
                }
            }
            k.fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
            k.sha = EVP_MD_CTX_new();
            if (k.fd < 0 || !k.sha || EVP_DigestInit_ex(k.sha, EVP_sha1(), NULL) != 1) {
                if (k.fd >= 0)
                    close(k.fd);
                EVP_MD_CTX_free(k.sha);
                mb2_cbc_free(k.dec);
                free(k.plain);
                goto broken;
            }
            struct dl_file_result res;
            r = dl_download_body(s->fd, key_ok ? to_file : NULL, &k, on_progress, &prog, &res, DL_TIMEOUT_MS);
            bool decrypted = !encrypted;
            if (encrypted && key_ok && r == 0 && res.ok && !res.sink_failed) {
                size_t n = 0;
                decrypted = mb2_cbc_final(k.dec, k.plain, &n) == 0 && write_plain(&k, k.plain, n) == 0;
            }
            mb2_cbc_free(k.dec);
            free(k.plain);
            unsigned char md[20];
            unsigned int mdlen = 0;
            EVP_DigestFinal_ex(k.sha, md, &mdlen);
            EVP_MD_CTX_free(k.sha);
            bool written = close(k.fd) == 0;
            if (r == -2)
                goto interrupted;
            if (r != 0)
                goto broken;
            if (e->size == 0 && !on_progress(&prog, 0))
                goto interrupted;
            const char *why = NULL;
            if (!res.ok)
                why = res.error[0] ? res.error : "the computer could not send it";
            else if (!key_ok)
                why = "its EncryptionKey does not unwrap with the backup's keybag";
            else if (!decrypted && !res.sink_failed)
                why = "it does not decrypt with its EncryptionKey";
            else if ((encrypted ? k.got : res.bytes) != e->size || res.sink_failed)
                why = "its size does not match the manifest's Size";
            else if (e->has_digest && memcmp(md, e->digest, 20) != 0)
                why = "its SHA-1 does not match the manifest's Digest";
            else if (!written)
                why = "the phone could not write it";
            if (why) {
                if (nfailed++ == 0)
                    snprintf(first_failure, sizeof first_failure, "%s-%s: %s", e->domain, e->relpath, why);
                unlink(local);
                continue;
            }
            chmod(local, e->mode & 07777);
            struct timespec ts[2] = { { .tv_sec = e->mtime }, { .tv_sec = e->mtime } };
            utimensat(AT_FDCWD, local, ts, AT_SYMLINK_NOFOLLOW);
        }
        int64_t code;
        char *desc = NULL;
        plist_t payload = NULL;
        r = dl_download_end(s->fd, &code, &desc, &payload, DL_TIMEOUT_MS);
        free(desc);
        plist_free(payload);
        if (r != 0)
            goto broken;
        if (i < end && nfailed == 0) {
            nfailed = end - i;
            snprintf(first_failure, sizeof first_failure, "the computer sent %zu of %zu files", i - start, end - start);
        }
        if (nfailed)
            break;
    }
    if (nfailed) {
        mb2_log(s, "backup-restore failed: %zu files could not be restored (%s); the phone's data is unchanged",
                nfailed, first_failure);
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Multiple errors downloading files: %s", first_failure);
        goto out;
    }
    uint64_t before = data_bytes(s->snap.data_dir);
    if (apply(staging, s->snap.data_dir, todo, ntodo, remove_missing, system_files) != 0) {
        mb2_log(s, "backup-restore failed: cannot move the restored files into place: %s", strerror(errno));
        mb2_send_result(s, MB2_ERR_RESTORE_MOVE, "Error moving the restored files into place: %s", strerror(errno));
        goto out;
    }
    /* the phone's free space follows its data */
    uint64_t after = data_bytes(s->snap.data_dir);
    sim_lock(s->w);
    if (after >= before)
        s->d->storage_free = s->d->storage_free > after - before ? s->d->storage_free - (after - before) : 0;
    else if (s->d->storage_free + (before - after) <= s->d->storage_total)
        s->d->storage_free += before - after;
    sim_unlock(s->w);
    if (!preserve) {
        plist_t ld = plist_dict_get_item(manifest, "Lockdown");
        const char *name = ld && plist_get_node_type(ld) == PLIST_DICT ? str_opt(ld, "DeviceName") : NULL;
        if (name && *name) {
            sim_lock(s->w);
            snprintf(s->d->device_name, sizeof s->d->device_name, "%s", name);
            sim_log(s->w, s->d, "settings restored from the backup: device name \"%s\"", s->d->device_name);
            sim_unlock(s->w);
        }
    }
    mb2_log(s, "backup-restore finished: %zu files, %llu bytes restored, %zu system files skipped",
            ntodo, (unsigned long long)total, skipped);
    mb2_send_result(s, MB2_OK, NULL);
    s->reboot_after = reboot;
    goto out;

interrupted:
    mb2_log(s, "backup-restore interrupted at %llu/%llu bytes; the phone's data is unchanged",
            (unsigned long long)prog.done, (unsigned long long)total);
    s->aborted = true;
    goto out;
broken:
    mb2_log(s, "backup-restore aborted: the connection to the computer broke or spoke out of turn");
    s->aborted = true;
out:
    if (staging[0])
        sim_data_rmtree(staging);
    free(todo);
    mb2_entries_free(ents, nents);
    plist_free(status);
    plist_free(manifest);
}
