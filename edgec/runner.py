"""`edgec run`: run a build (host binary, emulator, board) or a model's numpy reference."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgec.compiler import Build, load_build
from edgec.errors import DeviceError, EdgecError
from edgec.progress import QUIET, Progress
from edgec.tensor_io import from_model_output, io_specs, load_array, to_model_input


def run_host_binary(build: Build, x: np.ndarray, repeat: int = 1) -> tuple[np.ndarray, float | None]:
    """Run the host executable of ``build`` on int8 ``x``; return (int8 output, median µs if repeat > 1)."""
    outputs, median = run_host_inputs(build, [x], repeat)
    return outputs[0], median


def run_host_inputs(build: Build, inputs: list[np.ndarray], repeat: int = 1) -> tuple[list[np.ndarray], float | None]:
    """Run the host executable of ``build`` on every int8 input in one process.

    Returns the int8 outputs in input order and the median µs per inference if repeat > 1.
    """
    if not inputs:
        raise EdgecError("no inputs to run")
    out_spec = build.outputs[0]
    with tempfile.TemporaryDirectory(prefix="edgec-run-") as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        fin.write_bytes(b"".join(np.ascontiguousarray(x, dtype=np.int8).tobytes() for x in inputs))
        try:
            proc = subprocess.run([str(build.binary), str(fin), str(fout), str(repeat)], check=False, capture_output=True, text=True, timeout=600)
        except FileNotFoundError:
            raise EdgecError(f"{build.binary} is missing: rebuild with `edgec build`") from None
        if proc.returncode != 0:
            raise EdgecError(f"the host build failed to run (exit {proc.returncode}): {proc.stderr.strip()}")
        data = np.frombuffer(fout.read_bytes(), dtype=np.int8)
    size = int(np.prod(out_spec.shape))
    if data.size != size * len(inputs):
        raise EdgecError(f"the host build wrote {data.size} bytes, expected {size * len(inputs)}: rebuild with `edgec build`")
    outputs = [data[i * size : (i + 1) * size].reshape(out_spec.shape).copy() for i in range(len(inputs))]
    median = None
    for line in proc.stdout.splitlines():
        if line.startswith("median_us"):
            median = float(line.split()[1])
    return outputs, median


def run_build(build: Build, x: np.ndarray, port: str | None = None, progress: Progress = QUIET, rpc: str | None = None) -> np.ndarray:
    """Run a compiled model on one int8 input (IR layout); return the int8 output."""
    return run_inputs(build, [x], port, rpc)[0]


def run_inputs(build: Build, inputs: list[np.ndarray], port: str | None = None, rpc: str | None = None, track=iter) -> list[np.ndarray]:
    """Run every int8 input through the build in one process or one device session; int8 outputs in order.

    ``track`` wraps the per-input loop of a device session (e.g. to report progress).
    """
    target, kind = build.summary["target"], build.summary["target_kind"]
    if "deploy" in build.summary:  # Linux-class target (TVM back end)
        if port:
            raise EdgecError(f"--port applies to MCU builds; this build is for {target}: use --rpc HOST:PORT")
        return run_linux_build(build, inputs, rpc=rpc).outputs
    if rpc:
        raise EdgecError(f"--rpc applies to Linux-class builds (TVM back end); this build is for {target}")
    if kind == "npu":
        raise EdgecError(
            f"{target} builds are compiled, not linked: no Ethos-U emulator or driver here "
            "(docs/ethosu.md); run the model with --reference, or build it for qemu-cortex-m55"
        )
    if kind == "host":
        if port:
            raise EdgecError("--port applies to MCU builds; this build is for the host")
        return run_host_inputs(build, inputs)[0]
    from edgec.device.session import open_device, to_device_bytes

    outputs = []
    with open_device(build.binary, build.target, port, build.hash32) as client:
        info = client.info()
        for x in track(inputs):
            raw, _result = client.run(to_device_bytes(x, info))
            outputs.append(np.frombuffer(raw, dtype=np.int8).reshape(build.outputs[0].shape).copy())
    return outputs


def run_linux_build(build: Build, inputs: list[np.ndarray], rpc: str | None = None, repeat: int = 1, profile: bool = False):
    """Run a Linux-class build here, under QEMU user mode, or on a device over TVM RPC."""
    if rpc:
        from edgec.deploy.rpc import run_over_rpc

        return run_over_rpc(build, inputs, rpc, repeat=repeat, profile=profile)
    from edgec.deploy.execute import run_runner

    return run_runner(build, inputs, repeat=repeat, profile=profile)


def where_it_runs(build: Build, port: str | None = None, rpc: str | None = None) -> str:
    """Where `run`/`profile` run a build, in words for the progress line."""
    if rpc:
        return f"{rpc} (TVM RPC)"
    if "deploy" in build.summary:
        target = build.target
        return f"{target.run_command[0]} user mode" if target.run_mode == "qemu-user" else "this machine"
    if build.summary["target_kind"] == "host":
        return "host"
    return port or f"QEMU {build.target.qemu_machine}"


def run_command(
    path: Path,
    input_path: Path,
    output_path: Path | None,
    reference: bool = False,
    calib: Path | None = None,
    port: str | None = None,
    progress: Progress = QUIET,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    rpc: str | None = None,
) -> dict:
    x_user = load_array(input_path)
    if Path(path).is_dir():
        if reference:
            raise EdgecError("--reference runs a model file; for a build folder drop --reference")
        if input_shapes:
            raise EdgecError("--input-shape applies to model files; a build folder's shapes were fixed by `edgec build`")
        build = load_build(path)
        in_spec, out_spec = build.inputs[0], build.outputs[0]
        x = to_model_input(x_user, in_spec)
        with progress.step(f"running on {where_it_runs(build, port, rpc)}"):
            y = run_build(build, x, port, progress, rpc=rpc)
        result = from_model_output(y, out_spec)
        source = f"{build.summary['model']} on {build.summary['target']}"
    else:
        if not reference:
            raise EdgecError(f"{path} is a model file: pass --reference to run the numpy reference, or `edgec build` it first")
        if port or rpc:
            raise DeviceError(f"{'--port' if port else '--rpc'} needs a build folder: `edgec build` the model for the device first")
        result, source = _run_reference(Path(path), x_user, calib, progress, input_shapes)
    if output_path is not None:
        np.save(output_path, result)
    return {
        "source": source,
        "output_shape": list(result.shape),
        "output_dtype": str(result.dtype),
        "output_path": str(output_path) if output_path else None,
        "output": result.reshape(-1).tolist() if result.size <= 64 else None,
        "text": _describe_output(source, result, output_path),
    }


def _run_reference(
    path: Path, x_user: np.ndarray, calib: Path | None, progress: Progress, input_shapes: dict | None = None
) -> tuple[np.ndarray, str]:
    from edgec.lowering import lower_model
    from edgec.reference import run

    lowered = lower_model(path, calib=calib, progress=progress, quantize=calib is not None, input_shapes=input_shapes)
    graph = lowered.graph
    in_spec = io_specs(graph, graph.inputs)[0]
    out_spec = io_specs(graph, graph.outputs)[0]
    x = to_model_input(x_user, in_spec)
    with progress.step("running the numpy reference"):
        y = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    kind = "int8" if not graph.is_float() else "float"
    return from_model_output(y, out_spec), f"{path.name} ({kind} reference)"


def _describe_output(source: str, y: np.ndarray, output_path: Path | None) -> str:
    lines = [f"{source}: output {y.dtype}{list(y.shape)}"]
    flat = y.reshape(-1)
    if flat.size <= 16:
        lines.append("  values: " + " ".join(f"{v:.4g}" if np.issubdtype(flat.dtype, np.floating) else str(v) for v in flat))
    if y.ndim == 2 and y.shape[0] == 1 and y.shape[1] > 1:
        top = np.argsort(-flat.astype(np.float64), kind="stable")[:5]
        lines.append("  top-5: " + ", ".join(f"class {int(i)} ({flat[i]:.4g})" for i in top))
    if output_path is not None:
        lines.append(f"  written to {output_path}")
    return "\n".join(lines)
