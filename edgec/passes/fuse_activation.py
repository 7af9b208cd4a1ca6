"""Activation fusion: relu / relu6 / clip after a fusable op become that op's ``act`` clamp."""

from __future__ import annotations

import math

from edgec.ir.graph import Graph, Node
from edgec.passes.graph_rewrite import only_consumer, same_encoding

FUSABLE = ("conv2d", "depthwise_conv2d", "fully_connected", "add", "sub", "mul", "concat", "max_pool2d", "avg_pool2d")
FUSABLE += ("transpose_conv2d",)


def activation_range(node: Node) -> tuple[float, float] | None:
    """The clamp an activation node applies, or ``None`` if it is not a clamp."""
    if node.op == "relu":
        return (0.0, math.inf)
    if node.op == "relu6":
        return (0.0, 6.0)
    if node.op == "clip":
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
        return (-math.inf if lo is None else float(lo), math.inf if hi is None else float(hi))
    return None


def fuse_activations(graph: Graph) -> Graph:
    g = graph.copy()
    for act in [n for n in g.nodes if activation_range(n) is not None]:
        x = act.inputs[0]
        producer = g.producer(x)
        if producer is None or producer.op not in FUSABLE or only_consumer(g, x) is not act:
            continue
        if not same_encoding(g.tensors[x], g.tensors[act.outputs[0]]):
            continue
        lo, hi = activation_range(act)
        if producer.attrs.get("act") is not None:
            old_lo, old_hi = producer.attrs["act"]
            lo, hi = max(lo, old_lo), min(hi, old_hi)
            if lo > hi:
                continue
        producer.attrs["act"] = (lo, hi)
        producer.outputs = [act.outputs[0] if o == x else o for o in producer.outputs]
        g.nodes = [n for n in g.nodes if n is not act]
    return g.prune_tensors()
