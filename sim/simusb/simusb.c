/* simusb.c: libsimusb, the libusb-1.0 functions libirecovery calls, answered by simdevd.
 *
 * Loaded with LD_PRELOAD, these definitions take the place of libusb's for every caller
 * in the process. When SIMDEVD_USB_SOCKET is set, no real USB device is touched: the
 * device list, descriptors and transfers are requests to simdevd over that Unix socket
 * (docs/simulator-recovery.md). When it is not set, every call goes on to the real libusb
 * (found with dlsym(RTLD_NEXT)), so a stray LD_PRELOAD changes nothing. The choice is
 * made once per process, at the first call, so objects never mix between the two.
 *
 * Objects:
 * - a context holds the hotplug callbacks and, while any are registered, one "Watch"
 *   connection on which simdevd pushes the whole device list at every change; the
 *   context turns those lists into ARRIVED/LEFT events in libusb_handle_events*.
 * - a device is a snapshot of one listing (location, product id, strings); devices given
 *   to hotplug callbacks are kept until libusb_exit, because libirecovery hands them to a
 *   thread after the callback returns, as real libusb allows while the device lives.
 * - a handle is one connection to simdevd bound to the device by its location; once the
 *   device re-enumerates (reboot, mode change, unplug) the handle's calls fail with
 *   LIBUSB_ERROR_NO_DEVICE, as on a real bus.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libusb.h>

#include "simusb_private.h"
#include "wire.h"

/* ---- mode: simulated or passed through ---- */

static pthread_once_t mode_once = PTHREAD_ONCE_INIT;
static const char *sock_path;

static void decide_mode(void)
{
    const char *p = getenv("SIMDEVD_USB_SOCKET");
    sock_path = p && *p ? strdup(p) : NULL;
}

bool simusb_simulated(void)
{
    pthread_once(&mode_once, decide_mode);
    return sock_path != NULL;
}

/* The real libusb function `name`, or a loud failure when there is none. */
void *simusb_real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "libsimusb: SIMDEVD_USB_SOCKET is not set and the real %s was not found "
                        "(is libusb-1.0 loaded?); set SIMDEVD_USB_SOCKET to use simdevd\n", name);
        abort();
    }
    return f;
}

static void warn_unreachable(void)
{
    static bool warned;
    if (!warned) {
        warned = true;
        fprintf(stderr, "libsimusb: cannot reach simdevd at %s (%s); is simdevd running?\n", sock_path,
                strerror(errno));
    }
}

/* ---- objects ---- */


struct hotplug_cb {
    int handle;
    int events, vid, pid;
    libusb_hotplug_callback_fn fn;
    void *user_data;
};

struct libusb_context {
    pthread_mutex_t lock;
    int watch_fd;                      /* -1 when no hotplug callback needs it */
    struct hotplug_cb *cbs; size_t ncbs;
    int next_handle;
    libusb_device **known; size_t nknown;   /* the devices last reported ARRIVED */
    libusb_device **kept; size_t nkept;     /* every device given to a callback */
};


static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static libusb_context *default_ctx;
static int default_refs;

static libusb_device *device_new(plist_t entry)
{
    libusb_device *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->refs = 1;
    d->location = (uint32_t)simusb_dict_int(entry, "Location", 0);
    d->product_id = (uint16_t)simusb_dict_int(entry, "ProductID", 0);
    d->ecid = (uint64_t)simusb_dict_int(entry, "ECID", 0);
    const char *s;
    if ((s = simusb_dict_str(entry, "Serial")))
        snprintf(d->serial, sizeof d->serial, "%s", s);
    if ((s = simusb_dict_str(entry, "Product")))
        snprintf(d->product, sizeof d->product, "%s", s);
    if ((s = simusb_dict_str(entry, "Nonces")))
        snprintf(d->nonces, sizeof d->nonces, "%s", s);
    return d;
}

static bool device_same(const libusb_device *a, const libusb_device *b)
{
    return a->location == b->location && a->product_id == b->product_id && strcmp(a->serial, b->serial) == 0;
}

/* Parses a {"Devices": [...]} message into a fresh array of devices (each with one ref). */
static libusb_device **devices_from(plist_t msg, size_t *count)
{
    *count = 0;
    plist_t arr = plist_dict_get_item(msg, "Devices");
    if (!arr || plist_get_node_type(arr) != PLIST_ARRAY)
        return NULL;
    uint32_t n = plist_array_get_size(arr);
    if (n > 256)
        n = 256;
    libusb_device **list = calloc((size_t)n + 1, sizeof *list);
    if (!list)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        plist_t e = plist_array_get_item(arr, i);
        if (plist_get_node_type(e) != PLIST_DICT)
            continue;
        libusb_device *d = device_new(e);
        if (d)
            list[(*count)++] = d;
    }
    return list;
}

static plist_t request(const char *name)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "Request", plist_new_string(name));
    return r;
}

/* The answer's libusb status: -Error when it failed, else Result. */
static int reply_status(plist_t reply)
{
    if (!reply)
        return LIBUSB_ERROR_NO_DEVICE;
    int64_t err = simusb_dict_int(reply, "Error", 0);
    if (err > 0)
        return (int)-err;
    return (int)simusb_dict_int(reply, "Result", 0);
}

/* ---- context ---- */

static libusb_context *ctx_of(libusb_context *ctx)
{
    return ctx ? ctx : default_ctx;
}

API int libusb_init(libusb_context **ctx)
{
    if (!simusb_simulated())
        return REAL(libusb_init)(ctx);
    if (!ctx) {
        pthread_mutex_lock(&default_lock);
        int rc = 0;
        if (!default_ctx) {
            libusb_context *c = NULL;
            rc = libusb_init(&c);
            default_ctx = c;
        }
        if (rc == 0)
            default_refs++;
        pthread_mutex_unlock(&default_lock);
        return rc;
    }
    libusb_context *c = calloc(1, sizeof *c);
    if (!c)
        return LIBUSB_ERROR_NO_MEM;
    pthread_mutex_init(&c->lock, NULL);
    c->watch_fd = -1;
    c->next_handle = 1;
    *ctx = c;
    return 0;
}

API libusb_device *libusb_ref_device(libusb_device *dev)
{
    if (!simusb_simulated())
        return REAL(libusb_ref_device)(dev);
    pthread_mutex_lock(&dev->lock);
    dev->refs++;
    pthread_mutex_unlock(&dev->lock);
    return dev;
}

API void libusb_unref_device(libusb_device *dev)
{
    if (!simusb_simulated()) {
        REAL(libusb_unref_device)(dev);
        return;
    }
    if (!dev)
        return;
    pthread_mutex_lock(&dev->lock);
    int left = --dev->refs;
    pthread_mutex_unlock(&dev->lock);
    if (left == 0) {
        pthread_mutex_destroy(&dev->lock);
        free(dev);
    }
}

API void libusb_exit(libusb_context *ctx)
{
    if (!simusb_simulated()) {
        REAL(libusb_exit)(ctx);
        return;
    }
    if (!ctx) {
        pthread_mutex_lock(&default_lock);
        libusb_context *c = NULL;
        if (default_refs > 0 && --default_refs == 0) {
            c = default_ctx;
            default_ctx = NULL;
        }
        pthread_mutex_unlock(&default_lock);
        if (c)
            libusb_exit(c);
        return;
    }
    if (ctx->watch_fd >= 0)
        close(ctx->watch_fd);
    for (size_t i = 0; i < ctx->nknown; i++)
        libusb_unref_device(ctx->known[i]);
    for (size_t i = 0; i < ctx->nkept; i++)
        libusb_unref_device(ctx->kept[i]);
    free(ctx->known);
    free(ctx->kept);
    free(ctx->cbs);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

API int libusb_set_option(libusb_context *ctx, enum libusb_option option, ...)
{
    if (!simusb_simulated()) {
        if (option == LIBUSB_OPTION_LOG_LEVEL) {
            va_list ap;
            va_start(ap, option);
            int level = va_arg(ap, int);
            va_end(ap);
            return REAL(libusb_set_option)(ctx, option, level);
        }
        return REAL(libusb_set_option)(ctx, option);
    }
    return 0;   /* logging and backend options mean nothing to the simulator */
}

API const char *libusb_error_name(int code)
{
    if (!simusb_simulated())
        return REAL(libusb_error_name)(code);
    switch (code) {
    case LIBUSB_SUCCESS: return "LIBUSB_SUCCESS";
    case LIBUSB_ERROR_IO: return "LIBUSB_ERROR_IO";
    case LIBUSB_ERROR_INVALID_PARAM: return "LIBUSB_ERROR_INVALID_PARAM";
    case LIBUSB_ERROR_ACCESS: return "LIBUSB_ERROR_ACCESS";
    case LIBUSB_ERROR_NO_DEVICE: return "LIBUSB_ERROR_NO_DEVICE";
    case LIBUSB_ERROR_NOT_FOUND: return "LIBUSB_ERROR_NOT_FOUND";
    case LIBUSB_ERROR_BUSY: return "LIBUSB_ERROR_BUSY";
    case LIBUSB_ERROR_TIMEOUT: return "LIBUSB_ERROR_TIMEOUT";
    case LIBUSB_ERROR_OVERFLOW: return "LIBUSB_ERROR_OVERFLOW";
    case LIBUSB_ERROR_PIPE: return "LIBUSB_ERROR_PIPE";
    case LIBUSB_ERROR_INTERRUPTED: return "LIBUSB_ERROR_INTERRUPTED";
    case LIBUSB_ERROR_NO_MEM: return "LIBUSB_ERROR_NO_MEM";
    case LIBUSB_ERROR_NOT_SUPPORTED: return "LIBUSB_ERROR_NOT_SUPPORTED";
    default: return code >= 0 ? "LIBUSB_SUCCESS / LIBUSB_TRANSFER_COMPLETED" : "LIBUSB_ERROR_OTHER";
    }
}

/* ---- device list and descriptors ---- */

API ssize_t libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
    if (!simusb_simulated())
        return REAL(libusb_get_device_list)(ctx, list);
    *list = NULL;
    int fd = simusb_connect(sock_path);
    if (fd < 0) {
        warn_unreachable();
        return LIBUSB_ERROR_IO;
    }
    plist_t req = request("List");
    plist_t reply = simusb_call(fd, req);
    plist_free(req);
    close(fd);
    if (!reply)
        return LIBUSB_ERROR_IO;
    size_t n = 0;
    libusb_device **l = devices_from(reply, &n);
    plist_free(reply);
    if (!l)
        l = calloc(1, sizeof *l);
    if (!l)
        return LIBUSB_ERROR_NO_MEM;
    *list = l;
    return (ssize_t)n;
}

API void libusb_free_device_list(libusb_device **list, int unref_devices)
{
    if (!simusb_simulated()) {
        REAL(libusb_free_device_list)(list, unref_devices);
        return;
    }
    if (!list)
        return;
    for (size_t i = 0; unref_devices && list[i]; i++)
        libusb_unref_device(list[i]);
    free(list);
}

API int libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc)
{
    if (!simusb_simulated())
        return REAL(libusb_get_device_descriptor)(dev, desc);
    memset(desc, 0, sizeof *desc);
    desc->bLength = LIBUSB_DT_DEVICE_SIZE;
    desc->bDescriptorType = LIBUSB_DT_DEVICE;
    desc->bcdUSB = 0x0200;
    desc->bMaxPacketSize0 = 64;
    desc->idVendor = APPLE_VID;
    desc->idProduct = dev->product_id;
    desc->bcdDevice = 0x0001;
    /* String 1 carries the nonces, as iBoot's does (libirecovery reads them there). */
    desc->iManufacturer = 2;
    desc->iProduct = 3;
    desc->iSerialNumber = 4;
    desc->bNumConfigurations = 1;
    return 0;
}

API uint8_t libusb_get_bus_number(libusb_device *dev)
{
    if (!simusb_simulated())
        return REAL(libusb_get_bus_number)(dev);
    return (uint8_t)(dev->location >> 16);
}

API uint8_t libusb_get_device_address(libusb_device *dev)
{
    if (!simusb_simulated())
        return REAL(libusb_get_device_address)(dev);
    return (uint8_t)(dev->location & 0xff);
}

/* ---- handles ---- */

API int libusb_open(libusb_device *dev, libusb_device_handle **out)
{
    if (!simusb_simulated())
        return REAL(libusb_open)(dev, out);
    *out = NULL;
    int fd = simusb_connect(sock_path);
    if (fd < 0) {
        warn_unreachable();
        return LIBUSB_ERROR_NO_DEVICE;
    }
    plist_t req = request("Open");
    plist_dict_set_item(req, "Location", plist_new_uint(dev->location));
    plist_t reply = simusb_call(fd, req);
    plist_free(req);
    int st = reply_status(reply);
    if (reply)
        plist_free(reply);
    if (st < 0) {
        close(fd);
        return st;
    }
    libusb_device_handle *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        return LIBUSB_ERROR_NO_MEM;
    }
    h->fd = fd;
    h->dev = libusb_ref_device(dev);
    pthread_mutex_init(&h->lock, NULL);
    *out = h;
    return 0;
}

API void libusb_close(libusb_device_handle *h)
{
    if (!simusb_simulated()) {
        REAL(libusb_close)(h);
        return;
    }
    if (!h)
        return;
    close(h->fd);
    libusb_unref_device(h->dev);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Sends req (consumed) on the handle's connection and returns the answer (or NULL). */
static plist_t handle_call(libusb_device_handle *h, plist_t req)
{
    pthread_mutex_lock(&h->lock);
    plist_t reply = simusb_call(h->fd, req);
    pthread_mutex_unlock(&h->lock);
    plist_free(req);
    return reply;
}

static int simple_call(libusb_device_handle *h, const char *name, int value)
{
    plist_t req = request(name);
    plist_dict_set_item(req, "Value", plist_new_uint((uint64_t)(value < 0 ? 0 : value)));
    plist_t reply = handle_call(h, req);
    int st = reply_status(reply);
    if (reply)
        plist_free(reply);
    return st < 0 ? st : 0;
}

API int libusb_get_configuration(libusb_device_handle *h, int *config)
{
    if (!simusb_simulated())
        return REAL(libusb_get_configuration)(h, config);
    *config = 1;   /* the only configuration an Apple device in recovery or DFU has */
    return 0;
}

API int libusb_set_configuration(libusb_device_handle *h, int config)
{
    if (!simusb_simulated())
        return REAL(libusb_set_configuration)(h, config);
    return simple_call(h, "SetConfiguration", config);
}

API int libusb_claim_interface(libusb_device_handle *h, int iface)
{
    if (!simusb_simulated())
        return REAL(libusb_claim_interface)(h, iface);
    return simple_call(h, "ClaimInterface", iface);
}

API int libusb_release_interface(libusb_device_handle *h, int iface)
{
    if (!simusb_simulated())
        return REAL(libusb_release_interface)(h, iface);
    return simple_call(h, "ReleaseInterface", iface);
}

API int libusb_set_interface_alt_setting(libusb_device_handle *h, int iface, int alt)
{
    if (!simusb_simulated())
        return REAL(libusb_set_interface_alt_setting)(h, iface, alt);
    plist_t req = request("SetAltSetting");
    plist_dict_set_item(req, "Interface", plist_new_uint((uint64_t)(iface < 0 ? 0 : iface)));
    plist_dict_set_item(req, "Value", plist_new_uint((uint64_t)(alt < 0 ? 0 : alt)));
    plist_t reply = handle_call(h, req);
    int st = reply_status(reply);
    if (reply)
        plist_free(reply);
    return st < 0 ? st : 0;
}

API int libusb_reset_device(libusb_device_handle *h)
{
    if (!simusb_simulated())
        return REAL(libusb_reset_device)(h);
    /* A reset makes a device that has taken an image boot it and re-enumerate; the
     * handle is then gone, which libusb reports as NOT_FOUND. */
    return simple_call(h, "Reset", 0);
}

API int libusb_clear_halt(libusb_device_handle *h, unsigned char endpoint)
{
    if (!simusb_simulated())
        return REAL(libusb_clear_halt)(h, endpoint);
    return simple_call(h, "ClearHalt", endpoint);
}

API int libusb_get_string_descriptor_ascii(libusb_device_handle *h, uint8_t index, unsigned char *data, int length)
{
    if (!simusb_simulated())
        return REAL(libusb_get_string_descriptor_ascii)(h, index, data, length);
    if (!data || length <= 0)
        return LIBUSB_ERROR_INVALID_PARAM;
    plist_t req = request("String");
    plist_dict_set_item(req, "Index", plist_new_uint(index));
    plist_t reply = handle_call(h, req);
    int st = reply_status(reply);
    const char *s = simusb_dict_str(reply, "String");
    if (st >= 0) {
        if (!s)
            s = "";
        size_t n = strlen(s);
        if (n > (size_t)length - 1)
            n = (size_t)length - 1;
        memcpy(data, s, n);
        data[n] = '\0';
        st = (int)n;
    }
    if (reply)
        plist_free(reply);
    return st;
}

API int libusb_control_transfer(libusb_device_handle *h, uint8_t request_type, uint8_t b_request,
                                uint16_t w_value, uint16_t w_index, unsigned char *data,
                                uint16_t w_length, unsigned int timeout)
{
    if (!simusb_simulated())
        return REAL(libusb_control_transfer)(h, request_type, b_request, w_value, w_index, data, w_length, timeout);
    bool in = (request_type & LIBUSB_ENDPOINT_IN) != 0;
    plist_t req = request("Control");
    plist_dict_set_item(req, "RequestType", plist_new_uint(request_type));
    plist_dict_set_item(req, "BRequest", plist_new_uint(b_request));
    plist_dict_set_item(req, "Value", plist_new_uint(w_value));
    plist_dict_set_item(req, "Index", plist_new_uint(w_index));
    plist_dict_set_item(req, "Length", plist_new_uint(w_length));
    if (!in)
        plist_dict_set_item(req, "Data", plist_new_data((const char *)data, data ? w_length : 0));
    plist_t reply = handle_call(h, req);
    int st = reply_status(reply);
    if (st >= 0 && in) {
        plist_t dn = plist_dict_get_item(reply, "Data");
        char *buf = NULL;
        uint64_t len = 0;
        if (dn && plist_get_node_type(dn) == PLIST_DATA)
            plist_get_data_val(dn, &buf, &len);
        if (len > w_length)
            len = w_length;
        if (len && data)
            memcpy(data, buf, (size_t)len);
        free(buf);
        st = (int)len;
    }
    if (reply)
        plist_free(reply);
    return st;
}

API int libusb_bulk_transfer(libusb_device_handle *h, unsigned char endpoint, unsigned char *data, int length,
                             int *transferred, unsigned int timeout)
{
    if (!simusb_simulated())
        return REAL(libusb_bulk_transfer)(h, endpoint, data, length, transferred, timeout);
    if (transferred)
        *transferred = 0;
    if (length < 0 || (length > 0 && !data))
        return LIBUSB_ERROR_INVALID_PARAM;
    bool in = (endpoint & LIBUSB_ENDPOINT_IN) != 0;
    int done = 0, st = 0;
    /* Large transfers go in pieces so no frame comes near the socket's size limit. */
    do {
        int piece = length - done > 0x10000 ? 0x10000 : length - done;
        plist_t req = request("Bulk");
        plist_dict_set_item(req, "Endpoint", plist_new_uint(endpoint));
        if (in)
            plist_dict_set_item(req, "Length", plist_new_uint((uint64_t)piece));
        else
            plist_dict_set_item(req, "Data", plist_new_data((const char *)data + done, (uint64_t)piece));
        plist_t reply = handle_call(h, req);
        st = reply_status(reply);
        int moved = 0;
        if (st >= 0) {
            if (in) {
                plist_t dn = plist_dict_get_item(reply, "Data");
                char *buf = NULL;
                uint64_t len = 0;
                if (dn && plist_get_node_type(dn) == PLIST_DATA)
                    plist_get_data_val(dn, &buf, &len);
                if (len > (uint64_t)piece)
                    len = (uint64_t)piece;
                if (len)
                    memcpy(data + done, buf, (size_t)len);
                free(buf);
                moved = (int)len;
            } else {
                moved = (int)simusb_dict_int(reply, "Transferred", 0);
                if (moved > piece)
                    moved = piece;
            }
        }
        if (reply)
            plist_free(reply);
        done += moved;
        if (st < 0 || moved < piece)
            break;
    } while (done < length);
    if (transferred)
        *transferred = done;
    return st < 0 ? st : 0;
}

/* ---- hotplug ---- */

static bool cb_matches(const struct hotplug_cb *cb, const libusb_device *d)
{
    return (cb->vid == LIBUSB_HOTPLUG_MATCH_ANY || cb->vid == APPLE_VID) &&
           (cb->pid == LIBUSB_HOTPLUG_MATCH_ANY || cb->pid == d->product_id);
}

/* Calls the callbacks for one event, without the context lock (a callback may call back
 * into libusb). The callback table is copied first. */
static void fire(libusb_context *ctx, libusb_device *d, libusb_hotplug_event ev, int only_handle)
{
    pthread_mutex_lock(&ctx->lock);
    size_t n = ctx->ncbs;
    struct hotplug_cb *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy)
        memcpy(copy, ctx->cbs, n * sizeof *copy);
    pthread_mutex_unlock(&ctx->lock);
    for (size_t i = 0; copy && i < n; i++) {
        if ((only_handle && copy[i].handle != only_handle) || !(copy[i].events & (int)ev) || !cb_matches(&copy[i], d))
            continue;
        if (copy[i].fn(ctx, d, ev, copy[i].user_data)) {
            /* A callback that returns 1 asks to be deregistered. */
            libusb_hotplug_deregister_callback(ctx, copy[i].handle);
        }
    }
    free(copy);
}

static int keep(libusb_context *ctx, libusb_device *d)
{
    libusb_device **k = realloc(ctx->kept, (ctx->nkept + 1) * sizeof *k);
    if (!k)
        return -1;
    ctx->kept = k;
    ctx->kept[ctx->nkept++] = libusb_ref_device(d);
    return 0;
}

/* Applies a new device list: LEFT for what went, then ARRIVED for what came (no events
 * when silent: the first list of a watch opened without LIBUSB_HOTPLUG_ENUMERATE). */
static void apply_list(libusb_context *ctx, libusb_device **now, size_t nnow, bool silent)
{
    pthread_mutex_lock(&ctx->lock);
    libusb_device **old = ctx->known;
    size_t nold = ctx->nknown;
    ctx->known = now;
    ctx->nknown = nnow;
    /* Only arrivals are new objects a callback may hold on to; the others were kept when
     * they arrived. */
    for (size_t j = 0; j < nnow; j++) {
        bool was = false;
        for (size_t i = 0; i < nold && !was; i++)
            was = device_same(old[i], now[j]);
        if (!was)
            keep(ctx, now[j]);
    }
    pthread_mutex_unlock(&ctx->lock);
    for (size_t i = 0; i < nold && !silent; i++) {
        bool still = false;
        for (size_t j = 0; j < nnow && !still; j++)
            still = device_same(old[i], now[j]);
        if (!still)
            fire(ctx, old[i], LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0);
    }
    for (size_t j = 0; j < nnow && !silent; j++) {
        bool was = false;
        for (size_t i = 0; i < nold && !was; i++)
            was = device_same(old[i], now[j]);
        if (!was)
            fire(ctx, now[j], LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, 0);
    }
    for (size_t i = 0; i < nold; i++)
        libusb_unref_device(old[i]);
    free(old);
}

/* Opens the watch connection (lock not held). 0 on success. */
static int watch_open(libusb_context *ctx)
{
    if (ctx->watch_fd >= 0)
        return 0;
    int fd = simusb_connect(sock_path);
    if (fd < 0) {
        warn_unreachable();
        return -1;
    }
    plist_t req = request("Watch");
    int rc = simusb_send(fd, req);
    plist_free(req);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    ctx->watch_fd = fd;
    return 0;
}

/* Reads every list simdevd pushed, waiting up to timeout_ms for the first one. */
static void watch_poll(libusb_context *ctx, int timeout_ms, bool silent)
{
    if (ctx->watch_fd < 0 && watch_open(ctx) != 0)
        return;
    for (;;) {
        struct pollfd pfd = { .fd = ctx->watch_fd, .events = POLLIN };
        int r = poll(&pfd, 1, timeout_ms);
        if (r <= 0)
            return;
        timeout_ms = 0;
        plist_t msg = NULL;
        if (simusb_recv(ctx->watch_fd, &msg, 5000) != 0) {
            /* simdevd went away: every device it showed is gone with it. */
            close(ctx->watch_fd);
            ctx->watch_fd = -1;
            apply_list(ctx, calloc(1, sizeof(libusb_device *)), 0, false);
            return;
        }
        size_t n = 0;
        libusb_device **now = devices_from(msg, &n);
        plist_free(msg);
        if (now)
            apply_list(ctx, now, n, silent);
        silent = false;
    }
}

API int libusb_hotplug_register_callback(libusb_context *ctx, int events, int flags, int vendor_id,
                                         int product_id, int dev_class, libusb_hotplug_callback_fn cb_fn,
                                         void *user_data, libusb_hotplug_callback_handle *handle)
{
    if (!simusb_simulated())
        return REAL(libusb_hotplug_register_callback)(ctx, events, flags, vendor_id, product_id, dev_class,
                                                      cb_fn, user_data, handle);
    ctx = ctx_of(ctx);
    if (!ctx || !cb_fn)
        return LIBUSB_ERROR_INVALID_PARAM;
    pthread_mutex_lock(&ctx->lock);
    struct hotplug_cb *n = realloc(ctx->cbs, (ctx->ncbs + 1) * sizeof *n);
    if (!n) {
        pthread_mutex_unlock(&ctx->lock);
        return LIBUSB_ERROR_NO_MEM;
    }
    ctx->cbs = n;
    int id = ctx->next_handle++;
    ctx->cbs[ctx->ncbs++] = (struct hotplug_cb){ id, events, vendor_id, product_id, cb_fn, user_data };
    pthread_mutex_unlock(&ctx->lock);
    if (handle)
        *handle = id;
    /* The first list arrives at once on a fresh watch: it makes the ARRIVED events of
     * LIBUSB_HOTPLUG_ENUMERATE here, before this returns, as libusb does. */
    bool fresh = ctx->watch_fd < 0;
    if (fresh)
        watch_poll(ctx, 5000, !(flags & LIBUSB_HOTPLUG_ENUMERATE));
    if ((flags & LIBUSB_HOTPLUG_ENUMERATE) && !fresh) {
        pthread_mutex_lock(&ctx->lock);
        size_t cnt = ctx->nknown;
        libusb_device **copy = calloc(cnt + 1, sizeof *copy);
        for (size_t i = 0; copy && i < cnt; i++)
            copy[i] = libusb_ref_device(ctx->known[i]);
        pthread_mutex_unlock(&ctx->lock);
        for (size_t i = 0; copy && i < cnt; i++) {
            fire(ctx, copy[i], LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, id);
            libusb_unref_device(copy[i]);
        }
        free(copy);
    }
    return 0;
}

API void libusb_hotplug_deregister_callback(libusb_context *ctx, libusb_hotplug_callback_handle handle)
{
    if (!simusb_simulated()) {
        REAL(libusb_hotplug_deregister_callback)(ctx, handle);
        return;
    }
    ctx = ctx_of(ctx);
    if (!ctx)
        return;
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->ncbs; i++) {
        if (ctx->cbs[i].handle == handle) {
            memmove(&ctx->cbs[i], &ctx->cbs[i + 1], (ctx->ncbs - i - 1) * sizeof *ctx->cbs);
            ctx->ncbs--;
            break;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
}

API int libusb_handle_events_timeout_completed(libusb_context *ctx, struct timeval *tv, int *completed)
{
    if (!simusb_simulated())
        return REAL(libusb_handle_events_timeout_completed)(ctx, tv, completed);
    ctx = ctx_of(ctx);
    if (!ctx)
        return LIBUSB_ERROR_INVALID_PARAM;
    int ms = tv ? (int)(tv->tv_sec * 1000 + tv->tv_usec / 1000) : 60000;
    pthread_mutex_lock(&ctx->lock);
    bool want = ctx->ncbs > 0;
    pthread_mutex_unlock(&ctx->lock);
    if (want)
        watch_poll(ctx, ms, false);
    else if (ms > 0)
        usleep((useconds_t)ms * 1000);
    return 0;
}

API int libusb_handle_events_timeout(libusb_context *ctx, struct timeval *tv)
{
    if (!simusb_simulated())
        return REAL(libusb_handle_events_timeout)(ctx, tv);
    return libusb_handle_events_timeout_completed(ctx, tv, NULL);
}

API int libusb_handle_events(libusb_context *ctx)
{
    if (!simusb_simulated())
        return REAL(libusb_handle_events)(ctx);
    struct timeval tv = { 60, 0 };
    return libusb_handle_events_timeout_completed(ctx, &tv, NULL);
}

API int libusb_handle_events_completed(libusb_context *ctx, int *completed)
{
    if (!simusb_simulated())
        return REAL(libusb_handle_events_completed)(ctx, completed);
    struct timeval tv = { 60, 0 };
    return libusb_handle_events_timeout_completed(ctx, &tv, completed);
}
