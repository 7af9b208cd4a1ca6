"""No-op removal: identity, dropout, same-shape reshapes, identity transposes; chained reshapes collapse."""

from __future__ import annotations

from edgec.ir.graph import Graph, Node
from edgec.passes.graph_rewrite import bypass


def _is_noop(graph: Graph, node: Node) -> bool:
    if node.op in ("identity", "dropout"):
        return True
    if node.op == "reshape":
        return graph.tensors[node.inputs[0]].shape == graph.tensors[node.outputs[0]].shape
    if node.op == "transpose":
        return tuple(node.attrs["perm"]) == tuple(range(len(node.attrs["perm"])))
    return False


def _collapse_reshape(graph: Graph, node: Node) -> bool:
    """reshape(reshape(x)) -> reshape(x); the inner reshape is dropped when nothing else reads it."""
    inner = graph.producer(node.inputs[0])
    if inner is None or inner.op != "reshape":
        return False
    middle = node.inputs[0]
    node.inputs[0] = inner.inputs[0]
    if not graph.consumers(middle) and middle not in graph.outputs:
        graph.nodes = [n for n in graph.nodes if n is not inner]
    return True


def remove_noops(graph: Graph) -> Graph:
    g = graph.copy()
    changed = True
    while changed:
        changed = False
        for node in list(g.nodes):
            if _is_noop(g, node) and bypass(g, node):
                changed = True
                break
            if node.op == "reshape" and _collapse_reshape(g, node):
                changed = True
                break
    return g.prune_tensors()

