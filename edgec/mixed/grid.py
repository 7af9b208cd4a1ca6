"""The mixed variant's own patch grid: fewer, larger patches under the same SRAM budget.

Patch-based inference recomputes the halos of overlapping patches; the
coarser the grid, the less it recomputes, but the larger the per-patch
buffers.  Packed 4/2-bit maps shrink those buffers, so under the budget the
int8 schedule search chose its grid with, a mixed stage may fit a coarser
grid of the same split (QuantMCU's memory saving turned into less
computation).

This applies only when no patch can take the int8 variant
(``MixedPrecision.int8_variant`` is False: the VDPC thresholds are the whole
int8 range, as when the test is the stage input and no calibration patch is
an outlier).  Otherwise an outlier patch would need int8 buffers for the
larger patch, which is what does not fit.

``coarser_grid`` plans each coarser ``n x n`` grid like
``split_search.patch_candidate`` (per-patch buffers sized to each tensor's
largest region, ``plan_arena``, below or above the split tensor) but with the
mixed variant's maps at their packed size (``pixel_bytes``), plus a stretch
of the arena for the int8 rows the packed ops unpack or compute
(``codegen/mixed_stage.py`` finds it free while the stage runs and sizes its
bands to it): ``SCRATCH_BYTES``, or what the budget leaves, but at least the
rows of one output row band (``min_scratch``).  It keeps the grid with the fewest stage MACs whose peak (stage or the
layer-by-layer rest, whichever is larger) fits the budget; ties: fewer
patches.  ``apply_grid`` moves a ``ModelPlan`` onto it and recomputes the
BitOPs of the report for the new stage; the widths stay those the search
chose on the int8 grid.
"""

from __future__ import annotations

from dataclasses import replace

from edgec.ir import macs
from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor
from edgec.mixed import bitops
from edgec.mixed.plan import MixedPrecision
from edgec.mixed.subbyte import pixel_bytes
from edgec.schedule.arena import ArenaPlan, align_up, plan_arena
from edgec.schedule.patch import NotPatchable, PatchStage, analyze_patches
from edgec.schedule.split_search import _inplace_safe_in_every_patch, patch_buffer_graph

SCRATCH_BYTES = 2048  # arena bytes kept free during the stage for the packed ops' int8 rows
ALIGNMENT = 16  # as the build's schedules (planning.py)


def packed_buffer_graph(graph: Graph, stage: PatchStage, mixed_graph: Graph) -> Graph:
    """``patch_buffer_graph`` with every sub-byte map of ``mixed_graph`` at its packed size."""
    buffers = patch_buffer_graph(graph, stage)
    for name, t in list(buffers.tensors.items()):
        bits = mixed_graph.tensors[name].bits
        if t.is_const or bits >= 8:
            continue
        buffers.tensors[name] = Tensor(name, (1, 1, t.shape[2], pixel_bytes(t.shape[3], bits)), t.dtype)
    return buffers


def plan_grid(
    graph: Graph, split: str, grid: tuple[int, int], rest: ArenaPlan, mixed_graph: Graph, budget: int
) -> tuple[PatchStage, ArenaPlan, int, int]:
    """(stage, packed per-patch plan, patch_base, arena bytes) of the mixed stage on ``grid``."""
    stage = analyze_patches(graph, split, grid)
    patch_plan = plan_arena(
        packed_buffer_graph(graph, stage, mixed_graph),
        alignment=ALIGNMENT,
        inplace_filter=_inplace_safe_in_every_patch(stage),
    )
    split_bytes = graph.tensors[split].nbytes
    split_offset = rest.offsets[split]
    least = min_scratch(graph, stage, mixed_graph)
    if patch_plan.size + least <= split_offset:  # below the split tensor, the scratch between them
        return stage, patch_plan, 0, max(split_offset + split_bytes, rest.size)
    patch_base = align_up(split_offset + split_bytes, ALIGNMENT)
    top = patch_base + patch_plan.size
    # the scratch above the buffers: SCRATCH_BYTES, or less where the budget (or the rest) leaves less
    room = max(least, min(SCRATCH_BYTES, max(budget - top, rest.size - top)))
    return stage, patch_plan, patch_base, max(top + room, rest.size)


def min_scratch(graph: Graph, stage: PatchStage, mixed_graph: Graph) -> int:
    """Bytes of int8 rows the packed ops need for bands of one output row (codegen/mixed_stage.py):
    per op, the input rows one output row taps when the input is packed, plus one output row when
    the output is packed (computed in int8 beside its packed buffer); the largest op's, 4-aligned."""
    most = 0
    for name in stage.nodes:
        node = mixed_graph.node(name)
        widths = {}
        for patch in stage.patches:
            for op in patch.ops:
                if op.node == name:
                    widths["out"] = max(widths.get("out", 0), op.output.width)
                    for k, win in enumerate(op.inputs):
                        if win is not None:
                            widths[k] = max(widths.get(k, 0), win.width)
        need = 0
        for k, tensor in enumerate(node.inputs):
            t = mixed_graph.tensors[tensor] if tensor else None
            if t is None or t.is_const or t.bits >= 8:
                continue
            taps = 1
            if node.op in ("conv2d", "depthwise_conv2d"):
                kh = mixed_graph.tensors[node.inputs[1]].shape[1]
                taps = (kh - 1) * node.attrs.get("dilation", (1, 1))[0] + 1
            elif node.op in ("max_pool2d", "avg_pool2d"):
                taps = int(node.attrs["kernel"][0])
            need += -(-taps * widths.get(k, 0) * t.shape[-1] // 4) * 4
        out = mixed_graph.tensors[node.outputs[0]]
        if out.bits < 8:
            need += -(-widths.get("out", 0) * out.shape[-1] // 4) * 4
        most = max(most, need)
    return most


def mixed_candidate(graph: Graph, split: str, grid: tuple[int, int], rest: ArenaPlan, mixed_graph: Graph, budget: int):
    """``plan_grid`` as a ``split_search.Candidate`` (the memory plot of a mixed build on its own grid)."""
    from edgec.schedule.split_search import Candidate

    stage, patch_plan, patch_base, size = plan_grid(graph, split, grid, rest, mixed_graph, budget)
    layer_macs = sum(macs(graph, n) for n in graph.nodes)
    return Candidate(
        split=split, grid=tuple(grid), peak=size, macs=stage.macs + layer_macs - stage.layer_macs, layer_macs=layer_macs,
        rest_plan=rest, stage=stage, patch_plan=patch_plan, patch_base=patch_base, stage_peak=size,
    )  # fmt: skip


def coarser_grid(graph: Graph, plan, mixed: MixedPrecision, budget: int):
    """The best coarser grid for the mixed stage of ``plan`` under ``budget`` bytes, as
    ``(stage, patch_plan, patch_base, arena bytes)``; None when none fits or the plan's grid is best."""
    if mixed.int8_variant or plan.stage is None or budget is None:
        return None
    best = None
    gh, gw = plan.stage.grid
    for n in range(1, max(gh, gw)):
        try:
            found = plan_grid(graph, plan.stage.split, (n, n), plan.arena, mixed.graph, budget)
        except NotPatchable:
            continue
        stage, _, _, size = found
        if size > budget or stage.macs >= plan.stage.macs:
            continue
        if best is None or stage.macs < best[0].macs:
            best = found
    return best


def apply_grid(graph: Graph, plan, mixed: MixedPrecision, budget: int | None) -> MixedPrecision:
    """Move ``plan`` (a patch ``ModelPlan`` with ``plan.mixed`` to be ``mixed``) onto the coarsest
    grid that fits ``budget`` with packed maps, if any; returns ``mixed`` with its report updated
    (``grid``, ``grid_int8``, the BitOPs of the new stage, ``stage_bitops_int8_grid``: the int8
    stage on the int8 build's own grid)."""
    int8_stage = plan.stage
    found = coarser_grid(graph, plan, mixed, budget)
    report = dict(mixed.report)
    report["grid_int8"] = list(int8_stage.grid)
    report["stage_bitops_int8_grid"] = round(bitops.stage_bitops(graph, int8_stage, {}, 0.0))
    if found is not None:
        stage, patch_plan, patch_base, size = found
        plan.stage, plan.patch_plan, plan.patch_base, plan.arena_size = stage, patch_plan, patch_base, size
        layer_macs = sum(macs(graph, n) for n in graph.nodes)
        plan.details.update(grid=list(stage.grid), stage_ops=len(stage.nodes), mixed_grid_from=list(int8_stage.grid))
        plan.details["mac_overhead_pct"] = 100.0 * (stage.macs - stage.layer_macs) / layer_macs if layer_macs else 0.0
        report.update(bitops.report(graph, stage, mixed.bits, mixed.outlier_patch_fraction, mixed.weight_bits))
    report["grid"] = list(plan.stage.grid)
    return replace(mixed, report=report)
