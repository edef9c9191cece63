/* Known-answer tests for the crypto the keybag rests on: RFC 3394 AES key wrap (sections
 * 4.1, 4.5, 4.6), PBKDF2-HMAC-SHA1 (RFC 6070), PBKDF2-HMAC-SHA256 and the two-round
 * backup derivation, and the keybag TLV parser's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

static void unhex(const char *h, uint8_t *out, size_t *n)
{
    size_t i = 0;
    for (; h[2 * i] && h[2 * i + 1]; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    *n = i;
}

static void check_wrap(const char *kek_h, const char *key_h, const char *want_h)
{
    uint8_t kek[32], key[32], want[40], got[40], back[32];
    size_t kl, l, wl;
    unhex(kek_h, kek, &kl);
    unhex(key_h, key, &l);
    unhex(want_h, want, &wl);
    assert_true(ib_aes_wrap(kek, kl, key, l, got));
    assert_memory_equal(got, want, wl);
    assert_true(ib_aes_unwrap(kek, kl, want, wl, back));
    assert_memory_equal(back, key, l);
    /* one flipped bit fails the integrity check */
    want[3] ^= 1;
    assert_false(ib_aes_unwrap(kek, kl, want, wl, back));
}

static void rfc3394_vectors(void **s)
{
    (void)s;
    check_wrap("000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
               "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
    check_wrap("000102030405060708090A0B0C0D0E0F1011121314151617",
               "00112233445566778899AABBCCDDEEFF0001020304050607",
               "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2");
    check_wrap("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
               "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
               "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
}

static void derive(const char *pw, const char *salt, uint32_t iter, const char *dpsl,
                   uint32_t dpic, uint8_t out[32])
{
    ib_keybag kb;
    memset(&kb, 0, sizeof(kb));
    memcpy(kb.salt, salt, strlen(salt));
    kb.salt_len = strlen(salt);
    kb.iter = iter;
    if (dpsl) {
        memcpy(kb.dpsl, dpsl, strlen(dpsl));
        kb.dpsl_len = strlen(dpsl);
        kb.dpic = dpic;
    }
    ib_ctx c;
    ib_ctx_init(&c);
    assert_int_equal(ib_keybag_derive(&c, &kb, pw, out), REVIVE_OK);
    ib_ctx_fini(&c);
}

static void pbkdf2_vectors(void **s)
{
    (void)s;
    uint8_t k[32], want[32];
    size_t n;
    /* RFC 6070: SHA1 rounds only (no DPIC); the first 20 bytes are the RFC's dkLen=20 */
    derive("password", "salt", 1, NULL, 0, k);
    unhex("0c60c80f961f0e71f3a9b524af6012062fe037a6", want, &n);
    assert_memory_equal(k, want, 20);
    derive("password", "salt", 2, NULL, 0, k);
    unhex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957cae93136266537a8d7bf4b76", want, &n);
    assert_memory_equal(k, want, 32);
    derive("password", "salt", 4096, NULL, 0, k);
    unhex("4b007901b765489abead49d926f721d065a429c1", want, &n);
    assert_memory_equal(k, want, 20);
    /* iOS 10.2+: PBKDF2-SHA256(pw, DPSL, DPIC) then PBKDF2-SHA1(that, SALT, ITER) */
    derive("password", "salt", 3, "dpsl-salt", 2, k);
    unhex("c33bdc8b8cc033da3c306f48f6c24a3a66edd4e7098b5fb1dc863351599ceec6", want, &n);
    assert_memory_equal(k, want, 32);
    /* and the SHA256 step alone matches its published vector */
    uint8_t s256[32];
    PKCS5_PBKDF2_HMAC("password", 8, (const uint8_t *)"salt", 4, 1, EVP_sha256(), 32, s256);
    unhex("120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b", want, &n);
    assert_memory_equal(s256, want, 32);
}

static void keybag_roundtrip_and_wrong_password(void **s)
{
    (void)s;
    ib_ctx c;
    ib_ctx_init(&c);
    uint8_t *kbd;
    size_t kbl;
    uint8_t ck[5][32];
    assert_int_equal(ib_gen_keybag(&c, "correct horse", 3, 5, &kbd, &kbl, ck), REVIVE_OK);
    ib_keybag kb;
    assert_int_equal(ib_keybag_parse(&c, kbd, kbl, &kb), REVIVE_OK);
    assert_int_equal(kb.nclasses, 4);
    assert_int_equal(kb.iter, 3);
    assert_int_equal(kb.dpic, 5);
    uint8_t key[32];
    assert_int_equal(ib_keybag_derive(&c, &kb, "wrong horse", key), REVIVE_OK);
    assert_int_equal(ib_keybag_unlock(&c, &kb, key), REVIVE_E_WRONG_PASSWORD);
    assert_non_null(strstr(c.err.message, "password is wrong"));
    assert_int_equal(ib_keybag_derive(&c, &kb, "correct horse", key), REVIVE_OK);
    assert_int_equal(ib_keybag_unlock(&c, &kb, key), REVIVE_OK);
    for (int i = 0; i < 4; i++)
        assert_memory_equal(kb.classes[i].key, ck[kb.classes[i].clas], 32);
    free(kbd);
    ib_ctx_fini(&c);
}

/* Remove the first item with `tag` from a TLV keybag. */
static size_t strip_tag(uint8_t *d, size_t n, const char *tag)
{
    size_t off = 0;
    while (off + 8 <= n) {
        uint32_t l = (uint32_t)d[off + 4] << 24 | (uint32_t)d[off + 5] << 16 |
                     (uint32_t)d[off + 6] << 8 | d[off + 7];
        if (!memcmp(d + off, tag, 4)) {
            memmove(d + off, d + off + 8 + l, n - off - 8 - l);
            return n - 8 - l;
        }
        off += 8 + l;
    }
    return n;
}

static void keybag_missing_tags(void **s)
{
    (void)s;
    static const char *const tags[] = { "SALT", "ITER", "DPSL", "WPKY", "CLAS" };
    for (size_t t = 0; t < 5; t++) {
        ib_ctx c;
        ib_ctx_init(&c);
        uint8_t *kbd;
        size_t kbl;
        uint8_t ck[5][32];
        assert_int_equal(ib_gen_keybag(&c, "pw", 1, 1, &kbd, &kbl, ck), REVIVE_OK);
        size_t nl = strip_tag(kbd, kbl, tags[t]);
        assert_true(nl < kbl);
        ib_keybag kb;
        assert_int_equal(ib_keybag_parse(&c, kbd, nl, &kb), REVIVE_E_CORRUPT);
        assert_non_null(strstr(c.err.message, tags[t]));
        /* truncated in the middle of an item */
        assert_int_equal(ib_keybag_parse(&c, kbd, 30, &kb), REVIVE_E_CORRUPT);
        assert_int_equal(ib_keybag_parse(&c, kbd, 5, &kb), REVIVE_E_CORRUPT);
        free(kbd);
        ib_ctx_fini(&c);
    }
}

/* a keybag asking for an absurd number of PBKDF2 rounds is refused, not computed */
static void keybag_absurd_rounds(void **s)
{
    (void)s;
    ib_ctx c;
    ib_ctx_init(&c);
    uint8_t *kbd;
    size_t kbl;
    uint8_t ck[5][32];
    assert_int_equal(ib_gen_keybag(&c, "pw", 1, 1, &kbd, &kbl, ck), REVIVE_OK);
    /* find DPIC and make it 4,000,000,000 */
    for (size_t off = 0; off + 12 <= kbl;) {
        uint32_t l = (uint32_t)kbd[off + 4] << 24 | (uint32_t)kbd[off + 5] << 16 |
                     (uint32_t)kbd[off + 6] << 8 | kbd[off + 7];
        if (!memcmp(kbd + off, "DPIC", 4)) {
            kbd[off + 8] = 0xEE;
            kbd[off + 9] = 0x6B;
            kbd[off + 10] = 0x28;
            kbd[off + 11] = 0x00;
        }
        off += 8 + l;
    }
    ib_keybag kb;
    assert_int_equal(ib_keybag_parse(&c, kbd, kbl, &kb), REVIVE_E_CORRUPT);
    assert_non_null(strstr(c.err.message, "rounds"));
    free(kbd);
    ib_ctx_fini(&c);
}

static void decrypt_padding_rules(void **s)
{
    (void)s;
    static const uint8_t key[32] = { 1, 2, 3 }, iv[16];
    uint8_t plain[40], cipher[64];
    for (int i = 0; i < 40; i++)
        plain[i] = (uint8_t)i;
    int l1, l2;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, key, iv);
    EVP_EncryptUpdate(x, cipher, &l1, plain, 40);
    EVP_EncryptFinal_ex(x, cipher + l1, &l2);
    EVP_CIPHER_CTX_free(x);
    size_t clen = (size_t)(l1 + l2);
    assert_int_equal(clen, 48);
    ib_ctx c;
    ib_ctx_init(&c);
    char out[64];
    /* size known: exactly that many bytes */
    FILE *in = fmemopen(cipher, clen, "rb"), *o = fmemopen(out, sizeof(out), "wb");
    assert_int_equal(ib_decrypt_stream(&c, key, in, "t", o, 40, NULL), REVIVE_OK);
    long pos = ftell(o);
    fclose(in);
    fclose(o);
    assert_int_equal(pos, 40);
    assert_memory_equal(out, plain, 40);
    /* size 0 in the manifest: the padding decides */
    in = fmemopen(cipher, clen, "rb");
    o = fmemopen(out, sizeof(out), "wb");
    assert_int_equal(ib_decrypt_stream(&c, key, in, "t", o, 0, NULL), REVIVE_OK);
    pos = ftell(o);
    fclose(in);
    fclose(o);
    assert_int_equal(pos, 40);
    /* the size lies (more than the file holds) */
    in = fmemopen(cipher, clen, "rb");
    assert_int_equal(ib_decrypt_stream(&c, key, in, "t", NULL, 100, NULL), REVIVE_E_CORRUPT);
    fclose(in);
    /* what verify accepts as the stored size */
    assert_true(ib_stored_size_ok2(false, 40, 40));
    assert_false(ib_stored_size_ok2(false, 40, 48));
    assert_true(ib_stored_size_ok2(true, 40, 48));
    assert_false(ib_stored_size_ok2(true, 40, 40));
    assert_true(ib_stored_size_ok2(true, 32, 48));
    assert_true(ib_stored_size_ok2(true, 32, 32)); /* whole blocks stored without padding */
    assert_false(ib_stored_size_ok2(true, 32, 64));
    assert_true(ib_stored_size_ok2(true, 0, 16));
    /* not whole blocks */
    in = fmemopen(cipher, clen - 3, "rb");
    assert_int_equal(ib_decrypt_stream(&c, key, in, "t", NULL, 20, NULL), REVIVE_E_CORRUPT);
    fclose(in);
    ib_ctx_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3394_vectors),
        cmocka_unit_test(pbkdf2_vectors),
        cmocka_unit_test(keybag_roundtrip_and_wrong_password),
        cmocka_unit_test(keybag_missing_tags),
        cmocka_unit_test(keybag_absurd_rounds),
        cmocka_unit_test(decrypt_padding_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
