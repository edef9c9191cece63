/* The simulated phone's mobilebackup2 and AFC services driven directly over a
 * socketpair, the way libimobiledevice talks to them, with the core replaced by small
 * stand-ins (this file defines the world functions the services call). What a user of a
 * real phone would check: the handshake and Hello agree on a version, requests the
 * simulator does not do are refused with an error, hostile bytes and hostile manifests
 * end the session or the request without a crash and without writing outside the
 * phone's data, and AFC locks contend as on a phone. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <plist/plist.h>

#include "afc.h"
#include "data.h"
#include "dl.h"
#include "dl_xfer.h"
#include "mb2_manifest.h"
#include "world.h"

/* --- stand-ins for the core ------------------------------------------------------ */
struct sim_world {
    pthread_mutex_t lock;
    char dir[256];
    int log_lines;
    char last_log[512];
};
static struct { const char *name; sim_service_fn fn; } services[8];
static size_t nservices;

void sim_service_register(const char *name, sim_service_fn fn)
{
    services[nservices].name = name;
    services[nservices++].fn = fn;
}
static sim_service_fn service(const char *name)
{
    for (size_t i = 0; i < nservices; i++)
        if (strcmp(services[i].name, name) == 0)
            return services[i].fn;
    return NULL;
}
void sim_lock(struct sim_world *w) { pthread_mutex_lock(&w->lock); }
void sim_unlock(struct sim_world *w) { pthread_mutex_unlock(&w->lock); }
void sim_log(struct sim_world *w, struct sim_device *d, const char *fmt, ...)
{
    (void)d;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->last_log, sizeof w->last_log, fmt, ap);
    va_end(ap);
    w->log_lines++;
}
bool sim_fault_hit(struct sim_world *w, struct sim_device *d, const char *op, uint64_t done, uint64_t total)
{
    (void)w; (void)d; (void)op; (void)done; (void)total;
    return false;
}
void sim_throttle(struct sim_world *w, struct sim_device *d, uint64_t bytes) { (void)w; (void)d; (void)bytes; }
const char *sim_world_dir(struct sim_world *w) { return w->dir; }
void sim_reboot(struct sim_world *w, struct sim_device *d) { (void)w; d->boot_count++; }
bool sim_device_reachable(struct sim_device *d, sim_mode m) { return d->plugged && d->mode == m; }

/* --- fixture ------------------------------------------------------------------------ */
struct fx {
    struct sim_world w;
    struct sim_device d;
    int host;                /* our end of the socketpair */
    pthread_t th;
    int dev_fd;
    sim_service_fn fn;
};

static void *run_service(void *arg)
{
    struct fx *f = arg;
    f->fn(&f->w, &f->d, f->dev_fd);
    return NULL;
}

static void start(struct fx *f, const char *name)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f->host = sv[0];
    f->dev_fd = sv[1];
    f->fn = service(name);
    assert_non_null(f->fn);
    assert_int_equal(pthread_create(&f->th, NULL, run_service, f), 0);
}

/* Waits for the service to end; it must close its end (the host reads EOF). */
static void finish(struct fx *f)
{
    char c;
    shutdown(f->host, SHUT_WR);
    while (read(f->host, &c, 1) > 0) {
    }
    pthread_join(f->th, NULL);
    close(f->host);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->w.lock, NULL);
    snprintf(f->w.dir, sizeof f->w.dir, "/tmp/sim-mb2-test-XXXXXX");
    if (!mkdtemp(f->w.dir))
        return -1;
    snprintf(f->d.udid, sizeof f->d.udid, "00008030-0000000000ABCDEF");
    snprintf(f->d.device_name, sizeof f->d.device_name, "Test");
    snprintf(f->d.product_type, sizeof f->d.product_type, "iPhone12,1");
    snprintf(f->d.data_dir, sizeof f->d.data_dir, "%s/dev/data", f->w.dir);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/x", f->d.data_dir);
    sim_data_mkparents(probe);
    f->d.mode = SIM_MODE_NORMAL;
    f->d.plugged = true;
    f->d.storage_free = 1u << 30;
    f->d.storage_total = 1u << 31;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sim_data_rmtree(f->w.dir);
    free(f);
    return 0;
}

/* --- host side helpers ---------------------------------------------------------- */
static plist_t recv_msg(struct fx *f)
{
    plist_t p = NULL;
    assert_int_equal(dl_recv(f->host, &p, 5000), 0);
    return p;
}

static void handshake(struct fx *f)
{
    plist_t v = recv_msg(f);
    assert_string_equal(dl_message_name(v), "DLMessageVersionExchange");
    uint64_t major = 0;
    plist_get_uint_val(plist_array_get_item(v, 1), &major);
    assert_int_equal(major, 300);
    plist_free(v);
    plist_t ok = plist_new_array();
    plist_array_append_item(ok, plist_new_string("DLMessageVersionExchange"));
    plist_array_append_item(ok, plist_new_string("DLVersionsOk"));
    plist_array_append_item(ok, plist_new_uint(300));
    assert_int_equal(dl_send(f->host, ok), 0);
    plist_free(ok);
    plist_t ready = recv_msg(f);
    assert_string_equal(dl_message_name(ready), "DLMessageDeviceReady");
    plist_free(ready);
}

static plist_t request(struct fx *f, plist_t dict)
{
    assert_int_equal(dl_send_process_message(f->host, dict), 0);
    plist_free(dict);
    plist_t r = NULL;
    assert_int_equal(dl_recv_process_message(f->host, &r, 5000), 0);
    return r;
}

static uint64_t error_code(plist_t r)
{
    uint64_t v = 999;
    plist_t n = plist_dict_get_item(r, "ErrorCode");
    assert_non_null(n);
    plist_get_uint_val(n, &v);
    return v;
}

static plist_t hello_msg(double v1, double v2)
{
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "MessageName", plist_new_string("Hello"));
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_real(v1));
    plist_array_append_item(a, plist_new_real(v2));
    plist_dict_set_item(d, "SupportedProtocolVersions", a);
    return d;
}

static void hello(struct fx *f)
{
    plist_t r = request(f, hello_msg(2.0, 2.1));
    assert_int_equal(error_code(r), 0);
    double v = 0;
    plist_get_real_val(plist_dict_get_item(r, "ProtocolVersion"), &v);
    assert_true(v == 2.1);
    plist_free(r);
}

static void send_status(struct fx *f, int64_t code)
{
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageStatusResponse"));
    plist_array_append_item(a, plist_new_uint((uint64_t)code));
    plist_array_append_item(a, plist_new_string(DL_EMPTY_PARAM));
    plist_array_append_item(a, plist_new_dict());
    assert_int_equal(dl_send(f->host, a), 0);
    plist_free(a);
}

static void put32(int fd, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
    assert_int_equal(dl_write_full(fd, b, 4), 0);
}

/* Answers one DLMessageDownloadFiles: content_for(path) gives each file's bytes. */
typedef int (*content_fn)(const char *path, const void **data, size_t *len, void *ctx);
static void serve_download(struct fx *f, plist_t msg, content_fn content, void *ctx)
{
    assert_string_equal(dl_message_name(msg), "DLMessageDownloadFiles");
    plist_t files = plist_array_get_item(msg, 1);
    for (uint32_t i = 0; i < plist_array_get_size(files); i++) {
        const char *p = plist_get_string_ptr(plist_array_get_item(files, i), NULL);
        put32(f->host, (uint32_t)strlen(p));
        assert_int_equal(dl_write_full(f->host, p, strlen(p)), 0);
        const void *data;
        size_t len;
        if (content(p, &data, &len, ctx) != 0) {
            const char *e = "No such file or directory";
            put32(f->host, (uint32_t)strlen(e) + 1);
            assert_int_equal(dl_write_full(f->host, "\x06", 1), 0);
            assert_int_equal(dl_write_full(f->host, e, strlen(e)), 0);
            continue;
        }
        if (len) {
            put32(f->host, (uint32_t)len + 1);
            assert_int_equal(dl_write_full(f->host, "\x0c", 1), 0);
            assert_int_equal(dl_write_full(f->host, data, len), 0);
        }
        put32(f->host, 1);
        assert_int_equal(dl_write_full(f->host, "\x00", 1), 0);
    }
    put32(f->host, 0);
    send_status(f, 0);
}

/* --- tests ------------------------------------------------------------------------ */
static void test_handshake_hello_and_unknown_request(void **state)
{
    struct fx *f = *state;
    start(f, "com.apple.mobilebackup2");
    handshake(f);
    hello(f);
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "MessageName", plist_new_string("Unback"));
    plist_t r = request(f, d);
    assert_int_equal(error_code(r), 2);
    assert_non_null(strstr(plist_get_string_ptr(plist_dict_get_item(r, "ErrorDescription"), NULL), "MBErrorDomain/2"));
    plist_free(r);
    assert_int_equal(dl_send_disconnect(f->host), 0);
    finish(f);
}

static void test_hello_without_common_version(void **state)
{
    struct fx *f = *state;
    start(f, "com.apple.mobilebackup2");
    handshake(f);
    plist_t r = request(f, hello_msg(3.0, 4.0));
    assert_int_equal(error_code(r), 1);
    assert_null(plist_dict_get_item(r, "ProtocolVersion"));
    plist_free(r);
    finish(f);   /* the phone hangs up by itself */
}

/* Each hostile opening must end the session (EOF for the host), never crash or hang. */
static void test_hostile_bytes(void **state)
{
    struct fx *f = *state;
#define RAW(s) { s, sizeof s - 1, false }
#define FRAMED(s) { s, sizeof s - 1, true }
    static const struct { const char *bytes; size_t len; bool framed; } cases[] = {
        RAW("\x13\x37\xde\xad\xbe\xef\x00\x01"),                 /* random bytes */
        RAW("\xff\xff\xff\xff" "bplist00"),                        /* a 4 GiB length */
        RAW("\x00\x00\x00\x00"),                                   /* a zero length */
        RAW("\x00\x00\x01\x00" "bplist00\xd1"),                   /* a truncated body */
        FRAMED("<?xml version=\"1.0\"?><plist><dict/></plist>"),   /* a dict, not a DL array */
        FRAMED("<?xml version=\"1.0\"?><plist><array><integer>1</integer></array></plist>"),
        FRAMED("<?xml version=\"1.0\"?><plist><array><string>DLMessageProcessMessage</string>"
               "<string>not a dict</string></array></plist>"),
        FRAMED("bplist00garbage-garbage-garbage-garbage"),          /* a broken binary plist */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int after_hello = 0; after_hello < 2; after_hello++) {
            start(f, "com.apple.mobilebackup2");
            handshake(f);
            if (after_hello)
                hello(f);
            if (cases[i].framed)
                put32(f->host, (uint32_t)cases[i].len);
            dl_write_full(f->host, cases[i].bytes, cases[i].len);
            finish(f);
        }
    }
    /* and a host that answers the version exchange with something else */
    start(f, "com.apple.mobilebackup2");
    plist_free(recv_msg(f));
    plist_t bad = plist_new_array();
    plist_array_append_item(bad, plist_new_string("DLMessageVersionExchange"));
    plist_array_append_item(bad, plist_new_string("DLVersionsBad"));
    dl_send(f->host, bad);
    plist_free(bad);
    finish(f);
}

struct backup_files {
    void *status, *manifest, *db;
    uint32_t status_len, manifest_len;
    size_t db_len;
    const char *content;   /* every data file's content */
};

static int backup_content(const char *path, const void **data, size_t *len, void *ctx)
{
    struct backup_files *b = ctx;
    const char *name = strrchr(path, '/') + 1;
    if (strcmp(name, "Status.plist") == 0) { *data = b->status; *len = b->status_len; return 0; }
    if (strcmp(name, "Manifest.plist") == 0) { *data = b->manifest; *len = b->manifest_len; return 0; }
    if (strcmp(name, "Manifest.db") == 0) { *data = b->db; *len = b->db_len; return 0; }
    if (strcmp(name, "Info.plist") == 0) return -1;
    *data = b->content;
    *len = strlen(b->content);
    return 0;
}

/* Runs a Restore whose Manifest.db holds `e`, serving `content` for every file, and
 * returns the phone's ErrorCode. */
static uint64_t restore_with(struct fx *f, struct mb2_entry *e, size_t n, const char *content)
{
    struct backup_files b = { .content = content };
    plist_t st = mb2_status_plist_new("finished", true, "UUID");
    plist_to_bin(st, (char **)&b.status, &b.status_len);
    plist_free(st);
    plist_t mf = mb2_manifest_plist_new(&f->d, false);
    plist_to_bin(mf, (char **)&b.manifest, &b.manifest_len);
    plist_free(mf);
    char dbpath[300], err[200];
    snprintf(dbpath, sizeof dbpath, "%s/host-Manifest.db", f->w.dir);
    assert_int_equal(mb2_manifest_db_write(dbpath, e, n, err, sizeof err), 0);
    FILE *fp = fopen(dbpath, "rb");
    fseek(fp, 0, SEEK_END);
    b.db_len = (size_t)ftell(fp);
    rewind(fp);
    b.db = malloc(b.db_len);
    assert_int_equal(fread(b.db, 1, b.db_len, fp), b.db_len);
    fclose(fp);

    start(f, "com.apple.mobilebackup2");
    handshake(f);
    hello(f);
    plist_t req = plist_new_dict();
    plist_dict_set_item(req, "MessageName", plist_new_string("Restore"));
    plist_dict_set_item(req, "TargetIdentifier", plist_new_string(f->d.udid));
    plist_dict_set_item(req, "SourceIdentifier", plist_new_string("SOURCE"));
    plist_t o = plist_new_dict();
    plist_dict_set_item(o, "RestoreSystemFiles", plist_new_bool(1));
    plist_dict_set_item(o, "RestoreShouldReboot", plist_new_bool(0));
    plist_dict_set_item(o, "RestoreDontCopyBackup", plist_new_bool(1));
    plist_dict_set_item(req, "Options", o);
    assert_int_equal(dl_send_process_message(f->host, req), 0);
    plist_free(req);
    uint64_t code = 999;
    for (;;) {
        plist_t m = recv_msg(f);
        const char *name = dl_message_name(m);
        assert_non_null(name);
        if (strcmp(name, "DLMessageDownloadFiles") == 0) {
            serve_download(f, m, backup_content, &b);
        } else {
            assert_string_equal(name, "DLMessageProcessMessage");
            code = error_code(plist_array_get_item(m, 1));
            plist_free(m);
            break;
        }
        plist_free(m);
    }
    dl_send_disconnect(f->host);
    finish(f);
    free(b.status);
    free(b.manifest);
    free(b.db);
    return code;
}

static void entry(struct mb2_entry *e, const char *domain, const char *rel, const char *content)
{
    memset(e, 0, sizeof *e);
    e->domain = (char *)domain;
    e->relpath = (char *)rel;
    e->flags = MB2_FLAG_FILE;
    e->mode = 0100644;
    e->size = strlen(content);
    mb2_file_id(domain, rel, e->file_id);
    unsigned char md[20];
    unsigned int len = 0;
    EVP_Digest(content, strlen(content), md, &len, EVP_sha1(), NULL);
    memcpy(e->digest, md, 20);
    e->has_digest = true;
}

static void test_restore_writes_checked_files(void **state)
{
    struct fx *f = *state;
    struct mb2_entry e[2];
    entry(&e[0], "HomeDomain", "Library/Notes/a.txt", "hello phone");
    entry(&e[1], "CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", "hello phone");
    assert_int_equal(restore_with(f, e, 2, "hello phone"), 0);
    char p[4400], buf[64] = "";
    snprintf(p, sizeof p, "%s/HomeDomain/Library/Notes/a.txt", f->d.data_dir);
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "hello phone");
    assert_non_null(strstr(f->w.last_log, "backup-restore finished: 2 files"));
}

static void test_restore_refuses_escaping_paths(void **state)
{
    struct fx *f = *state;
    struct mb2_entry e[1];
    entry(&e[0], "HomeDomain", "../../escaped.txt", "x");
    assert_int_equal(restore_with(f, e, 1, "x"), 205);
    char p[4400];
    snprintf(p, sizeof p, "%s/escaped.txt", f->w.dir);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/dev/escaped.txt", f->w.dir);
    assert_int_not_equal(stat(p, &st), 0);
    entry(&e[0], "../Home", "x.txt", "x");
    assert_int_equal(restore_with(f, e, 1, "x"), 205);
    /* a file under a file cannot exist */
    struct mb2_entry two[2];
    entry(&two[0], "HomeDomain", "Library/a", "x");
    entry(&two[1], "HomeDomain", "Library/a/b", "x");
    assert_int_equal(restore_with(f, two, 2, "x"), 205);
    assert_non_null(strstr(f->w.last_log, "lies under another file"));
}

static void test_restore_refuses_wrong_size_and_digest(void **state)
{
    struct fx *f = *state;
    char digest_before[65], after[65];
    assert_int_equal(sim_data_seed(&f->d, 3, 4, 1000), 0);
    assert_int_equal(sim_data_digest(&f->d, digest_before), 0);
    struct mb2_entry e[1];
    entry(&e[0], "HomeDomain", "Library/a.txt", "short");
    assert_int_equal(restore_with(f, e, 1, "longer than promised"), 205);
    entry(&e[0], "HomeDomain", "Library/a.txt", "same size A");
    assert_int_equal(restore_with(f, e, 1, "same size B"), 205);
    assert_int_equal(sim_data_digest(&f->d, after), 0);
    assert_string_equal(digest_before, after);
}

static void test_restore_device_full(void **state)
{
    struct fx *f = *state;
    f->d.storage_free = 3;
    struct mb2_entry e[1];
    entry(&e[0], "HomeDomain", "Library/a.txt", "four");
    assert_int_equal(restore_with(f, e, 1, "four"), 106);
}

static void test_mbfile_roundtrip_and_garbage(void **state)
{
    (void)state;
    struct mb2_entry e, back;
    entry(&e, "HomeDomain", "Library/SMS/sms.db", "abc");
    plist_t a = mb2_mbfile_new(&e, 7);
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(a, &bin, &len);
    plist_free(a);
    char err[200];
    memset(&back, 0, sizeof back);
    assert_int_equal(mb2_mbfile_parse(bin, len, &back, err, sizeof err), 0);
    assert_int_equal(back.size, 3);
    assert_int_equal(back.mode, 0100644);
    assert_true(back.has_digest);
    assert_memory_equal(back.digest, e.digest, 20);
    /* every truncation and every single-byte flip parses or fails, never crashes */
    for (uint32_t i = 0; i < len; i++) {
        mb2_mbfile_parse(bin, i, &back, err, sizeof err);
        char saved = bin[i];
        bin[i] ^= 0x5a;
        mb2_mbfile_parse(bin, len, &back, err, sizeof err);
        bin[i] = saved;
    }
    free(bin);
    assert_int_equal(mb2_mbfile_parse("garbage!", 8, &back, err, sizeof err), -1);
    char fid[41];
    mb2_file_id("HomeDomain", "Library/SMS/sms.db", fid);
    assert_string_equal(fid, "3d0d7e5fb2ce288813306e4d4636395e047a3d28");
}

/* --- AFC ------------------------------------------------------------------------ */
static void afc_send(struct fx *f, uint64_t num, uint64_t op, const void *data, size_t dlen, const void *payload, size_t plen)
{
    unsigned char h[40];
    memcpy(h, AFC_MAGIC, 8);
    uint64_t v[4] = { 40 + dlen + plen, 40 + dlen, num, op };
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 8; i++)
            h[8 + 8 * k + i] = (unsigned char)(v[k] >> (8 * i));
    assert_int_equal(dl_write_full(f->host, h, 40), 0);
    if (dlen)
        assert_int_equal(dl_write_full(f->host, data, dlen), 0);
    if (plen)
        assert_int_equal(dl_write_full(f->host, payload, plen), 0);
}

/* Reads one reply; returns its operation, its first 8 data bytes in *v. */
static uint64_t afc_reply(struct fx *f, uint64_t num, uint64_t *v, char *data, size_t cap)
{
    unsigned char h[40];
    assert_int_equal(dl_read_full(f->host, h, 40, 5000), 0);
    assert_memory_equal(h, AFC_MAGIC, 8);
    uint64_t w[4] = { 0 };
    for (int k = 0; k < 4; k++)
        for (int i = 7; i >= 0; i--)
            w[k] = (w[k] << 8) | h[8 + 8 * k + i];
    assert_int_equal(w[2], num);
    size_t body = (size_t)(w[0] - 40);
    char buf[4096] = { 0 };
    assert_true(body <= sizeof buf);
    assert_int_equal(dl_read_full(f->host, buf, body, 5000), 0);
    *v = 0;
    for (int i = 7; i >= 0 && body >= 8; i--)
        *v = (*v << 8) | (unsigned char)buf[i];
    if (data)
        memcpy(data, buf, body < cap ? body : cap);
    return w[3];
}

static uint64_t afc_open(struct fx *f, uint64_t num, uint64_t mode, const char *path, uint64_t *handle)
{
    unsigned char d[300] = { 0 };
    for (int i = 0; i < 8; i++)
        d[i] = (unsigned char)(mode >> (8 * i));
    memcpy(d + 8, path, strlen(path) + 1);
    afc_send(f, num, AFC_OP_FILE_OPEN, d, 8 + strlen(path) + 1, NULL, 0);
    return afc_reply(f, num, handle, NULL, 0);
}

static uint64_t afc_handle_op(struct fx *f, uint64_t num, uint64_t op, uint64_t h, uint64_t arg, uint64_t *v)
{
    unsigned char d[16];
    for (int i = 0; i < 8; i++) {
        d[i] = (unsigned char)(h >> (8 * i));
        d[8 + i] = (unsigned char)(arg >> (8 * i));
    }
    afc_send(f, num, op, d, 16, NULL, 0);
    return afc_reply(f, num, v, NULL, 0);
}

static void test_afc_lock_paths_and_garbage(void **state)
{
    struct fx *f = *state;
    start(f, "com.apple.afc");
    uint64_t h1 = 0, h2 = 0, v = 0;
    assert_int_equal(afc_open(f, 1, 2, "/com.apple.itunes.lock_sync", &h1), AFC_OP_FILE_OPEN_RES);
    assert_int_equal(afc_open(f, 2, 2, "/com.apple.itunes.lock_sync", &h2), AFC_OP_FILE_OPEN_RES);
    assert_int_not_equal(h1, h2);
    assert_int_equal(afc_handle_op(f, 3, AFC_OP_FILE_LOCK, h1, 2 | 4, &v), AFC_OP_STATUS);
    assert_int_equal(v, AFC_OK);
    assert_int_equal(afc_handle_op(f, 4, AFC_OP_FILE_LOCK, h2, 2 | 4, &v), AFC_OP_STATUS);
    assert_int_equal(v, AFC_ERR_WOULD_BLOCK);
    assert_int_equal(afc_handle_op(f, 5, AFC_OP_FILE_LOCK, h1, 8 | 4, &v), AFC_OP_STATUS);
    assert_int_equal(afc_handle_op(f, 6, AFC_OP_FILE_LOCK, h2, 2 | 4, &v), AFC_OP_STATUS);
    assert_int_equal(v, AFC_OK);
    /* write, read back through a new handle */
    afc_send(f, 7, AFC_OP_FILE_WRITE, (unsigned char[8]){ (unsigned char)h1 }, 8, "restore me", 10);
    assert_int_equal(afc_reply(f, 7, &v, NULL, 0), AFC_OP_STATUS);
    assert_int_equal(v, AFC_OK);
    uint64_t h3 = 0;
    assert_int_equal(afc_open(f, 8, 1, "com.apple.itunes.lock_sync", &h3), AFC_OP_FILE_OPEN_RES);
    char data[64] = "";
    unsigned char rd[16] = { (unsigned char)h3 };
    rd[8] = 64;
    afc_send(f, 9, AFC_OP_FILE_READ, rd, 16, NULL, 0);
    assert_int_equal(afc_reply(f, 9, &v, data, sizeof data - 1), AFC_OP_DATA);
    assert_memory_equal(data, "restore me", 10);
    /* the phone's media folder is the whole world: no way out */
    assert_int_equal(afc_open(f, 10, 4, "/../../escape", &v), AFC_OP_STATUS);
    assert_int_equal(v, AFC_ERR_PERM_DENIED);
    assert_int_equal(afc_open(f, 11, 1, "/missing", &v), AFC_OP_STATUS);
    assert_int_equal(v, AFC_ERR_NOT_FOUND);
    assert_int_equal(afc_handle_op(f, 12, AFC_OP_FILE_CLOSE, 99, 0, &v), AFC_OP_STATUS);
    assert_int_equal(v, AFC_ERR_INVALID_ARG);
    afc_send(f, 13, AFC_OP_GET_DEVINFO, NULL, 0, NULL, 0);
    assert_int_equal(afc_reply(f, 13, &v, data, sizeof data - 1), AFC_OP_DATA);
    assert_string_equal(data, "Model");
    afc_send(f, 14, 0x77, NULL, 0, NULL, 0);
    assert_int_equal(afc_reply(f, 14, &v, NULL, 0), AFC_OP_STATUS);
    assert_int_equal(v, AFC_ERR_NOT_SUPPORTED);
    /* a packet whose lengths lie ends the connection */
    unsigned char liar[40];
    memcpy(liar, AFC_MAGIC, 8);
    memset(liar + 8, 0xff, 32);
    dl_write_full(f->host, liar, 40);
    finish(f);
    char p[4400];
    snprintf(p, sizeof p, "%s/escape", f->w.dir);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0);
}

/* --- a small deterministic fuzzer: mutated DL messages and mutated replies -------- */
static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static plist_t seed_message(int which, const char *udid)
{
    plist_t d = plist_new_dict();
    static const char *const names[] = { "Backup", "Restore", "Info", "List", "Unback", "Hello" };
    plist_dict_set_item(d, "MessageName", plist_new_string(names[which % 6]));
    plist_dict_set_item(d, "TargetIdentifier", plist_new_string(udid));
    plist_dict_set_item(d, "SourceIdentifier", plist_new_string(udid));
    plist_t o = plist_new_dict();
    plist_dict_set_item(o, "RestoreSystemFiles", plist_new_bool(1));
    plist_dict_set_item(o, "RestoreDontCopyBackup", plist_new_bool(which & 1));
    plist_dict_set_item(o, "Password", plist_new_string("pw"));
    plist_dict_set_item(d, "Options", o);
    plist_t a = plist_new_array();
    plist_array_append_item(a, plist_new_string("DLMessageProcessMessage"));
    plist_array_append_item(a, d);
    return a;
}

static void mutate(unsigned char *b, size_t *len, uint64_t *x)
{
    int n = 1 + (int)(rng_next(x) % 8);
    for (int i = 0; i < n && *len > 0; i++) {
        size_t at = (size_t)(rng_next(x) % *len);
        switch (rng_next(x) % 4) {
        case 0: b[at] ^= (unsigned char)(1u << (rng_next(x) % 8)); break;
        case 1: b[at] = (unsigned char)rng_next(x); break;
        case 2: *len = at; break;                                   /* truncate */
        default: b[at] = (unsigned char)(b[at] + 1); break;
        }
    }
}

/* 200 sessions: a mutated request, then for up to 4 of the phone's messages a reply of
 * mutated bytes (a status response, a file stream, or noise). The phone must end every
 * session by itself, without a crash, a sanitizer report or a write outside its data. */
static void test_fuzz_sessions(void **state)
{
    struct fx *f = *state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    assert_int_equal(sim_data_seed(&f->d, 1, 6, 5000), 0);
    for (int round = 0; round < 200; round++) {
        start(f, "com.apple.mobilebackup2");
        handshake(f);
        hello(f);
        plist_t msg = seed_message(round, f->d.udid);
        char *bin = NULL;
        uint32_t blen = 0;
        plist_to_bin(msg, &bin, &blen);
        plist_free(msg);
        size_t len = blen;
        if (round % 3 != 0)   /* a third go in unmutated so the phone gets deep into a request */
            mutate((unsigned char *)bin, &len, &x);
        put32(f->host, (uint32_t)len);
        dl_write_full(f->host, bin, len);
        free(bin);
        for (int step = 0; step < 4; step++) {
            plist_t m = NULL;
            if (dl_recv(f->host, &m, 50) != 0)   /* the phone waits for more: hang up */
                break;
            const char *name = dl_message_name(m);
            unsigned char reply[512];
            size_t rlen = 0;
            if (name && strcmp(name, "DLMessageDownloadFiles") == 0) {
                /* a plausible stream for the first path: header, data block, success */
                const char *p = plist_get_string_ptr(plist_array_get_item(plist_array_get_item(m, 1), 0), NULL);
                size_t pl = p ? strlen(p) : 0;
                if (pl > 200)
                    pl = 200;
                unsigned char *q = reply;
                q[0] = 0; q[1] = 0; q[2] = 0; q[3] = (unsigned char)pl; q += 4;
                memcpy(q, p ? p : "", pl); q += pl;
                memcpy(q, "\x00\x00\x00\x05\x0c" "abcd" "\x00\x00\x00\x01\x00" "\x00\x00\x00\x00", 18); q += 18;
                rlen = (size_t)(q - reply);
            } else {
                plist_t st = plist_new_array();
                plist_array_append_item(st, plist_new_string("DLMessageStatusResponse"));
                plist_array_append_item(st, plist_new_uint(rng_next(&x) % 3 ? 0 : (uint64_t)-13));
                plist_array_append_item(st, plist_new_string(DL_EMPTY_PARAM));
                plist_array_append_item(st, plist_new_uint(1u << 30));
                char *sb = NULL;
                uint32_t sl = 0;
                plist_to_bin(st, &sb, &sl);
                plist_free(st);
                if (sl + 4 <= sizeof reply) {
                    reply[0] = (unsigned char)(sl >> 24); reply[1] = (unsigned char)(sl >> 16);
                    reply[2] = (unsigned char)(sl >> 8); reply[3] = (unsigned char)sl;
                    memcpy(reply + 4, sb, sl);
                    rlen = sl + 4;
                }
                free(sb);
            }
            plist_free(m);
            if (rng_next(&x) % 2)
                mutate(reply, &rlen, &x);
            if (dl_write_full(f->host, reply, rlen) != 0)
                break;
        }
        finish(f);
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/dev", f->w.dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);   /* the phone's folder is still there */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_hello_and_unknown_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_without_common_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_writes_checked_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_escaping_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_wrong_size_and_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_device_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mbfile_roundtrip_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_afc_lock_paths_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzz_sessions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
