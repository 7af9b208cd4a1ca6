"""Reductions that start from a tensor (``te.sum(..., init=bias[o])``) in a ``te.create_prim_func`` PrimFunc.

TVM's ``te.create_prim_func`` drops a reduction's ``init`` and starts every
reduction block from the reducer's identity (0 for a sum).  ``apply_inits``
puts it back: for each compute stage of ``out``'s graph whose reduction has an
``init`` of the form ``t[axis, ...]`` (``t`` one of the function's arguments,
indexed by the stage's own spatial axes), the block of that name gets
``init: stage[v...] = t[v...]``.  The block's read regions stay those of its update (as
``decompose_reduction`` leaves an init block's: none), so the update still matches the tensor
intrinsics; ``t`` is an argument nothing in the function writes, so no dependence is lost.  A convolution's accumulators
then start from the (folded) bias: the epilogue has no bias to add, and the
tile's initial stores are loads LLVM cannot merge into a ``memset`` call.
"""

from __future__ import annotations


def reduction_inits(out) -> dict:
    """``{stage name: (init tensor, [axis positions of its indices])}`` for the stages of ``out``'s
    graph whose sum starts from a tensor."""
    from tvm import te, tirx

    found, seen, todo = {}, set(), [out]
    while todo:
        t = todo.pop()
        op = t.op
        if op.name in seen or not isinstance(op, te.ComputeOp):
            continue
        seen.add(op.name)
        todo.extend(op.input_tensors)
        body = op.body[0]
        if not isinstance(body, tirx.Reduce) or not len(body.init):
            continue
        load = body.init[0]
        if getattr(load, "op", None) is None or load.op.name != "te.tensor_load":
            raise ValueError(f"{op.name}: a reduction init must be a tensor element")
        source, indices = load.args[0], list(load.args[1:])
        axes = [a.var for a in op.axis]
        positions = [next(k for k, a in enumerate(axes) if a.same_as(i)) for i in indices]
        found[op.name] = (source, positions)
    return found


def apply_inits(func, tensors, out):
    """``func`` (``te.create_prim_func(tensors)``) with the reduction inits of ``out``'s graph restored."""
    inits = reduction_inits(out)
    if not inits:
        return func
    from tvm import s_tir, tirx

    def buffer_of(source):  # the function's parameters are the buffers of ``tensors``, in order
        return next(p for t, p in zip(tensors, func.params) if t.op.same_as(source.op))

    def rebuild(stmt):
        if isinstance(stmt, tirx.For):
            return tirx.For(stmt.loop_var, stmt.min, stmt.extent, stmt.kind, rebuild(stmt.body), stmt.thread_binding, stmt.annotations)
        if isinstance(stmt, tirx.SeqStmt):
            return tirx.SeqStmt([rebuild(s) for s in stmt])
        if isinstance(stmt, s_tir.SBlockRealize):
            return s_tir.SBlockRealize(stmt.iter_values, stmt.predicate, rebuild_block(stmt.block))
        return stmt

    def rebuild_block(block):
        body = rebuild(block.body)
        init = block.init
        if block.name_hint in inits:
            source, positions = inits[block.name_hint]
            src = buffer_of(source)
            spatial = [iv.var for iv in block.iter_vars if iv.iter_type == 0]  # kDataPar
            store = block.init
            index = [spatial[k] for k in positions]
            init = tirx.BufferStore(store.buffer, tirx.BufferLoad(src, index), store.indices)
        return s_tir.SBlock(block.iter_vars, block.reads, block.writes, block.name_hint, body, init, block.alloc_buffers, block.match_buffers, block.annotations)

    return func.with_body(rebuild(func.body))

