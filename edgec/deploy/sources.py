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
