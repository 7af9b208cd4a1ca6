"""Tensor lifetimes and buffers for layer-by-layer execution in node order.

Time is the index of a node in ``graph.nodes``.  A tensor is live from the
op that writes it to the last op that reads it, both inclusive (an op's
inputs and outputs are live at the same time).  A tensor that no node
produces (an input of a sub-graph that is not external) is live from op 0.

A *buffer* is a set of tensors that share one piece of memory: a tensor and
the outputs of alias ops (``reshape``, ``identity``, ``dropout``) applied to
it.  A buffer's lifetime is the union of its members' lifetimes.  Buffers are
what the arena planner places.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgec.ir.graph import Graph

ALIAS_OPS = frozenset({"reshape", "identity", "dropout"})

Lifetime = tuple[int, int]


@dataclass
class Buffer:
    """Memory shared by ``members`` (tensor names) over ``[start, end]``; ``name`` is its root tensor."""

    name: str
    members: list[str]
    size: int
    start: int
    end: int
    external: bool = False
    meta: dict = field(default_factory=dict)

    def live_at(self, step: int) -> bool:
        return self.start <= step <= self.end

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.start <= other.end and other.start <= self.end


def default_external(graph: Graph) -> set[str]:
    """Graph inputs and outputs live in caller-owned buffers, not in the arena."""
    return set(graph.inputs) | set(graph.outputs)


def activation_tensors(graph: Graph) -> list[str]:
    """Every non-constant tensor a node reads or writes, in first-use order."""
    seen: dict[str, None] = {}
    for node in graph.nodes:
        for name in [*node.inputs, *node.outputs]:
            if name and not graph.tensors[name].is_const:
                seen.setdefault(name, None)
    for name in graph.outputs:
        seen.setdefault(name, None)
    return list(seen)


def tensor_lifetimes(graph: Graph) -> dict[str, Lifetime]:
    """``[first op that writes, last op that reads]`` of every activation tensor."""
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    for step, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name and not graph.tensors[name].is_const:
                start.setdefault(name, 0)
                end[name] = step
        for name in node.outputs:
            start.setdefault(name, step)
            end.setdefault(name, step)
    last = max(len(graph.nodes) - 1, 0)
    for name in graph.outputs:
        start.setdefault(name, last)
        end[name] = max(end.get(name, last), start[name])
    return {name: (start[name], end[name]) for name in start}


def alias_roots(graph: Graph, external: set[str]) -> dict[str, str]:
    """Map each tensor that shares memory with another to its group's root.

    Alias ops with a non-constant input join their output to the input's
    group.  A group holds at most one external tensor, and when it holds one
    that tensor is the root (the whole group then lives in the caller's
    buffer); otherwise the root is the first-produced member.  An alias op
    that would join two external tensors stays a copy.
    """
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while name in parent:
            name = parent[name]
        return name

    def has_external(root: str) -> bool:
        return root in external

    for node in graph.nodes:
        if node.op not in ALIAS_OPS or not node.inputs or not node.inputs[0]:
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if graph.tensors[src].is_const or graph.tensors[src].nbytes != graph.tensors[dst].nbytes:
            continue
        src_root, dst_root = find(src), find(dst)
        if src_root == dst_root or (has_external(src_root) and has_external(dst_root)):
            continue
        if has_external(dst_root):
            parent[src_root] = dst_root
        else:
            parent[dst_root] = src_root
    return {name: find(name) for name in parent}


def build_buffers(
    graph: Graph, external: set[str] | None = None
) -> tuple[list[Buffer], dict[str, str], dict[str, Lifetime]]:
    """Group activation tensors into buffers.

    Returns ``(buffers, aliases, lifetimes)``: every buffer (external ones
    flagged), the alias map (member -> root, roots omitted) and the per-tensor
    lifetimes.
    """
    external = default_external(graph) if external is None else set(external)
    lifetimes = tensor_lifetimes(graph)
    aliases = alias_roots(graph, external)
    groups: dict[str, list[str]] = {}
    for name in activation_tensors(graph):
        if name in lifetimes:
            groups.setdefault(aliases.get(name, name), []).append(name)
    buffers = []
    for root, members in groups.items():
        buffers.append(
            Buffer(
                name=root,
                members=members,
                size=max(graph.tensors[m].nbytes for m in members),
                start=min(lifetimes[m][0] for m in members),
                end=max(lifetimes[m][1] for m in members),
                external=root in external,
            )
        )
    return buffers, aliases, lifetimes


def live_bytes_per_op(buffers: list[Buffer], num_ops: int) -> list[int]:
    """Sum of the sizes of the (non-external) buffers live at each op."""
    live = [0] * num_ops
    for buf in buffers:
        if buf.external:
            continue
        for step in range(max(buf.start, 0), min(buf.end, num_ops - 1) + 1):
            live[step] += buf.size
    return live
