"""Host latency of edgec's generated C against TFLite Micro and LiteRT, per bundled int8 TFLite model.

    python bench/host_speed.py [--models ds_cnn,resnet8] [--repeat 30]

Each model is built for the ``host`` target into a temporary folder, then,
in one run and on one seeded random int8 input, timed as:

* ``edgec`` -- the generated host executable (``-O2``), median of its own
  timing loop (``clock_gettime`` around ``edgec_model_run``, no process start);
* ``TFLM`` -- tflite-micro's Python interpreter (its reference kernels),
  median of ``invoke()`` calls;
* ``LiteRT`` -- LiteRT with its default kernels (optimized; XNNPACK may
  apply), ``num_threads=1``, median of ``invoke()`` calls;
* ``REF`` -- LiteRT ``BUILTIN_REF`` (TFLite's reference kernels, the
  bit-exact oracle), ``num_threads=1``;
* ``TVM 1T`` / ``TVM nT`` -- edgec's TVM back end as a user deploys it: the
  model built for ``host-tvm`` (kernels compiled by TVM's LLVM for this CPU
  with ``FAST_SCHEDULES``, convolutions lowered for AVX-512 VNNI where the CPU
  has it), and its runner (``deploy/runner.c`` linked with ``kernels.o``,
  ``model.c`` and the TVM shim; no TVM runtime, no Python) timing
  ``edgec_model_run`` in its own ``clock_gettime`` loop, like the edgec column;
  ``EDGEC_NUM_THREADS=1`` and ``EDGEC_NUM_THREADS=<every CPU>``.  ``--no-tvm``
  leaves it out.  (``bench/tvm_path.py`` runs the same kernels in-process
  through the TVM runtime, one Python call per kernel: for per-kernel times.)

Python-side timings include the few microseconds of a Python ``invoke()``
call.  Every engine gets one untimed warm-up invoke.  The engines take
turns in ``ROUNDS`` rounds of ``repeat / ROUNDS`` runs each, and each figure
is the median of an engine's per-round medians, so a load change on the
shared machine hits all engines alike.  Models above ``HEAVY_MACS`` get
``--repeat // HEAVY_DIVISOR`` repeats (at least ``ROUNDS``; the ``n`` column)
for the engines that take a quarter second per run (edgec's C, TFLM,
LiteRT's reference kernels); LiteRT and the TVM runner keep ``--repeat``
(with 2 runs per round, a median of 2 is the slower one, which is often a
run the shared machine interrupted).  The
``exact`` column says whether edgec's output equals ``BUILTIN_REF``'s on that
input, ``TVM exact`` the same for the TVM path.  Timings are wall-clock on a shared machine: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgec.compiler import Build, BuildOptions, build_model, load_build
from edgec.errors import EdgecError
from edgec.runner import run_host_binary

REPO = Path(__file__).resolve().parents[1]
TFLITE_DIR = REPO / "models" / "tflite"
INPUT_SEED = 0
HEAVY_MACS = 100_000_000
HEAVY_DIVISOR = 6
ROUNDS = 3  # engines take turns, round by round, so load changes hit them alike
THREADS_ENV = "EDGEC_NUM_THREADS"  # the TVM shim's thread count (deploy/tvm_shim.c)


@dataclass
class Row:
    model: str
    macs: int
    repeat: int
    edgec_ms: float
    tflm_ms: float
    litert_ms: float
    ref_ms: float
    exact: bool
    mismatches: int
    max_abs_diff: int
    tvm1_ms: float | None = None
    tvmn_ms: float | None = None
    tvm_exact: bool | None = None


Timer = Callable[[int], float]  # repeat -> median ms of that many timed runs


def median_ms(invoke: Callable[[], object], repeat: int) -> float:
    """Median wall-clock milliseconds of ``invoke()`` over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        invoke()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def invoke_timer(invoke: Callable[[], object]) -> Timer:
    invoke()  # warm-up
    return lambda repeat: median_ms(invoke, repeat)


def tflm_timer(path: Path, x: np.ndarray) -> Timer:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(path), arena_size=64 * 1024 * 1024)
    interpreter.set_input(x, 0)
    return invoke_timer(interpreter.invoke)


def litert_interpreter(path: Path, reference: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interpreter = Interpreter(model_path=str(path), num_threads=1, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def litert_timer(path: Path, x: np.ndarray, reference: bool) -> tuple[Timer, np.ndarray]:
    """A timer of LiteRT invokes on ``x``, and the output on ``x``."""
    interpreter = litert_interpreter(path, reference)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    timer = invoke_timer(interpreter.invoke)
    return timer, interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def edgec_timer(build: Build, x: np.ndarray) -> tuple[Timer, np.ndarray]:
    """A timer of the host executable's own loop (µs reported by the binary), and its output on ``x``."""
    got, _ = run_host_binary(build, x)  # warm-up, and the output to check

    def timer(repeat: int) -> float:
        _, us = run_host_binary(build, x, repeat=max(2, repeat))
        assert us is not None  # repeat > 1 always reports a median
        return us / 1e3

    return timer, got


def tvm_timers(path: Path, x: np.ndarray, tmp: Path) -> tuple[Timer, Timer, np.ndarray]:
    """Timers of the deployed TVM build's runner at 1 thread and at every CPU, and its output on ``x``."""
    from edgec.deploy.execute import run_runner

    build_model(path, BuildOptions(target="host-tvm", out_dir=tmp / f"{path.stem}-tvm"))
    build = load_build(tmp / f"{path.stem}-tvm")
    x = x.reshape(build.inputs[0].shape)

    def run(threads: int, repeat: int):
        previous = os.environ.get(THREADS_ENV)
        os.environ[THREADS_ENV] = str(threads)
        try:
            return run_runner(build, [x], repeat=repeat)
        finally:
            if previous is None:
                del os.environ[THREADS_ENV]
            else:
                os.environ[THREADS_ENV] = previous

    got = run(1, 1).outputs[0]  # warm-up, and the output to check

    def timer(threads: int) -> Timer:
        return lambda repeat: run(threads, max(2, repeat)).median_us / 1e3

    return timer(1), timer(os.cpu_count() or 1), got


def model_input(path: Path) -> np.ndarray:
    """A seeded random int8 tensor shaped like the model's (single) input."""
    detail = litert_interpreter(path, reference=True).get_input_details()[0]
    rng = np.random.default_rng(INPUT_SEED)
    return rng.integers(-128, 128, size=tuple(detail["shape"]), dtype=np.int8)


def repeats_for(macs: int, repeat: int) -> int:
    return max(ROUNDS, repeat // HEAVY_DIVISOR) if macs > HEAVY_MACS else max(ROUNDS, repeat)


def interleaved_ms(timers: list[Timer], repeats: list[int]) -> list[float]:
    """Per timer, the median of its per-round medians; each round runs every timer in turn
    (timer ``i`` ``repeats[i] / ROUNDS`` times per round)."""
    per_round = [-(-n // ROUNDS) for n in repeats]
    rounds = [[timer(k) for timer, k in zip(timers, per_round)] for _ in range(ROUNDS)]
    return [statistics.median(r[i] for r in rounds) for i in range(len(timers))]


def bench_model(path: Path, repeat: int, tmp: Path, with_tvm: bool = True) -> Row:
    build_model(path, BuildOptions(target="host", out_dir=tmp / path.stem))
    build = load_build(tmp / path.stem)
    macs = int(build.summary["totals"]["macs"])
    n = repeats_for(macs, repeat)
    x = model_input(path)
    edgec, got = edgec_timer(build, x.reshape(build.inputs[0].shape))
    litert, _ = litert_timer(path, x, reference=False)
    ref, want = litert_timer(path, x, reference=True)
    timers = [edgec, tflm_timer(path, x), litert, ref]
    repeats = [n, n, max(n, repeat), n]  # LiteRT and TVM (milliseconds per run) keep the full count
    tvm_got = None
    if with_tvm:
        tvm1, tvmn, tvm_got = tvm_timers(path, x, tmp)
        timers += [tvm1, tvmn]
        repeats += [max(n, repeat)] * 2
    times = interleaved_ms(timers, repeats)
    edgec_ms, tflm_ms, litert_ms, ref_ms = times[:4]
    diff = np.abs(got.reshape(-1).astype(np.int32) - want.reshape(-1).astype(np.int32))
    row = Row(
        path.stem,
        macs,
        ROUNDS * -(-n // ROUNDS),
        edgec_ms,
        tflm_ms,
        litert_ms,
        ref_ms,
        bool(diff.size == want.size and not diff.any()),
        int(np.count_nonzero(diff)),
        int(diff.max(initial=0)),
    )
    if tvm_got is not None:
        row.tvm1_ms, row.tvmn_ms = times[4], times[5]
        row.tvm_exact = bool(np.array_equal(tvm_got.reshape(-1), want.reshape(-1)))
    return row


def format_table(rows: list[Row], failures: dict[str, str]) -> str:
    header = (
        f"{'model':<24} {'MACs':>7} {'n':>3} {'edgec ms':>9} {'TFLM ms':>9} {'LiteRT ms':>9} {'REF ms':>9} "
        f"{'TFLM/edgec':>10} {'LiteRT/edgec':>12} {'REF/edgec':>9}  exact"
        f"  {'TVM 1T ms':>9} {'TVM nT ms':>9} {'LiteRT/TVM1T':>12}  TVM exact"
    )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        "host latency, median wall-clock ms per inference, 1 thread unless nT (n = repeats); ratio > 1: divisor faster",
        f"machine load average (1/5/15 min) at the end: {load} on {os.cpu_count()} CPUs",
        header,
        "-" * len(header),
    ]
    for r in rows:
        exact = "✓" if r.exact else f"✗ ({r.mismatches} differ, max |Δ| {r.max_abs_diff})"
        lines.append(
            f"{r.model:<24} {r.macs / 1e6:>6.1f}M {r.repeat:>3} {r.edgec_ms:>9.3f} {r.tflm_ms:>9.3f} "
            f"{r.litert_ms:>9.3f} {r.ref_ms:>9.3f} {r.tflm_ms / r.edgec_ms:>10.2f} "
            f"{r.litert_ms / r.edgec_ms:>12.2f} {r.ref_ms / r.edgec_ms:>9.2f}  {exact}" + _tvm_cells(r)
        )
    for model, error in failures.items():
        lines.append(f"{model:<24} edgec failed: {error}")
    return "\n".join(lines)


def _tvm_cells(r: Row) -> str:
    if r.tvm1_ms is None:
        return ""
    exact = "✓" if r.tvm_exact else "✗"
    return f"  {r.tvm1_ms:>9.3f} {r.tvmn_ms:>9.3f} {r.litert_ms / r.tvm1_ms:>12.2f}  {exact}"


def select_models(names: str | None) -> list[Path]:
    available = {p.stem: p for p in sorted(TFLITE_DIR.glob("*.tflite"))}
    if not names:
        return list(available.values())
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; bundled: {', '.join(available)}")
    return [available[n] for n in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model names (default: every models/tflite/*.tflite)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per engine (default 30)")
    parser.add_argument("--no-tvm", action="store_true", help="leave out the TVM path (it needs the tvm extra)")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="edgec-bench-speed-") as tmp:
        for path in select_models(args.models):
            try:
                rows.append(bench_model(path, args.repeat, Path(tmp), with_tvm=not args.no_tvm))
            except EdgecError as e:  # a compiler failure is a result to report, not a reason to stop
                failures[path.stem] = f"{type(e).__name__}: {e}"
    print(format_table(rows, failures))
    return 0 if not failures and all(r.exact and r.tvm_exact is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
