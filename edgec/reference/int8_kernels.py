"""int8 kernels in numpy with explicit integer parameters.

Each function here is the numpy twin of one C kernel in ``runtime/kernels/``:
same name, same integer parameters, same rounding, bit-exact with TFLite's
reference kernels (LiteRT ``OpResolverType.BUILTIN_REF``).  Parameters are the
ones TFLite derives in its ``Prepare`` step (offsets, multipliers, shifts,
activation ranges, lookup tables); ``edgec.reference.qparams`` derives them
from a graph node, and both the reference interpreter and the C code generator
use it.

Conventions (shared with the C kernels):

* activations NHWC int8; ``input_offset = -input_zero_point``,
  ``output_offset = +output_zero_point`` (TFLite's sign convention);
* ``out_mult``/``out_shift``: int32 arrays, one per output channel (a
  per-tensor op passes arrays of length 1 or the scalar repeated); a positive
  shift is a left shift, as in TFLite's ``QuantizeMultiplier``;
* ``pad`` is ``(top, left, bottom, right)``; ``stride``/``dilation``/
  ``kernel`` are ``(h, w)``;
* ``act_min``/``act_max`` are the int8 clamp bounds;
* lookup tables (``logistic``, ``tanh``) have 256 int8 entries indexed by
  ``x + 128``.

Integer arithmetic runs in int64 numpy arrays holding int32 values; where C
would wrap an int32, ``wrap_int32`` does the same.  Convolutions accumulate in
float64 through BLAS, which is exact: every partial sum stays far below 2**53.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
I64 = np.int64


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (what C int32 arithmetic does)."""
    return ((np.asarray(x, dtype=I64) + 2**31) & 0xFFFFFFFF) - 2**31


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """C ``round``/``TfLiteRound``: nearest integer, halves away from zero (exact for float32/64 input)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.trunc(x)
    frac = x - t  # exact for doubles
    return np.where(np.abs(frac) >= 0.5, t + np.sign(x), t)


def _to_int8(x: np.ndarray, lo: int = -128, hi: int = 127) -> np.ndarray:
    return np.clip(x, lo, hi).astype(np.int8)


# -- fixed-point primitives (TFLite / gemmlowp) -------------------------------


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real ~= mult * 2**(shift - 31), mult in [2**30, 2**31)."""
    real = float(real)
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierSmallerThanOneExp``: as above, shift <= 0 (a right shift)."""
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real} is not smaller than one")
    return mult, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierGreaterThanOne``: as above, shift >= 0 (a left shift)."""
    mult, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real} is not greater than one")
    return mult, shift


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 values: round(a*b / 2**31), saturating."""
    a = np.asarray(a, dtype=I64)
    b = np.asarray(b, dtype=I64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))  # C division truncates
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: x / 2**exponent rounded to nearest, halves away from zero."""
    x = np.asarray(x, dtype=I64)
    exponent = np.asarray(exponent, dtype=I64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """TFLite reference ``MultiplyByQuantizedMultiplier`` on int32 accumulators (vectorised).

    Double rounding: ``RoundingDivideByPOT(SRDHM(x * 2**left, mult), right)``.
    """
    shift = np.asarray(shift, dtype=I64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=I64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, mult), right)


def _srdhm16(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` for int16."""
    a = np.asarray(a, dtype=I64)
    b = np.asarray(b, dtype=I64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(nudged >= 0, nudged >> 15, -((-nudged) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, high)


def _sdhm16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """TFLite ``SaturatingDoublingHighMul`` for int16 (truncating, no rounding nudge)."""
    a = np.asarray(a, dtype=I64)
    b = np.asarray(b, dtype=I64)
    ab = a * b
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == -32768) & (b == -32768), 32767, high)


def _saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=I64) * (1 << amount), -32768, 32767)


def _wrap16(x: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, dtype=I64) + 2**15) & 0xFFFF) - 2**15


def _requantize_acc(acc: np.ndarray, out_mult, out_shift, output_offset: int, act_min: int, act_max: int) -> np.ndarray:
    """Scale int32 accumulators (channels last), add the output offset, clamp, cast to int8."""
    mult = np.asarray(out_mult, dtype=I64)
    shift = np.asarray(out_shift, dtype=I64)
    y = multiply_by_quantized_multiplier(acc, mult, shift) + output_offset
    return _to_int8(y, act_min, act_max)


# -- convolutions -------------------------------------------------------------


def _out_size(size: int, kernel: int, stride: int, dilation: int, lo: int, hi: int) -> int:
    return (size + lo + hi - dilation * (kernel - 1) - 1) // stride + 1


def _offset_padded(x: np.ndarray, input_offset: int, pad) -> np.ndarray:
    """float64 ``x + input_offset`` zero-padded spatially: padding contributes nothing, as in TFLite."""
    top, left, bottom, right = pad
    xs = np.asarray(x, dtype=np.float64) + float(input_offset)
    if any(pad):
        xs = np.pad(xs, ((0, 0), (top, bottom), (left, right), (0, 0)))
    return xs


def _patches(xp: np.ndarray, kh: int, kw: int, oh: int, ow: int, stride, dilation) -> np.ndarray:
    """A read-only [N, OH, OW, KH, KW, C] view of the receptive fields."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    sh, sw = stride
    dh, dw = dilation
    return np.lib.stride_tricks.as_strided(
        xp, shape=(n, oh, ow, kh, kw, c), strides=(s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False
    )


def _exact_int(acc: np.ndarray) -> np.ndarray:
    return np.rint(acc).astype(I64)


def conv2d(
    x, w, bias, *, stride, dilation, pad, input_offset, output_offset, out_mult, out_shift, act_min, act_max, groups=1
):
    """x[N,H,W,Ci] int8, w[Co,KH,KW,Ci/groups] int8, bias[Co] int32 or None -> int8[N,OH,OW,Co]."""
    n, h, wd, _ci = x.shape
    co, kh, kw, cig = w.shape
    oh = _out_size(h, kh, stride[0], dilation[0], pad[0], pad[2])
    ow = _out_size(wd, kw, stride[1], dilation[1], pad[1], pad[3])
    xp = _offset_padded(x, input_offset, pad)
    cog = co // groups
    acc = np.empty((n, oh, ow, co), dtype=I64)
    for g in range(groups):
        xg = np.ascontiguousarray(xp[..., g * cig : (g + 1) * cig])
        cols = _patches(xg, kh, kw, oh, ow, stride, dilation).reshape(n * oh * ow, kh * kw * cig)
        wg = w[g * cog : (g + 1) * cog].reshape(cog, kh * kw * cig).astype(np.float64)
        acc[..., g * cog : (g + 1) * cog] = _exact_int(cols @ wg.T).reshape(n, oh, ow, cog)
    if bias is not None:
        acc += np.asarray(bias, dtype=I64)
    return _requantize_acc(acc, out_mult, out_shift, output_offset, act_min, act_max)


def depthwise_conv2d(
    x,
    w,
    bias,
    *,
    stride,
    dilation,
    pad,
    depth_multiplier,
    input_offset,
    output_offset,
    out_mult,
    out_shift,
    act_min,
    act_max,
):
    """x[N,H,W,Ci], w[1,KH,KW,Co] -> int8[N,OH,OW,Co] (TFLite reference_integer_ops::DepthwiseConvPerChannel)."""
    n, h, wd, _ci = x.shape
    _, kh, kw, co = w.shape
    oh = _out_size(h, kh, stride[0], dilation[0], pad[0], pad[2])
    ow = _out_size(wd, kw, stride[1], dilation[1], pad[1], pad[3])
    xp = _offset_padded(x, input_offset, pad)
    if depth_multiplier > 1:
        xp = np.repeat(xp, depth_multiplier, axis=-1)  # output channel c reads input channel c // m
    cols = _patches(xp, kh, kw, oh, ow, stride, dilation)
    wf = w[0].astype(np.float64)
    acc = np.zeros((n, oh, ow, co), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            acc += cols[:, :, :, i, j, :] * wf[i, j]
    acc = _exact_int(acc)
    if bias is not None:
        acc += np.asarray(bias, dtype=I64)
    return _requantize_acc(acc, out_mult, out_shift, output_offset, act_min, act_max)


def depthwise_inplace_first_uses(h, oh, kh, stride_h, dilation_h, pad_top):
    """``{iy: oy0}``: for each input row ``iy`` in ``[0, h)`` that an output row taps, the first
    output row ``oy0`` tapping it (``iy + pad_top == oy0*stride_h + k*dilation_h``, ``k < kh``)."""
    first = {}
    for oy in range(oh):
        for k in range(kh):
            iy = oy * stride_h + k * dilation_h - pad_top
            if 0 <= iy < h and iy not in first:
                first[iy] = oy
    return first


def depthwise_inplace_rows_ok(h, w, oh, ow, kh, stride_h, dilation_h, pad_top):
    """True when the in-place depthwise's row ring never reads a clobbered row: every input row
    ``iy`` (buffer positions ``[iy*W, iy*W + W)`` per channel) starts at or after the outputs
    written before its first use ``oy0`` (positions ``< oy0*OW``): ``iy*W >= oy0*OW``."""
    first = depthwise_inplace_first_uses(h, oh, kh, stride_h, dilation_h, pad_top)
    return all(iy * w >= oy0 * ow for iy, oy0 in first.items())


def depthwise_conv2d_inplace(
    x,
    w,
    bias,
    *,
    stride,
    dilation,
    pad,
    input_offset,
    output_offset,
    out_mult,
    out_shift,
    act_min,
    act_max,
    depth_multiplier=1,
):
    """In-place depthwise conv (C ``edgec_depthwise_conv2d_inplace``), simulated on a flat buffer.

    Same arguments and result as :func:`depthwise_conv2d` with ``depth_multiplier == 1``,
    ``OH*OW <= H*W`` and :func:`depthwise_inplace_rows_ok` (as ``edgec.schedule.arena`` requires
    for in-place depthwise; ``ValueError`` otherwise).  Per image, the flat NHWC input is the
    shared buffer.  For each channel ``c`` and output row ``oy``: the input rows of channel ``c``
    that ``oy`` taps for the first time are gathered from the buffer into a ring of
    ``R = (KH-1)*dilation_h + 1`` padded rows of ``W + left + right`` bytes (padded row ``r`` in
    slot ``r % R``; border columns and out-of-range rows hold the input zero point), then output
    row ``oy`` of channel ``c`` is computed from the ring and written to ``buffer[p*C + c]``; the
    result is ``buffer[:OH*OW*C]``.  Reading the input back from the partly overwritten buffer is
    what makes this a check of the aliasing argument: it equals :func:`depthwise_conv2d` only if
    no row is clobbered before it is copied and the ring never evicts a row still needed.
    """
    if depth_multiplier != 1:
        raise ValueError(f"in-place depthwise needs depth_multiplier 1, got {depth_multiplier}")
    n, h, wd, c = x.shape
    _, kh, kw, co = w.shape
    if co != c:
        raise ValueError(f"weights have {co} channels, input {c}")
    sh, sw = stride
    dh, dw = dilation
    top, left, bottom, right = pad
    oh = _out_size(h, kh, sh, dh, top, bottom)
    ow = _out_size(wd, kw, sw, dw, left, right)
    if oh * ow > h * wd:
        raise ValueError(f"output plane {oh}x{ow} is larger than the input plane {h}x{wd}: cannot run in place")
    ph, pw = h + top + bottom, wd + left + right
    if (oh - 1) * sh + (kh - 1) * dh >= ph or (ow - 1) * sw + (kw - 1) * dw >= pw:
        raise ValueError("the padding does not cover every tap")
    if not depthwise_inplace_rows_ok(h, wd, oh, ow, kh, sh, dh, top):
        raise ValueError(
            f"an input row would be overwritten before its first use ({h}x{wd} -> {oh}x{ow}, "
            f"kernel_h {kh}, stride_h {sh}, dilation_h {dh}, pad_top {top}): cannot run in place"
        )
    ring_rows = (kh - 1) * dh + 1
    mult = np.broadcast_to(np.asarray(out_mult, dtype=I64).reshape(-1), (c,))
    shift = np.broadcast_to(np.asarray(out_shift, dtype=I64).reshape(-1), (c,))
    out = np.empty((n, oh, ow, c), dtype=np.int8)
    cols = np.arange(ow) * sw
    for b in range(n):
        buffer = np.asarray(x[b], dtype=np.int8).reshape(-1).copy()  # the shared arena bytes
        ring = np.full((ring_rows, pw), -input_offset, dtype=np.int8)  # scratch: zero-point border
        for ch in range(c):
            copied = set()  # padded rows of channel ch already gathered into the ring
            for oy in range(oh):
                rows = [oy * sh + k * dh for k in range(kh)]
                for r in rows:
                    if r in copied:
                        continue
                    copied.add(r)
                    iy = r - top
                    if 0 <= iy < h:
                        ring[r % ring_rows, left : left + wd] = buffer[iy * wd * c + ch : (iy + 1) * wd * c : c]
                    else:
                        ring[r % ring_rows, left : left + wd] = -input_offset
                acc = np.full(ow, int(bias[ch]) if bias is not None else 0, dtype=I64)
                for i, r in enumerate(rows):
                    row = ring[r % ring_rows]
                    for j in range(kw):
                        acc += int(w[0, i, j, ch]) * (row[cols + j * dw].astype(I64) + input_offset)
                y = _requantize_acc(acc, mult[ch], shift[ch], output_offset, act_min, act_max)
                buffer[oy * ow * c + ch : (oy + 1) * ow * c : c] = y
        out[b] = buffer[: oh * ow * c].reshape(oh, ow, c)
    return out


def fully_connected(x, w, bias, *, input_offset, output_offset, out_scale, act_min, act_max):
    """x[B,K], w[Co,K] -> int8[B,Co] (TFLite ``reference_integer_ops::FullyConnected[PerChannel]``).

    Unlike conv, BUILTIN_REF's int8 FULLY_CONNECTED does not use the fixed-point
    multiplier: it rescales in double, ``round(double(acc) * out_scale[c])``
    (C ``round``, halves away from zero), with ``out_scale[c] = double(s_in) *
    double(s_w[c]) / double(s_out)`` from ``qparams``.  Per-tensor weights pass
    one scale repeated.
    """
    k = w.shape[1]
    xs = np.asarray(x, dtype=np.float64).reshape(-1, k) + float(input_offset)
    acc = _exact_int(xs @ w.astype(np.float64).T)
    if bias is not None:
        acc += np.asarray(bias, dtype=I64)
    acc = wrap_int32(acc)
    scaled = round_half_away(acc.astype(np.float64) * np.asarray(out_scale, dtype=np.float64))
    y = np.clip(scaled, -(2**31), 2**31 - 1).astype(I64) + output_offset
    return _to_int8(y, act_min, act_max)


# -- elementwise arithmetic ---------------------------------------------------


def add(
    a,
    b,
    *,
    a_offset,
    a_mult,
    a_shift,
    b_offset,
    b_mult,
    b_shift,
    left_shift,
    output_offset,
    out_mult,
    out_shift,
    act_min,
    act_max,
):
    """Broadcasting int8 add (TFLite reference_integer_ops::Add / BroadcastAdd); sub = add with b_mult negated."""
    a_val = (np.asarray(a, dtype=I64) + a_offset) << left_shift
    b_val = (np.asarray(b, dtype=I64) + b_offset) << left_shift
    a_scaled = multiply_by_quantized_multiplier(a_val, a_mult, a_shift)
    b_scaled = multiply_by_quantized_multiplier(b_val, b_mult, b_shift)
    raw_sum = wrap_int32(a_scaled + b_scaled)
    y = multiply_by_quantized_multiplier(raw_sum, out_mult, out_shift) + output_offset
    return _to_int8(y, act_min, act_max)


def mul(a, b, *, a_offset, b_offset, output_offset, out_mult, out_shift, act_min, act_max):
    """Broadcasting int8 mul (reference_integer_ops::Mul)."""
    prod = (np.asarray(a, dtype=I64) + a_offset) * (np.asarray(b, dtype=I64) + b_offset)
    y = multiply_by_quantized_multiplier(prod, out_mult, out_shift) + output_offset
    return _to_int8(y, act_min, act_max)


# -- pooling and reductions ---------------------------------------------------


def _pool_windows(x: np.ndarray, kernel, stride, pad, fill: float) -> np.ndarray:
    _n, h, w, _c = x.shape
    kh, kw = kernel
    oh = _out_size(h, kh, stride[0], 1, pad[0], pad[2])
    ow = _out_size(w, kw, stride[1], 1, pad[1], pad[3])
    top, left, bottom, right = pad
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    return _patches(xp, kh, kw, oh, ow, stride, (1, 1))


def max_pool2d(x, *, kernel, stride, pad, act_min, act_max):
    """Max over the in-bounds window (padding never wins), then the activation clamp."""
    win = _pool_windows(np.asarray(x, dtype=I64), kernel, stride, pad, fill=-(2**40))
    return _to_int8(win.max(axis=(3, 4)), act_min, act_max)


def avg_pool2d(x, *, kernel, stride, pad, act_min, act_max):
    """Average over the in-bounds window only, rounded half away from zero (TFLite)."""
    xi = np.asarray(x, dtype=I64)
    total = _pool_windows(xi, kernel, stride, pad, fill=0).sum(axis=(3, 4))
    ones = np.ones(xi.shape[:3] + (1,), dtype=I64)
    count = _pool_windows(ones, kernel, stride, pad, fill=0).sum(axis=(3, 4))
    half = count // 2
    avg = np.where(total > 0, (total + half) // count, -((-(total - half)) // count))
    return _to_int8(avg, act_min, act_max)


def mean(x, *, axes, input_offset, output_offset, mult, shift):
    """int8 mean over ``axes`` (keepdims) as TFLite's reference MEAN computes it.

    ``reference_ops::QuantizedMeanOrSum``: int32 sums, ``sum + input_offset * n``,
    then one ``MultiplyByQuantizedMultiplier`` whose multiplier already folds in
    ``1/n`` (``qparams.mean_multiplier`` does that fold exactly as TFLite).
    """
    xi = np.asarray(x, dtype=I64)
    axes = tuple(a % xi.ndim for a in axes)
    n = math.prod(xi.shape[a] for a in axes)
    total = wrap_int32(xi.sum(axis=axes, keepdims=True) + input_offset * n)
    y = multiply_by_quantized_multiplier(total, mult, shift) + output_offset
    return _to_int8(y)


def reduce_max(x, *, axes):
    """int8 maximum over ``axes`` (keepdims) of the raw values (TFLite REDUCE_MAX: input and output share quantization)."""
    xi = np.asarray(x, dtype=np.int8)
    return np.max(xi, axis=tuple(a % xi.ndim for a in axes), keepdims=True)


def requantize(x, *, input_offset, output_offset, mult, shift):
    """int8 -> int8 with new scale/zero point (TFLite QUANTIZE int8->int8)."""
    y = multiply_by_quantized_multiplier(np.asarray(x, dtype=I64) + input_offset, mult, shift) + output_offset
    return _to_int8(y)


# -- softmax (gemmlowp fixed point, reference_ops::Softmax) -------------------


def _fp_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    return saturating_rounding_doubling_high_mul(a, b)


def _saturating_mul_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>`` for int32."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    y = wrap_int32(x << exponent)
    y = np.where(x > threshold, INT32_MAX, y)
    return np.where(x < -threshold, INT32_MIN, y)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0) in Q0.31 (Taylor series around -1/8)."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = wrap_int32(a + (1 << 28))
    x2 = _fp_mul(x, x)
    x3 = _fp_mul(x2, x)
    x4 = _fp_mul(x2, x2)
    x4_over_4 = _saturating_mul_by_pot(x4, -2)
    inner = wrap_int32(_fp_mul(wrap_int32(x4_over_4 + x3), constant_1_over_3) + x2)
    poly = _saturating_mul_by_pot(inner, -1)
    return wrap_int32(constant_term + _fp_mul(constant_term, wrap_int32(x + poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``exp_on_negative_values``: input Q(integer_bits).(31-integer_bits) <= 0, output Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap_int32((a & mask) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        _saturating_mul_by_pot(a_mod_quarter_minus_one_quarter, integer_bits)
    )
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where((remainder & bit) != 0, _fp_mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp Newton-Raphson 1/(1+x), input and output Q0.31."""
    total = a + INT32_MAX  # RoundingHalfSum(a, One)
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))
    x = wrap_int32(1515870810 + _fp_mul(half_denominator, -1010580540))  # Q2.29: 48/17 - 32/17 * d
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = _fp_mul(half_denominator, x)
        one_minus = wrap_int32(one_q2 - half_denominator_times_x)
        x = wrap_int32(x + _saturating_mul_by_pot(_fp_mul(x, one_minus), 2))
    return _saturating_mul_by_pot(x, 1)


def _count_leading_zeros32(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=I64) & 0xFFFFFFFF
    bits = np.zeros_like(x)
    nz = x > 0
    bits[nz] = np.floor(np.log2(x[nz].astype(np.float64))).astype(I64) + 1
    # log2 of values just below a power of two can round up; correct it exactly
    too_big = nz & ((np.int64(1) << (bits - 1)) > x)
    bits[too_big] -= 1
    return 32 - bits


def softmax(x, *, input_beta_multiplier, input_beta_left_shift, diff_min):
    """int8 softmax over the last axis; output scale 1/256, zero point -128."""
    scaled_diff_integer_bits = 5
    accumulation_integer_bits = 12
    xi = np.asarray(x, dtype=I64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    valid = diff >= diff_min
    rescaled = saturating_rounding_doubling_high_mul(wrap_int32(diff << input_beta_left_shift), input_beta_multiplier)
    exps = exp_on_negative_values(np.where(valid, rescaled, 0), scaled_diff_integer_bits)
    sum_of_exps = wrap_int32(
        np.where(valid, rounding_divide_by_pot(exps, accumulation_integer_bits), 0).sum(axis=-1, keepdims=True)
    )
    headroom_plus_one = _count_leading_zeros32(sum_of_exps)
    num_bits_over_unit = accumulation_integer_bits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((sum_of_exps << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    unsat = rounding_divide_by_pot(_fp_mul(shifted_scale, exps), num_bits_over_unit + 31 - 8)
    y = np.where(valid, unsat - 128, -128)
    return _to_int8(y)


# -- lookup-table activations ------------------------------------------------


def lookup_table(x, *, table):
    """int8 -> int8 through a 256-entry table indexed by ``x + 128``."""
    return np.asarray(table, dtype=np.int8)[np.asarray(x, dtype=I64) + 128]


def logistic(x, *, table):
    """int8 logistic (BUILTIN_REF uses a table filled in float by ``LUTPopulate``; see qparams)."""
    return lookup_table(x, table=table)


def tanh(x, *, table):
    """int8 tanh (BUILTIN_REF uses a table filled in float by ``LUTPopulate``; see qparams)."""
    return lookup_table(x, table=table)


# -- other activations --------------------------------------------------------


def hard_swish(
    x,
    *,
    input_zero_point,
    output_zero_point,
    reluish_multiplier_fixedpoint_int16,
    reluish_multiplier_exponent,
    output_multiplier_fixedpoint_int16,
    output_multiplier_exponent,
):
    """int8 hard-swish (reference_ops::HardSwish with HardSwishParams, int16 fixed point)."""
    input_value = np.asarray(x, dtype=I64) - input_zero_point
    hires = _wrap16(input_value * 128)
    preshift_output = _srdhm16(hires, output_multiplier_fixedpoint_int16)
    reluish = hires
    if reluish_multiplier_exponent > 0:
        reluish = _saturating_left_shift16(reluish, reluish_multiplier_exponent - 1)
    reluish = _srdhm16(reluish, reluish_multiplier_fixedpoint_int16)
    if reluish_multiplier_exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if reluish_multiplier_exponent < 0:
        reluish = rounding_divide_by_pot(reluish, -reluish_multiplier_exponent)
    reluish = (reluish + (1 << 15)) >> 1
    preshift = _sdhm16(reluish, preshift_output)
    out = rounding_divide_by_pot(preshift, -output_multiplier_exponent)
    out = _wrap16(out + output_zero_point)
    return _to_int8(out)


def relu(x, *, input_offset, output_offset, out_mult, out_shift, act_min, act_max):
    """int8 RELU / RELU6 / RELU_N1_TO_1 / clip (TFLite ``QuantizedReluX``: rescale, then clamp)."""
    y = multiply_by_quantized_multiplier(np.asarray(x, dtype=I64) + input_offset, out_mult, out_shift)
    return _to_int8(y + output_offset, act_min, act_max)


def leaky_relu(x, *, input_offset, output_offset, identity_mult, identity_shift, alpha_mult, alpha_shift):
    """int8 LEAKY_RELU (reference_ops::QuantizeLeakyRelu)."""
    v = np.asarray(x, dtype=I64) + input_offset
    pos = multiply_by_quantized_multiplier(v, identity_mult, identity_shift)
    neg = multiply_by_quantized_multiplier(v, alpha_mult, alpha_shift)
    return _to_int8(np.where(v >= 0, pos, neg) + output_offset)


# -- data movement -------------------------------------------------------------


def pad(x, *, pads, value):
    """Constant pad; ``pads`` is ((before, after), ...) per dim, ``value`` an int8."""
    return np.pad(np.asarray(x, dtype=np.int8), [tuple(p) for p in pads], constant_values=np.int8(value))


def concat(xs, *, axis):
    """Concatenation of int8 tensors that share quantization parameters."""
    return np.concatenate([np.asarray(x, dtype=np.int8) for x in xs], axis=axis)


def resize_nearest(x, *, size):
    """Nearest-neighbour resize, asymmetric coordinates, floor (TFLite default flags)."""
    _, h, w, _ = x.shape
    oh, ow = size
    rows = _nearest_index(h, oh)
    cols = _nearest_index(w, ow)
    return np.asarray(x)[:, rows][:, :, cols]


def _nearest_index(in_size: int, out_size: int) -> np.ndarray:
    """TFLite ``GetNearestNeighbor`` without align_corners/half_pixel_centers (float32 scale)."""
    scale = np.float32(in_size) / np.float32(out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(I64)
    return np.minimum(idx, in_size - 1)


def strided_slice(x, *, begin, size, strides):
    """Elements ``begin + i * stride`` (``i < size``, stride may be < 0) of every dim: TFLite
    SLICE/STRIDED_SLICE/SPLIT copy int8 values as they are."""
    index = tuple(np.arange(k) * st + b for b, k, st in zip(begin, size, strides))
    index = np.ix_(*index)
    return np.ascontiguousarray(np.asarray(x, dtype=np.int8)[index])


def gather(x, *, axis, indices):
    """Elements ``indices`` along ``axis`` (TFLite GATHER copies int8 values as they are)."""
    return np.take(np.asarray(x, dtype=np.int8), list(indices), axis=axis)


def maximum(a, b):
    """Broadcasting int8 maximum of the raw values (TFLite MAXIMUM: inputs and output share quantization)."""
    return np.maximum(np.asarray(a, dtype=np.int8), np.asarray(b, dtype=np.int8))


def minimum(a, b):
    """Broadcasting int8 minimum of the raw values (TFLite MINIMUM: inputs and output share quantization)."""
    return np.minimum(np.asarray(a, dtype=np.int8), np.asarray(b, dtype=np.int8))


# -- transposed convolution, prelu, bilinear resize ---------------------------


def transpose_conv2d(
    x, w, bias, *, stride, dilation, pad, input_offset, output_offset, out_mult, out_shift, act_min, act_max
):
    """x[N,H,W,Ci], w[Co,KH,KW,Ci] -> int8[N,OH,OW,Co] (reference_integer_ops::TransposeConv).

    Each input pixel ``(x + input_offset)`` is scattered through tap ``(ky, kx)`` to output pixel
    ``(iy*sh + ky*dh - top, ix*sw + kx*dw - left)``; taps landing outside the output are dropped.
    The int32 sums get the bias and the per-channel requantization of conv.  ``pad`` is
    ``(top, left, bottom, right)``; negative bottom/right extend the output past the last tap.
    """
    n, h, wd, _ = x.shape
    co, kh, kw, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    top, left, bottom, right = pad
    oh = (h - 1) * sh + (kh - 1) * dh + 1 - top - bottom
    ow = (wd - 1) * sw + (kw - 1) * dw + 1 - left - right
    rows = max((h - 1) * sh + (kh - 1) * dh + 1, top + oh)
    cols = max((wd - 1) * sw + (kw - 1) * dw + 1, left + ow)
    xs = np.asarray(x, dtype=np.float64) + float(input_offset)
    full = np.zeros((n, rows, cols, co), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            contrib = xs.reshape(-1, xs.shape[-1]) @ w[:, i, j, :].astype(np.float64).T
            full[:, i * dh : i * dh + sh * (h - 1) + 1 : sh, j * dw : j * dw + sw * (wd - 1) + 1 : sw, :] += (
                contrib.reshape(n, h, wd, co)
            )
    acc = _exact_int(full[:, top : top + oh, left : left + ow, :])
    if bias is not None:
        acc += np.asarray(bias, dtype=I64)
    return _requantize_acc(acc, out_mult, out_shift, output_offset, act_min, act_max)


def prelu(
    x, alpha, *, input_offset, alpha_offset, output_offset, identity_mult, identity_shift, alpha_mult, alpha_shift
):
    """int8 PRELU (reference_ops::BroadcastPrelu4DSlow): ``alpha`` broadcasts to ``x``.

    ``v = x + input_offset``; ``v >= 0``: ``MBQM(v, identity)``; else
    ``MBQM(v * (alpha + alpha_offset), alpha)``; plus the output offset, clamped.
    """
    v = np.asarray(x, dtype=I64) + input_offset
    a = np.asarray(alpha, dtype=I64) + alpha_offset
    pos = multiply_by_quantized_multiplier(v, identity_mult, identity_shift)
    neg = multiply_by_quantized_multiplier(v * a, alpha_mult, alpha_shift)
    return _to_int8(np.where(v >= 0, pos, neg) + output_offset)


def _bilinear_axis(out_size: int, in_size: int, align_corners: bool, half_pixel_centers: bool):
    """TFLite ``ComputeInterpolationValuesInteger`` for every output index: (scaled 10-bit source, lo, hi)."""
    scale_10 = ((1 << 10) * in_size + out_size // 2) // out_size
    if align_corners and out_size > 1:
        scale_10 = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    dst = np.arange(out_size, dtype=I64)
    if half_pixel_centers:
        scaled = dst * scale_10 + scale_10 // 2 - (1 << 9)
    else:
        scaled = dst * scale_10
    lo = np.maximum(_c_div(scaled, 1 << 10), 0)
    hi = np.minimum(_c_div(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
    return scaled, lo, hi


def _c_div(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (truncates toward zero)."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def resize_bilinear(x, *, size, align_corners, half_pixel_centers):
    """int8 bilinear resize (reference_ops::ResizeBilinearInteger): 10-bit fixed-point source
    coordinates, products in 20 bits, rounded half away from zero."""
    xi = np.asarray(x, dtype=I64)
    _, h, w, _ = xi.shape
    oh, ow = size
    ys, y0, y1 = _bilinear_axis(oh, h, align_corners, half_pixel_centers)
    xs, x0, x1 = _bilinear_axis(ow, w, align_corners, half_pixel_centers)
    one = 1 << 10
    fy = (ys - one * y0)[None, :, None, None]
    fx = (xs - one * x0)[None, None, :, None]
    top = xi[:, y0]
    bottom = xi[:, y1]
    total = (
        top[:, :, x0] * (one - fy) * (one - fx)
        + bottom[:, :, x0] * fy * (one - fx)
        + top[:, :, x1] * (one - fy) * fx
        + bottom[:, :, x1] * fy * fx
    )
    rounded = _c_div(total + np.where(total > 0, 1 << 19, -(1 << 19)), 1 << 20)
    return rounded.astype(np.int8)


def depth_to_space(x, *, block_size, crd):
    """int8 DEPTH_TO_SPACE (a permutation, TFLite reference_ops::DepthToSpace for DCR); ``crd``
    takes PyTorch PixelShuffle's channel order instead."""
    from edgec.reference.float_ops import depth_to_space_nhwc

    return depth_to_space_nhwc(np.asarray(x, dtype=np.int8), block_size, "CRD" if crd else "DCR")


def space_to_depth(x, *, block_size):
    """int8 SPACE_TO_DEPTH (a permutation, TFLite reference_ops::SpaceToDepth)."""
    from edgec.reference.float_ops import space_to_depth_nhwc

    return space_to_depth_nhwc(np.asarray(x, dtype=np.int8), block_size)


# -- squared difference, inverse square roots ---------------------------------


def squared_difference(
    a, b, *, a_offset, a_mult, a_shift, b_offset, b_mult, b_shift, left_shift, output_offset, out_mult, out_shift
):
    """Broadcasting int8 SQUARED_DIFFERENCE (reference_ops SquaredDifference, quantized):
    both inputs rescaled to a common scale with ``left_shift`` (7) bits of headroom, the
    difference squared in int32, then requantized."""
    a_val = (np.asarray(a, dtype=I64) + a_offset) << left_shift
    b_val = (np.asarray(b, dtype=I64) + b_offset) << left_shift
    diff = multiply_by_quantized_multiplier(a_val, a_mult, a_shift) - multiply_by_quantized_multiplier(
        b_val, b_mult, b_shift
    )
    y = multiply_by_quantized_multiplier(wrap_int32(diff * diff), out_mult, out_shift) + output_offset
    return _to_int8(y)


def inv_sqrt_multiplier_exp(value: int) -> tuple[int, int]:
    """TFLite ``GetInvSqrtQuantizedMultiplierExp(value, kReverseShift=-1)``: ``1/sqrt(value)`` as a
    multiplier/shift pair for ``MultiplyByQuantizedMultiplier`` (gemmlowp Newton-Raphson in Q3.28)."""
    value = int(value)
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    pairs = ((32 - value.bit_length()) - 1) // 2 - 1  # leading-zero bit pairs to shift away, minus one
    shift -= pairs
    value <<= 2 * pairs
    half_input = int(rounding_divide_by_pot(value >> 1, 1))  # Q3.28 x/2
    half_three = (1 << 28) + (1 << 27)  # 1.5 in Q3.28
    x = 1 << 28  # 1.0 in Q3.28
    for _ in range(5):
        x3 = int(_saturating_mul_by_pot(_fp_mul(_fp_mul(x, x), x), 6))  # Q9 -> Q3
        t = int(wrap_int32(_fp_mul(half_three, x) - _fp_mul(half_input, x3)))  # Q6
        x = int(_saturating_mul_by_pot(np.int64(t), 3))  # Q6 -> Q3
    x = int(_fp_mul(x, 1518500250))  # times sqrt(2)/2 (Q0.31)
    if shift < 0:
        x = int(wrap_int32(x << -shift))
        shift = 0
    return x, -shift


def rsqrt_table(input_zero_point: int, output_zero_point: int, mult: int, shift: int) -> np.ndarray:
    """The int8 RSQRT of every int8 input (TFLite ``RsqrtEvalQuantized`` is a pure function of it):
    ``table[q + 128]``.  Inputs below the zero point (negative reals, which LiteRT refuses) and the
    zero point itself give 127."""
    k_shift = 20
    table = np.full(256, 127, dtype=np.int8)
    for q in range(-128, 128):
        value = q - input_zero_point
        if value <= 0:
            continue
        inv_mult, inv_shift = inv_sqrt_multiplier_exp(value)
        data = multiply_by_quantized_multiplier(1, inv_mult, inv_shift + k_shift)
        out = multiply_by_quantized_multiplier(data, mult, shift - k_shift) + output_zero_point
        table[q + 128] = int(np.clip(out, -128, 127))
    return table


def rsqrt(x, *, table):
    """int8 RSQRT through its 256-entry table (see :func:`rsqrt_table`)."""
    return lookup_table(x, table=table)


def l2_normalization(x, *, input_zero_point):
    """int8 L2_NORMALIZATION over the last axis (reference_integer_ops::L2Normalization): output
    scale 1/128, zero point 0."""
    xi = np.asarray(x, dtype=I64) - input_zero_point
    rows = xi.reshape(-1, xi.shape[-1])
    out = np.empty(rows.shape, dtype=np.int8)
    for r, row in enumerate(rows):
        mult, shift = inv_sqrt_multiplier_exp(int(wrap_int32(np.sum(row * row))))
        out[r] = _to_int8(multiply_by_quantized_multiplier(row, mult, shift + 7))
    return out.reshape(xi.shape)


# -- float <-> int8 -----------------------------------------------------------


def quantize(x, *, scale, zero_point):
    """float32 -> int8 (reference_ops::AffineQuantize: round(x / scale) in float32, half away from zero)."""
    q = np.asarray(x, dtype=np.float32) / np.float32(scale)
    return _to_int8(round_half_away(q).astype(I64) + zero_point)


def dequantize(x, *, scale, zero_point):
    """int8 -> float32 (reference_ops::Dequantize: double scale * (q - zp), cast to float)."""
    return (np.float64(np.float32(scale)) * (np.asarray(x, dtype=I64) - zero_point)).astype(np.float32)
