/* usbmux.c: the usbmuxd protocol as libusbmuxd 2.0.2 speaks it, on simdevd's own socket.
 *
 * Every message is a 16-byte header (length including the header, version, message type,
 * tag; host byte order) and a payload. simdevd speaks version 1, where the payload is an
 * XML plist whose MessageType names the request; replies echo the tag. A version 0 client
 * (binary messages) gets RESULT_BADVERSION, which makes libusbmuxd retry with plists.
 *
 * A connection either stays a request/reply channel (ListDevices, ReadBUID, pair records),
 * becomes an event stream (Listen: Attached/Detached as devices come, go or change mode),
 * or becomes a raw pipe to a port on the phone (Connect), after which the bytes belong to
 * lockdownd or to the service that port was opened for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simcore.h"

#define MUX_HEADER 16
#define MUX_MAX_MESSAGE (1u << 20)
#define MUX_PLIST 8
#define MUX_RESULT 1
#define RESULT_OK 0
#define RESULT_BADCOMMAND 1
#define RESULT_BADDEV 2
#define RESULT_CONNREFUSED 3
#define RESULT_BADVERSION 6
#define APPLE_PRODUCT_ID_IPHONE 0x12a8

static int send_message(int fd, uint32_t version, uint32_t type, uint32_t tag, const void *payload, uint32_t len)
{
    uint32_t hdr[4] = { MUX_HEADER + len, version, type, tag };
    if (sim_write_full(fd, hdr, sizeof hdr) != 0)
        return -1;
    return len ? sim_write_full(fd, payload, len) : 0;
}

static int send_plist(int fd, uint32_t tag, plist_t p)
{
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(p, &xml, &len);
    if (!xml)
        return -1;
    int r = send_message(fd, 1, MUX_PLIST, tag, xml, len);
    free(xml);
    return r;
}

static int send_result(int fd, uint32_t tag, uint32_t number)
{
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "MessageType", plist_new_string("Result"));
    plist_dict_set_item(p, "Number", plist_new_uint(number));
    int r = send_plist(fd, tag, p);
    plist_free(p);
    return r;
}

static plist_t device_properties(struct sim_device *d)
{
    plist_t props = plist_new_dict();
    plist_dict_set_item(props, "ConnectionSpeed", plist_new_uint(480000000));
    plist_dict_set_item(props, "ConnectionType", plist_new_string("USB"));
    plist_dict_set_item(props, "DeviceID", plist_new_uint(d->mux_id));
    plist_dict_set_item(props, "LocationID", plist_new_uint(0x14100000u + (unsigned)d->index * 0x1000u));
    plist_dict_set_item(props, "ProductID", plist_new_uint(APPLE_PRODUCT_ID_IPHONE));
    plist_dict_set_item(props, "SerialNumber", plist_new_string(d->udid));
    return props;
}

static plist_t attached_message(struct sim_device *d)
{
    plist_t m = plist_new_dict();
    plist_dict_set_item(m, "DeviceID", plist_new_uint(d->mux_id));
    plist_dict_set_item(m, "MessageType", plist_new_string("Attached"));
    plist_dict_set_item(m, "Properties", device_properties(d));
    return m;
}

static void list_devices(struct sim_world *w, int fd, uint32_t tag)
{
    plist_t list = plist_new_array();
    sim_lock(w);
    for (size_t i = 0; i < w->ndevices; i++)
        if (w->devices[i].mux_id)
            plist_array_append_item(list, attached_message(&w->devices[i]));
    sim_unlock(w);
    plist_t reply = plist_new_dict();
    plist_dict_set_item(reply, "DeviceList", list);
    send_plist(fd, tag, reply);
    plist_free(reply);
}

/* The event stream after Listen: runs until the client goes away or the daemon stops. */
static void listen_loop(struct sim_world *w, int fd, uint32_t tag)
{
    uint32_t known[SIM_MAX_DEVICES] = { 0 };
    for (;;) {
        uint32_t now_ids[SIM_MAX_DEVICES] = { 0 };
        plist_t attach[SIM_MAX_DEVICES] = { 0 };
        sim_lock(w);
        unsigned long seq = w->change_seq;
        size_t n = w->ndevices;
        for (size_t i = 0; i < n; i++) {
            now_ids[i] = w->devices[i].mux_id;
            if (now_ids[i] && now_ids[i] != known[i])
                attach[i] = attached_message(&w->devices[i]);
        }
        sim_unlock(w);
        int err = 0;
        for (size_t i = 0; i < n; i++) {
            if (known[i] && known[i] != now_ids[i]) {
                plist_t m = plist_new_dict();
                plist_dict_set_item(m, "DeviceID", plist_new_uint(known[i]));
                plist_dict_set_item(m, "MessageType", plist_new_string("Detached"));
                err |= send_plist(fd, tag, m);
                plist_free(m);
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (attach[i]) {
                err |= send_plist(fd, tag, attach[i]);
                plist_free(attach[i]);
            }
            known[i] = now_ids[i];
        }
        if (err || w->stopping)
            return;
        sim_lock(w);
        if (w->change_seq == seq)
            sim_wait_change(w, 0.2);
        sim_unlock(w);
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, 0) > 0) {
            char junk[256];
            ssize_t r = read(fd, junk, sizeof junk);
            if (r <= 0)
                return;
        }
    }
}

/* A pair record id becomes a file name: only UDID characters are allowed. */
static bool safe_record_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F') || *c == '-'))
            return false;
    return true;
}

static void read_pair_record(struct sim_world *w, int fd, uint32_t tag, const char *id)
{
    char path[4300];
    if (!id || !safe_record_id(id) || sim_pair_record_path(w, id, path, sizeof path) != 0) {
        send_result(fd, tag, RESULT_BADCOMMAND);
        return;
    }
    sim_pairing_prepare_record(w, id);
    FILE *f = fopen(path, "rb");
    if (!f) {
        send_result(fd, tag, ENOENT);
        return;
    }
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    plist_t reply = plist_new_dict();
    plist_dict_set_item(reply, "PairRecordData", plist_new_data(buf, len));
    send_plist(fd, tag, reply);
    plist_free(reply);
}

static void save_pair_record(struct sim_world *w, int fd, uint32_t tag, const char *id, plist_t msg)
{
    char path[4300], tmp[4400];
    plist_t data = plist_dict_get_item(msg, "PairRecordData");
    if (!id || !safe_record_id(id) || !data || plist_get_node_type(data) != PLIST_DATA ||
        sim_pair_record_path(w, id, path, sizeof path) != 0) {
        send_result(fd, tag, RESULT_BADCOMMAND);
        return;
    }
    char *buf = NULL;
    uint64_t len = 0;
    plist_get_data_val(data, &buf, &len);
    plist_t check = NULL;
    if (buf && len > 0 && len < 65536)
        sim_plist_from_bytes(buf, (size_t)len, &check);
    if (!check || plist_get_node_type(check) != PLIST_DICT) {
        plist_free(check);
        free(buf);
        send_result(fd, tag, EINVAL);
        return;
    }
    plist_free(check);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, (size_t)len, f) == len;
    if (f && fclose(f) != 0)
        ok = 0;
    free(buf);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        send_result(fd, tag, EIO);
        return;
    }
    send_result(fd, tag, RESULT_OK);
}

static void delete_pair_record(struct sim_world *w, int fd, uint32_t tag, const char *id)
{
    char path[4300];
    if (!id || !safe_record_id(id) || sim_pair_record_path(w, id, path, sizeof path) != 0) {
        send_result(fd, tag, RESULT_BADCOMMAND);
        return;
    }
    bool pending = sim_pairing_forget_record(w, id);
    bool removed = unlink(path) == 0;
    send_result(fd, tag, removed || pending ? RESULT_OK : ENOENT);
}

static void lockdown_entry(struct sim_world *w, struct sim_device *d, int fd)
{
    sim_lockdown_serve(w, d, fd);
}

/* Connect: find the device and what listens on the port; then the socket is a raw pipe. */
static void connect_port(struct sim_world *w, int fd, uint32_t tag, plist_t msg)
{
    uint64_t id = 0, port_be = 0;
    plist_t n = plist_dict_get_item(msg, "DeviceID");
    plist_t p = plist_dict_get_item(msg, "PortNumber");
    if (!n || plist_get_node_type(n) != PLIST_UINT || !p || plist_get_node_type(p) != PLIST_UINT) {
        send_result(fd, tag, RESULT_BADCOMMAND);
        return;
    }
    plist_get_uint_val(n, &id);
    plist_get_uint_val(p, &port_be);
    uint16_t port = ntohs((uint16_t)port_be);
    sim_lock(w);
    struct sim_device *d = NULL;
    for (size_t i = 0; id && i < w->ndevices; i++)
        if (w->devices[i].mux_id == id)
            d = &w->devices[i];
    if (!d) {
        sim_unlock(w);
        send_result(fd, tag, RESULT_BADDEV);
        return;
    }
    sim_service_fn fn = sim_port_find(d->mode, port);
    if (!fn && d->mode == SIM_MODE_NORMAL)
        fn = port == 62078 ? lockdown_entry : sim_lockdown_port_fn(w, d, port);
    if (!fn) {
        sim_unlock(w);
        send_result(fd, tag, RESULT_CONNREFUSED);
        return;
    }
    int slot = sim_conn_track(w, d, fd);
    sim_unlock(w);
    if (slot < 0 || send_result(fd, tag, RESULT_OK) != 0) {
        sim_lock(w);
        sim_conn_untrack(w, slot);
        sim_unlock(w);
        return;
    }
    if (fn != lockdown_entry)
        sim_wait_data_ready(w);   /* services may read the phone's data */
    /* The handler owns (and closes) a duplicate; the original stays registered so an
     * unplug can shut the socket down under the handler. */
    int own = dup(fd);
    if (own >= 0)
        fn(w, d, own);
    sim_lock(w);
    sim_conn_untrack(w, slot);
    sim_unlock(w);
}

void sim_usbmux_serve(struct sim_world *w, int fd)
{
    for (;;) {
        uint32_t hdr[4];
        if (sim_read_full(fd, hdr, sizeof hdr, SIM_IDLE_TIMEOUT_MS) != 0)
            break;
        uint32_t len = hdr[0], version = hdr[1], type = hdr[2], tag = hdr[3];
        if (len < MUX_HEADER || len > MUX_MAX_MESSAGE)
            break;   /* a length no client sends: the stream cannot be resynchronised */
        uint32_t plen = len - MUX_HEADER;
        char *payload = plen ? malloc(plen) : NULL;
        if (plen && (!payload || sim_read_full(fd, payload, plen, 5000) != 0)) {
            free(payload);
            break;
        }
        if (version != 1 || type != MUX_PLIST) {
            free(payload);
            uint32_t result = RESULT_BADVERSION;
            if (send_message(fd, 0, MUX_RESULT, tag, &result, sizeof result) != 0)
                break;
            continue;
        }
        plist_t msg = NULL;
        if (plen && !(plen >= 8 && memcmp(payload, "bplist00", 8) == 0))   /* usbmuxd speaks XML */
            sim_plist_from_bytes(payload, plen, &msg);
        free(payload);
        char *type_name = sim_plist_get_string(msg, "MessageType");
        if (!type_name) {
            plist_free(msg);
            if (send_result(fd, tag, RESULT_BADCOMMAND) != 0)
                break;
            continue;
        }
        int done = 0;
        if (strcmp(type_name, "ListDevices") == 0) {
            list_devices(w, fd, tag);
        } else if (strcmp(type_name, "Listen") == 0) {
            if (send_result(fd, tag, RESULT_OK) == 0)
                listen_loop(w, fd, tag);
            done = 1;
        } else if (strcmp(type_name, "Connect") == 0) {
            connect_port(w, fd, tag, msg);
            done = 1;   /* after Connect the socket is the device's or is closed */
        } else if (strcmp(type_name, "ReadBUID") == 0) {
            plist_t reply = plist_new_dict();
            plist_dict_set_item(reply, "BUID", plist_new_string(w->buid));
            send_plist(fd, tag, reply);
            plist_free(reply);
        } else if (strcmp(type_name, "ReadPairRecord") == 0 || strcmp(type_name, "SavePairRecord") == 0 ||
                   strcmp(type_name, "DeletePairRecord") == 0) {
            char *id = sim_plist_get_string(msg, "PairRecordID");
            if (type_name[0] == 'R')
                read_pair_record(w, fd, tag, id);
            else if (type_name[0] == 'S')
                save_pair_record(w, fd, tag, id, msg);
            else
                delete_pair_record(w, fd, tag, id);
            free(id);
        } else {
            send_result(fd, tag, RESULT_BADCOMMAND);
        }
        free(type_name);
        plist_free(msg);
        if (done)
            break;
    }
    close(fd);
}
