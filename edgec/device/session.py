"""Run a built model on a device (or in QEMU) and collect outputs and counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edgec.device.client import DeviceClient, InvokeResult
from edgec.device.emulator import Emulator
from edgec.device.protocol import DeviceInfo
from edgec.device.transport import open_transport
from edgec.errors import DeviceError
from edgec.firmware import FIRMWARE_JSON, load_firmware_info, read_model_hash
from edgec.targets import DEFAULT_TARGET, Target, load_target

# QEMU polls a pty for a reader about once a second, so the first reply after
# opening can be late: give the handshake more time than later requests.
HELLO_TIMEOUT_S = 2.5
# QEMU shares the host's CPUs with everything else running there (builds, other
# emulators): on a busy machine it can go a few seconds without running, so a
# request to an emulated board gets more time than one to a real board.
EMULATED_REQUEST_TIMEOUT_S = 5.0


def find_firmware(build_dir_or_elf: Path | str) -> Path:
    """The firmware ELF: the path itself, or firmware.elf inside a build folder."""
    path = Path(build_dir_or_elf)
    if path.is_file():
        return path
    if path.is_dir():
        direct = path / "firmware.elf"
        if direct.is_file():
            return direct
        found = sorted(path.rglob("firmware.elf"))
        if found:
            return found[0]
    raise DeviceError(f"no firmware found at {path} — build for an MCU target first (edgec build --target ...)")


def expected_model_hash(elf: Path) -> int | None:
    """The model hash recorded next to the ELF by build_firmware, or in model.h."""
    info = load_firmware_info(elf.parent)
    if info is not None and info.model_hash is not None:
        return info.model_hash
    for folder in (elf.parent, elf.parent.parent):
        found = read_model_hash(folder)
        if found is not None:
            return found
    return None


def _recorded_target(elf: Path) -> str | None:
    info = load_firmware_info(elf.parent) if (elf.parent / FIRMWARE_JSON).is_file() else None
    return info.target if info else None


def check_model_hash(info: DeviceInfo, expected: int | None) -> None:
    """DeviceError if the device runs firmware for another model."""
    if expected is not None and info.model_hash != expected:
        raise DeviceError(
            f"the device runs firmware for another model (hash 0x{info.model_hash:08x}, this build is "
            f"0x{expected:08x}) — re-flash the board with this build (edgec flash) or rebuild"
        )


@contextmanager
def open_device(
    build_dir_or_elf: Path | str,
    target: Target | str | None = None,
    port: str | None = None,
    expected_hash: int | None = None,
    timeout: float = 1.0,
) -> Iterator[DeviceClient]:
    """A DeviceClient after handshake and hash check; starts QEMU when no port is given."""
    elf = find_firmware(build_dir_or_elf) if port is None else None
    if expected_hash is None:
        try:
            expected_hash = expected_model_hash(find_firmware(build_dir_or_elf))
        except DeviceError:
            expected_hash = None
    tgt = load_target(target or (_recorded_target(elf) if elf else None) or DEFAULT_TARGET)
    emulator: Emulator | None = None
    if port is None:
        if not tgt.emulated:
            raise DeviceError(f"target {tgt.name} is a real board — pass --port (e.g. /dev/ttyACM0)")
        assert elf is not None
        emulator = Emulator(elf, tgt)
        port = emulator.start()
    try:
        transport = open_transport(port, tgt.baud)
        try:
            wait = timeout if emulator is None else max(timeout, EMULATED_REQUEST_TIMEOUT_S)
            client = DeviceClient(transport, timeout=wait)
            client.hello(timeout=max(HELLO_TIMEOUT_S, wait))
            check_model_hash(client.info(), expected_hash)
            yield client
        finally:
            transport.close()
    finally:
        if emulator is not None:
            emulator.stop()


def to_device_bytes(array: np.ndarray, info: DeviceInfo) -> bytes:
    """int8 bytes for the device; float input is quantized with the model's input parameters."""
    data = np.asarray(array)
    if data.dtype.kind == "f":
        q = np.round(data / info.input_scale) + info.input_zero_point
        data = np.clip(q, -128, 127).astype(np.int8)
    elif data.dtype != np.int8:
        raise DeviceError(f"input has dtype {data.dtype}, the model takes int8 (or float to quantize) — convert it")
    if data.size != info.input_size:
        raise DeviceError(
            f"input has {data.size} elements, the model takes {info.input_size} "
            f"(shape {list(info.input_shape)}) — check the input shape"
        )
    return data.tobytes()


def run_on_device(
    build_dir_or_elf: Path | str,
    inputs: list[np.ndarray],
    target: Target | str | None = None,
    port: str | None = None,
    expected_hash: int | None = None,
) -> tuple[list[np.ndarray], list[list[int]], DeviceInfo]:
    """Run each input on the device (QEMU when ``port`` is None).

    Returns the int8 outputs (shaped like the model output), the per-op
    counts of each run (in ``info.counter_unit``) and the device's INFO.
    """
    outputs, results, info = profile_on_device(build_dir_or_elf, inputs, target, port, expected_hash)
    return outputs, [list(r.per_op) for r in results], info


def profile_on_device(
    build_dir_or_elf: Path | str,
    inputs: list[np.ndarray],
    target: Target | str | None = None,
    port: str | None = None,
    expected_hash: int | None = None,
) -> tuple[list[np.ndarray], list[InvokeResult], DeviceInfo]:
    """Like run_on_device, but keeps the total counts too (InvokeResult per run)."""
    with open_device(build_dir_or_elf, target, port, expected_hash) as client:
        info = client.info()
        outputs: list[np.ndarray] = []
        results: list[InvokeResult] = []
        for array in inputs:
            raw, result = client.run(to_device_bytes(array, info))
            outputs.append(np.frombuffer(raw, dtype=np.int8).reshape(info.output_shape).copy())
            results.append(result)
        return outputs, results, info
