"""Byte transports for the device link.

``SerialTransport`` wraps pyserial's ``serial_for_url``, so ``/dev/ttyACM0``,
``COM3``, ``socket://host:port``, ``loop://`` and QEMU's ``/dev/pts/N`` all
work.  Anything with the same four methods (``Transport``) can stand in for
it: the fake device and the fault-injecting wrapper in ``fake.py`` do.
"""

from __future__ import annotations

from typing import Protocol

import serial

from edgec.errors import DeviceError

DEFAULT_BAUD = 115200


class Transport(Protocol):
    """A bidirectional byte stream with read timeouts."""

    name: str

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    def read(self, timeout: float) -> bytes:
        """Bytes that arrived within ``timeout`` seconds (b"" if none)."""

    def discard_input(self) -> None:
        """Drop whatever was received and not read yet."""

    def close(self) -> None:
        """Release the port."""


class SerialTransport:
    """A serial port (or pyserial URL) as a Transport."""

    def __init__(self, url: str, baud: int = DEFAULT_BAUD, write_timeout: float = 5.0):
        self.name = url
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0.1, write_timeout=write_timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DeviceError(
                f"cannot open serial port {url!r} ({reason}) — check the port name "
                "(e.g. /dev/ttyACM0, COM3, socket://host:port) and that no other program holds it"
            ) from None

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"writing to {self.name} failed ({exc}) — the device was unplugged or stopped") from None

    def read(self, timeout: float) -> bytes:
        try:
            self._port.timeout = max(0.0, timeout)
            first = self._port.read(1)
            if not first:
                return b""
            waiting = self._port.in_waiting
            return first + (self._port.read(waiting) if waiting else b"")
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"reading from {self.name} failed ({exc}) — the device was unplugged or stopped") from None

    def discard_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError):
            pass

    def close(self) -> None:
        self._port.close()


def open_transport(port: str, baud: int = DEFAULT_BAUD) -> SerialTransport:
    """Open a serial port or pyserial URL; DeviceError with a hint if it fails."""
    return SerialTransport(port, baud)
