"""Patch-based scheduling (MCUNetV2): activation peak of every bundled model, layer by layer vs patches.

    python bench/patch.py [--json FILE] [--no-tflm]

Planning only (no C is generated or compiled).  One row per bundled model:
every float ONNX model of the zoo (quantized to int8 with 8 seeded
standard-normal calibration samples, NCHW, as ``bench/memory.py``) and every
int8 TFLite model in ``models/tflite/``.  Columns, bytes unless marked:

* ``LB`` -- the layer-wise lower bound of the whole graph (largest sum of
  arena tensors live at one op, I/O excluded);
* ``no rows`` -- edgec's layer-by-layer arena without row-streamed segments
  (in-place depthwise and streamed residual projections only: the arena
  before ``edgec.schedule.rows``);
* ``layer`` -- edgec's layer-by-layer arena as builds plan it (in-place
  depthwise, streamed residual projections and row-streamed segments, which
  recompute nothing: 0 % MAC overhead);
* ``patch`` -- the smallest peak over all patch candidates of
  ``search_schedules`` (every split point, n x n grids 2..8), its split (the
  producing op's index and the split tensor's H x W x C), grid and MAC
  overhead (recomputation, % over layer by layer);
* ``patch<=15%`` -- the smallest peak among candidates with at most 15 % MAC
  overhead, when it differs from the above;
* ``LB/patch`` -- reduction of the peak against the layer-wise lower bound;
* ``+I/O`` -- the chosen patch peak (or layer arena) plus the input and output
  buffers, the like-for-like figure against TFLM;
* ``TFLM`` -- (TFLite models only) the smallest arena with which tflite-micro's
  Python interpreter loads and invokes the model (bisection to 16 B, see
  ``bench/memory.py``); it includes the I/O tensors and TFLM's bookkeeping.

Then the targets: MobileNetV2 w1.0-r224 int8 peak <= 172 KiB (the MCUNetV2
figure), and a >= 4x reduction from the layer-wise lower bound on MobileNetV2
and the MCUNet-style model, both for the smallest peak found and for the
smallest peak among schedules with at most 15 % MAC overhead (each with the
MAC overhead of the schedule that reaches it); each printed as MET or NOT MET.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the bundled models package lives at the repo root

from edgec.ir.graph import Graph
from edgec.lowering import lower_model
from edgec.schedule.arena import plan_arena
from edgec.schedule.split_search import STREAM_RESIDUAL, Candidate, search_schedules

TFLITE_DIR = REPO / "models" / "tflite"
MAX_OVERHEAD = 0.15
KIB = 1024
MCUNETV2_TARGET = 172 * KIB
REDUCTION_TARGET = 4.0
INPLACE_DEPTHWISE = True  # as edgec.schedule.planning.plan_model plans builds (in-place depthwise kernel)


def _bench_memory():
    """bench/memory.py as a module (calibration data and the TFLM arena bisection live there)."""
    spec = importlib.util.spec_from_file_location("edgec_bench_memory", REPO / "bench" / "memory.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@dataclass
class Row:
    model: str
    format: str
    lower_bound: int
    plain_layer_arena: int  # layer by layer without row-streamed segments
    layer_arena: int
    io_bytes: int
    best: dict | None  # smallest-peak patch candidate
    best_cheap: dict | None  # smallest-peak patch candidate with <= 15% MAC overhead (None: same as best or none)
    tflm_arena: int | None = None

    @property
    def best_peak(self) -> int:
        return min(self.layer_arena, self.best["peak"]) if self.best else self.layer_arena

    @property
    def reduction(self) -> float:
        return self.lower_bound / self.best_peak if self.best_peak else 1.0

    @property
    def best_overhead(self) -> float:
        """MAC overhead (%) of the schedule reaching ``best_peak`` (layer by layer: 0)."""
        return 0.0 if not self.best or self.layer_arena <= self.best["peak"] else self.best["mac_overhead_pct"]

    def cheap(self) -> tuple[int, float]:
        """(smallest peak, its MAC overhead %) among schedules with at most ``MAX_OVERHEAD`` extra MACs."""
        options = [(self.layer_arena, 0.0)]
        for c in (self.best, self.best_cheap):
            if c and c["mac_overhead_pct"] <= 100 * MAX_OVERHEAD:
                options.append((c["peak"], c["mac_overhead_pct"]))
        return min(options)


def describe(graph: Graph, cand: Candidate) -> dict:
    index = next(i for i, n in enumerate(graph.nodes) if cand.split in n.outputs)
    _, h, w, c = graph.tensors[cand.split].shape
    return {
        "peak": cand.peak,
        "stage_peak": cand.stage_peak,
        "rest_arena": cand.rest_plan.size,
        "split": cand.split,
        "split_op": index,
        "split_label": f"op{index} {h}x{w}x{c}",
        "grid": list(cand.grid),
        "mac_overhead_pct": 100.0 * cand.mac_overhead,
    }


def model_row(name: str, fmt: str, path: Path, calib: Path | None) -> Row:
    graph = lower_model(path, calib=calib).graph
    candidates = search_schedules(graph, inplace_depthwise=INPLACE_DEPTHWISE, stream_residual=STREAM_RESIDUAL)
    layer = candidates[0]
    assert not layer.is_patch
    patches = [c for c in candidates if c.is_patch]
    key = lambda c: (c.peak, c.macs)
    best = min(patches, key=key) if patches else None
    cheap = [c for c in patches if c.mac_overhead <= MAX_OVERHEAD]
    best_cheap = min(cheap, key=key) if cheap else None
    if best_cheap is best:
        best_cheap = None
    io = sum(graph.tensors[n].nbytes for n in (*graph.inputs, *graph.outputs))
    plain = plan_arena(graph, alignment=16, inplace_depthwise=INPLACE_DEPTHWISE, stream_residual=STREAM_RESIDUAL)
    return Row(
        name,
        fmt,
        layer.rest_plan.lower_bound,
        plain.size,
        layer.peak,
        io,
        describe(graph, best) if best else None,
        describe(graph, best_cheap) if best_cheap else None,
    )


def collect(tflm: bool) -> list[Row]:
    from models import zoo

    memory = _bench_memory()
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgec-bench-patch-") as tmp:
        for name in zoo.list_models():
            path = zoo.onnx_path(name)
            calib = memory.write_calibration(memory.onnx_input_shape(path), Path(tmp) / f"{name}-calib.npy")
            rows.append(model_row(name, "onnx", path, calib))
            print(f"  planned {name} (onnx)", file=sys.stderr, flush=True)
    for path in sorted(TFLITE_DIR.glob("*.tflite")):
        row = model_row(path.stem, "tflite", path, None)
        if tflm:
            row.tflm_arena = memory.smallest_tflm_arena(path)
        rows.append(row)
        print(f"  planned {path.stem} (tflite)", file=sys.stderr, flush=True)
    return rows


# -- output ------------------------------------------------------------------------------------------


def _cand_cells(c: dict | None) -> tuple[str, str, str]:
    if c is None:
        return ("-", "-", "-")
    grid = f"{c['grid'][0]}x{c['grid'][1]}"
    return (f"{c['peak']:,}", f"{c['split_label']} {grid}", f"{c['mac_overhead_pct']:.1f}%")


def format_table(rows: list[Row]) -> str:
    head = (
        f"{'model':<24} {'fmt':<6} {'LB':>10} {'no rows':>10} {'layer':>10} {'patch':>9} {'split, grid':<20} {'MACs+':>7} "
        f"{'patch<=15%':>10} {'split, grid':<20} {'MACs+':>6} {'LB/patch':>8} {'+I/O':>9} {'TFLM':>9}"
    )
    lines = [
        "activation peak, bytes (edgec figures exclude the I/O buffers; TFLM's arena includes them)",
        head,
        "-" * len(head),
    ]
    for r in rows:
        peak, split, over = _cand_cells(r.best)
        cpeak, csplit, cover = _cand_cells(r.best_cheap)
        if r.best is not None and r.best_cheap is None:
            cpeak, csplit, cover = "(same)", "", ""
        tflm = f"{r.tflm_arena:>9,}" if r.tflm_arena else f"{'-':>9}"
        lines.append(
            f"{r.model:<24} {r.format:<6} {r.lower_bound:>10,} {r.plain_layer_arena:>10,} {r.layer_arena:>10,} {peak:>9} {split:<20} {over:>7} "
            f"{cpeak:>10} {csplit:<20} {cover:>6} {r.reduction:>7.2f}x {r.best_peak + r.io_bytes:>9,} {tflm}"
        )
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[tuple[str, bool, str]]:
    """(target, met, evidence) for the MCUNetV2 targets."""
    out = []
    for r in rows:
        if r.model.startswith("mobilenet_v2_w1.0_r224"):
            out.append(
                (
                    f"{r.model} ({r.format}) peak <= 172 KiB",
                    r.best_peak <= MCUNETV2_TARGET,
                    (
                        f"best peak {r.best_peak / KIB:.1f} KiB at +{r.best_overhead:.1f}% MACs; "
                        f"layer by layer {r.layer_arena / KIB:.1f} KiB at +0.0%"
                    ),
                )
            )
    for r in rows:
        if r.model.startswith("mobilenet_v2") or r.model.startswith("mcunet"):
            out.append(
                (
                    f"{r.model} ({r.format}) >= {REDUCTION_TARGET:.0f}x below the layer-wise lower bound",
                    r.reduction >= REDUCTION_TARGET,
                    (
                        f"{r.lower_bound / KIB:.1f} KiB -> {r.best_peak / KIB:.1f} KiB = {r.reduction:.2f}x "
                        f"at +{r.best_overhead:.1f}% MACs"
                    ),
                )
            )
            peak, overhead = r.cheap()
            out.append(
                (
                    f"{r.model} ({r.format}) >= {REDUCTION_TARGET:.0f}x with <= {100 * MAX_OVERHEAD:.0f}% MAC overhead",
                    r.lower_bound / peak >= REDUCTION_TARGET,
                    (
                        f"{r.lower_bound / KIB:.1f} KiB -> {peak / KIB:.1f} KiB = {r.lower_bound / peak:.2f}x "
                        f"at +{overhead:.1f}% MACs"
                    ),
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--no-tflm", action="store_true", help="skip the TFLM arena bisection")
    args = parser.parse_args(argv)
    rows = collect(tflm=not args.no_tflm)
    print(format_table(rows))
    print()
    checks = targets(rows)
    for what, met, evidence in checks:
        print(f"{'MET    ' if met else 'NOT MET'}  {what}: {evidence}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": [asdict(r) | {"best_peak": r.best_peak, "reduction": r.reduction} for r in rows],
                    "targets": [{"target": w, "met": m, "evidence": e} for w, m, e in checks],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
