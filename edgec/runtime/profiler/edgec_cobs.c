#include "edgec_cobs.h"

size_t edgec_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t code_at = 0; /* where the current block's code byte goes */
    size_t out = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == 0u) {
            dst[code_at] = code;
            code_at = out++;
            code = 1;
        } else {
            dst[out++] = src[i];
            code++;
            if (code == 0xFFu) {
                dst[code_at] = code;
                code_at = out++;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    return out;
}

long edgec_cobs_decode(uint8_t *buf, size_t len)
{
    size_t in = 0;
    size_t out = 0;
    while (in < len) {
        uint8_t code = buf[in++];
        if (code == 0u || in + (size_t)code - 1u > len) {
            return -1;
        }
        for (uint8_t k = 1; k < code; k++) {
            uint8_t byte = buf[in++];
            if (byte == 0u) {
                return -1;
            }
            buf[out++] = byte; /* out < in always holds, so in place is safe */
        }
        if (code != 0xFFu && in < len) {
            buf[out++] = 0u;
        }
    }
    return (long)out;
}
