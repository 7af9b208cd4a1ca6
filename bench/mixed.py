"""Mixed precision (QuantMCU) on the trained Fashion-MNIST models: accuracy, BitOPs, outliers, search time.

For each model in ``models/fashion/`` (float ONNX, calibration and held-out
subsets, ``models/fashion/data.py``): lower to int8 with the calibration
set, take a patch stage (the one ``edgec build`` picks for qemu-cortex-m4 with
``--sram-budget``, else the last split point at >= 1/8 of the input
resolution on a 2x2 grid, or ``--split MODEL=OP:N``),
run the VDPC + VDQS search (``edgec.mixed.search.search_mixed``) and evaluate
top-1 on the held-out set with the **numpy references**: float graph, int8
graph, and the mixed reference ``run_mixed`` (the oracle the C code is
checked against).  Accuracy is the reference's, not a device's.

Then, per model at the default lambda, the int8 patch build and the mixed build
for ``--target`` (qemu-cortex-m4) each run the first ``--qemu-images`` held-out
images in QEMU (outputs checked bit-exact against the int8 reference and
``run_mixed``) and the per-op profile gives the instructions of the patch stage
(shared prefix + classifier + the variant each patch ran) and of the whole
model (``bench/mixed_stage.py``'s ``qemu_stage_counts``).  QEMU ``-icount``
counts instructions, not cycles.

    python bench/mixed.py [--limit N] [--lambdas 0,0.2,0.5,1] [--sweep MODEL] [--sram-budget KB] [--qemu-images N] [--json FILE]
                          [--eval-data FILE.npz] [--no-float] [--jobs N]

``--eval-data`` measures top-1 on another labelled set than the held-out one
(e.g. the development set the default lambda was picked on,
docs/mixed_precision.md); ``--jobs`` runs the reference runs in forked
processes (same results).

A mixed build whose outlier test can flag no patch may run its stage on a
coarser grid than the int8 build's under the same ``--sram-budget``
(``edgec/mixed/grid.py``); top-1, BitOPs and instructions of the mixed rows are
those of the schedule the mixed build gets, the int8 ones of the int8 build's.

Prints per model: float / int8 / mixed top-1, the grids, BitOPs int8 vs mixed
(patch stage against the int8 stage on its own grid, and on the mixed
stage's grid; whole model), peak SRAM (arena) and stage MACs of both
schedules, calibration and held-out outlier-patch fractions, search time; a lambda sweep for one
model (top-1 and stage BitOPs ratio per lambda); then the instruction table
(patch stage and total, int8 vs mixed, ratio, classifier, outlier patches).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT / "models" / "fashion"


def fashion_models(folder: Path) -> list[tuple[str, Path, int]]:
    """(name, onnx path, input size) of each committed model."""
    found = []
    for path in sorted(folder.glob("*.onnx")):
        import onnx

        model = onnx.load(path, load_external_data=False)
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        found.append((path.stem, path, int(dims[-1])))
    return found


def load_subset(folder: Path, split: str | Path, size: int, limit: int | None):
    """A committed subset (``split`` names ``folder/split.npz``) or any .npz of 28x28 ``x`` (and ``y``)."""
    sys.path.insert(0, str(folder.parent.parent))
    from models.fashion.data import to_input

    with np.load(split if isinstance(split, Path) else folder / f"{split}.npz") as data:
        images = data["x"][:limit]
        labels = data["y"][:limit] if "y" in data else None
    return to_input(images, size), labels


def pick_stage(graph, forced: tuple[str, int] | None, budget_kb: float | None = None, target: str = "qemu-cortex-m4"):
    """(stage, peak SRAM, how it was picked, the BuildOptions that give a build this stage on ``target``)."""
    from edgec.compiler import BuildOptions
    from edgec.schedule.planning import forced_patch_candidate, plan_model
    from edgec.schedule.split_search import split_points
    from edgec.targets import load_target

    def forced_options(split: str, n: int) -> BuildOptions:
        return BuildOptions(target=target, schedule="patch", split=split, patches=n)

    if forced:
        cand = forced_patch_candidate(graph, forced[0], forced[1])
        return cand.stage, cand.peak, "forced", forced_options(forced[0], forced[1])
    options = BuildOptions(target=target, sram_budget_kb=budget_kb)
    plan = plan_model(graph, load_target(target), options)
    if plan.stage is not None:
        return plan.stage, plan.arena_size, f"auto, SRAM budget {budget_kb} KB", options
    size = graph.tensors[graph.inputs[0]].shape[1]
    points = [
        p for p in split_points(graph) if graph.tensors[p].shape[1] * 8 >= size and graph.tensors[p].shape[1] >= 2
    ]
    cand = forced_patch_candidate(graph, points[-1], 2)
    return cand.stage, cand.peak, "last split >= 1/8 resolution, 2x2", forced_options(points[-1], 2)


_WORK: tuple | None = None  # (fn, items) for the forked workers of parallel_map


def _work_item(i: int):
    fn, items = _WORK
    return fn(items[i])


def parallel_map(fn, items: list, jobs: int) -> list:
    """``[fn(v) for v in items]``, in ``jobs`` forked processes when ``jobs > 1`` (same results, same order)."""
    global _WORK
    if jobs <= 1 or len(items) < 2:
        return [fn(v) for v in items]
    import multiprocessing

    _WORK = (fn, items)
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return pool.map(_work_item, range(len(items)), chunksize=max(1, len(items) // (8 * jobs)))
    finally:
        _WORK = None


def top1(outputs: list[np.ndarray], labels: np.ndarray) -> float:
    pred = np.array([int(np.argmax(o.reshape(-1))) for o in outputs])
    return 100.0 * float(np.mean(pred == labels))


def evaluate(folder: Path, name: str, path: Path, size: int, args) -> dict:
    from edgec.calibration import samples_from_arrays
    from edgec.lowering import lower_model
    from edgec.mixed.grid import apply_grid
    from edgec.mixed.reference import run_mixed_detailed
    from edgec.mixed.search import samples_to_int8, search_mixed
    from edgec.reference import run
    from edgec.schedule.planning import plan_model
    from edgec.targets import load_target
    from edgec.tensor_io import io_specs, to_model_input

    calib_x, _ = load_subset(folder, "calib", size, None)
    calib_file = Path(args.tmp) / f"{name}-calib.npy"
    np.save(calib_file, calib_x)
    graph = lower_model(path, calib_file).graph
    stage, peak, how, options = pick_stage(graph, args.forced.get(name), args.sram_budget, args.target)
    samples = samples_to_int8(graph, samples_from_arrays({graph.inputs[0]: calib_x}, graph))
    x, y = load_subset(folder, args.eval_data or "heldout", size, args.limit)
    spec = io_specs(graph, graph.inputs)[0]
    xs = [to_model_input(x[i : i + 1], spec) for i in range(len(x))]
    fx = [np.ascontiguousarray(x[i : i + 1].transpose(0, 2, 3, 1)) for i in range(len(x))]
    out = graph.outputs[0]
    jobs = args.jobs
    float_top1 = None
    if not args.no_float:
        float_graph = lower_model(path, quantize=False).graph
        float_top1 = top1(
            parallel_map(lambda v: run(float_graph, {float_graph.inputs[0]: v})[float_graph.outputs[0]], fx, jobs), y
        )
    int8_top1 = top1(parallel_map(lambda v: run(graph, {graph.inputs[0]: v})[out], xs, jobs), y)
    lambdas = args.lambdas if name == args.sweep else [args.default_lambda]
    if args.default_lambda not in lambdas:
        lambdas = sorted([*lambdas, args.default_lambda])
    rows = []
    qemu = None
    for lam in lambdas:
        mixed = search_mixed(graph, stage, samples, lam, args.outlier_fraction, args.vdpc_test, args.weight_widths)
        if lam == args.default_lambda and args.qemu_images > 0:
            from bench.mixed_stage import qemu_stage_counts

            root = Path(args.tmp) / name
            counts = qemu_stage_counts(graph, options, mixed, xs[: args.qemu_images], root, stage.nodes)
            qemu = {
                "target": args.target,
                "images": min(args.qemu_images, len(xs)),
                "lambda": lam,
                **{f"{key}_{r['label']}": r[key] for r in counts for key in ("stage", "total", "by_class", "per_op", "grid", "arena_bytes", "stage_macs")},
                **{f"sram_{r['label']}": r["image"].sram_used for r in counts},
                **{f"flash_{r['label']}": r["image"].flash_used for r in counts},
                "outlier_patches": counts[1]["outliers"],
                "patches_mixed": counts[1]["grid"][0] * counts[1]["grid"][1] * min(args.qemu_images, len(xs)),
            }
        # the schedule a mixed build gets: the int8 plan's, or a coarser grid its packed maps fit (grid.py)
        plan = plan_model(graph, load_target(args.target), options)
        mixed = apply_grid(graph, plan, mixed, plan.details.get("budget_bytes"))
        built = plan.stage
        runs = parallel_map(lambda v, m=mixed, s=built: run_mixed_detailed(graph, s, m, v), xs, jobs)
        p = mixed.report
        rows.append(
            {
                "lambda": lam,
                "mixed_top1": top1([r.outputs[out] for r in runs], y),
                "grid": list(built.grid),
                "arena_bytes": plan.arena_size,
                "stage_macs": built.macs,
                "stage_bitops": p["stage_bitops"],
                "stage_bitops_int8": p["stage_bitops_int8_grid"],
                "stage_ratio": p["stage_bitops_int8_grid"] / p["stage_bitops"],
                "stage_bitops_int8_same_grid": p["stage_bitops_int8"],
                "stage_ratio_same_grid": p["stage_bitops_int8"] / p["stage_bitops"],
                "bitops": p["bitops"],
                "bitops_int8": p["bitops_int8"] - p["stage_bitops_int8"] + p["stage_bitops_int8_grid"],
                "whole_ratio": (p["bitops_int8"] - p["stage_bitops_int8"] + p["stage_bitops_int8_grid"]) / p["bitops"],
                "outlier_fraction_calib": p["outlier_patch_fraction"],
                "outlier_fraction_heldout": float(np.mean([o for r in runs for o in r.outliers])),
                "outlier_test": p["outlier_test"],
                "bits": p["bits"],
                "weight_bits": p.get("weight_bits", {}),
                "search_seconds": p["search_seconds"],
            }
        )
    return {
        "model": name,
        "input": size,
        "samples": len(xs),
        "stage": {"split": stage.split, "grid": list(stage.grid), "ops": len(stage.nodes), "how": how, "macs": stage.macs},
        "peak_sram_bytes": peak,
        "float_top1": float_top1,
        "int8_top1": int8_top1,
        "runs": rows,
        "qemu": qemu,
    }


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=FASHION)
    parser.add_argument("--limit", type=int, default=1000, help="held-out samples per model")
    parser.add_argument("--lambdas", default="0,0.1,0.2,0.3,0.5,0.7,1")
    parser.add_argument("--default-lambda", type=float, default=None)
    parser.add_argument("--sweep", default=None, help="model for the lambda sweep (default: the first)")
    parser.add_argument("--only", default=None, help="comma-separated model names")
    parser.add_argument("--split", action="append", default=[], metavar="MODEL=OP:N", help="force a stage")
    parser.add_argument("--sram-budget", type=float, default=None, help="KB, for the schedule search picking the stage")
    parser.add_argument("--outlier-fraction", type=float, default=None, help="VDPC target fraction (default: vdpc's)")
    parser.add_argument("--vdpc-test", default="auto", help="auto, input, first or a stage tensor name")
    parser.add_argument("--target", default="qemu-cortex-m4", help="target of the instruction counts")
    parser.add_argument(
        "--qemu-images", type=int, default=1, help="held-out images run in QEMU per build (0: no instruction counts)"
    )
    parser.add_argument(
        "--weight-widths", default="4", help="candidate weight widths besides 8 ('' : int8 weights only)"
    )
    parser.add_argument(
        "--eval-data",
        type=Path,
        default=None,
        help=".npz of 28x28 uint8 x and y to measure top-1 on (default: held-out)",
    )
    parser.add_argument(
        "--no-float", action="store_true", help="skip the float graph's top-1 (saves a third of the time)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes for the held-out reference runs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from edgec.mixed.search import DEFAULT_LAMBDA

    args.default_lambda = DEFAULT_LAMBDA if args.default_lambda is None else args.default_lambda
    args.lambdas = [float(v) for v in args.lambdas.split(",")]
    args.weight_widths = tuple(int(v) for v in args.weight_widths.split(",") if v)
    if args.outlier_fraction is None:
        from edgec.mixed.vdpc import DEFAULT_OUTLIER_FRACTION

        args.outlier_fraction = DEFAULT_OUTLIER_FRACTION
    args.forced = {}
    for item in args.split:
        model, rest = item.split("=", 1)
        op, n = rest.rsplit(":", 1)
        args.forced[model] = (op, int(n))
    models = fashion_models(args.folder)
    if args.only:
        models = [m for m in models if m[0] in args.only.split(",")]
    if not models:
        print(f"no models in {args.folder}", file=sys.stderr)
        return 1
    args.sweep = args.sweep or models[0][0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = tmp
        for name, path, size in models:
            start = time.perf_counter()
            results.append(evaluate(args.folder, name, path, size, args))
            results[-1]["bench_seconds"] = round(time.perf_counter() - start, 1)
    print(
        "model               input  stage (split)          grid int8/mixed  float  int8  mixed  lambda  stage BitOPs int8/mixed  (same grid)  whole"
        "  outliers calib/held  peak SRAM int8/mixed  stage MACs int8/mixed  search s"
    )
    for r in results:
        for row in r["runs"]:
            print(
                f"{r['model']:<19} {r['input']:>5}  {r['stage']['split'][-22:]:>22} {r['stage']['grid'][0]}x{r['stage']['grid'][1]}/{row['grid'][0]}x{row['grid'][1]}"
                f"  {'-' if r['float_top1'] is None else format(r['float_top1'], '6.2f'):>6} {r['int8_top1']:5.2f} {row['mixed_top1']:6.2f}  {row['lambda']:6.3g}"
                f"  {row['stage_bitops_int8']:>11,}/{row['stage_bitops']:>11,} {row['stage_ratio']:5.2f}x ({row['stage_ratio_same_grid']:5.2f}x) {row['whole_ratio']:5.2f}x"
                f"  {100 * row['outlier_fraction_calib']:5.1f}%/{100 * row['outlier_fraction_heldout']:5.1f}%  {r['peak_sram_bytes']:>9,}/{row['arena_bytes']:>7,}"
                f"  {r['stage']['macs']:>10,}/{row['stage_macs']:>10,}  {row['search_seconds']:7.2f}"
            )
    print(
        "(top-1 in % on the held-out subset, numpy references; BitOPs = MACs x weight bits x activation bits, patch classes weighted by the outlier fraction;\n"
        " int8 = the int8 patch stage on its own grid (the schedule search's under the budget); the mixed stage may take a coarser grid its packed maps fit\n"
        " (edgec/mixed/grid.py); '(same grid)': against the int8 stage on the mixed stage's grid)"
    )
    counted = [r for r in results if r["qemu"]]
    if counted:
        q = counted[0]["qemu"]
        print()
        print(
            f"{q['target']}, QEMU instructions (-icount), not cycles; lambda {q['lambda']}, {q['images']} held-out image(s), "
            "outputs bit-exact with the references"
        )
        print(
            "model               grid int8/mixed  patch stage int8  patch stage mixed  ratio   classifier  total int8   total mixed  ratio"
            "  outlier patches  SRAM int8/mixed (firmware)"
        )
        for r in counted:
            q = r["qemu"]
            print(
                f"{r['model']:<19} {q['grid_int8'][0]}x{q['grid_int8'][1]}/{q['grid_mixed'][0]}x{q['grid_mixed'][1]}"
                f"      {q['stage_int8']:>16,} {q['stage_mixed']:>18,} {q['stage_mixed'] / q['stage_int8']:6.3f}x"
                f" {q['by_class_mixed'].get('classifier', 0):>11,} {q['total_int8']:>11,} {q['total_mixed']:>13,}"
                f" {q['total_mixed'] / q['total_int8']:6.3f}x  {q['outlier_patches']}/{q['patches_mixed']}"
                f"  {q['sram_int8']:,}/{q['sram_mixed']:,}"
            )
        print("(patch stage = shared prefix + classifier + the variant each patch ran; ratio = mixed / int8)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
