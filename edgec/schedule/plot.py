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
    graph: Graph, layer_plan: ArenaPlan, schedule: Candidate | None, budget: int | None, path: str | Path
) -> Path:
    """Write a PNG of activation bytes per op: layer by layer, ``schedule`` (if any), and the budget line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(range(len(graph.nodes)))
    kib = 1024.0
    fig, ax = plt.subplots(figsize=(max(8.0, 0.18 * len(steps)), 4.5), dpi=120)
    ax.step(
        steps,
        [b / kib for b in layer_plan.per_op_live_bytes],
        where="mid",
        label=f"layer by layer (arena {layer_plan.size / kib:.1f} KiB)",
    )
    if schedule is not None and schedule.is_patch:
        label = f"{schedule.grid[0]}x{schedule.grid[1]} patches up to {schedule.split} (arena {schedule.peak / kib:.1f} KiB, +{100 * schedule.mac_overhead:.1f}% MACs)"
        ax.step(steps, [b / kib for b in schedule_live_bytes(graph, schedule)], where="mid", label=label)
        stage_end = len(schedule.stage.nodes) - 0.5 if schedule.stage else 0
        ax.axvspan(-0.5, stage_end, color="tab:orange", alpha=0.08, label="patch stage")
    if budget is not None:
        ax.axhline(budget / kib, color="tab:red", linestyle="--", label=f"SRAM budget {budget / kib:.1f} KiB")
    ax.set_xlabel("op (execution order)")
    ax.set_ylabel("live activations (KiB)")
    ax.set_title(f"{graph.name}: activation memory per op")
    if len(steps) <= 60:
        ax.set_xticks(steps)
        ax.set_xticklabels([f"{n.op}" for n in graph.nodes], rotation=90, fontsize=6)
    ax.set_xlim(-0.5, len(steps) - 0.5)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
