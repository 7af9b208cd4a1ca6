"""Batch-norm folding.

``batch_norm`` after a conv2d / depthwise_conv2d / fully_connected (constant
float weights, no fused activation, sole reader of the intermediate tensor) is
folded into the producer's weights and bias.  Any other ``batch_norm`` with
constant parameters becomes a per-channel ``mul`` + ``add``.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.passes.graph_rewrite import new_const, only_consumer, unique_node_name

FOLDS_INTO = ("conv2d", "depthwise_conv2d", "fully_connected")


def _scale_shift(graph: Graph, bn: Node) -> tuple[np.ndarray, np.ndarray] | None:
    params = [graph.tensors[i] for i in bn.inputs[1:5]]
    if not all(p.is_const and p.dtype == "float32" for p in params):
        return None
    gamma, beta, mean, var = (p.data.astype(np.float64).reshape(-1) for p in params)
    scale = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
    return scale, beta - mean * scale


def _const_float(graph: Graph, name: str) -> bool:
    return bool(name) and graph.tensors[name].is_const and graph.tensors[name].dtype == "float32"


def _fold_into_producer(graph: Graph, bn: Node, scale: np.ndarray, shift: np.ndarray) -> bool:
    x = bn.inputs[0]
    producer = graph.producer(x)
    if producer is None or producer.op not in FOLDS_INTO or producer.attrs.get("act") is not None:
        return False
    if only_consumer(graph, x) is not bn or not _const_float(graph, producer.inputs[1]):
        return False
    bias_name = producer.inputs[2] if len(producer.inputs) > 2 else ""
    if bias_name and not _const_float(graph, bias_name):
        return False
    w = graph.tensors[producer.inputs[1]].data.astype(np.float64)
    channel_axis = 3 if producer.op == "depthwise_conv2d" else 0
    if w.shape[channel_axis] != scale.size:
        return False
    shape = [1] * w.ndim
    shape[channel_axis] = scale.size
    new_w = (w * scale.reshape(shape)).astype(np.float32)
    bias = graph.tensors[bias_name].data.astype(np.float64) if bias_name else np.zeros(scale.size)
    new_b = (bias * scale + shift).astype(np.float32)
    inputs = producer.inputs + [""] * (3 - len(producer.inputs))
    inputs[1] = new_const(graph, f"{producer.inputs[1]}_bn", new_w)
    inputs[2] = new_const(graph, f"{bias_name or producer.name + '_bias'}_bn", new_b)
    producer.inputs = inputs
    producer.outputs = [bn.outputs[0]]
    graph.nodes = [n for n in graph.nodes if n is not bn]
    return True


def _to_scale_shift(graph: Graph, bn: Node, scale: np.ndarray, shift: np.ndarray) -> None:
    x, y = bn.inputs[0], bn.outputs[0]
    scaled = graph.unique_name(f"{y}_scaled")
    scaled_tensor = graph.tensors[y].copy()
    scaled_tensor.name = scaled
    graph.add_tensor(scaled_tensor)
    mul = Node(unique_node_name(graph, f"{bn.name}_scale"), "mul",
               [x, new_const(graph, f"{bn.name}_scale", scale.astype(np.float32))], [scaled], {"act": None})
    add = Node(unique_node_name(graph, f"{bn.name}_shift"), "add",
               [scaled, new_const(graph, f"{bn.name}_shift", shift.astype(np.float32))], [y], {"act": None})
    index = graph.nodes.index(bn)
    graph.nodes[index : index + 1] = [mul, add]


def fold_batch_norm(graph: Graph) -> Graph:
    g = graph.copy()
    for bn in [n for n in g.nodes if n.op == "batch_norm"]:
        if g.tensors[bn.outputs[0]].dtype != "float32":
            continue
        params = _scale_shift(g, bn)
        if params is None:
            continue
        if not _fold_into_producer(g, bn, *params):
            _to_scale_shift(g, bn, *params)
    return g.prune_tensors()
