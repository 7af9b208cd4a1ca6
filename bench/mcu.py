"""Every bundled model on the emulated Cortex-M4: work, speed in instructions, memory, correctness.

    python bench/mcu.py [--models NAME,NAME] [--target qemu-cortex-m4] [--runs 3] [--json FILE] [--keep DIR]

One row per bundled model: every int8 TFLite model in ``models/tflite/`` and
every float ONNX model of the zoo (quantized to int8 with 8 seeded
standard-normal calibration samples, NCHW).  Each is built for the target and
run on the device (QEMU, over the serial link) on ``--runs`` seeded random
inputs in one emulator session.  Columns:

* ``MACs`` -- multiply-accumulates of one inference (as scheduled);
* ``instructions`` -- per inference, median of the runs, from the device's
  counter.  In QEMU (``-icount shift=0``) these are guest *instructions*, not
  cycles: a real core's cycle count differs (pipeline, memory waits);
* ``MACs/instr`` -- MACs per instruction;
* ``flash`` / ``SRAM`` -- bytes of the firmware (build.json "memory":
  text+data, and data+bss+stack);
* ``arena`` -- the planned tensor arena in bytes (part of SRAM);
* ``bit-exact`` -- whether every output equals the numpy int8 reference.

``--models`` takes names as ``tflite:ds_cnn`` / ``onnx:ds_cnn``, or a bare
name (``ds_cnn``) for both formats.  A model that does not fit the target is
listed with the build error instead of numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the bundled models package lives at the repo root

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.errors import EdgecError
from edgec.profiler import profile_build

TFLITE_DIR = REPO / "models" / "tflite"
CALIB_SAMPLES = 8
CALIB_SEED = 0


@dataclass
class Row:
    model: str  # "tflite:ds_cnn"
    macs: int | None = None
    instructions: int | None = None
    unit: str | None = None  # "instructions" in QEMU, "cycles" on a board
    flash_bytes: int | None = None
    sram_bytes: int | None = None
    arena_bytes: int | None = None
    bit_exact: bool | None = None
    mismatched_elements: int | None = None
    runs: int = 0
    seconds: float = 0.0  # wall time of build + device runs (not a benchmark figure)
    error: str | None = None

    @property
    def macs_per_count(self) -> float | None:
        return self.macs / self.instructions if self.macs and self.instructions else None

    def to_dict(self) -> dict:
        return {**asdict(self), "macs_per_count": self.macs_per_count}


def bundled_models() -> list[tuple[str, Path, str]]:
    """(id, path, format) of every bundled model."""
    from models import zoo

    models = [(f"tflite:{p.stem}", p, "tflite") for p in sorted(TFLITE_DIR.glob("*.tflite"))]
    models += [(f"onnx:{name}", Path(), "onnx") for name in zoo.list_models()]  # path resolved lazily
    return models


def select(models: list[tuple[str, Path, str]], wanted: str | None) -> list[tuple[str, Path, str]]:
    if not wanted:
        return models
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    chosen = [m for m in models if m[0] in names or m[0].split(":", 1)[1] in names]
    known = {m[0] for m in models} | {m[0].split(":", 1)[1] for m in models}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"error: unknown model(s) {', '.join(unknown)}; known: {', '.join(m[0] for m in models)}")
    return chosen


def write_calibration(model_path: Path, path: Path) -> Path:
    """Seeded standard-normal samples in the ONNX model's own (NCHW) input shape, stacked along axis 0."""
    import onnx

    dims = [d.dim_value for d in onnx.load(model_path).graph.input[0].type.tensor_type.shape.dim]
    rng = np.random.default_rng(CALIB_SEED)
    np.save(path, rng.standard_normal([CALIB_SAMPLES, *dims[1:]]).astype(np.float32))
    return path


def measure(model_id: str, path: Path, fmt: str, target: str, runs: int, work: Path) -> Row:
    start = time.monotonic()
    row = Row(model_id, runs=runs)
    calib = None
    if fmt == "onnx":
        from models import zoo

        path = zoo.onnx_path(model_id.split(":", 1)[1])
        calib = write_calibration(path, work / f"{path.stem}-calib.npy")
    out = work / f"{model_id.replace(':', '-')}-{target}"
    try:
        if not (out / "build.json").is_file():
            build_model(path, BuildOptions(target=target, out_dir=out, calib=calib))
        build = load_build(out)
        if build.summary["target_kind"] != "mcu":
            raise EdgecError(f"{target} is not an MCU target")
        report = profile_build(out, runs=runs)
    except EdgecError as e:
        row.error = str(e)
        row.seconds = time.monotonic() - start
        return row
    mem = build.summary["memory"]
    row.macs = report["macs"]
    row.instructions = report["total"]
    row.unit = report["unit"]
    row.flash_bytes = mem["flash_used"]
    row.sram_bytes = mem["sram_used"]
    row.arena_bytes = build.summary["totals"]["arena_bytes"]
    row.bit_exact = report["check"]["bit_exact"]
    row.mismatched_elements = report["check"]["mismatched_elements"]
    row.seconds = time.monotonic() - start
    return row


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def format_table(rows: list[Row], target: str, runs: int) -> str:
    unit = next((r.unit for r in rows if r.unit), "instructions")
    head = (
        f"{'model':<30} {'MACs':>13} {unit:>15} {'MACs/' + unit[:-1]:>17} "
        f"{'flash B':>11} {'SRAM B':>11} {'arena B':>11}  bit-exact"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.model:<30} does not build: {r.error}")
            continue
        exact = "yes" if r.bit_exact else f"NO ({r.mismatched_elements} elements differ)"
        mpc = f"{r.macs_per_count:.3f}" if r.macs_per_count else "-"
        lines.append(
            f"{r.model:<30} {_num(r.macs):>13} {_num(r.instructions):>15} {mpc:>17} "
            f"{_num(r.flash_bytes):>11} {_num(r.sram_bytes):>11} {_num(r.arena_bytes):>11}  {exact}"
        )
    note = " (QEMU -icount: instructions, not cycles)" if unit == "instructions" else ""
    lines.insert(0, f"edgec on {target}: per inference, median of {runs} run(s){note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/mcu.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated model names (tflite:NAME, onnx:NAME or NAME)")
    parser.add_argument("--target", default="qemu-cortex-m4", help="MCU target (default: qemu-cortex-m4)")
    parser.add_argument("--runs", type=int, default=3, help="inferences per model; the median is reported")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument("--keep", type=Path, help="keep the build folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    models = select(bundled_models(), args.models)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="edgec-bench-mcu-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for model_id, path, fmt in models:
            print(f"  {model_id} ...", file=sys.stderr, flush=True)
            row = measure(model_id, path, fmt, args.target, args.runs, work)
            print(f"  {model_id}: {row.seconds:.1f} s", file=sys.stderr, flush=True)
            rows.append(row)
    print(format_table(rows, args.target, args.runs))
    if args.json:
        args.json.write_text(
            json.dumps({"target": args.target, "runs": args.runs, "rows": [r.to_dict() for r in rows]}, indent=2) + "\n"
        )
    return 0 if all(r.bit_exact for r in rows if not r.error) else 1


if __name__ == "__main__":
    sys.exit(main())
