"""Small graph-surgery helpers shared by the optimisation passes."""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.ir.tensor import Tensor


def same_encoding(a: Tensor, b: Tensor) -> bool:
    """True when two tensors hold values the same way (dtype and quantization)."""
    if a.dtype != b.dtype or a.is_quantized != b.is_quantized:
        return False
    if not a.is_quantized:
        return True
    return (
        np.array_equal(a.scale, b.scale)
        and np.array_equal(a.zero_point, b.zero_point)
        and (a.axis == b.axis or not a.per_channel)
    )


def replace_input(graph: Graph, old: str, new: str) -> None:
    """Make every node that reads ``old`` read ``new`` instead."""
    for node in graph.nodes:
        node.inputs = [new if i == old else i for i in node.inputs]


def only_consumer(graph: Graph, tensor: str) -> Node | None:
    """The single node reading ``tensor`` if exactly one does and it is not a graph output."""
    if tensor in graph.outputs:
        return None
    consumers = graph.consumers(tensor)
    return consumers[0] if len(consumers) == 1 else None


def bypass(graph: Graph, node: Node) -> bool:
    """Remove a node whose output equals its first input; False when the graph boundary prevents it."""
    x, y = node.inputs[0], node.outputs[0]
    if not same_encoding(graph.tensors[x], graph.tensors[y]) or graph.tensors[x].shape != graph.tensors[y].shape:
        return False
    if y not in graph.outputs:
        replace_input(graph, y, x)
    else:
        producer = graph.producer(x)
        if producer is None or x in graph.outputs:
            return False
        # y is a graph output: let x's producer write y directly.
        producer.outputs = [y if o == x else o for o in producer.outputs]
        replace_input(graph, x, y)
    graph.nodes = [n for n in graph.nodes if n is not node]
    return True


def new_const(graph: Graph, base: str, data: np.ndarray, like: Tensor | None = None) -> str:
    """Add a constant named after ``base`` (quantization copied from ``like``); return its name."""
    name = graph.unique_name(base)
    quant = {}
    if like is not None and like.is_quantized:
        quant = {"scale": like.scale.copy(), "zero_point": like.zero_point.copy(), "axis": like.axis}
    graph.add_tensor(Tensor(name, data.shape, str(data.dtype), np.ascontiguousarray(data), **quant))
    return name


def unique_node_name(graph: Graph, base: str) -> str:
    names = {n.name for n in graph.nodes}
    name, i = base, 1
    while name in names:
        name = f"{base}_{i}"
        i += 1
    return name
