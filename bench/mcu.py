"""Every bundled model on the emulated Cortex-M boards: portable C vs optimised kernels, memory, correctness.

    python bench/mcu.py [--models NAME,NAME] [--targets qemu-cortex-m4,qemu-cortex-m55]
                        [--runs 3] [--no-portable] [--json FILE] [--keep DIR]

One row per bundled model and target: every int8 TFLite model in
``models/tflite/`` and every float ONNX model of the zoo (quantized to int8
with 8 seeded standard-normal calibration samples, NCHW).  Each is built
twice per target -- ``--kernels portable`` (plain C, the baseline) and
``--kernels auto`` (the DSP/MVE variants the target's features allow) -- and
run on the device (QEMU, over the serial link) on ``--runs`` seeded random
inputs in one emulator session.  Columns:

* ``MACs`` -- multiply-accumulates of one inference (as scheduled);
* ``portable`` / ``optimised`` -- instructions per inference (median of the
  runs, from the device's counter) with portable C and with the optimised
  variants; ``MAC/instr`` for both.  In QEMU (``-icount shift=0``) these are
  guest *instructions*, not cycles.  On ``qemu-cortex-m55`` every instruction
  counts 1, a 16-MAC Helium (MVE) instruction too;
* ``flash`` / ``SRAM`` -- bytes of the optimised firmware (build.json
  "memory": text+data, and data+bss+stack); ``layouts`` -- the flash the
  optimised weight layouts add (build.json ``totals.layout_extra_bytes``);
* ``TFLM`` -- TFLite Micro + CMSIS-NN instructions for the same ``.tflite``
  on ``qemu-cortex-m4`` (QEMU mps2-an386, ``-icount shift=0``), as measured
  by the author of issue 10 (TFLM 2026 snapshot, default flags), not
  re-measured here; ``edgec/TFLM`` -- optimised edgec instructions over that
  figure (below 1: edgec needs fewer);
* ``bit-exact`` -- whether every output of both builds equals the numpy int8
  reference.

``--models`` takes names as ``tflite:ds_cnn`` / ``onnx:ds_cnn``, or a bare
name (``ds_cnn``) for both formats.  A model that does not fit a target is
listed with the build error instead of numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
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
DEFAULT_TARGETS = ("qemu-cortex-m4", "qemu-cortex-m55")

# TFLite Micro + CMSIS-NN on qemu-cortex-m4 (QEMU mps2-an386, -icount shift=0): instructions per
# inference and arena_used_bytes, from the table of issue 10 -- measured by the author
# (TFLM 2026 snapshot, arm-none-eabi-gcc 12.2, TFLM's default flags), not re-measured here.
TFLM_TARGET = "qemu-cortex-m4"
TFLM_SOURCE = "measured by the issue's author, TFLM 2026 snapshot, not re-measured here"
TFLM_CMSIS_NN = {
    "tflite:ds_cnn": (7_701_520, 22_820),
    "tflite:resnet8": (29_857_840, 54_996),
    "tflite:mobilenet_v1_w0.25_r96": (24_395_760, 100_724),
    "tflite:mobilenet_v2_w0.35_r96": (45_988_200, 204_756),
    "tflite:mcunet": (64_578_840, 183_476),
    "tflite:mobilenet_v2_w1.0_r224": (792_072_800, 1_659_828),
}


@dataclass
class Measured:
    """One build of one model (one kernel mode) on the device."""

    instructions: int | None = None
    bit_exact: bool | None = None
    mismatched_elements: int | None = None
    flash_bytes: int | None = None
    sram_bytes: int | None = None
    arena_bytes: int | None = None
    layout_extra_bytes: int | None = None
    variants: dict = field(default_factory=dict)  # variant -> layers
    error: str | None = None


@dataclass
class Row:
    model: str  # "tflite:ds_cnn"
    target: str
    macs: int | None = None
    unit: str | None = None  # "instructions" in QEMU, "cycles" on a board
    optimised: Measured = field(default_factory=Measured)
    portable: Measured | None = None
    tflm_instructions: int | None = None
    tflm_arena_bytes: int | None = None
    runs: int = 0
    seconds: float = 0.0  # wall time of builds + device runs (not a benchmark figure)

    @property
    def error(self) -> str | None:
        return self.optimised.error

    def per_count(self, m: Measured | None) -> float | None:
        return self.macs / m.instructions if m and self.macs and m.instructions else None

    @property
    def speedup(self) -> float | None:
        p, o = self.portable, self.optimised
        return p.instructions / o.instructions if p and p.instructions and o.instructions else None

    @property
    def vs_tflm(self) -> float | None:
        o = self.optimised.instructions
        return o / self.tflm_instructions if o and self.tflm_instructions else None

    @property
    def bit_exact(self) -> bool:
        builds = [m for m in (self.optimised, self.portable) if m is not None and not m.error]
        return all(m.bit_exact for m in builds)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["optimised"]["macs_per_count"] = self.per_count(self.optimised)
        if self.portable is not None:
            d["portable"]["macs_per_count"] = self.per_count(self.portable)
        d.update(speedup=self.speedup, vs_tflm=self.vs_tflm, tflm_source=TFLM_SOURCE if self.tflm_instructions else None)
        return d


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


def measure_build(path: Path, target: str, kernels: str, calib: Path | None, runs: int, out: Path) -> tuple[Measured, dict | None]:
    m = Measured()
    try:
        if not (out / "build.json").is_file():
            build_model(path, BuildOptions(target=target, out_dir=out, calib=calib, kernels=kernels))
        build = load_build(out)
        if build.summary["target_kind"] != "mcu":
            raise EdgecError(f"{target} is not an MCU target")
        report = profile_build(out, runs=runs)
    except EdgecError as e:
        m.error = str(e)
        return m, None
    mem = build.summary["memory"]
    m.instructions = report["total"]
    m.bit_exact = report["check"]["bit_exact"]
    m.mismatched_elements = report["check"]["mismatched_elements"]
    m.flash_bytes = mem["flash_used"]
    m.sram_bytes = mem["sram_used"]
    m.arena_bytes = build.summary["totals"]["arena_bytes"]
    m.layout_extra_bytes = build.summary["totals"].get("layout_extra_bytes", 0)
    m.variants = dict(build.summary.get("kernels", {}).get("variants", {}))
    return m, report


def measure(model_id: str, path: Path, fmt: str, target: str, runs: int, portable: bool, work: Path) -> Row:
    start = time.monotonic()
    row = Row(model_id, target, runs=runs)
    calib = None
    if fmt == "onnx":
        from models import zoo

        path = zoo.onnx_path(model_id.split(":", 1)[1])
        calib = write_calibration(path, work / f"{path.stem}-calib.npy")
    stem = f"{model_id.replace(':', '-')}-{target}"
    row.optimised, report = measure_build(path, target, "auto", calib, runs, work / f"{stem}-auto")
    if report is not None:
        row.macs, row.unit = report["macs"], report["unit"]
    if portable and not row.optimised.error:
        row.portable, _ = measure_build(path, target, "portable", calib, runs, work / f"{stem}-portable")
    if target == TFLM_TARGET and model_id in TFLM_CMSIS_NN:
        row.tflm_instructions, row.tflm_arena_bytes = TFLM_CMSIS_NN[model_id]
    row.seconds = time.monotonic() - start
    return row


def _num(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def _ratio(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def format_table(rows: list[Row], target: str, runs: int) -> str:
    unit = next((r.unit for r in rows if r.unit), "instructions")
    per = "MAC/instr" if unit == "instructions" else "MAC/cycle"
    head = (
        f"{'model':<30} {'MACs':>12} {'portable':>14} {per:>9} {'optimised':>14} {per:>9} "
        f"{'speedup':>7} {'TFLM':>13} {'edgec/TFLM':>10} {'flash B':>10} {'layouts B':>9} {'SRAM B':>10}  bit-exact"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.model:<30} does not build: {r.error}")
            continue
        o, p = r.optimised, r.portable
        exact = "yes" if r.bit_exact else "NO (" + ", ".join(
            f"{name}: {m.mismatched_elements} elements differ"
            for name, m in (("optimised", o), ("portable", p))
            if m is not None and not m.error and not m.bit_exact
        ) + ")"
        lines.append(
            f"{r.model:<30} {_num(r.macs):>12} {_num(p.instructions if p else None):>14} {_ratio(r.per_count(p)):>9} "
            f"{_num(o.instructions):>14} {_ratio(r.per_count(o)):>9} {_ratio(r.speedup, 2):>7} "
            f"{_num(r.tflm_instructions):>13} {_ratio(r.vs_tflm, 2):>10} {_num(o.flash_bytes):>10} "
            f"{_num(o.layout_extra_bytes):>9} {_num(o.sram_bytes):>10}  {exact}"
        )
        if p is not None and p.error:
            lines.append(f"{'':<30} portable build failed: {p.error}")
    note = ""
    if unit == "instructions":
        note = " (QEMU -icount: instructions, not cycles"
        note += "; a 16-MAC MVE instruction counts 1)" if target.endswith("m55") else ")"
    lines.insert(0, f"edgec on {target}: per inference, median of {runs} run(s){note}")
    if any(r.tflm_instructions for r in rows):
        lines.append(f"TFLM: TFLite Micro + CMSIS-NN on {TFLM_TARGET}, {TFLM_SOURCE}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/mcu.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated model names (tflite:NAME, onnx:NAME or NAME)")
    parser.add_argument(
        "--targets", "--target", dest="targets", default=",".join(DEFAULT_TARGETS),
        help=f"comma-separated MCU targets (default: {','.join(DEFAULT_TARGETS)})",
    )
    parser.add_argument("--runs", type=int, default=3, help="inferences per model; the median is reported")
    parser.add_argument("--no-portable", action="store_true", help="skip the portable-C baseline builds")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    parser.add_argument("--keep", type=Path, help="keep the build folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets:
        parser.error("--targets needs at least one target")
    models = select(bundled_models(), args.models)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="edgec-bench-mcu-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for target in targets:
            for model_id, path, fmt in models:
                print(f"  {model_id} on {target} ...", file=sys.stderr, flush=True)
                row = measure(model_id, path, fmt, target, args.runs, not args.no_portable, work)
                print(f"  {model_id} on {target}: {row.seconds:.1f} s", file=sys.stderr, flush=True)
                rows.append(row)
    print("\n\n".join(format_table([r for r in rows if r.target == t], t, args.runs) for t in targets))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"targets": targets, "runs": args.runs, "tflm_source": TFLM_SOURCE, "rows": [r.to_dict() for r in rows]},
                indent=2,
            )
            + "\n"
        )
    return 0 if all(r.bit_exact for r in rows if not r.error) else 1


if __name__ == "__main__":
    sys.exit(main())
