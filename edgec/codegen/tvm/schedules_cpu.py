"""Fast CPU schedules for the TVM back end's int8 kernels (x86-64 and aarch64 LLVM targets).

``CPU_SCHEDULES`` plugs into ``build.compile_program(..., schedules=CPU_SCHEDULES)``
(see ``schedules.py`` for the hook: ``fn(sch, call, target)``).  Schedules
only reorder, tile, vectorize, parallelize and tensorize: the integer
arithmetic of ``te_ops`` is untouched, so every kernel stays bit-exact with
the numpy reference (``tests/test_tvm_schedules.py`` checks each op on random
cases).

* convolutions (1x1 and kxk) and fully connected: a register tile of ``P``
  output pixels x 16 (or 8) output channels, the reduction over input
  channels outside it, so each weight vector is loaded once per ``P`` pixels
  and the accumulators stay in registers; on x86 with AVX-512 VNNI the
  4-deep int8 dot product is one ``vpdpbusd`` (``x86_dot``), elsewhere LLVM
  vectorizes the int8 -> int32 multiply-adds over the output channels
  (NEON ``smlal`` style widening);
* depthwise convolution and pooling: output channels vectorized, a row of
  ``P`` pixels per tile, the window loops outside the pixel tile;
* element-wise kernels: channels vectorized, rows parallel (``schedules.schedule_elementwise``).

The epilogue (bias, requantization, activation, fused element-wise ops) is
computed right after each tile, on the tile's int32 accumulators.  Output
rows run in parallel (``TVM_NUM_THREADS`` threads, all cores by default).
Anything a schedule cannot handle falls back to ``schedules.default_schedule``.
"""

from __future__ import annotations

from edgec.codegen.tvm import schedules as base
from edgec.codegen.tvm import x86_dot

MAX_PIXELS = 8  # output pixels per register tile
PARALLEL_MIN_MACS = 200_000  # below this a kernel runs on one thread (fork/join costs more)


def _extent(sch, loop) -> int:
    return int(sch.get(loop).extent)


def pixel_tile(width: int, limit: int = MAX_PIXELS) -> int:
    """The largest divisor of ``width`` not above ``limit`` (the pixel tile must divide the row)."""
    return max(d for d in range(1, min(width, limit) + 1) if width % d == 0)


def _blocks(sch):
    root = sch.get_sblock("root")
    return sch.get_child_blocks(root)


def _name(sch, block) -> str:
    return sch.get(block).name_hint


def inline_except(sch, keep: tuple[str, ...]) -> None:
    """Inline every injective non-output stage except those named in ``keep``."""
    root = sch.get_sblock("root")
    outputs = {_name(sch, b) for b in sch.get_output_blocks(root)}
    changed = True
    while changed:
        candidates = [
            b
            for b in sch.get_child_blocks(root)
            if _name(sch, b) not in outputs and _name(sch, b) not in keep and not base._is_reduction(sch, b)
        ]
        changed = any(_inlined(sch, b) for b in candidates[:1])


def _inlined(sch, block) -> bool:
    try:
        sch.compute_inline(block)
        return True
    except Exception:  # noqa: BLE001 - not inlinable (read twice by a reduction): keep it
        return False


def _acc_and_epilogue(sch):
    """The reduction block ``acc`` and the single stage after it (``None`` if the shape is other)."""
    blocks = _blocks(sch)
    accs = [b for b in blocks if _name(sch, b) == "acc"]
    if len(accs) != 1:
        return None, None
    acc = accs[0]
    after = [b for b in blocks if _name(sch, b) not in ("acc", *PAD_STAGES)]
    return acc, (after[0] if len(after) == 1 else None)


def _parallel(sch, loops, macs: int) -> None:
    if macs < PARALLEL_MIN_MACS or not loops:
        return
    fused = sch.fuse(*loops) if len(loops) > 1 else loops[0]
    sch.parallel(fused)


PAD_STAGES = ("pad", "pad_taps", "flip")  # the input stages computed once per call (te_ops)


def _schedule_pad(sch) -> None:
    """Compute the padded input once per call, its innermost axis vectorized.  The outer loops stay
    nested: fused, they would recompute row and column from one index (divisions) every few bytes.
    A ``flip`` stage (no padding: an element-wise copy) whose rows are whole vectors is one flat
    loop, vectorized; with other channel counts (24: a flat vector would straddle two pixels, and
    LLVM gathered and scattered it byte by byte) each pixel's channels are split into vectors of
    16, 8 or 4 bytes."""
    for block in [b for b in _blocks(sch) if _name(sch, b) in PAD_STAGES]:
        loops = sch.get_loops(block)
        channels = _extent(sch, loops[-1])
        if _name(sch, block) == "flip" and channels % base.VECTOR_LANES == 0:
            base._vectorize_inner(sch, sch.fuse(*loops))
        elif channels > base.VECTOR_LANES and channels % base.VECTOR_LANES:
            width = next((v for v in (8, 4) if channels % v == 0), None)
            if width:
                sch.vectorize(sch.split(loops[-1], [None, width])[1])
        else:
            base._vectorize_inner(sch, loops[-1])


def _lanes_for(channels: int) -> int | None:
    for lanes in x86_dot.LANES:
        if channels % lanes == 0:
            return lanes
    return None


def schedule_conv2d(sch, call, target=None) -> None:
    """Conv2d (groups 1): VNNI tiles where the target has it and the shape allows, else the generic tile."""
    packed = _packed_conv_shape(sch)
    if packed is not None:  # the VNNI lowering (te_ops._conv2d_vnni)
        if _lanes_for(packed["co"]) and _works(sch, lambda s: _conv_vnni_packed(s, call, packed)):
            return _conv_vnni_packed(sch, call, packed)
        return base.default_schedule(sch, call, target)
    params = _conv_shape(sch)
    if params is None:
        return base.default_schedule(sch, call, target)
    vnni = target is not None and x86_dot.has_vnni(target) and params["ci"] % 4 == 0 and _lanes_for(params["co"])
    if vnni and _works(sch, lambda s: _conv_vnni(s, call, params)):
        return _conv_vnni(sch, call, params)
    return _conv_generic(sch, call, params)


def _works(sch, fn) -> bool:
    """Whether ``fn`` schedules a copy of ``sch`` without error (a failed primitive leaves a schedule half-done)."""
    try:
        fn(sch.copy())
        return True
    except Exception:  # noqa: BLE001 - TVM's schedule errors have several types
        return False


def _conv_shape(sch):
    """The acc block's loop extents: ``(b, oh, ow, co, kh, kw, ci)`` for a groups-1 conv, else ``None``."""
    blocks = _blocks(sch)
    accs = [b for b in blocks if _name(sch, b) == "acc"]
    if len(accs) != 1:
        return None
    loops = sch.get_loops(accs[0])
    if len(loops) != 7:
        return None
    b, oh, ow, co, kh, kw, ci = (_extent(sch, lp) for lp in loops)
    return {"b": b, "oh": oh, "ow": ow, "co": co, "kh": kh, "kw": kw, "ci": ci}


def _conv_vnni(sch, call, p) -> None:
    inline_except(sch, keep=("pad",))
    acc, epi = _acc_and_epilogue(sch)
    if epi is None:
        raise ValueError("no single epilogue")
    lanes = _lanes_for(p["co"])
    pixels = pixel_tile(p["ow"])
    intrin = x86_dot.register(pixels, lanes)
    b, y, x, o, ry, rx, rc = sch.get_loops(acc)
    xo, xi = sch.split(x, [None, pixels])
    oo, oi = sch.split(o, [None, lanes])
    rco, rci = sch.split(rc, [None, 4])
    sch.reorder(b, y, xo, oo, ry, rx, rco, xi, oi, rci)
    sch.reverse_compute_at(epi, oo)
    _vectorize_epilogue(sch, epi, lanes)
    _parallel(sch, [b, y], call.macs)
    sch.decompose_reduction(acc, ry)
    sch.tensorize(xi, intrin)
    _schedule_pad(sch)


def _packed_conv_shape(sch):
    """The acc block's loop extents ``(b, oh, ow, co, kh, kw, ci4/4, 4)`` of the VNNI lowering, else ``None``."""
    accs = [b for b in _blocks(sch) if _name(sch, b) == "acc"]
    if len(accs) != 1:
        return None
    loops = sch.get_loops(accs[0])
    if len(loops) == 7 and _extent(sch, loops[-1]) == 4 and _stage(sch, "pad_taps") is not None:  # te_ops._conv2d_vnni_taps
        b, oh, ow, co, kh, kw, _ = (_extent(sch, lp) for lp in loops)
        return {"b": b, "oh": oh, "ow": ow, "co": co, "kh": kh, "kw": kw, "cq": None}
    if len(loops) != 8 or _extent(sch, loops[-1]) != 4:
        return None
    b, oh, ow, co, kh, kw, cq, _ = (_extent(sch, lp) for lp in loops)
    return {"b": b, "oh": oh, "ow": ow, "co": co, "kh": kh, "kw": kw, "cq": cq}


def _stage(sch, name: str):
    return next((b for b in _blocks(sch) if _name(sch, b) == name), None)


MAX_ACCUMULATORS = 24  # P x B zmm accumulators of a register tile (of 32 registers)
SHORT_REDUCTION_STEPS = 8  # a reduction of at most this many 4-deep steps per output...
SHORT_ACCUMULATORS = 15  # ...gets a tile under 1 KiB (a stack array LLVM keeps in registers)


def packed_tile(ow: int, blocks: int, steps: int = SHORT_REDUCTION_STEPS + 1) -> tuple[int, int]:
    """``(pixels, channel blocks)`` of a register tile: P dividing the row (P <= 12), B dividing
    the channel blocks (B <= 4), the most accumulators P x B within the budget (then the larger P):
    a 7-wide row gets 7 x 3 or 7 x 2, not 1 x 4.  The budget is 24 accumulators, or 15 where the
    reduction has at most ``SHORT_REDUCTION_STEPS`` steps (1x1 convolutions of up to 32 input
    channels): a 24-accumulator tile (1.5 KiB) is a workspace, zeroed by a ``memset`` call per tile
    that cost more there than the larger tile saves (-7% on mobilenet_v2_w1.0_r224's 16-channel
    1x1 convolution, +3% on its 96-channel ones, runner against runner)."""
    budget = SHORT_ACCUMULATORS if steps <= SHORT_REDUCTION_STEPS else MAX_ACCUMULATORS
    options = [
        (p * b, p, b)
        for p in range(1, min(ow, 12) + 1)
        if ow % p == 0
        for b in range(1, min(blocks, 4) + 1)
        if blocks % b == 0 and p * b <= budget
    ]
    _, pixels, per_tile = max(options)
    return pixels, per_tile


def _conv_vnni_packed(sch, call, p) -> None:
    """Register tile of P pixels x B blocks of L channels; per 4 input channels, B weight vectors
    loaded once and P x B ``vpdpbusd``; the epilogue right after the tile."""
    inline_except(sch, keep=PAD_STAGES)
    acc, epi = _acc_and_epilogue(sch)
    if epi is None:
        raise ValueError("no single epilogue")
    lanes = _lanes_for(p["co"])
    steps = p["kh"] * p["kw"] * (p["cq"] if p["cq"] is not None else 1)  # 4-deep steps per output
    pixels, per_tile = packed_tile(p["ow"], p["co"] // lanes, steps)
    intrin = x86_dot.register_packed(pixels, lanes)
    b, y, x, o, ry, rx, *rc, rk = sch.get_loops(acc)  # no rc: taps grouped (te_ops._conv2d_vnni_taps)
    xo, xi = sch.split(x, [None, pixels])
    oo, ob, oi = sch.split(o, [None, per_tile, lanes])
    sch.reorder(b, y, xo, oo, ry, rx, *rc, ob, xi, oi, rk)
    sch.reverse_compute_at(epi, oo)
    eloops = sch.get_loops(epi)
    _, inner = sch.split(eloops[-1], [None, lanes])
    sch.vectorize(inner)
    _parallel(sch, [b, y], call.macs)
    init = sch.decompose_reduction(acc, ry)
    _unroll_tile_init(sch, init)
    sch.tensorize(xi, intrin)
    sch.unroll(ob)
    _schedule_pad(sch)


def _unroll_tile_init(sch, init) -> None:
    """The zeroing of a register tile as unrolled vector stores.  As a loop, LLVM made it a call
    to ``memset`` per tile (5% of mobilenet_v2_w1.0_r224's time), which it then could not remove;
    unrolled, it forwards the zeros into the first dot products and drops the stores."""
    *outer, lanes = sch.get_loops(init)[-3:]
    sch.vectorize(lanes)
    for loop in outer:
        sch.unroll(loop)


def _vectorize_epilogue(sch, epi, lanes: int) -> None:
    loops = sch.get_loops(epi)
    inner = loops[-1]
    ext = _extent(sch, inner)
    if ext == lanes:
        sch.vectorize(inner)


def _conv_generic(sch, call, p) -> None:
    """Register tile P pixels x V channels; LLVM vectorizes the widening multiply-adds over channels."""
    base.inline_all(sch)
    acc, epi = _acc_and_epilogue(sch)
    if epi is None:
        return base.default_schedule(sch, call, None)
    lanes = next((v for v in (16, 8, 4) if p["co"] % v == 0), None)
    if lanes is None:
        return base.default_schedule(sch, call, None)
    pixels = pixel_tile(p["ow"])
    b, y, x, o, ry, rx, rc = sch.get_loops(acc)
    xo, xi = sch.split(x, [None, pixels])
    oo, oi = sch.split(o, [None, lanes])
    sch.reorder(b, y, xo, oo, ry, rx, rc, xi, oi)
    sch.reverse_compute_at(epi, oo)
    _vectorize_epilogue(sch, epi, lanes)
    _parallel(sch, [b, y], call.macs)
    sch.vectorize(oi)
    sch.unroll(xi)
    init = sch.decompose_reduction(acc, ry)
    del init


def schedule_depthwise(sch, call, target=None) -> None:
    """Depthwise conv: per output row, tiles of P pixels x V channels, the window loops outside the tile;
    the padded input is computed once per call (no bounds tests in the tile)."""
    inline_except(sch, keep=("pad",))
    acc, epi = _acc_and_epilogue(sch)
    loops = sch.get_loops(acc) if acc is not None else []
    if epi is not None and len(loops) == 7:  # the paired lowering (te_ops._depthwise_pairs)
        if _works(sch, lambda s: _depthwise_pairs(s, call)):
            return _depthwise_pairs(sch, call)
        return base.default_schedule(sch, call, target)
    if epi is None or len(loops) != 6:
        return base.default_schedule(sch, call, target)
    b, y, x, c, ry, rx = loops
    lanes = next((v for v in (32, 16, 8, 4) if _extent(sch, c) % v == 0), None)
    if lanes is None:
        return base.default_schedule(sch, call, target)
    xo, xi = sch.split(x, [None, pixel_tile(_extent(sch, x))])
    co, ci = sch.split(c, [None, lanes])
    sch.reorder(b, y, xo, co, ry, rx, xi, ci)
    sch.reverse_compute_at(epi, co)
    _vectorize_epilogue(sch, epi, lanes)
    _parallel(sch, [b, y], call.macs)
    sch.vectorize(ci)
    sch.unroll(xi)
    sch.decompose_reduction(acc, ry)
    _schedule_pad(sch)


PAIR_PIXELS = 12  # output pixels per paired depthwise tile (accumulators in zmm registers)


def _depthwise_pairs(sch, call) -> None:
    """Paired depthwise (``te_ops._depthwise_pairs``): per output row, tiles of P pixels x 16 (or 8)
    channels, per kernel row and tap pair one weight load and P ``vpdpwssd`` (``x86_dot.register_pairs``);
    the epilogue right after the tile.  The paired input (4 bytes per input value) is computed once
    per call where it is small; where it is larger than ``PAIR_BAND_BYTES`` it is computed per band
    of output rows (``pair_band_rows``), the rows two bands share computed twice, so that it stays
    in cache between its writes and its reads."""
    acc, epi = _acc_and_epilogue(sch)
    b, y, x, c, ry, rt, rk = sch.get_loops(acc)
    lanes = _lanes_for(_extent(sch, c))
    if lanes is None:
        raise ValueError("channels not a multiple of 8")
    pad = _stage(sch, "pad")
    _, rows, cols, channels = (_extent(sch, lp) for lp in sch.get_loops(pad))
    out_rows = _extent(sch, y)
    band = pair_band_rows(out_rows, rows, _extent(sch, ry), cols * channels * 4)
    pixels = pixel_tile(_extent(sch, x), PAIR_PIXELS)
    xo, xi = sch.split(x, [None, pixels])
    co, ci = sch.split(c, [None, lanes])
    yo, yi = sch.split(y, [None, band])
    sch.reorder(b, yo, yi, xo, co, ry, rt, xi, ci, rk)
    sch.reverse_compute_at(epi, co)
    _vectorize_epilogue(sch, epi, lanes)
    before = len(sch.get_loops(epi))
    _parallel(sch, [b, yo], call.macs)
    if band < out_rows:
        sch.compute_at(pad, sch.get_loops(epi)[0 if len(sch.get_loops(epi)) < before else 1])
    sch.decompose_reduction(acc, ry)
    sch.tensorize(xi, x86_dot.register_pairs(pixels, lanes))
    _schedule_pad(sch)


PAIR_BAND_BYTES = 512 * 1024  # a paired input above this is computed per band of output rows (about L2 size)


def pair_band_rows(out_rows: int, pad_rows: int, kernel_rows: int, row_bytes: int) -> int:
    """Output rows per band of the paired depthwise: all of them when the paired input fits in
    ``PAIR_BAND_BYTES``, else the largest divisor of ``out_rows`` whose padded rows
    (``(band - 1) * stride + kernel_rows``) fit (at least 1)."""
    if pad_rows * row_bytes <= PAIR_BAND_BYTES or out_rows <= 1:
        return out_rows
    stride = (pad_rows - kernel_rows) // (out_rows - 1)
    fits = [r for r in range(1, out_rows + 1) if out_rows % r == 0 and ((r - 1) * stride + kernel_rows) * row_bytes <= PAIR_BAND_BYTES]
    return max(fits, default=1)


def schedule_fully_connected(sch, call, target=None) -> None:
    """Fully connected: VNNI 1 x 16 tiles where possible, else output channels vectorized."""
    if any(_stage(sch, name) is not None for name in PAD_STAGES):  # the VNNI lowering (te_ops._fully_connected_vnni)
        inline_except(sch, keep=PAD_STAGES)
        acc, epi = _acc_and_epilogue(sch)
        loops = sch.get_loops(acc) if acc is not None else []
        if epi is not None and len(loops) == 4:
            lanes = _lanes_for(_extent(sch, loops[1]))
            stream = _extent(sch, loops[1]) * _extent(sch, loops[2]) * 4 >= FC_STREAM_BYTES
            if lanes and _works(sch, lambda s: _fc_vnni_packed(s, lanes, stream)):
                return _fc_vnni_packed(sch, lanes, stream)
        return base.default_schedule(sch, call, target)
    base.inline_all(sch)
    acc, epi = _acc_and_epilogue(sch)
    loops = sch.get_loops(acc) if acc is not None else []
    if epi is None or len(loops) != 3:
        return base.default_schedule(sch, call, target)
    k, co = _extent(sch, loops[2]), _extent(sch, loops[1])
    lanes = _lanes_for(co)
    if (
        target is not None
        and x86_dot.has_vnni(target)
        and k % 4 == 0
        and lanes
        and _works(sch, lambda s: _fc_vnni(s, lanes, k * co >= FC_STREAM_BYTES))
    ):
        return _fc_vnni(sch, lanes, k * co >= FC_STREAM_BYTES)
    vec = next((v for v in (16, 8, 4) if co % v == 0), None)
    if vec is None:
        return base.default_schedule(sch, call, target)
    b, o, rk = loops
    oo, oi = sch.split(o, [None, vec])
    sch.reorder(b, oo, rk, oi)
    sch.reverse_compute_at(epi, oo)
    sch.vectorize(oi)
    sch.decompose_reduction(acc, rk)


FC_STREAM_BYTES = 256 * 1024  # weights from this size on are read row by row (they do not stay in cache)


def _fc_vnni(sch, lanes: int, stream: bool = False) -> None:
    """Per block of ``lanes`` outputs, the whole reduction (weights read 4 rows x ``lanes`` bytes at
    a time, rows ``Co`` apart); with ``stream``, per 4 input values every output block instead, so
    the weights are read once, in order (the int32 sums, 4 bytes per output, stay in L1)."""
    acc, epi = _acc_and_epilogue(sch)
    b, o, rk = sch.get_loops(acc)
    oo, oi = sch.split(o, [None, lanes])
    rko, rki = sch.split(rk, [None, 4])
    if stream:
        sch.reorder(b, rko, oo, oi, rki)
    else:
        sch.reorder(b, oo, rko, oi, rki)
        sch.reverse_compute_at(epi, oo)
    sch.decompose_reduction(acc, rko)
    sch.tensorize(oi, x86_dot.register_fc(lanes))


def _fc_vnni_packed(sch, lanes: int, stream: bool) -> None:
    """The packed fully connected layer: per 4 inputs one 64-byte weight load and one ``vpdpbusd`` per
    block of ``lanes`` outputs; with ``stream``, every output block per 4 inputs (the weights read
    once, in order; the int32 sums stay in L1), else the whole reduction per block."""
    acc, epi = _acc_and_epilogue(sch)
    b, o, rc, rk = sch.get_loops(acc)
    oo, oi = sch.split(o, [None, lanes])
    if stream:
        sch.reorder(b, rc, oo, oi, rk)
        last = sch.get_loops(epi)[-1]  # the epilogue's own loop over the outputs, vectorized
        width = next((v for v in (16, 8, 4) if _extent(sch, last) % v == 0), None)
        if width:
            sch.vectorize(sch.split(last, [None, width])[1])
    else:
        sch.reorder(b, oo, rc, oi, rk)
        sch.reverse_compute_at(epi, oo)
    sch.decompose_reduction(acc, rc)
    sch.tensorize(oi, x86_dot.register_packed_fc(lanes))
    _schedule_pad(sch)


def schedule_pool(sch, call, target=None) -> None:
    """Pooling: output channels vectorized (window loops outside), rows parallel."""
    base.inline_all(sch)
    acc, epi = _acc_and_epilogue(sch)
    loops = sch.get_loops(acc) if acc is not None else []
    if epi is None or len(loops) != 6:
        return base.default_schedule(sch, call, target)
    b, y, x, c, ry, rx = loops
    lanes = next((v for v in (32, 16, 8, 4) if _extent(sch, c) % v == 0), None)
    if lanes is None:
        return base.default_schedule(sch, call, target)
    work = _extent(sch, y) * _extent(sch, x) * _extent(sch, c) * _extent(sch, ry) * _extent(sch, rx)
    co, ci = sch.split(c, [None, lanes])
    sch.reorder(b, y, x, co, ry, rx, ci)
    sch.reverse_compute_at(epi, co)
    _vectorize_epilogue(sch, epi, lanes)
    _parallel(sch, [b, y], work)
    sch.vectorize(ci)
    sch.decompose_reduction(acc, ry)


CPU_SCHEDULES: dict = {
    "conv2d": schedule_conv2d,
    "depthwise_conv2d": schedule_depthwise,
    "fully_connected": schedule_fully_connected,
    "max_pool2d": schedule_pool,
    "avg_pool2d": schedule_pool,
}
