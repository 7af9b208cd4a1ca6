"""BitOPs of a schedule: sum over ops of MACs x weight bits x input activation bits.

MACs are the scheduled ones: in the patch stage, each op's MACs summed over
the patches on their output windows (recomputed halos included); after the
stage, the layer-by-layer MACs.  Weights are 8 bits, or 4 for a stage op the
search gave int4 weight values (mixed variant only, ``weights.py``); the
activation width is the bits of the op's first input.  In a mixed build a
stage op runs in the int8 variant on outlier patches and in the mixed variant
on the others, so its BitOPs are weighted by the calibration outlier fraction
``f``: ``MACs x (f x 8 x 8 + (1 - f) x bits_w x bits_in)``.  Only conv2d, depthwise_conv2d and
fully_connected have MACs (``edgec.ir.ops``).
"""

from __future__ import annotations

from edgec.ir.graph import Graph
from edgec.ir.ops import macs
from edgec.schedule.patch import PatchStage

WEIGHT_BITS = 8


def stage_op_macs(graph: Graph, stage: PatchStage) -> dict[str, int]:
    """Each stage op's MACs summed over the patches."""
    total = dict.fromkeys(stage.nodes, 0)
    for patch in stage.patches:
        for op in patch.ops:
            node = graph.node(op.node)
            _, oh, ow, _ = graph.tensors[node.outputs[0]].shape
            total[op.node] += macs(graph, node) * op.output.area // (oh * ow)
    return total


def input_bits(graph: Graph, node_name: str, bits: dict[str, int]) -> int:
    node = graph.node(node_name)
    return bits.get(node.inputs[0], 8)


def stage_bitops(
    graph: Graph,
    stage: PatchStage,
    bits: dict[str, int],
    outlier_fraction: float,
    weight_bits: dict[str, int] | None = None,
    op_macs: dict[str, int] | None = None,
) -> float:
    """Patch-stage BitOPs with maps at ``bits`` and ops' weights at ``weight_bits`` on non-outlier
    patches (all 8 on outlier patches)."""
    f = outlier_fraction
    wb = weight_bits or {}
    op_macs = stage_op_macs(graph, stage) if op_macs is None else op_macs
    return sum(
        m * (f * WEIGHT_BITS * 8 + (1 - f) * wb.get(n, WEIGHT_BITS) * input_bits(graph, n, bits))
        for n, m in op_macs.items()
    )


def rest_bitops(graph: Graph, stage: PatchStage) -> int:
    in_stage = set(stage.nodes)
    return sum(macs(graph, n) * WEIGHT_BITS * 8 for n in graph.nodes if n.name not in in_stage)


def report(
    graph: Graph,
    stage: PatchStage,
    bits: dict[str, int],
    outlier_fraction: float,
    weight_bits: dict[str, int] | None = None,
) -> dict:
    """The BitOPs fields of build.json ``precision`` (integers)."""
    stage_mixed = round(stage_bitops(graph, stage, bits, outlier_fraction, weight_bits))
    stage_int8 = round(stage_bitops(graph, stage, {}, 0.0))
    rest = rest_bitops(graph, stage)
    return {
        "bitops": stage_mixed + rest,
        "bitops_int8": stage_int8 + rest,
        "stage_bitops": stage_mixed,
        "stage_bitops_int8": stage_int8,
    }
