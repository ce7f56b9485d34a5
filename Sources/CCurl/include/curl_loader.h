// libcurl, loaded with dlopen the first time a command talks to the cluster store, so
// that local commands never pay for loading it and its TLS libraries.
// Each lc_ function is the libcurl function of the same name; curl_easy_setopt and
// curl_easy_getinfo are variadic, which Swift cannot call, so they get one typed
// wrapper per kind of argument.
#pragma once
#include <curl/curl.h>
#include <stddef.h>

// 0 once libcurl is loaded and globally initialised (once per process); otherwise -1 with
// the reason in `error`.
int lc_load(char *error, size_t size);

CURL *lc_easy_init(void);
void lc_easy_cleanup(CURL *handle);
void lc_easy_reset(CURL *handle);
CURLcode lc_easy_perform(CURL *handle);
const char *lc_easy_strerror(CURLcode code);

CURLcode lc_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode lc_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
// Strings are copied by libcurl (7.17+); pointers (CURLOPT_ERRORBUFFER, CURLOPT_WRITEDATA,
// CURLOPT_HTTPHEADER, CURLOPT_POSTFIELDS) must outlive the transfer.
CURLcode lc_setopt_str(CURL *handle, CURLoption option, const char *value);
CURLcode lc_setopt_ptr(CURL *handle, CURLoption option, void *value);
CURLcode lc_setopt_write_callback(CURL *handle, curl_write_callback callback);
CURLcode lc_setopt_xferinfo_callback(CURL *handle, curl_xferinfo_callback callback);
CURLcode lc_setopt_header_callback(CURL *handle, curl_write_callback callback);
CURLcode lc_setopt_read_callback(CURL *handle, curl_read_callback callback);
// CURLOPT_CAINFO_BLOB and the like: libcurl copies the bytes.
CURLcode lc_setopt_blob(CURL *handle, CURLoption option, const void *bytes, size_t count);

CURLcode lc_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode lc_getinfo_double(CURL *handle, CURLINFO info, double *value);

struct curl_slist *lc_slist_append(struct curl_slist *list, const char *string);
void lc_slist_free_all(struct curl_slist *list);
