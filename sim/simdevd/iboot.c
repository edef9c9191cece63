/* iboot.c: the phone in recovery (iBoot) and DFU (SecureROM) mode, as libsimusb sees it.
 *
 * libsimusb (sim/simusb/) turns every libusb call libirecovery makes into a request on
 * the usb socket: plists framed by a 4-byte big-endian length, {"Request": ...} in and
 * {"Error": n, "Result": n, ...} out (Error is the libusb error code negated; see
 * docs/simulator-recovery.md). A connection is one of three kinds, fixed by its first
 * request:
 *   List  - one answer with the devices now in recovery or DFU mode, then closed;
 *   Watch - the same list pushed again at every change, for hotplug (sim_wait_change);
 *   Open  - a device handle bound to one enumeration of one device (its location).
 *
 * A location (bus << 16 | address) names one enumeration: the address changes whenever
 * the phone re-enumerates (reboot, mode change, a jump to a new image), so a handle from
 * before fails with LIBUSB_ERROR_NO_DEVICE as on a real bus, and hotplug listeners see
 * the device leave and come back.
 *
 * What a handle can do follows libirecovery 1.0.0:
 *   recovery: control 0x40/0 sends an iBoot command (a NUL-terminated line), 0xC0/0 reads
 *             the answer of the last getenv, 0x41/0 starts an upload whose data then comes
 *             by bulk transfer on endpoint 0x04; bulk IN on 0x81 reads the (empty) console.
 *   DFU:      the USB DFU class requests: DNLOAD (0x21/1) blocks, GETSTATUS (0xA1/3),
 *             GETSTATE (0xA1/5), CLRSTATUS (0x21/4), ABORT (0x21/6). The last block ends
 *             with libirecovery's 16-byte suffix and CRC, checked in the manifest phase;
 *             a zero-length DNLOAD starts it and a bus reset then boots the image, so the
 *             phone comes back in recovery mode (running the iBSS it was sent).
 * Anything else stalls (LIBUSB_ERROR_PIPE), as a real device does.
 *
 * Per-phone state (an uploaded image, the DFU state machine) lives here, keyed by the
 * device index and guarded by the world lock; it is forgotten whenever the phone boots.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <plist/plist.h>
#include "world.h"

#include "iboot.h"

#define FRAME_MAX (1u * 1024u * 1024u + 4096u)
#define MAX_PHONES 64
#define IO_TIMEOUT_MS 30000              /* within a message */
#define IDLE_TIMEOUT_MS (60 * 60 * 1000)  /* between messages: an irecovery shell may sit idle */

/* libusb error codes (libusb.h is not needed for these few). */
enum { E_IO = 1, E_INVALID_PARAM = 2, E_NO_DEVICE = 4, E_NOT_FOUND = 5, E_PIPE = 9, E_NOT_SUPPORTED = 12 };

/* USB DFU states and statuses (DFU 1.1 spec). */
enum { DFU_IDLE = 2, DFU_DNLOAD_IDLE = 5, DFU_MANIFEST_SYNC = 6, DFU_MANIFEST = 7,
       DFU_MANIFEST_WAIT_RESET = 8, DFU_ERROR = 10 };
enum { DFU_OK = 0, DFU_ERR_VERIFY = 7, DFU_ERR_STALLEDPKT = 15 };

struct phone {
    unsigned gen;                /* bumps at every re-enumeration without a boot */
    unsigned boot_seen;          /* d->boot_count when this state was last valid */
    sim_mode mode_seen;          /* d->mode then: iBoot's and the SecureROM's state do not mix */
    bool upload_open;            /* recovery: 0x41 received, bulk data expected */
    uint64_t upload_bytes;       /* recovery: bytes of the image being uploaded */
    uint64_t image_bytes;        /* an image is loaded (recovery upload or DFU), its size */
    int dfu_state, dfu_status;
    uint32_t dfu_crc;            /* CRC over everything but the last 4 bytes received */
    unsigned char dfu_tail[4];   /* the last 4 bytes received (the CRC once complete) */
    size_t dfu_tail_len;
    uint64_t dfu_bytes;
    bool dfu_verified;
};

static struct phone phones[MAX_PHONES];

static void dfu_clear(struct phone *p)
{
    p->dfu_state = DFU_IDLE;
    p->dfu_status = DFU_OK;
    p->dfu_crc = 0xFFFFFFFFu;
    p->dfu_tail_len = 0;
    p->dfu_bytes = 0;
    p->dfu_verified = false;
}

/* Lock held. The phone's state, forgotten if it booted or changed mode since it was last
 * used (the re-enumeration counter is kept). */
static struct phone *phone_of(struct sim_device *d)
{
    if (d->index < 0 || d->index >= MAX_PHONES)
        return NULL;
    struct phone *p = &phones[d->index];
    if (p->boot_seen != d->boot_count || p->mode_seen != d->mode) {
        unsigned gen = p->gen;
        memset(p, 0, sizeof *p);
        p->gen = gen;
        p->boot_seen = d->boot_count;
        p->mode_seen = d->mode;
        dfu_clear(p);
    }
    if (p->dfu_state == 0)
        dfu_clear(p);
    return p;
}

void sim_iboot_reset(struct sim_device *d)
{
    struct phone *p = phone_of(d);
    if (!p)
        return;
    unsigned gen = p->gen, boot = p->boot_seen;
    sim_mode mode = p->mode_seen;
    memset(p, 0, sizeof *p);
    p->gen = gen;
    p->boot_seen = boot;
    p->mode_seen = mode;
    dfu_clear(p);
}

void sim_iboot_reenumerate(struct sim_world *w, struct sim_device *d)
{
    struct phone *p = phone_of(d);
    if (p)
        p->gen++;
    sim_notify_change(w);
}

static bool on_usb(const struct sim_device *d)
{
    return d->plugged && (d->mode == SIM_MODE_RECOVERY || d->mode == SIM_MODE_DFU);
}

/* Lock held. */
static uint32_t location_of(struct sim_device *d)
{
    struct phone *p = phone_of(d);
    unsigned gen = p ? p->gen : 0;
    uint32_t bus = (uint32_t)(d->index + 1) & 0xff;
    uint32_t addr = 1 + (d->boot_count * 4u + gen * 2u + (d->mode == SIM_MODE_DFU)) % 126u;
    return bus << 16 | addr;
}

void sim_iboot_serial(struct sim_device *d, char *out, size_t len)
{
    int n = snprintf(out, len, "CPID:%04X CPRV:11 CPFM:03 SCEP:01 BDID:%02X ECID:%016llX IBFL:3C",
                     d->cpid, d->bdid, (unsigned long long)d->ecid);
    if (n < 0 || (size_t)n >= len)
        return;
    if (d->mode == SIM_MODE_DFU)
        snprintf(out + n, len - (size_t)n, " SRTG:[iBoot-3865.0.0.4.7]");
    else
        snprintf(out + n, len - (size_t)n, " SRNM:[%s]", d->serial);
}

/* "NONC:<ApNonce> SNON:<SEPNonce>" in hex: fresh at every boot, as without a generator. */
static void nonce_string(struct sim_device *d, char *out, size_t len)
{
    unsigned char seed[32], md[SHA256_DIGEST_LENGTH], sep[SHA256_DIGEST_LENGTH];
    memset(seed, 0, sizeof seed);
    memcpy(seed, &d->ecid, sizeof d->ecid);
    memcpy(seed + 8, &d->boot_count, sizeof d->boot_count);
    SHA256(seed, sizeof seed, md);
    seed[31] = 1;
    SHA256(seed, sizeof seed, sep);
    char a[65], s[41];
    for (int i = 0; i < 32; i++)
        sprintf(a + 2 * i, "%02X", md[i]);
    for (int i = 0; i < 20; i++)
        sprintf(s + 2 * i, "%02X", sep[i]);
    snprintf(out, len, "NONC:%s SNON:%s", a, s);
}

/* ---- framing ---- */

static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    char *p = buf;
    while (len > 0) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A dict, or NULL when the peer closed or sent anything else (then the caller hangs up). */
plist_t sim_iboot_frame_recv(int fd)
{
    unsigned char hdr[4];
    if (read_full(fd, hdr, 4, IDLE_TIMEOUT_MS) != 0)
        return NULL;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0 || len > FRAME_MAX)
        return NULL;
    char *buf = malloc(len);
    if (!buf || read_full(fd, buf, len, IO_TIMEOUT_MS) != 0) {
        free(buf);
        return NULL;
    }
    plist_t p = NULL;
    /* through the nesting guard: libplist 2.2 overflows its stack on deep input */
    if (sim_plist_from_bytes(buf, len, (sim_plist_t *)&p) != 0)
        p = NULL;
    free(buf);
    if (p && plist_get_node_type(p) != PLIST_DICT) {
        plist_free(p);
        p = NULL;
    }
    return p;
}

int sim_iboot_frame_send(int fd, plist_t msg, bool xml)
{
    char *bin = NULL;
    uint32_t len = 0;
    if (xml)
        plist_to_xml(msg, &bin, &len);
    else
        plist_to_bin(msg, &bin, &len);
    int rc = -1;
    if (bin && len > 0 && len <= FRAME_MAX) {
        unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                                 (unsigned char)(len >> 8), (unsigned char)len };
        rc = write_full(fd, hdr, 4) == 0 && write_full(fd, bin, len) == 0 ? 0 : -1;
    }
    free(bin);
    return rc;
}

static bool dict_uint(plist_t dict, const char *key, uint64_t *out)
{
    plist_t n = plist_dict_get_item(dict, key);
    if (!n || plist_get_node_type(n) != PLIST_UINT)
        return false;
    plist_get_uint_val(n, out);
    return true;
}

/* Sends {"Error": code} or {"Result": result} (+ extra, consumed, when not NULL). */
static int answer(int fd, int err, uint64_t result, plist_t extra)
{
    plist_t r = extra ? extra : plist_new_dict();
    if (err)
        plist_dict_set_item(r, "Error", plist_new_uint((uint64_t)err));
    else
        plist_dict_set_item(r, "Result", plist_new_uint(result));
    int rc = sim_iboot_frame_send(fd, r, false);
    plist_free(r);
    return rc;
}

/* ---- listing ---- */

/* Lock held. The devices now on the usb socket. */
static plist_t device_list(struct sim_world *w)
{
    plist_t arr = plist_new_array();
    for (size_t i = 0; i < sim_device_count(w); i++) {
        struct sim_device *d = sim_device_at(w, i);
        if (!on_usb(d))
            continue;
        char serial[256], nonces[160];
        sim_iboot_serial(d, serial, sizeof serial);
        nonce_string(d, nonces, sizeof nonces);
        plist_t e = plist_new_dict();
        plist_dict_set_item(e, "Location", plist_new_uint(location_of(d)));
        plist_dict_set_item(e, "ProductID", plist_new_uint(d->mode == SIM_MODE_DFU ? SIM_PID_DFU : SIM_PID_RECOVERY));
        plist_dict_set_item(e, "ECID", plist_new_uint(d->ecid));
        plist_dict_set_item(e, "Mode", plist_new_string(d->mode == SIM_MODE_DFU ? "dfu" : "recovery"));
        plist_dict_set_item(e, "Serial", plist_new_string(serial));
        plist_dict_set_item(e, "Nonces", plist_new_string(nonces));
        plist_array_append_item(arr, e);
    }
    plist_t msg = plist_new_dict();
    plist_dict_set_item(msg, "Devices", arr);
    return msg;
}

/* Pushes the list at once and after every change, until the client hangs up. */
static void serve_watch(struct sim_world *w, int fd)
{
    char *last = NULL;
    uint32_t last_len = 0;
    sim_lock(w);
    for (;;) {
        plist_t msg = device_list(w);
        sim_unlock(w);
        char *bin = NULL;
        uint32_t len = 0;
        plist_to_bin(msg, &bin, &len);
        bool changed = !last || len != last_len || memcmp(bin, last, len) != 0;
        int rc = changed ? sim_iboot_frame_send(fd, msg, false) : 0;
        plist_free(msg);
        if (changed) {
            free(last);
            last = bin;
            last_len = len;
        } else {
            free(bin);
        }
        /* The client never speaks after "Watch": anything readable is its hang-up. */
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (rc != 0 || poll(&pfd, 1, 0) != 0)
            break;
        sim_lock(w);
        sim_wait_change(w, 0.5);
    }
    free(last);
}

/* ---- iBoot commands ---- */

static bool valid_var_name(const char *s)
{
    if (!*s || strlen(s) >= 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

struct handle {
    int fd;
    int device;                  /* index */
    uint32_t location;
    char reply[256];             /* what the next 0xC0 read returns (after getenv) */
    size_t reply_len;
};

/* Lock held. Runs one iBoot command line. Unknown commands are logged and ignored, as
 * iBoot prints an error on its console and carries on. */
static void iboot_command(struct sim_world *w, struct sim_device *d, struct phone *p, struct handle *h, char *line)
{
    char *cmd = line;
    while (*cmd == ' ')
        cmd++;
    char *args = cmd + strcspn(cmd, " ");
    if (*args)
        *args++ = '\0';
    while (*args == ' ')
        args++;
    h->reply_len = 0;
    if (!strcmp(cmd, "getenv")) {
        const char *v = valid_var_name(args) ? sim_nvram_get(d, args) : NULL;
        snprintf(h->reply, sizeof h->reply, "%s", v ? v : "");
        h->reply_len = strlen(h->reply) + 1;
    } else if (!strcmp(cmd, "setenv")) {
        char *value = args + strcspn(args, " ");
        if (*value)
            *value++ = '\0';
        while (*value == ' ')
            value++;
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        if (!valid_var_name(args) || strlen(value) >= 256) {
            sim_log(w, d, "iboot: setenv refused (bad name or value)");
            return;
        }
        sim_nvram_set(d, args, value);
        sim_log(w, d, "iboot: setenv %s %s", args, value);
    } else if (!strcmp(cmd, "saveenv")) {
        sim_nvram_save(d);
        sim_log(w, d, "iboot: saveenv");
    } else if (!strcmp(cmd, "reboot") || !strcmp(cmd, "reset")) {
        sim_log(w, d, "iboot: %s", cmd);
        sim_iboot_reset(d);
        sim_reboot(w, d);
    } else if (!strcmp(cmd, "fsboot")) {
        sim_log(w, d, "iboot: fsboot");
        if (d->os == SIM_OS_WHOLE && !d->stuck_in_recovery) {
            d->boot_count++;
            sim_set_mode(w, d, SIM_MODE_NORMAL);
        } else {
            sim_log(w, d, "iboot: fsboot failed (OS not whole), staying in recovery");
        }
    } else if (!strcmp(cmd, "go") || !strcmp(cmd, "bootx")) {
        if (!p->image_bytes) {
            sim_log(w, d, "iboot: %s refused: no image uploaded", cmd);
            return;
        }
        /* The image (iBEC, say) takes over and the phone comes back as a new USB device,
         * still in recovery: the restore itself is driven through restore.c. */
        sim_log(w, d, "iboot: %s (jumps to the %llu-byte image; re-enumerates)", cmd,
                (unsigned long long)p->image_bytes);
        p->image_bytes = 0;
        sim_iboot_reenumerate(w, d);
    } else if (!strcmp(cmd, "ramdisk") || !strcmp(cmd, "devicetree") || !strcmp(cmd, "firmware") ||
               !strcmp(cmd, "rsepfirmware")) {
        if (!p->image_bytes)
            sim_log(w, d, "iboot: %s refused: no image uploaded", cmd);
        else
            sim_log(w, d, "iboot: %s (%llu bytes)", cmd, (unsigned long long)p->image_bytes);
        p->image_bytes = 0;
    } else if (!strcmp(cmd, "bgcolor") || !strcmp(cmd, "setpicture") || !strcmp(cmd, "setpictures")) {
        sim_log(w, d, "iboot: %s %.64s", cmd, args);
    } else if (*cmd) {
        sim_log(w, d, "iboot: unknown command '%.48s'", cmd);
    }
}

/* ---- DFU ---- */

static uint32_t crc_step(uint32_t crc, unsigned char b)
{
    crc ^= b;
    for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    return crc;
}

/* Keeps the last 4 bytes aside: once the transfer ends they must be the CRC of the rest. */
static void dfu_take(struct phone *p, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p->dfu_tail_len == 4) {
            p->dfu_crc = crc_step(p->dfu_crc, p->dfu_tail[0]);
            memmove(p->dfu_tail, p->dfu_tail + 1, 3);
            p->dfu_tail_len = 3;
        }
        p->dfu_tail[p->dfu_tail_len++] = data[i];
    }
    p->dfu_bytes += len;
}


/* Lock held. The manifest phase: the suffix must hold libirecovery's CRC. */
static void dfu_manifest(struct sim_world *w, struct sim_device *d, struct phone *p)
{
    uint32_t got = p->dfu_tail_len == 4 ? (uint32_t)p->dfu_tail[0] | (uint32_t)p->dfu_tail[1] << 8 |
                                              (uint32_t)p->dfu_tail[2] << 16 | (uint32_t)p->dfu_tail[3] << 24
                                        : 0;
    if (p->dfu_bytes < 16 || got != p->dfu_crc) {
        p->dfu_state = DFU_ERROR;
        p->dfu_status = DFU_ERR_VERIFY;
        sim_log(w, d, "dfu: image of %llu bytes refused (bad DFU suffix CRC)", (unsigned long long)p->dfu_bytes);
        return;
    }
    p->dfu_verified = true;
    p->image_bytes = p->dfu_bytes - 16;
    sim_log(w, d, "dfu: image of %llu bytes received, CRC ok", (unsigned long long)p->image_bytes);
}

/* Lock held. Returns the libusb result (bytes) or a negated error code in *err. */
static int dfu_control(struct sim_world *w, struct sim_device *d, struct phone *p, uint64_t rt, uint64_t req,
                       const unsigned char *data, size_t len, uint64_t want, plist_t out, int *err)
{
    *err = 0;
    if (rt == 0x21 && req == 1) {                     /* DNLOAD */
        if (len > 0) {
            if (p->dfu_state != DFU_IDLE && p->dfu_state != DFU_DNLOAD_IDLE) {
                p->dfu_state = DFU_ERROR;
                p->dfu_status = DFU_ERR_STALLEDPKT;
                *err = E_PIPE;
                return 0;
            }
            if (p->dfu_bytes + len > 64u * 1024u * 1024u) {   /* no SecureROM takes more */
                p->dfu_state = DFU_ERROR;
                p->dfu_status = DFU_ERR_STALLEDPKT;
                *err = E_PIPE;
                return 0;
            }
            dfu_take(p, data, len);
            p->dfu_state = DFU_DNLOAD_IDLE;
            return (int)len;
        }
        if (p->dfu_state == DFU_DNLOAD_IDLE) {
            p->dfu_state = DFU_MANIFEST_SYNC;
            return 0;
        }
        if (p->dfu_state >= DFU_MANIFEST_SYNC && p->dfu_state <= DFU_MANIFEST_WAIT_RESET)
            return 0;                                 /* libirecovery's extra zero-length packet */
        p->dfu_state = DFU_ERROR;
        p->dfu_status = DFU_ERR_STALLEDPKT;
        *err = E_PIPE;
        return 0;
    }
    if (rt == 0xA1 && req == 3) {                     /* GETSTATUS */
        unsigned char st[6] = { (unsigned char)p->dfu_status, 0, 0, 0, (unsigned char)p->dfu_state, 0 };
        if (p->dfu_state == DFU_MANIFEST_SYNC) {
            p->dfu_state = DFU_MANIFEST;
        } else if (p->dfu_state == DFU_MANIFEST) {
            dfu_manifest(w, d, p);
            if (p->dfu_state != DFU_ERROR)
                p->dfu_state = DFU_MANIFEST_WAIT_RESET;
        }
        size_t n = want < sizeof st ? (size_t)want : sizeof st;
        plist_dict_set_item(out, "Data", plist_new_data((const char *)st, n));
        return (int)n;
    }
    if (rt == 0xA1 && req == 5) {                     /* GETSTATE */
        unsigned char s = (unsigned char)p->dfu_state;
        size_t n = want ? 1 : 0;
        plist_dict_set_item(out, "Data", plist_new_data((const char *)&s, n));
        return (int)n;
    }
    if (rt == 0x21 && (req == 4 || req == 6)) {       /* CLRSTATUS, ABORT */
        dfu_clear(p);
        p->image_bytes = 0;
        return 0;
    }
    *err = E_PIPE;
    return 0;
}

/* Lock held. A bus reset: a DFU phone that holds a verified image boots it (the iBSS) and
 * comes back in recovery mode. Returns true if it re-enumerated. */
static bool usb_reset(struct sim_world *w, struct sim_device *d, struct phone *p)
{
    if (d->mode != SIM_MODE_DFU)
        return false;
    if (p->dfu_verified && p->dfu_state == DFU_MANIFEST_WAIT_RESET) {
        uint64_t size = p->image_bytes;
        dfu_clear(p);
        sim_log(w, d, "dfu: reset, booting the %llu-byte image (iBSS)", (unsigned long long)size);
        p->gen++;
        sim_set_mode(w, d, SIM_MODE_RECOVERY);
        return true;
    }
    dfu_clear(p);
    p->gen++;
    sim_notify_change(w);
    return true;
}

/* ---- a device handle ---- */

/* Lock held. The device of the handle, or NULL if it is no longer at that location. */
static struct sim_device *handle_device(struct sim_world *w, struct handle *h)
{
    struct sim_device *d = sim_device_at(w, (size_t)h->device);
    if (!d || !on_usb(d) || location_of(d) != h->location)
        return NULL;
    return d;
}

static int data_of(plist_t req, char **buf, uint64_t *len)
{
    *buf = NULL;
    *len = 0;
    plist_t n = plist_dict_get_item(req, "Data");
    if (!n)
        return 0;
    if (plist_get_node_type(n) != PLIST_DATA)
        return -1;
    plist_get_data_val(n, buf, len);
    return 0;
}

/* One request on a handle being answered: what came in and what goes back. */
struct xfer {
    plist_t req;
    const char *data;            /* the request's Data (NULL if none) */
    uint64_t dlen;
    plist_t out;                 /* the answer's extra keys */
    int err;                     /* libusb error, negated; 0 if none */
    uint64_t result;
    bool upload;                 /* image bytes arrived: report progress to the fault injector */
};

/* Lock held. The standard USB requests: descriptors, configuration, interfaces, reset.
 * Returns false if name is none of them. */
static bool standard_request(struct sim_world *w, struct sim_device *d, struct phone *p, const char *name,
                             struct xfer *x)
{
    bool dfu = d->mode == SIM_MODE_DFU;
    uint64_t v = 0, idx = 0;
    dict_uint(x->req, "Value", &v);
    if (!strcmp(name, "String")) {
        dict_uint(x->req, "Index", &idx);
        char s[256] = "";
        switch (idx) {
        case 1: nonce_string(d, s, sizeof s); break;
        case 2: snprintf(s, sizeof s, "Apple Inc."); break;
        case 3: snprintf(s, sizeof s, "Apple Mobile Device (%s Mode)", dfu ? "DFU" : "Recovery"); break;
        case 4: sim_iboot_serial(d, s, sizeof s); break;
        default: x->err = E_PIPE; return true;
        }
        plist_dict_set_item(x->out, "String", plist_new_string(s));
        x->result = strlen(s);
    } else if (!strcmp(name, "SetConfiguration")) {
        x->err = v == 1 ? 0 : E_NOT_FOUND;
    } else if (!strcmp(name, "ClaimInterface") || !strcmp(name, "ReleaseInterface")) {
        x->err = v == 0 || (v == 1 && !dfu) ? 0 : E_NOT_FOUND;
    } else if (!strcmp(name, "SetAltSetting")) {
        dict_uint(x->req, "Interface", &idx);
        x->err = (idx == 0 && v == 0) || (idx == 1 && v <= 1 && !dfu) ? 0 : E_NOT_FOUND;
    } else if (!strcmp(name, "ClearHalt")) {
        x->err = 0;
    } else if (!strcmp(name, "Reset")) {
        x->err = usb_reset(w, d, p) ? E_NOT_FOUND : 0;
    } else {
        return false;
    }
    return true;
}

/* Lock held. A control transfer: the DFU class requests in DFU mode, iBoot's in recovery. */
static void control_request(struct sim_world *w, struct sim_device *d, struct phone *p, struct handle *h,
                            struct xfer *x)
{
    uint64_t rt = 0, rq = 0, want = 0;
    dict_uint(x->req, "RequestType", &rt);
    dict_uint(x->req, "BRequest", &rq);
    dict_uint(x->req, "Length", &want);
    if (want > 0xFFFF || x->dlen > 0xFFFF) {
        x->err = E_INVALID_PARAM;
    } else if (d->mode == SIM_MODE_DFU) {
        int r = dfu_control(w, d, p, rt, rq, (const unsigned char *)x->data, (size_t)x->dlen, want, x->out, &x->err);
        x->result = (uint64_t)(r < 0 ? 0 : r);
        x->upload = !x->err && rt == 0x21 && rq == 1 && x->dlen > 0;
    } else if (rt == 0x40 && rq == 0) {           /* an iBoot command */
        char line[257];
        size_t n = x->dlen < sizeof line - 1 ? (size_t)x->dlen : sizeof line - 1;
        memcpy(line, x->data ? x->data : "", n);
        line[n] = '\0';
        iboot_command(w, d, p, h, line);
        x->result = x->dlen;
    } else if (rt == 0xC0 && rq == 0) {           /* the answer to the last command */
        size_t n = h->reply_len < want ? h->reply_len : (size_t)want;
        plist_dict_set_item(x->out, "Data", plist_new_data(h->reply, n));
        x->result = n;
    } else if (rt == 0x41 && rq == 0) {           /* start of an upload */
        p->upload_open = true;
        p->upload_bytes = 0;
        p->image_bytes = 0;
    } else {
        x->err = E_PIPE;
    }
}

/* Lock held. A bulk transfer: uploads on 0x04 and iBoot's console on 0x81, in recovery. */
static void bulk_request(struct sim_device *d, struct phone *p, struct xfer *x)
{
    uint64_t ep = 0;
    dict_uint(x->req, "Endpoint", &ep);
    if (d->mode == SIM_MODE_DFU) {
        x->err = E_PIPE;
    } else if (ep == 0x04) {
        if (!p->upload_open || p->upload_bytes + x->dlen > 256u * 1024u * 1024u) {
            x->err = E_PIPE;                      /* no upload started, or larger than any image */
        } else {
            p->upload_bytes += x->dlen;
            p->image_bytes = p->upload_bytes;
            plist_dict_set_item(x->out, "Transferred", plist_new_uint(x->dlen));
            x->upload = x->dlen > 0;
        }
    } else if (ep == 0x81) {
        plist_dict_set_item(x->out, "Data", plist_new_data("", 0));   /* the console is quiet */
    } else {
        x->err = E_PIPE;
    }
}

/* One request on an open handle. Returns -1 to hang up. */
static int handle_request(struct sim_world *w, struct handle *h, plist_t req, const char *name)
{
    char *data = NULL;
    uint64_t dlen = 0;
    if (data_of(req, &data, &dlen) != 0) {
        answer(h->fd, E_INVALID_PARAM, 0, NULL);
        return -1;
    }
    struct xfer x = { .req = req, .data = data, .dlen = dlen, .out = plist_new_dict() };
    sim_lock(w);
    struct sim_device *d = handle_device(w, h);
    struct phone *p = d ? phone_of(d) : NULL;
    if (!d || !p)
        x.err = E_NO_DEVICE;
    else if (!strcmp(name, "Control"))
        control_request(w, d, p, h, &x);
    else if (!strcmp(name, "Bulk"))
        bulk_request(d, p, &x);
    else if (!standard_request(w, d, p, name, &x))
        x.err = E_NOT_SUPPORTED;
    uint64_t uploaded = p ? (d->mode == SIM_MODE_DFU ? p->dfu_bytes : p->upload_bytes) : 0;
    sim_unlock(w);
    free(data);

    /* Faults and throttling happen outside the lock, as for every long transfer. */
    if (x.upload) {
        sim_throttle(w, d, dlen);
        if (sim_fault_hit(w, d, "upload", uploaded, 0)) {
            /* The cable or the power went: the host sees the device vanish mid-transfer,
             * and the phone forgets the half image (it re-enumerates when it is back). */
            sim_lock(w);
            sim_iboot_reset(d);
            sim_iboot_reenumerate(w, d);
            sim_unlock(w);
            plist_free(x.out);
            return -1;
        }
    }
    return answer(h->fd, x.err, x.result, x.out);
}

/* The first request decides what the connection is. */
void sim_usb_serve(struct sim_world *w, int fd)
{
    plist_t req = sim_iboot_frame_recv(fd);
    plist_t rn = req ? plist_dict_get_item(req, "Request") : NULL;
    const char *name = rn && plist_get_node_type(rn) == PLIST_STRING ? plist_get_string_ptr(rn, NULL) : NULL;
    if (!name) {
        /* Not our protocol: say so in the protocol, then hang up. */
        if (req)
            answer(fd, E_INVALID_PARAM, 0, NULL);
    } else if (!strcmp(name, "List")) {
        sim_lock(w);
        plist_t msg = device_list(w);
        sim_unlock(w);
        sim_iboot_frame_send(fd, msg, false);
        plist_free(msg);
    } else if (!strcmp(name, "Watch")) {
        serve_watch(w, fd);
    } else if (!strcmp(name, "Open")) {
        struct handle h = { .fd = fd, .device = -1 };
        uint64_t loc = 0;
        dict_uint(req, "Location", &loc);
        sim_lock(w);
        for (size_t i = 0; i < sim_device_count(w); i++) {
            struct sim_device *d = sim_device_at(w, i);
            if (on_usb(d) && location_of(d) == loc) {
                h.device = (int)i;
                h.location = (uint32_t)loc;
            }
        }
        sim_unlock(w);
        if (h.device < 0) {
            answer(fd, E_NO_DEVICE, 0, NULL);
        } else if (answer(fd, 0, 0, NULL) == 0) {
            for (;;) {
                plist_free(req);
                req = sim_iboot_frame_recv(fd);
                rn = req ? plist_dict_get_item(req, "Request") : NULL;
                name = rn && plist_get_node_type(rn) == PLIST_STRING ? plist_get_string_ptr(rn, NULL) : NULL;
                if (!name) {
                    if (req)
                        answer(fd, E_INVALID_PARAM, 0, NULL);
                    break;
                }
                if (handle_request(w, &h, req, name) != 0)
                    break;
            }
        }
    } else {
        answer(fd, E_NOT_SUPPORTED, 0, NULL);
    }
    if (req)
        plist_free(req);
    close(fd);
}
