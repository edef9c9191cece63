/* lockdown.c: lockdownd on port 62078, without TLS.
 *
 * Requests and replies are plists framed as lockdownd frames them (plistio.c). A reply
 * echoes "Request" and carries either the answer or "Error" with lockdownd's error name,
 * which libimobiledevice maps to its LOCKDOWN_E_* codes. StartSession answers
 * EnableSessionSSL false, so libimobiledevice 1.3.0 keeps talking in plain text.
 *
 * Trust: a phone trusts a host by its HostID. A Pair from an unknown host shows the
 * "Trust this computer?" dialog (trust_pending) and answers PairingDialogResponsePending
 * until the person taps Trust (control "trust", or the scenario's trust_after timer); the
 * next Pair then succeeds and the phone remembers the HostID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "simcore.h"

#define MAX_PORTS 32
#define FIRST_SERVICE_PORT 49152

struct port_slot { uint16_t port; sim_service_fn fn; };
static struct port_slot ports[SIM_MAX_DEVICES][MAX_PORTS];
static uint16_t next_port[SIM_MAX_DEVICES];

/* Lock held. */
int sim_lockdown_alloc_port(struct sim_world *w, struct sim_device *d, sim_service_fn fn)
{
    (void)w;
    uint16_t *np = &next_port[d->index];
    if (*np < FIRST_SERVICE_PORT)
        *np = FIRST_SERVICE_PORT;
    uint16_t port = (*np)++;
    if (*np == 0 || *np > 65000)
        *np = FIRST_SERVICE_PORT;
    struct port_slot *s = &ports[d->index][port % MAX_PORTS];
    s->port = port;
    s->fn = fn;
    return port;
}

/* Lock held. */
sim_service_fn sim_lockdown_port_fn(struct sim_world *w, struct sim_device *d, uint16_t port)
{
    (void)w;
    struct port_slot *s = &ports[d->index][port % MAX_PORTS];
    return s->port == port ? s->fn : NULL;
}

struct session {
    struct sim_world *w;
    struct sim_device *d;
    int fd;
    bool active;
    char session_id[40];
    char host_id[64];
};

static void uuid_string(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        memset(b, 0x5a, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static plist_t reply_for(const char *request)
{
    plist_t r = plist_new_dict();
    plist_dict_set_item(r, "Request", plist_new_string(request ? request : ""));
    return r;
}

static int send_error(struct session *s, const char *request, const char *error)
{
    plist_t r = reply_for(request);
    plist_dict_set_item(r, "Error", plist_new_string(error));
    int rc = sim_plist_send(s->fd, r);
    plist_free(r);
    return rc;
}

static int send_success(struct session *s, const char *request)
{
    plist_t r = reply_for(request);
    plist_dict_set_item(r, "Result", plist_new_string("Success"));
    int rc = sim_plist_send(s->fd, r);
    plist_free(r);
    return rc;
}

/* ---- values (lock held) ---- */

static void set_str(plist_t dict, const char *key, const char *v) { plist_dict_set_item(dict, key, plist_new_string(v)); }
static void set_uint(plist_t dict, const char *key, uint64_t v) { plist_dict_set_item(dict, key, plist_new_uint(v)); }
static void set_bool(plist_t dict, const char *key, bool v) { plist_dict_set_item(dict, key, plist_new_bool(v)); }

static plist_t device_dictionary(struct sim_world *w, struct sim_device *d, bool with_session)
{
    plist_t v = plist_new_dict();
    set_str(v, "BuildVersion", d->build_version);
    set_str(v, "DeviceClass", d->device_class);
    set_str(v, "DeviceName", d->device_name);
    set_str(v, "ProductType", d->product_type);
    set_str(v, "ProductVersion", d->ios_version);
    set_str(v, "UniqueDeviceID", d->udid);
    set_str(v, "HardwareModel", d->hardware_model);
    set_str(v, "WiFiAddress", d->wifi_address);
    set_str(v, "ProtocolVersion", "2");
    if (!with_session)
        return v;
    set_str(v, "ActivationState", d->activation_state);
    set_bool(v, "ActivationStateAcknowledged", true);
    set_uint(v, "BoardId", d->bdid);
    set_uint(v, "ChipID", d->cpid);
    set_str(v, "CPUArchitecture", "arm64e");
    set_str(v, "DeviceColor", "1");
    const char *pem = sim_device_public_key(w, d);
    if (pem)
        plist_dict_set_item(v, "DevicePublicKey", plist_new_data(pem, strlen(pem)));
    char plat[16];
    snprintf(plat, sizeof plat, "t%04x", d->cpid);
    set_str(v, "HardwarePlatform", plat);
    set_bool(v, "HostAttached", true);
    set_str(v, "InternationalMobileEquipmentIdentity", "35000000000000");
    set_bool(v, "PasswordProtected", d->passcode_set);
    if (d->phone_number[0])
        set_str(v, "PhoneNumber", d->phone_number);
    set_str(v, "ProductName", "iPhone OS");
    set_str(v, "SerialNumber", d->serial);
    set_str(v, "TimeZone", "Europe/Berlin");
    set_bool(v, "TrustedHostAttached", true);
    set_uint(v, "UniqueChipID", d->ecid);
    set_str(v, "BluetoothAddress", d->wifi_address);
    return v;
}

static plist_t domain_dictionary(struct sim_device *d, const char *domain)
{
    plist_t v = plist_new_dict();
    if (strcmp(domain, "com.apple.mobile.battery") == 0) {
        set_uint(v, "BatteryCurrentCapacity", (uint64_t)d->battery);
        set_bool(v, "BatteryIsCharging", d->charging);
        set_bool(v, "ExternalChargeCapable", d->plugged);
        set_bool(v, "ExternalConnected", d->plugged);
        set_bool(v, "FullyCharged", d->battery >= 100);
        set_bool(v, "GasGaugeCapability", true);
        set_bool(v, "HasBattery", true);
    } else if (strcmp(domain, "com.apple.disk_usage") == 0 || strcmp(domain, "com.apple.disk_usage.factory") == 0) {
        uint64_t system = 8ULL << 30;
        uint64_t total = d->storage_total;
        uint64_t data_total = total > system ? total - system : total;
        set_uint(v, "TotalDiskCapacity", total);
        set_uint(v, "TotalSystemCapacity", system);
        set_uint(v, "TotalSystemAvailable", 512ULL << 20);
        set_uint(v, "TotalDataCapacity", data_total);
        set_uint(v, "TotalDataAvailable", d->storage_free);
        set_uint(v, "AmountDataAvailable", d->storage_free);
        set_uint(v, "AmountDataReserved", 200ULL << 20);
        set_uint(v, "NANDInfo", 0);
    } else if (strcmp(domain, "com.apple.mobile.backup") == 0) {
        set_bool(v, "WillEncrypt", d->backup_password[0] != '\0');
        set_bool(v, "CloudBackupEnabled", false);
        set_uint(v, "LastCloudBackupDate", 0);
    } else if (strcmp(domain, "com.apple.mobile.iTunes") == 0) {
        set_str(v, "MinITunesVersion", "10.0.1");
    } else if (strcmp(domain, "com.apple.iTunes") == 0 || strcmp(domain, "com.apple.mobile.data_sync") == 0 ||
               strcmp(domain, "com.apple.international") == 0) {
        if (strcmp(domain, "com.apple.international") == 0) {
            set_str(v, "Language", "en");
            set_str(v, "Locale", "en_US");
        }
    } else if (strcmp(domain, "com.apple.mobile.lockdown") == 0) {
        set_str(v, "DeviceName", d->device_name);
    } else {
        plist_free(v);
        return NULL;
    }
    return v;
}

static void handle_get_value(struct session *s, plist_t req)
{
    char *domain = sim_plist_get_string(req, "Domain");
    char *key = sim_plist_get_string(req, "Key");
    if (!domain)
        sim_device_public_key(s->w, s->d);   /* the first call makes an RSA key: not under the lock */
    sim_lock(s->w);
    plist_t dict = domain ? domain_dictionary(s->d, domain) : device_dictionary(s->w, s->d, s->active);
    if (!domain && !s->active && key && strcmp(key, "DevicePublicKey") == 0) {
        /* Pairing needs the key before there is a session, as on a phone. */
        const char *pem = sim_device_public_key(s->w, s->d);
        if (pem)
            plist_dict_set_item(dict, "DevicePublicKey", plist_new_data(pem, strlen(pem)));
    }
    sim_unlock(s->w);
    plist_t value = NULL;
    const char *error = NULL;
    if (!dict)
        error = "MissingValue";
    else if (domain && !s->active)
        error = "InvalidHostID";   /* a phone answers domains only inside a trusted session */
    else if (key) {
        plist_t v = plist_dict_get_item(dict, key);
        if (v)
            value = plist_copy(v);
        else
            error = s->active ? "MissingValue" : "GetProhibited";
    } else {
        value = plist_copy(dict);
    }
    plist_free(dict);
    plist_t r = reply_for("GetValue");
    if (domain)
        set_str(r, "Domain", domain);
    if (key)
        set_str(r, "Key", key);
    if (error)
        set_str(r, "Error", error);
    else
        plist_dict_set_item(r, "Value", value);
    sim_plist_send(s->fd, r);
    plist_free(r);
    free(domain);
    free(key);
}

static char *pair_record_host_id(plist_t req)
{
    plist_t rec = plist_dict_get_item(req, "PairRecord");
    if (!rec || plist_get_node_type(rec) != PLIST_DICT)
        return NULL;
    return sim_plist_get_string(rec, "HostID");
}

static void handle_pair(struct session *s, plist_t req, const char *verb)
{
    char *host = pair_record_host_id(req);
    if (!host || !host[0] || strlen(host) >= 64) {
        send_error(s, verb, "InvalidPairRecord");
        free(host);
        return;
    }
    struct sim_world *w = s->w;
    struct sim_device *d = s->d;
    const char *error = NULL;
    sim_lock(w);
    struct sim_devpriv *p = sim_priv(w, d);
    if (strcmp(verb, "ValidatePair") == 0) {
        if (!sim_device_trusts(w, d, host))
            error = "InvalidHostID";
        sim_log(w, d, "validate-pair %s", error ? "unknown host" : "ok");
    } else if (strcmp(verb, "Unpair") == 0) {
        size_t j = 0;
        for (size_t i = 0; i < p->ntrusted; i++)
            if (strcasecmp(p->trusted_hosts[i], host) != 0)
                memmove(p->trusted_hosts[j++], p->trusted_hosts[i], sizeof p->trusted_hosts[0]);
        p->ntrusted = j;
        d->paired = false;
        sim_log(w, d, "unpair");
    } else if (sim_device_trusts(w, d, host) || p->trust_granted) {
        sim_device_trust_host(w, d, host);
        p->trust_granted = false;
        d->trust_pending = false;
        d->paired = true;
        sim_log(w, d, "pair ok");
    } else if (p->trust_denied) {
        p->trust_denied = false;
        error = "UserDeniedPairing";
        sim_log(w, d, "pair refused: user denied");
    } else {
        if (!d->trust_pending) {
            d->trust_pending = true;
            sim_log(w, d, "trust dialog shown");
            if (d->trust_after_s >= 0)
                sim_timer_add(w, d, SIM_TIMER_TRUST, d->trust_after_s);
            sim_notify_change(w);
        }
        error = d->passcode_set ? "PasswordProtected" : "PairingDialogResponsePending";
    }
    sim_unlock(w);
    free(host);
    if (error) {
        send_error(s, verb, error);
        return;
    }
    plist_t r = reply_for(verb);
    if (strcmp(verb, "Pair") == 0) {
        unsigned char bag[32];
        RAND_bytes(bag, sizeof bag);
        plist_dict_set_item(r, "EscrowBag", plist_new_data((const char *)bag, sizeof bag));
    }
    sim_plist_send(s->fd, r);
    plist_free(r);
}

static void handle_start_session(struct session *s, plist_t req)
{
    char *host = sim_plist_get_string(req, "HostID");
    if (!host) {
        send_error(s, "StartSession", "MissingHostID");
        return;
    }
    sim_lock(s->w);
    bool trusted = sim_device_trusts(s->w, s->d, host);
    sim_unlock(s->w);
    if (!trusted) {
        send_error(s, "StartSession", "InvalidHostID");
        free(host);
        return;
    }
    snprintf(s->host_id, sizeof s->host_id, "%s", host);
    free(host);
    uuid_string(s->session_id);
    s->active = true;
    plist_t r = reply_for("StartSession");
    set_str(r, "SessionID", s->session_id);
    set_bool(r, "EnableSessionSSL", false);
    sim_plist_send(s->fd, r);
    plist_free(r);
}

static void handle_start_service(struct session *s, plist_t req)
{
    char *name = sim_plist_get_string(req, "Service");
    if (!name) {
        send_error(s, "StartService", "MissingService");
        return;
    }
    if (!s->active) {
        send_error(s, "StartService", "InvalidHostID");
        free(name);
        return;
    }
    sim_service_fn fn = sim_service_find(name);
    if (!fn) {
        send_error(s, "StartService", "InvalidService");
        free(name);
        return;
    }
    sim_lock(s->w);
    int port = sim_lockdown_alloc_port(s->w, s->d, fn);
    sim_log(s->w, s->d, "start-service %s", name);
    sim_unlock(s->w);
    plist_t r = reply_for("StartService");
    set_str(r, "Service", name);
    set_uint(r, "Port", (uint64_t)port);
    set_bool(r, "EnableServiceSSL", false);
    sim_plist_send(s->fd, r);
    plist_free(r);
    free(name);
}

static void handle_enter_recovery(struct session *s)
{
    send_success(s, "EnterRecovery");
    struct sim_world *w = s->w;
    struct sim_device *d = s->d;
    sim_lock(w);
    sim_log(w, d, "enter-recovery");
    sim_nvram_set(d, "auto-boot", "false");
    sim_nvram_save(d);
    d->boot_count++;
    sim_set_mode(w, d, SIM_MODE_RECOVERY);
    sim_unlock(w);
}

static bool valid_utf8(const char *s)
{
    json_t *j = json_string(s);   /* jansson refuses invalid UTF-8 */
    json_decref(j);
    return j != NULL;
}

static void handle_set_value(struct session *s, plist_t req)
{
    char *domain = sim_plist_get_string(req, "Domain");
    char *key = sim_plist_get_string(req, "Key");
    char *value = sim_plist_get_string(req, "Value");
    if (!s->active) {
        send_error(s, "SetValue", "InvalidHostID");
    } else if (!domain && key && strcmp(key, "DeviceName") == 0 && value && value[0] &&
               strlen(value) < sizeof s->d->device_name && valid_utf8(value)) {
        sim_lock(s->w);
        strcpy(s->d->device_name, value);
        sim_log(s->w, s->d, "set DeviceName");
        sim_unlock(s->w);
        send_success(s, "SetValue");
    } else {
        send_error(s, "SetValue", "SetProhibited");
    }
    free(domain);
    free(key);
    free(value);
}

void sim_lockdown_serve(struct sim_world *w, struct sim_device *d, int fd)
{
    struct session s = { .w = w, .d = d, .fd = fd };
    for (;;) {
        plist_t req = NULL;
        if (sim_plist_recv(fd, &req, SIM_IDLE_TIMEOUT_MS) != 0)
            break;
        char *request = NULL;
        if (plist_get_node_type(req) == PLIST_DICT)
            request = sim_plist_get_string(req, "Request");
        int stop = 0;
        if (!request) {
            send_error(&s, "", "InvalidRequest");
        } else if (strcmp(request, "QueryType") == 0) {
            plist_t r = reply_for(request);
            set_str(r, "Type", "com.apple.mobile.lockdown");
            sim_plist_send(fd, r);
            plist_free(r);
        } else if (strcmp(request, "GetValue") == 0) {
            handle_get_value(&s, req);
        } else if (strcmp(request, "SetValue") == 0) {
            handle_set_value(&s, req);
        } else if (strcmp(request, "RemoveValue") == 0) {
            send_error(&s, request, "RemoveProhibited");
        } else if (strcmp(request, "StartSession") == 0) {
            handle_start_session(&s, req);
        } else if (strcmp(request, "StopSession") == 0) {
            char *sid = sim_plist_get_string(req, "SessionID");
            if (!s.active || !sid || strcmp(sid, s.session_id) != 0) {
                send_error(&s, request, s.active ? "InvalidSessionID" : "SessionInactive");
            } else {
                s.active = false;
                send_success(&s, request);
            }
            free(sid);
        } else if (strcmp(request, "StartService") == 0) {
            handle_start_service(&s, req);
        } else if (strcmp(request, "Pair") == 0 || strcmp(request, "ValidatePair") == 0 ||
                   strcmp(request, "Unpair") == 0) {
            handle_pair(&s, req, request);
        } else if (strcmp(request, "EnterRecovery") == 0) {
            handle_enter_recovery(&s);
            stop = 1;
        } else if (strcmp(request, "Goodbye") == 0) {
            send_success(&s, request);
            stop = 1;
        } else {
            send_error(&s, request, "InvalidRequest");
        }
        free(request);
        plist_free(req);
        if (stop)
            break;
    }
    close(fd);
}
