"""MetaSchedule tuning of a TVM build's kernels (``edgec tune BUILD --trials N``), and reuse of the records.

``tune_program`` searches schedules for every kernel of a ``TvmProgram`` with
TVM's MetaSchedule (evolutionary search, XGBoost cost model, candidates built
and timed on this machine) and keeps the results in a JSON database in the
build folder: ``tuning/database_workload.json`` (the kernels, by structure)
and ``tuning/database_tuning_record.json`` (the best schedules' traces and
their measured times).  Only kernels whose PrimFunc is structurally the same
match a record, so records stay valid across rebuilds of the same model for
the same target and never apply to another kernel.

``tuned_schedules(records_dir, schedules)`` is a schedule table for
``build.compile_program``: a kernel with a record replays its trace; any other
kernel gets its schedule from ``schedules`` (normally ``FAST_SCHEDULES``).
Tuned schedules only reorder the same integer arithmetic: results stay
bit-exact.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
import types
from contextlib import contextmanager
from pathlib import Path

from edgec.errors import EdgecError

TUNING_DIR = "tuning"
MAX_TRIALS = 100_000
BUILD_TIMEOUT_S = 600  # per candidate; MetaSchedule's 30 s default fails every candidate on a loaded machine
RUN_TIMEOUT_S = 120


def check_trials(trials: int) -> int:
    if not isinstance(trials, int) or trials < 1 or trials > MAX_TRIALS:
        raise EdgecError(f"--trials must be a whole number from 1 to {MAX_TRIALS}, got {trials}")
    return trials


def _kernel_module(func):
    import tvm

    return tvm.IRModule({"main": func})


def tune_program(program, target, work_dir: Path, trials: int, progress=None) -> dict:
    """Tune every kernel of ``program`` for ``target`` (a ``tvm.target.Target``) with ``trials`` candidates in all.

    ``progress(message)`` is called before each kernel and at the end.  Returns a
    summary: kernels, trials, records directory, per-kernel best time (µs) where measured.
    """
    from tvm.s_tir import meta_schedule as ms

    check_trials(trials)
    work_dir.mkdir(parents=True, exist_ok=True)
    kernels = [(c.func, program.funcs[c.func]) for c in program.calls if c.func]
    per_kernel = max(1, trials // max(1, len(kernels)))
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    from edgec.codegen.tvm import requant_x86

    # the builder process must know edgec's TIR op before it loads a candidate that uses it
    builder = ms.builder.LocalBuilder(max_workers=1, timeout_sec=BUILD_TIMEOUT_S, f_build=build_candidate, initializer=requant_x86.register)
    runner = ms.runner.LocalRunner(timeout_sec=RUN_TIMEOUT_S)
    results = []
    start = time.monotonic()
    with x86_tensor_intrinsics_only():
        for index, (name, func) in enumerate(kernels, 1):
            if progress:
                progress(f"tuning {index}/{len(kernels)} {name} ({per_kernel} trials)")
            ms.tune_tir(
                _kernel_module(func),
                target,
                str(work_dir / "logs"),
                max_trials_global=per_kernel,
                num_trials_per_iter=min(per_kernel, 16),
                builder=builder,
                runner=runner,
                cost_model=cost_model(),
                database=database,
                strategy=search_strategy(ms, per_kernel),
                num_tuning_cores=1,
                seed=0,
            )
            record = _best_record(database, func, target)
            best_us = None
            if record is not None and record.run_secs:
                best_us = 1e6 * min(float(s) for s in record.run_secs)
            results.append({"kernel": name, "best_us": best_us, "tuned": record is not None})
    summary = {
        "kernels": len(kernels),
        "tuned": sum(1 for r in results if r["tuned"]),
        "trials": trials,
        "trials_per_kernel": per_kernel,
        "records": str(work_dir),
        "seconds": round(time.monotonic() - start, 1),
        "results": results,
    }
    (work_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if progress:
        progress(f"tuned {summary['tuned']}/{len(kernels)} kernels in {summary['seconds']} s; records in {work_dir}")
    return summary


INTRINSICS_PACKAGE = "tvm.s_tir.tensor_intrin"


@contextmanager
def x86_tensor_intrinsics_only():
    """While tuning, ``tvm.s_tir.tensor_intrin`` holds the x86 tensor intrinsics only.

    MetaSchedule's ``TuneContext`` imports that package for the intrinsics its
    schedule rules may tensorize with.  The package parses every target's
    TVMScript intrinsics on import, CUDA's hundreds included: about 40 s of CPU,
    most of a small tune.  Candidates are measured on this (x86-64) machine
    (``tune_build`` refuses other CPUs), so only the x86 ones (VNNI, AVX-512)
    can apply.  Where the package is already imported nothing changes; after
    tuning the partial package is dropped again, so a later import in this
    process loads the whole of it.
    """
    if INTRINSICS_PACKAGE in sys.modules:
        yield
        return
    spec = importlib.util.find_spec(INTRINSICS_PACKAGE)
    package = types.ModuleType(INTRINSICS_PACKAGE)
    package.__spec__, package.__package__ = spec, INTRINSICS_PACKAGE
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules[INTRINSICS_PACKAGE] = package
    try:
        importlib.import_module(INTRINSICS_PACKAGE + ".x86")
        yield
    finally:
        if sys.modules.get(INTRINSICS_PACKAGE) is package:
            del sys.modules[INTRINSICS_PACKAGE]


def build_candidate(mod, target, _params=None):
    """Build one scheduled candidate in MetaSchedule's builder process (its ``f_build``).

    MetaSchedule's default build function does the same after importing
    ``tvm.s_tir.tensor_intrin``, which parses a few hundred TVMScript tensor
    intrinsics (most of a minute on a busy 2-core machine) in every builder
    process.  A candidate arrives already scheduled and tensorized, so building
    it needs none of them.
    """
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm_build(mod, target=target)


def search_strategy(ms, trials: int):
    """MetaSchedule's evolutionary search, its population scaled to the trial count.

    The default population (2,048 candidates, each mutated and scored per
    round) costs the same half minute of CPU whether 2 or 2,000 trials are
    measured; 32 candidates per measured trial keep the search's choice as wide
    for large budgets and make small tunes quick.
    """
    return ms.search_strategy.EvolutionarySearch(population_size=max(64, min(2048, 32 * trials)))


def cost_model() -> str:
    """XGBoost's cost model where xgboost is installed, else random ranking (the search still measures every candidate)."""
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return "random"
    return "xgb"


def _best_record(database, func, target):
    return database.query_tuning_record(_kernel_module(func), target, "main")


def open_records(records_dir: Path):
    """The JSON database in ``records_dir``; ``EdgecError`` when it is not one."""
    from tvm.s_tir import meta_schedule as ms

    records_dir = Path(records_dir)
    workloads = records_dir / "database_workload.json"
    if not workloads.is_file():
        raise EdgecError(f"{records_dir} holds no tuning records (no {workloads.name}): run `edgec tune BUILD` first")
    return ms.database.JSONDatabase(work_dir=str(records_dir), allow_missing=False)


def tuned_schedules(records_dir: Path, schedules: dict | None = None) -> dict:
    """A schedule table: kernels with a record replay it, the others use ``schedules`` (default FAST_SCHEDULES)."""
    from edgec.codegen.tvm import schedules as base

    if schedules is None:
        from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

        schedules = FAST_SCHEDULES
    database = open_records(records_dir)

    def schedule(sch, call, target=None):
        record = database.query_tuning_record(sch.mod, target, "main") if target is not None else None
        if record is not None:
            record.trace.apply_to_schedule(sch, remove_postproc=False)
            return None
        return base.schedule_for(call, schedules)(sch, call, target)

    return {"*": schedule, **{kind: schedule for kind in schedules if kind != "*"}}


def resolve_cpu(spec: dict) -> dict:
    """A target dict with ``mcpu = "native"`` replaced by the CPU LLVM detects here (host too)."""
    spec = dict(spec)
    if spec.get("mcpu") == "native":
        from tvm.target import codegen

        spec["mcpu"] = str(codegen.llvm_get_system_cpu())
    if isinstance(spec.get("host"), dict):
        spec["host"] = resolve_cpu(spec["host"])
    return spec


def tune_build(path: Path, trials: int, progress=None) -> dict:
    """``edgec tune BUILD --trials N``: tune the TVM kernels of a Linux/Jetson build; records in ``BUILD/tuning/``.

    Kernels for a CUDA target are tuned for its CPU host here: MetaSchedule
    measures candidates on this machine, and there is no GPU here.
    """
    from edgec.compiler import load_build

    check_trials(trials)
    build = load_build(Path(path))
    target = build.target
    spec = getattr(target, "tvm_target", None)
    if not spec:
        raise EdgecError(
            f"{path} is a build for {target.name} ({target.kind}), not a TVM build: "
            "`edgec tune` tunes builds for TVM targets (host-tvm, qemu-aarch64, jetson-..., see `edgec targets`)"
        )
    try:
        import tvm
    except ImportError:
        raise EdgecError("`edgec tune` needs TVM: pip install 'edgec[tvm]'") from None
    from edgec.codegen.tvm.lower import lower_graph

    spec = resolve_cpu(dict(spec))
    if spec.get("kind") == "cuda":
        spec = spec.get("host") or {"kind": "llvm"}
    if str(spec.get("mtriple", "x86_64")).split("-")[0] not in ("x86_64", ""):
        raise EdgecError(
            f"{target.name} runs {spec.get('mtriple')} code: MetaSchedule measures candidates on this machine, "
            "so tune for a device over RPC is not supported yet; tune a host-tvm build instead"
        )
    spec.setdefault("num-cores", 1)
    from edgec.codegen.tvm.x86_dot import lowers_for_vnni

    program = lower_graph(build.graph, vnni=lowers_for_vnni(spec))  # the kernels the build compiled
    summary = tune_program(program, tvm.target.Target(spec), Path(path) / TUNING_DIR, trials, progress)
    summary["build"] = str(path)
    summary["target"] = target.name
    return summary
