"""Build a Linux-class target: the ``deploy/`` folder and the runner in ``bin/``.

edgec compiles the runner itself, with the target's C compiler (the system cc
or ``aarch64-linux-gnu-gcc``), in one compiler call per variant:
``bin/edgec_model`` (plain) and ``bin/edgec_model_profile`` (``-DEDGEC_PROFILE``:
per-op times for ``edgec profile``).  The CMake project in ``deploy/`` builds
the same sources for users.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgec.codegen.tvm.tuning import TUNING_DIR  # imports no TVM
from edgec.deploy.project import OP_HOOKS, RUNNER, write_project
from edgec.deploy.sources import DeploySources
from edgec.errors import BuildError, EdgecError
from edgec.ir import Graph
from edgec.progress import QUIET, Progress

DEPLOY_DIR = "deploy"
RUNNER_BINARY = "edgec_model"
PROFILE_BINARY = "edgec_model_profile"

CROSS_PACKAGES = {"aarch64": "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"}


@dataclass
class LinuxBuild:
    sources: DeploySources
    binary: Path  # relative to the build folder
    profile_binary: Path


def plan_linux(graph: Graph, target, options):
    """The memory plan of a Linux-class build: layer by layer, one workspace (the TVM back end's plan)."""
    from edgec.schedule.planning import layer_model_plan

    mcu_only = {
        "--schedule patch/auto": options.schedule not in (None, "layer"),
        "--split": options.split is not None,
        "--patches": options.patches is not None,
        "--sram-budget": options.sram_budget_kb is not None,
    }
    given = [flag for flag, used in mcu_only.items() if used]
    if given:
        raise EdgecError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to MCU targets; {target.name} runs layer by layer: drop {'it' if len(given) == 1 else 'them'}")
    from edgec.codegen.tvm import plan_for_tvm

    return layer_model_plan(plan_for_tvm(graph))


def build_linux(staging: Path, graph: Graph, plan, target, model_hash: str, progress: Progress = QUIET) -> LinuxBuild:
    """Generate ``staging/deploy`` for ``target`` and compile its runner into ``staging/bin``.

    Kernels get ``FAST_SCHEDULES``; where ``staging/tuning`` holds `edgec tune` records (carried
    over from the build folder being replaced), kernels with a record replay the tuned schedule.
    """
    folder = staging / DEPLOY_DIR
    folder.mkdir(parents=True)
    records = staging / TUNING_DIR
    what = " (replaying tuning records)" if records.is_dir() else ""
    with progress.step(f"generating kernels for {target.name}{what}"):
        sources = generate_sources(graph, plan, target, folder, model_hash, records if records.is_dir() else None)
    write_project(sources, target)
    bin_dir = staging / "bin"
    bin_dir.mkdir(exist_ok=True)
    with progress.step(f"compiling the runner with {target.cc}"):
        compile_runner(sources, target, bin_dir / RUNNER_BINARY, profile=False)
        compile_runner(sources, target, bin_dir / PROFILE_BINARY, profile=True)
    return LinuxBuild(sources, Path("bin") / RUNNER_BINARY, Path("bin") / PROFILE_BINARY)


def generate_sources(graph: Graph, plan, target, folder: Path, model_hash: str, records: Path | None = None) -> DeploySources:
    from edgec.deploy.sources import tvm_sources

    if records is not None:
        from edgec.codegen.tvm.tuning import tuned_schedules

        schedules = tuned_schedules(records)
    else:
        from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

        schedules = FAST_SCHEDULES
    return tvm_sources(graph, plan, target, folder, model_hash, schedules)


def compile_runner(src: DeploySources, target, exe: Path, profile: bool) -> None:
    """Compile and link the runner and the model sources into ``exe`` with the target's compiler."""
    if shutil.which(target.cc) is None:
        packages = CROSS_PACKAGES.get(target.arch, "a C compiler")
        raise BuildError(f"{target.cc} (C compiler for {target.name}) not found: install {packages} (scripts/install-system-deps.sh)")
    cmd = [target.cc, *target.cflags, "-std=gnu99"]  # as CMake compiles it (C99 with POSIX extensions)
    cmd += [f"-I{src.folder / d}" for d in src.include_dirs]
    if profile:
        cmd.append("-DEDGEC_PROFILE")
        cmd += ["-include", str(src.folder / OP_HOOKS)]
    cmd += [str(src.folder / f) for f in [RUNNER, *src.c_files, *src.objects]]
    cmd += ["-o", str(exe), *target.ldflags, "-lm", "-lpthread"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-10:]
        raise BuildError(f"compiling the runner for {target.name} failed: " + " | ".join(tail))
