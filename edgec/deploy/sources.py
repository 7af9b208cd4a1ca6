"""The model's C sources for a ``deploy/`` folder.

The TVM back end (``edgec.codegen.tvm``) lowers the int8 graph to kernels
compiled by TVM's LLVM into one object file, plus a small C shim standing in
for the TVM runtime and a ``model.c``/``model.h`` driver with the MCU build's
API.  Whatever produced them, the folder is described by a ``DeploySources``:
what to compile, what to link, which ops the runner's profile hooks count.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import BuildError
from edgec.ir import Graph


@dataclass
class DeploySources:
    folder: Path
    backend: str  # what generated the kernels: "tvm" or "c"
    c_files: list[str] = field(default_factory=list)  # relative to folder
    objects: list[str] = field(default_factory=list)  # prebuilt objects (the TVM kernels)
    include_dirs: list[str] = field(default_factory=lambda: ["."])
    cuda_files: list[str] = field(default_factory=list)  # jetson: CUDA source / PTX for the device
    ops: list[dict] = field(default_factory=list)  # build.json "ops", one per EDGEC_PROFILE_OP hook


RPC_LIBRARY = "rpc/kernels.so"


def tvm_sources(graph: Graph, plan, target, folder: Path, model_hash: str, schedules: dict | None = None) -> DeploySources:
    """Lower ``graph`` with the TVM back end, compile its kernels for ``target``, write the deploy sources.

    Also exports the kernels as a shared library next to the folder
    (``../rpc/kernels.so``, cross-compiled with the target's C compiler): what
    ``--rpc`` uploads to the device.  For Jetson the deploy folder's kernels
    are the CPU ones (host LLVM target: the runner needs no CUDA runtime); the
    CUDA kernels go to ``cuda/kernels.cu`` and into the RPC library.
    """
    from edgec.codegen.tvm import compile_program, lower_graph, write_sources
    from edgec.deploy.tvm_env import require_tvm, resolve_target_dict

    tvm = require_tvm(f"target {target.name}")
    spec = resolve_target_dict(target.tvm_target)
    program = lower_graph(graph, plan)
    cpu_spec = spec.get("host", spec) if spec["kind"] == "cuda" else spec
    cpu_module = compile_program(program, cpu_spec, schedules)
    files = [Path(f) for f in write_sources(program, cpu_module, plan, folder, model_hash)]
    rpc_module = cpu_module
    cuda_files = []
    if spec["kind"] == "cuda":
        rpc_module = compile_program(program, spec, schedules)
        cuda_files = write_cuda_source(rpc_module, folder)
    library = folder.parent / RPC_LIBRARY
    library.parent.mkdir(parents=True, exist_ok=True)
    fcompile = tvm.support.cc.cross_compiler(target.cc) if target.arch != "x86_64" else None
    rpc_module.export_library(str(library), fcompile=fcompile)
    rel = [(f.relative_to(folder) if f.is_absolute() else f).as_posix() for f in files]
    return DeploySources(
        folder=folder,
        backend="tvm",
        c_files=[f for f in rel if f.endswith(".c")],
        objects=[f for f in rel if f.endswith(".o")],
        cuda_files=cuda_files,
        ops=program_ops(program),
    )


def write_cuda_source(module, folder: Path) -> list[str]:
    """The CUDA C of a module compiled for a cuda target, as ``cuda/kernels.cu``; BuildError when it has none."""
    sources = [m.inspect_source() for m in module.imports if m.kind == "cuda"]
    if not sources:
        raise BuildError("TVM produced no CUDA device code for the kernels (unscheduled for the GPU?): report this as an edgec bug")
    (folder / "cuda").mkdir(exist_ok=True)
    (folder / "cuda" / "kernels.cu").write_text("\n".join(sources))
    return ["cuda/kernels.cu"]


def program_ops(program) -> list[dict]:
    """build.json "ops": one entry per kernel call of ``model.c`` (a fused kernel names all its ops)."""
    ops = []
    for call in program.calls:
        out = program.graph.tensors[call.output]
        location, offset = program.location(call.output)
        ops.append(
            {
                "index": len(ops),
                "name": call.nodes[-1] if len(call.nodes) == 1 else " + ".join(call.nodes),
                "op": "+".join(call.ops),
                "kernel": call.func or "memcpy",
                "macs": call.macs,
                "output_shape": list(out.shape),
                "arena_offset": offset if location == "arena" else None,
            }
        )
    return ops


def c_backend_sources(graph: Graph, plan, target, folder: Path, model_hash: str) -> DeploySources:
    """edgec's own C kernels as the deploy sources (the stand-in while the TVM lowering is missing)."""
    from edgec.codegen.c import emit_project

    project = emit_project(graph, plan, folder, target, model_hash)
    shutil.rmtree(folder / "host", ignore_errors=True)  # the deploy folder has its own runner
    (folder / "CMakeLists.txt").unlink(missing_ok=True)
    kernels = sorted(f"kernels/{p.name}" for p in (folder / "kernels").glob("*.c"))
    return DeploySources(
        folder=folder,
        backend="c",
        c_files=["model.c", "weights.c", *kernels],
        include_dirs=[".", "kernels"],
        ops=project.ops,
    )
