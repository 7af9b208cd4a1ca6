"""The Apache TVM back end: edgec's int8 IR lowered to TE/TIR with integer semantics.

TVM's own importers emulate int8 in float and are not bit-exact; this back end
lowers edgec's final int8 graph (the graph and plan the C back end gets) to one
TE computation per op (``te_ops``) using the integer parameters of
``edgec.reference.qparams.kernel_params`` and the fixed-point arithmetic of
the numpy reference (``fixed_point``), so its outputs are bit-exact with the
reference and the C kernels.  ``tvm`` is imported lazily (only by functions that
need it); MCU builds never import this package's TVM-using modules.

Checked facts (TVM 0.27.0.post1): every op fixture and every bundled int8 TFLite
model is bit-exact with the reference through these kernels; ds_cnn built for
``{"kind": "llvm", "mtriple": "aarch64-linux-gnu", "mattr": ["+neon"]}``, linked
with aarch64-linux-gnu-gcc and run under qemu-aarch64 is bit-exact too.  The
object's only undefined TVM symbols are the shim's (``nm -u kernels.o``); LLVM
code also reaches ``__TVMBackendParallelLaunch`` & co. through weak function
pointers, which the shim defines.

Interface (stable; ``tvmdeploy`` and ``tvmfast`` code against it)
------------------------------------------------------------------

``lower_graph(graph, plan=None, fuse=True, vnni=False) -> TvmProgram``  (``lower.py``)
    ``graph``: the final int8 IR graph.  ``vnni``: convolutions, depthwise
    convolutions and fully connected layers in the form the x86 AVX-512 VNNI
    schedules tensorize (``te_ops._conv2d_vnni``, ``_depthwise_pairs``,
    ``_fully_connected_vnni``), their requantization as ``requant_x86``'s op
    (expanded by TVM's ``LowerIntrin`` for any target, meant for x86); pass
    ``x86_dot.has_vnni(target)``, as ``x86_dot.lowers_for_vnni`` does.  ``plan``: an ``ArenaPlan`` from
    ``plan_for_tvm(graph)`` (default; layer by layer, 64-byte aligned, no
    in-place tricks) or a ``ModelPlan`` whose layer plan is plain.  Raises
    ``BuildError`` listing every node the back end lacks, in one line.
    ``TvmProgram.calls``: ``KernelCall``s in execution order, each with
    ``nodes``/``ops`` (fused nodes, producer first), ``func`` (PrimFunc and
    symbol name; ``None`` for a byte copy between buffers), ``args`` (tensor or
    constant names, output last), ``arg_shapes``/``arg_dtypes`` (what the
    kernel sees), ``kind`` (schedule key = first op) and ``macs``.
    ``TvmProgram.funcs``: unscheduled PrimFuncs by name.
    ``TvmProgram.constants``: every constant argument (re-laid-out weights,
    folded biases, multipliers, tables) by name.
    ``TvmProgram.location(tensor)``: ``("input"|"output"|"arena"|"const", offset)``.

``compile_program(program, tvm_target=None, schedules=None) -> tvm runtime Module``  (``build.py``)
    ``tvm_target``: a target dict (``{"kind": "llvm", "mtriple":
    "aarch64-linux-gnu", "mattr": ["+neon"]}``) or ``tvm.target.Target``;
    default the host's LLVM.  ``schedules``: ``{kind or "*": fn(sch, call,
    target)}`` overriding ``schedules.DEFAULT_SCHEDULES``/``default_schedule``
    per kernel (see ``schedules.py``).  The module holds one packed function
    per kernel: ``module[call.func](*runtime_tensors)`` (in-process or over
    RPC after ``export_library``), ``module.write_to_file("kernels.o")``.

``scheduled_module(program, tvm_target=None, schedules=None) -> IRModule``  (``build.py``)
    The scheduled kernels before compilation (MetaSchedule/GPU paths).

``run_program(program, module, x, device=None, constants=None, timer=None) -> ndarray``  (``execute.py``)
    Runs the kernels in order through the TVM runtime (tests, RPC sessions);
    ``upload_constants(program, device)`` uploads the constants once.

``write_sources(program, module, src_dir, model_hash, header="") -> list[Path]``  (``driver.py``)
    Writes ``kernels.o`` (the module's object file), ``tvm_shim.c`` (the few
    TVM runtime symbols the object needs: workspace allocation, parallel
    launch over pthreads, error reporting), ``weights.c``/``weights.h`` (the
    constants as ``const`` arrays), ``model.c`` and ``model.h`` (the MCU
    build's API: ``edgec_model_run(const int8_t *input, int8_t *output)``,
    ``EDGEC_INPUT_SIZE`` etc.).  No TVM runtime is needed to link them.
"""

from __future__ import annotations

__all__ = [
    "KernelCall",
    "TvmProgram",
    "compile_program",
    "lower_graph",
    "plan_for_tvm",
    "run_program",
    "scheduled_module",
    "unsupported_nodes",
    "upload_constants",
    "write_sources",
]


def __getattr__(name: str):
    if name in ("KernelCall", "TvmProgram", "lower_graph", "plan_for_tvm", "unsupported_nodes"):
        from edgec.codegen.tvm import lower

        return getattr(lower, name)
    if name in ("compile_program", "scheduled_module"):
        from edgec.codegen.tvm import build

        return getattr(build, name)
    if name in ("run_program", "upload_constants"):
        from edgec.codegen.tvm import execute

        return getattr(execute, name)
    if name == "write_sources":
        from edgec.codegen.tvm import driver

        return driver.write_sources
    raise AttributeError(name)
