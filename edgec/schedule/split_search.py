"""Choosing a schedule: layer by layer, or a patch-based first stage (MCUNetV2).

A candidate runs the stage that ends at a *split tensor* patch by patch on an
``n x n`` grid, then the rest of the network layer by layer with the split
tensor as its input.  Its peak memory is the larger of

* the stage phase: the split tensor (filled patch by patch) plus one set of
  per-patch buffers, planned once with ``plan_arena`` on the largest region
  of every stage tensor over all patches (so one plan serves every patch);
* the rest phase: ``plan_arena`` of the remaining nodes, the split tensor
  live from their first op.

Each per-patch buffer holds its tensor's region at the current patch as a
dense ``[h, w, C]`` array (row pitch = the region's width, ``Patch.regions``);
the op writing the split tensor writes its window straight into the full
split tensor.  The arena is shared: the split tensor sits where the rest plan puts it, and
the per-patch buffers go below it if they fit there, else above it
(``Candidate.patch_base``).  MACs count recomputation: the sum over patches
of each op's MACs on its output window, plus the rest's MACs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgec.errors import BuildError
from edgec.ir.graph import Graph, Node
from edgec.ir.ops import macs
from edgec.ir.tensor import Tensor
from edgec.schedule.arena import ArenaPlan, align_up, plan_arena
from edgec.schedule.patch import NotPatchable, PatchStage, analyze_patches, check_patchable, stage_nodes

DEFAULT_GRIDS = tuple(range(2, 9))
# Builds stream 1x1 projection convs into the residual add after them (``plan_arena(stream_residual=...)``);
# ``search_schedules`` and ``edgec.schedule.planning`` follow this switch unless told otherwise.
STREAM_RESIDUAL = True
# Builds run chains of ops row by row through line buffers (``plan_arena(stream_rows=...)``, ``edgec.schedule.rows``).
STREAM_ROWS = True


@dataclass
class Candidate:
    """One schedule: ``split is None`` means plain layer-by-layer execution."""

    split: str | None
    grid: tuple[int, int]
    peak: int  # arena bytes needed
    macs: int  # including recomputation
    layer_macs: int  # the whole graph layer by layer
    rest_plan: ArenaPlan  # layer-by-layer plan (of the whole graph, or of the nodes after the stage)
    stage: PatchStage | None = None
    patch_plan: ArenaPlan | None = None  # per-patch buffers, offsets relative to patch_base
    patch_base: int = 0
    stage_peak: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def is_patch(self) -> bool:
        return self.split is not None

    @property
    def mac_overhead(self) -> float:
        """Extra MACs over layer by layer, as a fraction (0.1 = 10% more)."""
        return self.macs / self.layer_macs - 1.0 if self.layer_macs else 0.0

    def fits(self, budget: int | None) -> bool:
        return budget is None or self.peak <= budget

    def describe(self) -> str:
        if not self.is_patch:
            return f"layer-by-layer: peak {self.peak} B, {self.macs} MACs"
        return (
            f"patch {self.grid[0]}x{self.grid[1]} up to {self.split}: peak {self.peak} B "
            f"(stage {self.stage_peak} B, rest {self.rest_plan.size} B), {self.macs} MACs (+{100 * self.mac_overhead:.1f}%)"
        )


# -- split points ----------------------------------------------------------------------------------


def split_points(graph: Graph, max_prefix_fraction: float = 0.5) -> list[str]:
    """Tensors where the prefix up to their producer feeds the rest through that tensor alone.

    Only prefixes of at most ``max_prefix_fraction`` of the nodes whose ops can
    all run on windows are returned, in node order.
    """
    consumers = graph.consumer_map()
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    limit = max(1, int(len(graph.nodes) * max_prefix_fraction))
    points: list[str] = []
    open_tensors: set[str] = {i for i in graph.inputs if consumers.get(i)}
    for k, node in enumerate(graph.nodes[:limit]):
        try:
            check_patchable(graph, [node])
        except NotPatchable:
            break
        for name in node.inputs:
            if name in open_tensors and all(index[c.name] <= k for c in consumers.get(name, [])):
                open_tensors.discard(name)
        for name in node.outputs:
            if consumers.get(name) or name in graph.outputs:
                open_tensors.add(name)
        if len(open_tensors) != 1:
            continue
        (split,) = open_tensors
        if split in graph.outputs or split not in node.outputs or graph.tensors[split].shape[1] < 2:
            continue
        if len(stage_nodes(graph, split)) == k + 1:
            points.append(split)
    return points


# -- sub-graphs ------------------------------------------------------------------------------------


def rest_graph(graph: Graph, split: str) -> Graph:
    """The nodes after the stage, reading ``split`` as their input."""
    stage = {n.name for n in stage_nodes(graph, split)}
    nodes = [n.copy() for n in graph.nodes if n.name not in stage]
    used = {split, *graph.outputs} | {t for n in nodes for t in [*n.inputs, *n.outputs] if t}
    tensors = {name: graph.tensors[name] for name in used}
    return Graph(f"{graph.name}.rest", tensors, nodes, [split], list(graph.outputs))


def patch_buffer_graph(graph: Graph, stage: PatchStage) -> Graph:
    """The stage with every tensor sized to its largest per-patch region, for planning one patch."""
    nodes = [graph.node(name).copy() for name in stage.nodes]
    tensors: dict[str, Tensor] = {}
    for node in nodes:
        for name in [*node.inputs, *node.outputs]:
            if not name or name in tensors:
                continue
            t = graph.tensors[name]
            if t.is_const:
                tensors[name] = t
                continue
            pixels = max(p.regions[name].area for p in stage.patches if name in p.regions) if stage.patches else 0
            tensors[name] = Tensor(name, (1, 1, max(pixels, 1), t.shape[3]), t.dtype)
    return Graph(f"{graph.name}.patch", tensors, nodes, list(stage.inputs), [stage.split])


def _inplace_safe_in_every_patch(stage: PatchStage):
    """An element-wise op may overwrite its input only where, in every patch, it reads the whole region."""
    by_node = {}
    for patch in stage.patches:
        for op in patch.ops:
            by_node.setdefault(op.node, []).append((patch, op))

    def allow(node: Node, source: str) -> bool:
        if node.op == "depthwise_conv2d":
            return False
        for patch, op in by_node.get(node.name, []):
            for name, win in zip(node.inputs, op.inputs):
                if name == source and (win != patch.regions.get(source) or win != op.output):
                    return False
        return True

    return allow


# -- candidates ------------------------------------------------------------------------------------


def patch_candidate(
    graph: Graph, split: str, grid: tuple[int, int], rest: ArenaPlan, alignment: int, layer_macs: int
) -> Candidate:
    stage = analyze_patches(graph, split, grid)
    patch_plan = plan_arena(
        patch_buffer_graph(graph, stage), alignment=alignment, inplace_filter=_inplace_safe_in_every_patch(stage)
    )
    split_bytes = graph.tensors[split].nbytes
    split_offset = rest.offsets[split]
    patch_base = 0 if patch_plan.size <= split_offset else align_up(split_offset + split_bytes, alignment)
    stage_peak = max(patch_base + patch_plan.size, split_offset + split_bytes)
    rest_macs = layer_macs - stage.layer_macs
    return Candidate(
        split=split,
        grid=tuple(grid),
        peak=max(stage_peak, rest.size),
        macs=stage.macs + rest_macs,
        layer_macs=layer_macs,
        rest_plan=rest,
        stage=stage,
        patch_plan=patch_plan,
        patch_base=patch_base,
        stage_peak=stage_peak,
    )


def search_schedules(
    graph: Graph,
    sram_budget: int | None = None,
    alignment: int = 16,
    grids: tuple[int, ...] = DEFAULT_GRIDS,
    max_prefix_fraction: float = 0.5,
    inplace_depthwise: bool = False,
    stream_residual: bool | None = None,
    stream_rows: bool | None = None,
) -> list[Candidate]:
    """Layer by layer first, then every (split point, n x n grid) candidate.

    ``sram_budget`` only prunes: patch candidates whose rest phase alone
    exceeds it are not expanded into grids (they cannot fit).
    ``inplace_depthwise`` and ``stream_residual`` (None: ``STREAM_RESIDUAL``,
    as builds plan) and ``stream_rows`` (None: ``STREAM_ROWS``) are passed to
    the layer-by-layer plans (whole graph and rest); per-patch buffers never use them.
    """
    if stream_residual is None:
        stream_residual = STREAM_RESIDUAL
    if stream_rows is None:
        stream_rows = STREAM_ROWS
    layer_plan = plan_arena(
        graph,
        alignment=alignment,
        inplace_depthwise=inplace_depthwise,
        stream_residual=stream_residual,
        stream_rows=stream_rows,
    )
    layer_macs = sum(macs(graph, n) for n in graph.nodes)
    candidates = [Candidate(None, (1, 1), layer_plan.size, layer_macs, layer_macs, layer_plan, stage_peak=0)]
    pruned: list[tuple[str, ArenaPlan]] = []

    def expand(split: str, rest_plan: ArenaPlan) -> None:
        _, height, width, _ = graph.tensors[split].shape
        for n in grids:
            if n > height or n > width:
                continue
            candidates.append(patch_candidate(graph, split, (n, n), rest_plan, alignment, layer_macs))

    for split in split_points(graph, max_prefix_fraction):
        rest = rest_graph(graph, split)
        rest_plan = plan_arena(
            rest,
            alignment=alignment,
            external=set(graph.outputs),
            inplace_depthwise=inplace_depthwise,
            stream_residual=stream_residual,
            stream_rows=stream_rows,
        )
        if sram_budget is not None and rest_plan.size > sram_budget:
            pruned.append((split, rest_plan))
            continue
        expand(split, rest_plan)
    if pruned and not any(c.peak <= sram_budget for c in candidates):
        # Nothing fits: expand the pruned splits too, so the error names the true smallest peak.
        for split, rest_plan in pruned:
            expand(split, rest_plan)
    return candidates


def pareto(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates no other beats on both peak and MACs, by increasing peak."""
    front: list[Candidate] = []
    for cand in sorted(candidates, key=lambda c: (c.peak, c.macs)):
        if not front or cand.macs < front[-1].macs:
            front.append(cand)
    return front


def choose_schedule(candidates: list[Candidate], budget: int | None = None) -> Candidate:
    """The fewest-MAC candidate whose peak fits ``budget`` (None: the smallest peak).

    Layer by layer has the fewest MACs, so it wins whenever it fits; patching
    is only chosen when it lowers the peak.  Raises ``BuildError`` when
    nothing fits.
    """
    if not candidates:
        raise ValueError("no candidates")
    layer = next((c for c in candidates if not c.is_patch), None)
    if budget is None:
        best = min(candidates, key=lambda c: (c.peak, c.macs))
        return layer if layer is not None and layer.peak <= best.peak else best
    fitting = [c for c in candidates if c.peak <= budget]
    if not fitting:
        best = min(candidates, key=lambda c: (c.peak, c.macs))
        raise BuildError(
            f"no schedule fits the SRAM budget of {budget} B: the smallest activation peak found is {best.peak} B "
            f"({best.describe()}) — raise the budget (--sram-budget), pick a target with more SRAM or use a smaller model"
        )
    return min(fitting, key=lambda c: (c.macs, c.peak, c.is_patch))


def format_candidates(candidates: list[Candidate]) -> str:
    """A table of candidates (schedule, peak, MACs, overhead) for humans."""
    lines = [f"{'schedule':<40} {'peak B':>10} {'MACs':>12} {'overhead':>9}"]
    for c in candidates:
        name = "layer-by-layer" if not c.is_patch else f"{c.grid[0]}x{c.grid[1]} patches -> {c.split}"
        lines.append(f"{name:<40} {c.peak:>10} {c.macs:>12} {100 * c.mac_overhead:>8.1f}%")
    return "\n".join(lines)
