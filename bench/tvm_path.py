"""The TVM kernels of a bundled model in-process, one Python call per kernel (per-kernel timing).

``bench/host_speed.py`` times the deployed ``host-tvm`` runner (one native
call of the whole model); this module is for looking inside it: the model's
int8 graph is lowered to TVM kernels (``edgec.codegen.tvm``; convolutions in
the VNNI form where this CPU has AVX-512 VNNI), scheduled with
``FAST_SCHEDULES`` for this machine's CPU (LLVM ``mcpu`` = the CPU LLVM
detects) and compiled; every activation, constant and output gets one
preallocated TVM runtime tensor, so ``run()`` is the model's kernels called in
order (plus the copies between buffers) with nothing allocated, and
``module.time_evaluator(call.func, ...)`` times one kernel on ``steps[k][1]``.
``threads`` sets TVM's thread pool (``runtime.config_threadpool``): 1, or 0
for every core.

Run as a script it prints every kernel's time (1 thread, best of ``--rounds``
x 20 runs) and their sum, per model:

    python bench/tvm_path.py --models ds_cnn,mobilenet_v2_w0.35_r96
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def host_target() -> dict:
    from tvm.target import codegen

    return {"kind": "llvm", "mcpu": str(codegen.llvm_get_system_cpu())}


def set_threads(threads: int) -> None:
    """TVM's CPU thread pool: ``threads`` workers (0: one per core)."""
    import tvm_ffi

    tvm_ffi.get_global_func("runtime.config_threadpool")(1, threads)


class TvmModel:
    """A compiled TVM program with its tensors bound; ``run()`` is one inference."""

    def __init__(self, graph, schedules=None, vnni: bool | None = None):
        import tvm

        from edgec.codegen.tvm.build import compile_program
        from edgec.codegen.tvm.execute import upload_constants
        from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES
        from edgec.codegen.tvm.lower import lower_graph
        from edgec.codegen.tvm.x86_dot import has_vnni

        target = tvm.target.Target(host_target())
        self.program = lower_graph(graph, vnni=has_vnni(target) if vnni is None else vnni)
        self.module = compile_program(self.program, target, FAST_SCHEDULES if schedules is None else schedules)
        dev = tvm.cpu()
        consts = upload_constants(self.program, dev)
        buffers: dict[str, object] = {}

        def tensor(name: str, shape, dtype):
            if name in consts:
                return consts[name]
            root = self.program.root(name)
            if root not in buffers:
                t = graph.tensors[root]
                buffers[root] = tvm.runtime.empty(tuple(t.shape) or (1,), str(t.dtype), dev)
            base = buffers[root]
            return base if tuple(base.shape) == tuple(shape) else base._create_view(tuple(shape))

        self.steps = []
        for call in self.program.calls:
            args = [tensor(n, s, d) for n, s, d in zip(call.args, call.arg_shapes, call.arg_dtypes)]
            fn = self.module[call.func] if call.func else None
            self.steps.append((fn, args))
        self.input = buffers.get(self.program.root(self.program.input)) or tensor(
            self.program.input, graph.tensors[self.program.input].shape, "int8"
        )
        out = self.program.output
        self.output = buffers.get(self.program.root(out)) or tensor(out, graph.tensors[out].shape, "int8")

    def run(self) -> None:
        for fn, args in self.steps:
            if fn is None:
                args[1].copyfrom(args[0])
            else:
                fn(*args)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.input.copyfrom(np.ascontiguousarray(x, dtype=np.int8).reshape(self.input.shape))
        self.run()
        return self.output.numpy()


def kernel_times(model: TvmModel, rounds: int) -> list[tuple[str, str, float]]:
    """``(kernel, ops, best us)`` of every kernel of ``model``, each timed on its bound tensors."""
    import tvm

    rows = []
    for k, call in enumerate(model.program.calls):
        if call.func is None:
            continue
        timer = model.module.time_evaluator(call.func, tvm.cpu(), number=20, repeat=rounds)
        rows.append((call.func, "+".join(call.ops), min(timer(*model.steps[k][1]).results) * 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="per-kernel times of bundled models' TVM kernels (1 thread)")
    parser.add_argument("--models", default="ds_cnn", help="comma-separated models/tflite/*.tflite names")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of 20 runs per kernel (best kept)")
    args = parser.parse_args()

    from edgec.lowering import lower_model

    for name in args.models.split(","):
        model = TvmModel(lower_model(REPO / "models" / "tflite" / f"{name}.tflite").graph)
        set_threads(1)
        rows = kernel_times(model, args.rounds)
        print(f"{name}: us per kernel, 1 thread, best of {args.rounds} x 20 runs")
        for func, ops, us in rows:
            print(f"{func:30s} {ops[:32]:32s} {us:8.1f}")
        print(f"{'all kernels':63s} {sum(r[2] for r in rows):8.1f}")


if __name__ == "__main__":
    main()
