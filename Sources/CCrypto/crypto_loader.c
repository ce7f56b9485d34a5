#define _GNU_SOURCE
// d2i_EC_PUBKEY: parses a P-256 key ten times faster than OpenSSL 3's decoders (d2i_PUBKEY).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "crypto_loader.h"
#include "lazy_library.h"
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// OpenSSL's headers give the types; nothing links against libcrypto: every function below
// is resolved with dlsym the first time crypto_load runs.
#define FUNCTIONS(X) \
    X(ERR_get_error) X(ERR_reason_error_string) X(ERR_clear_error) \
    X(EVP_Digest) X(EVP_sha256) X(EVP_sha512) X(EVP_aes_256_cbc) \
    X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) \
    X(EVP_DigestSignInit) X(EVP_DigestSign) X(EVP_DigestVerifyInit) X(EVP_DigestVerify) \
    X(EVP_PKEY_CTX_set_rsa_padding) X(EVP_PKEY_CTX_set_rsa_pss_saltlen) \
    X(EVP_PKEY_Q_keygen) X(EVP_PKEY_free) X(EVP_PKEY_get_base_id) X(EVP_PKEY_get_size) X(EVP_PKEY_get_bits) \
    X(EVP_PKEY_get_group_name) X(EVP_PKEY_get_raw_public_key) X(EVP_PKEY_new_raw_public_key) \
    X(EVP_PKEY_new_raw_private_key) X(EVP_PKEY_new) X(EVP_PKEY_assign) \
    X(d2i_EC_PUBKEY) X(EC_KEY_free) X(EC_KEY_get0_group) X(EC_GROUP_get_curve_name) \
    X(EVP_PKEY2PKCS8) X(EVP_PKCS82PKEY) X(d2i_PKCS8_PRIV_KEY_INFO) X(i2d_PKCS8_PRIV_KEY_INFO) \
    X(PKCS8_PRIV_KEY_INFO_free) X(PKCS8_pkey_get0) X(OBJ_obj2nid) \
    X(d2i_PUBKEY) X(i2d_PUBKEY) \
    X(ECDSA_SIG_new) X(ECDSA_SIG_free) X(ECDSA_SIG_get0) X(ECDSA_SIG_set0) X(d2i_ECDSA_SIG) X(i2d_ECDSA_SIG) \
    X(BN_bin2bn) X(BN_bn2binpad) X(BN_num_bits) X(BN_new) X(BN_free) X(BN_rand) X(BN_to_ASN1_INTEGER) \
    X(PKCS5_pbe2_set_iv) X(PKCS8_set0_pbe) X(PKCS8_decrypt) X(X509_ALGOR_free) X(X509_ALGOR_get0) \
    X(d2i_X509_SIG) X(i2d_X509_SIG) X(X509_SIG_free) X(X509_SIG_get0) \
    X(X509_new) X(X509_free) X(d2i_X509) X(i2d_X509) X(X509_set_version) X(X509_get_serialNumber) \
    X(X509_getm_notBefore) X(X509_getm_notAfter) X(X509_get0_notBefore) X(X509_get0_notAfter) X(ASN1_TIME_set) \
    X(ASN1_TIME_to_tm) X(X509_get_subject_name) X(X509_set_issuer_name) X(X509_NAME_add_entry_by_txt) \
    X(X509_set_pubkey) X(X509_get0_pubkey) X(X509V3_set_ctx) X(X509V3_EXT_conf_nid) X(X509_add_ext) \
    X(X509_EXTENSION_free) X(X509_sign)

LAZY_LIBRARY_DEFINE("libcrypto.so.3", "libssl3", FUNCTIONS)

int crypto_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }

void crypto_free(void *buffer, size_t count) {
    if (!buffer) return;
    explicit_bzero(buffer, count);
    free(buffer);
}

// `what`, and libcrypto's reason when it gave one; clears libcrypto's error queue.
static int fail(char *error, size_t size, const char *what) {
    unsigned long code = p_ERR_get_error();
    const char *reason = code ? p_ERR_reason_error_string(code) : NULL;
    if (reason) snprintf(error, size, "%s (%s)", what, reason);
    else snprintf(error, size, "%s", what);
    p_ERR_clear_error();
    return -1;
}

int crypto_sha256(const void *bytes, size_t count, unsigned char digest[32]) {
    return p_EVP_Digest(bytes, count, digest, NULL, p_EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int crypto_sha512(const void *bytes, size_t count, unsigned char digest[64]) {
    return p_EVP_Digest(bytes, count, digest, NULL, p_EVP_sha512(), NULL) == 1 ? 0 : -1;
}

static int kind_of(EVP_PKEY *key) {
    switch (p_EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_ED25519: return CRYPTO_ED25519;
    case EVP_PKEY_EC: {
        char group[32] = "";
        size_t length = 0;
        if (p_EVP_PKEY_get_group_name(key, group, sizeof group, &length) != 1) return 0;
        return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0 ? CRYPTO_P256 : 0;
    }
    case EVP_PKEY_RSA: return CRYPTO_RSA;
    default: return 0;
    }
}

// Notary (tuf/utils/pkcs8.go) writes an ed25519 key as PKCS#8 whose privateKey octets are
// Go's 64-byte private key (seed‖public) rather than RFC 8410's wrapped 32-byte seed.
static EVP_PKEY *notary_ed25519(const PKCS8_PRIV_KEY_INFO *info) {
    const ASN1_OBJECT *algorithm = NULL;
    const unsigned char *octets = NULL;
    int count = 0;
    if (p_PKCS8_pkey_get0(&algorithm, &octets, &count, NULL, info) != 1) return NULL;
    if (p_OBJ_obj2nid(algorithm) != NID_ED25519 || count != 64) return NULL;
    EVP_PKEY *key = p_EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, octets, 32);
    unsigned char public[32];
    size_t length = sizeof public;
    if (key && (p_EVP_PKEY_get_raw_public_key(key, public, &length) != 1 || memcmp(public, octets + 32, 32) != 0)) {
        p_EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static EVP_PKEY *key_from_info(const PKCS8_PRIV_KEY_INFO *info) {
    EVP_PKEY *key = p_EVP_PKCS82PKEY(info);
    if (!key) key = notary_ed25519(info);
    return key;
}

static EVP_PKEY *load_private(const unsigned char *pkcs8, size_t count, char *error, size_t size) {
    const unsigned char *cursor = pkcs8;
    PKCS8_PRIV_KEY_INFO *info = p_d2i_PKCS8_PRIV_KEY_INFO(NULL, &cursor, (long)count);
    if (!info || cursor != pkcs8 + count) {
        p_PKCS8_PRIV_KEY_INFO_free(info);
        fail(error, size, "not a PKCS#8 private key");
        return NULL;
    }
    EVP_PKEY *key = key_from_info(info);
    p_PKCS8_PRIV_KEY_INFO_free(info);
    if (!key) fail(error, size, "unsupported PKCS#8 private key");
    return key;
}

static int export_public(EVP_PKEY *key, unsigned char **out, size_t *out_count, char *error, size_t size) {
    if (p_EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        size_t length = 32;
        unsigned char *buffer = malloc(32);
        if (!buffer || p_EVP_PKEY_get_raw_public_key(key, buffer, &length) != 1 || length != 32) {
            free(buffer);
            return fail(error, size, "cannot read the ed25519 public key");
        }
        *out = buffer;
        *out_count = 32;
        return 0;
    }
    int length = p_i2d_PUBKEY(key, NULL);
    unsigned char *buffer = length > 0 ? malloc((size_t)length) : NULL;
    unsigned char *cursor = buffer;
    if (!buffer || p_i2d_PUBKEY(key, &cursor) != length) {
        free(buffer);
        return fail(error, size, "cannot encode the public key");
    }
    *out = buffer;
    *out_count = (size_t)length;
    return 0;
}

void crypto_key_close(crypto_key *key) { p_EVP_PKEY_free((EVP_PKEY *)key); }

int crypto_key_kind(const crypto_key *key) { return kind_of((EVP_PKEY *)key); }

crypto_key *crypto_generate(int kind, char *error, size_t size) {
    EVP_PKEY *key = kind == CRYPTO_ED25519 ? p_EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                  : kind == CRYPTO_P256    ? p_EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                  : NULL;
    if (!key) fail(error, size, "cannot generate the key");
    return (crypto_key *)key;
}

crypto_key *crypto_key_open(const unsigned char *pkcs8, size_t count, char *error, size_t size) {
    return (crypto_key *)load_private(pkcs8, count, error, size);
}

int crypto_public_key(const crypto_key *key, unsigned char **out, size_t *out_count, char *error, size_t size) {
    return export_public((EVP_PKEY *)key, out, out_count, error, size);
}

int crypto_sign(const crypto_key *handle, const void *message, size_t message_count,
                unsigned char **out, size_t *out_count, char *error, size_t size) {
    EVP_PKEY *key = (EVP_PKEY *)handle;
    int kind = kind_of(key);
    size_t length = (size_t)p_EVP_PKEY_get_size(key);
    unsigned char *buffer = malloc(length);
    EVP_MD_CTX *context = p_EVP_MD_CTX_new();
    int result = -1;
    if (kind != CRYPTO_ED25519 && kind != CRYPTO_P256) {
        snprintf(error, size, "only ed25519 and ecdsa P-256 keys sign");
    } else if (!buffer || !context
               || p_EVP_DigestSignInit(context, NULL, kind == CRYPTO_ED25519 ? NULL : p_EVP_sha256(), NULL, key) != 1
               || p_EVP_DigestSign(context, buffer, &length, message, message_count) != 1) {
        fail(error, size, "signing failed");
    } else {
        *out = buffer;
        *out_count = length;
        buffer = NULL;
        result = 0;
    }
    free(buffer);
    p_EVP_MD_CTX_free(context);
    return result;
}

static EVP_PKEY *load_public(int kind, const unsigned char *bytes, size_t count) {
    if (kind == CRYPTO_ED25519)
        return count == 32 ? p_EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, bytes, 32) : NULL;
    const unsigned char *cursor = bytes;
    if (kind == CRYPTO_P256) {
        EC_KEY *ec = p_d2i_EC_PUBKEY(NULL, &cursor, (long)count);
        EVP_PKEY *key = ec && cursor == bytes + count
                && p_EC_GROUP_get_curve_name(p_EC_KEY_get0_group(ec)) == NID_X9_62_prime256v1 ? p_EVP_PKEY_new() : NULL;
        if (!key || p_EVP_PKEY_assign(key, EVP_PKEY_EC, ec) != 1) {
            p_EC_KEY_free(ec);
            p_EVP_PKEY_free(key);
            return NULL;
        }
        return key;
    }
    EVP_PKEY *key = p_d2i_PUBKEY(NULL, &cursor, (long)count);
    if (key && (cursor != bytes + count || kind_of(key) != kind
                || (kind == CRYPTO_RSA && p_EVP_PKEY_get_bits(key) < 2048))) {
        p_EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

int crypto_verify(int kind, const unsigned char *key_bytes, size_t key_count, const void *message, size_t message_count,
                  const unsigned char *signature, size_t signature_count, int padding) {
    EVP_PKEY *key = load_public(kind, key_bytes, key_count);
    EVP_MD_CTX *context = key ? p_EVP_MD_CTX_new() : NULL;
    EVP_PKEY_CTX *operation = NULL;
    int good = context
        && p_EVP_DigestVerifyInit(context, &operation, kind == CRYPTO_ED25519 ? NULL : p_EVP_sha256(), NULL, key) == 1
        && (kind != CRYPTO_RSA
            || (padding == CRYPTO_RSA_PSS
                    ? p_EVP_PKEY_CTX_set_rsa_padding(operation, RSA_PKCS1_PSS_PADDING) == 1
                      && p_EVP_PKEY_CTX_set_rsa_pss_saltlen(operation, RSA_PSS_SALTLEN_AUTO) == 1
                    : p_EVP_PKEY_CTX_set_rsa_padding(operation, RSA_PKCS1_PADDING) == 1))
        && p_EVP_DigestVerify(context, signature, signature_count, message, message_count) == 1;
    p_EVP_MD_CTX_free(context);
    p_EVP_PKEY_free(key);
    p_ERR_clear_error();
    return good;
}

int crypto_ecdsa_der_to_raw(const unsigned char *der, size_t count, unsigned char raw[64]) {
    const unsigned char *cursor = der;
    ECDSA_SIG *signature = p_d2i_ECDSA_SIG(NULL, &cursor, (long)count);
    const BIGNUM *r = NULL, *s = NULL;
    if (signature) p_ECDSA_SIG_get0(signature, &r, &s);
    int good = signature && cursor == der + count && p_BN_num_bits(r) <= 256 && p_BN_num_bits(s) <= 256
        && p_BN_bn2binpad(r, raw, 32) == 32 && p_BN_bn2binpad(s, raw + 32, 32) == 32;
    p_ECDSA_SIG_free(signature);
    p_ERR_clear_error();
    return good ? 0 : -1;
}

int crypto_ecdsa_raw_to_der(const unsigned char raw[64], unsigned char **out, size_t *out_count) {
    ECDSA_SIG *signature = p_ECDSA_SIG_new();
    BIGNUM *r = p_BN_bin2bn(raw, 32, NULL), *s = p_BN_bin2bn(raw + 32, 32, NULL);
    if (!signature || !r || !s || p_ECDSA_SIG_set0(signature, r, s) != 1) {
        p_BN_free(r);
        p_BN_free(s);
        p_ECDSA_SIG_free(signature);
        return -1;
    }
    int length = p_i2d_ECDSA_SIG(signature, NULL);
    unsigned char *buffer = length > 0 ? malloc((size_t)length) : NULL;
    unsigned char *cursor = buffer;
    int good = buffer && p_i2d_ECDSA_SIG(signature, &cursor) == length;
    p_ECDSA_SIG_free(signature);
    p_ERR_clear_error();
    if (!good) {
        free(buffer);
        return -1;
    }
    *out = buffer;
    *out_count = (size_t)length;
    return 0;
}

int crypto_encrypt_pkcs8(const crypto_key *key, const char *passphrase, size_t passphrase_count,
                         int iterations, unsigned char **out, size_t *out_count, char *error, size_t size) {
    PKCS8_PRIV_KEY_INFO *info = p_EVP_PKEY2PKCS8((EVP_PKEY *)key);
    // PBKDF2's PRF left at its default, HMAC-SHA1: notary derives with SHA-1 whatever the
    // file says, so a file naming HMAC-SHA256 would not open there.
    X509_ALGOR *scheme = info ? p_PKCS5_pbe2_set_iv(p_EVP_aes_256_cbc(), iterations, NULL, 0, NULL, NID_hmacWithSHA1) : NULL;
    X509_SIG *encrypted = scheme ? p_PKCS8_set0_pbe(passphrase, (int)passphrase_count, info, scheme) : NULL;
    if (!encrypted) p_X509_ALGOR_free(scheme);
    p_PKCS8_PRIV_KEY_INFO_free(info);
    int length = encrypted ? p_i2d_X509_SIG(encrypted, NULL) : -1;
    unsigned char *buffer = length > 0 ? malloc((size_t)length) : NULL;
    unsigned char *cursor = buffer;
    int good = buffer && p_i2d_X509_SIG(encrypted, &cursor) == length;
    p_X509_SIG_free(encrypted);
    if (!good) {
        free(buffer);
        return fail(error, size, "cannot encrypt the private key");
    }
    *out = buffer;
    *out_count = (size_t)length;
    return 0;
}

crypto_key *crypto_decrypt_pkcs8(const unsigned char *encrypted, size_t count, const char *passphrase, size_t passphrase_count,
                                 int *status, char *error, size_t size) {
    *status = -1;
    const unsigned char *cursor = encrypted;
    X509_SIG *sealed = p_d2i_X509_SIG(NULL, &cursor, (long)count);
    if (!sealed || cursor != encrypted + count) {
        p_X509_SIG_free(sealed);
        fail(error, size, "not an encrypted PKCS#8 private key");
        return NULL;
    }
    const X509_ALGOR *algorithm = NULL;
    const ASN1_OBJECT *oid = NULL;
    p_X509_SIG_get0(sealed, &algorithm, NULL);
    p_X509_ALGOR_get0(&oid, NULL, NULL, algorithm);
    if (p_OBJ_obj2nid(oid) != NID_pbes2) {
        p_X509_SIG_free(sealed);
        snprintf(error, size, "encrypted with something other than PBES2");
        return NULL;
    }
    PKCS8_PRIV_KEY_INFO *info = p_PKCS8_decrypt(sealed, passphrase, (int)passphrase_count);
    p_X509_SIG_free(sealed);
    EVP_PKEY *key = info ? key_from_info(info) : NULL;
    p_PKCS8_PRIV_KEY_INFO_free(info);
    if (!key) {
        // A wrong passphrase shows as bad padding or, once in 256, as garbage DER.
        fail(error, size, "wrong passphrase");
        *status = -2;
    }
    return (crypto_key *)key;
}

static int add_extension(X509 *certificate, X509V3_CTX *context, int nid, const char *value) {
    X509_EXTENSION *extension = p_X509V3_EXT_conf_nid(NULL, context, nid, value);
    int good = extension && p_X509_add_ext(certificate, extension, -1) == 1;
    p_X509_EXTENSION_free(extension);
    return good;
}

int crypto_self_signed_certificate(const crypto_key *handle, const char *common_name,
                                   int64_t not_before, int64_t not_after, unsigned char **out, size_t *out_count,
                                   char *error, size_t size) {
    EVP_PKEY *key = (EVP_PKEY *)handle;
    X509 *certificate = p_X509_new();
    BIGNUM *serial = p_BN_new();
    X509_NAME *name = certificate ? p_X509_get_subject_name(certificate) : NULL;
    X509V3_CTX context;
    int good = certificate && serial && name && p_X509_set_version(certificate, X509_VERSION_3) == 1
        && p_BN_rand(serial, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1
        && p_BN_to_ASN1_INTEGER(serial, p_X509_get_serialNumber(certificate))
        && p_ASN1_TIME_set(p_X509_getm_notBefore(certificate), (time_t)not_before)
        && p_ASN1_TIME_set(p_X509_getm_notAfter(certificate), (time_t)not_after)
        && p_X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) == 1
        && p_X509_set_issuer_name(certificate, name) == 1
        && p_X509_set_pubkey(certificate, key) == 1;
    if (good) {
        p_X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
        // What Go's x509 writes for notary's template (tuf/utils/x509.go NewCertificate).
        good = add_extension(certificate, &context, NID_key_usage, "critical,digitalSignature,keyEncipherment")
            && add_extension(certificate, &context, NID_ext_key_usage, "codeSigning")
            && add_extension(certificate, &context, NID_basic_constraints, "critical,CA:FALSE")
            && p_X509_sign(certificate, key, p_EVP_sha256()) > 0;
    }
    int length = good ? p_i2d_X509(certificate, NULL) : -1;
    unsigned char *buffer = length > 0 ? malloc((size_t)length) : NULL;
    unsigned char *cursor = buffer;
    good = buffer && p_i2d_X509(certificate, &cursor) == length;
    p_BN_free(serial);
    p_X509_free(certificate);
    if (!good) {
        free(buffer);
        return fail(error, size, "cannot make the certificate");
    }
    *out = buffer;
    *out_count = (size_t)length;
    return 0;
}

static int seconds(const ASN1_TIME *time, int64_t *out) {
    struct tm parts;
    memset(&parts, 0, sizeof parts);
    if (!time || p_ASN1_TIME_to_tm(time, &parts) != 1) return 0;
    *out = (int64_t)timegm(&parts);
    return 1;
}

int crypto_certificate_key(const unsigned char *der, size_t count, int *kind, unsigned char **out, size_t *out_count,
                           int64_t *not_before, int64_t *not_after, char *error, size_t size) {
    const unsigned char *cursor = der;
    X509 *certificate = p_d2i_X509(NULL, &cursor, (long)count);
    if (!certificate || cursor != der + count) {
        p_X509_free(certificate);
        return fail(error, size, "not an X.509 certificate");
    }
    EVP_PKEY *key = p_X509_get0_pubkey(certificate);
    int result = -1;
    if (!key) fail(error, size, "the certificate's public key cannot be read");
    else if (!(*kind = kind_of(key))) snprintf(error, size, "the certificate's key is not ed25519, ecdsa P-256 or rsa");
    else if (!seconds(p_X509_get0_notBefore(certificate), not_before) || !seconds(p_X509_get0_notAfter(certificate), not_after))
        fail(error, size, "the certificate's validity cannot be read");
    else result = export_public(key, out, out_count, error, size);
    p_X509_free(certificate);
    return result;
}
