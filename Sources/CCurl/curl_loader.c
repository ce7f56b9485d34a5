#include "curl_loader.h"
#include "lazy_library.h"

static const char *const names[] = { "curl_easy_init" };
static void *p_curl_easy_init;
static void **const slots[] = { &p_curl_easy_init };
static struct lazy_library library = LAZY_LIBRARY_INIT("libcurl.so.4", "libcurl4", names, slots);

int lc_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }
