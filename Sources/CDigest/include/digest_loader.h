// SHA-256 from OpenSSL's libcrypto, loaded with dlopen the first time something is hashed
// (an image import), so that no other command pays for loading it.
#pragma once
#include <stddef.h>

// 0 once libcrypto is loaded; otherwise -1 with the reason in `error`.
int sha256_load(char *error, size_t size);

// A running SHA-256: new, update as bytes stream past, then final (which frees it).
void *sha256_new(void);
int sha256_update(void *state, const void *bytes, size_t count);
int sha256_final(void *state, unsigned char digest[32]);
