// ISA-L's igzip inflate (libisal), loaded with dlopen the first time a gzip layer is
// unpacked. It inflates 3–4 times as fast as zlib, the most of a pull's CPU; when it
// cannot be loaded, layers are inflated by libarchive's filter (zlib) as before.
#pragma once
#include <stddef.h>

// 0 once libisal is loaded; otherwise -1 with the reason in `error`.
int igzip_load(char *error, size_t size);

// An inflater of one gzip member at a time (header, deflate data, CRC-32 and size checked),
// NULL without memory; free it with igzip_free.
void *igzip_new(void);
void igzip_free(void *state);

// Starts the next member of a multi-member gzip.
void igzip_reset(void *state);

// Inflates from `input` into `output` as far as either goes, setting how much of each was
// used. 1 when the member's end (trailer checked) was reached, 0 when more input or output
// space is needed, an ISA-L error (negative; ISAL_INVALID_BLOCK…) otherwise.
int igzip_inflate(void *state, const void *input, size_t input_count, size_t *consumed,
                  void *output, size_t output_count, size_t *produced);
