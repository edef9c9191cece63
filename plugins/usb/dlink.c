/*
 * dlink.c — DeviceLink over a raw service connection, for mobilebackup2.
 *
 * Why not libimobiledevice's mobilebackup2 client: it hides the connection, so file data
 * can only go through mobilebackup2_send_raw/receive_raw, which idevicebackup2 feeds in
 * 32 KiB pieces (plus a separate 5-byte header send per piece) copied through a user
 * buffer. Speaking the same protocol ourselves on the service connection lets the bulk
 * data move with sendfile() (page cache to socket, no user copy) and large reads, which
 * is where the CPU of a backup restore goes. The messages themselves are identical:
 *
 *   frame     = uint32 big-endian length + plist (we send binary; we accept binary or XML)
 *   handshake = device ["DLMessageVersionExchange", 300, 0]
 *               host   ["DLMessageVersionExchange", "DLVersionsOk", 300]
 *               device ["DLMessageDeviceReady"]
 *   Hello     = host ["DLMessageProcessMessage", {MessageName: Hello,
 *                     SupportedProtocolVersions: [2.0, 2.1]}]
 *               device ["DLMessageProcessMessage", {MessageName: Response, ErrorCode: 0,
 *                       ProtocolVersion: 2.1}]
 *   status    = ["DLMessageStatusResponse", code, text | "___EmptyParameterString___",
 *                extra | "___EmptyParameterString___"]
 *
 * Everything read from the device is checked for size and type before use.
 */
#include "dlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DL_VERSION_MAJOR 300
#define DL_VERSION_MINOR 0
#define DL_MAX_MESSAGE (64u << 20) /* a DeviceLink message larger than this is hostile */
#define DL_EMPTY "___EmptyParameterString___"

static int lost(usb_dlink *dl, const char *what, int err)
{
    return dl->st->host->fail(dl->call, REVIVE_E_DISCONNECTED, "mobilebackup2", err,
                              "the device disconnected while %s (%s); check the cable, then run "
                              "the operation again", what, err ? strerror(err) : "connection closed");
}

/* For a socket someone made non-blocking after all: wait until it takes data again. */
static int wait_writable(usb_dlink *dl)
{
    struct pollfd pfd = { .fd = dl->fd, .events = POLLOUT };
    int ms = dl->timeout <= 0 ? -1 : (int)(dl->timeout * 1000.0);
    int r;
    while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR) {
    }
    return r > 0 ? REVIVE_OK : REVIVE_E_TIMEOUT;
}

int dl_send_raw(usb_dlink *dl, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        if (dl->fd >= 0) {
            ssize_t n = send(dl->fd, p, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN && wait_writable(dl) == REVIVE_OK)
                    continue;
                return lost(dl, "sending", errno);
            }
            p += n;
            len -= (size_t)n;
        } else {
            uint32_t chunk = len > (1u << 30) ? (1u << 30) : (uint32_t)len, sent = 0;
            if (idevice_connection_send(dl->conn, p, chunk, &sent) != IDEVICE_E_SUCCESS || !sent)
                return lost(dl, "sending", 0);
            p += sent;
            len -= sent;
        }
    }
    return REVIVE_OK;
}

/* Wait until the socket is readable; REVIVE_E_TIMEOUT after `timeout` seconds. */
static int wait_readable(usb_dlink *dl, double timeout)
{
    if (dl->fd < 0)
        return REVIVE_OK;
    struct pollfd pfd = { .fd = dl->fd, .events = POLLIN };
    int ms = timeout <= 0 ? -1 : (int)(timeout * 1000.0);
    for (;;) {
        int r = poll(&pfd, 1, ms);
        if (r > 0)
            return REVIVE_OK;
        if (r == 0)
            return REVIVE_E_TIMEOUT;
        if (errno != EINTR)
            return lost(dl, "waiting for the device", errno);
    }
}

/* Receive exactly len bytes; the first byte may wait up to first_timeout seconds, the
 * rest up to dl->timeout (a device that stops mid-message is gone). */
static int recv_exact(usb_dlink *dl, void *buf, size_t len, double first_timeout, const char *what)
{
    char *p = buf;
    bool first = true;
    while (len) {
        if (dl->fd >= 0) {
            int rc = wait_readable(dl, first ? first_timeout : dl->timeout);
            if (rc == REVIVE_E_TIMEOUT && first)
                return REVIVE_E_TIMEOUT;
            if (rc == REVIVE_E_TIMEOUT)
                return dl->st->host->fail(dl->call, REVIVE_E_TIMEOUT, "mobilebackup2", 0,
                                          "the device stopped sending in the middle of %s", what);
            if (rc != REVIVE_OK)
                return rc;
            ssize_t n = recv(dl->fd, p, len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return lost(dl, what, n < 0 ? errno : 0);
            p += n;
            len -= (size_t)n;
        } else {
            uint32_t got = 0;
            double t = first ? first_timeout : dl->timeout;
            unsigned ms = t <= 0 ? 0 : (unsigned)(t * 1000.0);
            idevice_error_t e = idevice_connection_receive_timeout(
                dl->conn, p, len > (1u << 30) ? (1u << 30) : (uint32_t)len, &got, ms);
            if (e == IDEVICE_E_TIMEOUT && got == 0 && first)
                return REVIVE_E_TIMEOUT;
            if ((e != IDEVICE_E_SUCCESS && e != IDEVICE_E_TIMEOUT) || got == 0)
                return lost(dl, what, 0);
            p += got;
            len -= got;
        }
        first = false;
    }
    return REVIVE_OK;
}

int dl_recv_raw(usb_dlink *dl, void *buf, size_t len)
{
    int rc = recv_exact(dl, buf, len, dl->timeout, "a file transfer");
    if (rc == REVIVE_E_TIMEOUT)
        return dl->st->host->fail(dl->call, REVIVE_E_TIMEOUT, "mobilebackup2", 0,
                                  "the device sent nothing for %.0f s during a file transfer",
                                  dl->timeout);
    return rc;
}

/* sendfile() to a socket raises SIGPIPE when the peer is gone; the host may not ignore
 * SIGPIPE, so block it on this thread for the call and swallow a pending one. */
int dl_send_file(usb_dlink *dl, int filefd, off_t off, size_t len)
{
    if (dl->fd < 0) {
        char *buf = malloc(1u << 20);
        if (!buf)
            return dl->st->host->fail(dl->call, REVIVE_E_NO_MEMORY, NULL, 0, "out of memory");
        int rc = REVIVE_OK;
        while (len && rc == REVIVE_OK) {
            size_t want = len < (1u << 20) ? len : (1u << 20);
            ssize_t n = pread(filefd, buf, want, off);
            if (n <= 0) {
                rc = dl->st->host->fail(dl->call, REVIVE_E_IO, NULL, n < 0 ? errno : 0,
                                        "reading a backup file: %s", n < 0 ? strerror(errno) : "it shrank");
                break;
            }
            rc = dl_send_raw(dl, buf, (size_t)n);
            off += n;
            len -= (size_t)n;
        }
        free(buf);
        return rc;
    }
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    int rc = REVIVE_OK;
    while (len) {
        ssize_t n = sendfile(dl->fd, filefd, &off, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && wait_writable(dl) == REVIVE_OK)
            continue;
        if (n < 0) {
            int e = errno;
            if (e == EPIPE || e == ECONNRESET)
                rc = lost(dl, "sending a file", e);
            else
                rc = dl->st->host->fail(dl->call, REVIVE_E_IO, NULL, e, "sending a backup file: %s",
                                        strerror(e));
            break;
        }
        if (n == 0) {
            rc = dl->st->host->fail(dl->call, REVIVE_E_IO, NULL, 0,
                                    "a backup file shrank while it was being sent");
            break;
        }
        len -= (size_t)n;
    }
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int dl_send_plist(usb_dlink *dl, plist_t msg)
{
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(msg, &bin, &len);
    if (!bin || !len) {
        free(bin);
        return dl->st->host->fail(dl->call, REVIVE_E_NO_MEMORY, NULL, 0, "cannot encode a message");
    }
    /* one send for header and body */
    char *frame = malloc((size_t)len + 4);
    if (!frame) {
        free(bin);
        return dl->st->host->fail(dl->call, REVIVE_E_NO_MEMORY, NULL, 0, "out of memory");
    }
    uint32_t be = htonl(len);
    memcpy(frame, &be, 4);
    memcpy(frame + 4, bin, len);
    free(bin);
    int rc = dl_send_raw(dl, frame, (size_t)len + 4);
    free(frame);
    return rc;
}

int dl_recv_plist(usb_dlink *dl, plist_t *out, double timeout)
{
    *out = NULL;
    uint32_t be = 0;
    int rc = recv_exact(dl, &be, 4, timeout, "a message");
    if (rc != REVIVE_OK)
        return rc;
    uint32_t len = ntohl(be);
    if (len == 0 || len > DL_MAX_MESSAGE)
        return dl->st->host->fail(dl->call, REVIVE_E_PROTOCOL, "mobilebackup2", 0,
                                  "the device sent a message of impossible size %u", len);
    char *buf = malloc(len);
    if (!buf)
        return dl->st->host->fail(dl->call, REVIVE_E_NO_MEMORY, NULL, 0, "out of memory");
    rc = recv_exact(dl, buf, len, dl->timeout, "a message");
    if (rc == REVIVE_E_TIMEOUT)
        rc = dl->st->host->fail(dl->call, REVIVE_E_TIMEOUT, "mobilebackup2", 0,
                                "the device stopped in the middle of a message");
    if (rc != REVIVE_OK) {
        free(buf);
        return rc;
    }
    plist_t p = NULL;
    if (len > 8 && !memcmp(buf, "bplist00", 8))
        plist_from_bin(buf, len, &p);
    else if (len > 5 && !memcmp(buf, "<?xml", 5))
        plist_from_xml(buf, len, &p);
    free(buf);
    if (!p || plist_get_node_type(p) != PLIST_ARRAY || plist_array_get_size(p) < 1) {
        plist_free(p);
        return dl->st->host->fail(dl->call, REVIVE_E_PROTOCOL, "mobilebackup2", 0,
                                  "the device sent a message that is not a DeviceLink array");
    }
    *out = p;
    return REVIVE_OK;
}

const char *dl_message_name(plist_t msg)
{
    plist_t n = msg ? plist_array_get_item(msg, 0) : NULL;
    if (!n || plist_get_node_type(n) != PLIST_STRING)
        return NULL;
    return plist_get_string_ptr(n, NULL);
}

int dl_process_message(usb_dlink *dl, plist_t dict)
{
    plist_t arr = plist_new_array();
    plist_array_append_item(arr, plist_new_string("DLMessageProcessMessage"));
    plist_array_append_item(arr, dict);
    int rc = dl_send_plist(dl, arr);
    plist_free(arr);
    return rc;
}

int dl_status(usb_dlink *dl, int64_t code, const char *text, plist_t extra)
{
    plist_t arr = plist_new_array();
    plist_array_append_item(arr, plist_new_string("DLMessageStatusResponse"));
    plist_array_append_item(arr, plist_new_uint((uint64_t)code));
    plist_array_append_item(arr, plist_new_string(text ? text : DL_EMPTY));
    plist_array_append_item(arr, extra ? extra : plist_new_string(DL_EMPTY));
    int rc = dl_send_plist(dl, arr);
    plist_free(arr);
    return rc;
}

int dl_request(usb_dlink *dl, const char *request, const char *target, const char *source,
               plist_t options)
{
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "MessageName", plist_new_string(request));
    plist_dict_set_item(d, "TargetIdentifier", plist_new_string(target));
    if (source)
        plist_dict_set_item(d, "SourceIdentifier", plist_new_string(source));
    if (options)
        plist_dict_set_item(d, "Options", options);
    return dl_process_message(dl, d);
}

static int expect(usb_dlink *dl, plist_t msg, const char *name, const char *step)
{
    const char *got = dl_message_name(msg);
    if (!got || strcmp(got, name))
        return dl->st->host->fail(dl->call, REVIVE_E_PROTOCOL, "mobilebackup2", 0,
                                  "%s: expected %s from the device, got %s", step, name,
                                  got ? got : "something else");
    return REVIVE_OK;
}

static int handshake(usb_dlink *dl)
{
    plist_t m = NULL;
    int rc = dl_recv_plist(dl, &m, dl->timeout);
    if (rc == REVIVE_E_TIMEOUT)
        return dl->st->host->fail(dl->call, REVIVE_E_TIMEOUT, "mobilebackup2", 0,
                                  "mobilebackup2 did not greet within %.0f s", dl->timeout);
    if (rc != REVIVE_OK)
        return rc;
    rc = expect(dl, m, "DLMessageVersionExchange", "DeviceLink handshake");
    uint64_t major = 0;
    if (rc == REVIVE_OK) {
        plist_t n = plist_array_get_item(m, 1);
        if (n && plist_get_node_type(n) == PLIST_UINT)
            plist_get_uint_val(n, &major);
        if (major > DL_VERSION_MAJOR)
            rc = dl->st->host->fail(dl->call, REVIVE_E_UNSUPPORTED, "mobilebackup2", (int)major,
                                    "the device speaks DeviceLink %llu, newer than this revive knows",
                                    (unsigned long long)major);
    }
    plist_free(m);
    if (rc != REVIVE_OK)
        return rc;
    plist_t ok = plist_new_array();
    plist_array_append_item(ok, plist_new_string("DLMessageVersionExchange"));
    plist_array_append_item(ok, plist_new_string("DLVersionsOk"));
    plist_array_append_item(ok, plist_new_uint(DL_VERSION_MAJOR));
    rc = dl_send_plist(dl, ok);
    plist_free(ok);
    if (rc != REVIVE_OK)
        return rc;
    rc = dl_recv_plist(dl, &m, dl->timeout);
    if (rc == REVIVE_E_TIMEOUT)
        return dl->st->host->fail(dl->call, REVIVE_E_TIMEOUT, "mobilebackup2", 0,
                                  "mobilebackup2 did not say it is ready");
    if (rc != REVIVE_OK)
        return rc;
    rc = expect(dl, m, "DLMessageDeviceReady", "DeviceLink handshake");
    plist_free(m);
    if (rc != REVIVE_OK)
        return rc;

    /* mobilebackup2's own version exchange */
    plist_t hello = plist_new_dict();
    plist_t versions = plist_new_array();
    plist_array_append_item(versions, plist_new_real(2.0));
    plist_array_append_item(versions, plist_new_real(2.1));
    plist_dict_set_item(hello, "MessageName", plist_new_string("Hello"));
    plist_dict_set_item(hello, "SupportedProtocolVersions", versions);
    rc = dl_process_message(dl, hello);
    if (rc != REVIVE_OK)
        return rc;
    rc = dl_recv_plist(dl, &m, dl->timeout);
    if (rc == REVIVE_E_TIMEOUT)
        return dl->st->host->fail(dl->call, REVIVE_E_TIMEOUT, "mobilebackup2", 0,
                                  "mobilebackup2 did not answer Hello");
    if (rc != REVIVE_OK)
        return rc;
    rc = expect(dl, m, "DLMessageProcessMessage", "mobilebackup2 Hello");
    if (rc == REVIVE_OK) {
        plist_t d = plist_array_get_item(m, 1);
        plist_t ec = d && plist_get_node_type(d) == PLIST_DICT ? plist_dict_get_item(d, "ErrorCode") : NULL;
        uint64_t code = 1;
        if (ec && plist_get_node_type(ec) == PLIST_UINT)
            plist_get_uint_val(ec, &code);
        if (code != 0)
            rc = dl->st->host->fail(dl->call, code == 1 ? REVIVE_E_UNSUPPORTED : REVIVE_E_REFUSED,
                                    "mobilebackup2", (int)code,
                                    code == 1 ? "the device shares no mobilebackup2 protocol version with revive (2.0, 2.1)"
                                              : "the device refused mobilebackup2 Hello (error %llu)",
                                    (unsigned long long)code);
    }
    plist_free(m);
    return rc;
}

int dl_open(usb_dlink *dl, const usb_state *st, revive_call *call, idevice_t dev,
            lockdownd_service_descriptor_t svc)
{
    memset(dl, 0, sizeof *dl);
    dl->st = st;
    dl->call = call;
    dl->fd = -1;
    dl->timeout = usb_config_seconds(st, call, "usb.io_timeout", 60.0);
    idevice_error_t e = idevice_connect(dev, svc->port, &dl->conn);
    if (e != IDEVICE_E_SUCCESS)
        return usb_fail_idevice(st, call, e, "connecting to mobilebackup2");
    if (svc->ssl_enabled) {
        if (idevice_connection_enable_ssl(dl->conn) != IDEVICE_E_SUCCESS) {
            idevice_disconnect(dl->conn);
            dl->conn = NULL;
            return st->host->fail(call, REVIVE_E_PROTOCOL, "idevice", 0,
                                  "cannot start SSL with mobilebackup2");
        }
    } else {
        int fd = -1;
        if (idevice_connection_get_fd(dl->conn, &fd) == IDEVICE_E_SUCCESS && fd >= 0) {
            /* libusbmuxd leaves the socket non-blocking after connecting; we want whole
             * blocking sends (sendfile) and wait for data with poll() ourselves */
            int fl = fcntl(fd, F_GETFL, 0);
            if (fl >= 0)
                fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            dl->fd = fd;
        }
    }
    int rc = handshake(dl);
    if (rc != REVIVE_OK) {
        idevice_disconnect(dl->conn);
        dl->conn = NULL;
    }
    return rc;
}

void dl_close(usb_dlink *dl)
{
    if (!dl->conn)
        return;
    plist_t arr = plist_new_array();
    plist_array_append_item(arr, plist_new_string("DLMessageDisconnect"));
    plist_array_append_item(arr, plist_new_string(DL_EMPTY));
    /* best effort: the device may be gone already; do not record an error for it */
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(arr, &bin, &len);
    plist_free(arr);
    if (bin && dl->fd >= 0) {
        uint32_t be = htonl(len);
        (void)!send(dl->fd, &be, 4, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)!send(dl->fd, bin, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    free(bin);
    idevice_disconnect(dl->conn);
    dl->conn = NULL;
    dl->fd = -1;
}
