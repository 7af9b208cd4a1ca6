"""Constant folding: float nodes whose inputs are all constants become constants.

Nodes are evaluated with the float reference kernels.  ``quantize`` and
``dequantize`` are never folded, so QDQ patterns on weights survive for the
QDQ lifting pass; nodes producing graph outputs are kept.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node

NEVER_FOLD = {"quantize", "dequantize"}


def _foldable(graph: Graph, node: Node) -> bool:
    inputs = [graph.tensors[i] for i in node.inputs if i]
    outputs = [graph.tensors[o] for o in node.outputs]
    return (
        node.op not in NEVER_FOLD
        and bool(inputs)
        and all(t.is_const and t.dtype == "float32" and not t.is_quantized for t in inputs)
        and all(t.dtype == "float32" and not t.is_quantized and t.name not in graph.outputs for t in outputs)
    )


def fold_constants(graph: Graph) -> Graph:
    from edgec.reference import float_ops  # noqa: F401 - registers the float kernels
    from edgec.reference.interpreter import FLOAT_KERNELS

    g = graph.copy()
    kept = []
    for node in g.nodes:
        kernel = FLOAT_KERNELS.get(node.op)
        if kernel is None or not _foldable(g, node):
            kept.append(node)
            continue
        result = kernel(g, node, [g.tensors[i].data if i else None for i in node.inputs])
        results = result if isinstance(result, (list, tuple)) else [result]
        for name, value in zip(node.outputs, results):
            t = g.tensors[name]
            t.data = np.ascontiguousarray(np.asarray(value, dtype=np.float32).reshape(t.shape))
    g.nodes = kept
    return g.prune_tensors()
