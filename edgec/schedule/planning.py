"""The build's schedule: layer by layer or a patch-based first stage, and its memory.

``plan_model`` turns a lowered int8 graph, a target and the build options
into a ``ModelPlan`` that the C code generator follows literally:

* ``layer``: every op on whole tensors, activations at ``arena`` offsets;
* ``patch``: the ops up to ``stage.split`` run patch by patch (MCUNetV2),
  their per-patch buffers at ``patch_base + patch_plan`` offsets, then the
  rest layer by layer at ``arena`` offsets (which include the split tensor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import EdgecError
from edgec.ir import macs
from edgec.ir.graph import Graph
from edgec.mixed.plan import MixedPrecision
from edgec.progress import QUIET, Progress
from edgec.schedule import split_search
from edgec.schedule.arena import ArenaPlan, plan_arena
from edgec.schedule.patch import NotPatchable, PatchStage
from edgec.schedule.split_search import (
    Candidate,
    choose_schedule,
    pareto,
    patch_candidate,
    rest_graph,
    search_schedules,
)


@dataclass
class ModelPlan:
    kind: str  # "layer" or "patch"
    arena: ArenaPlan  # layer-by-layer plan of the whole graph, or of the ops after the patch stage
    arena_size: int  # bytes of the one arena the generated code declares
    layer_arena_size: int  # what plain layer-by-layer execution needs
    lower_bound: int  # layer-wise lower bound of the whole graph
    stage: PatchStage | None = None
    patch_plan: ArenaPlan | None = None
    patch_base: int = 0
    details: dict = field(default_factory=dict)
    mixed: MixedPrecision | None = None  # --precision mixed: the stage's mixed variant (edgec/mixed/plan.py)

    def describe(self) -> dict:
        segments = [
            {
                "first_op": seg.nodes[0],
                "last_op": seg.nodes[-1],
                "ops": len(seg.nodes),
                "calls": len(seg.calls),
                "line_buffer_bytes": sum(self.arena.sizes[t] for t in seg.chain),
                "output_in_place": bool(seg.meta.get("inplace")),
            }
            for seg in self.arena.row_segments
        ]
        return {
            "kind": self.kind,
            "arena_bytes": self.arena_size,
            "layer_arena_bytes": self.layer_arena_size,
            "row_segments": segments,
            **self.details,
        }


def plan_layers(graph: Graph, stream_rows: bool | None = None) -> ArenaPlan:
    """Layer by layer as builds plan it (``stream_rows`` None: ``split_search.STREAM_ROWS``)."""
    return plan_arena(
        graph,
        alignment=16,
        inplace=True,
        inplace_depthwise=True,
        stream_residual=split_search.STREAM_RESIDUAL,
        stream_rows=split_search.STREAM_ROWS if stream_rows is None else stream_rows,
    )


def _layer_plan(layer: ArenaPlan) -> ModelPlan:
    return ModelPlan("layer", layer, layer.size, layer.size, layer.lower_bound)


def layer_model_plan(layer: ArenaPlan) -> ModelPlan:
    """A layer-by-layer ``ModelPlan`` around an arena plan made elsewhere (the TVM back end's)."""
    return _layer_plan(layer)


def _patch_plan(cand: Candidate, layer: ArenaPlan) -> ModelPlan:
    details = {
        "split": cand.split,
        "grid": list(cand.grid),
        "stage_ops": len(cand.stage.nodes),
        "mac_overhead_pct": 100.0 * cand.mac_overhead,
    }
    return ModelPlan(
        "patch", cand.rest_plan, cand.peak, layer.size, layer.lower_bound, cand.stage, cand.patch_plan, cand.patch_base, details
    )


def resolve_split(graph: Graph, split: str) -> str:
    """A split given as a tensor name or as the name of the op producing it."""
    if split in graph.tensors and not graph.tensors[split].is_const:
        return split
    for node in graph.nodes:
        if node.name == split:
            return node.outputs[0]
    ops = ", ".join(n.name for n in graph.nodes[:12])
    raise EdgecError(f"--split {split!r} names no op or tensor of the model: use an op name from `edgec inspect` (e.g. {ops}, ...)")


def forced_patch_candidate(graph: Graph, split: str, patches: int) -> Candidate:
    split = resolve_split(graph, split)
    rest = plan_arena(
        rest_graph(graph, split),
        alignment=16,
        external=set(graph.outputs),
        inplace_depthwise=True,
        stream_residual=split_search.STREAM_RESIDUAL,
        stream_rows=split_search.STREAM_ROWS,
    )
    layer_macs = sum(macs(graph, n) for n in graph.nodes)
    try:
        return patch_candidate(graph, split, (patches, patches), rest, 16, layer_macs)
    except NotPatchable as e:
        raise EdgecError(f"cannot run the ops up to {split!r} patch by patch: {e}") from None


def plan_model(graph: Graph, target, options, progress: Progress = QUIET) -> ModelPlan:
    schedule = options.schedule or ("auto" if target.kind == "mcu" else "layer")
    layer = plan_layers(graph)
    if schedule == "layer":
        return _layer_plan(layer)
    if schedule == "patch":
        if not options.split or not options.patches:
            raise EdgecError("--schedule patch needs --split OP and --patches N (or use --schedule auto)")
        return _patch_plan(forced_patch_candidate(graph, options.split, options.patches), layer)
    budget = int(options.sram_budget_kb * 1024) if options.sram_budget_kb else (target.arena_budget or None)
    candidates = search_schedules(graph, budget, inplace_depthwise=True)
    chosen = choose_schedule(candidates, budget)
    plan = _patch_plan(chosen, layer) if chosen.is_patch else _layer_plan(layer)
    plan.details["budget_bytes"] = budget
    plan.details["searched"] = len(candidates)
    plan.details["pareto"] = [_candidate_row(graph, c, c is chosen) for c in pareto(candidates)]
    return plan


def _candidate_row(graph: Graph, cand: Candidate, chosen: bool) -> dict:
    producer = graph.producer(cand.split) if cand.split else None
    index = graph.nodes.index(producer) if producer is not None else None
    return {
        "schedule": "layer" if not cand.is_patch else f"{cand.grid[0]}x{cand.grid[1]} patches",
        "split_op": None if producer is None else f"#{index} {producer.op}",
        "split_tensor": cand.split,
        "peak_bytes": cand.peak,
        "macs": cand.macs,
        "mac_overhead_pct": 100.0 * cand.mac_overhead,
        "chosen": chosen,
    }


def format_pareto(rows: list[dict]) -> str:
    from edgec.report import format_table

    table = [
        (
            "*" if r["chosen"] else "",
            r["schedule"],
            r["split_op"] or "-",
            f"{r['peak_bytes'] / 1024:.1f}",
            r["macs"],
            f"{r['mac_overhead_pct']:.1f}%",
        )
        for r in rows
    ]
    return format_table(["", "schedule", "split after", "peak KiB", "MACs", "MAC overhead"], table, right=(3, 4, 5))


def plot_build(build, path: Path) -> None:
    """Activation memory per op of a build folder: layer by layer vs its schedule, with the SRAM budget."""
    from edgec.schedule.plot import plot_memory

    graph = build.graph
    schedule = build.summary.get("schedule", {})
    chosen = None
    precision = build.summary.get("precision", {})
    packed = precision.get("mode") == "mixed" and precision.get("grid", schedule.get("grid")) != precision.get("grid_int8", schedule.get("grid"))
    if schedule.get("kind") == "patch" and packed:  # a mixed stage on its own grid: packed per-patch buffers
        from edgec.mixed.grid import mixed_candidate

        _, mixed = build.mixed()
        rest = forced_patch_candidate(graph, schedule["split"], schedule["grid"][0]).rest_plan
        chosen = mixed_candidate(graph, schedule["split"], tuple(schedule["grid"]), rest, mixed.graph, schedule.get("budget_bytes"))
    elif schedule.get("kind") == "patch":
        chosen = forced_patch_candidate(graph, schedule["split"], schedule["grid"][0])
    budget = schedule.get("budget_bytes")  # the budget the build searched with (--sram-budget or the target's)
    if budget is None and build.summary.get("target_kind") == "mcu":
        try:
            budget = build.target.arena_budget or None
        except EdgecError:  # the target file is gone: plot without the budget line
            budget = None
    title = f"{build.summary.get('model', graph.name)} on {build.summary.get('target', '?')}"
    bits = precision.get("bits") if precision.get("mode") == "mixed" else None
    plot_memory(
        graph, plan_layers(graph), chosen, budget, path, title=title, plain_plan=plan_layers(graph, stream_rows=False), bits=bits,
        packed=packed,
    )  # fmt: skip
