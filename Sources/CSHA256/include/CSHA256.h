#ifndef CSHA256_H
#define CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the SHA extensions (and SSE4.1) that
/// lcdb_sha256_compress_shani needs; 0 elsewhere (any other architecture too).
int lcdb_sha256_has_shani(void);

/// Compresses `blocks` 64-byte blocks of `data` into `state` (FIPS 180-4's
/// eight words, H0 to H7) with the SHA extensions. Call only when
/// lcdb_sha256_has_shani() is 1.
void lcdb_sha256_compress_shani(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
