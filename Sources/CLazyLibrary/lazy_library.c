#include "lazy_library.h"
#include <dlfcn.h>
#include <stdio.h>

int lazy_library_load(struct lazy_library *library, char *error, size_t size) {
    int result = 0;
    pthread_mutex_lock(&library->lock);
    if (!library->loaded) {
        void *handle = dlopen(library->soname, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            snprintf(error, size, "cannot load %s (install %s): %s", library->soname, library->package, dlerror());
            result = -1;
        }
        for (int i = 0; result == 0 && i < library->count; i++) {
            if (!(*library->slots[i] = dlsym(handle, library->names[i]))) {
                snprintf(error, size, "%s has no %s", library->soname, library->names[i]);
                result = -1;
            }
        }
        library->loaded = result == 0;
    }
    pthread_mutex_unlock(&library->lock);
    return result;
}
