"""Accuracy of post-training int8 quantization on the trained digits CNN.

Loads ``models/digits/digits_cnn.onnx``, optimizes it, quantizes it with the
calibration set ``models/digits/calib.npz`` once per observer, and evaluates
float and int8 (reference interpreter) on ``models/digits/heldout.npz``:

    python bench/accuracy.py

Prints one table: top-1 of float and int8, the drop in points, and the mean
cosine similarity between the dequantized int8 logits and the float logits.
Exits with status 1 when an observer loses more than ``MAX_DROP_POINTS``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgec.calibration import load_calibration, samples_from_arrays
from edgec.frontends import load_model
from edgec.ir.graph import Graph
from edgec.passes import optimize
from edgec.passes.quantize import dequantize_values, quantize, quantize_values
from edgec.reference import run

DIGITS = Path(__file__).resolve().parents[1] / "models" / "digits"
MAX_DROP_POINTS = 1.0
OBSERVERS = ("minmax", "percentile")


@dataclass
class Row:
    model: str
    observer: str
    float_top1: float
    int8_top1: float
    mean_cosine: float

    @property
    def drop(self) -> float:
        return self.float_top1 - self.int8_top1


def float_logits(graph: Graph, samples: list[dict[str, np.ndarray]]) -> np.ndarray:
    (out,) = graph.outputs
    return np.concatenate([run(graph, s)[out].reshape(1, -1) for s in samples])


def int8_logits(qgraph: Graph, samples: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Run the int8 graph on float samples: quantize inputs, dequantize outputs (what the CLI does)."""
    (out,) = qgraph.outputs
    t_out = qgraph.tensors[out]
    rows = []
    for s in samples:
        feeds = {n: quantize_values(x, qgraph.tensors[n].qscale, qgraph.tensors[n].qzero) for n, x in s.items()}
        rows.append(dequantize_values(run(qgraph, feeds)[out], t_out.qscale, t_out.qzero).reshape(1, -1))
    return np.concatenate(rows)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)


def evaluate(model_path: Path, calib_path: Path, heldout_path: Path) -> list[Row]:
    graph = optimize(load_model(model_path))
    calib = load_calibration(calib_path, graph)
    with np.load(heldout_path) as data:
        labels = data["y"]
        heldout = samples_from_arrays({graph.inputs[0]: data["x"]}, graph)
    ref = float_logits(graph, heldout)
    float_top1 = 100.0 * float(np.mean(ref.argmax(1) == labels))
    rows = []
    for observer in OBSERVERS:
        qgraph, _ = quantize(graph, calib, observer=observer)
        got = int8_logits(qgraph, heldout)
        rows.append(
            Row(
                model_path.stem,
                observer,
                float_top1,
                100.0 * float(np.mean(got.argmax(1) == labels)),
                float(cosine_rows(ref, got).mean()),
            )
        )
    return rows


def format_table(rows: list[Row], samples: int) -> str:
    header = f"{'model':<12} {'observer':<11} {'float top-1':>11} {'int8 top-1':>10} {'drop (pts)':>10} {'mean cos':>9}"
    lines = [f"int8 post-training quantization accuracy on {samples} held-out digits", header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.model:<12} {r.observer:<11} {r.float_top1:>10.2f}% {r.int8_top1:>9.2f}% {r.drop:>10.2f} {r.mean_cosine:>9.5f}"
        )
    return "\n".join(lines)


def main() -> int:
    heldout = DIGITS / "heldout.npz"
    rows = evaluate(DIGITS / "digits_cnn.onnx", DIGITS / "calib.npz", heldout)
    with np.load(heldout) as data:
        print(format_table(rows, len(data["y"])))
    worst = max(r.drop for r in rows)
    if worst > MAX_DROP_POINTS:
        print(f"FAIL: int8 top-1 drops {worst:.2f} points (> {MAX_DROP_POINTS})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
