"""`edgec flash`: write an MCU build's firmware to a real board with pyocd.

pyocd is optional (it is not needed for the emulated boards); when it is not
installed the command says how to get it.  Flashing was not exercised on
hardware in this repository's CI (no board is attached there).
"""

from __future__ import annotations

import shutil
import subprocess

from edgec.compiler import Build
from edgec.errors import DeviceError, EdgecError

PYOCD_TARGETS = {"stm32f746g-disco": "stm32f746xg", "nrf52840-dk": "nrf52840"}


def flash_build(build: Build, probe: str | None = None) -> str:
    target = build.summary["target"]
    if "deploy" in build.summary:
        raise EdgecError(f"{build.path} is a {target} build (Linux): nothing to flash — copy {build.path}/deploy to the device or use `edgec run --rpc`")
    if build.summary["target_kind"] != "mcu":
        raise EdgecError(f"{build.path} is a {target} build: only MCU builds can be flashed")
    if build.target.emulated:
        raise EdgecError(f"{target} is emulated: nothing to flash, run it with `edgec run {build.path} --input X.npy`")
    pyocd_target = PYOCD_TARGETS.get(target)
    if pyocd_target is None:
        raise EdgecError(f"no pyocd target is known for {target}: flash {build.binary} with your vendor tool")
    pyocd = shutil.which("pyocd")
    if pyocd is None:
        raise DeviceError("pyocd is not installed: `pip install pyocd`, connect the board's debug probe, then rerun `edgec flash`")
    cmd = [pyocd, "flash", "--target", pyocd_target, str(build.binary)]
    if probe:
        cmd[2:2] = ["--uid", probe]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DeviceError(f"pyocd could not flash {target}: {last[0]} — check the probe connection and --port")
    return f"flashed {build.binary} to {target}"
