"""Instructions of the mixed-precision patch stage against the int8 patch stage, in QEMU.

The small conv net of tests/mixed_fixture.py (20x20x3 input, an 8-op patch stage
on a 3x3 grid: conv 3x3, depthwise 3x3, conv 1x1, conv 3x3 stride 2, max pool,
conv 1x1, add, conv 3x3) is built for ``qemu-cortex-m4`` (DSP kernels) three ways:

* ``int8``: the int8 patch stage (no ``plan.mixed``);
* ``mixed, no outliers``: the hand-made mixed variant with thresholds no value
  exceeds (every patch takes the mixed branch);
* ``mixed, all outliers``: thresholds every patch exceeds (every patch takes
  the int8 branch after the classifier).

Then the trained Fashion-MNIST CNN (``models/fashion``, the patch stage
``bench/mixed.py`` picks, the VDQS search at lambda 0.5 on the calibration
subset) is built int8 and mixed and runs the first held-out images.

Each firmware runs the same input in QEMU (``-icount shift=0``: the
counter is QEMU's instruction count, not cycles) and the per-op counts are summed
over the stage ops (shared prefix + classifier + the branch that ran).  The
outputs are checked bit-exact against the patch-wise reference first.

    python bench/mixed_stage.py [--target qemu-cortex-m4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgec.codegen.c import emit_project
from edgec.compiler import BuildOptions
from edgec.device.session import run_on_device
from edgec.firmware import build_firmware
from edgec.lowering import lower_model
from edgec.reference import run
from edgec.schedule.planning import plan_model
from edgec.targets import load_target
from tests import mixed_fixture as mf


def stage_counts(graph, target: str, mixed_thresholds, x, folder: Path) -> tuple[dict[str, int], int, object]:
    """Per-op QEMU counts of the stage ops (by precision class), the whole-model total and the firmware info."""
    options = BuildOptions(target=target, schedule="patch", split=mf.tensor_of(graph, mf.SPLIT), patches=3)
    plan = plan_model(graph, load_target(target), options)
    if mixed_thresholds is None:
        want = run(graph, x)[graph.outputs[0]]
    else:
        plan.mixed = mf.mixed_variant(graph, plan.stage, *mixed_thresholds)
        want, _ = mf.reference_outputs(graph, plan.stage, plan.mixed, x)
    project = emit_project(graph, plan, folder / "src", load_target(target), "0" * 64)
    image = build_firmware(folder / "src", target, folder / "bin")
    (out,), (counts,), _ = run_on_device(image.elf, [x], target)
    if not np.array_equal(out, want):
        raise SystemExit(f"{folder.name}: the firmware's output differs from the reference")
    stage = set(plan.stage.nodes)
    by_class: dict[str, int] = {}
    for op in project.ops:
        if op["name"] in stage or op["op"] == "vdpc_classify":
            key = "classifier" if op["op"] == "vdpc_classify" else op.get("precision", "int8")
            by_class[key] = by_class.get(key, 0) + counts[op["index"]]
    return by_class, sum(counts), image


def qemu_stage_counts(graph, options: BuildOptions, mixed, xs, root: Path, stage_nodes=None) -> list[dict]:
    """Build ``graph`` for ``options.target`` twice, the int8 patch stage and the mixed one (``mixed``, a
    ``MixedPrecision`` for the plan's stage), run ``xs`` on each in QEMU (one session per build) after
    checking the outputs bit-exact against the references, and return per build: ``label``,
    ``by_class`` (stage instructions by precision class: shared prefix + classifier, int8, mixed),
    ``stage`` (their sum), ``total`` (whole model), ``outliers`` (outlier patches), ``image`` and
    ``per_op`` (the stage ops' records: name, op, precision, kernel, instructions), ``grid``,
    ``arena_bytes`` and ``stage_macs`` of the schedule built (the mixed build may take a coarser grid,
    ``edgec/mixed/grid.py``) and ``precision`` (the mixed report); counts summed over ``xs``."""
    from edgec.mixed.reference import run_mixed_detailed

    target = load_target(options.target)
    rows = []
    for label in ("int8", "mixed"):
        plan = plan_model(graph, target, options)
        if stage_nodes is not None and list(plan.stage.nodes) != list(stage_nodes):
            raise SystemExit(f"{label}: the build's patch stage differs from the one searched")
        if label == "mixed":
            from edgec.mixed.grid import apply_grid

            plan.mixed = apply_grid(graph, plan, mixed, plan.details.get("budget_bytes"))  # as edgec build does
            runs = [run_mixed_detailed(graph, plan.stage, plan.mixed, v) for v in xs]
            want = [r.outputs[graph.outputs[0]] for r in runs]
            outliers = sum(sum(r.outliers) for r in runs)
        else:
            want = [run(graph, v)[graph.outputs[0]] for v in xs]
            outliers = 0
        folder = root / f"qemu-{label}"
        project = emit_project(graph, plan, folder / "src", target, "0" * 64)
        image = build_firmware(folder / "src", options.target, folder / "bin")
        outs, counts, _ = run_on_device(image.elf, xs, options.target)
        if any(not np.array_equal(o, w) for o, w in zip(outs, want)):
            raise SystemExit(f"{label}: the firmware's output differs from the reference")
        stage_ops = set(plan.stage.nodes)
        by_class: dict[str, int] = {}
        for op in project.ops:
            if op["name"] in stage_ops or op["op"] == "vdpc_classify":
                key = "classifier" if op["op"] == "vdpc_classify" else op.get("precision", "int8")
                by_class[key] = by_class.get(key, 0) + sum(c[op["index"]] for c in counts)
        total = sum(sum(c) for c in counts)
        per_op = [
            {"name": op["name"], "op": op["op"], "precision": op.get("precision", "int8"), "kernel": op.get("kernel"),
             "instructions": sum(c[op["index"]] for c in counts)}
            for op in project.ops
            if op["name"] in stage_ops or op["op"] == "vdpc_classify"
        ]  # fmt: skip
        rows.append(
            {
                "label": label,
                "by_class": by_class,
                "stage": sum(by_class.values()),
                "total": total,
                "outliers": outliers,
                "image": image,
                "per_op": per_op,
                "grid": list(plan.stage.grid),
                "arena_bytes": plan.arena_size,
                "stage_macs": plan.stage.macs,
                "precision": plan.mixed.report if plan.mixed is not None else None,
            }
        )
    return rows


def fashion_counts(target: str, root: Path, images: int = 3) -> list[dict]:
    """qemu_stage_counts of fashion_cnn (the stage bench/mixed.py picks, lambda 0.5) over ``images`` held-out images."""
    from bench.mixed import FASHION, fashion_models, load_subset, pick_stage
    from edgec.calibration import samples_from_arrays
    from edgec.mixed.search import samples_to_int8, search_mixed
    from edgec.tensor_io import io_specs, to_model_input

    _, path, size = next(m for m in fashion_models(FASHION) if m[0] == "fashion_cnn")
    calib_x, _ = load_subset(FASHION, "calib", size, None)
    np.save(root / "fashion-calib.npy", calib_x)
    graph = lower_model(path, root / "fashion-calib.npy").graph
    stage, _, _, options = pick_stage(graph, None, target=target)
    samples = samples_to_int8(graph, samples_from_arrays({graph.inputs[0]: calib_x}, graph))
    x, _ = load_subset(FASHION, "heldout", size, images)
    spec = io_specs(graph, graph.inputs)[0]
    xs = [to_model_input(x[i : i + 1], spec) for i in range(len(x))]
    mixed = search_mixed(graph, stage, samples, 0.5)
    return qemu_stage_counts(graph, options, mixed, xs, root, stage.nodes)


HEADER = f"{'build':<26} {'stage total':>12} {'shared':>10} {'classifier':>10} {'int8 branch':>12} {'mixed branch':>13} {'model total':>12} {'flash':>8} {'SRAM':>7}"


def print_row(label: str, by_class: dict[str, int], total: int, base: int, image) -> None:
    stage_total = sum(by_class.values())
    print(
        f"{label:<26} {stage_total:>12,} {by_class.get('shared', 0):>10,} {by_class.get('classifier', 0):>10,} {by_class.get('int8', 0):>12,} "
        f"{by_class.get('mixed', 0):>13,} {total:>12,} {image.flash_used:>8,} {image.sram_used:>7,}"
        f"   ({stage_total / base:.3f}x int8 stage)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="qemu-cortex-m4")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgec-mixed-bench-") as tmp:
        root = Path(tmp)
        model, calib = mf.write_model(root)
        graph = lower_model(model, calib).graph
        x = np.random.default_rng(0).integers(-128, 128, size=graph.tensors[graph.inputs[0]].shape).astype(np.int8)
        rows = [
            ("int8", None),
            ("mixed, no outliers", (-128, 127)),
            ("mixed, all outliers", (0, -1)),
        ]
        print(f"patch stage of tests/mixed_fixture.py on {args.target}, QEMU instructions (-icount, not cycles)")
        print(HEADER)
        base = None
        for label, thresholds in rows:
            folder = root / label.replace(" ", "_").replace(",", "")
            by_class, total, image = stage_counts(graph, args.target, thresholds, x, folder)
            base = base or sum(by_class.values())
            print_row(label, by_class, total, base, image)
        print()
        print(f"fashion_cnn (models/fashion), 3 held-out images, lambda 0.5, {args.target}, QEMU instructions")
        base = None
        print(HEADER)
        for row in fashion_counts(args.target, root):
            base = base or row["stage"]
            name = f"mixed ({row['outliers']} outlier patches)" if row["label"] == "mixed" else row["label"]
            print_row(name, row["by_class"], row["total"], base, row["image"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
