"""Hardware-in-the-loop tests: the stub model's firmware runs in QEMU and
the host talks to it over QEMU's pty, exactly as with a real board.

Each test starts and stops its own emulator (context managers, also on
failure) and every wait has a timeout.
"""

import os
import shutil
import struct
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgec.device.client import DeviceClient
from edgec.device.emulator import Emulator
from edgec.device.fake import FaultyTransport, stub_model
from edgec.device.protocol import Command
from edgec.device.session import HELLO_TIMEOUT_S, open_device, run_on_device
from edgec.device.transport import SerialTransport
from edgec.errors import DeviceError
from edgec.firmware import build_firmware
from edgec.targets import load_target

pytestmark = [
    pytest.mark.hil,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="needs qemu-system-arm and arm-none-eabi-gcc",
    ),
]

STUB = Path(__file__).parent / "fixtures" / "stub_model"
STUB_HASH = 0x5AB1E5ED


@pytest.fixture(scope="module")
def firmware_dirs(tmp_path_factory):
    """Build the stub firmware once per target, on first use."""
    built: dict[str, Path] = {}

    def get(target: str) -> Path:
        if target not in built:
            out = tmp_path_factory.mktemp(target)
            build_firmware(STUB, target, out)
            built[target] = out
        return built[target]

    return get


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    edge = np.array([127, -128, 126, -127] * 192, dtype=np.int8).reshape(1, 16, 16, 3)
    return [rng.integers(-128, 128, size=(1, 16, 16, 3)).astype(np.int8), edge]


@pytest.mark.parametrize("target", ["qemu-cortex-m4", "qemu-cortex-m55", "qemu-cortex-m3", "qemu-cortex-m7"])
def test_stub_model_runs_in_qemu(target, firmware_dirs):
    inputs = _inputs()
    outputs, per_op, info = run_on_device(firmware_dirs(target), inputs, target)
    assert info.model_hash == STUB_HASH
    assert info.counter_unit == "instructions"
    assert info.board == target
    assert info.input_shape == (1, 16, 16, 3) and info.output_shape == (1, 768)
    assert info.input_zero_point == -128 and info.output_scale == pytest.approx(0.00390625)
    for x, y in zip(inputs, outputs):
        assert y.shape == (1, 768) and y.dtype == np.int8
        assert y.tobytes() == stub_model(x.tobytes())
    for counts in per_op:
        assert len(counts) == 3
        assert all(c >= info.counter_resolution for c in counts)


def test_counts_scale_with_work(firmware_dirs):
    # op 1 (add_bias, indexed modulo) does more per element than op 2 (copy).
    _, per_op, _ = run_on_device(firmware_dirs("qemu-cortex-m4"), _inputs()[:1], "qemu-cortex-m4")
    assert per_op[0][1] > per_op[0][2]


def test_float_input_is_quantized(firmware_dirs):
    x = np.zeros((1, 16, 16, 3), dtype=np.float32)  # -> zero point -128
    outputs, _, _ = run_on_device(firmware_dirs("qemu-cortex-m4"), [x], "qemu-cortex-m4")
    expected = stub_model(np.full(768, -128, dtype=np.int8).tobytes())
    assert outputs[0].tobytes() == expected


def _client_over(emulator: Emulator, **faults) -> tuple[DeviceClient, FaultyTransport]:
    link = FaultyTransport(SerialTransport(emulator.pty), **faults)
    client = DeviceClient(link, timeout=0.5, retries=3)
    return client, link


def _check_exchange(client: DeviceClient) -> None:
    client.hello(timeout=HELLO_TIMEOUT_S)
    assert client.info().model_hash == STUB_HASH
    x = _inputs()[0].tobytes()
    out, result = client.run(x)
    assert out == stub_model(x)
    assert all(c > 0 for c in result.per_op)


@pytest.mark.parametrize(
    "faults",
    [
        {"flip_write": 1},  # INFO request arrives with a bad CRC
        {"flip_write": 3},  # second WRITE_INPUT chunk damaged
        {"flip_read": 1},  # a reply arrives damaged
        {"truncate_write": 2},  # first WRITE_INPUT cut short
        {"garbage_before_write": (1, b"\xff\xfe\x13\x37 noise \x42")},  # garbage before INFO
        {"garbage_before_write": (4, b"\x00\x00\x05\x01\x02\x03\x04\x00")},  # a bogus frame before INVOKE
        {"garbage_before_write": (1, b"\x01" * 1500)},  # more than the device's frame buffer
    ],
    ids=["bad-crc-request", "bad-crc-chunk", "bad-crc-reply", "truncated", "garbage", "bogus-frame", "overlong"],
)
def test_link_recovers_from_faults(faults, firmware_dirs):
    elf = firmware_dirs("qemu-cortex-m4") / "firmware.elf"
    with Emulator(elf, "qemu-cortex-m4") as emulator:
        client, link = _client_over(emulator, **faults)
        try:
            _check_exchange(client)
        finally:
            link.close()
        assert link.faults >= 1


def test_firmware_rejects_bad_requests_with_error_codes(firmware_dirs):
    elf = firmware_dirs("qemu-cortex-m4") / "firmware.elf"
    with Emulator(elf, "qemu-cortex-m4") as emulator:
        transport = SerialTransport(emulator.pty)
        try:
            client = DeviceClient(transport, timeout=0.5, retries=1)
            client.hello(timeout=HELLO_TIMEOUT_S)
            with pytest.raises(DeviceError, match="UNKNOWN_COMMAND"):
                client.request(0x42)
            with pytest.raises(DeviceError, match="BAD_OFFSET"):
                client.request(Command.WRITE_INPUT, struct.pack("<I", 700) + bytes(100))
            with pytest.raises(DeviceError, match="BAD_OFFSET"):
                client.request(Command.READ_OUTPUT, struct.pack("<IH", 760, 9))
            with pytest.raises(DeviceError, match="BAD_LENGTH"):
                client.request(Command.INVOKE, b"\x01")
            assert client.info(refresh=True).model_hash == STUB_HASH  # still serving
        finally:
            transport.close()


def test_device_that_stops_answering_times_out(firmware_dirs):
    elf = firmware_dirs("qemu-cortex-m4") / "firmware.elf"
    with Emulator(elf, "qemu-cortex-m4") as emulator:
        client, link = _client_over(emulator, drop_writes_from=2)
        client.timeout = 0.2
        client.retries = 2
        try:
            client.hello(timeout=HELLO_TIMEOUT_S)
            client.info()
            start = time.monotonic()
            with pytest.raises(DeviceError, match="no valid reply to INVOKE after 3 tries"):
                client.invoke_timeout = 0.2
                client.invoke()
            assert time.monotonic() - start < 3.0
        finally:
            link.close()


def test_emulator_killed_mid_session_is_a_device_error(firmware_dirs):
    elf = firmware_dirs("qemu-cortex-m4") / "firmware.elf"
    with Emulator(elf, "qemu-cortex-m4") as emulator:
        transport = SerialTransport(emulator.pty)
        try:
            client = DeviceClient(transport, timeout=0.3, retries=1)
            client.hello(timeout=HELLO_TIMEOUT_S)
            emulator.stop()
            start = time.monotonic()
            with pytest.raises(DeviceError):
                client.info(refresh=True)
            assert time.monotonic() - start < 3.0
        finally:
            transport.close()


def test_hash_mismatch_is_a_clear_error(firmware_dirs):
    with pytest.raises(DeviceError, match=r"another model \(hash 0x5ab1e5ed, this build is 0x12345678\).*re-flash"):
        run_on_device(firmware_dirs("qemu-cortex-m4"), _inputs(), "qemu-cortex-m4", expected_hash=0x12345678)


def test_open_device_stops_qemu_on_error(firmware_dirs):
    folder = firmware_dirs("qemu-cortex-m4")
    before = _qemu_pids(folder)
    with pytest.raises(DeviceError), open_device(folder, "qemu-cortex-m4", expected_hash=1):
        pass
    assert _qemu_pids(folder) <= before


def test_emulator_start_failures_are_clear(firmware_dirs, tmp_path):
    elf = firmware_dirs("qemu-cortex-m4") / "firmware.elf"
    with pytest.raises(DeviceError, match="not installed"):
        Emulator(elf, "qemu-cortex-m4", qemu="qemu-system-edgec-missing").start()
    bad = replace(load_target("qemu-cortex-m4"), qemu_machine="no-such-machine")
    with pytest.raises(DeviceError, match="could not start machine no-such-machine"):
        Emulator(elf, bad).start()
    with pytest.raises(DeviceError, match="does not exist"):
        Emulator(tmp_path / "missing.elf", "qemu-cortex-m4").start()
    with pytest.raises(DeviceError, match="real board"):
        run_on_device(elf, _inputs(), "stm32f746g-disco")


def _qemu_pids(folder: Path) -> set[int]:
    """QEMU processes running firmware from ``folder`` (other tests may run other emulators meanwhile)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"qemu-system-arm") and str(folder).encode() in cmd:
                pids.add(int(entry))
    return pids
