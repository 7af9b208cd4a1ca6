"""Transpose folding.

* transposes with the identity permutation disappear; consecutive transposes
  merge into one (and disappear when they cancel);
* ``transpose -> reshape -> [element-wise ops] -> fully_connected`` (what the
  ONNX frontend emits for Flatten of an NCHW tensor) loses the transpose: the
  fully-connected weight columns are permuted instead, so the FC reads the
  NHWC elements in place.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.passes.graph_rewrite import bypass, new_const, only_consumer

# Ops that act on each element alone, the same way for every element (per-tensor parameters).
ORDER_AGNOSTIC = {
    "relu", "relu6", "clip", "leaky_relu", "logistic", "tanh", "hard_swish", "hard_sigmoid",
    "identity", "dropout", "quantize", "dequantize",
}


def _is_identity(perm) -> bool:
    return tuple(perm) == tuple(range(len(perm)))


def _merge_pairs(g: Graph) -> bool:
    for node in g.nodes:
        if node.op != "transpose":
            continue
        if _is_identity(node.attrs["perm"]):
            if bypass(g, node):
                return True
            continue
        inner = g.producer(node.inputs[0])
        if inner is None or inner.op != "transpose":
            continue
        first, second = inner.attrs["perm"], node.attrs["perm"]
        middle = node.inputs[0]
        node.inputs[0] = inner.inputs[0]
        node.attrs["perm"] = tuple(first[p] for p in second)
        if not g.consumers(middle) and middle not in g.outputs:
            g.nodes = [n for n in g.nodes if n is not inner]
        return True
    return False


def _flatten_readers(g: Graph, tensor: str, numel: int) -> list[Node] | None:
    """The fully_connected nodes that read ``tensor`` as one flat vector, through order-agnostic ops only."""
    if tensor in g.outputs:
        return None
    found: list[Node] = []
    for c in g.consumers(tensor):
        if c.op == "fully_connected" and c.inputs[0] == tensor and tensor not in c.inputs[1:]:
            if g.tensors[c.inputs[1]].shape[1] != numel:
                return None
            found.append(c)
        elif c.op in ORDER_AGNOSTIC and not g.tensors[c.inputs[0]].per_channel and not g.tensors[c.outputs[0]].per_channel:
            deeper = _flatten_readers(g, c.outputs[0], numel)
            if deeper is None:
                return None
            found.extend(deeper)
        else:
            return None
    return found or None


def _permute_columns(g: Graph, fc: Node, order: np.ndarray) -> bool:
    """Reorder the weight columns of ``fc``: new[:, order[j]] = old[:, j]. False if weights are not constant."""
    w_name = fc.inputs[1]
    target = w_name
    dequant = g.producer(w_name)
    if dequant is not None:
        if dequant.op != "dequantize" or only_consumer(g, w_name) is not fc:
            return False
        target = dequant.inputs[0]
    t = g.tensors[target]
    if not t.is_const or (t.per_channel and t.axis != 0):
        return False
    permuted = np.empty_like(t.data)
    permuted[:, order] = t.data
    name = new_const(g, f"{target}_nhwc", permuted, like=t)
    if dequant is not None:
        dequant.inputs[0] = name
    else:
        fc.inputs[1] = name
    return True


def _fold_into_fc(g: Graph) -> bool:
    for tr in g.nodes:
        if tr.op != "transpose":
            continue
        reshape = only_consumer(g, tr.outputs[0])
        if reshape is None or reshape.op != "reshape":
            continue
        src_shape = g.tensors[tr.inputs[0]].shape
        numel = math.prod(src_shape)
        readers = _flatten_readers(g, reshape.outputs[0], numel)
        if not readers:
            continue
        # out_to_in[j]: the source element that lands at flat position j after the transpose.
        out_to_in = np.arange(numel).reshape(src_shape).transpose(tr.attrs["perm"]).reshape(-1)
        if not all(_weights_permutable(g, fc) for fc in readers):
            continue
        for fc in readers:
            _permute_columns(g, fc, out_to_in)
        reshape.inputs[0] = tr.inputs[0]
        g.nodes = [n for n in g.nodes if n is not tr]
        return True
    return False


def _weights_permutable(g: Graph, fc: Node) -> bool:
    w_name = fc.inputs[1]
    dequant = g.producer(w_name)
    if dequant is None:
        return g.tensors[w_name].is_const
    if dequant.op != "dequantize" or only_consumer(g, w_name) is not fc:
        return False
    t = g.tensors[dequant.inputs[0]]
    return t.is_const and (not t.per_channel or t.axis == 0)


def fold_transposes(graph: Graph) -> Graph:
    g = graph.copy()
    while _merge_pairs(g) or _fold_into_fc(g):
        pass
    return g.prune_tensors()
