/*
 * keybag.c — the BackupKeyBag of an encrypted backup (Manifest.plist) and the keys in it.
 *
 * The keybag is a run of TLV items: a 4-letter tag, a big-endian u32 length, the value.
 * The first items describe the bag (VERS, TYPE, UUID, HMCK, WRAP, SALT, ITER, and since
 * iOS 10.2 DPWT, DPIC, DPSL); each later UUID starts a class key (CLAS, WRAP, KTYP,
 * WPKY). The password becomes a key in two PBKDF2 rounds: SHA-256 with DPSL/DPIC, then
 * SHA-1 with SALT/ITER over the first round's output (only the SHA-1 round when DPIC is
 * absent). Each class key whose WRAP has the passcode bit (2) is the RFC 3394 wrap of
 * the real key under that derived key; the wrap's integrity check is what tells a wrong
 * password, before any file is read. All crypto is OpenSSL libcrypto.
 */
#include "itunes.h"

#include <openssl/evp.h>
#include <string.h>

enum { WRAP_PASSCODE = 2 };

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool tag_is(const uint8_t *t, const char *s)
{
    return memcmp(t, s, 4) == 0;
}

int ib_keybag_parse(ib_ctx *c, const uint8_t *data, size_t len, ib_keybag *kb)
{
    memset(kb, 0, sizeof(*kb));
    size_t off = 0;
    bool have_uuid = false, have_salt = false, have_iter = false, have_dpsl = false;
    ib_class_key *cur = NULL;
    while (off < len) {
        if (len - off < 8)
            return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                           "BackupKeyBag is truncated at byte %zu (half an item header)", off);
        const uint8_t *tag = data + off;
        uint32_t n = be32(data + off + 4);
        off += 8;
        if (n > len - off)
            return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                           "BackupKeyBag item %.4s at byte %zu claims %u bytes, only %zu remain",
                           (const char *)tag, off - 8, n, len - off);
        const uint8_t *v = data + off;
        off += n;
        bool is_int = n == 4;
        if (tag_is(tag, "UUID")) {
            if (!have_uuid) {
                have_uuid = true;
                continue;
            }
            if (kb->nclasses == sizeof(kb->classes) / sizeof(kb->classes[0]))
                return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                               "BackupKeyBag holds more than %zu class keys",
                               sizeof(kb->classes) / sizeof(kb->classes[0]));
            cur = &kb->classes[kb->nclasses++];
            continue;
        }
        if (cur) {
            if (tag_is(tag, "CLAS") && is_int)
                cur->clas = be32(v);
            else if (tag_is(tag, "WRAP") && is_int)
                cur->wrap = be32(v);
            else if (tag_is(tag, "WPKY")) {
                if (n != 40)
                    return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                                   "BackupKeyBag class %u key is %u bytes, expected 40",
                                   cur->clas, n);
                memcpy(cur->wpky, v, 40);
                cur->wpky_len = 40;
            }
            continue;
        }
        if (tag_is(tag, "VERS") && is_int)
            kb->vers = be32(v);
        else if (tag_is(tag, "TYPE") && is_int)
            kb->type = be32(v);
        else if (tag_is(tag, "ITER") && is_int) {
            kb->iter = be32(v);
            have_iter = true;
        } else if (tag_is(tag, "DPIC") && is_int)
            kb->dpic = be32(v);
        else if (tag_is(tag, "SALT") || tag_is(tag, "DPSL")) {
            bool salt = tag_is(tag, "SALT");
            if (n == 0 || n > 64)
                return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                               "BackupKeyBag %s is %u bytes", salt ? "SALT" : "DPSL", n);
            memcpy(salt ? kb->salt : kb->dpsl, v, n);
            if (salt) {
                kb->salt_len = n;
                have_salt = true;
            } else {
                kb->dpsl_len = n;
                have_dpsl = true;
            }
        }
    }
    const char *missing = !have_uuid ? "UUID" : !have_salt ? "SALT" : !have_iter ? "ITER"
                        : (kb->dpic && !have_dpsl) ? "DPSL" : NULL;
    if (missing)
        return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                       "BackupKeyBag has no %s item; the backup's Manifest.plist is damaged",
                       missing);
    if (kb->iter == 0)
        return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0, "BackupKeyBag ITER is 0");
    /* real keybags ask for 10,000,000 rounds at most; a hostile one must not hang us */
    if (kb->iter > 50000000 || kb->dpic > 50000000)
        return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                       "BackupKeyBag asks for %u PBKDF2 rounds, more than any real backup",
                       kb->iter > kb->dpic ? kb->iter : kb->dpic);
    if (kb->nclasses == 0)
        return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                       "BackupKeyBag holds no class keys");
    for (size_t i = 0; i < kb->nclasses; i++)
        if (kb->classes[i].wpky_len != 40 || kb->classes[i].clas == 0)
            return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                           "BackupKeyBag class key %zu lacks its %s item", i + 1,
                           kb->classes[i].clas == 0 ? "CLAS" : "WPKY");
    return REVIVE_OK;
}

int ib_keybag_derive(ib_ctx *c, const ib_keybag *kb, const char *password, uint8_t key[32])
{
    uint8_t first[32];
    const uint8_t *pw = (const uint8_t *)password;
    size_t pwlen = strlen(password);
    if (kb->dpic) {
        if (!PKCS5_PBKDF2_HMAC(password, (int)pwlen, kb->dpsl, (int)kb->dpsl_len,
                               (int)kb->dpic, EVP_sha256(), 32, first))
            return ib_fail(c, REVIVE_E_UNKNOWN, "openssl", 0, "PBKDF2-SHA256 failed");
        pw = first;
        pwlen = 32;
    }
    int ok = PKCS5_PBKDF2_HMAC((const char *)pw, (int)pwlen, kb->salt, (int)kb->salt_len,
                               (int)kb->iter, EVP_sha1(), 32, key);
    OPENSSL_cleanse(first, sizeof(first));
    if (!ok)
        return ib_fail(c, REVIVE_E_UNKNOWN, "openssl", 0, "PBKDF2-SHA1 failed");
    return REVIVE_OK;
}

static const EVP_CIPHER *wrap_cipher(size_t kek_len)
{
    switch (kek_len) {
    case 16: return EVP_aes_128_wrap();
    case 24: return EVP_aes_192_wrap();
    case 32: return EVP_aes_256_wrap();
    default: return NULL;
    }
}

static bool wrap_op(bool enc, const uint8_t *kek, size_t kek_len, const uint8_t *in,
                    size_t in_len, uint8_t *out)
{
    const EVP_CIPHER *ci = wrap_cipher(kek_len);
    if (!ci || in_len % 8 || in_len < (enc ? 16u : 24u) || in_len > 4096)
        return false;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (!x)
        return false;
    EVP_CIPHER_CTX_set_flags(x, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    int l1 = 0, l2 = 0;
    bool ok = EVP_CipherInit_ex(x, ci, NULL, kek, NULL, enc ? 1 : 0) == 1 &&
              EVP_CipherUpdate(x, out, &l1, in, (int)in_len) == 1 &&
              EVP_CipherFinal_ex(x, out + l1, &l2) == 1 &&
              (size_t)(l1 + l2) == (enc ? in_len + 8 : in_len - 8);
    EVP_CIPHER_CTX_free(x);
    return ok;
}

bool ib_aes_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                   uint8_t *out)
{
    return wrap_op(false, kek, kek_len, in, in_len, out);
}

bool ib_aes_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
                 uint8_t *out)
{
    return wrap_op(true, kek, kek_len, in, in_len, out);
}

int ib_keybag_unlock(ib_ctx *c, ib_keybag *kb, const uint8_t key[32])
{
    size_t done = 0;
    for (size_t i = 0; i < kb->nclasses; i++) {
        ib_class_key *k = &kb->classes[i];
        if (!(k->wrap & WRAP_PASSCODE))
            continue;
        if (!ib_aes_unwrap(key, 32, k->wpky, 40, k->key)) {
            for (size_t j = 0; j < kb->nclasses; j++)
                OPENSSL_cleanse(kb->classes[j].key, 32);
            return ib_fail(c, REVIVE_E_WRONG_PASSWORD, "keybag", 0,
                           "the backup password is wrong (the keybag's class %u key does not "
                           "unwrap with it); nothing was read or written", k->clas);
        }
        k->unwrapped = true;
        done++;
    }
    if (!done)
        return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                       "BackupKeyBag has no class key wrapped by the password");
    kb->unlocked = true;
    return REVIVE_OK;
}

int ib_keybag_file_key(ib_ctx *c, const ib_keybag *kb, uint32_t clas, const uint8_t *wrapped,
                       size_t wlen, uint8_t out[32])
{
    for (size_t i = 0; i < kb->nclasses; i++) {
        const ib_class_key *k = &kb->classes[i];
        if (k->clas != clas)
            continue;
        if (!k->unwrapped)
            return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                           "protection class %u has no key unlocked by the password", clas);
        if (wlen != 40 || !ib_aes_unwrap(k->key, 32, wrapped, 40, out))
            return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                           "a file key of protection class %u does not unwrap (damaged key)",
                           clas);
        return REVIVE_OK;
    }
    return ib_fail(c, REVIVE_E_CORRUPT, "keybag", 0,
                   "protection class %u is not in the backup's keybag", clas);
}
