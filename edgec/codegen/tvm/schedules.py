"""Default CPU schedules of the TE kernels, and the hook other schedules plug into.

A schedule is ``fn(sch, call, target) -> None``: it transforms the
``tvm.s_tir.Schedule`` ``sch`` of one kernel in place (``call`` is the
``lower.KernelCall``: its ``kind`` is the first op's name, ``ops`` every fused
op; ``target`` the ``tvm.target.Target``).  ``compile_program`` picks, per
kernel, ``schedules[call.kind]`` from the caller's dict, else
``schedules["*"]``, else ``DEFAULT_SCHEDULES[call.kind]``, else
``default_schedule``.  A schedule must keep the function's arguments and
semantics; the stage names it can rely on are listed in ``te_ops``.

The default (any LLVM CPU target): inline padding, views and element-wise
epilogues; compute a reduction's epilogue right after each output pixel's
accumulators (no full int32 intermediate); reduce with the output channel
innermost, vectorized in 16-lane chunks where the channel count allows;
parallelize over output rows.
"""

from __future__ import annotations

VECTOR_LANES = 16
PARALLEL_MIN_ELEMENTS = 4096


def _extent(sch, loop) -> int | None:
    ext = sch.get(loop).extent
    return int(ext) if hasattr(ext, "value") else None


def _is_reduction(sch, block) -> bool:
    return any(int(iv.iter_type) == 2 for iv in sch.get(block).iter_vars)  # kCommReduce


def inline_all(sch) -> None:
    """Inline every injective stage that is not a kernel output (padding, views, fused epilogues)
    nor named ``keep*`` (materialized on purpose)."""
    root = sch.get_sblock("root")
    outputs = {sch.get(b).name_hint for b in sch.get_output_blocks(root)}
    changed = True
    while changed:
        changed = False
        for block in sch.get_child_blocks(root):
            name = sch.get(block).name_hint
            if name in outputs or name.startswith("keep") or _is_reduction(sch, block):
                continue
            try:
                sch.compute_inline(block)
            except Exception:  # noqa: BLE001, S112 - not inlinable (e.g. read by a reduction twice): keep it
                continue
            changed = True
            break


def _vectorize_inner(sch, loop) -> None:
    ext = _extent(sch, loop)
    if ext is None or ext < 2:
        return
    if ext <= VECTOR_LANES:
        sch.vectorize(loop)
    elif ext % VECTOR_LANES == 0:
        _, inner = sch.split(loop, factors=[None, VECTOR_LANES])
        sch.vectorize(inner)


def _parallel_outer(sch, loops, elements: int) -> None:
    """Parallelize the fused outer loops of a nest (all but the innermost) when the nest is large."""
    if elements < PARALLEL_MIN_ELEMENTS or len(loops) < 2:
        return
    outer = [lp for lp in loops[:-1]]
    fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
    sch.parallel(fused)


def schedule_elementwise(sch, block) -> None:
    loops = sch.get_loops(block)
    extents = [_extent(sch, lp) or 1 for lp in loops]
    total = 1
    for e in extents:
        total *= e
    if len(loops) > 2:
        # keep the channel loop innermost; fuse the rows
        outer = sch.fuse(*loops[:-1])
        loops = [outer, loops[-1]]
    if len(loops) == 2 and total >= PARALLEL_MIN_ELEMENTS:
        sch.parallel(loops[0])
    _vectorize_inner(sch, loops[-1])


def schedule_reduction(sch, acc, consumer) -> None:
    """``acc`` (spatial loops then reduction loops) with its epilogue ``consumer`` after each pixel."""
    loops = sch.get_loops(acc)
    spatial = [lp for lp, iv in zip(loops, sch.get(acc).iter_vars) if int(iv.iter_type) == 0]
    reduce = [lp for lp, iv in zip(loops, sch.get(acc).iter_vars) if int(iv.iter_type) == 2]
    if len(spatial) != len(loops) - len(reduce) or not spatial:
        return
    channel = spatial[-1]
    total = 1
    for lp in spatial:
        total *= _extent(sch, lp) or 1
    if consumer is not None and len(spatial) >= 2:
        sch.reverse_compute_at(consumer, spatial[-2])
    if reduce:
        sch.reorder(*reduce, channel)
    _vectorize_inner(sch, channel)
    if consumer is not None and len(spatial) >= 2:
        _vectorize_inner(sch, sch.get_loops(consumer)[-1])
    if len(spatial) >= 2 and total >= PARALLEL_MIN_ELEMENTS:
        outer = spatial[:-2] if len(spatial) > 2 else spatial[:1]
        fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
        sch.parallel(fused)
    if reduce:
        sch.decompose_reduction(acc, reduce[0])


def default_schedule(sch, call, target=None) -> None:
    """Inline, then schedule what is left: one reduction + epilogue, or element-wise stages."""
    inline_all(sch)
    root = sch.get_sblock("root")
    blocks = sch.get_child_blocks(root)
    names = [sch.get(b).name_hint for b in blocks]
    if len(blocks) == 2 and _is_reduction(sch, blocks[0]) and not _is_reduction(sch, blocks[1]):
        schedule_reduction(sch, blocks[0], blocks[1])
        return
    if len(blocks) == 1 and not _is_reduction(sch, blocks[0]):
        schedule_elementwise(sch, blocks[0])
        return
    if names[-1] == "out" and all(n.startswith("keep") for n in names[:-1]) and not any(_is_reduction(sch, b) for b in blocks):
        # element-wise with materialized steps (add, sub, squared difference): each step per output row
        schedule_elementwise(sch, blocks[-1])
        loops = sch.get_loops(blocks[-1])
        if len(loops) >= 2:
            for block in reversed(blocks[:-1]):
                sch.compute_at(block, loops[0])
                _vectorize_inner(sch, sch.get_loops(block)[-1])
        return
    del names  # other shapes (softmax, reductions to one value): the unscheduled loops are correct


DEFAULT_SCHEDULES: dict = {}


def schedule_for(call, schedules: dict | None):
    schedules = schedules or {}
    return schedules.get(call.kind) or schedules.get("*") or DEFAULT_SCHEDULES.get(call.kind) or default_schedule
