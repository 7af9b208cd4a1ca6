"""Omega as measured: how far one width choice alone moves the model's output from the int8 output.

QuantMCU scores a width by the entropy its feature map loses and leaves the
estimate open.  An entropy (or the noise power it implies) says how coarse a
map becomes, not how much the network cares: on fashion_mbv2 the first
depthwise conv's int4 weights have a tiny relative noise power yet move the
output more than most 4-bit maps.  ``OutputDivergence`` measures that
instead, on calibration samples only:

* the int8 graph runs once per sample, every intermediate tensor kept;
* a candidate (one map group at ``b`` bits, or one op's int4 weights) is the
  mixed variant graph with that choice alone (``assign.mixed_graph``); its
  nodes from the first one the choice changes onward run on the kept int8
  tensors (the earlier ones compute the same values);
* the divergence is the mean over samples and outputs of the KL divergence
  ``KL(p8 || p)`` (nats) between the softmax of the dequantized int8 output
  ``p8`` and of the candidate's ``p``.

The whole map is run at the candidate width (layer by layer, every patch a
non-outlier patch), which overstates a candidate's effect by at most the
outlier fraction.  The softmax treats every output as class scores; for a
model with other outputs the divergence is still 0 exactly when the output is
unchanged and grows with the change.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph

MAX_SAMPLES = 16  # calibration samples each candidate runs on (the first ones)


def _probabilities(graph: Graph, name: str, values: list[np.ndarray]) -> np.ndarray:
    """Softmax over the last axis of the dequantized output ``name``, one row per sample."""
    t = graph.tensors[name]
    z = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in values])
    if t.scale is not None and t.dtype != "float32":
        z = (z - t.qzero) * t.qscale
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class OutputDivergence:
    """Mean KL divergence of a mixed variant's outputs from the int8 graph's, over calibration samples."""

    def __init__(self, graph: Graph, samples: list[dict[str, np.ndarray]]):
        from edgec.reference import run

        self.graph = graph
        self.order = {node.name: k for k, node in enumerate(graph.nodes)}
        self.kept = []
        for feeds in samples[:MAX_SAMPLES]:
            env = run(graph, feeds, keep=True)
            self.kept.append({k: v for k, v in env.items() if not graph.tensors[k].is_const})
        self.reference = {o: _probabilities(graph, o, [env[o] for env in self.kept]) for o in graph.outputs}

    def __call__(self, mixed: Graph, changed: list[str]) -> float:
        """Divergence of ``mixed`` (``graph``'s mixed variant) whose first changed nodes are ``changed``."""
        from edgec.mixed.reference import run_nodes

        first = min(self.order[n] for n in changed)
        nodes = mixed.nodes[first:]
        outputs: dict[str, list[np.ndarray]] = {o: [] for o in self.graph.outputs}
        for kept in self.kept:
            env = run_nodes(mixed, nodes, dict(kept))
            for o, values in outputs.items():
                values.append(env[o])
        total = 0.0
        for o, values in outputs.items():
            p8, p = self.reference[o], _probabilities(mixed, o, values)
            kl = np.sum(p8 * (np.log(np.maximum(p8, 1e-300)) - np.log(np.maximum(p, 1e-300))), axis=1)
            total += float(np.mean(np.maximum(kl, 0.0)))
        return total / max(len(outputs), 1)
