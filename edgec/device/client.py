"""Host end of the device protocol: request/reply with retries.

Every request gets a fresh sequence number (1..255) and is preceded by a
0x00 so the device drops any half-received garbage.  A reply that is
damaged, missing (timeout) or a frame-level error (BAD_CRC, BAD_FRAME,
FRAME_TOO_LONG) makes the client resend, at most ``retries`` times; every
command is idempotent, so a resend is always safe.  Replies with another
sequence number are stale and skipped.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from edgec.device.framing import PROTOCOL_VERSION, Frame, FrameDecoder, FrameError
from edgec.device.protocol import (
    READ_CHUNK,
    REPLY_ERROR,
    REPLY_FLAG,
    TRANSPORT_ERRORS,
    WRITE_CHUNK,
    Command,
    DeviceInfo,
    error_name,
    hello_body,
    parse_counts,
    parse_hello,
    parse_info,
)
from edgec.device.transport import Transport
from edgec.errors import DeviceError

DEFAULT_TIMEOUT_S = 1.0
DEFAULT_INVOKE_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class InvokeResult:
    """Counts from one INVOKE, in ``unit`` (cycles or instructions)."""

    total: int
    per_op: tuple[int, ...]
    unit: str


def command_name(command: int) -> str:
    try:
        return Command(command).name
    except ValueError:
        return f"command 0x{command:02x}"


class DeviceClient:
    """Talks to the edgec profiler firmware over a Transport."""

    def __init__(self, transport: Transport, timeout: float = DEFAULT_TIMEOUT_S,
                 invoke_timeout: float = DEFAULT_INVOKE_TIMEOUT_S, retries: int = DEFAULT_RETRIES):
        self.transport = transport
        self.timeout = timeout
        self.invoke_timeout = invoke_timeout
        self.retries = retries
        self.resends = 0  # how many times a request had to be sent again
        self._seq = 0
        self._decoder = FrameDecoder()
        self._info: DeviceInfo | None = None

    # -- request / reply ------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1
        return self._seq

    def request(self, command: int, body: bytes = b"", timeout: float | None = None) -> bytes:
        """Send ``command`` and return the body of its reply (with retries)."""
        wait = self.timeout if timeout is None else timeout
        problem = "no reply"
        for attempt in range(self.retries + 1):
            if attempt:
                self.resends += 1
            seq = self._next_seq()
            self.transport.write(b"\x00" + Frame(command, seq, body).encode())
            outcome = self._await_reply(command, seq, wait)
            if isinstance(outcome, bytes):
                return outcome
            problem = outcome
        raise DeviceError(
            f"no valid reply to {command_name(command)} after {self.retries + 1} tries ({problem}, "
            f"timeout {wait:g} s each) on {self.transport.name} — check the port and baud rate, "
            "reset the board or re-flash the firmware"
        )

    def _await_reply(self, command: int, seq: int, wait: float) -> bytes | str:
        """The reply body, or a description of why to resend."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timed out"
            for item in self._decoder.feed(self.transport.read(min(left, 0.25))):
                if isinstance(item, FrameError):
                    return f"damaged reply: {item}"
                verdict = self._judge(item, command, seq)
                if verdict is not None:
                    return verdict

    def _judge(self, frame: Frame, command: int, seq: int) -> bytes | str | None:
        """Reply body if ``frame`` answers this request, a resend reason, or None to skip it."""
        if frame.code == REPLY_ERROR and len(frame.body) >= 1:
            code = frame.body[0]
            if code in TRANSPORT_ERRORS and frame.seq in (seq, 0):
                return f"device reported {error_name(code)}"
            if frame.seq != seq:
                return None
            raise DeviceError(
                f"device rejected {command_name(command)}: {error_name(code)} — the host and firmware disagree; "
                "rebuild and re-flash the firmware"
            )
        if frame.seq != seq:
            return None  # stale reply to an earlier attempt
        if frame.code != (command | REPLY_FLAG):
            return f"unexpected reply code 0x{frame.code:02x}"
        return frame.body

    # -- commands ----------------------------------------------------------------

    def hello(self, timeout: float | None = None) -> int:
        """Version handshake; returns the device's protocol version.

        ``timeout`` (per attempt) may exceed the normal one: a freshly opened
        QEMU pty can take up to a second before QEMU notices the reader.
        """
        self.transport.discard_input()
        self._decoder.reset()
        try:
            version, _max_body = parse_hello(self.request(Command.HELLO, hello_body(), timeout=timeout))
        except ValueError:
            raise DeviceError(
                f"the device on {self.transport.name} does not run edgec profiler firmware — flash an edgec build"
            ) from None
        if version != PROTOCOL_VERSION:
            raise DeviceError(
                f"firmware speaks protocol v{version}, this edgec speaks v{PROTOCOL_VERSION} — "
                "rebuild and re-flash the firmware with this edgec"
            )
        return version

    def info(self, refresh: bool = False) -> DeviceInfo:
        """What the firmware runs: model hash, sizes, shapes, counter unit."""
        if self._info is None or refresh:
            try:
                self._info = parse_info(self.request(Command.INFO))
            except (ValueError, IndexError, struct.error):
                raise DeviceError("the device sent a malformed INFO reply — rebuild and re-flash the firmware") from None
        return self._info

    def write_input(self, data: bytes) -> None:
        """Send the model input (int8 bytes) in chunks."""
        size = self.info().input_size
        if len(data) != size:
            raise DeviceError(f"input has {len(data)} bytes, the model on the device takes {size} — check the input shape")
        for offset in range(0, size, WRITE_CHUNK):
            chunk = data[offset : offset + WRITE_CHUNK]
            self.request(Command.WRITE_INPUT, struct.pack("<I", offset) + chunk)

    def invoke(self) -> InvokeResult:
        """Run the model once; returns total and per-op counts."""
        counts = parse_counts(self.request(Command.INVOKE, timeout=self.invoke_timeout))
        per_op = list(counts.counts)
        while len(per_op) < counts.op_count:
            more = parse_counts(self.request(Command.READ_COUNTS, struct.pack("<H", len(per_op))))
            if not more.counts:
                raise DeviceError("the device sent no per-op counts — rebuild and re-flash the firmware")
            per_op += more.counts
        return InvokeResult(counts.total, tuple(per_op[: counts.op_count]), self.info().counter_unit)

    def read_output(self) -> bytes:
        """Fetch the model output (int8 bytes) in chunks."""
        size = self.info().output_size
        out = bytearray()
        while len(out) < size:
            want = min(READ_CHUNK, size - len(out))
            body = self.request(Command.READ_OUTPUT, struct.pack("<IH", len(out), want))
            if len(body) < 4:
                raise DeviceError(
                    f"the device's output reply is {len(body)} bytes, shorter than its 4-byte offset — "
                    "check the port and rebuild and re-flash the firmware"
                )
            (offset,) = struct.unpack_from("<I", body)
            data = body[4:]
            if offset != len(out) or len(data) != want:
                raise DeviceError("the device sent output from the wrong offset — rebuild and re-flash the firmware")
            out += data
        return bytes(out)

    def run(self, data: bytes) -> tuple[bytes, InvokeResult]:
        """write_input + invoke + read_output."""
        self.write_input(data)
        result = self.invoke()
        return self.read_output(), result

