/* mb2_crypto.c: keybags, key wrapping and file encryption of encrypted backups (format
 * in mb2_crypto.h), all through OpenSSL libcrypto. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mb2_crypto.h"

#define ITER 10000        /* PBKDF2-SHA1 rounds, as phones record in the bag */

static int wrap_op(const unsigned char kek[32], const unsigned char *in, int inlen, unsigned char *out, int enc)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return -1;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    int len = 0, fin = 0;
    int ok = EVP_CipherInit_ex(ctx, EVP_aes_256_wrap(), NULL, kek, NULL, enc) == 1 &&
             EVP_CipherUpdate(ctx, out, &len, in, inlen) == 1 && EVP_CipherFinal_ex(ctx, out + len, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok && len + fin == (enc ? inlen + 8 : inlen - 8) ? 0 : -1;
}

int mb2_wrap_key(const unsigned char kek[32], const unsigned char key[32], unsigned char out[40])
{
    return wrap_op(kek, key, 32, out, 1);
}

int mb2_unwrap_key(const unsigned char kek[32], const unsigned char in[40], unsigned char out[32])
{
    unsigned char tmp[48];
    if (wrap_op(kek, in, 40, tmp, 0) != 0)
        return -1;
    memcpy(out, tmp, 32);
    return 0;
}

static int passcode_key(const char *password, const unsigned char *dpsl, size_t dpsl_len, uint32_t dpic,
                        const unsigned char *salt, size_t salt_len, uint32_t iter, unsigned char out[32])
{
    unsigned char round1[32];
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), dpsl, (int)dpsl_len, (int)dpic, EVP_sha256(), 32, round1) != 1)
        return -1;
    return PKCS5_PBKDF2_HMAC((const char *)round1, 32, salt, (int)salt_len, (int)iter, EVP_sha1(), 32, out) == 1 ? 0 : -1;
}

static void tlv(FILE *m, const char *tag, const void *v, uint32_t len)
{
    unsigned char l[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len };
    fwrite(tag, 1, 4, m);
    fwrite(l, 1, 4, m);
    fwrite(v, 1, len, m);
}

static void tlv_u32(FILE *m, const char *tag, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
    tlv(m, tag, b, 4);
}

int mb2_keybag_create(const char *password, uint32_t dpic, struct mb2_keybag *kb, unsigned char **blob, size_t *len)
{
    memset(kb, 0, sizeof *kb);
    unsigned char uuid[16], hmck[40], salt[20], dpsl[20], pk[32];
    if (RAND_bytes(uuid, sizeof uuid) != 1 || RAND_bytes(hmck, sizeof hmck) != 1 || RAND_bytes(salt, sizeof salt) != 1 ||
        RAND_bytes(dpsl, sizeof dpsl) != 1)
        return -1;
    if (passcode_key(password, dpsl, sizeof dpsl, dpic, salt, sizeof salt, ITER, pk) != 0)
        return -1;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m)
        return -1;
    tlv_u32(m, "VERS", 3);
    tlv_u32(m, "TYPE", 1);
    tlv(m, "UUID", uuid, sizeof uuid);
    tlv(m, "HMCK", hmck, sizeof hmck);
    tlv_u32(m, "WRAP", 0);
    tlv(m, "SALT", salt, sizeof salt);
    tlv_u32(m, "ITER", ITER);
    tlv_u32(m, "DPWT", 1);
    tlv_u32(m, "DPIC", dpic);
    tlv(m, "DPSL", dpsl, sizeof dpsl);
    int rc = 0;
    for (uint32_t c = 1; c < MB2_CLASSES && rc == 0; c++) {
        unsigned char cuuid[16], wpky[40];
        if (RAND_bytes(cuuid, sizeof cuuid) != 1 || RAND_bytes(kb->key[c], 32) != 1 || mb2_wrap_key(pk, kb->key[c], wpky) != 0) {
            rc = -1;
            break;
        }
        kb->have[c] = true;
        tlv(m, "UUID", cuuid, sizeof cuuid);
        tlv_u32(m, "CLAS", c);
        tlv_u32(m, "WRAP", 2);
        tlv_u32(m, "KTYP", 0);
        tlv(m, "WPKY", wpky, sizeof wpky);
    }
    fclose(m);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *blob = (unsigned char *)buf;
    *len = n;
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int mb2_keybag_unlock(const void *blob, size_t len, const char *password, struct mb2_keybag *kb)
{
    memset(kb, 0, sizeof *kb);
    const unsigned char *p = blob, *end = p + len;
    const unsigned char *salt = NULL, *dpsl = NULL;
    size_t salt_len = 0, dpsl_len = 0;
    uint32_t iter = 0, dpic = 0;
    bool in_class = false, seen_uuid = false;
    struct { uint32_t clas, wrap; const unsigned char *wpky; } cls[MB2_CLASSES * 2];
    int ncls = -1;
    while (end - p >= 8) {
        uint32_t l = be32(p + 4);
        const unsigned char *v = p + 8;
        if ((size_t)(end - v) < l)
            return -1;
        char tag[5] = { (char)p[0], (char)p[1], (char)p[2], (char)p[3], 0 };
        uint32_t num = l == 4 ? be32(v) : 0;
        if (strcmp(tag, "UUID") == 0) {
            if (seen_uuid) {
                if (++ncls >= (int)(sizeof cls / sizeof cls[0]))
                    return -1;
                memset(&cls[ncls], 0, sizeof cls[ncls]);
                in_class = true;
            }
            seen_uuid = true;
        } else if (in_class && strcmp(tag, "CLAS") == 0 && l == 4) {
            cls[ncls].clas = num;
        } else if (in_class && strcmp(tag, "WRAP") == 0 && l == 4) {
            cls[ncls].wrap = num;
        } else if (in_class && strcmp(tag, "WPKY") == 0 && l == 40) {
            cls[ncls].wpky = v;
        } else if (!in_class && strcmp(tag, "SALT") == 0) {
            salt = v;
            salt_len = l;
        } else if (!in_class && strcmp(tag, "DPSL") == 0) {
            dpsl = v;
            dpsl_len = l;
        } else if (!in_class && strcmp(tag, "ITER") == 0 && l == 4) {
            iter = num;
        } else if (!in_class && strcmp(tag, "DPIC") == 0 && l == 4) {
            dpic = num;
        }
        p = v + l;
    }
    /* iteration counts are bounded so a hostile bag cannot stall the phone for hours */
    if (p != end || !salt || !dpsl || iter == 0 || dpic == 0 || iter > 10000000 || dpic > 20000000 || ncls < 0)
        return -1;
    unsigned char pk[32];
    if (passcode_key(password, dpsl, dpsl_len, dpic, salt, salt_len, iter, pk) != 0)
        return -1;
    for (int i = 0; i <= ncls; i++) {
        if (!cls[i].wpky || cls[i].clas == 0 || cls[i].clas >= MB2_CLASSES || !(cls[i].wrap & 2))
            continue;
        if (mb2_unwrap_key(pk, cls[i].wpky, kb->key[cls[i].clas]) != 0)
            return -2;
        kb->have[cls[i].clas] = true;
    }
    return 0;
}

int mb2_new_file_key(const struct mb2_keybag *kb, unsigned char key[32], unsigned char enc[MB2_ENC_KEY_LEN])
{
    if (!kb->have[MB2_FILE_CLASS] || RAND_bytes(key, 32) != 1)
        return -1;
    enc[0] = MB2_FILE_CLASS;
    enc[1] = enc[2] = enc[3] = 0;
    return mb2_wrap_key(kb->key[MB2_FILE_CLASS], key, enc + 4);
}

int mb2_file_key(const struct mb2_keybag *kb, const unsigned char enc[MB2_ENC_KEY_LEN], unsigned char key[32])
{
    uint32_t c = (uint32_t)enc[0] | ((uint32_t)enc[1] << 8) | ((uint32_t)enc[2] << 16) | ((uint32_t)enc[3] << 24);
    if (c == 0 || c >= MB2_CLASSES || !kb->have[c])
        return -1;
    return mb2_unwrap_key(kb->key[c], enc + 4, key);
}

struct mb2_cbc {
    EVP_CIPHER_CTX *ctx;
};

struct mb2_cbc *mb2_cbc_new(const unsigned char key[32], bool encrypt)
{
    static const unsigned char iv[16] = { 0 };
    struct mb2_cbc *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ctx = EVP_CIPHER_CTX_new();
    if (!c->ctx || EVP_CipherInit_ex(c->ctx, EVP_aes_256_cbc(), NULL, key, iv, encrypt ? 1 : 0) != 1) {
        mb2_cbc_free(c);
        return NULL;
    }
    return c;
}

int mb2_cbc_update(struct mb2_cbc *c, const void *in, size_t len, unsigned char *out, size_t *outlen)
{
    int n = 0;
    if (len > (size_t)INT32_MAX - 32 || EVP_CipherUpdate(c->ctx, out, &n, in, (int)len) != 1)
        return -1;
    *outlen = (size_t)n;
    return 0;
}

int mb2_cbc_final(struct mb2_cbc *c, unsigned char *out, size_t *outlen)
{
    int n = 0;
    if (EVP_CipherFinal_ex(c->ctx, out, &n) != 1)
        return -1;
    *outlen = (size_t)n;
    return 0;
}

void mb2_cbc_free(struct mb2_cbc *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->ctx);
    free(c);
}

int mb2_cbc_file(const unsigned char key[32], bool encrypt, const char *in, const char *out)
{
    char tmp[4300];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", out) >= sizeof tmp)
        return -1;
    int fi = open(in, O_RDONLY | O_CLOEXEC);
    int fo = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct mb2_cbc *c = mb2_cbc_new(key, encrypt);
    int rc = (fi >= 0 && fo >= 0 && c) ? 0 : -1;
    unsigned char ib[65536], ob[65536 + 32];
    ssize_t r;
    size_t n;
    while (rc == 0 && (r = read(fi, ib, sizeof ib)) != 0) {
        if (r < 0 || mb2_cbc_update(c, ib, (size_t)r, ob, &n) != 0 || write(fo, ob, n) != (ssize_t)n)
            rc = -1;
    }
    if (rc == 0 && (mb2_cbc_final(c, ob, &n) != 0 || write(fo, ob, n) != (ssize_t)n))
        rc = -1;
    mb2_cbc_free(c);
    if (fi >= 0)
        close(fi);
    if (fo >= 0 && close(fo) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, out) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}
