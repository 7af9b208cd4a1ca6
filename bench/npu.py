"""Every bundled int8 TFLite model on the Ethos-U targets: partition, Vela's estimates, memory.

    python bench/npu.py [--models ds_cnn,resnet8] [--targets corstone-300-u55-128,...]
                        [--measure-m55] [--json FILE] [--keep DIR]

One row per model (``models/tflite/*.tflite``) and NPU target, from a full
``edgec build`` (Vela, partition, glue, every source compiled with -Werror;
nothing linked or run: no Ethos-U emulator here). Columns:

* ``NPU ops`` / ``CPU ops`` -- edgec layers Vela runs / left on the CPU, and
  the number of NPU segments;
* ``Vela cycles`` / ``Vela ms`` -- Vela 5.2.0's *estimate* of NPU cycles and
  time for one inference, with the target's system config and memory mode
  (its "internal compiler estimates"; not measured);
* ``Vela SRAM KiB`` / ``Vela flash KiB`` -- what Vela reports using;
* ``SRAM B`` -- edgec's count for the whole firmware: data + bss (edgec's
  CPU arena and Vela's arena included) + stack, from the unlinked objects
  (an upper bound); ``const B`` -- command streams, encoded weights and the
  CPU layers' weights;
* ``M55 instr`` / ``M55 SRAM B`` -- edgec alone on ``qemu-cortex-m55`` (MVE
  kernels): QEMU *instructions* per inference and firmware SRAM bytes, from
  docs/kernels.md (``bench/mcu.py --runs 1``), copied here, not re-measured;
  with ``--measure-m55`` measured in this run instead (one seeded inference
  per model in QEMU, bit-exactness checked; the largest model takes minutes).
  Instructions and NPU cycles are different units: no ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgec.compiler import BuildOptions, build_model
from edgec.errors import EdgecError

TARGETS = ("corstone-300-u55-128", "corstone-300-u55-256", "corstone-320-u85-256")
# edgec on qemu-cortex-m55, optimised kernels: (QEMU instructions, SRAM bytes); docs/kernels.md.
M55_FROM_DOCS = {
    "ds_cnn": (1_715_687, 31_720),
    "mcunet": (6_523_906, 75_768),
    "mobilenet_v1_w0.25_r96": (3_425_750, 84_928),
    "mobilenet_v2_w0.35_r96": (5_073_969, 66_640),
    "mobilenet_v2_w1.0_r224": (93_781_281, 308_648),
    "resnet8": (5_039_843, 47_752),
}
COLUMNS = (
    "model", "target", "NPU ops", "CPU ops", "segments", "Vela cycles", "Vela ms", "Vela SRAM KiB",
    "Vela flash KiB", "SRAM B", "const B", "M55 instr", "M55 SRAM B", "build s",
)  # fmt: skip


def measure_m55(model: Path, out: Path) -> tuple[int | None, int | None]:
    """edgec alone on qemu-cortex-m55: (QEMU instructions of one bit-exact inference, firmware SRAM bytes)."""
    from edgec.profiler import profile_build

    try:
        s = build_model(model, BuildOptions(target="qemu-cortex-m55", out_dir=out))
        report = profile_build(out, runs=1)
    except EdgecError as e:
        print(f"{model.stem} qemu-cortex-m55: {e}", file=sys.stderr)
        return None, None
    if not report["check"]["bit_exact"]:
        print(f"{model.stem} qemu-cortex-m55: output NOT bit-exact with the reference", file=sys.stderr)
        return None, None
    return report["total"], s["memory"]["sram_used"]


def bench_one(model: Path, target: str, out: Path, m55: tuple[int | None, int | None] | None = None) -> dict:
    start = time.perf_counter()
    try:
        s = build_model(model, BuildOptions(target=target, out_dir=out))
    except EdgecError as e:
        return {"model": model.stem, "target": target, "error": str(e)}
    vela, npu, mem = s["vela"], s["npu"], s["memory"]
    m55 = m55 or M55_FROM_DOCS.get(model.stem, (None, None))
    return {
        "model": model.stem,
        "target": target,
        "NPU ops": npu["npu_layers"],
        "CPU ops": npu["cpu_layers"],
        "segments": len(npu["segments"]),
        "Vela cycles": vela["estimated_cycles"],
        "Vela ms": round(vela["estimated_ms"], 3),
        "Vela SRAM KiB": round(vela["sram_kib"], 1),
        "Vela flash KiB": round(vela["off_chip_flash_kib"], 1),
        "SRAM B": mem["sram_used"],
        "const B": mem["weights_used"],
        "M55 instr": m55[0],
        "M55 SRAM B": m55[1],
        "build s": round(time.perf_counter() - start, 1),
        "estimate": vela["label"],
        "fallbacks": npu["fallbacks"],
    }


def markdown(rows: list[dict]) -> str:
    def cell(v) -> str:
        if v is None:
            return "-"
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['target']} | error: {r['error']} |")
        else:
            lines.append("| " + " | ".join(cell(r[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated model stems (default: every models/tflite/*.tflite)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--measure-m55", action="store_true", help="measure edgec on qemu-cortex-m55 in this run")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="keep the build folders here")
    args = ap.parse_args(argv)
    models = sorted((REPO / "models" / "tflite").glob("*.tflite"))
    if args.models:
        wanted = set(args.models.split(","))
        models = [m for m in models if m.stem in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgec-npu-bench-") as tmp:
        root = args.keep or Path(tmp)
        m55 = {m.stem: measure_m55(m, root / f"{m.stem}-qemu-cortex-m55") for m in models} if args.measure_m55 else {}
        for target in args.targets.split(","):
            for model in models:
                row = bench_one(model, target, root / f"{model.stem}-{target}", m55.get(model.stem))
                rows.append(row)
                print(f"{model.stem} {target}: " + (row.get("error") or f"{row['Vela cycles']:,} cycles ({row['build s']} s)"), file=sys.stderr)
    print(markdown(rows))
    labels = sorted({r["estimate"] for r in rows if "estimate" in r})
    source = "measured in this run" if args.measure_m55 else "docs/kernels.md, not re-measured"
    print("\nVela figures: " + "; ".join(labels) + f". M55 columns: QEMU instructions, not cycles ({source}).")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
