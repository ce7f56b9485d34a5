#include "igzip_loader.h"
#include "lazy_library.h"
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdlib.h>

#define FUNCTIONS(X) X(isal_inflate_init) X(isal_inflate_reset) X(isal_inflate)

LAZY_LIBRARY_DEFINE("libisal.so.2", "libisal2", FUNCTIONS)

int igzip_load(char *error, size_t size) { return lazy_library_load(&library, error, size); }

void *igzip_new(void) {
    struct inflate_state *state = malloc(sizeof *state);
    if (!state) return NULL;
    p_isal_inflate_init(state);
    state->crc_flag = ISAL_GZIP;
    return state;
}

void igzip_free(void *state) { free(state); }

void igzip_reset(void *raw) {
    struct inflate_state *state = raw;
    p_isal_inflate_reset(state);
    state->crc_flag = ISAL_GZIP;
}

int igzip_inflate(void *raw, const void *input, size_t input_count, size_t *consumed,
                  void *output, size_t output_count, size_t *produced) {
    struct inflate_state *state = raw;
    // avail_in and avail_out are 32-bit.
    uint32_t in = input_count > UINT32_MAX ? UINT32_MAX : (uint32_t)input_count;
    uint32_t out = output_count > UINT32_MAX ? UINT32_MAX : (uint32_t)output_count;
    state->next_in = (uint8_t *)input;
    state->avail_in = in;
    state->next_out = output;
    state->avail_out = out;
    int status = p_isal_inflate(state);
    *consumed = in - state->avail_in;
    *produced = out - state->avail_out;
    if (status < 0) return status;
    // ISAL_NEED_DICT and the header-buffer overflows cannot happen for gzip without a
    // dictionary or header buffers: anything but OK / end of input / output full is an error.
    if (status > ISAL_OUT_OVERFLOW) return ISAL_INVALID_WRAPPER;
    return state->block_state == ISAL_BLOCK_FINISH ? 1 : 0;
}
