"""Generate test vectors for the C kernel harness (tests/kernels/run_vectors.c).

The oracle is the numpy twin, ``edgec.reference.int8_kernels``: every
expected output below comes from it.

File format (text, one record per line, whitespace separated)::

    case <id> <op>                 start of a case; <id> names it in reports
    i <name> <int>                 an integer parameter
    t <name> <ndim> <d0..> <vals>  an integer tensor (row-major)
    f <name> <ndim> <d0..> <vals>  a float64 tensor (repr: exact round trip)
    e <name> <H> <W> <C> <y> <x> <c>
                                   place 4-D tensor <name> (batch 1) as a window
                                   at (y, x, c) of a larger H x W x C buffer
    end                            end of the case

Usage: python gen_vectors.py OUT_FILE [--seed N]
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec.codegen.depthwise_layout import depthwise_dsp_header, depthwise_dsp_layout
from edgec.codegen.dsp_emitters import requant_mode
from edgec.codegen.kernel_variants import accumulator_bound
from edgec.reference import int8_kernels as K

INT8_MIN, INT8_MAX = -128, 127


@dataclass
class Case:
    op: str
    ints: dict[str, int] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    embeds: dict[str, tuple[int, ...]] = field(default_factory=dict)
    reals: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""

    def write(self, f, index: int) -> None:
        f.write(f"case {index:04d}_{self.name or self.op} {self.op}\n")
        for k, v in self.ints.items():
            f.write(f"i {k} {int(v)}\n")
        for k, t in self.tensors.items():
            t = np.asarray(t)
            vals = " ".join(str(int(v)) for v in t.reshape(-1))
            f.write(f"t {k} {t.ndim} {' '.join(str(d) for d in t.shape)} {vals}\n")
        for k, t in self.reals.items():
            t = np.asarray(t, dtype=np.float64)
            vals = " ".join(repr(float(v)) for v in t.reshape(-1))
            f.write(f"f {k} {t.ndim} {' '.join(str(d) for d in t.shape)} {vals}\n")
        for k, e in self.embeds.items():
            f.write(f"e {k} {' '.join(str(int(v)) for v in e)}\n")
        f.write("end\n")


# -- random parameters ----------------------------------------------------------


def rand_int8(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(INT8_MIN, INT8_MAX + 1, size=shape, dtype=np.int64).astype(np.int8)


def rand_zero_point(rng: np.random.Generator, extreme: bool) -> int:
    if extreme:
        return int(rng.choice([-128, -127, 127, 0]))
    return int(rng.integers(-20, 21))


def mult_shift_for(
    rng: np.random.Generator, real: float, count: int, jitter: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (mult, shift) around ``real``, each channel jittered by a random factor."""
    mults, shifts = [], []
    for _ in range(count):
        m, s = K.quantize_multiplier(real * float(np.exp(rng.uniform(-jitter, jitter))))
        mults.append(m)
        shifts.append(s)
    return np.array(mults, dtype=np.int64), np.array(shifts, dtype=np.int64)


def extreme_mult_shift(rng: np.random.Generator, real: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Multipliers at the ends of [2^30, 2^31) around ``real``; a third of the channels get a shift
    drawn from [-31, +10] instead of the right one (those mostly saturate or vanish)."""
    _, base_shift = K.quantize_multiplier(real)
    mults = rng.choice([1 << 30, (1 << 30) + 1, (1 << 31) - 1, (1 << 31) - 2, 1518500250], size=count)
    wild = rng.choice([-31, -30, -24, -16, -8, -1, 0, 1, 2, 5, 10], size=count)
    shifts = np.where(rng.random(count) < 1 / 3, wild, base_shift)
    return mults.astype(np.int64), shifts.astype(np.int64)


def act_range(rng: np.random.Generator, output_zp: int) -> tuple[int, int]:
    kind = rng.integers(0, 6)
    if kind in (0, 4, 5):
        return INT8_MIN, INT8_MAX
    if kind == 1:  # relu
        return output_zp, INT8_MAX
    if kind == 2:  # relu6-like
        return output_zp, min(INT8_MAX, output_zp + 60)
    lo = int(rng.integers(-128, 0))
    return lo, int(rng.integers(lo, 128))


def out_size(size: int, kernel: int, stride: int, dilation: int, lo: int, hi: int) -> int:
    return (size + lo + hi - dilation * (kernel - 1) - 1) // stride + 1


def embed(rng: np.random.Generator, shape, extra_c: bool = True) -> tuple[int, ...]:
    """A random placement of a [1,H,W,C] tensor inside a larger buffer."""
    _, h, w, c = shape
    mh, mw = int(rng.integers(0, 3)), int(rng.integers(0, 4))
    mc = int(rng.integers(1, 4)) if extra_c else 0
    oy, ox, oc = int(rng.integers(0, mh + 1)), int(rng.integers(0, mw + 1)), int(rng.integers(0, mc + 1))
    return (h + mh, w + mw, c + mc, oy, ox, oc)


# -- cases ----------------------------------------------------------------------


def conv_like_scale(x: np.ndarray, input_offset: int, taps: int) -> float:
    """A requantization scale that maps the accumulator spread to ~ +-60."""
    spread = float(np.std(x.astype(np.float64) + input_offset)) * 60.0 * math.sqrt(max(taps, 1)) + 1.0
    return 60.0 / spread


def conv_case(
    rng,
    *,
    h,
    w,
    ci,
    co,
    k,
    stride=(1, 1),
    dilation=(1, 1),
    pad=(0, 0, 0, 0),
    groups=1,
    extreme=False,
    bias=True,
    windows=False,
    name="",
    op="conv2d",
) -> Case:
    kh, kw = k
    x = rand_int8(rng, (1, h, w, ci))
    wt = rng.integers(-127, 128, size=(co, kh, kw, ci // groups)).astype(np.int8)
    in_zp = rand_zero_point(rng, extreme)
    out_zp = rand_zero_point(rng, extreme)
    b = rng.integers(-5000, 5000, size=co).astype(np.int32) if bias else None
    real = conv_like_scale(x, -in_zp, kh * kw * ci // groups)
    mult, shift = extreme_mult_shift(rng, real, co) if extreme else mult_shift_for(rng, real, co)
    act_min, act_max = act_range(rng, out_zp)
    y = K.conv2d(
        x,
        wt,
        b,
        stride=stride,
        dilation=dilation,
        pad=pad,
        input_offset=-in_zp,
        output_offset=out_zp,
        out_mult=mult,
        out_shift=shift,
        act_min=act_min,
        act_max=act_max,
        groups=groups,
    )
    c = Case(op, name=name or f"conv{kh}x{kw}_{h}x{w}x{ci}to{co}_s{stride[0]}{stride[1]}_g{groups}")
    c.ints.update(
        stride_h=stride[0],
        stride_w=stride[1],
        dilation_h=dilation[0],
        dilation_w=dilation[1],
        pad_top=pad[0],
        pad_left=pad[1],
        pad_bottom=pad[2],
        pad_right=pad[3],
        groups=groups,
        input_offset=-in_zp,
        output_offset=out_zp,
        act_min=act_min,
        act_max=act_max,
    )
    c.tensors.update(x=x, w=wt, out_mult=mult, out_shift=shift, y=y)
    if b is not None:
        c.tensors["bias"] = b
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def depthwise_case(
    rng,
    *,
    h,
    w,
    ci,
    m,
    k,
    stride=(1, 1),
    dilation=(1, 1),
    pad=(0, 0, 0, 0),
    extreme=False,
    bias=True,
    windows=False,
    name="",
    fill_x=None,
    fill_w=None,
) -> Case:
    kh, kw = k
    co = ci * m
    x = rand_int8(rng, (1, h, w, ci))
    wt = rng.integers(-127, 128, size=(1, kh, kw, co)).astype(np.int8)
    if fill_x is not None:  # one value everywhere: the largest products
        x[...] = fill_x
    if fill_w is not None:
        wt[...] = fill_w
    in_zp = rand_zero_point(rng, extreme)
    out_zp = rand_zero_point(rng, extreme)
    b = rng.integers(-5000, 5000, size=co).astype(np.int32) if bias else None
    real = conv_like_scale(x, -in_zp, kh * kw)
    mult, shift = extreme_mult_shift(rng, real, co) if extreme else mult_shift_for(rng, real, co)
    act_min, act_max = act_range(rng, out_zp)
    y = K.depthwise_conv2d(
        x,
        wt,
        b,
        stride=stride,
        dilation=dilation,
        pad=pad,
        depth_multiplier=m,
        input_offset=-in_zp,
        output_offset=out_zp,
        out_mult=mult,
        out_shift=shift,
        act_min=act_min,
        act_max=act_max,
    )
    c = Case("depthwise_conv2d", name=name or f"dw{kh}x{kw}_{h}x{w}x{ci}m{m}_s{stride[0]}{stride[1]}_d{dilation[0]}")
    c.ints.update(
        stride_h=stride[0],
        stride_w=stride[1],
        dilation_h=dilation[0],
        dilation_w=dilation[1],
        pad_top=pad[0],
        pad_left=pad[1],
        pad_bottom=pad[2],
        pad_right=pad[3],
        depth_multiplier=m,
        input_offset=-in_zp,
        output_offset=out_zp,
        act_min=act_min,
        act_max=act_max,
    )
    c.tensors.update(x=x, w=wt, out_mult=mult, out_shift=shift, y=y)
    if b is not None:
        c.tensors["bias"] = b
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def dsp_depthwise_twin(case: Case, entry: int, allow_fast: bool = True) -> Case:
    """The DSP depthwise kernel on a depthwise case (depth_multiplier 1): same inputs and expected
    output, plus the build-time weight layout and the build's fast-requantization flag (never with
    ``allow_fast`` False: the general requantization path); ``entry`` picks the C entry point (3, 5, 7: the
    specialised KxK kernels; 0: the generic one)."""
    twin = Case("depthwise_conv2d_dsp", name=f"{case.name}_dsp{entry or 'generic'}")
    # the build's rule: rq_fast only where the accumulator bound proves it exact
    bound = accumulator_bound(case.tensors["w"], case.tensors.get("bias"), case.ints["input_offset"], channel_axis=3)
    mode = requant_mode(bound, case.tensors["out_shift"], case.ints["output_offset"]) if allow_fast else 0
    twin.ints.update(case.ints, entry=entry, fast_requant=mode)
    header = None
    if mode == 2:  # the fast epilogue: headers with the folded bias and the requantization constants
        header = depthwise_dsp_header(case.tensors["w"], case.tensors.get("bias"), case.ints["input_offset"],
                                      case.tensors["out_mult"], case.tensors["out_shift"], case.ints["output_offset"])
    twin.tensors.update(case.tensors, wl=depthwise_dsp_layout(case.tensors["w"], header))
    twin.embeds.update(case.embeds)
    return twin


def dsp_inplace_twin(case: Case, allow_fast: bool) -> Case:
    """The DSP in-place depthwise kernel on an in-place case: same buffer, weights and expected
    output, the build's fast-requantization flag (or none: the general path)."""
    twin = Case("depthwise_conv2d_inplace_dsp", name=f"{case.name}_dsp{'' if allow_fast else '_exact'}")
    bound = accumulator_bound(case.tensors["w"], case.tensors.get("bias"), case.ints["input_offset"], channel_axis=3)
    mode = requant_mode(bound, case.tensors["out_shift"], case.ints["output_offset"]) if allow_fast else 0
    twin.ints.update(case.ints, fast_requant=mode)
    twin.tensors.update(case.tensors)
    return twin


ADD_KEYS = ("a_offset", "a_mult", "a_shift", "b_offset", "b_mult", "b_shift", "left_shift", "output_offset",
            "out_mult", "out_shift", "act_min", "act_max")


def add_dsp_twin(case: Case, **override) -> Case:
    """edgec_add_dsp on an add case; ``override`` replaces parameters (the expected output is then
    recomputed by the numpy twin)."""
    twin = Case("add_dsp", name=case.name + "_dsp" + "".join(f"_{k}{v}" for k, v in override.items()))
    twin.ints.update(case.ints, **override)
    twin.tensors.update(case.tensors)
    twin.embeds.update(case.embeds)
    if override:
        twin.tensors["y"] = K.add(case.tensors["a"], case.tensors["b"], **{k: twin.ints[k] for k in ADD_KEYS})
    return twin


def dsp_depthwise_cases(rng) -> list[Case]:
    """Every specialised kernel size and stride, channel counts around the 4-channel step and the
    128-channel pass, odd widths, padding on every side, windows, extreme zero points/multipliers."""
    cases = []
    for h, w, c, k, s, d, pad in [
        (1, 1, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # every tap but the centre is padding
        (7, 5, 3, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        (6, 9, 4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        (5, 7, 5, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
        (9, 11, 13, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        (10, 12, 8, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),  # TFLite "same" with even input, stride 2
        (4, 5, 130, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # crosses the 128-channel pass
        (3, 3, 259, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        (8, 7, 17, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
        (9, 9, 6, (5, 5), (2, 2), (1, 1), (1, 1, 2, 2)),
        (11, 9, 7, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),
        (12, 13, 9, (7, 7), (2, 2), (1, 1), (2, 2, 3, 3)),
        (3, 3, 5, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),  # kernel larger than the input
        (9, 9, 10, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),  # dilated
        (7, 8, 6, (3, 5), (1, 2), (1, 1), (1, 2, 1, 2)),  # non-square: generic entry only
        (5, 6, 7, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
        (6, 5, 3, (2, 2), (2, 1), (1, 1), (0, 0, 1, 0)),  # even tap count
    ]:
        for extreme in (False, True):
            base = depthwise_case(
                rng, h=h, w=w, ci=c, m=1, k=k, stride=s, dilation=d, pad=pad, extreme=extreme,
                windows=extreme or c % 2 == 1, bias=not extreme or c % 3 != 0,
            )
            if k[0] == k[1] and k[0] in (3, 5, 7):
                cases.append(dsp_depthwise_twin(base, k[0]))
            cases.append(dsp_depthwise_twin(base, 0, allow_fast=False))
    return cases


def dsp_depthwise_fast_cases(rng) -> list[Case]:
    """The DSP depthwise kernels' fast epilogue (fast_requant 2: headered layout, packed stores) on
    maps large enough for interior pixels, for every specialised size: odd channel counts (the
    1..3-channel tail), every border, stride 2, dilation, windows; drawn until the build's rule picks
    the fast epilogue."""
    cases = []
    for h, w, c, k, s, d, pad in [
        (12, 11, 7, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
        (13, 12, 6, (5, 5), (2, 2), (1, 1), (1, 2, 1, 2)),
        (14, 13, 5, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),
        (15, 15, 9, (7, 7), (2, 2), (1, 1), (2, 3, 3, 2)),
        (10, 10, 11, (3, 3), (1, 1), (2, 2), (1, 1, 1, 1)),  # dilated: interior pixels with dilation
        (9, 8, 4, (3, 3), (2, 1), (1, 1), (0, 1, 1, 0)),
        (6, 7, 10, (5, 5), (1, 1), (1, 1), (0, 0, 0, 0)),  # no padding: every pixel interior
    ]:
        for windows in (False, True):
            for _ in range(50):
                base = depthwise_case(rng, h=h, w=w, ci=c, m=1, k=k, stride=s, dilation=d, pad=pad, windows=windows)
                twin = dsp_depthwise_twin(base, k[0] if k[0] == k[1] else 0)
                if twin.ints["fast_requant"] == 2:
                    cases.append(twin)
                    break
            else:
                raise AssertionError(f"no fast-epilogue draw for {h}x{w}x{c} k={k}")
    return cases


def depthwise_inplace_case(
    rng,
    *,
    h,
    w,
    c,
    k,
    stride=(1, 1),
    dilation=(1, 1),
    pad=(0, 0, 0, 0),
    extreme=False,
    bias=True,
    weight_min=False,
) -> Case:
    """In-place depthwise (depth_multiplier 1): the expected output comes from the out-of-place
    twin ``depthwise_conv2d``, and the in-place twin must agree with it bit for bit.  ``x`` is the
    whole input plane, which also fills buffer[OH*OW*C : H*W*C] that the kernel must not touch.
    ``weight_min``: one weight is -128 (the MVE sixteen-channel kernels leave such layers to the
    channel-plane ring)."""
    kh, kw = k
    x = rand_int8(rng, (1, h, w, c))
    wt = rng.integers(-127, 128, size=(1, kh, kw, c)).astype(np.int8)
    if weight_min:
        wt[0, kh // 2, kw // 2, c // 2] = -128
    in_zp = rand_zero_point(rng, extreme)
    out_zp = rand_zero_point(rng, extreme)
    b = rng.integers(-5000, 5000, size=c).astype(np.int32) if bias else None
    if extreme and b is not None:
        b[:: max(1, c // 3)] = rng.choice([-(2**24), 2**24 - 1], size=len(b[:: max(1, c // 3)]))
    real = conv_like_scale(x, -in_zp, kh * kw)
    mult, shift = extreme_mult_shift(rng, real, c) if extreme else mult_shift_for(rng, real, c)
    act_min, act_max = act_range(rng, out_zp)
    params = {
        "stride": stride,
        "dilation": dilation,
        "pad": pad,
        "input_offset": -in_zp,
        "output_offset": out_zp,
        "out_mult": mult,
        "out_shift": shift,
        "act_min": act_min,
        "act_max": act_max,
    }
    y = K.depthwise_conv2d(x, wt, b, depth_multiplier=1, **params)
    y_inplace = K.depthwise_conv2d_inplace(x, wt, b, **params)
    if not np.array_equal(y, y_inplace):
        raise AssertionError(f"in-place depthwise twin differs from depthwise_conv2d ({h}x{w}x{c}, k={k}, pad={pad})")
    _, oh, ow, _ = y.shape
    assert oh * ow <= h * w
    cs = Case(
        "depthwise_conv2d_inplace",
        name=f"dwip{kh}x{kw}_{h}x{w}x{c}_s{stride[0]}{stride[1]}_d{dilation[0]}{dilation[1]}_p{''.join(map(str, pad))}"
        + ("_wmin" if weight_min else ""),
    )
    cs.ints.update(
        stride_h=stride[0],
        stride_w=stride[1],
        dilation_h=dilation[0],
        dilation_w=dilation[1],
        pad_top=pad[0],
        pad_left=pad[1],
        pad_bottom=pad[2],
        pad_right=pad[3],
        depth_multiplier=1,
        input_offset=-in_zp,
        output_offset=out_zp,
        act_min=act_min,
        act_max=act_max,
        # the planner's scratch size (edgec.schedule.arena.depthwise_scratch_bytes): the ring of
        # (KH - 1) * dilation_h + 1 padded rows
        scratch_size=((kh - 1) * dilation[0] + 1) * (w + pad[1] + pad[3]),
    )
    cs.tensors.update(x=x, w=wt, out_mult=mult, out_shift=shift, y=y)
    if b is not None:
        cs.tensors["bias"] = b
    return cs


def random_depthwise_inplace_geometry(rng) -> dict:
    """Random in-place-legal geometry: odd sizes, kernels 3/5/7, strides 1/2, any padding (where no
    input row is overwritten before the row ring copies it, ``K.depthwise_inplace_rows_ok``)."""
    while True:
        k = (int(rng.choice([3, 5, 7])), int(rng.choice([3, 5, 7])))
        s = (int(rng.choice([1, 2])), int(rng.choice([1, 2])))
        d = (1, 1) if rng.random() < 0.8 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        h, w = int(rng.integers(1, 14)), int(rng.integers(1, 14))
        pad = tuple(int(rng.integers(0, k[i % 2])) for i in range(4))  # (top, left, bottom, right)
        oh = out_size(h, k[0], s[0], d[0], pad[0], pad[2])
        ow = out_size(w, k[1], s[1], d[1], pad[1], pad[3])
        if (
            oh >= 1
            and ow >= 1
            and oh * ow <= h * w
            and K.depthwise_inplace_rows_ok(h, w, oh, ow, k[0], s[0], d[0], pad[0])
        ):
            return {"h": h, "w": w, "k": k, "stride": s, "dilation": d, "pad": pad}


def fc_case(rng, *, batches, k, co, extreme=False, bias=True, per_tensor=False, tie_scale=None) -> Case:
    """Per-channel double scales s_in * s_w[c] / s_out from float32 scales, as qparams derives them.
    ``tie_scale`` (a power of two) makes acc * scale land on exact halves."""
    x = rand_int8(rng, (batches, k))
    wt = rng.integers(-127, 128, size=(co, k)).astype(np.int8)
    in_zp = rand_zero_point(rng, extreme)
    out_zp = rand_zero_point(rng, extreme)
    b = rng.integers(-20000, 20000, size=co).astype(np.int32) if bias else None
    if tie_scale is not None:  # small accumulators, so that acc * scale stays unsaturated
        x = rng.integers(-6, 7, size=(batches, k)).astype(np.int8)
        wt = rng.integers(-6, 7, size=(co, k)).astype(np.int8)
        in_zp = 0
        b = rng.integers(-9, 10, size=co).astype(np.int32)
    real = conv_like_scale(x, -in_zp, k)
    s_in = np.float32(rng.uniform(0.005, 0.05))
    s_w = (real * np.exp(rng.uniform(-0.3, 0.3, size=co))).astype(np.float32)
    if extreme:
        s_w[::3] *= np.float32(rng.choice([1e-4, 30.0]))
    s_out = np.float32(s_in)
    out_scale = np.float64(s_in) * s_w.astype(np.float64) / np.float64(s_out)
    if tie_scale is not None:
        out_scale[:] = tie_scale
    if per_tensor:
        out_scale[:] = out_scale[0]
    act_min, act_max = act_range(rng, out_zp)
    y = K.fully_connected(
        x, wt, b, input_offset=-in_zp, output_offset=out_zp, out_scale=out_scale, act_min=act_min, act_max=act_max
    )
    c = Case("fully_connected", name=f"fc_{batches}x{k}to{co}")
    c.ints.update(input_offset=-in_zp, output_offset=out_zp, act_min=act_min, act_max=act_max)
    c.tensors.update(x=x, w=wt, y=y)
    c.reals["out_scale"] = out_scale
    if b is not None:
        c.tensors["bias"] = b
    return c


def add_params(rng, extreme: bool, sub: bool = False) -> dict[str, int]:
    """TFLite's add Prepare: left_shift 20, twice the larger input scale as the common scale."""
    if extreme:
        # tiny and large scales, with output scales that keep part of the range unsaturated
        sa, sb = (float(v) for v in rng.choice([1e-4, 0.003, 0.5, 8.0], size=2))
        so = max(sa, sb) * float(10 ** rng.uniform(-1.0, 1.0))
    else:
        sa, sb, so = (float(v) for v in rng.uniform(0.01, 0.1, size=3))
    twice_max = 2.0 * max(sa, sb)
    left_shift = 20
    a_mult, a_shift = K.quantize_multiplier(sa / twice_max)
    b_mult, b_shift = K.quantize_multiplier(sb / twice_max)
    out_mult, out_shift = K.quantize_multiplier(twice_max / ((1 << left_shift) * so))
    out_zp = rand_zero_point(rng, extreme)
    act_min, act_max = act_range(rng, out_zp)
    return {
        "a_offset": -rand_zero_point(rng, extreme),
        "a_mult": a_mult,
        "a_shift": a_shift,
        "b_offset": -rand_zero_point(rng, extreme),
        "b_mult": -b_mult if sub else b_mult,
        "b_shift": b_shift,
        "left_shift": left_shift,
        "output_offset": out_zp,
        "out_mult": out_mult,
        "out_shift": out_shift,
        "act_min": act_min,
        "act_max": act_max,
    }


def mul_params(rng, extreme: bool) -> dict[str, int]:
    if extreme:
        real = float(10 ** rng.uniform(-5.0, -1.5))
    else:
        real = float(rng.uniform(0.002, 0.02))
    out_mult, out_shift = K.quantize_multiplier(real)
    out_zp = rand_zero_point(rng, extreme)
    act_min, act_max = act_range(rng, out_zp)
    return {
        "a_offset": -rand_zero_point(rng, extreme),
        "b_offset": -rand_zero_point(rng, extreme),
        "output_offset": out_zp,
        "out_mult": out_mult,
        "out_shift": out_shift,
        "act_min": act_min,
        "act_max": act_max,
    }


def binary_case(rng, op: str, a_shape, b_shape, *, extreme=False, windows=False, inplace=False, sub=False) -> Case:
    a = rand_int8(rng, a_shape)
    b = rand_int8(rng, b_shape)
    if op == "add":
        params = add_params(rng, extreme, sub=sub)
        y = K.add(a, b, **params)
    else:
        params = mul_params(rng, extreme)
        y = K.mul(a, b, **params)
    shape_name = "x".join(map(str, a_shape[1:])) + "_" + "x".join(map(str, b_shape[1:]))
    c = Case(op, name=f"{'sub' if sub else op}_{shape_name}{'_inplace' if inplace else ''}")
    c.ints.update(params)
    c.ints["inplace"] = int(inplace)
    c.tensors.update(a=a, b=b, y=y)
    if windows:
        c.embeds["a"] = embed(rng, a.shape)
        c.embeds["b"] = embed(rng, b.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def pool_case(rng, op: str, *, h, w, c, k, stride, pad, windows=False) -> Case:
    x = rand_int8(rng, (1, h, w, c))
    act_min, act_max = act_range(rng, int(rng.integers(-10, 10)))
    fn = K.max_pool2d if op == "max_pool2d" else K.avg_pool2d
    y = fn(x, kernel=k, stride=stride, pad=pad, act_min=act_min, act_max=act_max)
    cs = Case(op, name=f"{op}{k[0]}x{k[1]}_{h}x{w}x{c}_s{stride[0]}{stride[1]}_p{''.join(map(str, pad))}")
    cs.ints.update(
        kernel_h=k[0],
        kernel_w=k[1],
        stride_h=stride[0],
        stride_w=stride[1],
        pad_top=pad[0],
        pad_left=pad[1],
        pad_bottom=pad[2],
        pad_right=pad[3],
        act_min=act_min,
        act_max=act_max,
    )
    cs.tensors.update(x=x, y=y)
    if windows:
        cs.embeds["x"] = embed(rng, x.shape)
        cs.embeds["y"] = embed(rng, y.shape)
    return cs


def mean_case(rng, *, shape, axes, extreme=False, windows=False) -> Case:
    x = rand_int8(rng, shape)
    n = math.prod(shape[a] for a in axes)
    in_zp, out_zp = rand_zero_point(rng, extreme), rand_zero_point(rng, extreme)
    ratio = float(rng.choice([1e-3, 0.5, 30.0])) if extreme else float(rng.uniform(0.5, 2.0))
    mult, shift = K.quantize_multiplier(ratio / n)
    y = K.mean(x, axes=axes, input_offset=-in_zp, output_offset=out_zp, mult=mult, shift=shift)
    c = Case("mean", name=f"mean_{'x'.join(map(str, shape[1:]))}_axes{''.join(map(str, axes))}")
    c.ints.update(
        reduce_h=int(1 in axes),
        reduce_w=int(2 in axes),
        reduce_c=int(3 in axes),
        input_offset=-in_zp,
        output_offset=out_zp,
        mult=mult,
        shift=shift,
    )
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def unary_case(rng, op: str, shape, *, extreme=False, windows=False, inplace=False) -> Case:
    x = rand_int8(rng, shape)
    if extreme:
        x[..., 0] = INT8_MIN
        x[..., -1] = INT8_MAX
    c = Case(
        op, name=f"{op}_{'x'.join(map(str, shape[1:]))}{'_extreme' if extreme else ''}{'_inplace' if inplace else ''}"
    )
    if op == "requantize":
        real = float(rng.choice([1e-4, 0.25, 1.0, 3.7, 200.0])) if extreme else float(rng.uniform(0.3, 3.0))
        mult, shift = K.quantize_multiplier(real)
        params = {
            "input_offset": -rand_zero_point(rng, extreme),
            "output_offset": rand_zero_point(rng, extreme),
            "mult": mult,
            "shift": shift,
        }
        y = K.requantize(x, **params)
    elif op == "relu":
        real = float(rng.choice([0.01, 1.0, 50.0])) if extreme else float(rng.uniform(0.5, 2.0))
        mult, shift = K.quantize_multiplier(real)
        out_zp = rand_zero_point(rng, extreme)
        act_min, act_max = act_range(rng, out_zp)
        params = {
            "input_offset": -rand_zero_point(rng, extreme),
            "output_offset": out_zp,
            "out_mult": mult,
            "out_shift": shift,
            "act_min": act_min,
            "act_max": act_max,
        }
        y = K.relu(x, **params)
    elif op == "clamp":
        lo = int(rng.integers(-128, 20))
        hi = int(rng.integers(lo, 128))
        params = {"lo": lo, "hi": hi}
        # clamp is relu with an identity rescale (mult 2^30, shift 1 is exact).
        y = K.relu(x, input_offset=0, output_offset=0, out_mult=1 << 30, out_shift=1, act_min=lo, act_max=hi)
    elif op == "leaky_relu":
        si, so = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.01, 0.1))
        alpha = float(rng.choice([0.01, 0.1, 0.2, 0.3]))
        im, ish = K.quantize_multiplier(si / so)
        am, ash = K.quantize_multiplier(alpha * si / so)
        params = {
            "input_offset": -rand_zero_point(rng, extreme),
            "output_offset": rand_zero_point(rng, extreme),
            "identity_mult": im,
            "identity_shift": ish,
            "alpha_mult": am,
            "alpha_shift": ash,
        }
        y = K.leaky_relu(x, **params)
    elif op == "lookup_table":
        table = rand_int8(rng, (256,))
        params = {}
        c.tensors["table"] = table
        y = K.lookup_table(x, table=table)
    elif op == "hard_swish":
        params = hard_swish_params(rng, extreme)
        y = K.hard_swish(x, **params)
    elif op == "softmax":
        params = softmax_params(rng, extreme)
        y = K.softmax(x, **params)
    else:
        raise ValueError(op)
    c.ints.update(params)
    c.ints["inplace"] = int(inplace)
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def _downscale_int32_to_int16(mult: int) -> int:
    """TFLite DownScaleInt32ToInt16Multiplier."""
    rounding_offset = 1 << 15
    if mult >= (1 << 31) - rounding_offset:
        return (1 << 15) - 1
    return (mult + rounding_offset) >> 16


def hard_swish_params(rng, extreme: bool) -> dict[str, int]:
    """TFLite HardSwishPrepare for int8."""
    if extreme:
        si, so = float(rng.choice([0.002, 0.05, 0.5])), float(rng.choice([0.01, 0.05, 0.3]))
    else:
        si, so = float(rng.uniform(0.01, 0.1)), float(rng.uniform(0.01, 0.1))
    hires_input_scale = si / 128.0
    reluish_scale = 3.0 / 32768.0
    out_m, out_e = K.quantize_multiplier(hires_input_scale / so)
    rel_m, rel_e = K.quantize_multiplier(hires_input_scale / reluish_scale)
    return {
        "input_zero_point": rand_zero_point(rng, extreme),
        "output_zero_point": rand_zero_point(rng, extreme),
        "reluish_multiplier_fixedpoint_int16": _downscale_int32_to_int16(rel_m),
        "reluish_multiplier_exponent": rel_e,
        "output_multiplier_fixedpoint_int16": _downscale_int32_to_int16(out_m),
        "output_multiplier_exponent": out_e,
    }


def softmax_params(rng, extreme: bool) -> dict[str, int]:
    """TFLite PreprocessSoftmaxScaling + CalculateInputRadius (5 integer bits)."""
    beta = 1.0
    scale = float(rng.choice([0.001, 0.0625, 0.5, 2.0])) if extreme else float(rng.uniform(0.02, 0.2))
    real = min(beta * scale * (1 << (31 - 5)), (1 << 31) - 1.0)
    mult, left_shift = K.quantize_multiplier_greater_than_one(real)
    max_input_rescaled = 1.0 * ((1 << 5) - 1) * (1 << (31 - 5)) / (1 << left_shift)
    diff_min = -math.floor(max_input_rescaled)
    return {"input_beta_multiplier": mult, "input_beta_left_shift": left_shift, "diff_min": diff_min}


def pad_case(rng, shape, pads, *, windows=False) -> Case:
    x = rand_int8(rng, shape)
    value = int(rng.integers(-128, 128))
    y = K.pad(x, pads=pads, value=value)
    c = Case("pad", name=f"pad_{'x'.join(map(str, shape[1:]))}")
    (_, _), (pt, pb), (pl, pr), (cb, ca) = pads
    c.ints.update(pad_top=pt, pad_left=pl, pad_bottom=pb, pad_right=pr, pad_c_before=cb, pad_c_after=ca, value=value)
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def concat_case(rng, shapes, axis, *, windows=False) -> Case:
    xs = [rand_int8(rng, s) for s in shapes]
    y = K.concat(xs, axis=axis)
    c = Case("concat", name=f"concat{len(xs)}_axis{axis}")
    c.ints.update(count=len(xs), axis=axis - 1)
    for i, x in enumerate(xs):
        c.tensors[f"x{i}"] = x
        if windows:
            c.embeds[f"x{i}"] = embed(rng, x.shape)
    c.tensors["y"] = y
    if windows:
        c.embeds["y"] = embed(rng, y.shape)
    return c


def resize_case(rng, shape, size, *, windows=False) -> Case:
    x = rand_int8(rng, shape)
    y = K.resize_nearest(x, size=size)
    c = Case("resize_nearest", name=f"resize_{shape[1]}x{shape[2]}to{size[0]}x{size[1]}")
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def slice_case(rng, shape, begin, size, strides, *, windows=False) -> Case:
    """edgec_strided_slice on a [1,H,W,C] tensor (begin/size/strides over H, W, C)."""
    x = rand_int8(rng, shape)
    y = K.strided_slice(x, begin=(0, *begin), size=(1, *size), strides=(1, *strides))
    c = Case("strided_slice", name=f"slice_{'x'.join(map(str, shape[1:]))}_to_{'x'.join(map(str, size))}")
    c.ints.update({f"begin_{a}": b for a, b in zip("hwc", begin)})
    c.ints.update({f"stride_{a}": s for a, s in zip("hwc", strides)})
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def reduce_max_case(rng, *, shape, axes, windows=False) -> Case:
    x = rand_int8(rng, shape)
    y = K.reduce_max(x, axes=axes)
    c = Case("reduce_max", name=f"reduce_max_{'x'.join(map(str, shape[1:]))}_axes{''.join(map(str, axes))}")
    c.ints.update(reduce_h=int(1 in axes), reduce_w=int(2 in axes), reduce_c=int(3 in axes))
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def gather_case(rng, shape, axis, indices, *, windows=False) -> Case:
    """edgec_gather on a [1,H,W,C] tensor along axis 1, 2 or 3 (view axis 0, 1, 2)."""
    x = rand_int8(rng, shape)
    y = K.gather(x, axis=axis, indices=indices)
    c = Case("gather", name=f"gather_{'x'.join(map(str, shape[1:]))}_axis{axis}_{len(indices)}")
    c.ints["axis"] = axis - 1
    c.tensors.update(x=x, y=y, indices=np.asarray(indices, dtype=np.int64))
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def minmax_case(rng, op: str, a_shape, b_shape, *, windows=False, inplace=False) -> Case:
    a = rand_int8(rng, a_shape)
    b = rand_int8(rng, b_shape)
    y = getattr(K, op)(a, b)
    shape_name = "x".join(map(str, a_shape[1:])) + "_" + "x".join(map(str, b_shape[1:]))
    c = Case(op, name=f"{op}_{shape_name}{'_inplace' if inplace else ''}")
    c.ints["inplace"] = int(inplace)
    c.tensors.update(a=a, b=b, y=y)
    if windows:
        c.embeds["a"] = embed(rng, a.shape)
        c.embeds["b"] = embed(rng, b.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def transpose_conv_case(
    rng, *, h, w, ci, co, k, stride=(1, 1), dilation=(1, 1), pad=(0, 0, 0, 0), extreme=False, bias=True, windows=False
) -> Case:
    """``pad`` (top, left, bottom, right) crops the full scatter; negative bottom/right extend it."""
    kh, kw = k
    x = rand_int8(rng, (1, h, w, ci))
    wt = rng.integers(-127, 128, size=(co, kh, kw, ci)).astype(np.int8)
    in_zp = rand_zero_point(rng, extreme)
    out_zp = rand_zero_point(rng, extreme)
    b = rng.integers(-5000, 5000, size=co).astype(np.int32) if bias else None
    # each output pixel sums about kh*kw*ci/(sh*sw) products
    real = conv_like_scale(x, -in_zp, max(1, kh * kw * ci // (stride[0] * stride[1])))
    mult, shift = extreme_mult_shift(rng, real, co) if extreme else mult_shift_for(rng, real, co)
    act_min, act_max = act_range(rng, out_zp)
    y = K.transpose_conv2d(
        x,
        wt,
        b,
        stride=stride,
        dilation=dilation,
        pad=pad,
        input_offset=-in_zp,
        output_offset=out_zp,
        out_mult=mult,
        out_shift=shift,
        act_min=act_min,
        act_max=act_max,
    )
    c = Case(
        "transpose_conv2d",
        name=f"tconv{kh}x{kw}_{h}x{w}x{ci}to{co}_s{stride[0]}{stride[1]}_d{dilation[0]}{dilation[1]}_p{'_'.join(map(str, pad))}",
    )
    c.ints.update(
        stride_h=stride[0],
        stride_w=stride[1],
        dilation_h=dilation[0],
        dilation_w=dilation[1],
        pad_top=pad[0],
        pad_left=pad[1],
        input_offset=-in_zp,
        output_offset=out_zp,
        act_min=act_min,
        act_max=act_max,
    )
    c.tensors.update(x=x, w=wt, out_mult=mult, out_shift=shift, y=y)
    if b is not None:
        c.tensors["bias"] = b
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def prelu_case(rng, x_shape, alpha_shape, *, extreme=False, windows=False, inplace=False) -> Case:
    x = rand_int8(rng, x_shape)
    alpha = rand_int8(rng, alpha_shape)
    if extreme:
        x[..., 0] = INT8_MIN
        x[..., -1] = INT8_MAX
    si, sa, so = (float(v) for v in rng.uniform(0.005, 0.1, size=3))
    if extreme:
        sa = float(rng.choice([1e-4, 0.5]))
    im, ish = K.quantize_multiplier(si / so)
    am, ash = K.quantize_multiplier(si * sa / so)
    params = {
        "input_offset": -rand_zero_point(rng, extreme),
        "alpha_offset": -rand_zero_point(rng, extreme),
        "output_offset": rand_zero_point(rng, extreme),
        "identity_mult": im,
        "identity_shift": ish,
        "alpha_mult": am,
        "alpha_shift": ash,
    }
    y = K.prelu(x, alpha, **params)
    c = Case(
        "prelu",
        name=f"prelu_{'x'.join(map(str, x_shape[1:]))}_a{'x'.join(map(str, alpha_shape[1:]))}{'_inplace' if inplace else ''}",
    )
    c.ints.update(params)
    c.ints["inplace"] = int(inplace)
    c.tensors.update(x=x, alpha=alpha, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["alpha"] = embed(rng, alpha.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def resize_bilinear_case(rng, shape, size, *, align_corners=False, half_pixel_centers=False, windows=False) -> Case:
    x = rand_int8(rng, shape)
    y = K.resize_bilinear(x, size=size, align_corners=align_corners, half_pixel_centers=half_pixel_centers)
    mode = "ac" if align_corners else "hp" if half_pixel_centers else "asym"
    c = Case("resize_bilinear", name=f"bilinear_{mode}_{shape[1]}x{shape[2]}to{size[0]}x{size[1]}")
    c.ints.update(align_corners=int(align_corners), half_pixel_centers=int(half_pixel_centers))
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def space_depth_case(rng, op: str, shape, block: int, *, crd=False, windows=False) -> Case:
    x = rand_int8(rng, shape)
    if op == "depth_to_space":
        y = K.depth_to_space(x, block_size=block, crd=crd)
    else:
        y = K.space_to_depth(x, block_size=block)
    c = Case(op, name=f"{op}{'_crd' if crd else ''}_{'x'.join(map(str, shape[1:]))}_b{block}{'_win' if windows else ''}")
    c.ints.update(block_size=block)
    if op == "depth_to_space":
        c.ints["crd"] = int(crd)
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def squared_difference_case(rng, a_shape, b_shape, *, extreme=False, windows=False, inplace=False) -> Case:
    """TFLite's SquaredDifference Prepare: left_shift 7, twice the larger input scale as the common scale."""
    a = rand_int8(rng, a_shape)
    b = rand_int8(rng, b_shape)
    if extreme:
        sa, sb = (float(v) for v in rng.choice([1e-3, 0.02, 0.5], size=2))
        so = max(sa, sb) ** 2 * float(10 ** rng.uniform(0.5, 4.0))
    else:
        sa, sb = (float(v) for v in rng.uniform(0.01, 0.1, size=2))
        so = max(sa, sb) ** 2 * float(rng.uniform(20.0, 200.0))
    twice_max = 2.0 * max(sa, sb)
    a_mult, a_shift = K.quantize_multiplier(sa / twice_max)
    b_mult, b_shift = K.quantize_multiplier(sb / twice_max)
    out_mult, out_shift = K.quantize_multiplier(twice_max * twice_max / ((1 << 14) * so))
    params = {
        "a_offset": -rand_zero_point(rng, extreme),
        "a_mult": a_mult,
        "a_shift": a_shift,
        "b_offset": -rand_zero_point(rng, extreme),
        "b_mult": b_mult,
        "b_shift": b_shift,
        "left_shift": 7,
        "output_offset": rand_zero_point(rng, extreme),
        "out_mult": out_mult,
        "out_shift": out_shift,
    }
    y = np.broadcast_to(K.squared_difference(a, b, **params), np.broadcast_shapes(a_shape, b_shape))
    shape_name = "x".join(map(str, a_shape[1:])) + "_" + "x".join(map(str, b_shape[1:]))
    c = Case("squared_difference", name=f"sqdiff_{shape_name}{'_inplace' if inplace else ''}")
    c.ints.update(params)
    c.ints["inplace"] = int(inplace)
    c.tensors.update(a=a, b=b, y=y)
    if windows:
        c.embeds["a"] = embed(rng, a.shape)
        c.embeds["b"] = embed(rng, b.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def l2_normalization_case(rng, shape, *, windows=False, constant=None) -> Case:
    x = rand_int8(rng, shape)
    if constant is not None:
        x[...] = constant
    zp = int(rng.integers(-60, 60)) if constant is None else 0
    y = K.l2_normalization(x, input_zero_point=zp)
    c = Case("l2_normalization", name=f"l2norm_{'x'.join(map(str, shape[1:]))}{'_win' if windows else ''}")
    c.ints.update(input_zero_point=zp)
    c.tensors.update(x=x, y=y)
    if windows:
        c.embeds["x"] = embed(rng, x.shape)
        c.embeds["y"] = embed(rng, y.shape)
    return c


def primitive_case(rng, n: int = 4000) -> Case:
    """multiply_by_quantized_multiplier on extreme accumulators, multipliers and shifts."""
    x = np.concatenate(
        [
            rng.integers(-(2**31), 2**31, size=n // 2),
            rng.integers(-(2**16), 2**16, size=n // 4),
            np.array([0, 1, -1, 2**31 - 1, -(2**31), 2**30, -(2**30), 12345, -12345]),
        ]
    )
    x = np.concatenate([x, rng.integers(-300, 300, size=n - x.size)]).astype(np.int64)
    mult = rng.choice([0, 1 << 30, (1 << 30) + 1, (1 << 31) - 1, 1518500250, 1395864371], size=x.size)
    mult = np.where(rng.random(x.size) < 0.5, mult, rng.integers(1 << 30, 1 << 31, size=x.size))
    shift = rng.integers(-31, 11, size=x.size)
    y = K.multiply_by_quantized_multiplier(x, mult, shift)
    a = rng.integers(-(2**31), 2**31, size=n)
    a[:3] = [-(2**31), -(2**31), 2**31 - 1]
    b = rng.integers(-(2**31), 2**31, size=n)
    b[:3] = [-(2**31), 2**31 - 1, -(2**31)]
    e = rng.integers(0, 32, size=n)
    c = Case("primitives", name="mbqm_srdhm_rdbpot")
    c.tensors.update(
        x=x,
        mult=mult,
        shift=shift,
        y=y,
        a=a,
        b=b,
        srdhm=K.saturating_rounding_doubling_high_mul(a, b),
        e=e,
        rdbpot=K.rounding_divide_by_pot(a, e),
    )
    return c


def requant_fast_case(rng, n: int = 6000) -> Case:
    """rq_fast (runtime/kernels/requant_fast.h) against TFLite's MultiplyByQuantizedMultiplier, on
    accumulators inside its precondition |acc| * 2^(max(shift, 0) + 1) < 2^31, edges included."""
    shift = rng.integers(-31, 11, size=n)
    limit = np.int64(1) << (30 - np.maximum(shift, 0))  # |acc| < limit
    kind = rng.integers(0, 4, size=n)
    acc = np.where(
        kind == 0,
        (rng.random(n) * (2 * limit - 1)).astype(np.int64) - (limit - 1),
        np.where(kind == 1, rng.integers(-1000, 1001, size=n), np.where(rng.random(n) < 0.5, limit - 1, 1 - limit)),
    )
    acc[kind == 3] = rng.integers(-3, 4, size=int(np.sum(kind == 3)))
    mult = rng.integers(1 << 30, 1 << 31, size=n)
    mult[::7] = 1 << 30
    mult[1::7] = (1 << 31) - 1
    c = Case("requant_fast", name="rq_fast_vs_mbqm")
    c.tensors.update(acc=acc, mult=mult, shift=shift, y=K.multiply_by_quantized_multiplier(acc, mult, shift))
    return c


def dsp_variant_cases(cases: list[Case]) -> list[Case]:
    """The DSP-variant twin (runtime/kernels/conv_dsp.c) of every conv2d / fully-connected case the
    variant handles: same inputs, windows and expected output (the numpy twin's), plus the constants
    the code generator prepares (edgec/codegen/dsp_emitters.py)."""
    from edgec.codegen import dsp_emitters as D
    from edgec.codegen.kernel_variants import accumulator_bound, folded_bias

    twins = []
    for c in cases:
        bias = c.tensors.get("bias")
        offset = c.ints.get("input_offset", 0)
        if c.op in ("conv2d", "conv2d_1x1"):
            w = c.tensors["w"]
            _, kh, kw, ci = w.shape
            if c.ints["groups"] != 1 or c.ints["dilation_w"] != 1 or kh * kw * ci > D.MAX_FIELD:
                continue
            bound = accumulator_bound(w, bias, offset, channel_axis=0)
            mode = D.requant_mode(bound, c.tensors["out_shift"], c.ints["output_offset"])
            mult, shift = c.tensors["out_mult"], c.tensors["out_shift"]
            blocks = D.conv_blocks(w, bias, offset, mult, shift, mode, c.ints["output_offset"])
            op = "conv2d_dsp"
        elif c.op == "fully_connected":
            w = c.tensors["w"]
            blocks = D.oc4_layout(w.astype(np.int64)[:, None, :], (folded_bias(w, bias, offset, channel_axis=0),))
            op = "fully_connected_dsp"
        else:
            continue
        twin = Case(op, ints=dict(c.ints), tensors=dict(c.tensors), embeds=dict(c.embeds), reals=dict(c.reals))
        twin.name = f"{c.name or c.op}_dsp"
        twin.tensors["blocks"] = blocks
        twins.append(twin)
        run = w.shape[-1] * (w.shape[2] if op == "conv2d_dsp" else 1)
        if run % 4 == 0:  # the compact twin (oc4 int8 layout), every epilogue the build may choose
            for m in range(mode + 1) if op == "conv2d_dsp" else [None]:
                compact = Case(f"{op}_int8", ints=dict(c.ints), tensors=dict(c.tensors), embeds=dict(c.embeds), reals=dict(c.reals))
                compact.name = f"{c.name or c.op}_dsp_int8" + (f"_mode{m}" if m is not None and m < mode else "")
                if m is not None:
                    compact.ints["fast_requant"] = m
                    compact.tensors["blocks"] = D.conv_int8_blocks(w, bias, offset, mult, shift, m)
                else:
                    compact.tensors["blocks"] = D.oc4_int8_layout(w.astype(np.int64)[:, None, :], (folded_bias(w, bias, offset, channel_axis=0),))
                twins.append(compact)
        if op == "conv2d_dsp":
            twin.ints["fast_requant"] = mode
            for other in range(mode):  # the epilogues the build may choose, down to the general one
                slow = Case(op, ints={**twin.ints, "fast_requant": other}, tensors=dict(twin.tensors), embeds=twin.embeds)
                slow.tensors["blocks"] = D.conv_blocks(w, bias, offset, mult, shift, other, c.ints["output_offset"])
                slow.name = f"{twin.name}_mode{other}"
                twins.append(slow)
    return twins


# ---- m4speed4: single-channel 3x3 convs (conv_dsp.c's conv_pixels_c1, the c1 layout) -------------


def c1_conv_cases(rng) -> list[Case]:
    """3x3 convs on one input channel (the first conv of a grey-scale model): strides, padding,
    dilated rows, 1..3 channels past the last full block, gathered columns (windows), clamped and
    extreme ranges; their DSP twins (dsp_variant_cases) take the c1 layout in epilogue mode 2."""
    cases = []
    for h, w, co, s, d, pad in [
        (28, 28, 16, (1, 1), (1, 1), (1, 1, 1, 1)),
        (10, 9, 8, (1, 1), (1, 1), (0, 0, 0, 0)),
        (11, 12, 5, (2, 2), (1, 1), (0, 0, 1, 1)),
        (9, 7, 6, (2, 1), (1, 1), (1, 1, 1, 1)),
        (8, 8, 3, (1, 1), (2, 1), (2, 1, 2, 1)),
        (3, 3, 7, (1, 1), (1, 1), (1, 1, 1, 1)),
        (3, 800, 4, (1, 1), (1, 1), (0, 1, 0, 1)),  # three rows wider than c1_walk's buffer: conv_walk
        (40, 120, 4, (1, 1), (1, 1), (1, 1, 1, 1)),  # c1_walk in chunks of output rows
        (41, 60, 5, (2, 2), (2, 1), (2, 0, 2, 1)),  # chunks, strided, dilated rows
    ]:
        for extreme in (False, True):
            cases.append(
                conv_case(rng, h=h, w=w, ci=1, co=co, k=(3, 3), stride=s, dilation=d, pad=pad, extreme=extreme,
                          windows=extreme, bias=not extreme, name=f"conv3x3c1_{h}x{w}to{co}_s{s[0]}{s[1]}_d{d[0]}"
                          + ("_x" if extreme else ""))
            )  # fmt: skip
    for base in (cases[0], cases[6]):  # a clamped activation range (a ReLU6-like window) in every lane
        c = Case(base.op, name=base.name + "_clamped", ints=dict(base.ints), tensors=dict(base.tensors))
        c.ints.update(act_min=max(-128, c.ints["output_offset"]), act_max=min(127, c.ints["output_offset"] + 40))
        t, i = c.tensors, c.ints
        t["y"] = K.conv2d(t["x"], t["w"], t.get("bias"), stride=(i["stride_h"], i["stride_w"]),
                          dilation=(i["dilation_h"], i["dilation_w"]),
                          pad=(i["pad_top"], i["pad_left"], i["pad_bottom"], i["pad_right"]),
                          input_offset=i["input_offset"], output_offset=i["output_offset"], out_mult=t["out_mult"],
                          out_shift=t["out_shift"], act_min=i["act_min"], act_max=i["act_max"], groups=1)  # fmt: skip
        cases.append(c)
    return cases


# ---- end m4speed4 -----------------------------------------------------------------------------------


# ---- mve1x1: the Helium 1x1 convs over 32 input channels (conv1x1_wide in conv_mve.c) ----------------


def mve_wide1x1_cases(rng) -> list[Case]:
    """1x1 convs of 33..400 input channels with whole blocks of four output channels, every shift below
    0 (conv1x1_wide): each vector count of a whole pixel (3..7, the last vector full or partial), pixels
    in parts of six vectors plus a last part of 1..6 (partial sums), more blocks than one staged chunk
    (48), strides and gathered views; each also with extreme zero points and multipliers (shifts kept
    below 0, so the assembly requantizes them) and a clamped range."""
    cases = []
    for h, w, ci, co, s in [
        (3, 5, 33, 8, (1, 1)),  # three vectors, one channel in the last
        (2, 3, 48, 12, (1, 1)),  # three whole vectors
        (3, 3, 56, 16, (2, 1)),
        (1, 3, 72, 4, (1, 1)),  # five vectors
        (2, 2, 96, 20, (1, 1)),  # six: every input register
        (3, 2, 100, 8, (1, 2)),  # seven, the last reloaded per row
        (2, 1, 112, 196, (1, 1)),  # seven whole vectors; 49 blocks: two staged chunks
        (1, 3, 113, 8, (1, 1)),  # two parts: six vectors and one channel
        (2, 2, 144, 24, (1, 1)),  # six and three
        (1, 2, 192, 12, (1, 1)),  # six and six (the last part whole)
        (1, 2, 200, 8, (1, 1)),  # three parts, the last of eight channels
        (2, 1, 336, 4, (2, 1)),
        (1, 1, 400, 196, (1, 1)),  # five parts, two chunks
    ]:
        for extreme in (False, True):
            c = conv_case(rng, h=h, w=w, ci=ci, co=co, k=(1, 1), stride=s, extreme=extreme, windows=extreme,
                          name=f"mve_wide1x1_{h}x{w}x{ci}to{co}_s{s[0]}{s[1]}" + ("_x" if extreme else ""))  # fmt: skip
            t, i = c.tensors, c.ints
            if extreme:  # right shifts only, at both ends
                t["out_shift"] = np.where(t["out_shift"] < 0, t["out_shift"], rng.choice([-1, -31], size=co))
            else:
                i.update(act_min=max(-128, i["output_offset"]), act_max=min(127, i["output_offset"] + 40))
            t["y"] = K.conv2d(t["x"], t["w"], t.get("bias"), stride=(i["stride_h"], i["stride_w"]),
                              dilation=(1, 1), pad=(0, 0, 0, 0), input_offset=i["input_offset"],
                              output_offset=i["output_offset"], out_mult=t["out_mult"], out_shift=t["out_shift"],
                              act_min=i["act_min"], act_max=i["act_max"], groups=1)  # fmt: skip
            cases.append(c)
    return cases


# ---- end mve1x1 ---------------------------------------------------------------------------------------
# ---- mvefirst: the Cortex-M55 first conv (conv_first_mve.c) ------------------------------------


def _conv_again(c: Case) -> Case:
    """c's expected output recomputed after its parameters were changed."""
    t, i = c.tensors, c.ints
    t["y"] = K.conv2d(t["x"], t["w"], t.get("bias"), stride=(i["stride_h"], i["stride_w"]),
                      dilation=(i["dilation_h"], i["dilation_w"]),
                      pad=(i["pad_top"], i["pad_left"], i["pad_bottom"], i["pad_right"]),
                      input_offset=i["input_offset"], output_offset=i["output_offset"], out_mult=t["out_mult"],
                      out_shift=t["out_shift"], act_min=i["act_min"], act_max=i["act_max"], groups=1)  # fmt: skip
    return c


def mve_first_conv_cases(rng) -> list[Case]:
    """Dense convs whose field is at most 32 bytes with whole blocks of four output channels and right
    shifts (the Helium first conv: transposed input columns, pixel pairs): RGB 3x3 stride 2 as in
    MobileNetV2 and MCUNet, odd output widths (the single last pixel), rows wider than one column
    segment, 8 blocks of channels, padding on every side (rows and columns of zero points), dilated
    rows, 1..16 input channels (scatters of whole and partial pixels), 1..16 kernel rows; extreme
    multipliers with right shifts down to -31, a clamped range, no bias; and shapes it hands back
    (a shift of 0 or more, four channels short of a block)."""
    cases = []
    for h, w, ci, co, k, s, d, pad in [
        (9, 12, 3, 16, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),  # MobileNetV2 / MCUNet's first conv
        (7, 11, 3, 16, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        (6, 13, 3, 8, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),  # 7 outputs a row: the last one alone
        (5, 161, 3, 32, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),  # 81 outputs: segments of 70 and 11
        (4, 150, 3, 4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # segments of 140 and 10
        (8, 9, 1, 12, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
        (9, 10, 2, 8, (3, 5), (1, 2), (2, 1), (2, 2, 2, 2)),  # dilated rows
        (6, 7, 5, 4, (2, 3), (2, 1), (1, 1), (0, 1, 1, 1)),  # 5 channels: 3 pixels and a byte a scatter
        (5, 6, 7, 8, (2, 2), (1, 1), (1, 1), (1, 0, 0, 1)),
        (4, 5, 16, 12, (1, 2), (1, 1), (1, 1), (0, 1, 0, 0)),  # one pixel a scatter
        (3, 6, 10, 8, (1, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # one kernel row: whole rows of zero points
        (20, 5, 2, 4, (16, 1), (1, 1), (1, 1), (7, 0, 8, 0)),  # 16 kernel rows: scatter offsets up to 225
        (5, 5, 12, 8, (1, 1), (1, 1), (1, 1), (1, 1, 1, 1)),  # a padded 1x1
    ]:
        cases.append(conv_case(rng, h=h, w=w, ci=ci, co=co, k=k, stride=s, dilation=d, pad=pad,
                               name=f"first{k[0]}x{k[1]}_{h}x{w}x{ci}to{co}_s{s[0]}{s[1]}_d{d[0]}"))  # fmt: skip
    for base in (cases[0], cases[3]):
        # extreme multipliers and zero points with right shifts only (-31 rounds almost all to 0)
        c = conv_case(rng, h=base.tensors["x"].shape[1], w=base.tensors["x"].shape[2], ci=3,
                      co=base.tensors["w"].shape[0], k=(3, 3), stride=(2, 2),
                      pad=tuple(base.ints[k] for k in ("pad_top", "pad_left", "pad_bottom", "pad_right")),
                      extreme=True, bias=True, name=base.name + "_x")  # fmt: skip
        c.tensors["out_shift"] = rng.choice([-31, -24, -16, -9, -8, -2, -1], size=c.tensors["out_shift"].shape)
        cases.append(_conv_again(c))
        c = Case(base.op, name=base.name + "_clamped_nobias", ints=dict(base.ints), tensors=dict(base.tensors))
        c.ints.update(act_min=max(-128, c.ints["output_offset"]), act_max=min(127, c.ints["output_offset"] + 40))
        del c.tensors["bias"]
        cases.append(_conv_again(c))
    for shift in (0, 3):  # one channel's shift not below 0: the other paths
        c = Case(cases[0].op, name=cases[0].name + f"_shift{shift}", ints=dict(cases[0].ints),
                 tensors=dict(cases[0].tensors))  # fmt: skip
        c.tensors["out_shift"] = c.tensors["out_shift"].copy()
        c.tensors["out_shift"][5] = shift
        cases.append(_conv_again(c))
    cases.append(conv_case(rng, h=9, w=12, ci=3, co=14, k=(3, 3), stride=(2, 2), pad=(0, 0, 1, 1),
                           name="first3x3_9x12x3to14_partial_block"))  # fmt: skip
    return cases


# ---- end mvefirst -------------------------------------------------------------------------------
# ---- mvedw: the MVE depthwise ring's assembly row bodies (depthwise_pairs_mve.c asm_row_*) ------------


def mvedw_depthwise_cases(rng) -> list[Case]:
    """Depthwise cases whose shifts are all below 0 (the ring's assembly bodies take only those):
    each kernel size and stride, whole blocks and tails of 1, 8 and 15 channels, rows of 1 to 3
    outputs, and extreme multipliers (each shift min(shift, -1)) whose sums saturate the int16
    narrowing before the offset and the clamp.  A wrong tap offset, weight order, lane order, row
    step or tail predicate in any body fails them."""
    cases = []
    for h, w, c, k, s, pad in [
        (6, 6, 33, (3, 3), (1, 1), (1, 1, 1, 1)),
        (3, 3, 40, (3, 3), (1, 1), (1, 1, 1, 1)),  # rows of 3 outputs
        (2, 2, 31, (3, 3), (1, 1), (1, 1, 1, 1)),  # rows of 2
        (2, 1, 17, (3, 3), (2, 2), (0, 0, 1, 1)),  # rows of 1
        (9, 13, 24, (3, 3), (2, 2), (0, 0, 1, 1)),
        (8, 9, 47, (5, 5), (1, 1), (2, 2, 2, 2)),
        (9, 11, 16, (5, 5), (2, 2), (1, 1, 2, 2)),
        (8, 8, 18, (7, 7), (1, 1), (3, 3, 3, 3)),
        (11, 12, 32, (7, 7), (2, 2), (2, 2, 3, 3)),
        (3, 3, 40, (7, 7), (1, 1), (3, 3, 3, 3)),  # a map under the kernel's size (MCUNet op 39)
    ]:
        for extreme in (False, True):
            case = depthwise_case(rng, h=h, w=w, ci=c, m=1, k=k, stride=s, pad=pad, extreme=extreme,
                                  name=f"dw{k[0]}x{k[1]}_{h}x{w}x{c}_s{s[0]}{s[1]}_mve_asm" + ("_x" if extreme else ""))
            t, i = case.tensors, case.ints
            t["out_shift"] = np.minimum(t["out_shift"], -1)
            t["y"] = K.depthwise_conv2d(t["x"], t["w"], t.get("bias"), stride=s, dilation=(1, 1), pad=pad,
                                        depth_multiplier=1, input_offset=i["input_offset"],
                                        output_offset=i["output_offset"], out_mult=t["out_mult"],
                                        out_shift=t["out_shift"], act_min=i["act_min"], act_max=i["act_max"])
            cases.append(case)
    return cases


# ---- end mvedw ------------------------------------------------------------------------------------
# ---- mvedw2: the MVE depthwise ring's direct rows (depthwise_pairs_mve.c direct_row) ------------------


def mvedw2_cases(rng) -> list[Case]:
    """Depthwise cases for the ring's direct rows (shifts all below 0, whole blocks, a dense input
    whose column stride has a direct body: 16, 48 or 96 bytes): output rows at the top and
    bottom borders (the ring) between direct rows, one and several blocks, left and right border
    windows of one and two outputs, no border at all, both strides, each kernel size, an input
    inside a wider buffer (its row stride), an output inside one (its column stride), a buffer
    offset that breaks 4-byte alignment (the ring instead), and channels that are not whole blocks
    in a 48-byte column (the ring).  A wrong tap offset, column stride, border window, row pointer
    or ring padding after a direct row fails them."""
    cases = []
    for h, w, c, k, s, pad, embed_x, embed_y, bias in [
        # one output row (a row-streamed call: every row direct), pad (top, left, bottom, right)
        (3, 26, 16, 3, 1, (0, 1, 0, 1), None, None, True),
        (3, 26, 48, 3, 1, (0, 1, 0, 1), None, None, True),  # three blocks
        (3, 14, 48, 3, 2, (0, 0, 0, 1), None, None, True),  # a right window only
        (3, 13, 96, 3, 2, (0, 0, 0, 1), None, None, True),
        (3, 25, 64, 3, 1, (0, 1, 0, 1), None, None, True),  # 64: no direct body (the ring)
        (3, 25, 48, 3, 1, (0, 0, 0, 0), None, None, True),  # no border
        (3, 26, 16, 3, 1, (0, 0, 0, 2), None, None, True),  # a right window of two outputs
        (3, 26, 48, 3, 1, (0, 2, 0, 0), None, None, True),  # a left window of two outputs
        (5, 16, 96, 5, 2, (0, 1, 0, 2), None, None, True),
        (5, 15, 48, 5, 1, (0, 2, 0, 2), None, None, True),
        (5, 15, 96, 5, 1, (0, 2, 0, 2), None, None, True),
        (5, 16, 16, 5, 1, (0, 2, 0, 2), None, None, True),
        (7, 15, 48, 7, 2, (0, 2, 0, 3), None, None, True),
        (7, 12, 96, 7, 1, (0, 3, 0, 3), None, None, True),  # 96 columns of 7x7: past VLDRW's offsets
        (7, 11, 16, 7, 1, (0, 3, 0, 3), None, None, True),
        # whole layers wide enough for direct rows between the ring's border rows
        (6, 74, 16, 3, 1, (1, 1, 1, 1), None, None, True),
        (5, 40, 48, 3, 2, (1, 1, 1, 1), None, None, True),  # ring rows in every block after direct rows
        (7, 40, 96, 5, 2, (1, 1, 2, 2), None, None, True),
        (9, 40, 48, 7, 2, (2, 2, 3, 3), None, None, True),
        (5, 40, 32, 3, 2, (1, 1, 1, 1), (6, 42, 48, 1, 2, 16), (4, 21, 35, 1, 0, 3), True),  # wider buffers
        (5, 40, 32, 3, 2, (1, 1, 1, 1), (5, 40, 48, 0, 0, 2), None, True),  # not 4-byte aligned: the ring
        (5, 40, 40, 3, 2, (1, 1, 1, 1), (5, 40, 48, 0, 0, 0), None, True),  # a tail block: the ring
        (6, 12, 48, 3, 2, (0, 0, 1, 1), None, None, True),  # too narrow for direct rows: the ring
        (5, 7, 40, 5, 1, (2, 2, 2, 2), None, None, False),  # no bias (the ring's starts per block)
        (3, 26, 48, 3, 1, (0, 1, 0, 1), None, None, False),  # no bias, direct rows
    ]:
        for extreme in (False, True):
            case = depthwise_case(rng, h=h, w=w, ci=c, m=1, k=(k, k), stride=(s, s), pad=pad, extreme=extreme,
                                  bias=bias, name=f"dw{k}x{k}_{h}x{w}x{c}_s{s}_mve_direct" + ("_x" if extreme else ""))
            t, i = case.tensors, case.ints
            t["out_shift"] = np.minimum(t["out_shift"], -1)
            t["y"] = K.depthwise_conv2d(t["x"], t["w"], t.get("bias"), stride=(s, s), dilation=(1, 1), pad=pad,
                                        depth_multiplier=1, input_offset=i["input_offset"],
                                        output_offset=i["output_offset"], out_mult=t["out_mult"],
                                        out_shift=t["out_shift"], act_min=i["act_min"], act_max=i["act_max"])
            if embed_x:
                case.embeds["x"] = embed_x
                case.name += "_emb"
            if embed_y:
                case.embeds["y"] = embed_y
            cases.append(case)
    return cases


# ---- end mvedw2 -----------------------------------------------------------------------------------


# ---- mveadd: edgec_add_mve's runs, scale kinds and fallbacks (own stream) ----
def mve_add_case(rng, name: str, a_shape, b_shape, *, extreme=False, embeds=None, fill=None, **override) -> Case:
    """An add case whose parameters ``override`` changes (the expected output follows them); ``embeds``
    places operands a, b and y in larger buffers; ``fill`` = (a value, b value) fills the inputs."""
    c = Case("add", name="mveadd_" + name.replace(" ", "").replace("(", "").replace(")", "").replace(",", "_"))
    c.ints.update(add_params(rng, extreme), inplace=0)
    c.ints.update(override)
    a, b = rand_int8(rng, a_shape), rand_int8(rng, b_shape)
    if fill is not None:
        a, b = np.full(a_shape, fill[0], dtype=np.int8), np.full(b_shape, fill[1], dtype=np.int8)
    c.tensors.update(a=a, b=b, y=K.add(a, b, **{k: c.ints[k] for k in ADD_KEYS}))
    c.embeds.update(embeds or {})
    return c


def mve_add_cases(rng) -> list[Case]:
    """edgec_add_mve: whole-tensor runs of every length mod 16 (the sixteen-element steps, the
    four-element steps and the predicated tail), runs of a row (rows padded, channels not) and of a
    pixel (channels padded), a single value on either side, each pair of scale kinds (shift < 0 and
    shift == 0 on a and b, either order), sub, a wrapping left shift, extreme values, and the
    parameters it hands to edgec_add (input shift > 0, output shift >= 0)."""
    cases = []
    for n in (1, 3, 4, 7, 16, 17, 30, 45, 64, 79):
        cases.append(mve_add_case(rng, f"len{n}", (1, 1, 1, n), (1, 1, 1, n), extreme=n % 2 == 1))
    cases.append(mve_add_case(rng, "24x24x8", (1, 24, 24, 8), (1, 24, 24, 8)))
    rows = {"a": (5, 9, 6, 0, 1, 0), "b": (6, 7, 6, 1, 0, 0), "y": (5, 8, 6, 0, 1, 0)}  # row padding only
    cases.append(mve_add_case(rng, "rows", (1, 5, 6, 6), (1, 5, 6, 6), embeds=rows))
    cases.append(mve_add_case(rng, "rows_out", (1, 4, 5, 7), (1, 4, 5, 7), embeds={"y": (4, 7, 7, 0, 2, 0)}))
    cases.append(mve_add_case(rng, "pixels_b", (1, 3, 4, 19), (1, 3, 4, 19), embeds={"b": (3, 4, 21, 0, 0, 1)}))
    cases.append(mve_add_case(rng, "pixels_y", (1, 3, 5, 5), (1, 3, 5, 5), embeds={"y": (4, 6, 8, 1, 1, 2)}))
    for name, a_shape, b_shape in [("single_a", (1, 1, 1, 1), (1, 4, 5, 7)), ("single_b", (1, 6, 3, 9), (1, 1, 1, 1))]:
        for extreme in (False, True):
            cases.append(mve_add_case(rng, name + "_x" * extreme, a_shape, b_shape, extreme=extreme))
    cases.append(mve_add_case(rng, "single_rows", (1, 1, 1, 1), (1, 3, 4, 5), embeds={"b": (3, 6, 5, 0, 2, 0)}))
    shape = (1, 3, 7, 5)
    for a_shift, b_shift in [(-1, -3), (0, -2), (-2, 0), (0, 0), (-31, -30)]:
        for sub in (False, True):
            c = mve_add_case(rng, f"shifts{a_shift}{b_shift}{'_sub' * sub}", shape, shape, a_shift=a_shift,
                             b_shift=b_shift)  # fmt: skip
            if sub:
                c.ints["b_mult"] = -c.ints["b_mult"]
                c.tensors["y"] = K.add(c.tensors["a"], c.tensors["b"], **{k: c.ints[k] for k in ADD_KEYS})
            cases.append(c)
    cases.append(mve_add_case(rng, "single_shift0", (1, 1, 1, 1), (1, 3, 3, 6), a_shift=-1, b_shift=0))
    # (x + offset) << 24 wraps for |x + offset| >= 128: VMLAS must wrap like the shift
    for fill in [(-128, -128), (127, 127), (-128, 127), None]:
        cases.append(mve_add_case(rng, f"wrap{fill}", shape, shape, fill=fill, left_shift=24, a_offset=-127,
                                  b_offset=128, a_shift=-1, b_shift=-2, out_shift=-23))  # fmt: skip
    # b's multiplier 2^30 with shift 0 is exactly a halving only where the shift does not wrap
    for ls, b_offset in [(22, 128), (23, 128), (24, 128), (30, 128), (22, 600)]:
        cases.append(mve_add_case(rng, f"wrap_half{ls}_{b_offset}", shape, shape, left_shift=ls, a_offset=-127,
                                  b_offset=b_offset, a_shift=-1, b_mult=1 << 30, b_shift=0, out_mult=1 << 30,
                                  out_shift=1 - ls))  # fmt: skip
    for fill in [(-128, -128), (127, 127), (-128, 127), (127, -128)]:
        cases.append(mve_add_case(rng, f"fill{fill}", shape, shape, extreme=True, fill=fill))
    # halves: M = 2^30 makes SaturatingRoundingDoublingHighMul(x << 20) = x * 2^19, so a shift of -20
    # halves x (odd x: a tie, rounded away from zero) and out_mult 2^31 - 1 keeps small sums; with
    # shifts 0 the output shift -19 halves the sum instead
    half = {"a_mult": 1 << 30, "b_mult": 1 << 30, "output_offset": 0, "act_min": -128, "act_max": 127}
    ties_in = dict(half, a_shift=-20, b_shift=-20, out_mult=(1 << 31) - 1, out_shift=-1)
    ties_out = dict(half, a_shift=0, b_shift=0, out_mult=1 << 30, out_shift=-19)
    for name, a_shape, b_shape in [("", shape, shape), ("_single", (1, 1, 1, 1), shape)]:
        cases.append(mve_add_case(rng, "ties_in" + name, a_shape, b_shape, **ties_in))
        cases.append(mve_add_case(rng, "ties_out" + name, a_shape, b_shape, **ties_out))
        cases.append(mve_add_case(rng, "ties_mixed" + name, b_shape, a_shape, **dict(ties_in, b_shift=0)))
    # out_mult 2^30 (the output scale is the larger input scale): the sum's requantization in one
    # rounding shift; a = x * 2^18 and b = x * 2^19 exactly, so the output shift -19 makes ties
    ties_half = dict(half, a_shift=-1, b_shift=0, out_mult=1 << 30, out_shift=-19)
    for name, a_shape, b_shape in [("", shape, shape), ("_single_a", (1, 1, 1, 1), shape), ("_single_b", shape, (1, 1, 1, 1))]:
        cases.append(mve_add_case(rng, "ties_out_half" + name, a_shape, b_shape, **ties_half))
        cases.append(mve_add_case(rng, "ties_out_half_sub" + name, a_shape, b_shape, **dict(ties_half, b_mult=-(1 << 30))))
        cases.append(mve_add_case(rng, "out_half" + name, a_shape, b_shape, extreme=True, out_mult=1 << 30))
    # sums of every residue: a = round(x / 2) (ties away from zero), b = 0 (b is its zero point), so
    # the output shift -1 needs the requantization's + 1 (floor((sum + 1) / 2) before the shift)
    odd = dict(half, a_shift=-20, b_shift=0, out_mult=1 << 30, out_shift=-1)
    for name, b_shape in [("", shape), ("_single", (1, 1, 1, 1))]:
        c = mve_add_case(rng, "odd_sums" + name, shape, b_shape, **odd)
        c.tensors["b"] = np.full(b_shape, -c.ints["b_offset"], dtype=np.int8)
        c.tensors["y"] = K.add(c.tensors["a"], c.tensors["b"], **{k: c.ints[k] for k in ADD_KEYS})
        cases.append(c)
    cases.append(mve_add_case(rng, "shift0_mult", shape, shape, a_mult=1500000000, a_shift=0))
    for out_shift in (-1, -30, -31):
        cases.append(mve_add_case(rng, f"out_half_shift{out_shift}", shape, shape, out_mult=1 << 30, out_shift=out_shift))
    cases.append(mve_add_case(rng, "out_half_relu", (1, 5, 5, 5), (1, 5, 5, 5), out_mult=1 << 30, out_shift=-18,
                              act_min=-20, act_max=100))  # fmt: skip
    # offsets beyond +-128 and left shifts beyond 22: no IN_HALF / OUT_HALF
    for name, override in [("offset129", {"a_offset": -129, "b_offset": 129}), ("left23", {"left_shift": 23}),
                           ("left0", {"left_shift": 0})]:  # fmt: skip
        for out_mult in (1 << 30, 1234567890):
            cases.append(mve_add_case(rng, f"{name}_{out_mult}", shape, shape, out_mult=out_mult, out_shift=-12, **override))
            cases.append(mve_add_case(rng, f"{name}_{out_mult}_full", shape, shape, out_mult=out_mult, out_shift=-12,
                                      a_shift=-1, b_shift=-1, **override))  # fmt: skip
    cases.append(mve_add_case(rng, "relu", (1, 2, 9, 4), (1, 2, 9, 4), act_min=-5, act_max=60))
    # handed to edgec_add
    for name, override in [("a_shift1", {"a_shift": 1}), ("b_shift2", {"b_shift": 2}), ("out_shift0", {"out_shift": 0}),
                           ("out_shift2", {"out_shift": 2, "out_mult": 1 << 30})]:  # fmt: skip
        cases.append(mve_add_case(rng, name, (1, 3, 4, 6), (1, 3, 4, 6), **override))
    cases.append(mve_add_case(rng, "broadcast_c", (1, 3, 4, 6), (1, 1, 1, 6)))
    return cases


def mve_mean_cases(rng) -> list[Case]:
    """Means over H and W (edgec_mean_mve in the MVE build): channel counts around sixteen-channel
    blocks and their predicated tails, 1280 channels (MobileNetV2's), more than 256 pixels (int16
    sums moved to int32), rows of 255 and 256 pixels, sums at the int16 limits, windows."""
    cases = []
    for shape in [(1, 3, 3, 1), (1, 3, 3, 7), (1, 3, 3, 8), (1, 2, 3, 9), (1, 3, 3, 16), (1, 3, 2, 23), (1, 3, 3, 40),
                  (1, 3, 3, 1280), (1, 20, 15, 19), (1, 2, 255, 3), (1, 1, 256, 5), (1, 1, 1, 33)]:  # fmt: skip
        cases.append(mean_case(rng, shape=shape, axes=(1, 2), extreme=shape[3] % 2 == 1))
    for shape in [(1, 3, 5, 13), (1, 4, 4, 17)]:
        cases.append(mean_case(rng, shape=shape, axes=(1, 2), windows=True))
    for shape, fill in [((1, 17, 15, 24), -128), ((1, 1, 255, 9), 127), ((1, 2, 255, 18), -128), ((1, 23, 11, 20), 127)]:
        c = mean_case(rng, shape=shape, axes=(1, 2), extreme=True)
        i = c.ints
        c.tensors["x"] = np.full(shape, fill, dtype=np.int8)
        c.tensors["y"] = K.mean(c.tensors["x"], axes=(1, 2), input_offset=i["input_offset"],
                                output_offset=i["output_offset"], mult=i["mult"], shift=i["shift"])  # fmt: skip
        c.name = f"mveadd_{c.name}_fill{fill}"
        cases.append(c)
    for c in cases:
        c.name = c.name if c.name.startswith("mveadd_") else "mveadd_" + c.name
    return cases


def mve_fc_cases(rng) -> list[Case]:
    """Fully connected layers (edgec_fully_connected_mve in the MVE build): inputs around sixteen-input
    steps and a predicated last step, and MobileNetV2's 1280 -> 10."""
    cases = []
    for batches, k, co in [(1, 16, 3), (2, 15, 4), (1, 32, 2), (2, 33, 3), (1, 1280, 10)]:
        for extreme in (False, True):
            c = fc_case(rng, batches=batches, k=k, co=co, extreme=extreme, bias=not extreme)
            c.name = "mveadd_" + c.name
            cases.append(c)
    return cases


# ---- end mveadd ----


# ---- mvesmall: the Helium depthwise kernel for tiny maps (depthwise_small_mve.c) ----------------------


def move_rows_cases(rng) -> list[Case]:
    """edgec_move_rows (move_rows.c): bytes [src, src + n) of a buffer moved down to dst, overlapping or
    not.  Word-aligned pointers take the 128-byte VLDM/VSTM blocks on Helium builds, others the 16-byte
    loop; sizes around both steps, gaps of 1..2304 bytes (a line buffer's row), and n == 0."""
    cases = []
    for dst, src, n in [(0, 4, 128), (0, 16, 129), (0, 128, 300), (4, 132, 255), (0, 2304, 2304 * 5),
                        (1, 5, 300), (3, 19, 127), (0, 1, 16), (2, 6, 15), (0, 100, 1), (8, 8 + 2304, 0),
                        (0, 7 * 15, 6 * 15)]:  # fmt: skip
        x = rng.integers(-128, 128, size=src + n + 3, dtype=np.int8)
        y = x.copy()
        y[dst : dst + n] = x[src : src + n]
        cases.append(Case("move_rows", ints={"dst": dst, "src": src, "bytes": n}, tensors={"x": x, "y": y},
                          name=f"move_rows_{dst}_{src}_{n}"))  # fmt: skip
    return cases


def mve_small_depthwise_cases(rng) -> list[Case]:
    """Depthwise layers with at most 16 output pixels, a kernel larger than the input and at most
    half their taps inside it (edgec_depthwise_small_mve): 1x1, 2x2, 3x3 and 4x4 maps of 3x3/5x5/7x7 kernels (also wider than
    the map), strides 1 and 2, asymmetric padding, pixels started from the bias and from the whole
    kernel, whole blocks of sixteen channels and tails (20, 200), clamped activations, every shift
    below 0 or not, extreme zero points and multipliers, gathered views; layers left to the other
    kernels (more taps inside, a -128 weight) and one with the largest products."""
    cases = []
    for h, w, c, k, s, pad, extreme in [
        (3, 3, 200, 7, 1, (3, 3, 3, 3), False),  # MCUNet op 39: the kernel wider than the map
        (3, 3, 20, 7, 1, (3, 3, 3, 3), True),  # one block and a tail of four
        (3, 3, 16, 5, 1, (2, 2, 2, 2), True),
        (4, 4, 40, 5, 1, (2, 2, 2, 2), False),  # 49% of the taps inside; centre pixels from the whole kernel
        (4, 4, 17, 5, 1, (2, 2, 2, 2), True),
        (3, 3, 36, 5, 2, (2, 2, 2, 2), True),  # stride 2: 2x2 out
        (4, 4, 48, 7, 2, (3, 3, 3, 3), False),
        (2, 2, 33, 3, 1, (1, 1, 1, 1), False),
        (1, 1, 40, 3, 1, (1, 1, 1, 1), True),  # only the centre tap
        (4, 4, 17, 7, 1, (3, 3, 3, 3), True),  # 16 pixels
        (2, 2, 64, 3, 2, (1, 0, 1, 1), False),  # 1x1 out, asymmetric padding
        (3, 3, 192, 3, 1, (1, 1, 1, 1), False),  # MobileNetV2 op 51: 60% inside, left to the other kernels
        (6, 6, 48, 3, 2, (0, 0, 1, 1), True),  # left to the other kernels
    ]:
        case = depthwise_case(rng, h=h, w=w, ci=c, m=1, k=(k, k), stride=(s, s), pad=pad, extreme=extreme,
                              windows=extreme, name=f"mve_small_dw{k}x{k}_{h}x{w}x{c}_s{s}" + ("_x" if extreme else ""))  # fmt: skip
        cases.append(case)
    # every shift below 0 (the specialised requantization) with a clamp, and a -128 weight
    for h, c, fill_w, name in [(2, 48, None, "neg"), (2, 24, -128, "wmin"), (2, 32, 127, "wmax")]:
        case = depthwise_case(rng, h=h, w=h, ci=c, m=1, k=(3, 3), pad=(1, 1, 1, 1), name=f"mve_small_dw_{name}",
                              fill_x=-128 if fill_w == 127 else None)  # fmt: skip
        t, i = case.tensors, case.ints
        if fill_w == -128:
            t["w"][0, 1, 1, 5] = -128
        elif fill_w == 127:
            t["w"][...] = 127
        t["out_shift"] = np.minimum(t["out_shift"], -1)
        i.update(act_min=max(-128, i["output_offset"] - 30), act_max=min(127, i["output_offset"] + 30))
        t["y"] = K.depthwise_conv2d(t["x"], t["w"], t.get("bias"), stride=(1, 1), dilation=(1, 1), pad=(1, 1, 1, 1),
                                    depth_multiplier=1, input_offset=i["input_offset"],
                                    output_offset=i["output_offset"], out_mult=t["out_mult"],
                                    out_shift=t["out_shift"], act_min=i["act_min"], act_max=i["act_max"])  # fmt: skip
        cases.append(case)
    return cases


# ---- end mvesmall -------------------------------------------------------------------------------------


# -- the suite ----------------------------------------------------------------------


def build_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases: list[Case] = [primitive_case(rng)]

    # conv2d: odd shapes, every border padded, strides, dilation, groups, odd channel counts
    for h, w, ci, co, k, s, d, pad, g in [
        (1, 1, 1, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1),
        (7, 5, 3, 5, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),
        (13, 17, 5, 17, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 1),
        (13, 17, 3, 4, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1), 1),
        (13, 17, 3, 4, (5, 3), (1, 2), (1, 1), (2, 1, 2, 1), 1),
        (9, 11, 4, 6, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), 1),
        (8, 8, 6, 9, (3, 3), (2, 1), (2, 3), (1, 3, 2, 0), 3),
        (7, 7, 4, 4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 4),
        (6, 5, 17, 3, (2, 2), (2, 2), (1, 1), (0, 0, 1, 0), 1),
        (5, 4, 8, 16, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3), 2),
        (3, 3, 3, 2, (5, 5), (1, 1), (1, 1), (4, 4, 4, 4), 1),  # taps fully outside at the corners
    ]:
        for extreme in (False, True):
            cases.append(
                conv_case(
                    rng,
                    h=h,
                    w=w,
                    ci=ci,
                    co=co,
                    k=k,
                    stride=s,
                    dilation=d,
                    pad=pad,
                    groups=g,
                    extreme=extreme,
                    windows=extreme,
                    bias=not (extreme and g == 1),
                )
            )
    # conv2d 1x1 (the matrix-multiply path), through the dispatcher and directly
    # (and, through their DSP twins, the wide 1x1 kernels: 16..56 input channels, odd pixel counts)
    for h, w, ci, co in [(1, 1, 1, 1), (7, 5, 3, 5), (13, 17, 17, 5), (4, 9, 16, 24), (2, 3, 1, 7), (3, 5, 24, 10),
                         (1, 7, 32, 8), (3, 3, 40, 12), (1, 5, 48, 4), (2, 2, 56, 8), (5, 3, 8, 20), (1, 3, 64, 12),
                         (1, 5, 120, 10), (1, 2, 336, 8)]:
        for windows in (False, True):
            cases.append(
                conv_case(
                    rng,
                    h=h,
                    w=w,
                    ci=ci,
                    co=co,
                    k=(1, 1),
                    windows=windows,
                    extreme=windows,
                    name=f"conv1x1_{h}x{w}x{ci}to{co}{'_win' if windows else ''}",
                )
            )
            cases.append(
                conv_case(
                    rng,
                    h=h,
                    w=w,
                    ci=ci,
                    co=co,
                    k=(1, 1),
                    windows=windows,
                    op="conv2d_1x1",
                    name=f"direct1x1_{h}x{w}x{ci}to{co}{'_win' if windows else ''}",
                )
            )
    cases.append(conv_case(rng, h=9, w=9, ci=5, co=3, k=(1, 1), stride=(2, 2), name="conv1x1_stride2"))
    cases.append(conv_case(rng, h=6, w=6, ci=5, co=3, k=(1, 1), pad=(1, 1, 1, 1), name="conv1x1_padded"))
    # shapes of real networks for the DSP variant (two quads per iteration, one quad, tails; borders)
    for h, w, ci, co, k, s, pad in [
        (6, 7, 16, 13, (3, 3), (1, 1), (1, 1, 1, 1)),
        (9, 8, 12, 6, (3, 3), (2, 2), (0, 0, 1, 1)),
        (5, 6, 24, 18, (1, 1), (1, 1), (0, 0, 0, 0)),
        (7, 6, 32, 9, (1, 1), (2, 2), (0, 0, 0, 0)),
        (11, 9, 3, 8, (3, 3), (2, 2), (1, 1, 1, 1)),
        (6, 5, 9, 5, (3, 3), (1, 1), (1, 1, 1, 1)),
        (7, 8, 5, 7, (2, 4), (1, 2), (1, 1, 0, 2)),  # KW * Ci a multiple of 4 with an odd Ci
        (6, 5, 8, 24, (1, 1), (1, 1), (0, 0, 0, 0)),  # 1x1 on 8 channels (conv_pixel_ci8)
        (4, 7, 8, 10, (1, 1), (2, 1), (0, 0, 0, 0)),  # ... with a partial block
        (3, 4, 40, 10, (1, 1), (1, 1), (0, 0, 0, 0)),  # 1x1 on 40, 48, 56 channels (conv_pixel_wide)
        (2, 4, 48, 12, (1, 1), (1, 1), (0, 0, 0, 0)),
        (3, 3, 56, 12, (1, 1), (1, 1), (0, 0, 0, 0)),
        # the MVE thin 1x1 path (<= 16 input channels, pixel pairs): odd widths, Co not a multiple of 4 or 16
        (5, 7, 8, 22, (1, 1), (1, 1), (0, 0, 0, 0)),
        (7, 9, 16, 38, (1, 1), (2, 2), (0, 0, 0, 0)),
        (3, 5, 3, 17, (1, 1), (1, 2), (0, 0, 0, 0)),
        (3, 5, 16, 100, (1, 1), (1, 1), (0, 0, 0, 0)),  # 25 channel blocks per pixel pair
        # ... and its right-shift form on two vectors per pixel (17..32 input channels, whole blocks of four)
        (5, 7, 24, 20, (1, 1), (1, 1), (0, 0, 0, 0)),
        (7, 9, 32, 48, (1, 1), (2, 2), (0, 0, 0, 0)),
        (3, 3, 17, 12, (1, 1), (1, 1), (0, 0, 0, 0)),
        (2, 3, 20, 192, (1, 1), (1, 1), (0, 0, 0, 0)),  # the most output channels the stack rows hold
    ]:
        for extreme in (False, True):
            cases.append(
                conv_case(rng, h=h, w=w, ci=ci, co=co, k=k, stride=s, pad=pad, extreme=extreme, windows=True)
            )

    # depthwise
    for h, w, ci, m, k, s, d, pad in [
        (1, 1, 1, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
        (7, 5, 3, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        (13, 17, 5, 2, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        (13, 17, 17, 1, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
        (9, 11, 4, 2, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),
        (8, 7, 3, 3, (5, 3), (2, 1), (1, 2), (2, 1, 2, 1)),
        (6, 6, 1, 1, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
        (3, 3, 2, 2, (5, 5), (1, 1), (1, 1), (4, 4, 4, 4)),
        (5, 6, 70, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # more channels than one accumulator block
        (4, 5, 40, 2, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        # rows >= 48 outputs wide of few channels: the MVE window kernel (depthwise_window_mve.c)
        (3, 50, 5, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        (5, 97, 3, 1, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
        (4, 100, 3, 1, (5, 5), (2, 2), (1, 1), (2, 2, 2, 2)),
        (4, 53, 2, 1, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),
        # the MVE sixteen-channel ring (edgec_depthwise_pairs_ring_mve): whole blocks and a tail, each
        # kernel size and stride, and a ring too wide for its stack buffer (the per-pixel kernel)
        (12, 12, 48, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        (11, 24, 20, 1, (5, 5), (2, 2), (1, 1), (2, 2, 2, 2)),
        (9, 20, 33, 1, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),
        (7, 9, 16, 1, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
        (4, 130, 17, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    ]:
        for extreme in (False, True):
            cases.append(
                depthwise_case(
                    rng,
                    h=h,
                    w=w,
                    ci=ci,
                    m=m,
                    k=k,
                    stride=s,
                    dilation=d,
                    pad=pad,
                    extreme=extreme,
                    windows=extreme,
                    bias=not extreme or m == 2,
                )
            )

    # the MVE sixteen-channel kernel (depthwise_pairs_mve.c) adds two taps' products in int16: inputs
    # -128 with weights -127 reach its bound (2 * 16256); a weight of -128 sends the layer elsewhere
    for fill_w in (-127, -128):
        cases.append(
            depthwise_case(
                rng, h=4, w=6, ci=20, m=1, k=(3, 3), pad=(1, 1, 1, 1), fill_x=-128, fill_w=fill_w,
                name=f"dw3x3_4x6x20_x-128_w{fill_w}",
            )
        )

    # fully connected
    for batches, k, co in [(1, 1, 1), (1, 17, 5), (3, 64, 10), (2, 5, 33), (1, 300, 7)]:
        for extreme in (False, True):
            cases.append(fc_case(rng, batches=batches, k=k, co=co, extreme=extreme, bias=not extreme))
    cases.append(fc_case(rng, batches=2, k=20, co=6, per_tensor=True))
    for tie in (0.5, 0.25, 0.125):
        cases.append(fc_case(rng, batches=3, k=9, co=5, tie_scale=tie))

    # add / sub / mul with broadcasting
    shapes = [
        ((1, 7, 5, 3), (1, 7, 5, 3)),
        ((1, 13, 17, 5), (1, 1, 1, 1)),
        ((1, 1, 1, 1), (1, 4, 3, 2)),
        ((1, 6, 5, 17), (1, 1, 1, 17)),
        ((1, 1, 1, 3), (1, 4, 5, 3)),
        ((1, 4, 1, 3), (1, 1, 5, 1)),
        ((1, 5, 6, 1), (1, 5, 6, 4)),
        ((1, 1, 7, 2), (1, 3, 1, 2)),
        ((1, 1, 1, 1), (1, 1, 1, 1)),
    ]
    for op in ("add", "mul"):
        for a_shape, b_shape in shapes:
            cases.append(binary_case(rng, op, a_shape, b_shape))
            cases.append(binary_case(rng, op, a_shape, b_shape, extreme=True, windows=True))
        cases.append(binary_case(rng, op, (1, 7, 5, 3), (1, 7, 5, 3), inplace=True))
        cases.append(binary_case(rng, op, (1, 6, 5, 17), (1, 1, 1, 17), inplace=True))
    cases.append(binary_case(rng, "add", (1, 7, 5, 3), (1, 7, 5, 3), sub=True))
    cases.append(binary_case(rng, "add", (1, 6, 5, 5), (1, 1, 1, 5), sub=True, extreme=True, windows=True))

    # pooling
    for op in ("max_pool2d", "avg_pool2d"):
        for h, w, c, k, s, pad in [
            (1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0)),
            (7, 5, 3, (2, 2), (2, 2), (0, 0, 1, 1)),
            (13, 17, 5, (3, 3), (2, 2), (1, 1, 1, 1)),
            (13, 17, 17, (3, 3), (1, 1), (1, 1, 1, 1)),
            (8, 9, 70, (3, 2), (2, 3), (1, 0, 1, 1)),
            (6, 6, 3, (6, 6), (1, 1), (0, 0, 0, 0)),
            (5, 7, 4, (4, 4), (3, 3), (3, 3, 3, 3)),
        ]:
            cases.append(pool_case(rng, op, h=h, w=w, c=c, k=k, stride=s, pad=pad, windows=(c % 2 == 1)))

    # mean
    for shape, axes in [
        ((1, 7, 5, 3), (1, 2)),
        ((1, 13, 17, 70), (1, 2)),
        ((1, 1, 1, 5), (1, 2)),
        ((1, 6, 5, 17), (3,)),
        ((1, 4, 5, 3), (1,)),
        ((1, 4, 5, 3), (2,)),
        ((1, 3, 4, 5), (1, 2, 3)),
        ((1, 12, 12, 130), (1, 2)),
    ]:
        for extreme in (False, True):
            cases.append(mean_case(rng, shape=shape, axes=axes, extreme=extreme, windows=extreme))

    # element-wise unary ops and softmax
    for op in ("requantize", "relu", "clamp", "leaky_relu", "lookup_table", "hard_swish", "softmax"):
        for shape in ((1, 1, 1, 1), (1, 7, 5, 3), (1, 13, 17, 5), (1, 2, 3, 17)):
            cases.append(unary_case(rng, op, shape))
            cases.append(unary_case(rng, op, shape, extreme=True, windows=True))
        if op != "softmax":
            cases.append(unary_case(rng, op, (1, 5, 4, 3), inplace=True))
    for depth in (1, 2, 10, 100, 1000):
        cases.append(unary_case(rng, "softmax", (1, 1, 3, depth), extreme=depth == 100))
    # softmax on a constant row and on a row with one dominant value
    flat = unary_case(rng, "softmax", (1, 1, 1, 10))
    flat.tensors["x"][:] = 5
    flat.tensors["y"] = K.softmax(flat.tensors["x"], **{k: v for k, v in flat.ints.items() if k != "inplace"})
    flat.name = "softmax_constant_row"
    cases.append(flat)

    # data movement
    for shape, pads in [
        ((1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0))),
        ((1, 7, 5, 3), ((0, 0), (2, 0), (0, 3), (0, 0))),
        ((1, 13, 17, 5), ((0, 0), (1, 2), (3, 4), (1, 2))),
        ((1, 4, 4, 3), ((0, 0), (0, 0), (0, 0), (0, 5))),
    ]:
        cases.append(pad_case(rng, shape, pads))
        cases.append(pad_case(rng, shape, pads, windows=True))
    for shapes, axis in [
        ([(1, 7, 5, 3), (1, 7, 5, 5)], 3),
        ([(1, 7, 5, 3), (1, 7, 5, 1), (1, 7, 5, 17)], 3),
        ([(1, 3, 5, 3), (1, 4, 5, 3)], 1),
        ([(1, 4, 2, 3), (1, 4, 5, 3), (1, 4, 1, 3)], 2),
    ]:
        cases.append(concat_case(rng, shapes, axis))
        cases.append(concat_case(rng, shapes, axis, windows=True))
    for shape, size in [
        ((1, 1, 1, 3), (2, 2)),
        ((1, 7, 5, 3), (14, 10)),
        ((1, 4, 3, 5), (12, 9)),
        ((1, 13, 17, 2), (26, 34)),
        ((1, 5, 7, 3), (7, 12)),
        ((1, 8, 6, 2), (4, 3)),
        ((1, 3, 3, 1), (10, 10)),
    ]:
        cases.append(resize_case(rng, shape, size))
        cases.append(resize_case(rng, shape, size, windows=True))

    for shape, begin, size, strides in [
        ((1, 1, 1, 1), (0, 0, 0), (1, 1, 1), (1, 1, 1)),
        ((1, 7, 5, 6), (0, 0, 2), (7, 5, 3), (1, 1, 1)),  # channel split
        ((1, 7, 5, 6), (3, 0, 0), (4, 5, 6), (1, 1, 1)),  # row split
        ((1, 9, 8, 6), (1, 0, 1), (4, 3, 4), (2, 3, 1)),
        ((1, 4, 5, 9), (0, 1, 0), (4, 4, 5), (1, 1, 2)),  # channel stride
        ((1, 6, 6, 17), (5, 5, 16), (1, 1, 1), (1, 1, 1)),
        ((1, 8, 8, 8), (1, 2, 3), (3, 2, 2), (3, 3, 3)),
        ((1, 5, 6, 7), (4, 4, 6), (5, 2, 3), (-1, -2, -3)),  # reversed
        ((1, 4, 4, 4), (3, 0, 0), (2, 4, 4), (-2, 1, 1)),
    ]:
        cases.append(slice_case(rng, shape, begin, size, strides))
        cases.append(slice_case(rng, shape, begin, size, strides, windows=True))
    for shape, axes in [
        ((1, 1, 1, 1), (1, 2)),
        ((1, 7, 5, 3), (1, 2)),
        ((1, 7, 5, 40), (1, 2)),  # more channels than one block
        ((1, 4, 6, 9), (3,)),
        ((1, 4, 6, 9), (2,)),
        ((1, 4, 6, 9), (1,)),
        ((1, 3, 5, 7), (1, 2, 3)),
        ((1, 6, 2, 5), (2, 3)),
    ]:
        cases.append(reduce_max_case(rng, shape=shape, axes=axes))
        cases.append(reduce_max_case(rng, shape=shape, axes=axes, windows=True))
    for shape, axis, indices in [
        ((1, 5, 4, 6), 3, [5, 0, 2, 2]),
        ((1, 5, 4, 6), 1, [4, 1, 3]),
        ((1, 5, 4, 6), 2, [3, 3, 0, 1, 2]),
        ((1, 1, 1, 9), 3, [8]),
        ((1, 7, 6, 33), 3, list(range(32, -1, -2))),
    ]:
        cases.append(gather_case(rng, shape, axis, indices))
        cases.append(gather_case(rng, shape, axis, indices, windows=True))
    for op in ("maximum", "minimum"):
        for a_shape, b_shape in [
            ((1, 1, 1, 1), (1, 1, 1, 1)),
            ((1, 7, 5, 3), (1, 7, 5, 3)),
            ((1, 6, 5, 17), (1, 1, 1, 17)),
            ((1, 4, 5, 6), (1, 4, 1, 1)),
            ((1, 1, 1, 1), (1, 3, 4, 5)),
        ]:
            cases.append(minmax_case(rng, op, a_shape, b_shape))
            cases.append(minmax_case(rng, op, a_shape, b_shape, windows=True))
        cases.append(minmax_case(rng, op, (1, 7, 5, 3), (1, 7, 5, 3), inplace=True))
        cases.append(minmax_case(rng, op, (1, 6, 5, 17), (1, 1, 1, 17), inplace=True))

    # in-place depthwise (depth_multiplier 1, OH*OW <= H*W): fixed corner cases, then random ones
    for h, w, c, k, s, d, pad in [
        (1, 1, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # all taps but the centre in the padding
        (7, 5, 3, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # "same": output exactly fills the buffer
        (9, 11, 17, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
        (13, 17, 33, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
        (8, 7, 17, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
        (11, 9, 3, (7, 7), (2, 2), (1, 1), (3, 3, 3, 3)),
        (3, 3, 3, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),  # kernel larger than the input
        (5, 6, 70, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
        (12, 12, 9, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # "same" 3x3 (MobileNetV2's in-place layers)
        (6, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),  # "same" 3x3, odd width
        (6, 8, 5, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),  # "same" 7x7 (MCUNet's)
        (8, 5, 4, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3)),  # "same" 7x7, odd width
        (3, 12, 5, (3, 7), (1, 1), (1, 1), (2, 0, 2, 0)),  # OH > H: output rows straddle input rows
        (12, 3, 5, (7, 3), (1, 1), (1, 1), (0, 2, 0, 2)),  # OW > W
        (9, 9, 17, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2)),  # dilated
        (10, 10, 1, (3, 3), (2, 2), (1, 1), (0, 0, 0, 0)),  # unpadded, even size: last row/col unused
        (10, 4, 3, (1, 1), (2, 1), (1, 1), (0, 2, 0, 2)),  # one-row ring, rows skipped; iy*W == oy0*OW
        (11, 11, 5, (3, 3), (2, 2), (2, 2), (2, 2, 2, 2)),  # dilated, strided: odd rows never tapped
        (13, 9, 3, (3, 3), (2, 1), (3, 1), (0, 1, 0, 1)),  # ring reuse period 3 (rows tapped again later)
        (13, 9, 17, (3, 3), (2, 1), (3, 1), (1, 1, 1, 1)),  # first uses out of row order
        (9, 6, 3, (2, 3), (3, 1), (1, 1), (0, 1, 0, 1)),  # stride > ring rows
        (6, 7, 3, (5, 3), (1, 2), (1, 1), (4, 0, 0, 2)),  # lopsided padding
    ]:
        for extreme in (False, True):
            cases.append(
                depthwise_inplace_case(
                    rng, h=h, w=w, c=c, k=k, stride=s, dilation=d, pad=pad, extreme=extreme, bias=not extreme or c > 3
                )
            )
    # the MVE sixteen-channel in-place blocks (depthwise_pairs_mve.c): whole blocks of MobileNetV2's
    # and MCUNet's shapes, a ring too wide for its stack buffer, and a weight of -128 (both left to
    # the channel-plane ring)
    for h, w, c, k, s, pad, weight_min in [
        (12, 12, 48, (3, 3), (1, 1), (1, 1, 1, 1), False),
        (12, 12, 32, (7, 7), (1, 1), (3, 3, 3, 3), False),
        (9, 10, 16, (5, 5), (2, 2), (2, 2, 2, 2), False),
        (6, 60, 16, (7, 7), (1, 1), (3, 3, 3, 3), False),
        (9, 9, 20, (3, 3), (1, 1), (1, 1, 1, 1), True),
    ]:
        for extreme in (False, True):
            cases.append(
                depthwise_inplace_case(
                    rng, h=h, w=w, c=c, k=k, stride=s, pad=pad, extreme=extreme, weight_min=weight_min
                )
            )
    for i in range(40):
        geometry = random_depthwise_inplace_geometry(rng)
        c = int(rng.choice([1, 3, 17, 33]))
        cases.append(depthwise_inplace_case(rng, c=c, extreme=i % 2 == 1, bias=i % 5 != 0, **geometry))

    # transposed convolution: strides, dilation, cropping on every side, outputs past the last tap
    for h, w, ci, co, k, s, d, pad in [
        (1, 1, 1, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
        (5, 5, 4, 6, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1)),
        (4, 3, 3, 5, (4, 4), (2, 2), (1, 1), (1, 1, 1, 1)),
        (4, 4, 3, 4, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
        (5, 4, 2, 3, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0)),
        (4, 4, 3, 4, (1, 1), (2, 2), (1, 1), (0, 0, -1, -1)),
        (3, 5, 17, 3, (3, 2), (3, 1), (2, 2), (2, 1, 0, -2)),
        (6, 7, 5, 9, (5, 5), (2, 3), (1, 1), (2, 2, 3, 1)),
        (2, 2, 1, 2, (3, 3), (4, 4), (1, 1), (0, 0, -2, -3)),  # output pixels no tap reaches
    ]:
        for extreme in (False, True):
            cases.append(
                transpose_conv_case(
                    rng, h=h, w=w, ci=ci, co=co, k=k, stride=s, dilation=d, pad=pad, extreme=extreme,
                    windows=extreme, bias=not (extreme and co % 2),
                )
            )

    # prelu: alpha per channel, per element, scalar, and broadcast along other dimensions
    for x_shape, a_shape in [
        ((1, 4, 5, 6), (1, 1, 1, 6)),
        ((1, 4, 5, 6), (1, 4, 5, 6)),
        ((1, 7, 3, 17), (1, 1, 1, 1)),
        ((1, 4, 5, 3), (1, 4, 1, 3)),
        ((1, 1, 1, 1), (1, 1, 1, 1)),
    ]:
        cases.append(prelu_case(rng, x_shape, a_shape))
        cases.append(prelu_case(rng, x_shape, a_shape, extreme=True, windows=True))
    cases.append(prelu_case(rng, (1, 5, 4, 3), (1, 1, 1, 3), inplace=True))

    # bilinear resize in TFLite's three coordinate modes, up, down and odd sizes
    for shape, size in [
        ((1, 1, 1, 3), (2, 2)),
        ((1, 4, 5, 3), (8, 10)),
        ((1, 5, 5, 3), (7, 12)),
        ((1, 9, 8, 2), (4, 3)),
        ((1, 3, 7, 17), (1, 1)),
        ((1, 2, 2, 1), (9, 5)),
    ]:
        for align, half in ((False, False), (False, True), (True, False)):
            cases.append(resize_bilinear_case(rng, shape, size, align_corners=align, half_pixel_centers=half))
        cases.append(resize_bilinear_case(rng, shape, size, half_pixel_centers=True, windows=True))

    # depth to space (both channel orders) and space to depth
    for shape, block in [((1, 1, 1, 4), 2), ((1, 3, 4, 8), 2), ((1, 2, 3, 27), 3), ((1, 5, 2, 16), 4)]:
        for crd in (False, True):
            cases.append(space_depth_case(rng, "depth_to_space", shape, block, crd=crd))
            cases.append(space_depth_case(rng, "depth_to_space", shape, block, crd=crd, windows=True))
    for shape, block in [((1, 2, 2, 1), 2), ((1, 6, 4, 3), 2), ((1, 6, 9, 5), 3), ((1, 8, 4, 17), 4)]:
        cases.append(space_depth_case(rng, "space_to_depth", shape, block))
        cases.append(space_depth_case(rng, "space_to_depth", shape, block, windows=True))

    # squared difference (broadcasting) and l2 normalization (every accumulator range of the
    # inverse square root: one channel, thousands of channels, an all-zero row)
    for a_shape, b_shape in [
        ((1, 7, 5, 3), (1, 7, 5, 3)),
        ((1, 13, 17, 5), (1, 1, 1, 1)),
        ((1, 6, 5, 17), (1, 1, 1, 17)),
        ((1, 4, 1, 3), (1, 1, 5, 1)),
        ((1, 1, 1, 1), (1, 1, 1, 1)),
    ]:
        cases.append(squared_difference_case(rng, a_shape, b_shape))
        cases.append(squared_difference_case(rng, a_shape, b_shape, extreme=True, windows=True))
    cases.append(squared_difference_case(rng, (1, 6, 5, 17), (1, 1, 1, 17), inplace=True))
    for shape in ((1, 1, 1, 1), (1, 4, 5, 8), (1, 3, 2, 17), (1, 1, 2, 3000), (1, 2, 2, 64)):
        cases.append(l2_normalization_case(rng, shape))
        cases.append(l2_normalization_case(rng, shape, windows=True))
    cases.append(l2_normalization_case(rng, (1, 2, 3, 5), constant=0))
    cases.append(l2_normalization_case(rng, (1, 1, 1, 40000), constant=-128))  # sum of squares >= 2^29

    # kernel variants: the DSP-extension kernels (plain C on the host, SMLAD & co. under QEMU)
    cases.append(requant_fast_case(rng))
    cases += dsp_variant_cases(cases)
    # DSP depthwise (own random stream, so the cases above keep their vectors)
    rng_dsp = np.random.default_rng(seed + 1)
    cases += [dsp_depthwise_twin(c, 0) for c in cases if c.op == "depthwise_conv2d" and c.ints["depth_multiplier"] == 1]
    cases += dsp_depthwise_cases(rng_dsp)
    adds = [c for c in cases if c.op == "add"]
    cases += [add_dsp_twin(c) for c in adds]
    # outside rq_fast's proven range the kernel must fall back to the exact requantization: large
    # operands with out_shift 2 make rq_fast's (sum << 3) wrap, so a missing fallback fails here
    big = Case("add", name="add_big_sum")
    big.ints.update(a_offset=127, a_mult=(1 << 31) - 1, a_shift=0, b_offset=127, b_mult=(1 << 31) - 1, b_shift=0,
                    left_shift=20, output_offset=0, out_mult=1 << 30, out_shift=2, act_min=-128, act_max=127, inplace=0)
    big.tensors.update(a=rng_dsp.integers(100, 128, size=(1, 3, 5, 4)).astype(np.int8),
                       b=rng_dsp.integers(100, 128, size=(1, 3, 5, 4)).astype(np.int8))
    big.tensors["y"] = K.add(big.tensors["a"], big.tensors["b"], **{k: big.ints[k] for k in ADD_KEYS})
    cases += [add_dsp_twin(big), add_dsp_twin(adds[1], left_shift=21), add_dsp_twin(adds[2], a_shift=1)]
    # edgec_add_dsp's dense path: the unshifted operand first (swapped), and its general instance
    cases += [add_dsp_twin(adds[0], a_shift=0, b_shift=-3), add_dsp_twin(adds[0], left_shift=19, act_min=-100, act_max=90)]
    inplace = [c for c in cases if c.op == "depthwise_conv2d_inplace"]
    cases += [dsp_inplace_twin(c, allow_fast=i % 3 != 2) for i, c in enumerate(inplace)]
    cases += dsp_depthwise_fast_cases(np.random.default_rng(seed + 2))  # own stream: the cases above keep theirs
    # ---- m4speed4: single-channel 3x3 convs and their DSP twins (own stream) ----
    single = c1_conv_cases(np.random.default_rng(seed + 41))
    cases += single + dsp_variant_cases(single)
    # max pools on 4k channels (and 4k + 1..3): edgec_max_pool2d_dsp runs every max_pool2d case too
    mp = np.random.default_rng(seed + 42)
    for h, w, c, k, s, pad in [(28, 28, 16, (2, 2), (2, 2), (0, 0, 0, 0)), (9, 7, 8, (3, 3), (2, 2), (1, 1, 1, 1)),
                               (6, 6, 7, (2, 2), (1, 1), (0, 0, 1, 1))]:  # fmt: skip
        cases.append(pool_case(mp, "max_pool2d", h=h, w=w, c=c, k=k, stride=s, pad=pad, windows=c == 8))
    # means over H and W (edgec_mean_dsp runs every mean case too): over 256 pixels, and near the
    # int16 lane limits (every input -128 or 127: a missing move into int32 sums wraps)
    for shape, fill in [((1, 20, 15, 8), None), ((1, 3, 3, 16), None), ((1, 17, 16, 6), -128), ((1, 16, 17, 5), 127)]:
        c = mean_case(mp, shape=shape, axes=(1, 2), windows=fill is None)
        if fill is not None:
            i = c.ints
            c.tensors["x"] = np.full(shape, fill, dtype=np.int8)
            c.tensors["y"] = K.mean(c.tensors["x"], axes=(1, 2), input_offset=i["input_offset"],
                                    output_offset=i["output_offset"], mult=i["mult"], shift=i["shift"])  # fmt: skip
            c.name += f"_fill{fill}"
        cases.append(c)
    # ---- end m4speed4 ----
    # ---- mve1x1: the Helium wide 1x1 convs (own stream) ----
    cases += mve_wide1x1_cases(np.random.default_rng(seed + 51))
    cases += mve_first_conv_cases(np.random.default_rng(seed + 52))  # mvefirst (own stream)
    # ---- mvedw: the MVE depthwise ring's assembly bodies (own stream) ----
    cases += mvedw_depthwise_cases(np.random.default_rng(seed + 53))
    # ---- mveadd: edgec_add_mve, and more mean / fully connected shapes (own streams) ----
    cases += mve_add_cases(np.random.default_rng(seed + 61))
    cases += mve_mean_cases(np.random.default_rng(seed + 62))
    cases += mve_fc_cases(np.random.default_rng(seed + 63))
    # ---- mvesmall: the Helium tiny-map depthwise kernel (own stream) ----
    cases += mve_small_depthwise_cases(np.random.default_rng(seed + 71))
    cases += move_rows_cases(np.random.default_rng(seed + 91))  # row-streamed line buffers
    cases += mvedw2_cases(np.random.default_rng(seed + 81))  # mvedw2: the ring's direct rows (own stream)
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    cases = build_cases(args.seed)
    with args.out.open("w") as f:
        for i, c in enumerate(cases):
            c.write(f, i)
    print(f"wrote {len(cases)} cases to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
