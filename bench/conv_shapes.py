"""Convolution kernels on typical layer shapes: instructions per MAC, portable C vs the target's variant.

    python bench/conv_shapes.py [--target qemu-cortex-m4] [--shapes NAME,NAME] [--json FILE]

Each shape is a one-conv ONNX model (Conv + Relu, seeded weights, quantized with
4 seeded calibration samples) built twice for the target, ``--kernels portable``
and ``--kernels auto`` (layer schedule, so the conv is one kernel call), and
profiled on the device (QEMU).  Columns: the conv's kernel, its instructions
(QEMU ``-icount``: instructions, not cycles), MACs per instruction, and whether
the output equals the numpy int8 reference.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name: (input C, H, W), output channels, kernel, stride, padding
SHAPES = {
    "1x1_8to48_48x48": ((8, 48, 48), 48, 1, 1, 0),  # MobileNetV2-0.35 expansion
    "1x1_48to8_48x48": ((48, 48, 48), 8, 1, 1, 0),  # MobileNetV2-0.35 projection
    "1x1_96to16_12x12": ((96, 12, 12), 16, 1, 1, 0),
    "3x3_16to16_32x32": ((16, 32, 32), 16, 3, 1, 1),  # ResNet-8 block
    "3x3_3to16_s2_96x96": ((3, 96, 96), 16, 3, 2, 1),  # first layer
}


def _model(path: Path, shape) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    (ci, h, w), co, k, s, p = shape
    rng = np.random.default_rng(1)
    weights = (rng.standard_normal((co, ci, k, k)) * 0.5).astype(np.float32)
    bias = (rng.standard_normal(co) * 0.5).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4),
            helper.make_node("Relu", ["c"], ["y"]),
        ],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, ci, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def measure(name: str, target: str, root: Path) -> list[dict]:
    from edgec.compiler import BuildOptions, build_model
    from edgec.profiler import profile_build

    shape = SHAPES[name]
    model = _model(root / f"{name}.onnx", shape)
    calib = root / f"{name}-calib.npy"
    np.save(calib, np.random.default_rng(0).standard_normal((4, *shape[0])).astype(np.float32))
    rows = []
    for mode in ("portable", "auto"):
        out = root / f"{name}-{mode}"
        build_model(model, BuildOptions(target=target, out_dir=out, calib=calib, schedule="layer", kernels=mode))
        result = profile_build(out)
        op = next(o for o in result["ops"] if o["op"] == "conv2d")
        rows.append(
            {
                "shape": name,
                "kernels": mode,
                "kernel": op["kernel"],
                "instructions": op["count"],
                "macs": op["macs"],
                "macs_per_instruction": op["macs"] / op["count"],
                "bit_exact": result["check"]["bit_exact"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="qemu-cortex-m4")
    parser.add_argument("--shapes", help="comma-separated shape names (default: all): " + ", ".join(SHAPES))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    names = args.shapes.split(",") if args.shapes else list(SHAPES)
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}: choose from {', '.join(SHAPES)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgec-conv-shapes-") as tmp:
        for name in names:
            rows += measure(name, args.target, Path(tmp))
    print(f"conv kernels on {args.target} (QEMU -icount: instructions, not cycles)")
    print(f"{'shape':22s} {'kernels':9s} {'kernel':24s} {'instructions':>13s} {'MACs':>11s} {'MACs/instr':>11s}  exact")
    for r in rows:
        print(
            f"{r['shape']:22s} {r['kernels']:9s} {r['kernel']:24s} {r['instructions']:>13,} {r['macs']:>11,} "
            f"{r['macs_per_instruction']:>11.3f}  {'yes' if r['bit_exact'] else 'NO'}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
