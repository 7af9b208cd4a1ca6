"""Run a Linux-class build on a real device through TVM RPC.

On the device: ``python -m tvm.exec.rpc_server --host 0.0.0.0 --port 9090``
(or an RPC tracker for a device farm, docs/tvm.md).  edgec uploads the
build's kernels as a shared library cross-compiled for the target, loads it
in the remote process, runs the kernels one by one on remote NDArrays (the
planned workspace, the input, the output) and times each with TVM's
``time_evaluator``.

``--rpc HOST:PORT`` names an RPC server; ``--rpc tracker:HOST:PORT:KEY`` asks a
tracker for a device registered under KEY.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from edgec.errors import DeviceError, EdgecError

CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class RpcAddress:
    host: str
    port: int
    tracker_key: str | None = None  # set: HOST:PORT is a tracker, ask it for a device with this key

    def __str__(self) -> str:
        return f"tracker {self.host}:{self.port} (key {self.tracker_key})" if self.tracker_key else f"{self.host}:{self.port}"


def parse_rpc_address(text: str) -> RpcAddress:
    """``HOST:PORT`` or ``tracker:HOST:PORT:KEY``."""
    usage = "--rpc takes HOST:PORT (a TVM RPC server) or tracker:HOST:PORT:KEY"
    parts = text.split(":")
    key = None
    if parts[0] == "tracker":
        if len(parts) != 4 or not parts[3]:
            raise EdgecError(f"{usage}, got {text!r}")
        key, parts = parts[3], parts[1:3]
    if len(parts) != 2 or not parts[0] or not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
        raise EdgecError(f"{usage}, got {text!r}")
    return RpcAddress(parts[0], int(parts[1]), key)


def check_reachable(address: RpcAddress, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Open and close a TCP connection first, so a dead address fails in seconds with one line."""
    what = "RPC tracker" if address.tracker_key else "TVM RPC server"
    hint = (
        "start `python -m tvm.exec.rpc_tracker` there"
        if address.tracker_key
        else "start `python -m tvm.exec.rpc_server --host 0.0.0.0 --port PORT` on the device"
    )
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise DeviceError(f"{address.host}:{address.port} refused the connection: no {what} listens there — {hint}") from None
    except TimeoutError:
        raise DeviceError(f"{address.host}:{address.port} did not answer within {timeout:g} s: check the address and the network — {hint}") from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise DeviceError(f"cannot reach {address.host}:{address.port} ({reason}): check the address and the network — {hint}") from None


def connect(address: RpcAddress, tvm):
    """An RPC session with the device (through the tracker when one is named); check_reachable first."""
    try:
        if address.tracker_key:
            tracker = tvm.rpc.connect_tracker(address.host, address.port)
            return tracker.request(address.tracker_key, priority=1, session_timeout=600, max_retry=1)
        return tvm.rpc.connect(address.host, address.port, session_timeout=600)
    except (RuntimeError, ValueError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise DeviceError(f"{address} is not a usable TVM RPC endpoint ({first[:200]})") from None


def run_over_rpc(build, inputs, rpc: str, repeat: int = 1, profile: bool = False):
    """Run ``inputs`` on the device behind ``rpc``; return a RunnerResult (outputs, per-kernel times)."""
    from edgec.deploy.execute import RunnerResult
    from edgec.deploy.sources import RPC_LIBRARY
    from edgec.deploy.tvm_env import require_tvm

    address = parse_rpc_address(rpc)
    check_reachable(address)  # seconds, before the slow parts
    library = build.path / RPC_LIBRARY
    if build.summary["deploy"].get("kernels") != "tvm" or not library.is_file():
        raise EdgecError(f"{build.path} has no TVM kernel library ({RPC_LIBRARY}) to upload: rebuild it with `edgec build`")
    tvm = require_tvm("--rpc")
    from edgec.codegen.tvm import lower_graph
    from edgec.codegen.tvm.execute import run_program, upload_constants
    from edgec.codegen.tvm.x86_dot import lowers_for_vnni
    from edgec.deploy.tvm_env import resolve_target_dict

    # the calls and constants of the build (lowering is deterministic, given the same VNNI choice)
    program = lower_graph(build.graph, vnni=lowers_for_vnni(resolve_target_dict(build.target.tvm_target)))
    if len(program.calls) != len(build.summary["ops"]):
        raise EdgecError(f"{build.path} does not match this edgec's TVM lowering: rebuild it with `edgec build`")
    session = connect(address, tvm)
    remote_name = f"edgec_{build.summary['model_hash'][:16]}.so"
    try:
        session.upload(str(library), remote_name)
        module = session.load_module(remote_name)
        device = session.cuda(0) if build.summary["target_kind"] == "jetson" else session.cpu(0)
        constants = upload_constants(program, device)
        outputs = [run_program(program, module, x, device, constants) for x in inputs]
        op_ns = kernel_times(program, module, device, constants, repeat) if profile else []
    except (RuntimeError, ValueError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise DeviceError(f"running on {address} over TVM RPC failed: {first[:200]}") from None
    median_us = sum(op_ns) / 1000.0
    return RunnerResult([o.astype("int8") for o in outputs], median_us, op_ns, emulated=False)


def kernel_times(program, module, device, constants, repeat: int) -> list[float]:
    """Median nanoseconds of every call of ``program`` on the device, from TVM's ``time_evaluator``.

    Each kernel runs on its own device tensors (the constants, zeroed
    activations of the right shapes); a byte copy between buffers is not a
    kernel and counts 0.
    """
    import tvm

    times = []
    for call in program.calls:
        if call.func is None:
            times.append(0.0)
            continue
        args = [
            constants[name] if name in constants else tvm.runtime.empty(shape, dtype, device)
            for name, shape, dtype in zip(call.args, call.arg_shapes, call.arg_dtypes)
        ]
        evaluator = module.time_evaluator(call.func, device, number=max(1, repeat), repeat=3, min_repeat_ms=1)
        times.append(float(evaluator(*args).median) * 1e9)
    return times
