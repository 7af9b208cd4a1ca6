"""The TVM kernels of one bundled model with each form of the requantization epilogue (x86).

* ``vpmullq``: the reference's fixed-point steps per element in TE, the
  product's int32 factors widened as TVM simplifies them (a full 64-bit
  ``vpmullq``);
* ``vpmuldq``: the same steps with the factors kept opaque int32
  (``fixed_point._int32_value``): LLVM multiplies them with ``vpmuldq``;
* ``op``: ``requant_x86``'s one-rounding op on even/odd int64 lanes, with
  the bias and the output offset folded into per-channel constants and
  ``vpmovsdb`` narrowing (what x86 builds use).

The builds live in one process (``bench/tvm_path.py``'s ``TvmModel``, 1
thread) and every kernel is timed alternately, best of ``--rounds`` x 10
runs, so a busy machine slows all alike.  Prints the slowest kernels and the
sum of all.

    python bench/tvm_requant.py --model mobilenet_v2_w1.0_r224
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2_w1.0_r224", help="a models/tflite/*.tflite name")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of 10 runs per kernel")
    parser.add_argument("--top", type=int, default=12, help="kernels listed (slowest first)")
    args = parser.parse_args()

    import tvm
    from tvm_path import TvmModel, set_threads

    from edgec.codegen.tvm import fixed_point, requant_x86
    from edgec.lowering import lower_model

    graph = lower_model(REPO / "models" / "tflite" / f"{args.model}.tflite").graph
    kept_value, kept_usable = fixed_point._int32_value, requant_x86.usable
    requant_x86.usable = lambda mults, exponents: False  # the fixed-point steps in TE
    try:
        fixed_point._int32_value = lambda x: x  # the factors widened as TVM simplifies them
        builds = {"vpmullq": TvmModel(graph)}
        fixed_point._int32_value = kept_value
        builds["vpmuldq"] = TvmModel(graph)
    finally:
        fixed_point._int32_value, requant_x86.usable = kept_value, kept_usable
    builds["op"] = TvmModel(graph)
    set_threads(1)
    first = builds["vpmullq"]
    rows = []
    for k, call in enumerate(first.program.calls):
        if call.func is None:
            continue
        best = dict.fromkeys(builds, float("inf"))
        for _ in range(args.rounds):
            for name, model in builds.items():
                timer = model.module.time_evaluator(call.func, tvm.cpu(), number=10, repeat=1)
                best[name] = min(best[name], timer(*model.steps[k][1]).results[0] * 1e6)
        rows.append((call.func, "+".join(call.ops), best))
    print(f"{args.model}: us per kernel, 1 thread, best of {args.rounds} x 10 runs, builds alternating")
    print(f"{'kernel':28s} {'ops':28s} " + " ".join(f"{name:>9s}" for name in builds))
    for func, ops, best in sorted(rows, key=lambda r: -r[2]["vpmuldq"])[: args.top]:
        print(f"{func:28s} {ops[:28]:28s} " + " ".join(f"{best[name]:9.1f}" for name in builds))
    total = {name: sum(r[2][name] for r in rows) for name in builds}
    print(f"{'all kernels':57s} " + " ".join(f"{total[name]:9.1f}" for name in builds))


if __name__ == "__main__":
    main()
