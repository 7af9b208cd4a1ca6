"""The build's mixed-precision step (`edgec build --precision mixed`).

Mixed precision lowers feature maps of the **patch stage** only, so it needs
a plan with a patch stage and calibration data (the VDPC thresholds and the
entropy statistics come from it).  When the plan has no patch stage (the
schedule search chose layer by layer, or ``--schedule layer``) or the
target's back end has no sub-byte kernels (TVM targets), the build says so in
one progress note and goes on as an int8 build; its build.json ``precision``
reads ``{"mode": "int8", "requested": "mixed", "reason": ...}``.
"""

from __future__ import annotations

from pathlib import Path

from edgec.errors import EdgecError
from edgec.ir.graph import Graph
from edgec.mixed.plan import MixedPrecision
from edgec.progress import QUIET, Progress

NO_CALIB = (
    "--precision mixed needs calibration data for the outlier thresholds and the bit-width search: pass --calib FILE"
)


def check_lambda(value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise EdgecError(f"--mixed-lambda must lie in [0, 1] (0: fewest BitOPs, 1: all 8-bit), got {value}")


def int8_fallback_reason(plan, target) -> str | None:
    """Why a mixed build falls back to int8, or None when it can go mixed."""
    if getattr(target, "uses_tvm", False):
        return f"target {target.name} uses the TVM back end, which has no sub-byte kernels"
    if plan.stage is None:
        return "the schedule has no patch stage (mixed precision lowers patch-stage feature maps; try --schedule patch --split OP --patches N)"
    return None


def mixed_for_build(
    graph: Graph, plan, target, calib: Path, mixed_lambda: float | None, progress: Progress = QUIET
) -> MixedPrecision:
    """Run VDPC + VDQS on ``plan``'s patch stage with the calibration data at ``calib``; when no patch can
    take the int8 variant and the plan came from the schedule search (an SRAM budget), move ``plan``
    to the coarsest grid its packed maps fit (``grid.py``)."""
    from edgec.calibration import load_calibration
    from edgec.mixed.grid import apply_grid
    from edgec.mixed.search import DEFAULT_LAMBDA, MAX_SAMPLES, samples_to_int8, search_mixed

    lam = DEFAULT_LAMBDA if mixed_lambda is None else mixed_lambda
    samples = samples_to_int8(graph, load_calibration(calib, graph)[:MAX_SAMPLES])
    with progress.step(f"mixed-precision search (lambda {lam:g}, {len(samples)} calibration samples)"):
        mixed = search_mixed(graph, plan.stage, samples, lam)
    mixed = apply_grid(graph, plan, mixed, plan.details.get("budget_bytes"))
    if mixed.report["grid"] != mixed.report["grid_int8"]:
        gh, gw = mixed.report["grid"]
        progress.note(
            f"mixed: packed maps fit a {gh}x{gw} patch grid under the SRAM budget "
            f"({plan.arena_size} B; int8 needs {mixed.report['grid_int8'][0]}x{mixed.report['grid_int8'][1]})"
        )
    progress.note(summary_line(mixed.report))
    return mixed


def summary_line(precision: dict) -> str:
    """One line on a precision section: widths, BitOPs ratios, outlier fraction, search time."""
    if precision.get("mode") != "mixed":
        text = "int8"
        if precision.get("requested") == "mixed":
            text += f" (mixed requested: {precision.get('reason')})"
        return text
    bits = precision["bits"]
    counts = {b: sum(1 for v in bits.values() if v == b) for b in (8, 4, 2)}
    stage = precision["stage_bitops_int8"] / max(precision["stage_bitops"], 1)
    whole = precision["bitops_int8"] / max(precision["bitops"], 1)
    return (
        f"mixed: stage maps {counts[8]}x8/{counts[4]}x4/{counts[2]}x2 bits, "
        f"{len(precision.get('weight_bits', {}))} ops with int4 weight values, BitOPs {stage:.2f}x fewer in the stage "
        f"({whole:.2f}x whole), outlier patches {100 * precision['outlier_patch_fraction']:.1f}%, "
        f"lambda {precision['mixed_lambda']:g}, search {precision['search_seconds']:.1f} s"
    )
