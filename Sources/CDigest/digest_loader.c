#include "digest_loader.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// libcrypto's EVP interface, declared here so that building needs no OpenSSL headers.
typedef struct evp_md_ctx EVP_MD_CTX;
typedef struct evp_md EVP_MD;
static EVP_MD_CTX *(*p_EVP_MD_CTX_new)(void);
static void (*p_EVP_MD_CTX_free)(EVP_MD_CTX *);
static const EVP_MD *(*p_EVP_sha256)(void);
static int (*p_EVP_DigestInit_ex)(EVP_MD_CTX *, const EVP_MD *, void *);
static int (*p_EVP_DigestUpdate)(EVP_MD_CTX *, const void *, size_t);
static int (*p_EVP_DigestFinal_ex)(EVP_MD_CTX *, unsigned char *, unsigned int *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

int sha256_load(char *error, size_t size) {
    pthread_mutex_lock(&lock);
    if (!loaded) {
        void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
        if (!library) {
            snprintf(error, size, "cannot load libcrypto.so.3 (install libssl3): %s", dlerror());
            pthread_mutex_unlock(&lock);
            return -1;
        }
#define RESOLVE(name) \
        if (!(*(void **)&p_##name = dlsym(library, #name))) { \
            snprintf(error, size, "libcrypto.so.3 has no %s", #name); \
            pthread_mutex_unlock(&lock); \
            return -1; \
        }
        RESOLVE(EVP_MD_CTX_new) RESOLVE(EVP_MD_CTX_free) RESOLVE(EVP_sha256)
        RESOLVE(EVP_DigestInit_ex) RESOLVE(EVP_DigestUpdate) RESOLVE(EVP_DigestFinal_ex)
        loaded = 1;
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

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
