"""Graph passes: pure ``Graph -> Graph`` functions, and ``optimize`` which runs them in order."""

from __future__ import annotations

from edgec.ir.graph import Graph
from edgec.passes.batchnorm import fold_batch_norm
from edgec.passes.constant_folding import fold_constants
from edgec.passes.fold_pad import fold_pads
from edgec.passes.fold_slices import fold_slices
from edgec.passes.fold_transpose import fold_transposes
from edgec.passes.fuse_activation import fuse_activations
from edgec.passes.remove_dead import remove_dead_nodes
from edgec.passes.remove_noops import remove_noops

PIPELINE = (
    remove_noops,
    fold_constants,
    remove_dead_nodes,
    fold_transposes,
    remove_noops,
    fold_batch_norm,
    fold_pads,
    fuse_activations,
    remove_dead_nodes,
    fold_slices,
)


def optimize(graph: Graph) -> Graph:
    """Run the float-graph optimisation pipeline; the result is verified."""
    for graph_pass in PIPELINE:
        graph = graph_pass(graph)
    return graph.verify()


__all__ = [
    "PIPELINE",
    "fold_batch_norm",
    "fold_constants",
    "fold_pads",
    "fold_slices",
    "fold_transposes",
    "fuse_activations",
    "optimize",
    "remove_dead_nodes",
    "remove_noops",
]
