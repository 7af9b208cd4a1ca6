"""`edgec build`: lower a model, schedule it, generate C, compile, write the build folder.

A build folder holds:

* ``build.json`` — the plan and summary (ops, MACs, arena offsets, sizes), what
  `inspect`, `run` and `profile` read;
* ``graph.json``/``graph.npz`` — the final int8 graph, for reference checks;
* ``graph_mixed.json``/``graph_mixed.npz`` — mixed builds only: the patch
  stage's mixed variant (``edgec/mixed/plan.py``), for ``run_mixed`` checks;
* ``src/`` — the generated, self-contained C project (MCU and host targets);
* ``deploy/`` — for Linux-class targets (TVM back end): the self-contained
  CMake project with the kernels, ``model.c``/``model.h`` and the runner;
* ``bin/`` — the host executable, the firmware ELF or the Linux runner.

The folder is assembled in a staging directory and moved into place only
when everything succeeded, so a failed build leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgec import __version__
from edgec.errors import EdgecError
from edgec.ir import Graph, macs
from edgec.ir.serialize import load_graph, save_graph
from edgec.lowering import LoweredModel, lower_model
from edgec.progress import QUIET, Progress
from edgec.report import format_table
from edgec.tensor_io import IOSpec, io_specs

BUILD_FILE = "build.json"
MIXED_GRAPH = "graph_mixed"


@dataclass
class BuildOptions:
    target: str | None = None
    out_dir: Path | None = None
    calib: Path | None = None
    observer: str = "minmax"
    sram_budget_kb: float | None = None
    schedule: str | None = None
    split: str | None = None
    patches: int | None = None
    input_shapes: dict[str, tuple[int, ...]] | None = None  # --input-shape: fixes dynamic input dimensions
    kernels: str = "auto"  # --kernels: auto (ISA variants by target features) | portable (plain C only)
    npu_ops: str = "auto"  # --npu-ops (Ethos-U targets): auto (Vela decides) | none (everything on the CPU)
    precision: str = "int8"  # --precision: int8 | mixed (sub-byte patch-stage maps, edgec/mixed/)
    mixed_lambda: float | None = None  # --mixed-lambda (None: edgec.mixed.search.DEFAULT_LAMBDA)


@dataclass
class Build:
    """A build folder, as read back by `run`, `profile` and `inspect`."""

    path: Path
    summary: dict
    _graph: Graph | None = field(default=None, repr=False)

    @property
    def target(self):
        from edgec.targets import load_target

        return load_target(self.summary["target"])

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = load_graph(self.path / "graph")
        return self._graph

    @property
    def inputs(self) -> list[IOSpec]:
        return [IOSpec(**d) for d in self.summary["inputs"]]

    @property
    def outputs(self) -> list[IOSpec]:
        return [IOSpec(**d) for d in self.summary["outputs"]]

    @property
    def hash32(self) -> int:
        """EDGEC_MODEL_HASH: the first 4 bytes of the model file's sha256, as the firmware reports it."""
        return int(self.summary["model_hash"][:8], 16)

    @property
    def binary(self) -> Path:
        return self.path / self.summary["binary"]

    @property
    def precision(self) -> dict:
        return self.summary.get("precision", {"mode": "int8"})

    def mixed(self):
        """(PatchStage, MixedPrecision) of a mixed build, read back from the folder; None for other builds."""
        from edgec.mixed.plan import MixedPrecision, OutlierTest
        from edgec.schedule.patch import analyze_patches

        p = self.precision
        if p.get("mode") != "mixed":
            return None
        schedule = self.summary["schedule"]
        stage = analyze_patches(self.graph, schedule["split"], tuple(schedule["grid"]))
        test = OutlierTest(**p["outlier_test"])
        mixed = MixedPrecision(
            load_graph(self.path / MIXED_GRAPH), p["bits"], test, p["outlier_patch_fraction"], p["mixed_lambda"],
            p["search_seconds"], p, p.get("weight_bits", {}),
        )  # fmt: skip
        return stage, mixed

    def reference_outputs(self, x) -> dict:
        """The build's numpy reference outputs for int8 input ``x``: ``run_mixed`` for mixed builds."""
        mixed = self.mixed()
        graph = self.graph
        if mixed is None:
            from edgec.reference import run

            return run(graph, x if isinstance(x, dict) else {graph.inputs[0]: x})
        from edgec.mixed.reference import run_mixed

        return run_mixed(graph, mixed[0], mixed[1], x)


def default_out_dir(model: Path, target: str) -> Path:
    return Path("build") / f"{Path(model).stem}-{target}"


def check_out_dir(out_dir: Path) -> None:
    is_build = (out_dir / BUILD_FILE).is_file()
    if out_dir.exists() and not is_build and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise EdgecError(f"{out_dir} exists and is not an edgec build folder: choose another -o or remove it")


def build_model(model: Path, options: BuildOptions, progress: Progress = QUIET) -> dict:
    from edgec.targets import DEFAULT_TARGET, load_target

    target = load_target(options.target or DEFAULT_TARGET)
    out_dir = Path(options.out_dir or default_out_dir(model, target.name))
    check_out_dir(out_dir)
    if target.uses_tvm:  # fail before any work when the optional TVM extra is missing
        from edgec.deploy.tvm_env import require_tvm

        require_tvm(f"target {target.name}")
    if target.kind == "npu":  # Ethos-U: fail before any work on a non-TFLite model or without Vela
        _check_npu_build(Path(model), options, target)
    if options.calib is not None and not Path(options.calib).exists():
        raise EdgecError(f"calibration data {options.calib} does not exist: pass a .npz, .npy or a folder of images")
    if options.precision not in ("int8", "mixed"):
        raise EdgecError(f"--precision {options.precision!r} is not supported: use int8 or mixed")
    if options.precision == "mixed":
        from edgec.mixed.compile import NO_CALIB, check_lambda

        if options.calib is None:
            raise EdgecError(NO_CALIB)
        check_lambda(options.mixed_lambda)
    lowered = lower_model(Path(model), options.calib, options.observer, progress, input_shapes=options.input_shapes)
    for w in lowered.warnings:
        progress.note(f"warning: {w}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent)).resolve()
    try:
        if (out_dir / "tuning").is_dir():  # `edgec tune` records survive a rebuild and are replayed
            shutil.copytree(out_dir / "tuning", staging / "tuning")
        summary = _build_into(staging, lowered, target, options, progress)
        (staging / BUILD_FILE).write_text(json.dumps(summary, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    summary["path"] = str(out_dir)
    return summary


def _build_into(staging: Path, lowered: LoweredModel, target, options: BuildOptions, progress: Progress) -> dict:
    from edgec.codegen.c import emit_project
    from edgec.schedule.planning import plan_model

    graph = lowered.graph
    if target.uses_tvm or target.kind == "npu":
        precision = {"mode": "int8"}
        if options.precision == "mixed":
            reason = f"{target.name} has no sub-byte kernels (mixed precision is for the C back end's patch stage)"
            progress.note(f"--precision mixed: {reason}; building int8")
            precision.update(requested="mixed", reason=reason)
        if target.uses_tvm:
            summary = _build_linux(staging, lowered, target, options, progress)
        else:
            from edgec.codegen.ethosu.build import build_npu

            summary = build_npu(staging, lowered, target, options, progress)
        summary["precision"] = precision
        return summary
    with progress.step("planning memory"):
        plan = plan_model(graph, target, options, progress)
    precision = _plan_precision(graph, plan, target, options, progress)
    if plan.mixed is not None:
        save_graph(plan.mixed.graph, staging / MIXED_GRAPH)
    with progress.step("generating C"):
        project = emit_project(graph, plan, staging / "src", target, lowered.model_hash, kernels=options.kernels)
    save_graph(graph, staging / "graph")
    if target.kind == "host":
        from edgec.codegen.host_build import build_host

        with progress.step("compiling for the host"):
            binary = build_host(staging / "src", staging / "bin")
        image = None
    else:
        from edgec.firmware import MemoryOverflow, build_firmware

        try:
            with progress.step(f"compiling firmware for {target.name}"):
                image = build_firmware(staging / "src", target, staging / "bin")
        except MemoryOverflow as e:
            # Weight layouts of the kernel variants made the image too big: keep compact layouts for
            # enough layers (largest first) to free what was missing, with a margin, and link again.
            missing = e.overflows.get("WEIGHTS" if target.weights_bytes else "FLASH", 0)
            extra = project.kernels.layout_extra_bytes
            if not missing or not extra or set(e.overflows) - {"FLASH", "WEIGHTS"}:
                raise
            cap = extra - missing - max(4096, missing // 16)
            shutil.rmtree(staging / "src")
            shutil.rmtree(staging / "bin", ignore_errors=True)
            with progress.step("generating C with compact weight layouts to fit flash"):
                project = emit_project(
                    graph, plan, staging / "src", target, lowered.model_hash, kernels=options.kernels,
                    max_layout_bytes=max(cap, 0),
                )  # fmt: skip
            with progress.step(f"compiling firmware for {target.name}"):
                image = build_firmware(staging / "src", target, staging / "bin")
        binary = image.elf
    summary = _summary(lowered, target, plan, project, binary.relative_to(staging), image)
    summary["precision"] = precision
    return summary


def _plan_precision(graph: Graph, plan, target, options: BuildOptions, progress: Progress) -> dict:
    """Set ``plan.mixed`` for ``--precision mixed`` (or say why it stays int8); build.json's ``precision``."""
    if options.precision != "mixed":
        return {"mode": "int8"}
    from edgec.mixed.compile import int8_fallback_reason, mixed_for_build

    reason = int8_fallback_reason(plan, target)
    if reason is not None:
        progress.note(f"--precision mixed: {reason}; building int8")
        return {"mode": "int8", "requested": "mixed", "reason": reason}
    plan.mixed = mixed_for_build(graph, plan, target, options.calib, options.mixed_lambda, progress)
    return plan.mixed.report


def _check_npu_build(model: Path, options: BuildOptions, target) -> None:
    """Ethos-U targets (edgec/codegen/ethosu/): an int8 TFLite model and the optional Vela package."""
    from edgec.codegen.ethosu.build import check_npu_source
    from edgec.codegen.ethosu.vela_runner import require_vela

    check_npu_source(model, options.npu_ops)
    if options.npu_ops != "none":
        require_vela(f"target {target.name}")


def _build_linux(staging: Path, lowered: LoweredModel, target, options: BuildOptions, progress: Progress) -> dict:
    """Linux-class targets: the TVM back end's deploy/ folder and the runner (edgec/deploy/)."""
    from edgec.deploy.build import DEPLOY_DIR, build_linux, plan_linux

    with progress.step("planning memory"):
        plan = plan_linux(lowered.graph, target, options)
    built = build_linux(staging, lowered.graph, plan, target, lowered.model_hash, progress)
    save_graph(lowered.graph, staging / "graph")
    summary = _summary(lowered, target, plan, built.sources, built.binary, None)
    if options.precision == "mixed":
        from edgec.mixed.compile import int8_fallback_reason

        reason = int8_fallback_reason(plan, target)
        progress.note(f"--precision mixed: {reason}; building int8")
        summary["precision"] = {"mode": "int8", "requested": "mixed", "reason": reason}
    else:
        summary["precision"] = {"mode": "int8"}
    summary["deploy"] = {
        "folder": DEPLOY_DIR,
        "kernels": built.sources.backend,
        "profile_binary": str(built.profile_binary),
        "run_mode": target.run_mode,
    }
    return summary


def _summary(lowered: LoweredModel, target, plan, project, binary: Path, image) -> dict:
    graph = lowered.graph
    weight_bytes = sum(t.nbytes for t in graph.tensors.values() if t.is_const)
    kernels = getattr(project, "kernels", None)  # the C back end's variant choice; None for TVM builds
    doc = {
        "edgec_version": __version__,
        "model": lowered.source.name,
        "model_path": str(lowered.source.resolve()),  # `edgec validate` compares with the source float model
        "model_hash": lowered.model_hash,
        "target": target.name,
        "target_kind": target.kind,
        "binary": str(binary),
        "warnings": lowered.warnings,
        "batch": batch_info(graph),
        "inputs": [s.to_dict() for s in io_specs(graph, graph.inputs)],
        "outputs": [s.to_dict() for s in io_specs(graph, graph.outputs)],
        "ops": project.ops,
        "totals": {
            "ops": len(project.ops),
            "macs": sum(macs(graph, n) for n in graph.nodes),
            "scheduled_macs": sum(op["macs"] for op in project.ops),
            "weight_bytes": weight_bytes,
            "arena_bytes": plan.arena_size,
            "lower_bound_bytes": plan.lower_bound,
            "layer_arena_bytes": plan.layer_arena_size,
            "layout_extra_bytes": kernels.layout_extra_bytes if kernels else 0,
        },
        "kernels": kernels.describe() if kernels else {"mode": project.backend, "variants": {project.backend: len(project.ops)}, "compact_fallback": []},
        "schedule": plan.describe(),
    }
    if "input_shapes" in graph.meta:
        doc["input_shapes"] = graph.meta["input_shapes"]
    if image is not None:
        doc["memory"] = {
            "text": image.text,
            "data": image.data,
            "bss": image.bss,
            "stack": image.stack,
            "flash_used": image.flash_used,
            "flash_size": image.flash_bytes,
            "sram_used": image.sram_used,
            "sram_size": image.sram_bytes,
            "counter_unit": target.counter_unit,
        }
        if target.has_weights_memory:
            doc["memory"]["weights_used"] = image.weights
            doc["memory"]["weights_size"] = image.weights_bytes
        doc["fits"] = True  # build_firmware raises when it does not
    return doc


def batch_info(graph: Graph) -> dict:
    """Whether the model's batch was dynamic, and the batch it was built for (always 1 today)."""
    if "batch" in graph.meta:
        return dict(graph.meta["batch"])
    shapes = [graph.tensors[i].shape for i in graph.inputs if graph.tensors[i].shape]
    return {"dynamic": False, "built_for": shapes[0][0] if shapes else 1}


def format_batch(batch: dict | None) -> str | None:
    """The summary line for a dynamic batch ("dynamic, built for 1"), None for a fixed one."""
    if not batch or not batch.get("dynamic"):
        return None
    return f"dynamic, built for {batch['built_for']}"


def load_build(path: Path) -> Build:
    path = Path(path)
    f = path / BUILD_FILE
    if not f.is_file():
        raise EdgecError(f"{path} is not an edgec build folder (no {BUILD_FILE}): run `edgec build MODEL -o {path}` first")
    try:
        summary = json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise EdgecError(f"{f} is corrupt ({e.msg}): rebuild with `edgec build`") from None
    return Build(path, summary)


def format_build_summary(summary: dict) -> str:
    t = summary["totals"]
    lines = [
        f"built {summary['model']} for {summary['target']} -> {summary.get('path', '')}",
        f"  ops            {t['ops']}",
        f"  MACs           {t['macs']:,}" + (f" (scheduled {t['scheduled_macs']:,})" if t["scheduled_macs"] != t["macs"] else ""),
        f"  weights/flash  {t['weight_bytes']:,} bytes"
        + (" of CPU layers (Vela's encoded weights: the memory line)" if "npu" in summary else ""),
        f"  arena/SRAM     {t['arena_bytes']:,} bytes (layer-wise lower bound {t['lower_bound_bytes']:,})",
        f"  schedule       {summary['schedule']['kind']}" + _schedule_detail(summary["schedule"]),
    ]
    kernels = summary.get("kernels")
    if kernels:
        lines.append(f"  kernels        {format_kernels(kernels, t.get('layout_extra_bytes', 0))}")
    precision = summary.get("precision")
    if precision and (precision.get("mode") == "mixed" or precision.get("requested")):
        from edgec.mixed.compile import summary_line

        lines.append(f"  precision      {summary_line(precision)}")
        lines += [f"    {name:<28} {bits} bits" for name, bits in precision.get("bits", {}).items()]
    batch = format_batch(summary.get("batch"))
    if batch:
        lines.insert(1, f"  batch: {batch}")
    for name, shape in summary.get("input_shapes", {}).items():
        lines.insert(2 if batch else 1, f"  input shape    {name} = {'x'.join(map(str, shape))}")
    mem = summary.get("memory")
    if mem:
        lines.append(
            f"  firmware       text {mem['text']:,}  data {mem['data']:,}  bss {mem['bss']:,}  "
            f"flash {mem['flash_used']:,}/{mem['flash_size']:,}  SRAM {mem['sram_used']:,}/{mem['sram_size']:,}"
            + (f"  weights {mem['weights_used']:,}/{mem['weights_size']:,}" if "weights_size" in mem else "")
        )
        lines.append(f"  fits           {'yes' if summary.get('fits') else 'NO'}")
    if summary.get("npu"):
        from edgec.codegen.ethosu.build import format_npu_summary

        lines += format_npu_summary(summary)
    for w in summary.get("warnings", []):
        lines.append(f"  warning: {w}")
    schedule = summary["schedule"]
    if "pareto" in schedule:
        from edgec.schedule.planning import format_pareto

        budget = schedule["budget_bytes"]
        precision = summary.get("precision") or {}
        legend = "(* = chosen)"
        if precision.get("grid") and precision["grid"] != precision.get("grid_int8"):
            gh, gw = precision["grid"]
            legend = f"of the int8 schedules (* = int8's choice; the mixed stage's packed maps fit {gh}x{gw} patches)"
        lines.append(
            f"schedule search: {schedule['searched']} candidates, SRAM budget "
            + (f"{budget / 1024:.1f} KiB" if budget else "none (smallest peak)")
            + f"; Pareto front {legend}:"
        )
        lines += ["  " + line for line in format_pareto(schedule["pareto"]).splitlines()]
    return "\n".join(lines)


def format_kernels(kernels: dict, extra_bytes: int) -> str:
    """The build summary's kernel line: mode, layers per variant, weight-layout growth, fallbacks."""
    counts = ", ".join(f"{n} {v}" for v, n in sorted(kernels["variants"].items(), key=lambda kv: -kv[1]))
    text = f"{kernels['mode']}: {counts}"
    if extra_bytes:
        text += f"; weight layouts +{extra_bytes:,} bytes of flash"
    fallback = kernels.get("compact_fallback") or []
    if fallback:
        text += f"; {len(fallback)} layer{'s' if len(fallback) > 1 else ''} kept the compact layout to fit flash"
    return text


def _schedule_detail(s: dict) -> str:
    segments = s.get("row_segments") or []
    rows = ""
    if segments:
        ops = sum(seg["ops"] for seg in segments)
        rows = f"{len(segments)} row-streamed segment{'s' if len(segments) > 1 else ''} ({ops} ops)"
    if s["kind"] != "patch":
        return f", {rows}" if rows else ""
    split = s["split"] if len(s["split"]) <= 40 else "..." + s["split"][-37:]
    detail = f"{s['grid'][0]}x{s['grid'][1]} patches up to {split}, {s['stage_ops']} ops, MAC overhead {s['mac_overhead_pct']:.1f}%"
    return f" ({detail}), then {rows}" if rows else f" ({detail})"


def format_build_report(b: Build) -> str:
    s = b.summary
    if s.get("npu"):  # Ethos-U build: where each layer runs and Vela's cycle estimate
        from edgec.codegen.ethosu.build import format_npu_ops

        return f"{format_npu_ops(s)}\n\n" + format_build_summary({**s, "path": str(b.path)})
    rows = [
        (i, op["name"], op["op"], op.get("kernel", ""), "x".join(map(str, op["output_shape"])), op["macs"], op.get("arena_offset", "-"))
        for i, op in enumerate(s["ops"])
    ]
    headers = ["#", "op", "type", "kernel", "output", "MACs", "arena offset"]
    bits = b.precision.get("bits") if b.precision.get("mode") == "mixed" else None
    if bits:  # mixed builds: the output width in the mixed variant (int8 on outlier patches)
        outputs = {n.name: n.outputs[0] for n in b.graph.nodes}
        rows = [(*r, bits.get(outputs.get(op["name"], ""), 8)) for r, op in zip(rows, s["ops"])]
        headers.append("bits")
    table = format_table(headers, rows, right=(0, 5, 6))
    return f"{table}\n\n" + format_build_summary({**s, "path": str(b.path)})


def plot_build_memory(b: Build, path: Path) -> None:
    from edgec.schedule.planning import plot_build

    plot_build(b, path)
