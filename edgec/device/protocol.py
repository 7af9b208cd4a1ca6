"""Message layer of the device protocol: command codes, error codes and the
layouts of request and reply bodies (docs/protocol.md).  Mirrors
runtime/profiler/edgec_protocol.h and edgec_server.c.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from enum import IntEnum

from edgec.device.framing import MAX_BODY, PROTOCOL_VERSION
from edgec.errors import DeviceError

MAGIC = b"EDGC"
REPLY_FLAG = 0x80
REPLY_ERROR = 0xFF


class Command(IntEnum):
    HELLO = 0x01
    INFO = 0x02
    WRITE_INPUT = 0x03
    INVOKE = 0x04
    READ_OUTPUT = 0x05
    READ_COUNTS = 0x06


class ErrorCode(IntEnum):
    BAD_CRC = 1
    BAD_LENGTH = 2
    UNKNOWN_COMMAND = 3
    BAD_OFFSET = 4
    BAD_FRAME = 5
    FRAME_TOO_LONG = 6
    BAD_ARGUMENT = 7


# Errors about the frame itself: the request never arrived intact, resend it.
TRANSPORT_ERRORS = frozenset({ErrorCode.BAD_CRC, ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LONG})

COUNTER_UNITS = {0: "cycles", 1: "instructions"}

WRITE_CHUNK = MAX_BODY - 4  # data bytes per WRITE_INPUT (after the u32 offset)
READ_CHUNK = MAX_BODY - 4  # data bytes per READ_OUTPUT reply


MAX_RANK = 8  # dimensions of an input/output shape in an INFO reply
MAX_BOARD_NAME = 32


class ProtocolError(DeviceError, ValueError):
    """A reply body that does not have the layout its command defines (docs/protocol.md)."""


def error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"error {code}"


@dataclass(frozen=True)
class DeviceInfo:
    """The INFO reply: what firmware runs and how it measures."""

    protocol_version: int
    counter_unit: str  # "cycles" or "instructions"
    op_count: int
    model_hash: int
    arena_size: int
    input_size: int
    output_size: int
    clock_hz: int
    counter_resolution: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    board: str = ""
    max_body: int = field(default=MAX_BODY, compare=False)

    def to_json(self) -> dict[str, object]:
        return {
            "protocol_version": self.protocol_version,
            "counter_unit": self.counter_unit,
            "op_count": self.op_count,
            "model_hash": f"0x{self.model_hash:08x}",
            "arena_size": self.arena_size,
            "input_size": self.input_size,
            "output_size": self.output_size,
            "clock_hz": self.clock_hz,
            "counter_resolution": self.counter_resolution,
            "input_scale": self.input_scale,
            "input_zero_point": self.input_zero_point,
            "output_scale": self.output_scale,
            "output_zero_point": self.output_zero_point,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "board": self.board,
        }


_INFO_HEAD = struct.Struct("<BBHIIIIIIfifi")


class _Reader:
    """Reads fields from a reply body in order; ProtocolError when the body is too short."""

    def __init__(self, body: bytes, reply: str):
        self.body, self.at, self.reply = body, 0, reply

    def take(self, fmt: str | struct.Struct) -> tuple:
        layout = fmt if isinstance(fmt, struct.Struct) else struct.Struct(fmt)
        if self.at + layout.size > len(self.body):
            raise ProtocolError(f"{self.reply} reply of {len(self.body)} bytes is too short: resend or re-flash the firmware")
        values = layout.unpack_from(self.body, self.at)
        self.at += layout.size
        return values

    def shape(self, what: str) -> tuple[int, ...]:
        (rank,) = self.take("<B")
        if rank > MAX_RANK:
            raise ProtocolError(f"{self.reply} reply gives the {what} shape {rank} dimensions (at most {MAX_RANK})")
        return self.take(f"<{rank}I")

    def end(self) -> None:
        if self.at != len(self.body):
            raise ProtocolError(f"{self.reply} reply has {len(self.body) - self.at} bytes too many")


def parse_info(body: bytes) -> DeviceInfo:
    """Decode an INFO reply body; ProtocolError (a ValueError) if malformed."""
    r = _Reader(body, "INFO")
    (version, unit, ops, model_hash, arena, in_size, out_size, clock, resolution,
     in_scale, in_zp, out_scale, out_zp) = r.take(_INFO_HEAD)
    if unit not in COUNTER_UNITS:
        raise ProtocolError(f"INFO reply names counter unit {unit}; this edgec knows {sorted(COUNTER_UNITS)}")
    if not (math.isfinite(in_scale) and math.isfinite(out_scale)):
        raise ProtocolError("INFO reply has a non-finite input or output scale")
    in_shape = r.shape("input")
    out_shape = r.shape("output")
    (name_len,) = r.take("<B")
    if name_len > MAX_BOARD_NAME:
        raise ProtocolError(f"INFO reply has a board name of {name_len} bytes (at most {MAX_BOARD_NAME})")
    (name,) = r.take(f"<{name_len}s")
    r.end()
    if not all(32 <= c < 127 for c in name):
        raise ProtocolError("INFO reply has a board name that is not printable ASCII")
    return DeviceInfo(
        protocol_version=version,
        counter_unit=COUNTER_UNITS[unit],
        op_count=ops,
        model_hash=model_hash,
        arena_size=arena,
        input_size=in_size,
        output_size=out_size,
        clock_hz=clock,
        counter_resolution=resolution,
        input_scale=in_scale,
        input_zero_point=in_zp,
        output_scale=out_scale,
        output_zero_point=out_zp,
        input_shape=in_shape,
        output_shape=out_shape,
        board=name.decode("ascii"),
    )


def pack_info(info: DeviceInfo) -> bytes:
    """Encode an INFO reply body (used by the fake device)."""
    unit = {v: k for k, v in COUNTER_UNITS.items()}[info.counter_unit]
    out = _INFO_HEAD.pack(
        info.protocol_version, unit, info.op_count, info.model_hash, info.arena_size, info.input_size,
        info.output_size, info.clock_hz, info.counter_resolution, info.input_scale, info.input_zero_point,
        info.output_scale, info.output_zero_point,
    )
    for shape in (info.input_shape, info.output_shape):
        out += struct.pack(f"<B{len(shape)}I", len(shape), *shape)
    name = info.board.encode("ascii")[:32]
    return out + bytes([len(name)]) + name


def hello_body() -> bytes:
    return MAGIC + bytes([PROTOCOL_VERSION])


def parse_hello(body: bytes) -> tuple[int, int]:
    """HELLO reply -> (device protocol version, max body); ProtocolError (a ValueError) if not edgec."""
    if len(body) < 7 or body[:4] != MAGIC:
        raise ProtocolError("the HELLO reply is not from an edgec profiler: flash an edgec build")
    version = body[4]
    (max_body,) = struct.unpack_from("<H", body, 5)
    return version, max_body


@dataclass(frozen=True)
class Counts:
    """INVOKE / READ_COUNTS reply: total count, op count, a slice of per-op counts."""

    total: int
    op_count: int
    first: int
    counts: tuple[int, ...]


_COUNTS_HEAD = struct.Struct("<QHH")


def parse_counts(body: bytes) -> Counts:
    """Decode an INVOKE / READ_COUNTS reply body; ProtocolError (a ValueError) if malformed."""
    total, ops, first = _Reader(body, "INVOKE/READ_COUNTS").take(_COUNTS_HEAD)
    rest = body[_COUNTS_HEAD.size :]
    if len(rest) % 4:
        raise ProtocolError("the per-op counts of an INVOKE/READ_COUNTS reply are not whole u32 values")
    counts = struct.unpack(f"<{len(rest) // 4}I", rest)
    if first + len(counts) > ops:
        raise ProtocolError(f"INVOKE/READ_COUNTS reply gives counts of ops {first}..{first + len(counts) - 1} of {ops}")
    return Counts(total, ops, first, counts)


def pack_counts(total: int, counts: list[int], first: int) -> bytes:
    room = (MAX_BODY - _COUNTS_HEAD.size) // 4
    part = counts[first : first + room]
    return _COUNTS_HEAD.pack(total, len(counts), first) + struct.pack(f"<{len(part)}I", *part)
