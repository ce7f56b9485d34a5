// A system library loaded with dlopen on first use, its functions resolved with dlsym, so
// that commands that never use it do not pay for loading it (libarchive with its ten
// dependencies, libcrypto).
#pragma once
#include <pthread.h>
#include <stddef.h>

struct lazy_library {
    const char *soname;          // "libarchive.so.13"
    const char *package;         // the Debian package that brings it, for the error
    const char *const *names;    // the functions to resolve…
    void **const *slots;         // …and where each pointer goes
    int count;
    pthread_mutex_t lock;
    int loaded;
};

#define LAZY_LIBRARY_INIT(soname, package, names, slots) \
    { soname, package, names, slots, (int)(sizeof(names) / sizeof(names[0])), PTHREAD_MUTEX_INITIALIZER, 0 }

// 0 once the library is loaded and every function resolved; otherwise -1 with the reason
// in `error`. Safe to call from several threads; the work is done once.
int lazy_library_load(struct lazy_library *library, char *error, size_t size);
