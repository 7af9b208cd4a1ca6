"""The x86 requantization op (edgec/codegen/tvm/requant_x86.py): bit-exact with the numpy reference.

``requant_right(x, mult, e)`` must equal the reference's two roundings,
``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, mult), e)``, for
every int32 ``x``, multiplier ``0 <= mult < 2**31`` and right shift ``1 <= e <= 31``,
in each form it expands to: scalar (plain int64), and 16 and 8 lanes (the
even/odd form).  Inputs: the int32 extremes, exact ties of both roundings
(``mult = 2**30`` turns ``x`` into halves), and seeded random values.
"""

from __future__ import annotations

import numpy as np
import pytest

tvm = pytest.importorskip("tvm", reason="TVM is not installed (pip install edgec[tvm])")

from tvm import s_tir, te

from edgec.codegen.tvm import requant_x86
from edgec.reference import int8_kernels as K

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _cases() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(31)
    xs, ms, es = [], [], []
    extremes = [INT32_MIN, INT32_MIN + 1, -(2**30) - 1, -(2**30), -3, -2, -1, 0, 1, 2, 3, 2**30, INT32_MAX - 1, INT32_MAX]
    for m in (0, 1, 2**30, 2**30 + 1, INT32_MAX - 1, INT32_MAX):
        for e in (1, 2, 5, 17, 30, 31):
            xs += extremes
            ms += [m] * len(extremes)
            es += [e] * len(extremes)
    ties = np.arange(-2048, 2048)  # mult 2**30: x / 2 rounded, then divided by 2**e: ties of both steps
    for e in (1, 2, 3, 4):
        xs += ties.tolist()
        ms += [2**30] * ties.size
        es += [e] * ties.size
    n = 20_000
    xs += rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True).tolist()
    xs += rng.integers(-(2**20), 2**20, n).tolist()  # accumulator-sized values
    ms += rng.integers(2**30, 2**31, 2 * n).tolist()
    es += rng.integers(1, 32, 2 * n).tolist()
    pad = -len(xs) % 16
    xs, ms, es = xs + [0] * pad, ms + [0] * pad, es + [1] * pad
    return np.array(xs, np.int32), np.array(ms, np.int32), np.array(es, np.int32)


def _reference(x, m, e) -> np.ndarray:
    return K.rounding_divide_by_pot(K.saturating_rounding_doubling_high_mul(x.astype(np.int64), m.astype(np.int64)), e.astype(np.int64)).astype(np.int32)


def _run(lanes: int, x, m, e) -> np.ndarray:
    n = x.size
    X, M, E = (te.placeholder((n,), "int32", name=name) for name in ("x", "m", "e"))
    Y = te.compute((n,), lambda i: requant_x86.requant_right(X[i], M[i], E[i]), name="y")
    sch = s_tir.Schedule(te.create_prim_func([X, M, E, Y]))
    if lanes > 1:
        (loop,) = sch.get_loops(sch.get_sblock("y"))
        _, inner = sch.split(loop, [None, lanes])
        sch.vectorize(inner)
    func = tvm.compile(sch.mod, target={"kind": "llvm"})
    dev = tvm.cpu()
    out = tvm.runtime.empty((n,), "int32", dev)
    func(*(tvm.runtime.tensor(a, dev) for a in (x, m, e)), out)
    return out.numpy()


@pytest.mark.parametrize("lanes", [1, 8, 16])
def test_requant_right_equals_two_roundings(lanes: int) -> None:
    x, m, e = _cases()
    want = _reference(x, m, e)
    got = _run(lanes, x, m, e)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} mismatches, first x={x[bad[0]]} mult={m[bad[0]]} e={e[bad[0]]}: {got[bad[0]]} != {want[bad[0]]}"


def _run_with_bias(lanes: int, x, m, e, bias, offset: int = 0) -> np.ndarray:
    n = x.size
    X, M, E, B = (te.placeholder((n,), "int32", name=name) for name in ("x", "m", "e", "b"))
    Y = te.compute((n,), lambda i: requant_x86.requant_right(X[i], M[i], E[i], B[i], offset), name="y")
    sch = s_tir.Schedule(te.create_prim_func([X, M, E, B, Y]))
    if lanes > 1:
        (loop,) = sch.get_loops(sch.get_sblock("y"))
        _, inner = sch.split(loop, [None, lanes])
        sch.vectorize(inner)
    func = tvm.compile(sch.mod, target={"kind": "llvm"})
    dev = tvm.cpu()
    out = tvm.runtime.empty((n,), "int32", dev)
    func(*(tvm.runtime.tensor(a, dev) for a in (x, m, e, bias)), out)
    return out.numpy()


@pytest.mark.parametrize("lanes", [1, 8, 16])
def test_requant_right_with_bias_equals_two_roundings_of_the_sum(lanes: int) -> None:
    """The bias folded into the 64-bit product (``x * mult + bias * mult``) gives the reference's
    result on ``x + bias`` wherever that sum does not wrap (the callers' condition)."""
    x, m, e = _cases()
    rng = np.random.default_rng(7)
    bias = rng.integers(-(2**24), 2**24, x.size).astype(np.int32)
    bias[:64] = [INT32_MAX, INT32_MIN + 1, -1, 1] * 16
    total = x.astype(np.int64) + bias
    keep = (total >= INT32_MIN) & (total <= INT32_MAX)
    idx = np.flatnonzero(keep)
    idx = idx[: idx.size - idx.size % 16]
    x, m, e, bias = x[idx], m[idx], e[idx], bias[idx]
    want = _reference((x.astype(np.int64) + bias).astype(np.int32), m, e)
    got = _run_with_bias(lanes, x, m, e, bias)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} mismatches, first x={x[bad[0]]} bias={bias[bad[0]]} mult={m[bad[0]]} e={e[bad[0]]}"


@pytest.mark.parametrize("lanes", [1, 16])
@pytest.mark.parametrize("offset", [-128, 127])
def test_requant_right_with_offset(lanes: int, offset: int) -> None:
    """The output offset folded into the rounding constant (``offset * 2**(31 + e)``, right shifts up
    to ``MAX_OFFSET_EXPONENT``) gives the reference's result plus the offset."""
    x, m, e = _cases()
    keep = np.flatnonzero(e <= requant_x86.MAX_OFFSET_EXPONENT)
    keep = keep[: keep.size - keep.size % 16]
    x, m, e = x[keep], m[keep], e[keep]
    bias = np.zeros_like(x)
    want = _reference(x, m, e).astype(np.int64) + offset
    got = _run_with_bias(lanes, x, m, e, bias, offset)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} mismatches, first x={x[bad[0]]} mult={m[bad[0]]} e={e[bad[0]]}: {got[bad[0]]} != {want[bad[0]]}"


def test_saturate_int8() -> None:
    x = np.array([INT32_MIN, -129, -128, -1, 0, 1, 127, 128, INT32_MAX] + list(range(-300, 300, 26)), np.int32)[:32]
    X = te.placeholder((32,), "int32", name="x")
    Y = te.compute((32,), lambda i: requant_x86.saturate_int8(X[i]), name="y")
    for lanes in (1, 8, 16):
        sch = s_tir.Schedule(te.create_prim_func([X, Y]))
        if lanes > 1:
            (loop,) = sch.get_loops(sch.get_sblock("y"))
            sch.vectorize(sch.split(loop, [None, lanes])[1])
        func = tvm.compile(sch.mod, target=tvm.target.Target({"kind": "llvm", "mcpu": str(tvm.target.codegen.llvm_get_system_cpu())}))
        out = tvm.runtime.empty((32,), "int8", tvm.cpu())
        func(tvm.runtime.tensor(x, tvm.cpu()), out)
        np.testing.assert_array_equal(out.numpy(), np.clip(x, -128, 127).astype(np.int8), err_msg=f"{lanes} lanes")


def test_usable_domain() -> None:
    assert requant_x86.usable([2**30, INT32_MAX], [1, 31])
    assert not requant_x86.usable([2**30], [0])  # no right shift: the general form
    assert not requant_x86.usable([2**30], [32])
    assert not requant_x86.usable([-1], [3])
