"""The requantization of a right-shifted accumulator as one vector routine for x86 (AVX-512).

The reference scales an int32 ``x`` (accumulator + bias) by ``mult / 2**(31 + e)``
in two roundings: ``h = SRDHM(x, mult)`` (``(x*mult + 2**30) >> 31`` in int64,
``fixed_point.srdhm``) and then ``RoundingDivideByPOT(h, e)`` (halves away from
zero).  Written per element in TE, LLVM vectorizes that into 27 AVX-512
instructions per 16 values, 6 of them int32 <-> int64 lane moves around the two
``vpmuldq``.  ``edgec.requant_right(x, mult, e)`` is one TIR op for the whole
step; TVM's ``LowerIntrin`` (any target) expands it after vectorization
(``expand``), so a 16-lane call becomes the hand-written form below and a scalar
call the plain int64 expression.

**One rounding.** For ``1 <= e <= 31`` and ``0 <= mult < 2**31`` the two
roundings are one (every step is a floor, and ``floor(floor(a / 2**31) / 2**e)
= floor(a / 2**(31 + e))``)::

    RDBP(SRDHM(x, mult), e) = (p + 2**30 + 2**(30 + e) - [p < 0] * 2**31) >> (31 + e),  p = x * mult

RDBP rounds ``h`` to ``floor((h + 2**(e-1) - [h < 0]) / 2**e)``; ``[h < 0]``
(``p < -2**30``) may be replaced by ``[p < 0]``: for ``-2**30 <= p < 0`` both
forms give 0 when ``e >= 1``.  ``h`` never saturates (``mult`` is never
``INT32_MIN``) and fits int32, so the low 32 bits of the int64 result are the
reference's int32.

**Even and odd lanes.** ``vpmuldq`` multiplies the even int32 lanes of two
vectors into int64 lanes.  The int32 vector is viewed as int64 lanes
(``reinterpret``): the even values are each lane's sign-extended low half; the
odd values are moved into the low halves by one in-lane shuffle (``vpshufd``;
the per-channel multipliers' odd halves by a shift, once per channel block),
so each half is one ``vpmuldq`` with no widening; after the rounding shift one
lane permute merges the odd results with the even ones.  Scaling and rounding
16 values take 12 instructions where the per-element TE form took 19.

``edgec.saturate_int8`` narrows to int8 with signed saturation (one
``vpmovsdb`` per 16 values).  ``tests/test_tvm_requant.py`` checks both ops
against the reference (scalar, 8 and 16 lanes, with bias and offset).
"""

from __future__ import annotations

OP_NAME = "edgec.requant_right"
SATURATE_NAME = "edgec.saturate_int8"
MAX_EXPONENT = 31
MAX_OFFSET_EXPONENT = 22  # offset * 2**(31 + e) and the rest of the int64 sum stay below 2**63
_registered = [False]
_PMOVS = {16: "llvm.x86.avx512.mask.pmovs.db.512"}  # (the 8-lane form returns 16 bytes: LLVM's clamp there)


def register() -> None:
    """Register the ops and their expansions (once per process; idempotent)."""
    if _registered[0]:
        return
    import tvm
    from tvm import tirx

    for name, fn in ((OP_NAME, expand), (SATURATE_NAME, expand_saturate)):
        tvm.ir.register_op_attr(name, "TCallEffectKind", int(tirx.CallEffectKind.Pure.value))
        tvm.ir.register_op_attr(name, "TVectorizable", True)
        tvm.ir.register_op_attr(name, "TScriptPrinterName", name.replace(".", "_"))
        tirx.op.register_intrin_lowering(name, "default", f=fn, level=99)
    _registered[0] = True


def saturate_int8(x):
    """``x`` (int32) clamped to [-128, 127] and narrowed to int8, as one op: 16 lanes become one
    ``vpmovsdb`` (signed saturation), where LLVM's own lowering of the clamp took a max, an unsigned
    saturating narrow and an xor (the output offset folded in)."""
    from tvm import tirx

    register()
    return tirx.call_intrin("int8", SATURATE_NAME, x)


def expand_saturate(call):
    from tvm import tirx

    (x,) = call.args
    lanes = _lanes(call)
    if lanes in _PMOVS:
        return tirx.call_llvm_pure_intrin(f"int8x{lanes}", _PMOVS[lanes], x, _const(0, "int8", lanes), tirx.const(-1, "int16"))
    clamped = tirx.max(tirx.min(x, _const(127, "int32", lanes)), _const(-128, "int32", lanes))
    return clamped.astype("int8" if lanes == 1 else f"int8x{lanes}")


def usable(mults, exponents) -> bool:
    """Whether ``requant_right`` computes the reference for these multipliers and right exponents."""
    import numpy as np

    m, e = np.asarray(mults).reshape(-1), np.asarray(exponents).reshape(-1)
    return bool(m.size and e.size and m.min() >= 0 and m.max() < 2**31 and e.min() >= 1 and e.max() <= MAX_EXPONENT)


def requant_right(x, mult, exponent, bias=None, offset: int = 0):
    """``RDBP(SRDHM(x, mult), exponent) + offset`` as one op (int32 PrimExprs; see ``usable`` for
    the domain; a non-zero ``offset`` also needs ``exponent <= MAX_OFFSET_EXPONENT``).

    With ``bias``: ``RDBP(SRDHM(x + bias, mult), exponent)`` where the caller knows that ``x + bias``
    does not wrap around in int32: the product is then ``x * mult + bias * mult``, the second term
    per channel (computed once per channel block, outside the pixel loop), and the int32 add of the
    bias to every accumulator is gone.  The ``offset`` joins the rounding constant as
    ``offset * 2**(31 + e)`` (exact: a floor plus an integer), so it costs no add per value either."""
    from tvm import tirx

    register()
    bias = tirx.const(0, "int32") if bias is None else bias
    return tirx.call_intrin("int32", OP_NAME, x, mult, exponent, bias, tirx.const(int(offset), "int32"))


def expand(call):
    """The op as plain TIR: scalar int64 arithmetic, or the even/odd form for an even lane count."""
    x, mult, exponent, bias, offset = call.args
    lanes = _lanes(call)
    if lanes == 1 or lanes % 2:
        return _plain(x, mult, exponent, bias, offset, lanes)
    return _even_odd(x, mult, exponent, bias, offset, lanes)


def _lanes(expr) -> int:
    dtype = str(expr.ty) if hasattr(expr, "ty") else str(expr.dtype)
    return int(dtype.split("x")[1]) if "x" in dtype else 1


def _const(value: int, dtype: str, lanes: int):
    from tvm import tirx

    c = tirx.const(value, dtype)
    return c if lanes == 1 else tirx.Broadcast(c, lanes)


def _rounded(p, e64, lanes: int, c, offset64):
    """``(q + 2**30 + 2**(30 + e) + offset * 2**(31 + e) - [q < -2**30] * 2**31) >> (31 + e)`` on
    int64 lanes, ``q = p + c`` (``c`` per channel), written so that ``c`` and the offset join the
    per-channel constants."""
    from tvm import tirx

    one, zero = _const(1, "int64", lanes), _const(0, "int64", lanes)
    nudge = _const(1 << 30, "int64", lanes) + (one << (e64 + _const(30, "int64", lanes)))
    nudge = nudge + (offset64 << (e64 + _const(31, "int64", lanes))) + c
    threshold = _const(-(1 << 30), "int64", lanes) - c
    # [h < 0] as q < -2**30: a compare with a constant (vpcmpq, port 5 on Intel cores) where a
    # sign test of q (q < 0, equally exact) became vpmovq2m (port 0, with the multiplies and shifts)
    sign = tirx.Select(p < threshold, _const(-(1 << 31), "int64", lanes), zero)
    return (p + nudge + sign) >> (e64 + _const(31, "int64", lanes))


def _plain(x, mult, exponent, bias, offset, lanes: int):
    i64 = "int64" if lanes == 1 else f"int64x{lanes}"
    i32 = "int32" if lanes == 1 else f"int32x{lanes}"
    p = x.astype(i64) * mult.astype(i64)
    c = bias.astype(i64) * mult.astype(i64)
    return _rounded(p, exponent.astype(i64), lanes, c, offset.astype(i64)).astype(i32)


def _even_odd(x, mult, exponent, bias, offset, lanes: int):
    from tvm import tirx

    half = lanes // 2
    i64, i32 = f"int64x{half}", f"int32x{lanes}"

    def wide(v):
        return tirx.call_intrin(i64, "tirx.reinterpret", v)

    thirty_two = _const(32, "int64", half)
    low_mask = _const(0xFFFFFFFF, "int64", half)

    def even(v):  # each int64 lane's low int32, sign-extended
        return (v << thirty_two) >> thirty_two

    def odd(v):  # its high int32, sign-extended
        return v >> thirty_two

    # the odd values moved to the even positions by a shuffle (vpshufd, port 5) rather than a shift
    # (port 0, which the multiplies and shifts need)
    x_odd = tirx.Shuffle([x], [i | 1 for i in range(lanes)])
    xw, mw, ew, bw, ow = wide(x), wide(mult), wide(exponent), wide(bias), wide(offset)
    low = _rounded(even(xw) * even(mw), ew & low_mask, half, even(bw) * even(mw), even(ow))
    high = _rounded(even(wide(x_odd)) * odd(mw), odd(ew), half, odd(bw) * odd(mw), odd(ow))
    return tirx.call_intrin(i32, "tirx.reinterpret", (low & low_mask) | (high << thirty_two))


register()  # at import: an IRModule holding the op (a tuning database, a builder worker) loads only once it exists
