"""CUDA code for the TVM back end's int8 kernels (NVIDIA Jetson Orin: ``sm_87``).

The kernels are the same integer TE/TIR functions as on the CPU (so the GPU
results are bit-exact by construction); for the GPU each is scheduled by
``bind_threads``: the stages the CPU path inlines are inlined, the others
(outputs, reductions, the ``keep_*`` stages of fixed-point chains such as
softmax) each become a grid of one thread per output element, the reduction
serial in the thread, blocks of up to 1024 threads.  (dlight's
``gpu.Fallback`` inlines every stage it can: on softmax's fixed-point chain
that grows the expression exponentially -- tens of GB of memory for one
kernel -- so it is not used.)  An
unscheduled TE kernel built for ``cuda`` silently yields host-only code, so
``schedule_gpu`` checks that every kernel got thread bindings and
``cuda_source`` that a device module came out.

``cuda_source`` runs TVM's CUDA code generation only (no CUDA toolkit
needed); ``compile_ptx`` turns the source into PTX with ``nvcc --ptx`` and
assembles it with ``ptxas -arch=<arch>`` (the check that the code is valid
for the device; the deploy folder ships the ``.cu`` and the ``.ptx``).
"""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

from edgec.errors import BuildError, EdgecError

JETSON_ARCH = "sm_87"  # Jetson Orin (Ampere GA10B)
THREAD_AXES = ("threadIdx.x", "threadIdx.y", "threadIdx.z")


def cuda_target(arch: str = JETSON_ARCH, host: dict | None = None):
    """The TVM CUDA target for ``arch`` with an LLVM host (aarch64 for Jetson, this machine otherwise)."""
    import tvm

    return tvm.target.Target({"kind": "cuda", "arch": arch}, host=host or {"kind": "llvm"})


def kernels_module(funcs: dict):
    """An ``IRModule`` of the kernels ``{symbol: PrimFunc}`` (e.g. ``TvmProgram.funcs``)."""
    import tvm

    return tvm.IRModule({name: f.with_attr("global_symbol", name) for name, f in funcs.items()})


def _has_threads(func) -> bool:
    text = func.script()
    return any(axis in text for axis in THREAD_AXES)


def schedule_gpu(mod, target):
    """Every kernel of ``mod`` scheduled for the GPU; ``BuildError`` naming any kernel left without threads."""
    import tvm
    from tvm import s_tir

    funcs = {}
    with target:
        for gv, func in mod.functions.items():
            sch = s_tir.Schedule(func)
            bind_threads(sch, target, gv.name_hint)
            funcs[gv] = sch.mod["main"]
    scheduled = tvm.IRModule(funcs)
    unscheduled = sorted(gv.name_hint for gv, f in scheduled.functions.items() if not _has_threads(f))
    if unscheduled:
        raise BuildError(f"no GPU schedule for kernel(s) {', '.join(unscheduled)}: they would run on the host only")
    return scheduled


def bind_threads(sch, target, name: str = "kernel") -> None:
    """Schedule one kernel for the GPU in place: inline as the CPU path does, then one thread per output element.

    Each remaining stage's spatial loops are fused and split over ``blockIdx.x`` x
    ``threadIdx.x`` (the target's largest block); its reduction loops stay serial
    inside the thread.  Stages a schedule already bound are left alone.
    """
    from tvm.s_tir.dlight import normalize_prim_func
    from tvm.s_tir.dlight.base.utils import max_threads_per_block

    from edgec.codegen.tvm.schedules import inline_all

    inline_all(sch)
    stages = normalize_prim_func(sch)
    if stages is None:
        raise BuildError(f"no GPU schedule for {name}: its loops are not in a form TVM can map to threads")
    threads = max_threads_per_block(target)
    reductions = []
    for stage in stages:
        block = stage.block_rv
        loops = sch.get_loops(block)
        if any(sch.get(loop).thread_binding is not None for loop in loops):
            continue
        kinds = stage.dom_kind()
        spatial = [loop for loop, kind in zip(loops, kinds) if kind == "S"]
        others = [loop for loop, kind in zip(loops, kinds) if kind != "S"]
        if not spatial:
            spatial = [sch.add_unit_loop(block)]
        sch.reorder(*spatial, *others)
        grid, lanes = sch.split(sch.fuse(*spatial), factors=[None, threads])
        sch.bind(grid, "blockIdx.x")
        sch.bind(lanes, "threadIdx.x")
        first_reduction = next((loop for loop, kind in zip(loops, kinds) if kind == "R"), None)
        if first_reduction is not None:
            reductions.append((block, first_reduction))
    for block, loop in reductions:
        sch.decompose_reduction(block, loop)


@contextmanager
def _codegen_only():
    """Make TVM's CUDA build keep the source instead of compiling it with nvrtc/nvcc (restored on exit)."""
    import tvm_ffi

    previous = tvm_ffi.get_global_func("tvm_callback_cuda_compile", allow_missing=True)

    def keep_source(code, *args):
        return code.encode() if isinstance(code, str) else code

    tvm_ffi.register_global_func("tvm_callback_cuda_compile", keep_source, override=True)
    try:
        yield
    finally:
        if previous is not None:
            tvm_ffi.register_global_func("tvm_callback_cuda_compile", previous, override=True)


def cuda_source(mod, target) -> str:
    """The CUDA C++ source of every kernel of the GPU-scheduled ``mod`` (``BuildError`` without device code)."""
    import tvm

    try:
        with _codegen_only():
            executable = tvm.compile(mod, target=target)
    except Exception as e:
        raise BuildError(f"TVM could not generate CUDA code: {str(e).strip().splitlines()[-1]}") from e
    device = [m for m in executable.mod.imports if m.kind == "cuda"]
    if not device:
        raise BuildError("TVM produced no CUDA device module (the kernels would run on the host only)")
    return device[0].inspect_source()


def cuda_tools() -> dict[str, str] | None:
    """Paths of ``nvcc`` and ``ptxas``, or ``None`` when either is missing."""
    tools = {name: shutil.which(name) for name in ("nvcc", "ptxas")}
    return tools if all(tools.values()) else None  # type: ignore[return-value]


def compile_ptx(source: str, out_dir: Path, arch: str = JETSON_ARCH, stem: str = "kernels") -> dict[str, Path]:
    """Write ``<stem>.cu``, compile it to ``<stem>.ptx`` (nvcc) and assemble that for ``arch`` (ptxas).

    Returns the paths (``cu``, ``ptx``, ``cubin``); ``EdgecError`` when the CUDA
    tools are missing or reject the code (their first error line).
    """
    tools = cuda_tools()
    if tools is None:
        raise EdgecError("nvcc/ptxas not found: install the CUDA toolkit (or put it on PATH) to compile CUDA code")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"cu": out_dir / f"{stem}.cu", "ptx": out_dir / f"{stem}.ptx", "cubin": out_dir / f"{stem}.{arch}.cubin"}
    paths["cu"].write_text(source)
    steps = [
        [tools["nvcc"], "--ptx", f"-arch={arch}", "-o", str(paths["ptx"]), str(paths["cu"])],
        [tools["ptxas"], f"-arch={arch}", "-o", str(paths["cubin"]), str(paths["ptx"])],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["(no message)"]
            errors = [ln for ln in lines if "error" in ln.lower()] or lines
            raise EdgecError(f"{Path(cmd[0]).name} rejected the CUDA code for {arch}: {errors[0]}")
    return paths


def write_cuda(funcs: dict, out_dir: Path, arch: str = JETSON_ARCH, host: dict | None = None) -> dict[str, Path]:
    """Schedule ``funcs`` for the GPU, write their CUDA source, and (where the tools exist) PTX and cubin."""
    target = cuda_target(arch, host)
    source = cuda_source(schedule_gpu(kernels_module(funcs), target), target)
    if cuda_tools() is None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "kernels.cu"
        path.write_text(source)
        return {"cu": path}
    return compile_ptx(source, out_dir, arch)


def gpu_schedule(sch, call=None, target=None) -> None:
    """The build hook form (``fn(sch, call, target)``) of ``bind_threads``."""
    bind_threads(sch, target, getattr(call, "func", "kernel"))
