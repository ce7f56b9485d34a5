#include "digest_loader.h"
#include "lazy_library.h"

// libcrypto's EVP interface, declared here so that building needs no OpenSSL headers.
typedef struct evp_md_ctx EVP_MD_CTX;
typedef struct evp_md EVP_MD;
static EVP_MD_CTX *(*p_EVP_MD_CTX_new)(void);
static void (*p_EVP_MD_CTX_free)(EVP_MD_CTX *);
static const EVP_MD *(*p_EVP_sha256)(void);
static int (*p_EVP_DigestInit_ex)(EVP_MD_CTX *, const EVP_MD *, void *);
static int (*p_EVP_DigestUpdate)(EVP_MD_CTX *, const void *, size_t);
static int (*p_EVP_DigestFinal_ex)(EVP_MD_CTX *, unsigned char *, unsigned int *);

static const char *const names[] = {
    "EVP_MD_CTX_new", "EVP_MD_CTX_free", "EVP_sha256", "EVP_DigestInit_ex", "EVP_DigestUpdate", "EVP_DigestFinal_ex",
};
static void **const slots[] = {
    (void **)&p_EVP_MD_CTX_new, (void **)&p_EVP_MD_CTX_free, (void **)&p_EVP_sha256,
    (void **)&p_EVP_DigestInit_ex, (void **)&p_EVP_DigestUpdate, (void **)&p_EVP_DigestFinal_ex,
};
static struct lazy_library library = LAZY_LIBRARY_INIT("libcrypto.so.3", "libssl3", names, slots);

int sha256_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }

void *sha256_new(void) {
    EVP_MD_CTX *context = p_EVP_MD_CTX_new();
    if (context && p_EVP_DigestInit_ex(context, p_EVP_sha256(), NULL) != 1) {
        p_EVP_MD_CTX_free(context);
        return NULL;
    }
    return context;
}

int sha256_update(void *state, const void *bytes, size_t count) {
    return p_EVP_DigestUpdate(state, bytes, count) == 1 ? 0 : -1;
}

int sha256_final(void *state, unsigned char digest[32]) {
    unsigned int length = 0;
    int result = p_EVP_DigestFinal_ex(state, digest, &length);
    p_EVP_MD_CTX_free(state);
    return result == 1 && length == 32 ? 0 : -1;
}
