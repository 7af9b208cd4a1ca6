"""Run firmware in QEMU and expose its UART as a pseudo-terminal.

``Emulator`` starts ``qemu-system-arm -machine <m> -nographic -icount
shift=0 -serial pty -kernel <elf>``, waits for QEMU to say which
``/dev/pts/N`` carries UART0, and stops QEMU when the context ends (also on
errors).  ``-icount shift=0`` makes every guest instruction take 1 ns of
virtual time, which the SysTick counter turns into instruction counts.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from edgec.errors import DeviceError
from edgec.targets import Target, load_target

if TYPE_CHECKING:
    from typing_extensions import Self

QEMU = "qemu-system-arm"
STARTUP_TIMEOUT_S = 10.0
_PTY_LINE = re.compile(r"char device redirected to (\S+)")


def qemu_command(elf: Path, target: Target, qemu: str = QEMU) -> list[str]:
    """The QEMU command line for running ``elf`` on ``target``."""
    if target.qemu_machine is None:
        raise DeviceError(f"target {target.name} is a real board, not emulated — pass --port to use the board")
    return [
        qemu,
        "-machine", target.qemu_machine,
        "-nographic",
        "-monitor", "none",
        "-icount", "shift=0",
        "-serial", "pty",
        *target.qemu_args,
        "-kernel", str(elf),
    ]


class Emulator:
    """QEMU running one firmware image; use as a context manager."""

    def __init__(self, elf: Path | str, target: Target | str, qemu: str = QEMU,
                 startup_timeout: float = STARTUP_TIMEOUT_S):
        self.elf = Path(elf)
        self.target = load_target(target)
        self.qemu = qemu
        self.startup_timeout = startup_timeout
        self.pty: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: deque[str] = deque(maxlen=50)
        self._drain: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> str:
        """Start QEMU; returns the pty path of the firmware's UART."""
        if not self.elf.is_file():
            raise DeviceError(f"firmware {self.elf} does not exist — build it first (edgec build)")
        if shutil.which(self.qemu) is None:
            raise DeviceError(f"{self.qemu} is not installed — install QEMU (make system-deps) or pass --port")
        cmd = qemu_command(self.elf, self.target, self.qemu)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.pty = self._wait_for_pty()
        except BaseException:
            self.stop()
            raise
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()
        return self.pty

    def _wait_for_pty(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        stream = self._proc.stdout
        os.set_blocking(stream.fileno(), False)
        sel = selectors.DefaultSelector()
        sel.register(stream, selectors.EVENT_READ)
        pending = b""
        deadline = time.monotonic() + self.startup_timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeviceError(
                        f"QEMU ({self.target.qemu_machine}) did not open a serial pty within "
                        f"{self.startup_timeout:.0f} s — check that {self.qemu} works on this machine"
                    )
                if not sel.select(timeout=min(left, 0.2)):
                    continue
                chunk = stream.read()
                if not chunk:  # EOF: QEMU exited
                    self._proc.wait(timeout=5)
                    last = self._last_output(pending)
                    raise DeviceError(
                        f"QEMU could not start machine {self.target.qemu_machine} ({last}) — "
                        "check the target's emulator settings and the firmware file"
                    )
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").strip()
                    self._output.append(line)
                    match = _PTY_LINE.search(line)
                    if match:
                        os.set_blocking(stream.fileno(), True)
                        return match.group(1)
        finally:
            sel.close()

    def _last_output(self, pending: bytes) -> str:
        tail = pending.decode("utf-8", "replace").strip()
        lines = [line for line in [*self._output, tail] if line]
        return lines[-1] if lines else f"exit status {self._proc.returncode if self._proc else '?'}"

    def _drain_output(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        try:
            for raw in proc.stdout:
                self._output.append(raw.decode("utf-8", "replace").rstrip())
        except (OSError, ValueError):
            pass

    def output(self) -> list[str]:
        """QEMU's recent console lines (for error messages)."""
        return list(self._output)

    def stop(self) -> None:
        """Stop QEMU (terminate, then kill) and reap it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        if self._drain is not None:
            self._drain.join(timeout=2)
        if proc.stdout is not None:
            proc.stdout.close()
        self._proc = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
