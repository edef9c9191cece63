/*
 * decrypt.c — file content of encrypted backups: AES-256-CBC, zero IV, one key per file.
 *
 * The plaintext is padded (PKCS#7) to whole blocks, so the stored file is Size rounded up
 * to the next multiple of 16 (plus a whole block when Size already is one). Real backups
 * do not always agree with that: some manifests record Size 0 for files that hold data,
 * some files carry padding that does not validate. The rule here: the manifest's Size
 * says where the data ends when it is non-zero and the file holds at least that much;
 * Size 0 with data falls back to the PKCS#7 padding; a file shorter than Size, or not a
 * whole number of blocks, is corrupt. The last block is held back while streaming so the
 * padding can be judged at the end without reading the file twice.
 */
#include "itunes.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = IB_CHUNK };

static int put(ib_ctx *c, FILE *out, const uint8_t *p, size_t n, EVP_MD_CTX *md)
{
    if (!n)
        return REVIVE_OK;
    if (md)
        EVP_DigestUpdate(md, p, n);
    if (out && fwrite(p, 1, n, out) != n)
        return ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                       "cannot write decrypted data: %s", strerror(errno));
    return REVIVE_OK;
}

int ib_decrypt_stream(ib_ctx *c, const uint8_t key[32], FILE *in, const char *in_label,
                      FILE *out, uint64_t size, void *sha1_plain)
{
    uint8_t *work = malloc(IB_DECRYPT_WORK);
    if (!work)
        return ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
    int rc = ib_decrypt_stream_buf(c, key, in, in_label, out, size, sha1_plain, work);
    free(work);
    return rc;
}

int ib_decrypt_stream_buf(ib_ctx *c, const uint8_t key[32], FILE *in, const char *in_label,
                          FILE *out, uint64_t size, void *sha1_plain, uint8_t *work)
{
    static const uint8_t iv[16];
    EVP_MD_CTX *md = sha1_plain;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    uint8_t *ibuf = work, *obuf = work + CHUNK;
    int rc = REVIVE_OK;
    if (!x) {
        rc = ib_fail(c, REVIVE_E_NO_MEMORY, "os", 0, "no memory");
        goto done;
    }
    EVP_DecryptInit_ex(x, EVP_aes_256_cbc(), NULL, key, iv);
    EVP_CIPHER_CTX_set_padding(x, 0);
    uint8_t last[16];
    bool have_last = false;
    uint64_t cipher_len = 0, written = 0;
    bool by_padding = size == 0;
    for (;;) {
        size_t r = fread(ibuf, 1, CHUNK, in);
        if (r == 0) {
            if (ferror(in))
                rc = ib_fail(c, REVIVE_E_IO, "os", errno, "cannot read %s: %s", in_label,
                             strerror(errno));
            break;
        }
        cipher_len += r;
        int ol = 0;
        EVP_DecryptUpdate(x, obuf, &ol, ibuf, (int)r);
        if (ol == 0)
            continue;
        /* emit the previously held block, hold the new last one */
        size_t n = (size_t)ol;
        if (have_last) {
            uint64_t keep = by_padding ? 16 : (written < size ? size - written : 0);
            if (keep > 16)
                keep = 16;
            if ((rc = put(c, out, last, (size_t)keep, md)))
                goto done;
            written += keep;
        }
        memcpy(last, obuf + n - 16, 16);
        have_last = true;
        uint64_t keep = n - 16;
        if (!by_padding)
            keep = written < size ? (size - written < keep ? size - written : keep) : 0;
        if ((rc = put(c, out, obuf, (size_t)keep, md)))
            goto done;
        written += keep;
    }
    if (rc)
        goto done;
    if (cipher_len % 16) {
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s is %llu bytes, not a whole number of AES blocks (truncated)",
                     in_label, (unsigned long long)cipher_len);
        goto done;
    }
    if (!have_last) {
        if (size)
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s is empty but the manifest says %llu bytes", in_label,
                         (unsigned long long)size);
        goto done;
    }
    if (by_padding) {
        unsigned pad = last[15];
        bool valid = pad >= 1 && pad <= 16;
        for (unsigned i = 0; valid && i < pad; i++)
            valid = last[15 - i] == pad;
        if (!valid) {
            rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                         "%s has no size in the manifest and its padding is invalid "
                         "(wrong key or damaged data)", in_label);
            goto done;
        }
        rc = put(c, out, last, 16 - pad, md);
        goto done;
    }
    if (cipher_len < size) {
        rc = ib_fail(c, REVIVE_E_CORRUPT, "itunes", 0,
                     "%s holds %llu bytes but the manifest says %llu (the size lies or the "
                     "file is truncated)", in_label, (unsigned long long)cipher_len,
                     (unsigned long long)size);
        goto done;
    }
    uint64_t keep = written < size ? size - written : 0;
    rc = put(c, out, last, (size_t)(keep > 16 ? 16 : keep), md);
done:
    EVP_CIPHER_CTX_free(x);
    return rc;
}

int ib_decrypt_file(ib_ctx *c, const uint8_t key[32], const char *in, const char *out,
                    uint64_t size)
{
    FILE *fi = fopen(in, "rb");
    if (!fi)
        return ib_fail(c, errno == ENOENT ? REVIVE_E_NOT_FOUND : REVIVE_E_IO, "os", errno,
                       "cannot open %s: %s", in, strerror(errno));
    FILE *fo = fopen(out, "wbx");
    if (!fo) {
        int e = errno;
        fclose(fi);
        return ib_fail(c, REVIVE_E_IO, "os", e, "cannot create %s: %s", out, strerror(e));
    }
    int rc = ib_decrypt_stream(c, key, fi, in, fo, size, NULL);
    fclose(fi);
    if (fclose(fo) != 0 && !rc)
        rc = ib_fail(c, errno == ENOSPC ? REVIVE_E_NO_SPACE_HOST : REVIVE_E_IO, "os", errno,
                     "cannot write %s: %s", out, strerror(errno));
    return rc;
}
