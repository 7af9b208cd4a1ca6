"""Frame layer of the device protocol (docs/protocol.md).

On the wire a frame is ``COBS(payload) + b"\\x00"`` with

    payload = code:u8  seq:u8  len:u16le  body[len]  crc:u16le

where ``crc`` is CRC-16/CCITT-FALSE over ``code .. body``.  The device side
is runtime/profiler/edgec_cobs.c, edgec_crc16.c and edgec_server.c.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from edgec.errors import DeviceError

PROTOCOL_VERSION = 1
MAX_BODY = 512
HEADER_BYTES = 4
CRC_BYTES = 2
MAX_PAYLOAD = HEADER_BYTES + MAX_BODY + CRC_BYTES
MAX_ENCODED = MAX_PAYLOAD + MAX_PAYLOAD // 254 + 2
DELIMITER = b"\x00"


class FrameError(DeviceError, ValueError):
    """A received frame is damaged (bad COBS, length or CRC)."""


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xor-out."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result contains no 0x00."""
    out = bytearray(b"\x00")
    code_at = 0
    code = 1
    for byte in data:
        if byte == 0:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
            continue
        out.append(byte)
        code += 1
        if code == 0xFF:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; FrameError on malformed input."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            raise FrameError("malformed COBS block")
        block = data[i : i + code - 1]
        if 0 in block:
            raise FrameError("0x00 inside a COBS frame")
        out += block
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    """One protocol message: command or reply code, sequence number, body."""

    code: int
    seq: int
    body: bytes = b""

    def payload(self) -> bytes:
        """Header + body + CRC, before COBS."""
        if len(self.body) > MAX_BODY:
            raise ValueError(f"frame body of {len(self.body)} bytes exceeds {MAX_BODY}")
        head = struct.pack("<BBH", self.code & 0xFF, self.seq & 0xFF, len(self.body)) + self.body
        return head + struct.pack("<H", crc16_ccitt(head))

    def encode(self) -> bytes:
        """Bytes for the wire, ending with the 0x00 delimiter."""
        return cobs_encode(self.payload()) + DELIMITER


def parse_payload(payload: bytes) -> Frame:
    """Check length and CRC of a decoded payload; FrameError if damaged."""
    if len(payload) < HEADER_BYTES + CRC_BYTES:
        raise FrameError(f"frame of {len(payload)} bytes is shorter than a header")
    (crc,) = struct.unpack_from("<H", payload, len(payload) - CRC_BYTES)
    if crc16_ccitt(payload[:-CRC_BYTES]) != crc:
        raise FrameError("CRC mismatch")
    code, seq, length = struct.unpack_from("<BBH", payload)
    body = payload[HEADER_BYTES:-CRC_BYTES]
    if length != len(body):
        raise FrameError(f"length field says {length} bytes, frame holds {len(body)}")
    return Frame(code, seq, bytes(body))


def decode_frame(encoded: bytes) -> Frame:
    """One COBS-encoded frame (without delimiter) -> Frame, or FrameError."""
    return parse_payload(cobs_decode(encoded))


class FrameDecoder:
    """Splits a byte stream into frames at 0x00 delimiters.

    ``feed`` returns one item per completed frame: a Frame, or a FrameError
    for a damaged one (garbage, truncation, bit flips), so the caller can
    retry at once instead of waiting for a timeout.  Runs of 0x00 and bytes
    beyond MAX_ENCODED are dropped, so the decoder resynchronises at the
    next delimiter whatever came before.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overflow = False

    def reset(self) -> None:
        self._buf.clear()
        self._overflow = False

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        for byte in data:
            if byte != 0:
                if len(self._buf) < MAX_ENCODED:
                    self._buf.append(byte)
                else:
                    self._overflow = True
                continue
            if self._overflow:
                out.append(FrameError(f"frame longer than {MAX_ENCODED} bytes"))
            elif self._buf:
                try:
                    out.append(decode_frame(bytes(self._buf)))
                except FrameError as exc:
                    out.append(exc)
            self.reset()
        return out
