"""Dead-node removal: drop nodes whose outputs never reach a graph output."""

from __future__ import annotations

from edgec.ir.graph import Graph


def remove_dead_nodes(graph: Graph) -> Graph:
    g = graph.copy()
    needed = set(g.outputs)
    kept = []
    for node in reversed(g.nodes):
        if any(o in needed for o in node.outputs):
            kept.append(node)
            needed.update(i for i in node.inputs if i)
    g.nodes = kept[::-1]
    return g.prune_tensors()
