"""Nodes and graphs of the edgec IR.

A ``Graph`` owns its tensors (by name) and an ordered list of ``Node``s that
is always a valid execution order.  Nodes refer to tensors by name; an empty
name marks an absent optional input (e.g. a convolution without bias).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.tensor import DTYPES, Tensor


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)

    def copy(self) -> Node:
        return Node(self.name, self.op, list(self.inputs), list(self.outputs), copy.deepcopy(self.attrs))


class GraphError(EdgecError):
    """The graph breaks an IR invariant."""


@dataclass
class Graph:
    name: str = "model"
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    # -- construction -------------------------------------------------------
    def add_tensor(self, tensor: Tensor) -> Tensor:
        if tensor.name in self.tensors:
            raise GraphError(f"tensor {tensor.name!r} defined twice")
        self.tensors[tensor.name] = tensor
        return tensor

    def add_const(self, name: str, data: np.ndarray, **quant) -> Tensor:
        data = np.asarray(data)
        return self.add_tensor(Tensor(name, data.shape, str(data.dtype), data, **quant))

    def add_node(self, op: str, inputs: list[str], outputs: list[str], name: str | None = None, **attrs) -> Node:
        node = Node(name or f"{op}_{len(self.nodes)}", op, list(inputs), list(outputs), attrs)
        self.nodes.append(node)
        return node

    def unique_name(self, base: str) -> str:
        if base not in self.tensors:
            return base
        i = 1
        while f"{base}_{i}" in self.tensors:
            i += 1
        return f"{base}_{i}"

    def copy(self) -> Graph:
        return Graph(
            self.name,
            {k: t.copy() for k, t in self.tensors.items()},
            [n.copy() for n in self.nodes],
            list(self.inputs),
            list(self.outputs),
            copy.deepcopy(self.meta),
        )

    # -- queries ------------------------------------------------------------
    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def producer(self, tensor_name: str) -> Node | None:
        for n in self.nodes:
            if tensor_name in n.outputs:
                return n
        return None

    def consumers(self, tensor_name: str) -> list[Node]:
        return [n for n in self.nodes if tensor_name in n.inputs]

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs}

    def consumer_map(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def is_float(self) -> bool:
        return any(self.tensors[i].dtype == "float32" for n in self.nodes for i in n.outputs)

    # -- invariants ---------------------------------------------------------
    def verify(self) -> Graph:
        """Check the IR invariants; raise GraphError listing every problem."""
        from edgec.ir.ops import OPS, infer_shapes

        problems: list[str] = []
        for name, t in self.tensors.items():
            if name != t.name:
                problems.append(f"tensor key {name!r} != name {t.name!r}")
            if t.dtype not in DTYPES:
                problems.append(f"tensor {name!r} has unknown dtype {t.dtype!r}")
            if any(d <= 0 for d in t.shape):
                problems.append(f"tensor {name!r} has non-static shape {t.shape}")
            if t.data is not None:
                if tuple(t.data.shape) != t.shape:
                    problems.append(f"const {name!r} data shape {t.data.shape} != {t.shape}")
                if str(t.data.dtype) != t.dtype:
                    problems.append(f"const {name!r} data dtype {t.data.dtype} != {t.dtype}")
        defined = {n for n, t in self.tensors.items() if t.is_const} | set(self.inputs)
        for i in self.inputs:
            if i not in self.tensors:
                problems.append(f"graph input {i!r} has no tensor")
        seen_nodes: set[str] = set()
        for node in self.nodes:
            if node.name in seen_nodes:
                problems.append(f"node name {node.name!r} used twice")
            seen_nodes.add(node.name)
            if node.op not in OPS:
                problems.append(f"node {node.name!r} has unknown op {node.op!r}")
            for i in node.inputs:
                if not i:
                    continue
                if i not in self.tensors:
                    problems.append(f"node {node.name!r} reads missing tensor {i!r}")
                elif i not in defined:
                    problems.append(f"node {node.name!r} reads {i!r} before it is produced (order/cycle)")
            for o in node.outputs:
                if o not in self.tensors:
                    problems.append(f"node {node.name!r} writes missing tensor {o!r}")
                elif o in defined:
                    problems.append(f"tensor {o!r} produced twice")
                defined.add(o)
            if node.op in OPS and all((not i) or i in self.tensors for i in node.inputs + node.outputs):
                try:
                    shapes = infer_shapes(self, node)
                except Exception as e:  # noqa: BLE001 - report every problem
                    problems.append(f"node {node.name!r} ({node.op}): shape inference failed: {e}")
                else:
                    for o, s in zip(node.outputs, shapes):
                        if o in self.tensors and tuple(s) != self.tensors[o].shape:
                            problems.append(
                                f"node {node.name!r} ({node.op}): output {o!r} shape {self.tensors[o].shape} != inferred {tuple(s)}"
                            )
        for o in self.outputs:
            if o not in defined:
                problems.append(f"graph output {o!r} is never produced")
        used = {i for n in self.nodes for i in n.inputs} | set(self.outputs)
        for name, t in self.tensors.items():
            if name not in used and name not in defined and not t.is_const:
                problems.append(f"tensor {name!r} is dangling (neither produced nor used)")
        if problems:
            raise GraphError(f"graph {self.name!r} is invalid: " + "; ".join(problems))
        return self

    def prune_tensors(self) -> Graph:
        """Drop tensors no node or graph boundary refers to."""
        used = set(self.inputs) | set(self.outputs)
        for n in self.nodes:
            used.update(i for i in n.inputs if i)
            used.update(n.outputs)
        self.tensors = {k: t for k, t in self.tensors.items() if k in used}
        return self

    def summary(self) -> str:
        lines = [f"graph {self.name}: inputs {self.inputs} outputs {self.outputs}"]
        for n in self.nodes:
            lines.append(f"  {n.name}: {n.op}({', '.join(n.inputs)}) -> {', '.join(n.outputs)} {n.attrs}")
        return "\n".join(lines)
