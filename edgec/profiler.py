"""`edgec profile`: per-op cycles (or emulator instructions) from the device,
MACs per cycle (instruction) and the kernel variant that ran each op (from
build.json: ``ops[i]["kernel"]``, the C function, and ``ops[i]["variant"]``,
portable/dsp/mve); or per-op times of a Linux-class build (its runner's timers,
or TVM's time_evaluator over RPC); and a check of the outputs against the numpy
reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgec.compiler import Build, load_build
from edgec.errors import EdgecError
from edgec.progress import QUIET, Progress
from edgec.report import format_table, shorten
from edgec.tensor_io import load_array, to_model_input


def profile_inputs(build: Build, runs: int, input_path: Path | None) -> list[np.ndarray]:
    spec = build.inputs[0]
    if input_path is not None:
        return [to_model_input(load_array(input_path), spec)] * runs
    rng = np.random.default_rng(0)
    return [rng.integers(-128, 128, size=spec.shape, dtype=np.int8) for _ in range(runs)]


def compare_outputs(device: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    diffs = [int(np.max(np.abs(d.astype(np.int32) - r.astype(np.int32)), initial=0)) for d, r in zip(device, reference)]
    mismatched = sum(int(np.count_nonzero(d != r)) for d, r in zip(device, reference))
    return {"bit_exact": max(diffs, default=0) == 0, "max_abs_diff": max(diffs, default=0), "mismatched_elements": mismatched}


def profile_build(
    out_dir: Path,
    runs: int = 1,
    port: str | None = None,
    input_path: Path | None = None,
    progress: Progress = QUIET,
    rpc: str | None = None,
) -> dict:
    from edgec.device.session import profile_on_device

    if runs < 1:
        raise EdgecError("--runs must be at least 1")
    build = load_build(out_dir)
    if "deploy" in build.summary:
        if port:
            raise EdgecError(f"--port applies to MCU builds; {out_dir} is for {build.summary['target']}: use --rpc HOST:PORT")
        return profile_linux_build(build, runs, input_path, progress, rpc)
    if rpc:
        raise EdgecError(f"--rpc applies to Linux-class builds (TVM back end); {out_dir} is for {build.summary['target']}")
    if build.summary["target_kind"] != "mcu":
        raise EdgecError(f"{out_dir} is a {build.summary['target']} build: profile needs an MCU build (`edgec build MODEL --target qemu-cortex-m4`)")
    inputs = profile_inputs(build, runs, input_path)
    where = port or f"QEMU {build.target.qemu_machine}"
    with progress.step(f"running {runs} inference(s) on {where}"):
        outputs, results, info = profile_on_device(build.binary, inputs, build.target, port, build.hash32)
    graph = build.graph
    with progress.step("checking against the numpy reference"):
        reference = [build.reference_outputs(x)[graph.outputs[0]] for x in inputs]  # run_mixed for mixed builds
    ops = build.summary["ops"]
    if len(results[0].per_op) != len(ops):
        raise EdgecError(f"device reports {len(results[0].per_op)} ops, the build has {len(ops)}: re-flash the firmware of this build")
    per_op = np.median(np.array([r.per_op for r in results], dtype=np.float64), axis=0)
    total = float(np.median([r.total for r in results]))
    unit = results[0].unit
    rows = []
    for op, count in zip(ops, per_op):
        rows.append(
            {
                "index": op["index"],
                "name": op["name"],
                "op": op["op"],
                "kernel": op.get("kernel", ""),
                "variant": op.get("variant", "portable"),
                "macs": op["macs"],
                "count": int(count),
                "share": float(count / total) if total else 0.0,
                "macs_per_count": float(op["macs"] / count) if count else 0.0,
            }
        )
    macs = sum(op["macs"] for op in ops)
    return {
        "model": build.summary["model"],
        "target": build.summary["target"],
        "device": info.to_json(),
        "unit": unit,
        "runs": runs,
        "ops": rows,
        "total": int(total),
        "macs": macs,
        "macs_per_count": macs / total if total else 0.0,
        "check": compare_outputs(outputs, reference),
    }


def profile_linux_build(build: Build, runs: int, input_path: Path | None, progress: Progress, rpc: str | None) -> dict:
    """Per-op times of a Linux-class build: medians over ``runs`` inferences on seeded inputs."""
    from edgec.runner import run_linux_build, where_it_runs

    inputs = profile_inputs(build, runs, input_path)
    where = where_it_runs(build, rpc=rpc)
    with progress.step(f"running {runs} inference(s) on {where}"):
        result = run_linux_build(build, inputs, rpc=rpc, profile=True)
    graph = build.graph
    with progress.step("checking against the numpy reference"):
        reference = [build.reference_outputs(x)[graph.outputs[0]] for x in inputs]  # run_mixed for mixed builds
    ops = build.summary["ops"]
    if len(result.op_ns) != len(ops):
        raise EdgecError(f"the runner reports {len(result.op_ns)} ops, the build has {len(ops)}: rebuild with `edgec build`")
    total = float(sum(result.op_ns))
    rows = [
        {
            "index": op["index"],
            "name": op["name"],
            "op": op["op"],
            "kernel": op.get("kernel", ""),
            "variant": op.get("variant", "tvm"),
            "macs": op["macs"],
            "count": int(ns),
            "share": float(ns / total) if total else 0.0,
            "macs_per_count": float(op["macs"] / ns) if ns else 0.0,
        }
        for op, ns in zip(ops, result.op_ns)
    ]
    macs = sum(op["macs"] for op in ops)
    if rpc:
        note = "TVM RPC time_evaluator, per kernel on the device"
    elif result.emulated:
        note = "under QEMU user mode: these times mean nothing about a real device, only the outputs do"
    else:
        note = "wall time on this machine"
    return {
        "model": build.summary["model"],
        "target": build.summary["target"],
        "device": {"where": where, "emulated": result.emulated and not rpc},
        "unit": "nanoseconds",
        "note": note,
        "runs": runs,
        "ops": rows,
        "total": int(total),
        "inference_us": result.median_us,
        "macs": macs,
        "macs_per_count": macs / total if total else 0.0,
        "check": compare_outputs(result.outputs, reference),
    }


def kernel_label(kernel: str) -> str:
    """A C kernel name without the library prefix, for tables."""
    return kernel[len("edgec_"):] if kernel.startswith("edgec_") else kernel or "-"


def format_profile(report: dict) -> str:
    unit = report["unit"]
    rows = [
        (
            r["index"],
            shorten(r["name"], 40),
            r["op"],
            kernel_label(r.get("kernel", "")),
            r.get("variant", "portable"),
            r["macs"],
            r["count"],
            f"{100 * r['share']:.1f}%",
            f"{r['macs_per_count']:.3f}" if r["macs"] else "-",
        )
        for r in report["ops"]
    ]
    table = format_table(
        ["#", "op", "type", "kernel", "variant", "MACs", unit, "share", f"MACs/{unit[:-1]}"],
        rows,
        right=(0, 5, 6, 7, 8),
    )
    check = report["check"]
    verdict = (
        "bit-exact with the numpy reference"
        if check["bit_exact"]
        else f"DIFFERS from the reference: {check['mismatched_elements']} elements, max |diff| {check['max_abs_diff']}"
    )
    note = " (QEMU -icount: instructions, not cycles)" if unit == "instructions" else ""
    if report.get("note"):
        note = f" ({report['note']})"
    return (
        f"{report['model']} on {report['target']}, median of {report['runs']} run(s){note}\n{table}\n"
        f"{format_variant_totals(report)}\n"
        f"total: {report['total']:,} {unit}, {report['macs']:,} MACs, {report['macs_per_count']:.3f} MACs/{unit[:-1]}\n"
        f"outputs: {verdict}"
    )


def variant_totals(report: dict) -> dict[str, dict]:
    """Per kernel variant: ops, MACs, counts and MACs per count."""
    totals: dict[str, dict] = {}
    for r in report["ops"]:
        t = totals.setdefault(r.get("variant", "portable"), {"ops": 0, "macs": 0, "count": 0})
        t["ops"] += 1
        t["macs"] += r["macs"]
        t["count"] += r["count"]
    for t in totals.values():
        t["macs_per_count"] = t["macs"] / t["count"] if t["count"] else 0.0
    return totals


def format_variant_totals(report: dict) -> str:
    unit = report["unit"]
    parts = [
        f"{v} {t['ops']} ops, {t['count']:,} {unit} ({t['macs_per_count']:.3f} MACs/{unit[:-1]})"
        for v, t in sorted(variant_totals(report).items(), key=lambda kv: -kv[1]["count"])
    ]
    return "by variant: " + "; ".join(parts)
