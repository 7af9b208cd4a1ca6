"""Run a Linux-class build's runner: here (``local``) or under QEMU user mode (``qemu-user``).

The runner takes all inputs in one file and writes all outputs to one file, so
several inputs cost one process start (and one emulator start under QEMU).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec.errors import DeviceError, EdgecError

QEMU_PACKAGE = {"qemu-aarch64": "qemu-user"}


@dataclass
class RunnerResult:
    outputs: list[np.ndarray]
    median_us: float
    op_ns: list[float] = field(default_factory=list)  # profile runner only: median ns per op
    emulated: bool = False  # True under QEMU: times mean nothing


def runner_command(build, profile: bool = False) -> list[str]:
    """The command that starts the build's runner on this machine (with the emulator prefix under QEMU)."""
    target = build.target
    if target.run_mode == "rpc-only":
        raise EdgecError(
            f"{build.path} is built for {target.name}, which edgec cannot run here: pass --rpc HOST:PORT "
            "of a TVM RPC server on the device (python -m tvm.exec.rpc_server)"
        )
    deploy = build.summary["deploy"]
    binary = build.path / (deploy["profile_binary"] if profile else build.summary["binary"])
    if not binary.is_file():
        raise EdgecError(f"{binary} is missing: rebuild with `edgec build`")
    prefix = list(target.run_command) if target.run_mode == "qemu-user" else []
    return [*prefix, str(binary.resolve())]


def run_runner(build, inputs: list[np.ndarray], repeat: int = 1, profile: bool = False) -> RunnerResult:
    """Run int8 ``inputs`` (IR layout) through the build's runner; return outputs and timings."""
    if not inputs:
        raise EdgecError("no inputs to run")
    cmd = runner_command(build, profile)
    out_spec = build.outputs[0]
    with tempfile.TemporaryDirectory(prefix="edgec-run-") as tmp:
        fin, fout = Path(tmp) / "inputs.bin", Path(tmp) / "outputs.bin"
        fin.write_bytes(b"".join(np.ascontiguousarray(x, dtype=np.int8).tobytes() for x in inputs))
        try:
            proc = subprocess.run([*cmd, str(fin), str(fout), str(repeat)], check=False, capture_output=True, text=True, timeout=900)
        except FileNotFoundError:
            package = QEMU_PACKAGE.get(cmd[0], cmd[0])
            raise DeviceError(f"{cmd[0]} not found: install {package} (scripts/install-system-deps.sh)") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(f"the runner of {build.path} did not finish within 900 s") from None
        if proc.returncode != 0:
            detail = " | ".join(proc.stderr.strip().splitlines()[-3:]) or f"exit {proc.returncode}"
            raise DeviceError(f"the runner of {build.path} failed (exit {proc.returncode}): {detail}")
        data = np.frombuffer(fout.read_bytes(), dtype=np.int8)
    size = int(np.prod(out_spec.shape))
    if data.size != size * len(inputs):
        raise DeviceError(f"the runner wrote {data.size} bytes, expected {size * len(inputs)}: rebuild with `edgec build`")
    outputs = [data[i * size : (i + 1) * size].reshape(out_spec.shape).copy() for i in range(len(inputs))]
    median_us, op_ns = 0.0, []
    for line in proc.stdout.splitlines():
        words = line.split()
        if words[:1] == ["median_us"]:
            median_us = float(words[1])
        elif words[:1] == ["op_ns"]:
            op_ns.append(float(words[2]))
    return RunnerResult(outputs, median_us, op_ns, emulated=build.target.emulated)
