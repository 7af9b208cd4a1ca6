"""Slice folding: whole-tensor slices disappear, a slice of a slice becomes one slice, repeats are shared.

Exporters write multi-axis indexing as one slice per axis (``x[:, 1:3, 1:, ::2]``
is three ONNX ``Slice`` nodes) and sometimes slices that keep everything.  A
slice only copies values, so ``slice(slice(x))`` reads
``begin1 + (begin2 + i * stride2) * stride1`` of ``x`` per dimension: one
slice with ``begin = begin1 + begin2 * stride1`` and ``stride = stride1 *
stride2``.  The inner slice is dropped when nothing else reads it.  Two
slices of the same tensor with the same attributes (``torch.chunk`` and
``torch.split`` of one tensor often cut the same piece) become one.  All of
this is exact for float and int8 graphs (slices share their input's
quantization).
"""

from __future__ import annotations

from edgec.ir.graph import Graph, Node
from edgec.passes.graph_rewrite import bypass, replace_input, same_encoding


def _is_whole(graph: Graph, node: Node) -> bool:
    shape = graph.tensors[node.inputs[0]].shape
    a = node.attrs
    return tuple(a["size"]) == shape and not any(a["begin"]) and all(s == 1 for s in a["strides"])


def _merge_into(graph: Graph, node: Node) -> bool:
    """Make ``node`` (a slice of a slice) read the inner slice's input directly."""
    inner = graph.producer(node.inputs[0])
    if inner is None or inner.op != "slice":
        return False
    middle = node.inputs[0]
    if not same_encoding(graph.tensors[inner.inputs[0]], graph.tensors[middle]):
        return False
    b1, s1 = inner.attrs["begin"], inner.attrs["strides"]
    b2, s2 = node.attrs["begin"], node.attrs["strides"]
    node.attrs["begin"] = tuple(x + y * s for x, y, s in zip(b1, b2, s1))
    node.attrs["strides"] = tuple(x * y for x, y in zip(s1, s2))
    node.inputs[0] = inner.inputs[0]
    if not graph.consumers(middle) and middle not in graph.outputs:
        graph.nodes = [n for n in graph.nodes if n is not inner]
    return True


def _share_repeat(graph: Graph, node: Node) -> bool:
    """Let the readers of ``node`` read an earlier identical slice instead; drop ``node``."""
    y = node.outputs[0]
    if y in graph.outputs:
        return False
    for other in graph.nodes:
        if other is node:
            return False
        if other.op == "slice" and other.inputs == node.inputs and other.attrs == node.attrs:
            if not same_encoding(graph.tensors[other.outputs[0]], graph.tensors[y]):
                continue
            replace_input(graph, y, other.outputs[0])
            graph.nodes = [n for n in graph.nodes if n is not node]
            return True
    return False


def fold_slices(graph: Graph) -> Graph:
    g = graph.copy()
    changed = True
    while changed:
        changed = False
        for node in list(g.nodes):
            if node.op != "slice":
                continue
            if _is_whole(g, node) and bypass(g, node):
                changed = True
                break
            if _merge_into(g, node) or _share_repeat(g, node):
                changed = True
                break
    return g.prune_tensors()
