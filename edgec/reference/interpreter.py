"""The numpy reference interpreter: runs any IR graph, float or int8.

Kernels are looked up by op name in two registries: ``FLOAT_KERNELS`` (ONNX
float semantics, in ``float_ops.py``) and ``INT_KERNELS`` (TFLite reference
integer semantics, in ``int8_ops.py``).  A node runs on the integer registry
when its first output is an integer tensor, or when it is a ``dequantize``.

A kernel is ``fn(graph, node, args) -> np.ndarray | list[np.ndarray]`` where
``args`` holds one array per node input (``None`` for absent optionals).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.graph import Graph, Node

Kernel = Callable[[Graph, Node, list], "np.ndarray | list[np.ndarray]"]

FLOAT_KERNELS: dict[str, Kernel] = {}
INT_KERNELS: dict[str, Kernel] = {}


def float_kernel(*ops: str):
    def deco(fn: Kernel) -> Kernel:
        for op in ops:
            FLOAT_KERNELS[op] = fn
        return fn

    return deco


def int_kernel(*ops: str):
    def deco(fn: Kernel) -> Kernel:
        for op in ops:
            INT_KERNELS[op] = fn
        return fn

    return deco


def _load_kernels() -> None:
    # Imported for their registration side effects.
    from edgec.reference import float_ops, int8_ops  # noqa: F401


def is_integer_node(graph: Graph, node: Node) -> bool:
    return node.op == "dequantize" or graph.tensors[node.outputs[0]].dtype != "float32"


def run(graph: Graph, feeds: dict[str, np.ndarray] | list[np.ndarray] | np.ndarray, keep: bool = False) -> dict[str, np.ndarray]:
    """Execute ``graph`` on ``feeds``; return the graph outputs (or every tensor if ``keep``)."""
    _load_kernels()
    if not isinstance(feeds, dict):
        arrays = [feeds] if isinstance(feeds, np.ndarray) else list(feeds)
        feeds = dict(zip(graph.inputs, arrays))
    env: dict[str, np.ndarray] = {n: t.data for n, t in graph.tensors.items() if t.is_const}
    for name in graph.inputs:
        t = graph.tensors[name]
        if name not in feeds:
            raise EdgecError(f"missing input {name!r} of shape {t.shape}")
        x = np.asarray(feeds[name])
        if x.shape != t.shape or str(x.dtype) != t.dtype:
            raise EdgecError(f"input {name!r} must be {t.dtype}{list(t.shape)}, got {x.dtype}{list(x.shape)}")
        env[name] = x
    for node in graph.nodes:
        table = INT_KERNELS if is_integer_node(graph, node) else FLOAT_KERNELS
        kernel = table.get(node.op)
        if kernel is None:
            kind = "integer" if table is INT_KERNELS else "float"
            raise EdgecError(f"reference interpreter has no {kind} kernel for op {node.op!r} (node {node.name!r})")
        result = kernel(graph, node, [env[i] if i else None for i in node.inputs])
        results = result if isinstance(result, (list, tuple)) else [result]
        for name, value in zip(node.outputs, results):
            t = graph.tensors[name]
            value = np.asarray(value)
            assert value.shape == t.shape, f"{node.name}: {name} shape {value.shape} != {t.shape}"
            env[name] = value.astype(t.dtype, copy=False)
    if keep:
        return env
    return {o: env[o] for o in graph.outputs}
