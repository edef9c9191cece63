/* pairing.c: this host's identity (SystemBUID, HostID) and the pair records that usbmuxd
 * hands to libimobiledevice, with real keys and certificates made by OpenSSL.
 *
 * A scenario device that is "paired" trusts this host's HostID from the start, and a pair
 * record for it exists in the usbmuxd store (<dir>/pairrecords/<UDID>.plist). RSA keys
 * take ~150 ms each, so nothing is generated at start (simdevd must start in under
 * 100 ms): the record is written the first time a client reads it, and a phone's own key
 * the first time something asks for DevicePublicKey. Keys live for the daemon's lifetime.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "simcore.h"

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static EVP_PKEY *root_key, *host_key;
static EVP_PKEY *device_keys[SIM_MAX_DEVICES];
static bool record_pending[SIM_MAX_DEVICES];

static void uuid_upper(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        memset(b, 0x3c, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int sim_pair_record_path(struct sim_world *w, const char *udid, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/pairrecords/%s.plist", w->dir, udid);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int sim_pairing_init(struct sim_world *w)
{
    uuid_upper(w->buid);
    uuid_upper(w->host_id);
    char path[4200];
    snprintf(path, sizeof path, "%s/pairrecords", w->dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    for (size_t i = 0; i < w->ndevices; i++) {
        struct sim_device *d = &w->devices[i];
        if (d->paired) {
            sim_device_trust_host(w, d, w->host_id);
            record_pending[i] = true;
        }
    }
    return 0;
}

static EVP_PKEY *new_key(void)
{
    return EVP_RSA_gen(2048);
}

/* PKCS#1 PEM ("RSA PUBLIC KEY" / "RSA PRIVATE KEY"), as lockdownd and libimobiledevice use. */
static char *pem_of(EVP_PKEY *key, int selection, size_t *len)
{
    OSSL_ENCODER_CTX *ctx = OSSL_ENCODER_CTX_new_for_pkey(key, selection, "PEM", "type-specific", NULL);
    unsigned char *data = NULL;
    size_t n = 0;
    if (!ctx || OSSL_ENCODER_to_data(ctx, &data, &n) != 1) {
        OSSL_ENCODER_CTX_free(ctx);
        return NULL;
    }
    OSSL_ENCODER_CTX_free(ctx);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, data, n);
        s[n] = '\0';
    }
    OPENSSL_free(data);
    *len = n;
    return s;
}

static char *cert_pem(X509 *cert, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || PEM_write_bio_X509(b, cert) != 1) {
        BIO_free(b);
        return NULL;
    }
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(b);
    return s;
}

static X509 *make_cert(EVP_PKEY *subject_key, EVP_PKEY *issuer_key, const char *cn, bool ca, long serial)
{
    X509 *c = X509_new();
    if (!c)
        return NULL;
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), 0);
    X509_gmtime_adj(X509_getm_notAfter(c), 60L * 60 * 24 * 365 * 10);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, name);
    X509_NAME_free(name);
    X509_NAME *issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC, (const unsigned char *)"simdevd root", -1, -1, 0);
    X509_set_issuer_name(c, issuer);
    X509_NAME_free(issuer);
    X509_set_pubkey(c, subject_key);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, c, c, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (ext) {
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(c, issuer_key, EVP_sha256()) <= 0) {
        X509_free(c);
        return NULL;
    }
    return c;
}

/* key_lock held. */
static EVP_PKEY *device_key(struct sim_device *d)
{
    if (!device_keys[d->index])
        device_keys[d->index] = new_key();
    return device_keys[d->index];
}

/* Safe with or without the world lock: the key has its own. */
const char *sim_device_public_key(struct sim_world *w, struct sim_device *d)
{
    struct sim_devpriv *p = sim_priv(w, d);
    pthread_mutex_lock(&key_lock);
    if (!p->public_key_pem) {
        EVP_PKEY *k = device_key(d);
        size_t n;
        if (k)
            p->public_key_pem = pem_of(k, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, &n);
    }
    pthread_mutex_unlock(&key_lock);
    return p->public_key_pem;
}

static void set_data(plist_t dict, const char *key, char *pem, size_t len)
{
    plist_dict_set_item(dict, key, plist_new_data(pem ? pem : "", pem ? len : 0));
    free(pem);
}

/* Writes the default pair record of a paired scenario device. key_lock held. */
static int write_default_record(struct sim_world *w, struct sim_device *d, const char *path)
{
    if (!root_key)
        root_key = new_key();
    if (!host_key)
        host_key = new_key();
    EVP_PKEY *dk = device_key(d);
    if (!root_key || !host_key || !dk)
        return -1;
    X509 *root = make_cert(root_key, root_key, "simdevd root", true, 0);
    X509 *host = make_cert(host_key, root_key, "simdevd host", false, 1);
    X509 *dev = make_cert(dk, root_key, "simdevd device", false, 2);
    int rc = -1;
    if (root && host && dev) {
        plist_t rec = plist_new_dict();
        size_t n = 0;
        char *pem;
        pem = cert_pem(dev, &n);
        set_data(rec, "DeviceCertificate", pem, n);
        pem = cert_pem(host, &n);
        set_data(rec, "HostCertificate", pem, n);
        plist_dict_set_item(rec, "HostID", plist_new_string(w->host_id));
        pem = pem_of(host_key, OSSL_KEYMGMT_SELECT_KEYPAIR, &n);
        set_data(rec, "HostPrivateKey", pem, n);
        pem = cert_pem(root, &n);
        set_data(rec, "RootCertificate", pem, n);
        pem = pem_of(root_key, OSSL_KEYMGMT_SELECT_KEYPAIR, &n);
        set_data(rec, "RootPrivateKey", pem, n);
        plist_dict_set_item(rec, "SystemBUID", plist_new_string(w->buid));
        /* A phone hands out an escrow bag when it pairs; idevicebackup2 starts
         * mobilebackup2 only with one (lockdownd_start_service_with_escrow_bag). */
        unsigned char bag[64];
        if (RAND_bytes(bag, sizeof bag) != 1)
            memset(bag, 0x42, sizeof bag);
        plist_dict_set_item(rec, "EscrowBag", plist_new_data((const char *)bag, sizeof bag));
        plist_dict_set_item(rec, "WiFiMACAddress", plist_new_string(d->wifi_address));
        char *xml = NULL;
        uint32_t len = 0;
        plist_to_xml(rec, &xml, &len);
        plist_free(rec);
        char tmp[4400];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = xml ? fopen(tmp, "wb") : NULL;
        if (f && fwrite(xml, 1, len, f) == len && fclose(f) == 0 && rename(tmp, path) == 0)
            rc = 0;
        else if (f)
            unlink(tmp);
        free(xml);
    }
    X509_free(root);
    X509_free(host);
    X509_free(dev);
    return rc;
}

/* The phone trusts this host again (control "set paired=true"): the HostID of the pair
 * record usbmuxd holds for it, or, when there is none, the simulated host's default one
 * with a default record made on the next read. Lock not held. */
void sim_pairing_trust_again(struct sim_world *w, struct sim_device *d)
{
    char path[4300];
    if (sim_pair_record_path(w, d->udid, path, sizeof path) != 0)
        return;
    char *host = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        char buf[65536];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        plist_t rec = NULL;
        if (n > 0 && n < sizeof buf)
            sim_plist_from_bytes(buf, n, &rec);
        host = sim_plist_get_string(rec, "HostID");
        plist_free(rec);
    }
    if (!host) {
        pthread_mutex_lock(&key_lock);
        record_pending[d->index] = true;
        pthread_mutex_unlock(&key_lock);
    }
    sim_lock(w);
    sim_device_trust_host(w, d, host ? host : w->host_id);
    d->paired = true;
    sim_notify_change(w);
    sim_unlock(w);
    free(host);
}

/* Called by usbmux before reading a record: makes the default record on first use. */
int sim_pairing_prepare_record(struct sim_world *w, const char *udid)
{
    sim_lock(w);
    struct sim_device *d = sim_device_by_udid(w, udid);
    sim_unlock(w);
    if (!d)
        return 0;
    char path[4300];
    if (sim_pair_record_path(w, d->udid, path, sizeof path) != 0)
        return -1;
    int rc = 0;
    pthread_mutex_lock(&key_lock);
    if (record_pending[d->index]) {
        rc = write_default_record(w, d, path);
        if (rc == 0)
            record_pending[d->index] = false;
    }
    pthread_mutex_unlock(&key_lock);
    return rc;
}

/* DeletePairRecord: a default record not yet written must not appear later. */
bool sim_pairing_forget_record(struct sim_world *w, const char *udid)
{
    sim_lock(w);
    struct sim_device *d = sim_device_by_udid(w, udid);
    sim_unlock(w);
    if (!d)
        return false;
    pthread_mutex_lock(&key_lock);
    bool was = record_pending[d->index];
    record_pending[d->index] = false;
    pthread_mutex_unlock(&key_lock);
    return was;
}
