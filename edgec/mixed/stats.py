"""Statistics of a patch stage's int8 feature maps over calibration samples.

``collect_stats`` runs the int8 reference over the stage (layer by layer,
which gives exactly the values patch-by-patch execution computes) for each
calibration sample and records, per patch of the stage's grid:

* for every stage tensor, a histogram of its int8 values inside the patch's
  region (``Patch.regions``; 256 bins, bin ``q + 128`` counts level ``q``);
* the minimum and maximum of each candidate VDPC test tensor in that region.

Overlapping regions of neighbouring patches are counted once per patch, as
each patch computes them.  ``StageStats.histograms(mask)`` sums the
histograms of the patches ``mask`` selects (e.g. the non-outlier patches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.ir.graph import Graph
from edgec.schedule.patch import PatchStage

LEVELS = 256  # int8 levels -128..127, histogram bin q + 128


@dataclass
class StageStats:
    tensors: list[str]  # stage tensors with histograms (stage inputs and every stage op output)
    counts: np.ndarray  # [samples, patches, tensors, 256] int64 histograms of patch regions
    patch_min: dict[str, np.ndarray]  # test-tensor candidate -> [samples, patches] int min in the patch region
    patch_max: dict[str, np.ndarray]

    @property
    def samples(self) -> int:
        return self.counts.shape[0]

    def histograms(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Summed histograms per tensor over the (sample, patch) pairs where ``mask`` is True (all if None)."""
        counts = self.counts if mask is None else self.counts[mask]
        total = counts.reshape(-1, len(self.tensors), LEVELS).sum(axis=0)
        return {name: total[k] for k, name in enumerate(self.tensors)}


def histogram(values: np.ndarray) -> np.ndarray:
    return np.bincount(values.reshape(-1).astype(np.int64) + 128, minlength=LEVELS)


def stage_tensors(graph: Graph, stage: PatchStage) -> list[str]:
    """Stage inputs, then every output of a stage op, in execution order."""
    outs = [o for name in stage.nodes for o in graph.node(name).outputs]
    return list(dict.fromkeys([*stage.inputs, *outs]))


def run_stage(graph: Graph, stage: PatchStage, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every stage tensor of ``graph`` computed layer by layer from the stage inputs."""
    from edgec.mixed.reference import run_nodes

    env = {name: np.asarray(feeds[name]) for name in stage.inputs}
    return run_nodes(graph, [graph.node(n) for n in stage.nodes], env)


def collect_stats(
    graph: Graph, stage: PatchStage, samples: list[dict[str, np.ndarray]], test_candidates: list[str]
) -> StageStats:
    """Per-patch histograms of every stage tensor and min/max of each test candidate, over ``samples``."""
    tensors = stage_tensors(graph, stage)
    counts = np.zeros((len(samples), len(stage.patches), len(tensors), LEVELS), dtype=np.int64)
    pmin = {t: np.zeros((len(samples), len(stage.patches)), dtype=np.int64) for t in test_candidates}
    pmax = {t: np.zeros((len(samples), len(stage.patches)), dtype=np.int64) for t in test_candidates}
    for s, feeds in enumerate(samples):
        env = run_stage(graph, stage, feeds)
        for p, patch in enumerate(stage.patches):
            for k, name in enumerate(tensors):
                win = patch.regions.get(name)
                if win is None or win.empty:
                    continue
                region = env[name][:, win.h0 : win.h1, win.w0 : win.w1, :]
                counts[s, p, k] = histogram(region)
                if name in pmin:
                    pmin[name][s, p], pmax[name][s, p] = int(region.min()), int(region.max())
    return StageStats(tensors, counts, pmin, pmax)
