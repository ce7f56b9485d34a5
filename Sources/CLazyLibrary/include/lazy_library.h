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

// For a library whose header declares its functions: FUNCTIONS is an X-macro listing them
// (`#define FUNCTIONS(X) X(archive_read_new) X(archive_read_free) …`). Declares a pointer
// `p_NAME` of each one's own type, and `library`, which fills them on first use.
#define LAZY_POINTER_(name) static __typeof__(&name) p_##name;
#define LAZY_NAME_(name) #name,
#define LAZY_SLOT_(name) (void **)&p_##name,
#define LAZY_LIBRARY_DEFINE(soname, package, FUNCTIONS) \
    FUNCTIONS(LAZY_POINTER_) \
    static const char *const lazy_names_[] = { FUNCTIONS(LAZY_NAME_) }; \
    static void **const lazy_slots_[] = { FUNCTIONS(LAZY_SLOT_) }; \
    static struct lazy_library library = LAZY_LIBRARY_INIT(soname, package, lazy_names_, lazy_slots_);

// 0 once the library is loaded and every function resolved; otherwise -1 with the reason
// in `error`. Safe to call from several threads; the work is done once.
int lazy_library_load(struct lazy_library *library, char *error, size_t size);
