"""Value-driven patch classification (VDPC): the outlier test and its thresholds.

**Test tensor.**  ``input``: the stage's (first) input; the test then costs
one scan of the patch's input window and no stage op has to stay 8-bit for
it.  ``first``: the output of the first stage op (that op becomes the shared
prefix and its output stays 8-bit).  ``auto`` (the default) takes the input
unless its thresholds classify no calibration patch as an outlier (images
whose every patch holds both the darkest and the brightest pixel value); then
the first stage op output, in stage order, whose thresholds do classify some
patches and that still leaves a map whose sub-byte width saves BitOPs
(saturating outputs, e.g. ReLU6 at 6 in every patch, are passed over) and
whose shared prefix holds at most ``MAX_PREFIX_MACS`` of the stage's MACs
(the prefix runs in int8 on every patch, so a long one caps the BitOPs
reduction).  With none, the stage input (no outlier patches).

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
MAX_PREFIX_MACS = 0.1  # auto: the largest share of the stage's MACs a shared 8-bit prefix may hold


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


def test_candidates(graph: Graph, stage: PatchStage) -> list[str]:
    """Tensors ``auto`` may test, in order: the stage input, then every stage op output but the split."""
    outs = [o for n in stage.nodes for o in graph.node(n).outputs if o != stage.split]
    return list(dict.fromkeys([stage.inputs[0], *outs]))


def _leaves_savings(graph: Graph, stage: PatchStage, tensor: str) -> bool:
    """Whether some map could still go sub-byte and save BitOPs with ``tensor`` as the test tensor."""
    from edgec.ir.ops import macs
    from edgec.mixed.assign import groups

    return any(
        macs(graph, c) > 0
        for g in groups(graph, stage, tensor)
        for m in g
        for c in graph.consumers(m)
        if c.inputs[0] == m
    )


def pick_test(
    graph: Graph, stage: PatchStage, stats: StageStats, names: dict[str, str], fraction: float, test: str
) -> OutlierTest:
    """The outlier test for ``test``: input | first | a tensor name | auto (module docstring)."""
    if test != "auto":
        return choose_test(stats, names.get(test, test), fraction)
    from edgec.mixed.assign import prefix_nodes
    from edgec.mixed.bitops import stage_op_macs

    op_macs = stage_op_macs(graph, stage)
    total = max(sum(op_macs.values()), 1)
    on_input = choose_test(stats, stage.inputs[0], fraction)
    for tensor in test_candidates(graph, stage):
        candidate = on_input if tensor == stage.inputs[0] else choose_test(stats, tensor, fraction)
        if tensor != stage.inputs[0]:
            prefix_share = sum(op_macs[n] for n in prefix_nodes(graph, stage, tensor)) / total
            if prefix_share > MAX_PREFIX_MACS or not _leaves_savings(graph, stage, tensor):
                continue
        if outlier_mask(stats, candidate).any():
            return candidate
    return on_input
