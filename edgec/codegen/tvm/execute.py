"""Run a compiled ``TvmProgram`` in-process with the TVM runtime (tests, RPC sessions).

``run_program(program, module, x, device)`` calls the kernels one by one as
packed functions on runtime tensors, exactly in ``model.c``'s order and with
the same argument shapes; each tensor gets its own runtime tensor (the arena
layout is the C driver's business).  ``module`` may be a local module or a
remote one from ``tvm.rpc`` (pass the session's device and its module).
"""

from __future__ import annotations

import numpy as np

from edgec.codegen.tvm.lower import TvmProgram


def upload_constants(program: TvmProgram, device) -> dict:
    """Every constant of ``program`` as a runtime tensor on ``device`` (upload once, run many)."""
    import tvm

    return {name: tvm.runtime.tensor(np.ascontiguousarray(a), device) for name, a in program.constants.items()}


def run_program(program: TvmProgram, module, x: np.ndarray, device=None, constants: dict | None = None, timer=None) -> np.ndarray:
    """Run ``program`` on the int8 input ``x`` (an array, or a dict by input name); returns the int8 output (the graph output's shape).

    ``timer(call, seconds)`` is called per kernel when given (wall time around a synchronous call).
    """
    import time

    import tvm

    device = device or tvm.cpu()
    graph = program.graph
    consts = constants if constants is not None else upload_constants(program, device)
    feeds = x if isinstance(x, dict) else {program.input: x}
    values: dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.int8) for k, v in feeds.items()}

    def value_of(name: str) -> np.ndarray:
        return values[program.root(name)] if program.root(name) in values else values[name]

    for call in program.calls:
        if call.func is None:
            values[call.output] = value_of(call.args[0]).reshape(graph.tensors[call.output].shape).copy()
            continue
        args = []
        for name, shape, dtype in zip(call.args[:-1], call.arg_shapes[:-1], call.arg_dtypes[:-1]):
            if name in consts:
                args.append(consts[name])
            else:
                args.append(tvm.runtime.tensor(np.ascontiguousarray(value_of(name)).reshape(shape).astype(dtype), device))
        out = tvm.runtime.empty(call.arg_shapes[-1], call.arg_dtypes[-1], device)
        fn = module[call.func]
        start = time.perf_counter()
        fn(*args, out)
        if timer is not None:
            device.sync()
            timer(call, time.perf_counter() - start)
        values[call.output] = out.numpy().reshape(graph.tensors[call.output].shape)
        # later reshapes that alias this tensor read it under their own names
        for alias, root in program.arena.aliases.items():
            if root == call.output:
                values[alias] = values[call.output].reshape(graph.tensors[alias].shape)
        for alias, root in program.arena.aliases.items():
            if alias == call.output:
                values[root] = values[call.output].reshape(graph.tensors[root].shape)
    result = value_of(program.output) if program.output in values or program.root(program.output) in values else None
    if result is None:
        raise RuntimeError(f"output {program.output!r} was never computed")
    return np.asarray(result).reshape(graph.tensors[program.output].shape)
