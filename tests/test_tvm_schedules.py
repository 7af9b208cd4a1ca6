"""The fast CPU schedules (edgec/codegen/tvm/schedules_cpu.py) keep int8 kernels bit-exact.

Each case builds an int8 TE kernel in the form the TVM lowering uses (stages
``pad``/``acc``/``out``, weights ``[KH, KW, Ci, Co]`` or ``[KH, KW, C]``, the
input offset folded into the bias, the padded input holding the zero point),
schedules it with ``CPU_SCHEDULES`` for this machine's CPU (VNNI where it has
it) and for a plain x86-64 CPU (the generic tiles), runs it, and compares it
with the numpy reference kernels (``edgec.reference.int8_kernels``) on random
data: integers, compared exactly.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

tvm = pytest.importorskip("tvm", reason="TVM is an optional extra (pip install edgec[tvm])")

from tvm import s_tir, te, tirx

from edgec.codegen.tvm import x86_dot
from edgec.codegen.tvm.schedules_cpu import CPU_SCHEDULES
from edgec.reference import int8_kernels as K

I32, I64 = "int32", "int64"


def _requant(acc, mult, shift, out_off: int, lo: int, hi: int):
    """The reference's requantization as one TIR expression (64-bit product, two roundings)."""
    left, right = tirx.max(shift, 0), tirx.max(-shift, 0)
    ab = (acc << left).astype(I64) * mult.astype(I64)
    nudged = ab + tirx.Select(ab >= tirx.const(0, I64), tirx.const(1 << 30, I64), tirx.const(1 - (1 << 30), I64))
    high = tirx.truncdiv(nudged, tirx.const(1 << 31, I64)).astype(I32)
    mask = (tirx.const(1, I32) << right) - 1
    threshold = (mask >> 1) + tirx.Select(high < 0, 1, 0)
    y = (high >> right) + tirx.Select((high & mask) > threshold, 1, 0) + out_off
    return tirx.max(tirx.min(y, hi), lo).astype("int8")


def _pad(x, pad, value):
    top, left, bottom, right = pad
    if not any(pad):
        return x
    n, h, w, c = (int(d) for d in x.shape)

    def fetch(b, y, xx, ch):
        inside = tirx.all(y >= top, y < top + h, xx >= left, xx < left + w)
        return tirx.if_then_else(inside, x[b, y - top, xx - left, ch], tirx.const(value, "int8"))

    return te.compute((n, h + top + bottom, w + left + right, c), fetch, name="pad")


def _out(h, k, s, lo, hi):
    return (h + lo + hi - k) // s + 1


def conv_case(rng, h, w, ci, co, k, s, pad, depthwise=False):
    """(prim_func, numpy args, expected output, kind, macs) for a conv2d or depthwise conv."""
    zp_in, out_off = int(rng.integers(-20, 20)), int(rng.integers(-10, 10))
    lo, hi = -128, int(rng.integers(60, 128))
    x = rng.integers(-128, 128, (1, h, w, ci), dtype=np.int8)
    oh, ow = _out(h, k, s, pad[0], pad[2]), _out(w, k, s, pad[1], pad[3])
    bias = rng.integers(-3000, 3000, co).astype(np.int32)
    mult = rng.integers(1 << 30, (1 << 31) - 1, co).astype(np.int32)
    shift = rng.integers(-10, 1, co).astype(np.int32)
    common = {
        "stride": (s, s),
        "dilation": (1, 1),
        "pad": pad,
        "input_offset": -zp_in,
        "output_offset": out_off,
        "out_mult": mult,
        "out_shift": shift,
        "act_min": lo,
        "act_max": hi,
    }
    X = te.placeholder(x.shape, "int8", "x")
    if depthwise:
        wt = rng.integers(-127, 128, (1, k, k, co), dtype=np.int8)
        want = K.depthwise_conv2d(x, wt, bias, depth_multiplier=1, **common)
        warg = wt[0]
        folded = bias.astype(np.int64) - zp_in * wt.astype(np.int64).sum(axis=(0, 1, 2))
    else:
        wt = rng.integers(-127, 128, (co, k, k, ci), dtype=np.int8)
        want = K.conv2d(x, wt, bias, **common)
        warg = wt.transpose(1, 2, 3, 0).copy()
        folded = bias.astype(np.int64) - zp_in * wt.astype(np.int64).sum(axis=(1, 2, 3))
    W = te.placeholder(warg.shape, "int8", "w")
    B, M, S = (te.placeholder((co,), I32, n) for n in ("bias", "mult", "shift"))
    xp = _pad(X, pad, zp_in)
    ry, rx = te.reduce_axis((0, k), "ry"), te.reduce_axis((0, k), "rx")
    if depthwise:
        acc = te.compute(
            (1, oh, ow, co),
            lambda b, y, xx, c: te.sum(
                xp[b, y * s + ry, xx * s + rx, c].astype(I32) * W[ry, rx, c].astype(I32), axis=[ry, rx]
            ),
            name="acc",
        )
    else:
        rc = te.reduce_axis((0, ci), "rc")
        acc = te.compute(
            (1, oh, ow, co),
            lambda b, y, xx, o: te.sum(
                xp[b, y * s + ry, xx * s + rx, rc].astype(I32) * W[ry, rx, rc, o].astype(I32), axis=[ry, rx, rc]
            ),
            name="acc",
        )
    out = te.compute(
        acc.shape, lambda b, y, xx, o: _requant(acc[b, y, xx, o] + B[o], M[o], S[o], out_off, lo, hi), name="out"
    )
    func = te.create_prim_func([X, W, B, M, S, out])
    args = [x, warg, K.wrap_int32(folded).astype(np.int32), mult, shift]
    macs = oh * ow * co * k * k * (1 if depthwise else ci)
    return func, args, want, "depthwise_conv2d" if depthwise else "conv2d", macs


def fc_case(rng, k, co):
    zp_in, out_off = int(rng.integers(-20, 20)), int(rng.integers(-10, 10))
    x = rng.integers(-128, 128, (1, k), dtype=np.int8)
    wt = rng.integers(-127, 128, (co, k), dtype=np.int8)
    bias = rng.integers(-3000, 3000, co).astype(np.int32)
    mult = rng.integers(1 << 30, (1 << 31) - 1, co).astype(np.int32)
    shift = rng.integers(-10, 1, co).astype(np.int32)
    acc64 = (x.astype(np.int64) - zp_in) @ wt.T.astype(np.int64) + bias
    want = K._requantize_acc(acc64, mult, shift, out_off, -128, 127)
    X, W = te.placeholder((1, k), "int8", "x"), te.placeholder((k, co), "int8", "w")
    B, M, S = (te.placeholder((co,), I32, n) for n in ("bias", "mult", "shift"))
    rk = te.reduce_axis((0, k), "rk")
    acc = te.compute((1, co), lambda b, o: te.sum(X[b, rk].astype(I32) * W[rk, o].astype(I32), axis=rk), name="acc")
    out = te.compute((1, co), lambda b, o: _requant(acc[b, o] + B[o], M[o], S[o], out_off, -128, 127), name="out")
    folded = bias.astype(np.int64) - zp_in * wt.astype(np.int64).sum(axis=1)
    args = [x, wt.T.copy(), folded.astype(np.int32), mult, shift]
    return te.create_prim_func([X, W, B, M, S, out]), args, want, "fully_connected", k * co


def _run(func, args, want, kind, macs, target):
    sch = s_tir.Schedule(func)
    CPU_SCHEDULES[kind](sch, SimpleNamespace(kind=kind, ops=[kind], macs=macs, func="k"), target)
    lib = tvm.compile(sch.mod, target=target)
    dev = tvm.cpu()
    tensors = [tvm.runtime.tensor(a, dev) for a in args] + [tvm.runtime.empty(want.shape, "int8", dev)]
    lib(*tensors)
    return tensors[-1].numpy(), sch


GENERIC = {"kind": "llvm", "mcpu": "x86-64-v3"}  # AVX2, no VNNI: the generic tiles


def _targets():
    from tvm.target import codegen

    host = tvm.target.Target({"kind": "llvm", "mcpu": str(codegen.llvm_get_system_cpu())})
    return {"host": host, "generic": tvm.target.Target(GENERIC)}


TARGETS = _targets()

CONV_CASES = {
    "1x1": (8, 8, 32, 64, 1, 1, (0, 0, 0, 0)),
    "1x1_ci24_co40": (6, 7, 24, 40, 1, 1, (0, 0, 0, 0)),  # 40 channels: 8-lane tiles; 7 wide: 7-pixel tiles
    "3x3_s1_same": (9, 10, 16, 32, 3, 1, (1, 1, 1, 1)),
    "3x3_s2_asym": (11, 9, 8, 16, 3, 2, (0, 0, 1, 1)),
    "3x3_ci3": (10, 10, 3, 16, 3, 2, (1, 1, 1, 1)),  # first layer: 3 input channels, no VNNI
    "5x5_co12": (8, 8, 12, 12, 5, 1, (2, 2, 2, 2)),  # 12 channels: 4-lane generic tiles
}
DW_CASES = {
    "3x3_s1": (10, 10, 32, 32, 3, 1, (1, 1, 1, 1)),
    "3x3_s2": (9, 9, 24, 24, 3, 2, (0, 0, 1, 1)),
    "5x5_c20": (8, 8, 20, 20, 5, 1, (2, 2, 2, 2)),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_schedules_are_bit_exact(case, target):
    rng = np.random.default_rng(hash(case) % 2**32)
    func, args, want, kind, macs = conv_case(rng, *CONV_CASES[case])
    got, _ = _run(func, args, want, kind, macs, TARGETS[target])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("case", sorted(DW_CASES))
def test_depthwise_schedules_are_bit_exact(case, target):
    rng = np.random.default_rng(len(case))
    func, args, want, kind, macs = conv_case(rng, *DW_CASES[case], depthwise=True)
    got, _ = _run(func, args, want, kind, macs, TARGETS[target])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("k,co", [(64, 32), (100, 10), (256, 48), (1024, 256)])  # 1024 x 256: weights streamed
def test_fully_connected_schedules_are_bit_exact(k, co, target):
    func, args, want, kind, macs = fc_case(np.random.default_rng(k), k, co)
    got, _ = _run(func, args, want, kind, macs, TARGETS[target])
    np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(not x86_dot.has_vnni(TARGETS["host"]), reason="this CPU has no AVX-512 VNNI")
def test_vnni_is_used_where_the_cpu_has_it():
    func, args, want, kind, macs = conv_case(np.random.default_rng(3), *CONV_CASES["1x1"])
    got, sch = _run(func, args, want, kind, macs, TARGETS["host"])
    np.testing.assert_array_equal(got, want)
    assert "vpdpbusd" in sch.mod.script()


def pool_case(rng, h, w, c, k, s, pad):
    x = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
    oh, ow = _out(h, k, s, pad[0], pad[2]), _out(w, k, s, pad[1], pad[3])
    want = K.max_pool2d(x, kernel=(k, k), stride=(s, s), pad=pad, act_min=-100, act_max=120)
    X = te.placeholder(x.shape, "int8", "x")
    xp = _pad(X, pad, -128)
    ry, rx = te.reduce_axis((0, k), "ry"), te.reduce_axis((0, k), "rx")
    acc = te.compute(
        (1, oh, ow, c), lambda b, y, xx, ch: te.max(xp[b, y * s + ry, xx * s + rx, ch], axis=[ry, rx]), name="acc"
    )
    out = te.compute(acc.shape, lambda *i: tirx.max(tirx.min(acc[i].astype(I32), 120), -100).astype("int8"), name="out")
    return te.create_prim_func([X, out]), [x], want, "max_pool2d", oh * ow * c * k * k


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_max_pool_schedule_is_bit_exact(target):
    func, args, want, kind, macs = pool_case(np.random.default_rng(5), 9, 9, 32, 3, 2, (0, 0, 1, 1))
    got, _ = _run(func, args, want, kind, macs, TARGETS[target])
    np.testing.assert_array_equal(got, want)
