"""Test doubles for the device link.

``FakeDevice`` is a Transport that answers like the profiler firmware
(runtime/profiler/edgec_server.c) with a model given as a Python function,
so protocol logic can be tested without QEMU.  ``FaultyTransport`` wraps any
Transport and damages the traffic on purpose (flip a byte, truncate a frame,
inject garbage, go silent) to test recovery.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from edgec.device.framing import MAX_BODY, PROTOCOL_VERSION, Frame, FrameDecoder, FrameError
from edgec.device.protocol import (
    MAGIC,
    REPLY_ERROR,
    REPLY_FLAG,
    Command,
    DeviceInfo,
    ErrorCode,
    pack_counts,
    pack_info,
)


def stub_model(data: bytes) -> bytes:
    """What tests/fixtures/stub_model computes: sat8(sat8(x + 1) + bias[i % 4])."""
    x = np.frombuffer(data, dtype=np.int8).astype(np.int32)
    bias = np.resize(np.array([0, 1, -1, 2], dtype=np.int32), x.size)
    return np.clip(np.clip(x + 1, -128, 127) + bias, -128, 127).astype(np.int8).tobytes()


STUB_INFO = DeviceInfo(
    protocol_version=PROTOCOL_VERSION,
    counter_unit="instructions",
    op_count=3,
    model_hash=0x5AB1E5ED,
    arena_size=1536,
    input_size=768,
    output_size=768,
    clock_hz=25_000_000,
    counter_resolution=40,
    input_scale=0.0078125,
    input_zero_point=-128,
    output_scale=0.00390625,
    output_zero_point=-128,
    input_shape=(1, 16, 16, 3),
    output_shape=(1, 768),
    board="fake",
)


class FakeDevice:
    """An in-memory device speaking the edgec protocol."""

    def __init__(self, info: DeviceInfo = STUB_INFO, model: Callable[[bytes], bytes] = stub_model,
                 op_counts: list[int] | None = None, protocol_version: int = PROTOCOL_VERSION):
        self.name = "fake://device"
        self.info = info
        self.model = model
        self.op_counts = op_counts if op_counts is not None else [100 * (k + 1) for k in range(info.op_count)]
        self.protocol_version = protocol_version
        self.silent = False  # True: swallow requests, never answer
        self.received: list[Frame | FrameError] = []
        self._decoder = FrameDecoder()
        self._input = bytearray(info.input_size)
        self._output = bytes(info.output_size)
        self._outbox = bytearray()

    # -- Transport -----------------------------------------------------------

    def write(self, data: bytes) -> None:
        for item in self._decoder.feed(data):
            self.received.append(item)
            if not self.silent:
                self._outbox += self._answer(item).encode()

    def read(self, timeout: float) -> bytes:
        if not self._outbox:
            time.sleep(min(timeout, 0.01))
            return b""
        data, self._outbox = bytes(self._outbox), bytearray()
        return data

    def discard_input(self) -> None:
        self._outbox.clear()

    def close(self) -> None:
        pass

    # -- device behaviour ------------------------------------------------------

    def _error(self, seq: int, code: ErrorCode, command: int) -> Frame:
        return Frame(REPLY_ERROR, seq, bytes([code, command & 0xFF]))

    def _answer(self, item: Frame | FrameError) -> Frame:
        if isinstance(item, FrameError):
            return self._error(0, ErrorCode.BAD_CRC if "CRC" in str(item) else ErrorCode.BAD_FRAME, 0)
        seq, body, code = item.seq, item.body, item.code
        reply = code | REPLY_FLAG
        if code == Command.HELLO:
            if body[:4] != MAGIC:
                return self._error(seq, ErrorCode.BAD_ARGUMENT, code)
            return Frame(reply, seq, MAGIC + bytes([self.protocol_version]) + struct.pack("<H", MAX_BODY))
        if code == Command.INFO:
            return Frame(reply, seq, pack_info(self.info))
        if code == Command.WRITE_INPUT:
            (offset,) = struct.unpack_from("<I", body)
            data = body[4:]
            if offset + len(data) > len(self._input):
                return self._error(seq, ErrorCode.BAD_OFFSET, code)
            self._input[offset : offset + len(data)] = data
            return Frame(reply, seq, struct.pack("<IH", offset, len(data)))
        if code == Command.INVOKE:
            self._output = self.model(bytes(self._input))
            return Frame(reply, seq, pack_counts(sum(self.op_counts), self.op_counts, 0))
        if code == Command.READ_COUNTS:
            (first,) = struct.unpack_from("<H", body)
            return Frame(reply, seq, pack_counts(sum(self.op_counts), self.op_counts, first))
        if code == Command.READ_OUTPUT:
            offset, count = struct.unpack_from("<IH", body)
            if offset + count > len(self._output):
                return self._error(seq, ErrorCode.BAD_OFFSET, code)
            return Frame(reply, seq, struct.pack("<I", offset) + self._output[offset : offset + count])
        return self._error(seq, ErrorCode.UNKNOWN_COMMAND, code)

    def with_hash(self, model_hash: int) -> FakeDevice:
        """A fresh fake device whose firmware reports another model hash."""
        return FakeDevice(replace(self.info, model_hash=model_hash), self.model, self.op_counts)


class FaultyTransport:
    """Wraps a Transport and damages chosen writes or reads, once each.

    Write and read numbers count calls to ``write``/``read`` that carry data
    (from 0).  ``flip_write``/``flip_read``: XOR one byte in the middle of
    that chunk; ``truncate_write``: send only the first half of that frame
    (plus its delimiter, so the device sees a short frame);
    ``garbage_before_write``: send these bytes just before that write;
    ``drop_writes_from``: swallow every write from that one on (the device
    seems to stop answering).
    """

    def __init__(self, inner, flip_write: int | None = None, flip_read: int | None = None,
                 truncate_write: int | None = None, garbage_before_write: tuple[int, bytes] | None = None,
                 drop_writes_from: int | None = None):
        self.inner = inner
        self.name = getattr(inner, "name", "faulty")
        self.flip_write = flip_write
        self.flip_read = flip_read
        self.truncate_write = truncate_write
        self.garbage_before_write = garbage_before_write
        self.drop_writes_from = drop_writes_from
        self.writes = 0
        self.reads = 0
        self.faults = 0  # how many faults were injected

    @staticmethod
    def _flip(data: bytes) -> bytes:
        buf = bytearray(data)
        i = len(buf) // 2
        buf[i] ^= 0x5A if buf[i] not in (0x00, 0x5A) else 0x21
        if buf[i] == 0:
            buf[i] = 0x33
        return bytes(buf)

    def write(self, data: bytes) -> None:
        n = self.writes
        self.writes += 1
        if self.drop_writes_from is not None and n >= self.drop_writes_from:
            self.faults += 1
            return
        if self.garbage_before_write is not None and self.garbage_before_write[0] == n:
            self.faults += 1
            self.inner.write(self.garbage_before_write[1])
        if self.flip_write == n:
            self.faults += 1
            data = self._flip(data)
        if self.truncate_write == n:
            self.faults += 1
            data = data[: max(2, len(data) // 2)] + b"\x00"
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if data:
            n = self.reads
            self.reads += 1
            if self.flip_read == n:
                self.faults += 1
                data = self._flip(data)
        return data

    def discard_input(self) -> None:
        self.inner.discard_input()

    def close(self) -> None:
        self.inner.close()
