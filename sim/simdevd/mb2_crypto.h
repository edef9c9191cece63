/* mb2_crypto.h: encrypted backups as iOS 10.2+ makes them.
 *
 * A backup keybag (Manifest.plist BackupKeyBag) is a list of TLV records (4-byte tag,
 * 4-byte big-endian length, value; 4-byte values are big-endian numbers): a header
 * (VERS, TYPE 1 = backup, UUID, HMCK, WRAP, SALT, ITER, DPWT, DPIC, DPSL), then for each
 * protection class UUID, CLAS, WRAP 2 (passcode), KTYP 0, WPKY = the class key wrapped
 * (RFC 3394 AES key wrap) with the passcode key. The passcode key is
 * PBKDF2-SHA1(PBKDF2-SHA256(password, DPSL, DPIC), SALT, ITER), 32 bytes.
 * Every file gets its own random 32-byte key, stored in its MBFile as EncryptionKey
 * (4-byte little-endian protection class, then the key wrapped with that class's key);
 * its content is AES-256-CBC with a zero IV and PKCS#7 padding. Manifest.db is
 * encrypted the same way with the key in Manifest.plist ManifestKey.
 */
#ifndef SIM_MB2_CRYPTO_H
#define SIM_MB2_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB2_CLASSES 12              /* protection classes 1..11 */
#define MB2_FILE_CLASS 3            /* the class the simulator files its data under */
#define MB2_WRAPPED_LEN 40
#define MB2_ENC_KEY_LEN 44          /* 4-byte class + wrapped key */
/* PBKDF2-SHA256 rounds the simulator records in its keybags. Phones use 10,000,000;
 * readers take the count from the bag, and 10,000 keeps tests fast. */
#define MB2_SIM_DPIC 10000

struct mb2_keybag {
    bool have[MB2_CLASSES];
    unsigned char key[MB2_CLASSES][32];
};

/* Makes a keybag with fresh class keys, protected by password, and its TLV form
 * (malloc'd). dpic: PBKDF2-SHA256 rounds recorded in the bag. 0 or -1. */
int mb2_keybag_create(const char *password, uint32_t dpic, struct mb2_keybag *kb, unsigned char **blob, size_t *len);
/* Parses a keybag and unwraps its class keys with password. 0; -1 malformed; -2 wrong
 * password (a key failed to unwrap). */
int mb2_keybag_unlock(const void *blob, size_t len, const char *password, struct mb2_keybag *kb);

/* RFC 3394 with AES-256. 0 or -1 (unwrap: -1 also when the integrity check fails). */
int mb2_wrap_key(const unsigned char kek[32], const unsigned char key[32], unsigned char out[40]);
int mb2_unwrap_key(const unsigned char kek[32], const unsigned char in[40], unsigned char out[32]);

/* A fresh file key and its EncryptionKey bytes (class + wrapped). */
int mb2_new_file_key(const struct mb2_keybag *kb, unsigned char key[32], unsigned char enc[MB2_ENC_KEY_LEN]);
/* The file key from EncryptionKey bytes. 0 or -1. */
int mb2_file_key(const struct mb2_keybag *kb, const unsigned char enc[MB2_ENC_KEY_LEN], unsigned char key[32]);

/* AES-256-CBC, zero IV, PKCS#7, streaming. */
struct mb2_cbc;
struct mb2_cbc *mb2_cbc_new(const unsigned char key[32], bool encrypt);
/* Writes at most len + 16 bytes to out; *outlen set. 0 or -1. */
int mb2_cbc_update(struct mb2_cbc *c, const void *in, size_t len, unsigned char *out, size_t *outlen);
/* Final block (at most 16 bytes); decrypt fails on bad padding. */
int mb2_cbc_final(struct mb2_cbc *c, unsigned char *out, size_t *outlen);
void mb2_cbc_free(struct mb2_cbc *c);

/* Whole-file helpers: in -> out (out written aside and renamed). 0 or -1. */
int mb2_cbc_file(const unsigned char key[32], bool encrypt, const char *in, const char *out);

#endif
