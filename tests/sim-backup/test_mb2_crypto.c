/* Unit tests for encrypted-backup crypto (sim/simdevd/mb2_crypto.c): the RFC 3394 key
 * wrap against the RFC's own vector, keybags that unlock with the right password only,
 * file keys and AES-CBC round trips, and hostile keybags that fail without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mb2_crypto.h"

static void test_rfc3394_vector(void **state)
{
    (void)state;
    /* RFC 3394 4.6: 256 bits of key data with a 256-bit KEK */
    unsigned char kek[32], key[32], out[40], back[32];
    for (int i = 0; i < 32; i++)
        kek[i] = (unsigned char)i;
    static const unsigned char data[32] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA,
                                            0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
                                            0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F };
    static const unsigned char want[40] = { 0x28, 0xC9, 0xF4, 0x04, 0xC4, 0xB8, 0x10, 0xF4, 0xCB, 0xCC,
                                            0xB3, 0x5C, 0xFB, 0x87, 0xF8, 0x26, 0x3F, 0x57, 0x86, 0xE2,
                                            0xD8, 0x0E, 0xD3, 0x26, 0xCB, 0xC7, 0xF0, 0xE7, 0x1A, 0x99,
                                            0xF4, 0x3B, 0xFB, 0x98, 0x8B, 0x9B, 0x7A, 0x02, 0xDD, 0x21 };
    memcpy(key, data, 32);
    assert_int_equal(mb2_wrap_key(kek, key, out), 0);
    assert_memory_equal(out, want, 40);
    assert_int_equal(mb2_unwrap_key(kek, out, back), 0);
    assert_memory_equal(back, data, 32);
    out[5] ^= 1;
    assert_int_equal(mb2_unwrap_key(kek, out, back), -1);
}

static void test_keybag_password(void **state)
{
    (void)state;
    struct mb2_keybag kb, other;
    unsigned char *blob = NULL;
    size_t len = 0;
    assert_int_equal(mb2_keybag_create("s3cret", 100, &kb, &blob, &len), 0);
    assert_int_equal(mb2_keybag_unlock(blob, len, "s3cret", &other), 0);
    for (int c = 1; c < MB2_CLASSES; c++) {
        assert_true(other.have[c]);
        assert_memory_equal(other.key[c], kb.key[c], 32);
    }
    assert_int_equal(mb2_keybag_unlock(blob, len, "wrong", &other), -2);
    /* every truncation and byte flip of the bag: an error or a result, never a crash */
    for (size_t i = 0; i < len; i += 7) {
        mb2_keybag_unlock(blob, i, "s3cret", &other);
        blob[i] ^= 0xa5;
        mb2_keybag_unlock(blob, len, "s3cret", &other);
        blob[i] ^= 0xa5;
    }
    assert_int_equal(mb2_keybag_unlock("", 0, "x", &other), -1);
    free(blob);
}

static void test_file_key_and_cbc(void **state)
{
    (void)state;
    struct mb2_keybag kb;
    unsigned char *blob = NULL;
    size_t len = 0;
    assert_int_equal(mb2_keybag_create("pw", 10, &kb, &blob, &len), 0);
    free(blob);
    unsigned char key[32], enc[MB2_ENC_KEY_LEN], back[32];
    assert_int_equal(mb2_new_file_key(&kb, key, enc), 0);
    assert_int_equal(enc[0], MB2_FILE_CLASS);
    assert_int_equal(mb2_file_key(&kb, enc, back), 0);
    assert_memory_equal(back, key, 32);
    enc[0] = 0;
    assert_int_equal(mb2_file_key(&kb, enc, back), -1);

    char dir[] = "/tmp/sim-crypto-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    for (size_t n = 0; n < 40; n += 13) {
        FILE *f = fopen(a, "wb");
        for (size_t i = 0; i < n; i++)
            fputc((int)(i * 7), f);
        fclose(f);
        assert_int_equal(mb2_cbc_file(key, true, a, b), 0);
        FILE *fb = fopen(b, "rb");
        fseek(fb, 0, SEEK_END);
        assert_int_equal(ftell(fb), (long)((n / 16 + 1) * 16));   /* PKCS#7 always pads */
        fclose(fb);
        assert_int_equal(mb2_cbc_file(key, false, b, c), 0);
        FILE *fc = fopen(c, "rb");
        fseek(fc, 0, SEEK_END);
        assert_int_equal(ftell(fc), (long)n);
        fclose(fc);
    }
    /* the wrong key fails on the padding (or, rarely, decrypts to garbage of another size) */
    unsigned char wrong[32] = { 1 };
    if (mb2_cbc_file(wrong, false, b, c) == 0) {
        FILE *fc = fopen(c, "rb");
        fseek(fc, 0, SEEK_END);
        assert_int_not_equal(ftell(fc), 39);
        fclose(fc);
    }
    unlink(a);
    unlink(b);
    unlink(c);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3394_vector),
        cmocka_unit_test(test_keybag_password),
        cmocka_unit_test(test_file_key_and_cbc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
