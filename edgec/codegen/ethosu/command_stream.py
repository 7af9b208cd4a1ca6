"""Decode the header of a Vela command stream (the driver payload in ``COP1`` format).

The payload is little-endian 32-bit words. It starts with the four bytes
``COP1``, then a config action (tag, the NPU's CONFIG register value as the
stream was compiled for, its ID register value), NOPs that align the
register commands to 16 bytes, and a command-stream action whose tag
carries the number of register-command words (bits 16-31 low, 8-15 high).
A tag word is ``action | reserved << 8 | parameter << 16``.

The CONFIG word, as the Ethos-U driver compares it with the hardware's:
bits 0-3 log2 of the MACs per cycle, 4-7 command-stream version, 8-15 SHRAM
size in KiB, 28-31 the product (0 U55, 1 U65, 2 U85).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from edgec.errors import BuildError

ACTION_CONFIG = 0x01
ACTION_CMD_STREAM = 0x02
ACTION_NOP = 0x05
PRODUCTS = {0: "Ethos-U55", 1: "Ethos-U65", 2: "Ethos-U85"}


@dataclass(frozen=True)
class StreamHeader:
    fourcc: str
    config_word: int
    id_word: int
    command_words: int  # register-command words after the header
    header_bytes: int

    @property
    def macs_per_cycle(self) -> int:
        return 1 << (self.config_word & 0xF)

    @property
    def cmd_stream_version(self) -> int:
        return (self.config_word >> 4) & 0xF

    @property
    def shram_kib(self) -> int:
        return (self.config_word >> 8) & 0xFF

    @property
    def product(self) -> str:
        return PRODUCTS.get(self.config_word >> 28, f"product {self.config_word >> 28}")


def parse_header(payload: bytes) -> StreamHeader:
    """The COP1 header of ``payload``; a BuildError when it is not one."""
    if len(payload) < 16 or len(payload) % 4:
        raise BuildError(f"a Vela command stream of {len(payload)} bytes is not whole 32-bit words")
    words = struct.unpack(f"<{len(payload) // 4}I", payload)
    fourcc = payload[:4].decode("ascii", "replace")
    if fourcc != "COP1":
        raise BuildError(f"Vela command stream starts with {fourcc!r}, edgec reads the COP1 format")
    pos = 1
    config_word = id_word = None
    while pos < len(words):
        tag = words[pos]
        action = tag & 0xFF
        if action == ACTION_CONFIG:
            config_word, id_word = words[pos + 1], words[pos + 2]
            pos += 3
        elif action == ACTION_NOP:
            pos += 1
        elif action == ACTION_CMD_STREAM:
            length = (tag >> 16) | (((tag >> 8) & 0xFF) << 16)
            pos += 1
            if config_word is None or id_word is None:
                raise BuildError("Vela command stream has no config action before its commands")
            if pos + length != len(words):
                raise BuildError(f"Vela command stream says {length} command words, the payload holds {len(words) - pos}")
            return StreamHeader(fourcc, config_word, id_word, length, pos * 4)
        else:
            raise BuildError(f"Vela command stream has an unknown driver action 0x{action:02x} at word {pos}")
    raise BuildError("Vela command stream has no command-stream action")
