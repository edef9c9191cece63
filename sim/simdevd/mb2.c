/* mb2.c: com.apple.mobilebackup2, device side: the DeviceLink handshake, the Hello
 * version exchange, and the request loop (Backup and Restore live in their own files;
 * Info and List are here).
 *
 * A host (idevicebackup2) connects, the device offers DeviceLink 300.0, the host says
 * Hello with the protocol versions it speaks, the device picks the highest it shares
 * (2.1 or 2.0). Then each request arrives as a DLMessageProcessMessage with a
 * MessageName, the device drives the host through DL messages to move files, and ends
 * the request with a DLMessageProcessMessage carrying ErrorCode (0 = success) and
 * ErrorDescription. The host ends the session with DLMessageDisconnect.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "world.h"
#include "dl.h"
#include "dl_xfer.h"
#include "mb2.h"
#include "mb2_manifest.h"

#define REQUEST_TIMEOUT_MS 120000   /* the host gathers Info.plist between Hello and request */

void mb2_log(struct mb2_session *s, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    sim_lock(s->w);
    sim_log(s->w, s->d, "%s", line);
    sim_unlock(s->w);
}

int mb2_send_result(struct mb2_session *s, int code, const char *fmt, ...)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "MessageName", plist_new_string("Response"));
    plist_dict_set_item(r, "ErrorCode", plist_new_uint((uint64_t)code));
    if (code != 0 && fmt) {
        char text[600], full[700];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        snprintf(full, sizeof full, "%s (MBErrorDomain/%d)", text, code);
        plist_dict_set_item(r, "ErrorDescription", plist_new_string(full));
    }
    int rc = dl_send_process_message(s->fd, r);
    plist_free(r);
    return rc;
}

static int send_content(struct mb2_session *s, const char *content)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "MessageName", plist_new_string("Response"));
    plist_dict_set_item(r, "ErrorCode", plist_new_uint(0));
    plist_dict_set_item(r, "Content", plist_new_string(content));
    int rc = dl_send_process_message(s->fd, r);
    plist_free(r);
    return rc;
}

bool mb2_identifier_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
            return false;
    }
    return true;
}

bool mb2_opt_bool(plist_t dict, const char *key, bool def)
{
    plist_t n = dict ? plist_dict_get_item(dict, key) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_BOOLEAN)
        return def;
    uint8_t v = 0;
    plist_get_bool_val(n, &v);
    return v != 0;
}

/* Sink writing to a FILE, refusing more than a backup's description can need. */
#define SMALL_FILE_MAX (512u * 1024u * 1024u)
struct small_sink {
    FILE *f;
    uint64_t got;
};

static int file_sink(void *ctx, const void *buf, size_t len)
{
    struct small_sink *k = ctx;
    k->got += len;
    if (!k->f || k->got > SMALL_FILE_MAX)
        return -1;
    return fwrite(buf, 1, len, k->f) == len ? 0 : -1;
}

int mb2_fetch_small(struct mb2_session *s, const char *const *paths, const char *const *dest, bool *ok, size_t n)
{
    plist_t arr = plist_new_array();
    for (size_t i = 0; i < n; i++) {
        plist_array_append_item(arr, plist_new_string(paths[i]));
        ok[i] = false;
    }
    int rc = dl_download_begin(s->fd, arr, 0.0);
    plist_free(arr);
    if (rc != 0)
        return -1;
    for (size_t i = 0;; i++) {
        char *path = NULL;
        int r = dl_download_next(s->fd, &path, DL_TIMEOUT_MS);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (i >= n || strcmp(path, paths[i]) != 0) {
            free(path);
            return -1;   /* the host answers in the order asked, or it is not speaking DL */
        }
        free(path);
        struct small_sink k = { .f = fopen(dest[i], "wb") };
        struct dl_file_result res;
        r = dl_download_body(s->fd, file_sink, &k, NULL, NULL, &res, DL_TIMEOUT_MS);
        bool closed = k.f && fclose(k.f) == 0;
        if (r != 0)
            return -1;
        ok[i] = res.ok && !res.sink_failed && closed;
        if (!ok[i])
            unlink(dest[i]);
    }
    int64_t status;
    char *desc = NULL;
    plist_t payload = NULL;
    rc = dl_download_end(s->fd, &status, &desc, &payload, DL_TIMEOUT_MS);
    free(desc);
    plist_free(payload);
    return rc;
}

/* Reads a small plist file written by mb2_fetch_small. */
plist_t mb2_read_plist_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > DL_MAX_MESSAGE)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t want = (size_t)st.st_size;
    char *buf = malloc(want);
    size_t n = buf ? fread(buf, 1, want, f) : 0;
    fclose(f);
    plist_t p = NULL;
    if (n == want && sim_plist_from_bytes(buf, n, (sim_plist_t *)&p) != 0) /* a host's file: guarded */
        p = NULL;
    free(buf);
    return p;
}

const char *mb2_request_source(plist_t req)
{
    plist_t n = plist_dict_get_item(req, "SourceIdentifier");
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        n = plist_dict_get_item(req, "TargetIdentifier");
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    return plist_get_string_ptr(n, NULL);
}

/* Info: the device reads the backup's Info.plist and Status.plist and returns the
 * Info.plist as XML text in Content. */
static void handle_info(struct mb2_session *s, plist_t req)
{
    const char *src = mb2_request_source(req);
    if (!mb2_identifier_ok(src)) {
        mb2_send_result(s, MB2_ERR_BAD_REQUEST, "Info needs a valid TargetIdentifier");
        return;
    }
    char p_info[128], p_status[128], l_info[4300], l_status[4300];
    snprintf(p_info, sizeof p_info, "%s/Info.plist", src);
    snprintf(p_status, sizeof p_status, "%s/Status.plist", src);
    snprintf(l_info, sizeof l_info, "%s/Info.plist", s->work);
    snprintf(l_status, sizeof l_status, "%s/Status.plist", s->work);
    const char *paths[] = { p_info, p_status }, *dest[] = { l_info, l_status };
    bool ok[2];
    if (mb2_fetch_small(s, paths, dest, ok, 2) != 0) {
        s->aborted = true;
        return;
    }
    plist_t info = ok[0] ? mb2_read_plist_file(l_info) : NULL;
    plist_t status = ok[1] ? mb2_read_plist_file(l_status) : NULL;
    plist_t st = status ? plist_dict_get_item(status, "SnapshotState") : NULL;
    const char *state = (st && plist_get_node_type(st) == PLIST_STRING) ? plist_get_string_ptr(st, NULL) : NULL;
    if (!info || plist_get_node_type(info) != PLIST_DICT) {
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup properties at path \"%s\"", p_info);
    } else if (!state || strcmp(state, "finished") != 0) {
        mb2_send_result(s, MB2_ERR_STATUS, "Error reading status: the backup at \"%s\" is not finished", src);
    } else {
        char *xml = NULL;
        uint32_t len = 0;
        plist_to_xml(info, &xml, &len);
        send_content(s, xml ? xml : "");
        free(xml);
        mb2_log(s, "backup-info %s", src);
    }
    plist_free(info);
    plist_free(status);
}

/* Appends one CSV field (RFC 4180 quoting when needed). */
static void csv_field(FILE *out, const char *v, bool last)
{
    if (strpbrk(v, ",\"\r\n")) {
        fputc('"', out);
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else {
        fputs(v, out);
    }
    fputc(last ? '\n' : ',', out);
}

/* List: the device reads the backup's Manifest.db and returns one CSV line per file. */
static void handle_list(struct mb2_session *s, plist_t req)
{
    const char *src = mb2_request_source(req);
    if (!mb2_identifier_ok(src)) {
        mb2_send_result(s, MB2_ERR_BAD_REQUEST, "List needs a valid TargetIdentifier");
        return;
    }
    char p_db[128], l_db[4300];
    snprintf(p_db, sizeof p_db, "%s/Manifest.db", src);
    snprintf(l_db, sizeof l_db, "%s/Manifest.db", s->work);
    const char *paths[] = { p_db }, *dest[] = { l_db };
    bool ok[1];
    if (mb2_fetch_small(s, paths, dest, ok, 1) != 0) {
        s->aborted = true;
        return;
    }
    struct mb2_entry *e = NULL;
    size_t n = 0;
    char err[300];
    if (!ok[0]) {
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup database: no such file at path \"%s\"", p_db);
        return;
    }
    if (mb2_manifest_db_read(l_db, &e, &n, err, sizeof err) != 0) {
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "Error reading backup database: %s", err);
        return;
    }
    char *text = NULL;
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    if (!out) {
        mb2_entries_free(e, n);
        mb2_send_result(s, MB2_ERR_BACKUP_DATA, "out of memory");
        return;
    }
    fputs("FileID,Domain,RelativePath,Flags,Size,Mode\n", out);
    for (size_t i = 0; i < n; i++) {
        char flags[16], size[32], mode[16];
        snprintf(flags, sizeof flags, "%u", e[i].flags);
        snprintf(size, sizeof size, "%llu", (unsigned long long)e[i].size);
        snprintf(mode, sizeof mode, "%o", e[i].mode);
        csv_field(out, e[i].file_id, false);
        csv_field(out, e[i].domain, false);
        csv_field(out, e[i].relpath, false);
        csv_field(out, flags, false);
        csv_field(out, size, false);
        csv_field(out, mode, true);
    }
    fclose(out);
    send_content(s, text ? text : "");
    free(text);
    mb2_entries_free(e, n);
    mb2_log(s, "backup-list %s", src);
}

/* ChangePassword (idevicebackup2 encryption on|off, changepw): sets, changes or clears the
 * phone's backup password. Clearing or changing needs the current one (OldPassword). */
static void handle_change_password(struct mb2_session *s, plist_t req)
{
    plist_t o = plist_dict_get_item(req, "OldPassword"), n = plist_dict_get_item(req, "NewPassword");
    const char *old = o && plist_get_node_type(o) == PLIST_STRING ? plist_get_string_ptr(o, NULL) : NULL;
    const char *neu = n && plist_get_node_type(n) == PLIST_STRING ? plist_get_string_ptr(n, NULL) : NULL;
    if ((!old && !neu) || (neu && (!*neu || strlen(neu) >= sizeof s->d->backup_password))) {
        mb2_send_result(s, MB2_ERR_BAD_REQUEST, "ChangePassword needs a NewPassword (1 to %zu bytes) or an OldPassword",
                        sizeof s->d->backup_password - 1);
        return;
    }
    sim_lock(s->w);
    bool had = s->d->backup_password[0] != '\0';
    bool right = !had || (old && strcmp(old, s->d->backup_password) == 0);
    if (right)
        snprintf(s->d->backup_password, sizeof s->d->backup_password, "%s", neu ? neu : "");
    sim_unlock(s->w);
    if (!right) {
        mb2_log(s, "backup password not changed: the old password is wrong");
        mb2_send_result(s, MB2_ERR_PASSWORD, "The backup password is not correct");
        return;
    }
    mb2_log(s, "backup password %s", !neu ? "removed: backups are not encrypted" :
                                     had ? "changed" : "set: backups are encrypted");
    mb2_send_result(s, MB2_OK, NULL);
}

/* Hello: picks the highest of the host's versions the device speaks. */
static int hello(struct mb2_session *s)
{
    plist_t req = NULL;
    if (dl_recv_process_message(s->fd, &req, DL_TIMEOUT_MS) != 0)
        return -1;
    plist_t name = plist_dict_get_item(req, "MessageName");
    plist_t versions = plist_dict_get_item(req, "SupportedProtocolVersions");
    double best = 0;
    if (name && plist_get_node_type(name) == PLIST_STRING && strcmp(plist_get_string_ptr(name, NULL), "Hello") == 0 &&
        versions && plist_get_node_type(versions) == PLIST_ARRAY) {
        for (uint32_t i = 0; i < plist_array_get_size(versions); i++) {
            plist_t v = plist_array_get_item(versions, i);
            double x = 0;
            if (plist_get_node_type(v) != PLIST_REAL)
                continue;
            plist_get_real_val(v, &x);
            if ((x == 2.0 || x == 2.1) && x > best)
                best = x;
        }
    }
    plist_free(req);
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "MessageName", plist_new_string("Response"));
    plist_dict_set_item(r, "ErrorCode", plist_new_uint(best > 0 ? 0 : MB2_ERR_NO_COMMON_VERSION));
    if (best > 0)
        plist_dict_set_item(r, "ProtocolVersion", plist_new_real(best));
    int rc = dl_send_process_message(s->fd, r);
    plist_free(r);
    return (rc == 0 && best > 0) ? 0 : -1;
}

static void serve(struct sim_world *w, struct sim_device *d, int fd)
{
    struct mb2_session s = { .w = w, .d = d, .fd = fd };
    snprintf(s.work, sizeof s.work, "%s/mb2-XXXXXX", sim_world_dir(w));
    if (!mkdtemp(s.work)) {
        sim_lock(w);
        sim_log(w, d, "mobilebackup2: cannot make a scratch folder in %s: %s", sim_world_dir(w), strerror(errno));
        sim_unlock(w);
        close(fd);
        return;
    }
    if (dl_device_handshake(fd, 300, 0, DL_TIMEOUT_MS) != 0 || hello(&s) != 0)
        goto done;
    for (;;) {
        plist_t req = NULL;
        int r = dl_recv_process_message(fd, &req, REQUEST_TIMEOUT_MS);
        if (r != 0)
            break;   /* Disconnect, a closed connection, or garbage: a device just hangs up */
        sim_lock(w);
        s.snap = *d;
        sim_unlock(w);
        plist_t name = plist_dict_get_item(req, "MessageName");
        const char *n = (name && plist_get_node_type(name) == PLIST_STRING) ? plist_get_string_ptr(name, NULL) : "";
        if (strcmp(n, "Backup") == 0)
            mb2_backup(&s, req);
        else if (strcmp(n, "Restore") == 0)
            mb2_restore(&s, req);
        else if (strcmp(n, "Info") == 0)
            handle_info(&s, req);
        else if (strcmp(n, "List") == 0)
            handle_list(&s, req);
        else if (strcmp(n, "ChangePassword") == 0)
            handle_change_password(&s, req);
        else
            mb2_send_result(&s, MB2_ERR_NOT_SIMULATED, "The simulated device does not implement the \"%s\" request", n);
        plist_free(req);
        if (s.aborted)
            break;
    }
done:
    close(fd);
    sim_data_rmtree(s.work);
    if (s.reboot_after && !s.aborted) {
        sim_lock(w);
        if (sim_device_reachable(d, SIM_MODE_NORMAL)) {
            sim_log(w, d, "reboot after backup restore");
            sim_reboot(w, d);
        }
        sim_unlock(w);
    }
}

__attribute__((constructor)) static void register_mb2(void)
{
    sim_service_register("com.apple.mobilebackup2", serve);
}
