"""Value-driven patch classification (VDPC): the outlier test and its thresholds.

**Test tensor.**  ``input``: the stage's (first) input; the test then costs
one scan of the patch's input window and no stage op has to stay 8-bit for
it.  ``first``: the output of the first stage op (that op becomes the shared
prefix and its output stays 8-bit).  ``auto`` (the default) takes the input
unless its thresholds classify no calibration patch as an outlier (images
whose every patch holds both the darkest and the brightest pixel value) while
the first op's output does and leaves a map to lower; then ``first``.

**Thresholds.**  For every calibration (sample, patch) pair the minimum and
maximum int8 value of the test tensor in the patch's region are known
(``StageStats``).  For a target outlier fraction ``f``, ``hi`` is the
``1 - f/2`` quantile of the patch maxima and ``lo`` the ``f/2`` quantile of
the patch minima (rounded outward, so a patch is an outlier only when a value
lies strictly outside ``[lo, hi]``).  At most about ``f`` of the calibration
patches are outliers; the measured fraction is what is reported.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph
from edgec.mixed.plan import OutlierTest
from edgec.mixed.stats import StageStats
from edgec.schedule.patch import PatchStage

DEFAULT_OUTLIER_FRACTION = 0.1


def test_tensor(graph: Graph, stage: PatchStage, test: str = "input") -> str:
    """The tensor a test mode names: ``input``, ``first``, or a stage tensor's own name."""
    if test == "input":
        return stage.inputs[0]
    if test == "first":
        return graph.node(stage.nodes[0]).outputs[0]
    stage_outputs = {o for n in stage.nodes for o in graph.node(n).outputs} - {stage.split}
    if test in stage_outputs or test in stage.inputs:
        return test
    raise ValueError(f"unknown VDPC test {test!r} (input, first or a stage tensor)")


def choose_test(stats: StageStats, tensor: str, fraction: float) -> OutlierTest:
    pmin, pmax = stats.patch_min[tensor].reshape(-1), stats.patch_max[tensor].reshape(-1)
    if fraction <= 0:
        return OutlierTest(tensor, int(pmin.min()), int(pmax.max()))
    lo = int(np.floor(np.quantile(pmin, fraction / 2, method="lower")))
    hi = int(np.ceil(np.quantile(pmax, 1 - fraction / 2, method="higher")))
    return OutlierTest(tensor, lo, hi)


def outlier_mask(stats: StageStats, test: OutlierTest) -> np.ndarray:
    """[samples, patches] True where the calibration patch is an outlier patch."""
    return (stats.patch_min[test.tensor] < test.lo) | (stats.patch_max[test.tensor] > test.hi)


def pick_test(
    graph: Graph, stage: PatchStage, stats: StageStats, names: dict[str, str], fraction: float, test: str
) -> OutlierTest:
    """The outlier test for ``test`` in input | first | auto (module docstring)."""
    from edgec.mixed.assign import groups

    if test != "auto":
        return choose_test(stats, names.get(test, test), fraction)
    on_input = choose_test(stats, names["input"], fraction)
    if outlier_mask(stats, on_input).any() or names["first"] == names["input"]:
        return on_input
    on_first = choose_test(stats, names["first"], fraction)
    if outlier_mask(stats, on_first).any() and groups(graph, stage, names["first"]):
        return on_first
    return on_input
