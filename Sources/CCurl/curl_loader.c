#include "curl_loader.h"
#include "lazy_library.h"
#include <pthread.h>
#include <stdio.h>

// One pointer per function, filled by dlsym.
#define FUNCTIONS(X) \
    X(curl_global_init) X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_reset) X(curl_easy_perform) \
    X(curl_easy_strerror) X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_slist_append) X(curl_slist_free_all)

LAZY_LIBRARY_DEFINE("libcurl.so.4", "libcurl4", FUNCTIONS)

// curl_global_init is not thread-safe before libcurl 7.84 and must run once per process.
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_FAILED_INIT;
static void global_init(void) { global_result = p_curl_global_init(CURL_GLOBAL_DEFAULT); }

int lc_load(char *error, size_t size) {
    if (lazy_library_load(&library, error, size) != 0) return -1;
    pthread_once(&global_once, global_init);
    if (global_result != CURLE_OK) {
        snprintf(error, size, "curl_global_init: %s", p_curl_easy_strerror(global_result));
        return -1;
    }
    return 0;
}

CURL *lc_easy_init(void) { return p_curl_easy_init(); }
void lc_easy_cleanup(CURL *handle) { p_curl_easy_cleanup(handle); }
void lc_easy_reset(CURL *handle) { p_curl_easy_reset(handle); }
CURLcode lc_easy_perform(CURL *handle) { return p_curl_easy_perform(handle); }
const char *lc_easy_strerror(CURLcode code) { return p_curl_easy_strerror(code); }

CURLcode lc_setopt_long(CURL *handle, CURLoption option, long value) { return p_curl_easy_setopt(handle, option, value); }
CURLcode lc_setopt_off(CURL *handle, CURLoption option, curl_off_t value) { return p_curl_easy_setopt(handle, option, value); }
CURLcode lc_setopt_str(CURL *handle, CURLoption option, const char *value) { return p_curl_easy_setopt(handle, option, value); }
CURLcode lc_setopt_ptr(CURL *handle, CURLoption option, void *value) { return p_curl_easy_setopt(handle, option, value); }
CURLcode lc_setopt_write_callback(CURL *handle, curl_write_callback callback) {
    return p_curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
CURLcode lc_setopt_xferinfo_callback(CURL *handle, curl_xferinfo_callback callback) {
    return p_curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

CURLcode lc_setopt_header_callback(CURL *handle, curl_write_callback callback) {
    return p_curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}
CURLcode lc_setopt_read_callback(CURL *handle, curl_read_callback callback) {
    return p_curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}
CURLcode lc_setopt_blob(CURL *handle, CURLoption option, const void *bytes, size_t count) {
    struct curl_blob blob = { (void *)bytes, count, CURL_BLOB_COPY };
    return p_curl_easy_setopt(handle, option, &blob);
}

CURLcode lc_getinfo_long(CURL *handle, CURLINFO info, long *value) { return p_curl_easy_getinfo(handle, info, value); }
CURLcode lc_getinfo_double(CURL *handle, CURLINFO info, double *value) { return p_curl_easy_getinfo(handle, info, value); }

struct curl_slist *lc_slist_append(struct curl_slist *list, const char *string) { return p_curl_slist_append(list, string); }
void lc_slist_free_all(struct curl_slist *list) { p_curl_slist_free_all(list); }
