/*
 * Constants of the edgec device protocol (see docs/protocol.md).
 * edgec/device/framing.py and edgec/device/protocol.py mirror these values.
 *
 * A frame on the wire is COBS(payload) followed by one 0x00 byte, where
 *   payload = code:u8 seq:u8 len:u16le body[len] crc:u16le
 * and crc is CRC-16/CCITT-FALSE over code..body.
 */
#ifndef EDGEC_PROTOCOL_H
#define EDGEC_PROTOCOL_H

#define EDGEC_PROTOCOL_VERSION 1u
#define EDGEC_MAX_BODY 512u
#define EDGEC_HEADER_BYTES 4u
#define EDGEC_CRC_BYTES 2u
#define EDGEC_MAX_PAYLOAD (EDGEC_HEADER_BYTES + EDGEC_MAX_BODY + EDGEC_CRC_BYTES)
/* COBS adds one byte per 254 and one in front. */
#define EDGEC_MAX_ENCODED (EDGEC_MAX_PAYLOAD + EDGEC_MAX_PAYLOAD / 254u + 2u)

/* Commands (host -> device); a reply carries the command code | 0x80. */
#define EDGEC_CMD_HELLO 0x01u
#define EDGEC_CMD_INFO 0x02u
#define EDGEC_CMD_WRITE_INPUT 0x03u
#define EDGEC_CMD_INVOKE 0x04u
#define EDGEC_CMD_READ_OUTPUT 0x05u
#define EDGEC_CMD_READ_COUNTS 0x06u
#define EDGEC_REPLY_FLAG 0x80u
#define EDGEC_REPLY_ERROR 0xFFu

/* Error codes, first byte of an ERROR reply (second byte: the command). */
#define EDGEC_ERR_BAD_CRC 1u
#define EDGEC_ERR_BAD_LENGTH 2u
#define EDGEC_ERR_UNKNOWN_COMMAND 3u
#define EDGEC_ERR_BAD_OFFSET 4u
#define EDGEC_ERR_BAD_FRAME 5u
#define EDGEC_ERR_FRAME_TOO_LONG 6u
#define EDGEC_ERR_BAD_ARGUMENT 7u

/* Counter units reported by INFO. */
#define EDGEC_UNIT_CYCLES 0u
#define EDGEC_UNIT_INSTRUCTIONS 1u

#endif /* EDGEC_PROTOCOL_H */
