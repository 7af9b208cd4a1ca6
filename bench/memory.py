"""Activation memory of every bundled model: edgec's arena against its lower bound and TFLite Micro.

    python bench/memory.py [--json FILE]

One row per bundled model: every float ONNX model of the zoo (quantized to
int8 with 8 seeded standard-normal calibration samples, NCHW) and every int8
TFLite model in ``models/tflite/``.  Columns, all in bytes:

* ``lower bound`` -- the layer-wise lower bound (largest sum of arena tensors
  live at one op); like the arena it excludes the graph inputs and outputs,
  which live in the caller's buffers;
* ``edgec arena`` -- the planned arena, and its ratio to the lower bound;
* ``arena+I/O`` -- the arena plus the input and output buffers, the
  like-for-like figure against TFLM, whose arena holds the I/O tensors;
* ``TFLM arena`` -- (TFLite models) the smallest ``arena_size`` with which the
  tflite-micro Python interpreter loads the model and invokes it, found by
  bisection to 16 bytes; it also holds TFLM's own bookkeeping (eval tensors,
  node data, the allocator object), so the gap is not all planning.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the bundled models package lives at the repo root

from edgec.ir.graph import Graph
from edgec.lowering import lower_model
from edgec.schedule.planning import plan_layers

TFLITE_DIR = REPO / "models" / "tflite"
CALIB_SAMPLES = 8
CALIB_SEED = 0
GRANULARITY = 16  # bytes: resolution of the TFLM arena search


@dataclass
class Row:
    model: str
    format: str
    lower_bound: int
    arena: int
    io_bytes: int
    tflm_arena: int | None = None

    @property
    def arena_ratio(self) -> float:
        return self.arena / self.lower_bound if self.lower_bound else 1.0

    @property
    def arena_with_io(self) -> int:
        return self.arena + self.io_bytes

    @property
    def tflm_ratio(self) -> float | None:
        return self.arena_with_io / self.tflm_arena if self.tflm_arena else None

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "arena_ratio": self.arena_ratio,
            "arena_with_io": self.arena_with_io,
            "edgec_over_tflm": self.tflm_ratio,
        }


# -- edgec -------------------------------------------------------------------------------------------


def io_bytes(graph: Graph) -> int:
    return sum(graph.tensors[n].nbytes for n in (*graph.inputs, *graph.outputs))


def edgec_row(name: str, fmt: str, path: Path, calib: Path | None) -> Row:
    graph = lower_model(path, calib=calib).graph
    plan = plan_layers(graph)
    return Row(name, fmt, plan.lower_bound, plan.size, io_bytes(graph))


def onnx_input_shape(path: Path) -> list[int]:
    import onnx

    model = onnx.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value for d in dims]


def write_calibration(shape: list[int], path: Path) -> Path:
    """Seeded standard-normal samples in the model's own (NCHW) input shape, stacked along axis 0."""
    rng = np.random.default_rng(CALIB_SEED)
    np.save(path, rng.standard_normal([CALIB_SAMPLES, *shape[1:]]).astype(np.float32))
    return path


def onnx_rows(tmp: Path) -> list[Row]:
    from models import zoo

    rows = []
    for name in zoo.list_models():
        path = zoo.onnx_path(name)
        calib = write_calibration(onnx_input_shape(path), tmp / f"{name}-calib.npy")
        rows.append(edgec_row(name, "onnx", path, calib))
    return rows


# -- TFLite Micro ------------------------------------------------------------------------------------


def tflm_runs(path: Path, arena_size: int, invoke: bool) -> bool:
    """Whether tflite-micro loads (allocates) the model in ``arena_size`` bytes and, if asked, invokes it.

    TFLM sometimes crashes (SIGSEGV) instead of reporting a too-small arena, so
    every probe runs in a forked child; a crash counts as a failure.  The
    child's stdout/stderr (TFLM's allocation messages) are discarded.
    """
    import multiprocessing

    from tflite_micro.python.tflite_micro import runtime  # noqa: F401 - imported once, before forking

    child = multiprocessing.get_context("fork").Process(target=_probe, args=(path, arena_size, invoke))
    child.start()
    child.join()
    return child.exitcode == 0


def _probe(path: Path, arena_size: int, invoke: bool) -> None:
    """Child process body: exit 0 when the interpreter loads (and invokes), 1 otherwise."""
    import os

    from tflite_micro.python.tflite_micro import runtime

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        interpreter = runtime.Interpreter.from_file(str(path), arena_size=arena_size)
        if invoke:  # the bundled models have one input: feed it zeros
            detail = interpreter.get_input_details(0)
            interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
            interpreter.invoke()
    except RuntimeError:
        os._exit(1)
    os._exit(0)


def smallest_tflm_arena(path: Path) -> int:
    """Bisect the smallest arena (multiple of 16 bytes) that loads the model, then confirm it invokes.

    All of TFLM's allocation happens when the interpreter is created
    (AllocateTensors), so the search only loads; the result must then also
    invoke, and if it does not the search is repeated with invoking probes.
    """
    size = _bisect(path, invoke=False)
    if tflm_runs(path, size, invoke=True):
        return size
    return _bisect(path, invoke=True)


def _bisect(path: Path, invoke: bool) -> int:
    high = 64 * 1024
    while not tflm_runs(path, high, invoke):
        high *= 2
        if high > 1 << 30:
            raise RuntimeError(f"TFLM cannot run {path.name} even with a 1 GiB arena")
    low = 0  # fails (or is zero)
    while high - low > GRANULARITY:
        mid = (low + high) // 2 // GRANULARITY * GRANULARITY
        if mid <= low:
            break
        if tflm_runs(path, mid, invoke):
            high = mid
        else:
            low = mid
    return high


def tflite_rows() -> list[Row]:
    rows = []
    for path in sorted(TFLITE_DIR.glob("*.tflite")):
        row = edgec_row(path.stem, "tflite", path, None)
        row.tflm_arena = smallest_tflm_arena(path)
        rows.append(row)
    return rows


# -- output ------------------------------------------------------------------------------------------


def format_table(rows: list[Row]) -> str:
    header = (
        f"{'model':<24} {'format':<6} {'lower bound':>11} {'edgec arena':>11} {'arena/LB':>8} "
        f"{'arena+I/O':>10} {'TFLM arena':>10} {'edgec/TFLM':>10}"
    )
    lines = [
        "activation memory, bytes (edgec arena excludes I/O buffers; TFLM arena includes them)",
        header,
        "-" * len(header),
    ]
    for r in rows:
        tflm = f"{r.tflm_arena:>10,}" if r.tflm_arena else f"{'-':>10}"
        ratio = f"{r.tflm_ratio:>10.3f}" if r.tflm_ratio else f"{'-':>10}"
        lines.append(
            f"{r.model:<24} {r.format:<6} {r.lower_bound:>11,} {r.arena:>11,} {r.arena_ratio:>8.3f} "
            f"{r.arena_with_io:>10,} {tflm} {ratio}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgec-bench-memory-") as tmp:
        rows = onnx_rows(Path(tmp)) + tflite_rows()
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps([r.to_dict() for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
