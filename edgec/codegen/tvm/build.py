"""Schedule and compile a ``TvmProgram`` into one TVM module (one symbol per kernel)."""

from __future__ import annotations

from edgec.codegen.tvm.lower import TvmProgram
from edgec.codegen.tvm.schedules import default_schedule, inline_all, schedule_for
from edgec.errors import BuildError

HOST_TARGET = {"kind": "llvm"}


def scheduled_module(program: TvmProgram, tvm_target=None, schedules: dict | None = None):
    """An ``IRModule`` of every kernel, each transformed by its schedule (``schedules.schedule_for``)."""
    import tvm
    from tvm import s_tir

    target = tvm.target.Target(tvm_target or HOST_TARGET)
    funcs = {}
    for call in program.calls:
        if call.func is None:
            continue
        sch = s_tir.Schedule(program.funcs[call.func])
        fn = schedule_for(call, schedules)
        try:
            fn(sch, call, target)
        except Exception as e:
            if fn is not default_schedule:
                raise BuildError(f"scheduling kernel {call.func} ({'+'.join(call.ops)}) failed: {e}") from e
            # the default's loop transformations do not fit this kernel's shape: inline only
            sch = s_tir.Schedule(program.funcs[call.func])
            inline_all(sch)
        funcs[call.func] = sch.mod["main"].with_attr("global_symbol", call.func)
    return tvm.IRModule(funcs)


def compile_program(program: TvmProgram, tvm_target=None, schedules: dict | None = None):
    """Compile every kernel of ``program`` for ``tvm_target`` (a dict or ``tvm.target.Target``;
    default the host's LLVM) into one runtime module: ``module[func](*tensors)`` runs a kernel,
    ``module.write_to_file("kernels.o")`` writes the object file (LLVM targets), and
    ``module.export_library("kernels.so")`` a shared library (the RPC path)."""
    import tvm

    mod = scheduled_module(program, tvm_target, schedules)
    target = tvm.target.Target(tvm_target or HOST_TARGET)
    try:
        executable = tvm.compile(mod, target=target)
    except Exception as e:
        raise BuildError(f"TVM could not compile the kernels for {target}: {str(e).splitlines()[-1] if str(e) else e}") from e
    return executable.mod
