"""The TVM shim's thread pool against an earlier shim, on the same deployed kernels.

    python bench/tvm_pool.py [--models mobilenet_v2_w0.35_r96] [--against 83d9641] [--repeat 200]

Each model is built once for ``host-tvm``; its runner is then linked twice
with the target's compiler flags, once with this tree's
``edgec/runtime/tvm/tvm_shim.c`` and once with the shim of git revision
``--against`` (default: the last one that started threads per parallel loop),
so the two differ in the shim only.  The runners take turns (``ROUNDS``
rounds, each timing ``--repeat`` inferences in the runner's own
``clock_gettime`` loop) at ``EDGEC_NUM_THREADS=1`` and at every CPU; each
figure is the median of a runner's per-round medians, in ms.  Both runners'
outputs must be equal.  Wall clock on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.deploy.build import compile_runner
from edgec.deploy.project import RUNNER
from edgec.deploy.sources import DeploySources

REPO = Path(__file__).resolve().parents[1]
SHIM = "edgec/runtime/tvm/tvm_shim.c"
PER_LOOP_THREADS_REV = "83d9641"  # the shim before the pool
ROUNDS = 5


def old_shim(rev: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:{SHIM}"], check=True, capture_output=True, text=True
    ).stdout


def time_runner(exe: Path, inputs: Path, out: Path, threads: int, repeat: int) -> float:
    env = {**os.environ, "EDGEC_NUM_THREADS": str(threads)}
    done = subprocess.run(
        [str(exe), str(inputs), str(out), str(repeat)], env=env, check=True, capture_output=True, text=True
    )
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("median_us"))
    return float(line.split()[1]) / 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mobilenet_v2_w0.35_r96", help="comma-separated bundled model names")
    parser.add_argument("--against", default=PER_LOOP_THREADS_REV, help="git revision of the shim to compare with")
    parser.add_argument("--repeat", type=int, default=200, help="inferences per runner per round")
    args = parser.parse_args(argv)
    cpus = os.cpu_count() or 1
    print(f"ms per inference, median of {ROUNDS} rounds x {args.repeat}; shim of {args.against} vs this tree")
    print(f"{'model':<26} {'old 1T':>8} {'new 1T':>8} {f'old {cpus}T':>8} {f'new {cpus}T':>8}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in args.models.split(","):
            out_dir = tmp / name
            build_model(REPO / "models" / "tflite" / f"{name}.tflite", BuildOptions(target="host-tvm", out_dir=out_dir))
            build = load_build(out_dir)
            folder = build.path / "deploy"
            c_files = sorted(f.name for f in folder.glob("*.c") if f.name != RUNNER)
            src = DeploySources(folder=folder, backend="tvm", c_files=c_files, objects=["kernels.o"])
            runners = {"new": tmp / f"{name}-new"}
            compile_runner(src, build.target, runners["new"], profile=False)
            (src.folder / "tvm_shim.c").write_text(old_shim(args.against))
            runners["old"] = tmp / f"{name}-old"
            compile_runner(src, build.target, runners["old"], profile=False)
            size = int(np.prod(build.inputs[0].shape))
            inputs = tmp / "in.bin"
            np.random.default_rng(0).integers(-128, 128, size, dtype=np.int8).tofile(inputs)
            times: dict[tuple[str, int], list[float]] = {}
            for _ in range(ROUNDS):
                for threads in (1, cpus):
                    for which, exe in runners.items():
                        times.setdefault((which, threads), []).append(
                            time_runner(exe, inputs, tmp / f"out-{which}.bin", threads, args.repeat)
                        )
            if (tmp / "out-new.bin").read_bytes() != (tmp / "out-old.bin").read_bytes():
                print(f"{name}: the two runners' outputs differ", file=sys.stderr)
                return 1
            cells = [statistics.median(times[(w, t)]) for t in (1, cpus) for w in ("old", "new")]
            print(f"{name:<26} " + " ".join(f"{c:8.3f}" for c in cells))
    print(
        f"machine load average (1/5/15 min) at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} on {cpus} CPUs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
