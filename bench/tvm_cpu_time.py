"""CPU time per inference of the deployed TVM runner and of LiteRT (XNNPACK), 1 thread.

``bench/host_speed.py`` reports wall-clock medians; on a shared machine other
jobs take the CPU in the middle of an inference and a wall-clock time counts
that.  This bench counts only the CPU time each engine itself used:

* LiteRT+XNNPACK (1 thread, which runs in the calling thread): the thread's
  CPU time (``time.thread_time``) over ``--runs`` invokes, after one warm-up;
* the ``host-tvm`` build's runner at ``EDGEC_NUM_THREADS=1``: the user + system
  time of the child process (``resource.getrusage(RUSAGE_CHILDREN)``) of a run
  of ``--runs + 1`` inferences minus that of a run of 1, so the process start,
  the file I/O and the first (cold) inference cancel out.

Each of ``--rounds`` rounds times both; the input is the same seeded random
tensor as ``host_speed.py``'s.  CPU time still varies with load where the two
CPUs are hyperthreads of one core, so compare the ratio within a round.

    python bench/tvm_cpu_time.py --models mobilenet_v2_w0.35_r96 --runs 300
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from host_speed import TFLITE_DIR, litert_interpreter, model_input

from edgec.compiler import BuildOptions, build_model, load_build


def litert_cpu_ms(interpreter, runs: int) -> float:
    start = time.thread_time()
    for _ in range(runs):
        interpreter.invoke()
    return (time.thread_time() - start) / runs * 1e3


def child_cpu_s(cmd: list[str]) -> float:
    """User + system seconds of one run of ``cmd`` (a child process, 1 thread)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "EDGEC_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def runner_cpu_ms(binary: Path, inputs: Path, runs: int, tmp: Path) -> float:
    out = tmp / "outputs.bin"
    many = child_cpu_s([str(binary), str(inputs), str(out), str(runs + 1)])
    one = child_cpu_s([str(binary), str(inputs), str(out), "1"])
    return (many - one) / runs * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU ms per inference: deployed TVM runner vs LiteRT+XNNPACK (1 thread)")
    parser.add_argument("--models", default="mobilenet_v2_w0.35_r96", help="comma-separated models/tflite/*.tflite names")
    parser.add_argument("--runs", type=int, default=200, help="inferences per timing")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print("CPU ms per inference (user + system), 1 thread; ratio > 1: TVM faster")
    print(f"{'model':26s} {'round':>5s} {'LiteRT':>8s} {'TVM 1T':>8s} {'LiteRT/TVM':>11s}")
    with tempfile.TemporaryDirectory(prefix="edgec-cpu-") as tmp_name:
        tmp = Path(tmp_name)
        for name in args.models.split(","):
            path = TFLITE_DIR / f"{name}.tflite"
            x = model_input(path)
            build_model(path, BuildOptions(target="host-tvm", out_dir=tmp / name))
            build = load_build(tmp / name)
            inputs = tmp / f"{name}.bin"
            inputs.write_bytes(np.ascontiguousarray(x, dtype=np.int8).tobytes())
            interpreter = litert_interpreter(path, reference=False)
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
            interpreter.invoke()  # warm-up
            for r in range(args.rounds):
                litert = litert_cpu_ms(interpreter, args.runs)
                tvm = runner_cpu_ms(build.path / build.summary["binary"], inputs, args.runs, tmp)
                print(f"{name:26s} {r + 1:>5d} {litert:8.3f} {tvm:8.3f} {litert / tvm:11.2f}", flush=True)


if __name__ == "__main__":
    main()
