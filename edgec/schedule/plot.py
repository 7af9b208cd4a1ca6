"""Memory-over-time plot: layer by layer vs the chosen schedule, with the SRAM budget."""

from __future__ import annotations

from pathlib import Path

from edgec.ir.graph import Graph
from edgec.schedule.arena import ArenaPlan
from edgec.schedule.split_search import Candidate


def schedule_live_bytes(graph: Graph, schedule: Candidate) -> list[int]:
    """Activation bytes in use at each op of ``graph`` under ``schedule``.

    For a patch stage op: the split tensor being filled plus that op's live
    per-patch buffers (largest patch); after the stage: the rest plan.
    """
    if not schedule.is_patch:
        return list(schedule.rest_plan.per_op_live_bytes)
    assert schedule.stage is not None and schedule.patch_plan is not None
    stage_index = {name: i for i, name in enumerate(schedule.stage.nodes)}
    split_bytes = graph.tensors[schedule.split].nbytes
    rest_live = iter(schedule.rest_plan.per_op_live_bytes)
    live = []
    for node in graph.nodes:
        if node.name in stage_index:
            live.append(split_bytes + schedule.patch_plan.per_op_live_bytes[stage_index[node.name]])
        else:
            live.append(next(rest_live))
    return live


def plot_memory(
    graph: Graph,
    layer_plan: ArenaPlan,
    schedule: Candidate | None,
    budget: int | None,
    path: str | Path,
    title: str | None = None,
    budget_label: str = "SRAM budget",
    plain_plan: ArenaPlan | None = None,
    bits: dict[str, int] | None = None,
    packed: bool = False,
) -> Path:
    """Write a PNG of live activation KiB per op: layer by layer, ``schedule`` (if a patch one), the budget line.

    ``plain_plan``: layer by layer with whole tensors (no row-streamed
    segments), drawn in grey when it differs from ``layer_plan``.  Horizontal
    dotted lines mark each schedule's arena size (its peak, alignment and
    placement gaps included); the shaded span is the patch stage.
    ``bits``: a mixed build's widths per stage map; stage ops writing a
    sub-byte map get their width on the tick label (``conv/4b``) and the
    legend counts the widths.  ``packed``: ``schedule`` is a mixed stage on its own grid, its
    per-patch buffers sized for the packed maps (``edgec/mixed/grid.py``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(range(len(graph.nodes)))
    kib = 1024.0
    fig, ax = plt.subplots(figsize=(min(max(9.0, 0.16 * len(steps)), 18.0), 5.0), dpi=130)
    layer_label = f"layer by layer: arena {layer_plan.size / kib:,.1f} KiB"
    top = layer_plan.size
    if plain_plan is not None and plain_plan.size != layer_plan.size:
        plain = [b / kib for b in plain_plan.per_op_live_bytes]
        label = f"layer by layer, whole tensors: arena {plain_plan.size / kib:,.1f} KiB"
        ax.step(steps, plain, where="mid", color="tab:gray", lw=1.6, alpha=0.7, label=label)
        ax.axhline(plain_plan.size / kib, color="tab:gray", lw=0.8, ls=":")
        layer_label = (
            f"layer by layer, row-streamed segments: arena {layer_plan.size / kib:,.1f} KiB "
            f"({plain_plan.size / layer_plan.size:.1f}x smaller, +0% MACs)"
        )
        top = max(top, plain_plan.size)
    line = ax.step(steps, [b / kib for b in layer_plan.per_op_live_bytes], where="mid", color="tab:blue", lw=2.8, alpha=0.8, label=layer_label)
    ax.axhline(layer_plan.size / kib, color=line[0].get_color(), lw=0.8, ls=":")
    if schedule is not None and schedule.is_patch:
        live = schedule_live_bytes(graph, schedule)
        label = (
            f"{schedule.grid[0]}x{schedule.grid[1]} patches, then layer by layer: arena {schedule.peak / kib:,.1f} KiB "
            f"({layer_plan.size / schedule.peak:.1f}x smaller, +{100 * schedule.mac_overhead:.0f}% MACs)"
        )
        line = ax.step(steps, [b / kib for b in live], where="mid", color="tab:orange", lw=1.4, label=label)
        ax.axhline(schedule.peak / kib, color=line[0].get_color(), lw=0.8, ls=":")
        stage_end = len(schedule.stage.nodes) - 0.5 if schedule.stage else -0.5
        _, h, w, c = graph.tensors[schedule.split].shape
        stage_label = f"patch stage ({len(schedule.stage.nodes)} ops, ends at a {h}x{w}x{c} tensor)"
        if bits:
            low = [b for b in bits.values() if b < 8]
            stage_label += (
                f"; mixed: {low.count(4)} maps at 4 bits, {low.count(2)} at 2 bits"
                + (" on every patch (packed per-patch buffers)" if packed else " on non-outlier patches (per-patch buffers sized for int8)")
            )
        ax.axvspan(-0.5, stage_end, color="tab:orange", alpha=0.10, label=stage_label)
        top = max(top, schedule.peak)
    if budget is not None:
        ax.axhline(budget / kib, color="tab:red", linestyle="--", lw=1.2, label=f"{budget_label} {budget / kib:,.1f} KiB")
        top = max(top, budget) if budget < 4 * top else top
    ax.set_xlabel("op (execution order)")
    ax.set_ylabel("live activations (KiB)")
    ax.set_title(f"{title or graph.name}: activation memory per op (I/O buffers excluded)")
    if len(steps) <= 90:
        ax.set_xticks(steps)
        widths = bits or {}
        labels = [
            n.op.replace("_conv2d", "") + (f"/{widths[n.outputs[0]]}b" if widths.get(n.outputs[0], 8) < 8 else "")
            for n in graph.nodes
        ]
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_xlim(-0.5, len(steps) - 0.5)
    ax.set_ylim(0, top / kib * 1.12)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
