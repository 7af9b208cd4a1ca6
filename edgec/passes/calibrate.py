"""Calibration: run the float reference over samples and observe tensor ranges.

An observer sees every activation tensor of every sample and reports a real
range ``(lo, hi)`` per tensor.  ``MinMaxObserver`` keeps the extremes;
``PercentileObserver`` keeps a bounded, seeded subsample of the values and
clips to the ``percentile`` / ``100 - percentile`` quantiles, which ignores
rare outliers at the cost of clipping them.  ``observe_ranges`` always widens
a range to include 0 (asymmetric int8 must represent zero exactly).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.graph import Graph
from edgec.reference.interpreter import run

OBSERVERS = ("minmax", "percentile")


class Observer(Protocol):
    def update(self, name: str, values: np.ndarray) -> None: ...

    def range(self, name: str) -> tuple[float, float]: ...


class MinMaxObserver:
    """Range = smallest and largest value seen."""

    def __init__(self) -> None:
        self._lo: dict[str, float] = {}
        self._hi: dict[str, float] = {}

    def update(self, name: str, values: np.ndarray) -> None:
        lo, hi = float(np.min(values)), float(np.max(values))
        self._lo[name] = min(lo, self._lo.get(name, lo))
        self._hi[name] = max(hi, self._hi.get(name, hi))

    def range(self, name: str) -> tuple[float, float]:
        return self._lo[name], self._hi[name]


class PercentileObserver:
    """Range = the (100-p)th and p-th percentiles of a bounded random subsample of the values."""

    def __init__(self, percentile: float = 99.99, max_values: int = 1 << 20, seed: int = 0) -> None:
        if not 50.0 < percentile <= 100.0:
            raise EdgecError(f"percentile must be in (50, 100], got {percentile}")
        self.percentile = percentile
        self.max_values = max_values
        self._rng = np.random.default_rng(seed)
        self._chunks: dict[str, list[np.ndarray]] = {}
        self._counts: dict[str, int] = {}

    def update(self, name: str, values: np.ndarray) -> None:
        flat = np.asarray(values, dtype=np.float32).ravel()
        chunks = self._chunks.setdefault(name, [])
        chunks.append(flat.copy())
        self._counts[name] = self._counts.get(name, 0) + flat.size
        if self._counts[name] > 2 * self.max_values:
            self._shrink(name)

    def _shrink(self, name: str) -> None:
        merged = np.concatenate(self._chunks[name])
        keep = self._rng.choice(merged.size, self.max_values, replace=False)
        self._chunks[name] = [merged[keep]]
        self._counts[name] = self.max_values

    def range(self, name: str) -> tuple[float, float]:
        values = np.concatenate(self._chunks[name])
        lo, hi = np.percentile(values, [100.0 - self.percentile, self.percentile])
        return float(lo), float(hi)


def make_observer(kind: str, percentile: float = 99.99, seed: int = 0) -> Observer:
    if kind == "minmax":
        return MinMaxObserver()
    if kind == "percentile":
        return PercentileObserver(percentile, seed=seed)
    raise EdgecError(f"unknown observer {kind!r} — use one of {', '.join(OBSERVERS)}")


def activation_names(graph: Graph) -> list[str]:
    """The float activation tensors to calibrate: graph inputs and every node output."""
    names = [n for n in graph.inputs if not graph.tensors[n].is_const]
    names += [o for node in graph.nodes for o in node.outputs]
    return [n for n in names if graph.tensors[n].dtype == "float32"]


def observe_ranges(
    graph: Graph, samples: list[dict[str, np.ndarray]], observer: Observer
) -> dict[str, tuple[float, float]]:
    """Run ``graph`` (float) on each sample and return the observed range of each activation, widened to include 0."""
    if not samples:
        raise EdgecError("calibration needs at least one sample")
    names = activation_names(graph)
    for sample in samples:
        env = run(graph, sample, keep=True)
        for name in names:
            observer.update(name, env[name])
    ranges: dict[str, tuple[float, float]] = {}
    for name in names:
        lo, hi = observer.range(name)
        ranges[name] = (min(lo, 0.0), max(hi, 0.0))
    return ranges
