"""The schedule table a TVM build passes to ``build.compile_program(..., schedules=FAST_SCHEDULES)``.

Each entry picks by the target it is given: CUDA targets get the GPU
schedule (``cuda.gpu_schedule``), LLVM CPU targets the fast CPU schedules
(``schedules_cpu``) where one exists for the op, else the default schedule.
The same table therefore serves both compilations of a Jetson build (the
aarch64 host kernels and the CUDA kernels).
"""

from __future__ import annotations

from edgec.codegen.tvm import cuda
from edgec.codegen.tvm import schedules as base
from edgec.codegen.tvm.schedules_cpu import CPU_SCHEDULES


def is_gpu(target) -> bool:
    return target is not None and str(target.kind.name) == "cuda"


def _by_target(cpu_fn):
    def schedule(sch, call, target=None):
        if is_gpu(target):
            return cuda.gpu_schedule(sch, call, target)
        return cpu_fn(sch, call, target)

    schedule.__name__ = f"fast_{getattr(cpu_fn, '__name__', 'schedule')}"
    return schedule


FAST_SCHEDULES: dict = {kind: _by_target(fn) for kind, fn in CPU_SCHEDULES.items()}
FAST_SCHEDULES["*"] = _by_target(lambda sch, call, target: base.schedule_for(call, None)(sch, call, target))
