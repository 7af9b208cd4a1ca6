/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xor-out. */
#ifndef EDGEC_CRC16_H
#define EDGEC_CRC16_H

#include <stddef.h>
#include <stdint.h>

uint16_t edgec_crc16(const uint8_t *data, size_t len);

#endif /* EDGEC_CRC16_H */
