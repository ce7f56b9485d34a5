// libcurl, loaded with dlopen the first time a command talks to the cluster store, so
// that local commands never pay for loading it and its TLS libraries.
#pragma once
#include <stddef.h>

// 0 once libcurl is loaded; otherwise -1 with the reason in `error`.
int lc_load(char *error, size_t size);
