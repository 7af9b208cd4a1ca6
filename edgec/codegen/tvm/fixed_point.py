"""Integer fixed-point arithmetic as TIR expressions, bit-exact with ``edgec.reference.int8_kernels``.

Every helper takes and returns ``int32`` PrimExprs (products are formed in
``int64``) and mirrors the numpy function of the same name in the reference:
two's-complement wrap-around where C int32 arithmetic wraps, gemmlowp rounding
where the reference rounds.  Multipliers and shifts may be Python ints (folded
into the code) or ``int32`` expressions (a per-channel table read).

One simplification: ``saturating_rounding_doubling_high_mul`` saturates only
for ``a == b == INT32_MIN``; callers whose ``b`` is a multiplier from
``quantize_multiplier`` (never ``INT32_MIN``) pass ``b_never_min=True`` and
skip the test.
"""

from __future__ import annotations

from tvm import tirx

I8, I16, I32, I64 = "int8", "int16", "int32", "int64"
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def const(value: int, dtype: str = I32):
    return tirx.const(int(value), dtype)


def dtype_of(expr) -> str:
    if hasattr(expr, "asobject"):  # a te.TensorSlice
        expr = expr.asobject()
    return str(expr.ty)


def as_expr(value, dtype: str = I32):
    """A Python int as a constant; an expression cast to ``dtype`` when it is not already."""
    if isinstance(value, int):
        return const(value, dtype)
    if hasattr(value, "asobject"):  # a te.TensorSlice
        value = value.asobject()
    return value if dtype_of(value) == dtype else value.astype(dtype)


_let_counter = [0]
_chains: list[list] = []


def let(value, body):
    """``body(v)`` with ``v`` bound once to ``value``: shared sub-expressions stay shared
    (expression trees would otherwise grow exponentially through nested fixed-point steps).

    Inside ``sequential`` the binding joins the current chain of ``Let``s (each bound in the
    body of the previous one, never inside another binding's value, which TVM's simplifier
    mishandles); outside it, the value is substituted as is.
    """
    if hasattr(value, "asobject"):
        value = value.asobject()
    if isinstance(value, (tirx.IntImm, tirx.Var)) or not _chains:
        return body(value)
    _let_counter[0] += 1
    dtype = dtype_of(value)
    var = tirx.Var(f"t{_let_counter[0]}", dtype)
    # An identity reinterpret hides the value from TVM's bound analysis, which otherwise
    # memorizes a variable's bound in one context and rejects another context's bound.
    _chains[-1].append((var, tirx.call_intrin(dtype, "tirx.reinterpret", value)))
    return body(var)


def sequential(fn):
    """Wrap a TE compute body so that the ``let`` bindings it makes become one chain of ``Let``s."""

    def body(*idx):
        _chains.append([])
        try:
            result = fn(*idx)
            if hasattr(result, "asobject"):
                result = result.asobject()
            for var, value in reversed(_chains[-1]):
                result = tirx.Let(var, value, result)
            return result
        finally:
            _chains.pop()

    return body


def select(cond, a, b):
    return tirx.Select(cond, a, b)


def wrap32(x64):
    """int64 -> int32 keeping the low 32 bits (C's conversion on two's-complement machines)."""
    return x64.astype(I32)


def _int32_value(x):
    """``x`` as one opaque int32 value (an identity reinterpret), so that widening it to int64 stays a
    sign extension of an int32: TVM's simplifier would otherwise widen a sum such as ``acc + bias``
    term by term, and the product of two sign-extended int32 (one ``vpmuldq`` per 8 lanes on x86)
    would become a full 64-bit multiply (``vpmullq``: three micro-ops)."""
    if hasattr(x, "asobject"):
        x = x.asobject()
    if isinstance(x, (tirx.IntImm, tirx.Var)):
        return x
    return tirx.call_intrin(dtype_of(x), "tirx.reinterpret", x)


def srdhm(a, b, b_never_min: bool = False):
    """gemmlowp ``SaturatingRoundingDoublingHighMul``: round(a*b / 2**31) on int32, saturating.

    gemmlowp adds the nudge ``2**30`` (``a*b >= 0``) or ``1 - 2**30`` (below) and divides by
    ``2**31`` truncating.  For ``a*b < 0`` the nudged value is negative, and truncation of a
    negative ``y`` is ``floor((y + 2**31 - 1) / 2**31)`` = ``floor((a*b + 2**30) / 2**31)``; for
    ``a*b >= 0`` that is the plain floor of the same sum.  So one arithmetic shift does it:
    ``(a*b + 2**30) >> 31`` (two int64 lanes of work per value, no branch, no sign test).
    """
    a = as_expr(a)
    b = as_expr(b)
    ab = _int32_value(a).astype(I64) * _int32_value(b).astype(I64)
    high = wrap32((ab + const(1 << 30, I64)) >> const(31, I64))
    if b_never_min:
        return high
    return select(tirx.all(a == const(INT32_MIN), b == const(INT32_MIN)), const(INT32_MAX), high)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp ``RoundingDivideByPOT``: x / 2**exponent, halves away from zero (exponent in 0..31).

    gemmlowp's own int32 form: ``(x >> e) + (x & mask > (mask >> 1) + [x < 0])`` with
    ``mask = 2**e - 1`` (written ``~(-1 << e)``: no signed overflow for any e), so vector code
    stays in int32 lanes.
    """
    x = as_expr(x)
    if isinstance(exponent, int) and exponent == 0:
        return x
    e = const(exponent) if isinstance(exponent, int) else as_expr(exponent)

    def body(xv):
        mask = ~(const(-1) << e)
        threshold = (mask >> const(1)) - (xv >> const(31))
        return (xv >> e) + select((xv & mask) > threshold, const(1), const(0))

    return let(x, body)


def multiply_by_quantized_multiplier(x, mult, shift):
    """TFLite reference ``MultiplyByQuantizedMultiplier``: ``RDBP(SRDHM(x << left, mult), right)``."""
    x = as_expr(x)
    if isinstance(shift, int):
        left, right = max(shift, 0), max(-shift, 0)
        shifted = x if left == 0 else wrap32(x.astype(I64) << const(left, I64))
    else:
        return let(as_expr(shift), lambda sv: rounding_divide_by_pot(
            srdhm(wrap32(x.astype(I64) << tirx.max(sv, const(0)).astype(I64)), mult, b_never_min=True), tirx.max(-sv, const(0))
        ))
    return rounding_divide_by_pot(srdhm(shifted, mult, b_never_min=True), right)


def clamp_to_int8(x, lo: int = -128, hi: int = 127):
    """Clamp an integer expression to ``[lo, hi]`` and narrow it to int8."""
    dtype = dtype_of(x)
    return tirx.max(tirx.min(x, const(hi, dtype)), const(lo, dtype)).astype(I8)


def requantize_acc(acc, mult, shift, output_offset: int, act_min: int = -128, act_max: int = 127):
    """int32 accumulator -> int8: scale, add the output offset, clamp to the activation range."""
    return clamp_to_int8(multiply_by_quantized_multiplier(acc, mult, shift) + const(output_offset), act_min, act_max)


def round_half_away_f64(v):
    """C ``round`` on a float64 expression: nearest integer, halves away from zero."""
    t = tirx.trunc(v)
    frac = v - t
    one = tirx.const(1.0, "float64")
    zero = tirx.const(0.0, "float64")
    sign = select(v > zero, one, select(v < zero, -one, zero))
    return select(tirx.abs(frac) >= tirx.const(0.5, "float64"), t + sign, t)


# -- int16 helpers of hard_swish ----------------------------------------------------------------


def wrap16(x):
    """int32 -> int16 range with two's-complement wrap, kept as int32."""
    return x.astype(I16).astype(I32)


def srdhm16(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` for int16 values (held in int32)."""
    a, b = as_expr(a), as_expr(b)
    ab = a * b
    nudge = select(ab >= const(0), const(1 << 14), const(1 - (1 << 14)))
    high = tirx.truncdiv(ab + nudge, const(1 << 15))
    return select(tirx.all(a == const(-32768), b == const(-32768)), const(32767), high)


def sdhm16(a, b):
    """TFLite ``SaturatingDoublingHighMul`` for int16 (truncating)."""
    a, b = as_expr(a), as_expr(b)
    high = tirx.truncdiv(a * b, const(1 << 15))
    return select(tirx.all(a == const(-32768), b == const(-32768)), const(32767), high)


def saturating_left_shift16(x, amount: int):
    return tirx.max(tirx.min(x * const(1 << amount), const(32767)), const(-32768))


# -- gemmlowp fixed point of softmax --------------------------------------------------------------


def fp_mul(a, b):
    return srdhm(a, b)


def saturating_mul_by_pot(x, exponent: int):
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>`` for int32."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    y = wrap32(x.astype(I64) << const(exponent, I64))
    return select(x > const(threshold), const(INT32_MAX), select(x < const(-threshold), const(INT32_MIN), y))


def wrapping_add(a, b):
    return wrap32(a.astype(I64) + b.astype(I64))


def wrapping_sub(a, b):
    return wrap32(a.astype(I64) - b.astype(I64))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    constant_term = const(1895147668)
    constant_1_over_3 = const(715827883)
    x = wrapping_add(a, const(1 << 28))
    x2 = fp_mul(x, x)
    x3 = fp_mul(x2, x)
    x4 = fp_mul(x2, x2)
    x4_over_4 = saturating_mul_by_pot(x4, -2)
    inner = wrapping_add(fp_mul(wrapping_add(x4_over_4, x3), constant_1_over_3), x2)
    poly = saturating_mul_by_pot(inner, -1)
    return wrapping_add(constant_term, fp_mul(constant_term, wrapping_add(x, poly)))


EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int):
    """gemmlowp ``exp_on_negative_values``: input Q(integer_bits) <= 0, output Q0.31."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod = wrapping_sub(a & const(one_quarter - 1), const(one_quarter))
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_mul_by_pot(a_mod, integer_bits))
    remainder = wrapping_sub(a_mod, a)
    for exponent, multiplier in EXP_BARREL:
        if integer_bits > exponent:
            bit = const(1 << (fractional_bits + exponent)) if fractional_bits + exponent < 31 else const(INT32_MIN)
            result = select((remainder & bit) != const(0), fp_mul(result, const(multiplier)), result)
    if integer_bits > 5:
        result = select(a < const(-(1 << (36 - integer_bits))), const(0), result)
    return select(a == const(0), const(INT32_MAX), result)


def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp Newton-Raphson ``1/(1+x)``, input and output Q0.31."""
    total = a.astype(I64) + const(INT32_MAX, I64)
    half = select(
        total >= const(0, I64),
        tirx.truncdiv(total + const(1, I64), const(2, I64)),
        -tirx.truncdiv(-(total - const(1, I64)), const(2, I64)),
    )
    half_denominator = wrap32(half)
    x = wrapping_add(const(1515870810), fp_mul(half_denominator, const(-1010580540)))
    one_q2 = const(1 << 29)
    for _ in range(3):
        one_minus = wrapping_sub(one_q2, fp_mul(half_denominator, x))
        x = wrapping_add(x, saturating_mul_by_pot(fp_mul(x, one_minus), 2))
    return saturating_mul_by_pot(x, 1)


def count_leading_zeros32(x):
    """Leading zero bits of a 32-bit pattern (32 for 0)."""
    return select(x == const(0), const(32), tirx.clz(x).astype(I32))
