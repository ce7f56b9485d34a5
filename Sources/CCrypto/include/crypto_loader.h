// Keys, signatures and encrypted key files for content trust, from OpenSSL's libcrypto
// loaded with dlopen the first time something is signed, verified or hashed, so that no
// other command pays for loading it. Plain types only: Swift imports this header without
// OpenSSL's.
//
// Every function that can fail returns 0 on success and -1 on failure with the reason in
// `error` (libcrypto's own words where it has some). Buffers handed out in `*out` are
// malloc'd; release them with crypto_free, which zeroes them first (they may hold keys).
#pragma once
#include <stddef.h>
#include <stdint.h>

enum crypto_key_kind { CRYPTO_ED25519 = 1, CRYPTO_P256 = 2, CRYPTO_RSA = 3 };
enum crypto_rsa_padding { CRYPTO_RSA_PSS = 1, CRYPTO_RSA_PKCS1 = 2 };

// 0 once libcrypto is loaded; otherwise -1 with the reason.
int crypto_load(char *error, size_t size);
void crypto_free(void *buffer, size_t count);

int crypto_sha256(const void *bytes, size_t count, unsigned char digest[32]);
int crypto_sha512(const void *bytes, size_t count, unsigned char digest[64]);

// A private key in memory is an opaque handle (libcrypto's EVP_PKEY, parsed once: OpenSSL
// 3's decoders cost far more than a signature); crypto_key_close wipes and frees it.
typedef struct crypto_key crypto_key;
void crypto_key_close(crypto_key *key);
// CRYPTO_ED25519, CRYPTO_P256, CRYPTO_RSA, or 0 for anything else.
int crypto_key_kind(const crypto_key *key);

// A new ed25519 or P-256 key.
crypto_key *crypto_generate(int kind, char *error, size_t size);
// A key from PKCS#8 PrivateKeyInfo DER (ed25519 also in Notary's form: 64 raw bytes seed‖public).
crypto_key *crypto_key_open(const unsigned char *pkcs8, size_t count, char *error, size_t size);
// The public half: 32 raw bytes for ed25519, DER SubjectPublicKeyInfo otherwise.
int crypto_public_key(const crypto_key *key, unsigned char **out, size_t *out_count, char *error, size_t size);
// ed25519: the 64-byte signature; P-256: ECDSA over SHA-256, DER.
int crypto_sign(const crypto_key *key, const void *message, size_t message_count,
                unsigned char **out, size_t *out_count, char *error, size_t size);
// 1 when the signature is good, 0 otherwise (any failure). `key`: raw 32 bytes for
// ed25519, DER SubjectPublicKeyInfo for P-256 and RSA. ECDSA signatures in DER; RSA with
// `padding` (PSS with any salt length, or PKCS#1 v1.5), both over SHA-256.
int crypto_verify(int kind, const unsigned char *key, size_t key_count, const void *message, size_t message_count,
                  const unsigned char *signature, size_t signature_count, int padding);

// ECDSA signatures between DER and fixed-size r‖s (Notary's form; 32 + 32 for P-256).
int crypto_ecdsa_der_to_raw(const unsigned char *der, size_t count, unsigned char raw[64]);
int crypto_ecdsa_raw_to_der(const unsigned char raw[64], unsigned char **out, size_t *out_count);

// PKCS#8 EncryptedPrivateKeyInfo DER: PBES2, PBKDF2 with HMAC-SHA1 (what notary's pkcs8
// code derives with), AES-256-CBC.
int crypto_encrypt_pkcs8(const crypto_key *key, const char *passphrase, size_t passphrase_count,
                         int iterations, unsigned char **out, size_t *out_count, char *error, size_t size);
// NULL with *status -2 when the file is well formed but the passphrase does not open it,
// -1 for anything else.
crypto_key *crypto_decrypt_pkcs8(const unsigned char *encrypted, size_t count, const char *passphrase, size_t passphrase_count,
                                 int *status, char *error, size_t size);

// A self-signed X.509 certificate (DER) over a P-256 key as notary makes root certificates:
// CN = common_name, random 128-bit serial, key usage digitalSignature + keyEncipherment,
// extended key usage codeSigning, basic constraints CA:FALSE, ECDSA-SHA256.
int crypto_self_signed_certificate(const crypto_key *key, const char *common_name,
                                   int64_t not_before, int64_t not_after, unsigned char **out, size_t *out_count,
                                   char *error, size_t size);
// A DER certificate's public key (DER SubjectPublicKeyInfo, or 32 raw bytes for ed25519),
// its kind, and its validity in seconds since the epoch.
int crypto_certificate_key(const unsigned char *der, size_t count, int *kind, unsigned char **out, size_t *out_count,
                           int64_t *not_before, int64_t *not_after, char *error, size_t size);
