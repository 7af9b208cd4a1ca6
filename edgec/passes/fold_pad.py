"""Pad folding: a spatial-only constant ``pad`` merges into the padding of the ops that read it.

A zero pad folds into conv2d / depthwise_conv2d (their implicit padding is
zero); a ``-inf`` pad folds into max_pool2d (its padding is ignored).  avg_pool2d
never takes a pad: explicit padded values count in the average, its implicit
padding does not.
"""

from __future__ import annotations

import math

from edgec.ir.graph import Graph, Node
from edgec.passes.graph_rewrite import same_encoding


def _accepts(consumer: Node, tensor: str, value: float) -> bool:
    if not consumer.inputs or consumer.inputs[0] != tensor or tensor in consumer.inputs[1:]:
        return False
    if consumer.op in ("conv2d", "depthwise_conv2d"):
        return value == 0.0
    if consumer.op == "max_pool2d":
        return value == -math.inf
    return False


def fold_pads(graph: Graph) -> Graph:
    g = graph.copy()
    for pad in [n for n in g.nodes if n.op == "pad"]:
        x, y = pad.inputs[0], pad.outputs[0]
        pads = [tuple(p) for p in pad.attrs["pads"]]
        value = float(pad.attrs.get("value", 0.0))
        if len(pads) != 4 or pads[0] != (0, 0) or pads[3] != (0, 0) or y in g.outputs:
            continue
        if not same_encoding(g.tensors[x], g.tensors[y]):
            continue
        consumers = g.consumers(y)
        if not consumers or not all(_accepts(c, y, value) for c in consumers):
            continue
        (top, bottom), (left, right) = pads[1], pads[2]
        for c in consumers:
            t, l_, b, r = c.attrs.get("pad", (0, 0, 0, 0))
            c.attrs["pad"] = (t + top, l_ + left, b + bottom, r + right)
            c.inputs[0] = x
        g.nodes = [n for n in g.nodes if n is not pad]
    return g.prune_tensors()
