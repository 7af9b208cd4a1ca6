/*
 * Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so
 * that 0x00 can delimit frames on the wire.
 */
#ifndef EDGEC_COBS_H
#define EDGEC_COBS_H

#include <stddef.h>
#include <stdint.h>

/* Encodes len bytes of src into dst (room for len + len/254 + 1 bytes);
 * returns the encoded length.  The 0x00 delimiter is not written. */
size_t edgec_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst);

/* Decodes len bytes in place; returns the decoded length, or -1 when the
 * input is not valid COBS (a 0x00 inside, or a code running past the end). */
long edgec_cobs_decode(uint8_t *buf, size_t len);

#endif /* EDGEC_COBS_H */
