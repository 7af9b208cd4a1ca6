"""What an op lowering sees: its node, placeholders for its arguments, and a place for constants.

An op lowering (``te_ops``) asks the ``KernelBuilder`` for a placeholder per
operand: ``activation(name)`` for a tensor of the graph (an activation, or a
graph constant used as is) and ``constant(key, array)`` for an array the
lowering derives at build time (re-laid-out weights, folded biases,
per-channel multipliers, lookup tables, index tables).  The builder records
each placeholder's argument name, in call order; the output comes last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tvm import te

from edgec.ir.graph import Graph, Node


@dataclass
class KernelBuilder:
    graph: Graph
    node: Node
    args: list[tuple[str, te.Tensor]] = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    fused: dict[str, te.Tensor] = field(default_factory=dict)  # outputs of earlier nodes of the same kernel
    vnni: bool = False  # lower convolutions in the form of x86 VNNI dot products (``te_ops._conv2d_vnni``)

    def activation(self, name: str, shape: tuple[int, ...] | None = None) -> te.Tensor:
        """A placeholder for graph tensor ``name``, optionally viewed with another shape of the same size."""
        t = self.graph.tensors[name]
        shape = tuple(t.shape) if shape is None else tuple(shape)
        if int(np.prod(shape, dtype=np.int64)) != t.size:
            raise ValueError(f"{name}: a view of shape {shape} does not cover {t.shape}")
        if name in self.fused:
            return _view(self.fused[name], shape or (1,))
        if t.is_const:
            self.constants[name] = np.ascontiguousarray(t.data).reshape(shape)
        ph = te.placeholder(shape or (1,), t.dtype, name=f"arg{len(self.args)}")
        self.args.append((name, ph))
        return ph

    def constant(self, key: str, array: np.ndarray) -> te.Tensor:
        """A placeholder for a constant the lowering derives (stored under ``<node name>/<key>``)."""
        array = np.ascontiguousarray(array)
        if array.ndim == 0:
            array = array.reshape(1)
        name = f"{self.node.name}/{key}"
        self.constants[name] = array
        ph = te.placeholder(array.shape, str(array.dtype), name=f"arg{len(self.args)}")
        self.args.append((name, ph))
        return ph

    def param(self, key: str, values, count: int, dtype: str = "int32") -> tuple[object, te.Tensor | None]:
        """A per-channel parameter: a Python int when all ``count`` values are equal, else a table.

        Returns ``(value, None)`` or ``(None, placeholder)``.
        """
        arr = np.broadcast_to(np.asarray(values).reshape(-1), (count,)).astype(dtype)
        if np.all(arr == arr[0]):
            return int(arr[0]), None
        return None, self.constant(key, arr)


def _view(src: te.Tensor, shape: tuple[int, ...]) -> te.Tensor:
    """``src`` seen with another shape of the same size (row-major), as an inlinable stage."""
    src_shape = tuple(int(d) for d in src.shape)
    if src_shape == tuple(shape):
        return src

    def fetch(*idx):
        flat = 0
        for i, d in zip(idx, shape):
            flat = flat * d + i
        src_idx = []
        for d in reversed(src_shape):
            src_idx.append(flat % d)
            flat = flat // d
        return src[tuple(reversed(src_idx))]

    return te.compute(tuple(shape), fetch, name="view")
