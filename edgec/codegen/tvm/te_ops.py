"""One TE computation per int8 IR op, with integer semantics (bit-exact with the numpy reference).

``LOWERINGS[op](kb, params)`` builds the op's TE tensors from the
``KernelBuilder`` ``kb`` (placeholders for operands and derived constants)
and ``params`` (``qparams.kernel_params``: the numbers the C back end and the
reference use) and returns the output tensor; ``lower_node`` wraps that into
a ``PrimFunc`` whose arguments are ``kb.args`` then the output.

Stage names that schedules rely on (``schedules.py``):

* ``pad``: a padded copy of the input (inlined by the default schedule);
* ``acc``: an int32 reduction (convolutions, fully connected, pooling sums,
  reductions);
* ``out``: the int8 output (epilogue: bias, requantization, activation clamp).

Convolutions fold the input offset into the bias (``bias + input_offset *
sum(w)``, int32 wrap-around as in C) and pad with the input zero point, so
their reduction is a plain int8 x int8 -> int32 dot product; weights are
re-laid out with the output channel innermost (``[KH, KW, Ci, Co]``).
"""

from __future__ import annotations

import math

import numpy as np
from tvm import te, tirx

from edgec.codegen.tvm import fixed_point as fp
from edgec.codegen.tvm import requant_x86
from edgec.codegen.tvm.kernel_builder import KernelBuilder
from edgec.ir.graph import Graph, Node
from edgec.reference import int8_kernels as K
from edgec.reference.qparams import kernel_params

I8, I16, I32, I64 = "int8", "int16", "int32", "int64"
LOWERINGS: dict = {}


def lowering(*ops: str):
    def deco(fn):
        for op in ops:
            LOWERINGS[op] = fn
        return fn

    return deco


def _compute(shape, fn, name: str) -> te.Tensor:
    """``te.compute`` whose body's shared sub-expressions become a chain of ``Let``s."""
    return te.compute(shape, fp.sequential(fn), name=name)


def _c(value: int, dtype: str = I32):
    return tirx.const(int(value), dtype)


def _pick(value, table, index):
    """A per-channel parameter: the folded constant or the table entry at ``index``."""
    return value if table is None else table[index]


def _fold_bias(bias: np.ndarray | None, weight_sums: np.ndarray, input_offset: int) -> np.ndarray:
    """``bias + input_offset * sum(w)`` with C int32 wrap-around."""
    total = np.asarray(weight_sums, dtype=np.int64) * int(input_offset)
    if bias is not None:
        total = total + np.asarray(bias, dtype=np.int64)
    return K.wrap_int32(total).astype(np.int32)


def _bias_data(kb: KernelBuilder) -> np.ndarray | None:
    node = kb.node
    if len(node.inputs) > 2 and node.inputs[2]:
        return np.asarray(kb.graph.tensors[node.inputs[2]].data)
    return None


def _requant_epilogue(kb: KernelBuilder, p: dict, channels: int):
    """``apply(acc, c, bias)``: the requantized int8 output of channel ``c`` from its sum ``acc``
    (``+ bias`` with int32 wrap-around; the VNNI convolutions and the paired depthwise start their
    sums from the bias instead and pass none)."""
    mult, mult_t = kb.param("mult", p["out_mult"], channels)
    shifts = np.broadcast_to(np.asarray(p["out_shift"]).reshape(-1), (channels,))
    if kb.vnni and requant_x86.usable(p["out_mult"], -shifts):
        # right shifts of 1..31 on x86: one rounding, even/odd int64 lanes (requant_x86)
        right, right_t = kb.param("right_shift", (-shifts).astype(np.int32), channels)

        offset = p["output_offset"] if -shifts.min() <= requant_x86.MAX_OFFSET_EXPONENT else 0  # folded into the op

        def apply_x86(acc, c, bias=None):
            m, e = fp.as_expr(_pick(mult, mult_t, c)), fp.as_expr(_pick(right, right_t, c))
            scaled = requant_x86.requant_right(fp.as_expr(acc if bias is None else acc + bias), m, e, offset=offset)
            shifted = scaled if offset else scaled + _c(p["output_offset"])
            if (p["act_min"], p["act_max"]) == (-128, 127):
                return requant_x86.saturate_int8(shifted)
            return fp.clamp_to_int8(shifted, p["act_min"], p["act_max"])

        return apply_x86
    generic = _requant_generic(kb, p, channels, mult, mult_t, shifts)
    return lambda acc, c, bias=None: generic(acc if bias is None else acc + bias, c)


def _requant_generic(kb: KernelBuilder, p: dict, channels: int, mult, mult_t, shifts):
    """``apply(x, c)``: the fixed-point steps of the reference on ``x = acc + bias`` (any target)."""
    if shifts.max() <= 0 and len(set(shifts.tolist())) > 1:
        # per-channel right shifts only (the usual case): a table of exponents, no left shift
        right_t = kb.constant("right_shift", (-shifts).astype(np.int32))

        def apply_right(acc, c):
            scaled = fp.rounding_divide_by_pot(fp.srdhm(acc, _pick(mult, mult_t, c), b_never_min=True), right_t[c])
            return fp.clamp_to_int8(scaled + _c(p["output_offset"]), p["act_min"], p["act_max"])

        return apply_right
    shift, shift_t = kb.param("shift", p["out_shift"], channels)

    def apply(acc, c):
        return fp.requantize_acc(acc, _pick(mult, mult_t, c), _pick(shift, shift_t, c), p["output_offset"], p["act_min"], p["act_max"])

    return apply


def _pad_nhwc(x: te.Tensor, pad, value: int) -> te.Tensor:
    top, left, bottom, right = pad
    if not any(pad):
        return x
    n, h, w, c = (int(d) for d in x.shape)

    def fetch(b, y, xx, ch):
        inside = tirx.all(y >= top, y < top + h, xx >= left, xx < left + w)
        return tirx.if_then_else(inside, x[b, y - top, xx - left, ch], _c(value, x.dtype))

    return _compute((n, h + top + bottom, w + left + right, c), fetch, name="pad")


# -- convolutions ------------------------------------------------------------------------------


@lowering("conv2d")
def _conv2d(kb: KernelBuilder, p: dict) -> te.Tensor:
    g, node = kb.graph, kb.node
    w = np.asarray(g.tensors[node.inputs[1]].data)
    co, kh, kw, cig = w.shape
    groups = p["groups"]
    cog = co // groups
    if kb.vnni and groups == 1 and tuple(p["dilation"]) == (1, 1):
        return _conv2d_vnni(kb, p, w)
    x = kb.activation(node.inputs[0])
    weights = kb.constant("weights", w.transpose(1, 2, 3, 0))  # [KH, KW, Ci/groups, Co]
    bias = kb.constant("bias", _fold_bias(_bias_data(kb), w.astype(np.int64).sum(axis=(1, 2, 3)), p["input_offset"]))
    epilogue = _requant_epilogue(kb, p, co)
    xp = _pad_nhwc(x, p["pad"], -p["input_offset"])
    _, oh, ow, _ = g.tensors[node.outputs[0]].shape
    (sh, sw), (dh, dw) = p["stride"], p["dilation"]
    ry, rx, rc = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx"), te.reduce_axis((0, cig), "rc")

    def channel(o):
        return rc if groups == 1 else (o // cog) * cig + rc

    acc = _compute(
        (1, oh, ow, co),
        lambda b, y, xx, o: te.sum(
            xp[b, y * sh + ry * dh, xx * sw + rx * dw, channel(o)].astype(I32) * weights[ry, rx, rc, o].astype(I32),
            axis=[ry, rx, rc],
        ),
        name="acc",
    )
    return _compute(acc.shape, lambda b, y, xx, o: epilogue(acc[b, y, xx, o] + bias[o], o), name="out")


VNNI_DEPTH = 4  # input channels per vpdpbusd step
VNNI_FLIP = 128  # int8 + 128 = the same value as uint8 (vpdpbusd's unsigned operand)
VNNI_TAP_GROUP_CHANNELS = (1, 2)  # input channel counts whose 4-byte groups are adjacent taps (_conv2d_vnni_taps)


def _within_input(yy, xx, top: int, left: int, h: int, wd: int, rows: int, cols: int) -> list:
    """Where padded position (yy, xx) holds an input element, for padded reads spanning ``rows`` x ``cols``:
    one condition per border those reads cross (none for a border they stay inside)."""
    conditions = []
    if top:
        conditions.append(yy >= top)
    if rows > top + h:
        conditions.append(yy < top + h)
    if left:
        conditions.append(xx >= left)
    if cols > left + wd:
        conditions.append(xx < left + wd)
    return conditions


def _pixel_channels(x: te.Tensor, b, y, xx, c, width: int):
    """Channel ``c`` (of ``width`` >= the input's channels) of input pixel ``(y, xx)``, for a copy whose
    channels past the input's meet zero weights (any value will do there).  Those read on into the next
    pixel (``c // ci``, ``c % ci``), so the ``width`` bytes of a pixel are one contiguous load; the last
    pixel of a row, with none after it in the row, repeats its last channel instead (a 3-channel input
    read byte by byte per pixel made the copy a quarter of the first convolution's time)."""
    ci, wd = int(x.shape[3]), int(x.shape[2])
    if width == ci:
        return x[b, y, xx, c]
    return tirx.if_then_else(xx < wd - 1, x[b, y, xx + c // ci, c % ci], x[b, y, xx, tirx.min(c, ci - 1)])


def _conv2d_vnni(kb: KernelBuilder, p: dict, w: np.ndarray) -> te.Tensor:
    """Conv2d (groups 1, no dilation) as unsigned x signed 4-deep dot products (x86 ``vpdpbusd``).

    The same integers as ``_conv2d``, arranged for VNNI:

    * ``pad`` (computed once per call) holds ``x + 128`` as uint8, padded with the input zero
      point (+128), input channels padded to a multiple of 4, and the columns split by the
      horizontal stride into ``[N, H, phase, W / stride, Ci4]`` (``x = col * stride + phase``),
      so the pixels of one output row read columns one ``Ci4`` apart whatever the stride;
    * the weights are laid out at build time as ``[KH, KW, Ci4 / 4, Co, 4]`` (zeros in the
      padded channels): 4 input channels of 16 output channels are one 64-byte vector;
    * ``sum((x + 128) * w) = sum(x * w) + 128 * sum(w)``: the ``128 * sum(w)`` goes into the
      folded bias (``input_offset - 128``), so the reduction is a plain u8 x s8 dot product.
    """
    g, node = kb.graph, kb.node
    co, kh, kw, ci = w.shape
    if ci in VNNI_TAP_GROUP_CHANNELS and kw > 1 and VNNI_DEPTH % (p["stride"][1] * ci) == 0:
        return _conv2d_vnni_taps(kb, p, w)
    ci4 = -(-ci // VNNI_DEPTH) * VNNI_DEPTH
    x = kb.activation(node.inputs[0])
    wt = np.zeros((kh, kw, ci4, co), dtype=np.int8)
    wt[:, :, :ci, :] = w.transpose(1, 2, 3, 0)
    packed = wt.reshape(kh, kw, ci4 // VNNI_DEPTH, VNNI_DEPTH, co).transpose(0, 1, 2, 4, 3)
    weights = kb.constant("weights", packed)  # [KH, KW, Ci4/4, Co, 4]
    sums = w.astype(np.int64).sum(axis=(1, 2, 3))
    folded = _fold_bias(_bias_data(kb), sums, p["input_offset"] - VNNI_FLIP)
    bias = kb.constant("bias", folded)
    epilogue = _requant_epilogue(kb, p, co)
    top, left, bottom, right = p["pad"]
    _, h, wd, _ = (int(d) for d in x.shape)
    _, oh, ow, _ = g.tensors[node.outputs[0]].shape
    sh, sw = p["stride"]
    cols = -(-(wd + left + right) // sw)
    fill = _c(VNNI_FLIP - p["input_offset"])  # the zero point, flipped

    def flipped(b, yy, phase, col, c):
        xx = col * sw + phase
        conditions = []
        if top or bottom:
            conditions += [yy >= top, yy < top + h]
        if left or right or sw > 1:
            conditions += [xx >= left, xx < left + wd]
        # if_then_else reads only where the condition holds (TVM emits it lazily): no clamping needed,
        # and without padding the stage is a plain vectorizable flip
        value = (_pixel_channels(x, b, yy - top, xx - left, c, ci4).astype(I32) + _c(VNNI_FLIP)).astype("uint8")
        return tirx.if_then_else(tirx.all(*conditions), value, fill.astype("uint8")) if conditions else value

    plain = not (top or bottom or left or right or sw > 1 or ci4 != ci)  # a plain copy: scheduled as one flat loop
    xu = _compute((1, h + top + bottom, sw, cols, ci4), flipped, name="flip" if plain else "pad")
    ry, rx = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx")
    rc, rk = te.reduce_axis((0, ci4 // VNNI_DEPTH), "rc"), te.reduce_axis((0, VNNI_DEPTH), "rk")
    acc = _compute(
        (1, oh, ow, co),
        lambda b, y, xx, o: te.sum(
            xu[b, y * sh + ry, rx % sw, xx + rx // sw, rc * VNNI_DEPTH + rk].astype(I32) * weights[ry, rx, rc, o, rk].astype(I32),
            axis=[ry, rx, rc, rk],
            init=bias[o],  # the sums start from the folded bias (reduce_init): none to add in the epilogue
        ),
        name="acc",
    )
    return _compute(acc.shape, lambda b, y, xx, o: epilogue(acc[b, y, xx, o], o), name="out")


def _conv2d_vnni_taps(kb: KernelBuilder, p: dict, w: np.ndarray) -> te.Tensor:
    """``_conv2d_vnni`` for 1 or 2 input channels (``stride * Ci`` dividing 4): the 4 bytes of one
    ``vpdpbusd`` are ``4 / Ci`` horizontally adjacent taps of all Ci channels, not 4 channels of
    one tap, so no product is a padded channel's zero (the 4-channel form wastes 3/4 or 1/2).

    * each row of the input, ``x + 128`` as uint8 with its columns and channels flattened
      (padding: the input zero point + 128), is held by ``pad_taps`` (computed once per call) as
      overlapping 4-byte windows ``[N, rows, Q, 4]``, window ``q`` starting at byte
      ``q * stride * Ci``: an output pixel's tap group is one window, and the P pixels of a tile
      read consecutive windows;
    * the weights are laid out at build time as ``[KH, groups, Co, 4]``: group ``t`` of a kernel
      row holds taps ``t * 4 / Ci ..`` (zero weights past the last tap), one 64-byte load per
      16 output channels;
    * output column ``x`` reads group ``t`` from window ``x + t * 4 / (stride * Ci)``.
    """
    g, node = kb.graph, kb.node
    co, kh, kw, ci = w.shape
    per_group = VNNI_DEPTH // ci  # taps per 4-byte group
    groups = -(-kw // per_group)
    wt = np.zeros((kh, groups * per_group, ci, co), dtype=np.int8)
    wt[:, :kw] = w.transpose(1, 2, 3, 0)
    packed = wt.reshape(kh, groups, VNNI_DEPTH, co).transpose(0, 1, 3, 2)
    weights = kb.constant("weights", np.ascontiguousarray(packed))  # [KH, groups, Co, 4]
    sums = w.astype(np.int64).sum(axis=(1, 2, 3))
    folded = _fold_bias(_bias_data(kb), sums, p["input_offset"] - VNNI_FLIP)
    bias = kb.constant("bias", folded)
    epilogue = _requant_epilogue(kb, p, co)
    x = kb.activation(node.inputs[0])
    top, left, _, _ = p["pad"]
    _, h, wd, _ = (int(d) for d in x.shape)
    _, oh, ow, _ = g.tensors[node.outputs[0]].shape
    sh, sw = p["stride"]
    unit = sw * ci  # bytes between windows
    step = VNNI_DEPTH // unit  # windows between tap groups
    rows, windows = (oh - 1) * sh + kh, ow + (groups - 1) * step
    cols = (windows - 1) * unit // ci + per_group  # padded columns the windows reach
    fill = _c(VNNI_FLIP - p["input_offset"])  # the zero point, flipped

    def flipped(b, yy, q, k):
        j = q * unit + k
        xx, c = j // ci, j % ci
        conditions = _within_input(yy, xx, top, left, h, wd, rows, cols)
        value = (x[b, yy - top, xx - left, c].astype(I32) + _c(VNNI_FLIP)).astype("uint8")
        return tirx.if_then_else(tirx.all(*conditions), value, fill.astype("uint8")) if conditions else value

    xu = _compute((1, rows, windows, VNNI_DEPTH), flipped, name="pad_taps")
    ry, rt, rk = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, groups), "rt"), te.reduce_axis((0, VNNI_DEPTH), "rk")
    acc = _compute(
        (1, oh, ow, co),
        lambda b, y, xx, o: te.sum(
            xu[b, y * sh + ry, xx + rt * step, rk].astype(I32) * weights[ry, rt, o, rk].astype(I32),
            axis=[ry, rt, rk],
            init=bias[o],  # the sums start from the folded bias (reduce_init): none to add in the epilogue
        ),
        name="acc",
    )
    return _compute(acc.shape, lambda b, y, xx, o: epilogue(acc[b, y, xx, o], o), name="out")


@lowering("depthwise_conv2d")
def _depthwise(kb: KernelBuilder, p: dict) -> te.Tensor:
    g, node = kb.graph, kb.node
    w = np.asarray(g.tensors[node.inputs[1]].data)
    _, kh, kw, co = w.shape
    m = p["depth_multiplier"]
    if kb.vnni and m == 1 and tuple(p["dilation"]) == (1, 1) and p["stride"][1] in (1, 2) and co % PAIR_LANES_MIN == 0:
        return _depthwise_pairs(kb, p, w)
    x = kb.activation(node.inputs[0])
    weights = kb.constant("weights", w[0])  # [KH, KW, Co]
    bias = kb.constant("bias", _fold_bias(_bias_data(kb), w.astype(np.int64).sum(axis=(0, 1, 2)), p["input_offset"]))
    epilogue = _requant_epilogue(kb, p, co)
    xp = _pad_nhwc(x, p["pad"], -p["input_offset"])
    _, oh, ow, _ = g.tensors[node.outputs[0]].shape
    (sh, sw), (dh, dw) = p["stride"], p["dilation"]
    ry, rx = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx")
    acc = _compute(
        (1, oh, ow, co),
        lambda b, y, xx, c: te.sum(
            # int8 x int8 fits int16 exactly (|product| <= 2**14): 16-bit vector multiplies
            (xp[b, y * sh + ry * dh, xx * sw + rx * dw, c if m == 1 else c // m].astype(I16) * weights[ry, rx, c].astype(I16)).astype(I32),
            axis=[ry, rx],
        ),
        name="acc",
    )
    return _compute(acc.shape, lambda b, y, xx, c: epilogue(acc[b, y, xx, c] + bias[c], c), name="out")


PAIR_LANES_MIN = 8  # int32 lanes of the narrowest vpdpwssd (ymm): the channel count must divide by it


def _depthwise_pairs(kb: KernelBuilder, p: dict, w: np.ndarray) -> te.Tensor:
    """Depthwise conv (multiplier 1, no dilation, horizontal stride 1 or 2) as int16 pairs of horizontally adjacent taps (x86 ``vpdpwssd``).

    The same integers as ``_depthwise``, arranged so that one ``vpdpwssd`` adds two taps of 16
    channels (``int16 x int16`` pairs summed into int32 lanes, no saturation: exact):

    * ``pad`` (computed once per call) holds, for every padded row, every ``stride``-th column
      ``q * stride`` and every channel, the input of that column (low 16 bits) and of the next
      column (high 16 bits) as one int32: ``[N, rows, cols, C]`` (padding: the input zero point);
      with stride 1 or 2 every pair a window starts on an even offset from its first column, so
      the pixels of one output row read pairs one ``C`` apart;
    * the weights are laid out at build time as ``[KH, ceil(KW / 2), C, 2]`` int16, tap pairs
      ``(2t, 2t + 1)`` of each kernel row (a zero weight after the last tap of an odd ``KW``),
      so 16 channels' pairs are one 64-byte load;
    * output column ``x`` takes pair ``t`` of kernel row ``r`` from padded column
      ``x * stride + 2t``, i.e. ``q = x + 2t / stride``: one vector load per pixel.
    """
    g, node = kb.graph, kb.node
    _, kh, kw, co = w.shape
    taps = -(-kw // 2)
    wt = np.zeros((kh, 2 * taps, co), dtype=np.int16)
    wt[:, :kw, :] = w[0]
    weights = kb.constant("weights", np.ascontiguousarray(wt.reshape(kh, taps, 2, co).transpose(0, 1, 3, 2)))
    folded = _fold_bias(_bias_data(kb), w.astype(np.int64).sum(axis=(0, 1, 2)), p["input_offset"])
    bias = kb.constant("bias", folded)
    epilogue = _requant_epilogue(kb, p, co)
    x = kb.activation(node.inputs[0])
    top, left, _, _ = p["pad"]
    _, h, wd, _ = (int(d) for d in x.shape)
    _, oh, ow, _ = g.tensors[node.outputs[0]].shape
    sh, sw = p["stride"]
    step = 2 // sw  # pairs between a window's tap pairs
    rows, cols = (oh - 1) * sh + kh, ow + (taps - 1) * step
    fill = _c(-p["input_offset"], x.dtype)  # the input zero point

    def padded(b, yy, xx, c):
        conditions = _within_input(yy, xx, top, left, h, wd, rows, (cols - 1) * sw + 2)
        value = x[b, yy - top, xx - left, c]
        # if_then_else reads only where the condition holds: no clamping needed
        return (tirx.if_then_else(tirx.all(*conditions), value, fill) if conditions else value).astype(I32)

    def paired(b, yy, q, c):
        return (padded(b, yy, q * sw, c) & _c(0xFFFF)) | (padded(b, yy, q * sw + 1, c) << _c(16))

    xp = _compute((1, rows, cols, co), paired, name="pad")
    ry, rt, rk = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, taps), "rt"), te.reduce_axis((0, 2), "rk")
    acc = _compute(
        (1, oh, ow, co),
        lambda b, y, xx, c: te.sum(
            (xp[b, y * sh + ry, xx + rt * step, c] >> (rk * 16)).astype(I16).astype(I32) * weights[ry, rt, c, rk].astype(I32),
            axis=[ry, rt, rk],
            init=bias[c],  # the sums start from the folded bias (reduce_init)
        ),
        name="acc",
    )
    return _compute(acc.shape, lambda b, y, xx, c: epilogue(acc[b, y, xx, c], c), name="out")


@lowering("transpose_conv2d")
def _transpose_conv2d(kb: KernelBuilder, p: dict) -> te.Tensor:
    """Gather form of the scatter: output (oy, ox) takes tap (ky, kx) from input
    ``((oy + top - ky*dh) / sh, ...)`` when that division is exact and in range."""
    g, node = kb.graph, kb.node
    w = np.asarray(g.tensors[node.inputs[1]].data)
    co, kh, kw, ci = w.shape
    _, h, wd, _ = g.tensors[node.inputs[0]].shape
    x = kb.activation(node.inputs[0])
    weights = kb.constant("weights", w.transpose(1, 2, 3, 0))  # [KH, KW, Ci, Co]
    bias_data = _bias_data(kb)
    bias = kb.constant("bias", _fold_bias(bias_data, np.zeros(co, np.int64), 0))
    epilogue = _requant_epilogue(kb, p, co)
    _, oh, ow, _ = g.tensors[node.outputs[0]].shape
    (sh, sw), (dh, dw) = p["stride"], p["dilation"]
    top, left = p["pad"][0], p["pad"][1]
    offset = p["input_offset"]
    ry, rx, rc = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx"), te.reduce_axis((0, ci), "rc")

    def tap(b, y, xx, o):
        sy = y + top - ry * dh
        sx = xx + left - rx * dw
        iy, ix = tirx.floordiv(sy, sh), tirx.floordiv(sx, sw)
        valid = tirx.all(sy >= 0, sx >= 0, tirx.floormod(sy, sh) == 0, tirx.floormod(sx, sw) == 0, iy < h, ix < wd)
        value = (x[b, tirx.max(tirx.min(iy, h - 1), 0), tirx.max(tirx.min(ix, wd - 1), 0), rc].astype(I32) + _c(offset)) * weights[ry, rx, rc, o].astype(I32)
        return tirx.if_then_else(valid, value, _c(0))

    acc = _compute((1, oh, ow, co), lambda b, y, xx, o: te.sum(tap(b, y, xx, o), axis=[ry, rx, rc]), name="acc")
    return _compute(acc.shape, lambda b, y, xx, o: epilogue(acc[b, y, xx, o] + bias[o], o), name="out")


@lowering("fully_connected")
def _fully_connected(kb: KernelBuilder, p: dict) -> te.Tensor:
    """BUILTIN_REF's FC rescales in double: ``round(double(acc) * out_scale[c])``."""
    g, node = kb.graph, kb.node
    w = np.asarray(g.tensors[node.inputs[1]].data)
    co, k = w.shape
    batches = g.tensors[node.inputs[0]].size // k
    x = kb.activation(node.inputs[0], (batches, k))
    if kb.vnni:
        acc, bias = _fully_connected_vnni(kb, p, w, x)
    else:
        weights = kb.constant("weights", w.T)  # [K, Co]
        bias = kb.constant("bias", _fold_bias(_bias_data(kb), w.astype(np.int64).sum(axis=1), p["input_offset"]))
        rk = te.reduce_axis((0, k), "rk")
        acc = _compute((batches, co), lambda b, o: te.sum(x[b, rk].astype(I32) * weights[rk, o].astype(I32), axis=rk), name="acc")
    scale = kb.constant("scale", np.broadcast_to(np.asarray(p["out_scale"], np.float64), (co,)))
    lo, hi = p["act_min"], p["act_max"]

    def out(b, o):
        scaled = fp.round_half_away_f64((acc[b, o] + bias[o]).astype("float64") * scale[o])
        y = scaled + tirx.const(float(p["output_offset"]), "float64")
        y = tirx.max(tirx.min(y, tirx.const(float(hi), "float64")), tirx.const(float(lo), "float64"))
        return y.astype(I32).astype(I8)

    return _compute((batches, co), out, name="out")


FC_VNNI_LANES = 16  # int32 lanes of one vpdpbusd (zmm)


def _fully_connected_vnni(kb: KernelBuilder, p: dict, w: np.ndarray, x: te.Tensor):
    """The sums of a fully connected layer as ``_conv2d_vnni`` forms them (``vpdpbusd``): the input
    flipped to uint8 once per call (``flip``, or ``pad`` where K is padded to a multiple of 4), the
    weights laid out at build time as ``[K4 / 4, Co, 4]`` (4 inputs of 16 outputs are one 64-byte
    load, read in order), the ``128 * sum(w)`` in the folded bias.  The outputs are padded to a
    multiple of 16 (zero weights; sums the epilogue never reads) so every block is 16 lanes wide.
    Returns ``(acc, bias)``."""
    co, k = w.shape
    k4 = -(-k // VNNI_DEPTH) * VNNI_DEPTH
    co16 = -(-co // FC_VNNI_LANES) * FC_VNNI_LANES
    batches = int(x.shape[0])
    wt = np.zeros((k4, co16), dtype=np.int8)
    wt[:k, :co] = w.T
    weights = kb.constant("weights", np.ascontiguousarray(wt.reshape(k4 // VNNI_DEPTH, VNNI_DEPTH, co16).transpose(0, 2, 1)))
    bias = kb.constant("bias", _fold_bias(_bias_data(kb), w.astype(np.int64).sum(axis=1), p["input_offset"] - VNNI_FLIP))

    def flipped(b, j):
        value = (x[b, j if k4 == k else tirx.min(j, k - 1)].astype(I32) + _c(VNNI_FLIP)).astype("uint8")
        return value if k4 == k else tirx.if_then_else(j < k, value, tirx.const(0, "uint8"))  # zero weights there

    xu = _compute((batches, k4), flipped, name="flip" if k4 == k else "pad")
    rc, rk = te.reduce_axis((0, k4 // VNNI_DEPTH), "rc"), te.reduce_axis((0, VNNI_DEPTH), "rk")
    acc = _compute(
        (batches, co16),
        lambda b, o: te.sum(xu[b, rc * VNNI_DEPTH + rk].astype(I32) * weights[rc, o, rk].astype(I32), axis=[rc, rk]),
        name="acc",
    )
    return acc, bias


# -- element-wise arithmetic ---------------------------------------------------------------------


def _broadcast_index(in_shape, out_shape):
    """Map an output index to an input index under numpy broadcasting (rank aligned on the right)."""
    rank = len(in_shape)
    offset = len(out_shape) - rank

    def index(idx):
        return [0 if in_shape[i] == 1 and out_shape[i + offset] != 1 else idx[i + offset] for i in range(rank)] or [0]

    return index


def _binary(kb: KernelBuilder, fn, name: str = "out") -> te.Tensor:
    g, node = kb.graph, kb.node
    out_shape = tuple(g.tensors[node.outputs[0]].shape)
    a = kb.activation(node.inputs[0])
    b = kb.activation(node.inputs[1])
    ai = _broadcast_index(g.tensors[node.inputs[0]].shape, out_shape)
    bi = _broadcast_index(g.tensors[node.inputs[1]].shape, out_shape)
    return _compute(
        out_shape or (1,), lambda *idx: fn(a[tuple(ai(idx))].astype(I32), b[tuple(bi(idx))].astype(I32)), name=name
    )


@lowering("add", "sub")
def _add(kb: KernelBuilder, p: dict) -> te.Tensor:
    """The rescaled sum is its own stage (``keep_sum``, computed per output row by the default
    schedule): inlined into the final rescaling, TVM's simplifier takes seconds per kernel."""

    def fn(a, b):
        av = (a + _c(p["a_offset"])) << _c(p["left_shift"])
        bv = (b + _c(p["b_offset"])) << _c(p["left_shift"])
        return fp.wrapping_add(_rescale(kb, av, p["a_mult"], p["a_shift"]), _rescale(kb, bv, p["b_mult"], p["b_shift"]))

    total = _binary(kb, fn, name="keep_sum")
    return _compute(
        total.shape,
        lambda *i: fp.clamp_to_int8(_rescale(kb, total[i], p["out_mult"], p["out_shift"]) + _c(p["output_offset"]), p["act_min"], p["act_max"]),
        name="out",
    )


def _rescale(kb: KernelBuilder, x, mult: int, shift: int):
    """The reference's ``MultiplyByQuantizedMultiplier(x, mult, shift)`` for one (per-tensor) scale:
    ``requant_x86``'s one-rounding op on x86 where its domain allows, else the fixed-point steps."""
    if kb.vnni and requant_x86.usable(mult, -shift):
        return requant_x86.requant_right(fp.as_expr(x), _c(mult), _c(-shift))
    return fp.multiply_by_quantized_multiplier(x, mult, shift)


@lowering("mul")
def _mul(kb: KernelBuilder, p: dict) -> te.Tensor:
    def fn(a, b):
        prod = (a + _c(p["a_offset"])) * (b + _c(p["b_offset"]))
        return fp.requantize_acc(prod, p["out_mult"], p["out_shift"], p["output_offset"], p["act_min"], p["act_max"])

    return _binary(kb, fn)


@lowering("squared_difference")
def _squared_difference(kb: KernelBuilder, p: dict) -> te.Tensor:
    def fn(a, b):
        av = (a + _c(p["a_offset"])) << _c(p["left_shift"])
        bv = (b + _c(p["b_offset"])) << _c(p["left_shift"])
        return fp.multiply_by_quantized_multiplier(av, p["a_mult"], p["a_shift"]) - fp.multiply_by_quantized_multiplier(
            bv, p["b_mult"], p["b_shift"]
        )

    diff = _binary(kb, fn, name="keep_diff")  # a stage of its own, as add's sum

    def out(*i):
        square = fp.wrap32(diff[i].astype(I64) * diff[i].astype(I64))
        return fp.requantize_acc(square, p["out_mult"], p["out_shift"], p["output_offset"])

    return _compute(diff.shape, out, name="out")


@lowering("maximum")
def _maximum(kb: KernelBuilder, p: dict) -> te.Tensor:
    return _binary(kb, lambda a, b: tirx.max(a, b).astype(I8))


@lowering("minimum")
def _minimum(kb: KernelBuilder, p: dict) -> te.Tensor:
    return _binary(kb, lambda a, b: tirx.min(a, b).astype(I8))


@lowering("prelu")
def _prelu(kb: KernelBuilder, p: dict) -> te.Tensor:
    def fn(x, alpha):
        v = x + _c(p["input_offset"])
        a = alpha + _c(p["alpha_offset"])
        pos = fp.multiply_by_quantized_multiplier(v, p["identity_mult"], p["identity_shift"])
        neg = fp.multiply_by_quantized_multiplier(v * a, p["alpha_mult"], p["alpha_shift"])
        return fp.clamp_to_int8(fp.select(v >= _c(0), pos, neg) + _c(p["output_offset"]))

    return _binary(kb, fn)


# -- unary element-wise ----------------------------------------------------------------------------


def _unary(kb: KernelBuilder, fn) -> te.Tensor:
    node = kb.node
    shape = tuple(kb.graph.tensors[node.outputs[0]].shape) or (1,)
    x = kb.activation(node.inputs[0], shape)
    return _compute(shape, lambda *i: fn(x[i].astype(I32)), name="out")


@lowering("quantize")
def _requantize(kb: KernelBuilder, p: dict) -> te.Tensor:
    if "mult" not in p:
        raise ValueError("float quantize")
    return _unary(
        kb, lambda x: fp.requantize_acc(x + _c(p["input_offset"]), p["mult"], p["shift"], p["output_offset"])
    )


@lowering("relu", "relu6", "clip")
def _relu(kb: KernelBuilder, p: dict) -> te.Tensor:
    return _unary(
        kb,
        lambda x: fp.requantize_acc(
            x + _c(p["input_offset"]), p["out_mult"], p["out_shift"], p["output_offset"], p["act_min"], p["act_max"]
        ),
    )


@lowering("leaky_relu")
def _leaky_relu(kb: KernelBuilder, p: dict) -> te.Tensor:
    def fn(x):
        v = x + _c(p["input_offset"])
        pos = fp.multiply_by_quantized_multiplier(v, p["identity_mult"], p["identity_shift"])
        neg = fp.multiply_by_quantized_multiplier(v, p["alpha_mult"], p["alpha_shift"])
        return fp.clamp_to_int8(fp.select(v >= _c(0), pos, neg) + _c(p["output_offset"]))

    return _unary(kb, fn)


@lowering("logistic", "tanh", "rsqrt")
def _table(kb: KernelBuilder, p: dict) -> te.Tensor:
    table = kb.constant("table", np.asarray(p["table"], dtype=np.int8))
    return _unary(kb, lambda x: table[x + _c(128)])


@lowering("hard_swish")
def _hard_swish(kb: KernelBuilder, p: dict) -> te.Tensor:
    reluish_exp = p["reluish_multiplier_exponent"]

    def fn(x):
        hires = fp.wrap16((x - _c(p["input_zero_point"])) * _c(128))
        preshift_output = fp.srdhm16(hires, p["output_multiplier_fixedpoint_int16"])
        reluish = hires
        if reluish_exp > 0:
            reluish = fp.saturating_left_shift16(reluish, reluish_exp - 1)
        reluish = fp.srdhm16(reluish, p["reluish_multiplier_fixedpoint_int16"])
        if reluish_exp > 0:
            reluish = fp.saturating_left_shift16(reluish, 1)
        if reluish_exp < 0:
            reluish = fp.rounding_divide_by_pot(reluish, -reluish_exp)
        reluish = (reluish + _c(1 << 15)) >> _c(1)
        out = fp.rounding_divide_by_pot(fp.sdhm16(reluish, preshift_output), -p["output_multiplier_exponent"])
        return fp.clamp_to_int8(fp.wrap16(out + _c(p["output_zero_point"])))

    return _unary(kb, fn)


# -- pooling and reductions ----------------------------------------------------------------------


@lowering("max_pool2d")
def _max_pool(kb: KernelBuilder, p: dict) -> te.Tensor:
    g, node = kb.graph, kb.node
    x = kb.activation(node.inputs[0])
    _, oh, ow, c = g.tensors[node.outputs[0]].shape
    (kh, kw), (sh, sw) = p["kernel"], p["stride"]
    xp = _pad_nhwc(x, p["pad"], -128)  # padding never wins: every window holds an input or only padding
    ry, rx = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx")
    acc = _compute((1, oh, ow, c), lambda b, y, xx, ch: te.max(xp[b, y * sh + ry, xx * sw + rx, ch], axis=[ry, rx]), name="acc")
    return _compute(acc.shape, lambda *i: fp.clamp_to_int8(acc[i].astype(I32), p["act_min"], p["act_max"]), name="out")


@lowering("avg_pool2d")
def _avg_pool(kb: KernelBuilder, p: dict) -> te.Tensor:
    g, node = kb.graph, kb.node
    x = kb.activation(node.inputs[0])
    _, h, w, _ = g.tensors[node.inputs[0]].shape
    _, oh, ow, c = g.tensors[node.outputs[0]].shape
    (kh, kw), (sh, sw) = p["kernel"], p["stride"]
    top, left = p["pad"][0], p["pad"][1]
    xp = _pad_nhwc(x, p["pad"], 0)
    ry, rx = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx")
    acc = _compute(
        (1, oh, ow, c), lambda b, y, xx, ch: te.sum(xp[b, y * sh + ry, xx * sw + rx, ch].astype(I32), axis=[ry, rx]), name="acc"
    )

    def average(b, y, xx, ch):
        y0, x0 = y * sh - top, xx * sw - left
        rows = tirx.min(y0 + kh, h) - tirx.max(y0, 0)
        cols = tirx.min(x0 + kw, w) - tirx.max(x0, 0)
        count = rows * cols
        half = count // 2
        total = acc[b, y, xx, ch]
        avg = fp.select(total > _c(0), tirx.truncdiv(total + half, count), -tirx.truncdiv(half - total, count))
        return fp.clamp_to_int8(avg, p["act_min"], p["act_max"])

    return _compute(acc.shape, average, name="out")


def _reduce_shapes(kb: KernelBuilder, axes):
    x_shape = tuple(kb.graph.tensors[kb.node.inputs[0]].shape)
    kept = tuple(1 if i in axes else d for i, d in enumerate(x_shape))
    raxes = [te.reduce_axis((0, x_shape[a]), f"r{a}") for a in axes]

    def index(idx):
        it = iter(raxes)
        return tuple(next(it) if i in axes else idx[i] for i in range(len(x_shape)))

    return x_shape, kept, raxes, index


@lowering("mean")
def _mean(kb: KernelBuilder, p: dict) -> te.Tensor:
    axes = tuple(p["axes"])
    x_shape, kept, raxes, index = _reduce_shapes(kb, axes)
    x = kb.activation(kb.node.inputs[0])
    count = math.prod(x_shape[a] for a in axes)
    acc = _compute(kept, lambda *i: te.sum(x[index(i)].astype(I32), axis=raxes), name="acc")

    def out(*i):
        total = fp.wrapping_add(acc[i], _c(int(K.wrap_int32(p["input_offset"] * count))))
        return fp.requantize_acc(total, p["mult"], p["shift"], p["output_offset"])

    return _compute(kept, out, name="out")


@lowering("reduce_max")
def _reduce_max(kb: KernelBuilder, p: dict) -> te.Tensor:
    axes = tuple(p["axes"])
    _, kept, raxes, index = _reduce_shapes(kb, axes)
    x = kb.activation(kb.node.inputs[0])
    return _compute(kept, lambda *i: te.max(x[index(i)], axis=raxes), name="out")


@lowering("softmax")
def _softmax(kb: KernelBuilder, p: dict) -> te.Tensor:
    """TFLite reference int8 softmax over the last axis (gemmlowp fixed point), output zp -128.

    Every fixed-point step is its own stage (``keep_*``, never inlined): the steps reuse their
    operands many times, and inlined they would grow exponentially.
    """
    shape = tuple(kb.graph.tensors[kb.node.inputs[0]].shape)
    depth = shape[-1]
    rows = math.prod(shape[:-1])
    x = kb.activation(kb.node.inputs[0], (rows, depth))
    integer_bits, accumulation_bits = 5, 12
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    count = [0]

    def elem(fn) -> te.Tensor:
        count[0] += 1
        return _compute((rows, depth), fn, name=f"keep_e{count[0]}")

    def row(fn) -> te.Tensor:
        count[0] += 1
        return _compute((rows,), fn, name=f"keep_r{count[0]}")

    rmax = te.reduce_axis((0, depth), "rmax")
    row_max = _compute((rows,), lambda r: te.max(x[r, rmax].astype(I32), axis=rmax), name="keep_max")
    diff = elem(lambda r, k: x[r, k].astype(I32) - row_max[r])
    left = _c(p["input_beta_left_shift"], I64)
    a = elem(
        lambda r, k: fp.select(
            diff[r, k] >= _c(p["diff_min"]),
            fp.srdhm(fp.wrap32(diff[r, k].astype(I64) << left), p["input_beta_multiplier"]),
            _c(0),
        )
    )
    # exp_on_negative_values(a, integer_bits)
    a_mod = elem(lambda r, k: fp.wrapping_sub(a[r, k] & _c(one_quarter - 1), _c(one_quarter)))
    xin = elem(lambda r, k: fp.wrapping_add(fp.saturating_mul_by_pot(a_mod[r, k], integer_bits), _c(1 << 28)))
    x2 = elem(lambda r, k: fp.fp_mul(xin[r, k], xin[r, k]))
    x3 = elem(lambda r, k: fp.fp_mul(x2[r, k], xin[r, k]))
    x4 = elem(lambda r, k: fp.fp_mul(x2[r, k], x2[r, k]))
    inner = elem(
        lambda r, k: fp.wrapping_add(
            fp.fp_mul(fp.wrapping_add(fp.saturating_mul_by_pot(x4[r, k], -2), x3[r, k]), _c(715827883)), x2[r, k]
        )
    )
    constant_term = _c(1895147668)
    result = elem(
        lambda r, k: fp.wrapping_add(
            constant_term,
            fp.fp_mul(constant_term, fp.wrapping_add(xin[r, k], fp.saturating_mul_by_pot(inner[r, k], -1))),
        )
    )
    remainder = elem(lambda r, k: fp.wrapping_sub(a_mod[r, k], a[r, k]))
    for exponent, multiplier in fp.EXP_BARREL:
        if integer_bits > exponent:
            bit = _c(1 << (fractional_bits + exponent)) if fractional_bits + exponent < 31 else _c(fp.INT32_MIN)

            def step(r, k, prev=result, bit=bit, multiplier=multiplier):
                return fp.select((remainder[r, k] & bit) != _c(0), fp.fp_mul(prev[r, k], _c(multiplier)), prev[r, k])

            result = elem(step)
    exps = elem(lambda r, k, res=result: fp.select(a[r, k] == _c(0), _c(fp.INT32_MAX), res[r, k]))

    def valid(r, k):
        return diff[r, k] >= _c(p["diff_min"])

    terms = elem(lambda r, k: fp.select(valid(r, k), fp.rounding_divide_by_pot(exps[r, k], accumulation_bits), _c(0)))
    rsum = te.reduce_axis((0, depth), "rsum")
    sums = _compute((rows,), lambda r: te.sum(terms[r, rsum], axis=rsum), name="keep_sum")
    headroom = row(lambda r: fp.count_leading_zeros32(sums[r]))
    shifted = row(lambda r: fp.wrap32((sums[r].astype(I64) << headroom[r].astype(I64)) - tirx.const(1 << 31, I64)))
    # one_over_one_plus_x_for_x_in_0_1(shifted)
    total = row(lambda r: (shifted[r].astype(I64) + tirx.const(fp.INT32_MAX, I64)))
    one64, two64 = tirx.const(1, I64), tirx.const(2, I64)
    half_denominator = row(  # gemmlowp RoundingHalfSum(a, One)
        lambda r: fp.wrap32(
            fp.select(
                total[r] >= tirx.const(0, I64),
                tirx.floordiv(total[r] + one64, two64),
                -tirx.floordiv(one64 - total[r], two64),
            )
        )
    )
    xr = row(lambda r: fp.wrapping_add(_c(1515870810), fp.fp_mul(half_denominator[r], _c(-1010580540))))
    for _ in range(3):
        one_minus = row(lambda r, xr=xr: fp.wrapping_sub(_c(1 << 29), fp.fp_mul(half_denominator[r], xr[r])))
        xr = row(lambda r, xr=xr, om=one_minus: fp.wrapping_add(xr[r], fp.saturating_mul_by_pot(fp.fp_mul(xr[r], om[r]), 2)))
    scale = row(lambda r, xr=xr: fp.saturating_mul_by_pot(xr[r], 1))

    def out(r, k):
        bits_over_unit = _c(accumulation_bits) - headroom[r]
        unsat = fp.rounding_divide_by_pot(fp.fp_mul(scale[r], exps[r, k]), bits_over_unit + _c(31 - 8))
        return fp.clamp_to_int8(fp.select(valid(r, k), unsat - _c(128), _c(-128)))

    return _compute((rows, depth), out, name="out")


@lowering("l2_normalization")
def _l2_normalization(kb: KernelBuilder, p: dict) -> te.Tensor:
    """int8 L2_NORMALIZATION over the last axis: per row, ``1/sqrt(sum of squares)`` by gemmlowp's
    Newton-Raphson (``int8_kernels.inv_sqrt_multiplier_exp``), each step a materialized row stage."""
    shape = tuple(kb.graph.tensors[kb.node.inputs[0]].shape)
    depth = shape[-1]
    rows = math.prod(shape[:-1])
    x = kb.activation(kb.node.inputs[0], (rows, depth))
    zp = p["input_zero_point"]
    count = [0]

    def row(fn) -> te.Tensor:
        count[0] += 1
        return _compute((rows,), fn, name=f"keep_r{count[0]}")

    rk = te.reduce_axis((0, depth), "rk")
    squares = _compute(
        (rows,), lambda r: te.sum((x[r, rk].astype(I32) - _c(zp)) * (x[r, rk].astype(I32) - _c(zp)), axis=rk), name="keep_sum"
    )
    big = row(lambda r: fp.select(squares[r] >= _c(1 << 29), _c(1), _c(0)))
    reduced = row(lambda r: squares[r] >> (big[r] * _c(2)))
    pairs = row(lambda r: tirx.floordiv(fp.count_leading_zeros32(reduced[r]) - _c(1), _c(2)) - _c(1))
    value = row(lambda r: reduced[r] << (pairs[r] * _c(2)))
    shift = row(lambda r: _c(11) + big[r] - pairs[r])
    half_input = row(lambda r: fp.rounding_divide_by_pot(value[r] >> _c(1), 1))
    half_three = _c((1 << 28) + (1 << 27))
    xr = row(lambda r: _c(1 << 28))
    for _ in range(5):
        cube = row(lambda r, xr=xr: fp.saturating_mul_by_pot(fp.fp_mul(fp.fp_mul(xr[r], xr[r]), xr[r]), 6))
        xr = row(
            lambda r, xr=xr, cube=cube: fp.saturating_mul_by_pot(
                fp.wrapping_sub(fp.fp_mul(half_three, xr[r]), fp.fp_mul(half_input[r], cube[r])), 3
            )
        )
    scaled = row(lambda r, xr=xr: fp.fp_mul(xr[r], _c(1518500250)))
    mult = row(
        lambda r: fp.select(
            squares[r] <= _c(1),
            _c(fp.INT32_MAX),
            fp.select(shift[r] < _c(0), fp.wrap32(scaled[r].astype(I64) << (-shift[r]).astype(I64)), scaled[r]),
        )
    )
    exponent = row(lambda r: fp.select(squares[r] <= _c(1), _c(0), -tirx.max(shift[r], _c(0))))

    def out(r, k):
        return fp.clamp_to_int8(
            fp.multiply_by_quantized_multiplier(x[r, k].astype(I32) - _c(zp), mult[r], exponent[r] + _c(7))
        )

    return _compute((rows, depth), out, name="out")


# -- data movement ------------------------------------------------------------------------------


@lowering("pad")
def _pad(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    pads = p["pads"]
    in_shape = tuple(int(d) for d in x.shape)
    out_shape = tuple(d + lo + hi for d, (lo, hi) in zip(in_shape, pads))

    def fetch(*idx):
        inside = tirx.all(*[tirx.all(i >= lo, i < lo + d) for i, (lo, _), d in zip(idx, pads, in_shape)])
        src = tuple(tirx.max(tirx.min(i - lo, d - 1), 0) for i, (lo, _), d in zip(idx, pads, in_shape))
        return tirx.if_then_else(inside, x[src], _c(p["value"], I8))

    return _compute(out_shape, fetch, name="out")


@lowering("concat")
def _concat(kb: KernelBuilder, p: dict) -> te.Tensor:
    axis = p["axis"]
    parts = [kb.activation(i) for i in kb.node.inputs]
    out_shape = tuple(kb.graph.tensors[kb.node.outputs[0]].shape)
    starts = np.cumsum([0] + [int(t.shape[axis]) for t in parts])

    def fetch(*idx):
        value = None
        for k in reversed(range(len(parts))):
            src = list(idx)
            size = int(parts[k].shape[axis])
            src[axis] = tirx.max(tirx.min(idx[axis] - int(starts[k]), size - 1), 0)
            v = parts[k][tuple(src)]
            value = v if value is None else tirx.if_then_else(idx[axis] < int(starts[k + 1]), v, value)
        return value

    return _compute(out_shape, fetch, name="out")


@lowering("slice")
def _slice(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    begin, size, strides = p["begin"], p["size"], p["strides"]
    return _compute(tuple(size), lambda *i: x[tuple(b + k * s for b, k, s in zip(begin, i, strides))], name="out")


@lowering("gather")
def _gather(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    axis, indices = p["axis"], p["indices"]
    out_shape = tuple(kb.graph.tensors[kb.node.outputs[0]].shape)
    table = kb.constant("indices", np.asarray(indices, dtype=np.int32))
    return _compute(out_shape, lambda *i: x[tuple(table[k] if a == axis else k for a, k in enumerate(i))], name="out")


@lowering("transpose")
def _transpose(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    perm = tuple(int(a) for a in kb.node.attrs["perm"])
    out_shape = tuple(int(x.shape[a]) for a in perm)

    def fetch(*i):
        src = [None] * len(perm)
        for out_axis, in_axis in enumerate(perm):
            src[in_axis] = i[out_axis]
        return x[tuple(src)]

    return _compute(out_shape, fetch, name="out")


@lowering("depth_to_space")
def _depth_to_space(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    bs, crd = p["block_size"], p["crd"]
    out_shape = tuple(kb.graph.tensors[kb.node.outputs[0]].shape)
    c_out = out_shape[3]

    def fetch(b, y, xx, c):
        dy, dx = y % bs, xx % bs
        ch = c * bs * bs + dy * bs + dx if crd else (dy * bs + dx) * c_out + c
        return x[b, y // bs, xx // bs, ch]

    return _compute(out_shape, fetch, name="out")


@lowering("space_to_depth")
def _space_to_depth(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    bs = p["block_size"]
    c_in = int(x.shape[3])
    out_shape = tuple(kb.graph.tensors[kb.node.outputs[0]].shape)

    def fetch(b, y, xx, c):
        block, ch = c // c_in, c % c_in
        return x[b, y * bs + block // bs, xx * bs + block % bs, ch]

    return _compute(out_shape, fetch, name="out")


@lowering("resize_nearest")
def _resize_nearest(kb: KernelBuilder, p: dict) -> te.Tensor:
    x = kb.activation(kb.node.inputs[0])
    _, h, w, c = (int(d) for d in x.shape)
    oh, ow = p["size"]
    rows = kb.constant("rows", K._nearest_index(h, oh).astype(np.int32))
    cols = kb.constant("cols", K._nearest_index(w, ow).astype(np.int32))
    return _compute((1, oh, ow, c), lambda b, y, xx, ch: x[b, rows[y], cols[xx], ch], name="out")


@lowering("resize_bilinear")
def _resize_bilinear(kb: KernelBuilder, p: dict) -> te.Tensor:
    """10-bit fixed-point source coordinates (precomputed per row and column), 20-bit products."""
    x = kb.activation(kb.node.inputs[0])
    _, h, w, c = (int(d) for d in x.shape)
    oh, ow = p["size"]
    one = 1 << 10
    ys, y0, y1 = K._bilinear_axis(oh, h, p["align_corners"], p["half_pixel_centers"])
    xs, x0, x1 = K._bilinear_axis(ow, w, p["align_corners"], p["half_pixel_centers"])
    rows = kb.constant("rows", np.stack([y0, y1, ys - one * y0]).astype(np.int32))
    cols = kb.constant("cols", np.stack([x0, x1, xs - one * x0]).astype(np.int32))

    def fetch(b, y, xx, ch):
        fy, fx = rows[2, y].astype(I64), cols[2, xx].astype(I64)
        one64 = _c(one, I64)

        def at(r, k):
            return x[b, rows[r, y], cols[k, xx], ch].astype(I64)

        total = (
            at(0, 0) * (one64 - fy) * (one64 - fx)
            + at(1, 0) * fy * (one64 - fx)
            + at(0, 1) * (one64 - fy) * fx
            + at(1, 1) * fy * fx
        )
        nudged = total + fp.select(total > _c(0, I64), _c(1 << 19, I64), _c(-(1 << 19), I64))
        return tirx.truncdiv(nudged, _c(1 << 20, I64)).astype(I8)

    return _compute((1, oh, ow, c), fetch, name="out")


def lower_node(graph: Graph, node: Node, fused: dict | None = None, vnni: bool = False) -> tuple[KernelBuilder, te.Tensor]:
    """Build ``node``'s TE computation; returns the builder (arguments, constants) and the output.

    ``fused`` maps tensors computed earlier in the same kernel to their TE tensors; ``vnni``
    lowers convolutions in the form x86 VNNI schedules tensorize (``_conv2d_vnni``).
    """
    kb = KernelBuilder(graph, node, fused=dict(fused or {}), vnni=vnni)
    params = kernel_params(graph, node) if node.op != "transpose" else {}
    out = LOWERINGS[node.op](kb, params)
    return kb, out


def supported(graph: Graph, node: Node) -> bool:
    if node.op not in LOWERINGS:
        return False
    if node.op == "quantize" and graph.tensors[node.inputs[0]].dtype == "float32":
        return False
    return all(graph.tensors[t].dtype in ("int8", "int32") for t in node.inputs + node.outputs if t)
