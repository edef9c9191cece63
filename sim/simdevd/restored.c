/* restored.c: the restore ramdisk's restored on usbmux port 62078, while a phone is in
 * restore mode, as far as a host needs it to recognise the mode and the phone.
 *
 * libimobiledevice's restored client (and lockdownd_client_new, which finds restored
 * where it expected lockdownd) speaks plists framed by a 4-byte big-endian length:
 *   QueryType          -> {Type: com.apple.mobile.restored, RestoreProtocolVersion: 15}
 *   QueryValue QueryKey -> {<key>: value} for SerialNumber, HardwareModel, HardwareInfo
 *                          (UniqueChipID, ChipID, BoardID, ProductType, ...), ProductType,
 *                          UniqueChipID; a key restored does not know gets an answer
 *                          without it (the client then reports a plist error)
 *   Goodbye            -> {Result: Success}, connection closed
 *   Reboot             -> {Result: Success}, the phone reboots by its rules
 * The restore protocol itself (StartRestore, data requests, ASR) is not simulated here:
 * sim-idevicerestore drives restores through the firmware-restore control command
 * (restore.c). StartRestore is logged and answered with a failed StatusMsg, so a client
 * that tries it fails at once instead of waiting.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <plist/plist.h>

#include "iboot.h"

#define RESTORED_PORT 62078
#define RESTORE_PROTOCOL_VERSION 15

/* Lock held. One answer to a QueryValue. */
static void query_value(struct sim_device *d, const char *key, plist_t out)
{
    if (!strcmp(key, "SerialNumber")) {
        plist_dict_set_item(out, key, plist_new_string(d->serial));
    } else if (!strcmp(key, "HardwareModel")) {
        plist_dict_set_item(out, key, plist_new_string(d->hardware_model));
    } else if (!strcmp(key, "ProductType")) {
        plist_dict_set_item(out, key, plist_new_string(d->product_type));
    } else if (!strcmp(key, "UniqueChipID")) {
        plist_dict_set_item(out, key, plist_new_uint(d->ecid));
    } else if (!strcmp(key, "HardwareInfo")) {
        plist_t hw = plist_new_dict();
        plist_dict_set_item(hw, "UniqueChipID", plist_new_uint(d->ecid));
        plist_dict_set_item(hw, "ChipID", plist_new_uint(d->cpid));
        plist_dict_set_item(hw, "BoardID", plist_new_uint(d->bdid));
        plist_dict_set_item(hw, "ProductType", plist_new_string(d->product_type));
        plist_dict_set_item(hw, "ProductionMode", plist_new_bool(1));
        plist_dict_set_item(hw, "SecurityDomain", plist_new_uint(1));
        plist_dict_set_item(out, key, hw);
    }
}

static const char *request_of(plist_t msg)
{
    plist_t r = plist_dict_get_item(msg, "Request");
    return r && plist_get_node_type(r) == PLIST_STRING ? plist_get_string_ptr(r, NULL) : NULL;
}

static void serve_restored(struct sim_world *w, struct sim_device *d, int fd)
{
    plist_t msg;
    while ((msg = sim_iboot_frame_recv(fd))) {
        const char *req = request_of(msg);
        plist_t out = plist_new_dict();
        bool stop = false, reboot = false;
        sim_lock(w);
        bool here = sim_device_reachable(d, SIM_MODE_RESTORE);
        if (!here) {
            stop = true;
        } else if (!req) {
            plist_dict_set_item(out, "Error", plist_new_string("MissingRequest"));
            stop = true;
        } else if (!strcmp(req, "QueryType")) {
            plist_dict_set_item(out, "Type", plist_new_string("com.apple.mobile.restored"));
            plist_dict_set_item(out, "RestoreProtocolVersion", plist_new_uint(RESTORE_PROTOCOL_VERSION));
        } else if (!strcmp(req, "QueryValue")) {
            plist_t k = plist_dict_get_item(msg, "QueryKey");
            if (k && plist_get_node_type(k) == PLIST_STRING)
                query_value(d, plist_get_string_ptr(k, NULL), out);
        } else if (!strcmp(req, "Goodbye")) {
            plist_dict_set_item(out, "Result", plist_new_string("Success"));
            stop = true;
        } else if (!strcmp(req, "Reboot")) {
            plist_dict_set_item(out, "Result", plist_new_string("Success"));
            reboot = stop = true;
        } else if (!strcmp(req, "StartRestore")) {
            sim_log(w, d, "restored: StartRestore is not simulated (sim-idevicerestore restores through the "
                          "firmware-restore control command)");
            plist_dict_set_item(out, "MsgType", plist_new_string("StatusMsg"));
            plist_dict_set_item(out, "Status", plist_new_uint(1));
            stop = true;
        } else {
            plist_dict_set_item(out, "Error", plist_new_string("UnknownRequest"));
        }
        sim_unlock(w);
        plist_free(msg);
        if (here)
            sim_iboot_frame_send(fd, out, true);
        plist_free(out);
        if (reboot) {
            sim_lock(w);
            if (sim_device_reachable(d, SIM_MODE_RESTORE)) {
                sim_log(w, d, "restored: reboot requested");
                sim_iboot_reset(d);
                sim_reboot(w, d);
            }
            sim_unlock(w);
        }
        if (stop)
            break;
    }
    close(fd);
}

__attribute__((constructor)) static void register_restored(void)
{
    sim_port_register(SIM_MODE_RESTORE, RESTORED_PORT, serve_restored);
}
