"""Packed int4/int2 feature maps in C (runtime/kernels/subbyte.{h,c}) against numpy, byte for byte.

Every case is generated here with the oracles ``edgec.mixed.subbyte.pack`` (the
storage layout) and ``edgec.reference.int8_kernels`` (the arithmetic: the int8
kernel with the output clamp narrowed to the output's width), written as one C
file, compiled once with ASan/UBSan and run.  Windows sit inside larger buffers
(row strides wider than the window, a byte offset), the buffer's other bytes
hold a pattern that must survive, channel counts 1..9 end pixels mid-byte, and
the ops run through the band loop the code generator emits
(``edgec.codegen.mixed_stage``; here with the output band in scratch,
``edgec_packed_output_rows``, the generated code packs it in place in the
output's buffer, checked by the "pack in place" cases) with bands of 1 and 2
output rows, over the portable kernels and, on the host in plain C, the DSP
conv and depthwise variants with their build-time weight layouts.

Cases: pack/unpack of every width and C = 1..9; conv 3x3 (padding on every
border, stride 1 and 2, dilation 2), conv 1x1; depthwise 3x3; max and average
pool with padding; the direct packed max pool (C = 1..17, words and byte
tails, narrowed activation ranges); add; requantize to a narrower width (saturating), over the
width pairs 8->4, 4->4, 4->2, 2->2, 2->8, 4->8.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgec.codegen.depthwise_layout import depthwise_dsp_layout
from edgec.codegen.dsp_emitters import conv_blocks, requant_mode
from edgec.codegen.kernel_variants import accumulator_bound
from edgec.mixed.subbyte import pack, pixel_bytes, qrange
from edgec.reference import int8_kernels as K

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "edgec" / "runtime" / "kernels"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
PAIRS = [(8, 4), (4, 4), (4, 2), (2, 2), (2, 8), (4, 8)]
PATTERN = 0xA5
# The kernel sources the cases call into (compiling the whole library under the sanitizers takes longer).
LIBRARY = ("subbyte", "requant", "conv", "conv_dsp", "depthwise", "depthwise_dsp", "pool", "elementwise", "activation")


def _arr(ctype: str, name: str, values) -> str:
    values = np.asarray(values).reshape(-1)
    body = ", ".join(str(int(v)) for v in values) or "0"
    return f"static {ctype} {name}[{max(values.size, 1)}] = {{{body}}};\n"


class Placed:
    """A packed window of h x w x c values at ``bits`` inside a bigger buffer (offset, wider rows)."""

    def __init__(self, rng, h, w, c, bits, values=None):
        self.h, self.w, self.c, self.bits = h, w, c, bits
        self.pb = pixel_bytes(c, bits)
        self.row_stride = (w + 2) * self.pb + 3
        self.offset = self.row_stride + self.pb + 1
        self.size = self.offset + h * self.row_stride + 5
        self.values = values

    def buffer(self, values=None) -> np.ndarray:
        buf = np.full(self.size, PATTERN, dtype=np.uint8)
        if values is not None:
            packed = pack(values.reshape(self.h, self.w, self.c), self.bits).reshape(self.h, self.w * self.pb)
            for y in range(self.h):
                start = self.offset + y * self.row_stride
                buf[start : start + self.w * self.pb] = packed[y]
        return buf

    def view(self, buf: str) -> str:
        return f"{{{buf} + {self.offset}, {self.h}, {self.w}, {self.c}, {self.row_stride}, {self.pb}, {self.bits}}}"


def _rand(rng, shape, bits):
    lo, hi = qrange(bits)
    return rng.integers(lo, hi + 1, size=shape).astype(np.int8)


def _mult_shift(rng, real, count):
    pairs = [K.quantize_multiplier(real * float(f)) for f in rng.uniform(0.7, 1.3, size=count)]
    return [m for m, _ in pairs], [s for _, s in pairs]


class Suite:
    def __init__(self):
        self.parts: list[str] = []
        self.calls: list[str] = []
        self.n = 0

    def case(self, name: str, decls: str, body: str, expected: np.ndarray, out: Placed) -> None:
        i = self.n
        self.n += 1
        self.parts.append(
            decls.replace("@", f"c{i}_")
            + _arr("uint8_t", f"c{i}_out", out.buffer())
            + _arr("const uint8_t", f"c{i}_want", expected)
            + f"static int case_{i}(void)\n{{\n    edgec_packed_view out_p = {out.view(f'c{i}_out')};\n"
            + body.replace("@", f"c{i}_")
            + f"    (void)out_p;\n    return memcmp(c{i}_out, c{i}_want, {expected.size}) == 0;\n}}\n\n"
        )
        self.calls.append(f'    report(case_{i}(), "{name}");')

    def source(self) -> str:
        head = '#include <stdio.h>\n#include <string.h>\n#include "subbyte.h"\n\nstatic int failed;\n'
        head += 'static void report(int ok, const char *name)\n{\n    printf("%s %s\\n", ok ? "PASS" : "FAIL", name);\n'
        head += "    failed += !ok;\n}\n\n"
        main = (
            "int main(void)\n{\n"
            + "\n".join(self.calls)
            + '\n    printf("%d failed\\n", failed);\n    return failed != 0;\n}\n'
        )
        return head + "".join(self.parts) + main


def windowed_loop(call: str, taps: int, band: int, scratch_in: int, store: str = "edgec_packed_store_rows") -> str:
    return f"""    const int32_t pad_top = params.pad_top;
    for (int32_t oy = 0; oy < out_p.h; oy += {band}) {{
        const int32_t n = out_p.h - oy < {band} ? out_p.h - oy : {band};
        edgec_view in, out;
        params.pad_top = (int16_t)edgec_packed_input_rows(&in_p, oy * params.stride_h - pad_top,
                                                          (n - 1) * params.stride_h + {taps}, scratch, &in);
        edgec_packed_output_rows(&out_p, oy, n, scratch + {scratch_in}, &out);
        {call}
        {store}(&out_p, oy, &out);
    }}
"""


def conv_case(
    suite,
    rng,
    *,
    bits_in,
    bits_out,
    h,
    w,
    ci,
    co,
    k,
    stride,
    dilation,
    pad,
    band,
    depthwise=False,
    dsp=False,
    widen=False,
):
    """``widen``: the kernel clamps to int8 and the packing saturates (what the generated code does for a
    conv whose clamp is the whole sub-byte range)."""
    x = _rand(rng, (1, h, w, ci), bits_in)
    co = ci if depthwise else co
    wt = rng.integers(-127, 128, size=(1, k, k, co) if depthwise else (co, k, k, ci)).astype(np.int8)
    bias = rng.integers(-300, 300, size=co).astype(np.int32)
    in_zp = int(rng.integers(*qrange(bits_in)))
    lo, hi = qrange(bits_out)
    out_zp = int(rng.integers(lo, hi + 1))
    mult, shift = _mult_shift(rng, 1.0 / (k * k * (1 if depthwise else ci) * 40), co)
    kw = {
        "stride": (stride, stride),
        "dilation": (dilation, dilation),
        "pad": pad,
        "input_offset": -in_zp,
        "output_offset": out_zp,
        "out_mult": np.array(mult),
        "out_shift": np.array(shift),
        "act_min": lo,
        "act_max": hi,
    }
    y = K.depthwise_conv2d(x, wt, bias, depth_multiplier=1, **kw) if depthwise else K.conv2d(x, wt, bias, **kw)
    _, oh, ow, _ = y.shape
    xin, out = Placed(rng, h, w, ci, bits_in), Placed(rng, oh, ow, co, bits_out)
    decls = (
        _arr("uint8_t", "@in", xin.buffer(x))
        + _arr("const int32_t", "@mult", mult)
        + _arr("const int32_t", "@shift", shift)
    )
    decls += _arr("const int32_t", "@bias", bias)
    ctype = "edgec_depthwise_params" if depthwise else "edgec_conv_params"
    extra = ".depth_multiplier = 1" if depthwise else ".groups = 1"
    fast = 0
    if dsp and depthwise:
        decls += _arr("const int16_t", "@w", depthwise_dsp_layout(wt))
        call = "edgec_depthwise_conv2d_dsp(&in, &out, @w, @bias, &params);"
    elif dsp:
        bound = accumulator_bound(wt.astype(np.int64), bias, -in_zp, channel_axis=0)
        fast = requant_mode(bound, np.array(shift), out_zp)
        blocks = conv_blocks(wt.astype(np.int64), bias.astype(np.int64), -in_zp, mult, shift, fast, out_zp)
        decls += _arr("const int32_t", "@w", blocks)
        call = "edgec_conv2d_dsp(&in, &out, @w, &params);"
    else:
        decls += _arr("const int8_t", "@w", wt)
        call = ("edgec_depthwise_conv2d" if depthwise else "edgec_conv2d") + "(&in, &out, @w, @bias, &params);"
    pt, pl, pb_, pr = pad
    span = (band - 1) * stride + (k - 1) * dilation + 1
    scratch_in = -(-span * w * ci // 4) * 4
    body = f"""    static int8_t scratch[{scratch_in + band * ow * co + 4}];
    const edgec_packed_view in_p = {xin.view("@in")};
    {ctype} params = {{.kernel_h = {k}, .kernel_w = {k}, .stride_h = {stride}, .stride_w = {stride},
        .dilation_h = {dilation}, .dilation_w = {dilation}, .pad_top = {pt}, .pad_left = {pl}, .pad_bottom = {pb_},
        .pad_right = {pr}, {extra}, .input_offset = {-in_zp}, .output_offset = {out_zp}, .out_mult = @mult,
        .out_shift = @shift, .act_min = {-128 if widen else lo}, .act_max = {127 if widen else hi},
        .fast_requant = {int(fast)}}};
    (void)@bias; /* the DSP conv has the bias folded into its blocks */
"""
    store = "edgec_packed_store_rows_saturated" if widen else "edgec_packed_store_rows"
    body += windowed_loop(call, (k - 1) * dilation + 1, band, scratch_in, store)
    name = f"{'dw' if depthwise else 'conv'}{'_dsp' if dsp else ''}{' widened' if widen else ''} {k}x{k} s{stride} d{dilation} {bits_in}->{bits_out} c{ci}->{co} band{band}"
    suite.case(name, decls, body, out.buffer(y), out)


def pool_case(suite, rng, *, op, bits, h, w, c, k, stride, pad, band):
    x = _rand(rng, (1, h, w, c), bits)
    lo, hi = qrange(bits)
    fn = K.max_pool2d if op == "max" else K.avg_pool2d
    y = fn(x, kernel=(k, k), stride=(stride, stride), pad=pad, act_min=lo, act_max=hi)
    _, oh, ow, _ = y.shape
    xin, out = Placed(rng, h, w, c, bits), Placed(rng, oh, ow, c, bits)
    span = (band - 1) * stride + k
    scratch_in = -(-span * w * c // 4) * 4
    pt, pl, pb_, pr = pad
    body = f"""    static int8_t scratch[{scratch_in + band * ow * c + 4}];
    const edgec_packed_view in_p = {xin.view("@in")};
    edgec_pool_params params = {{.kernel_h = {k}, .kernel_w = {k}, .stride_h = {stride}, .stride_w = {stride},
        .pad_top = {pt}, .pad_left = {pl}, .pad_bottom = {pb_}, .pad_right = {pr}, .act_min = {lo}, .act_max = {hi}}};
"""
    body += windowed_loop(f"edgec_{op}_pool2d(&in, &out, &params);", k, band, scratch_in)
    suite.case(
        f"{op}_pool {k}x{k} s{stride} {bits} bits c{c} band{band}",
        _arr("uint8_t", "@in", xin.buffer(x)),
        body,
        out.buffer(y),
        out,
    )


def add_case(suite, rng, *, bits_a, bits_b, bits_out, h, w, c, band):
    a, b = _rand(rng, (1, h, w, c), bits_a), _rand(rng, (1, h, w, c), bits_b)
    lo, hi = qrange(bits_out)
    p = {
        "a_offset": -int(rng.integers(*qrange(bits_a))),
        "b_offset": -int(rng.integers(*qrange(bits_b))),
        "left_shift": 20,
        "output_offset": int(rng.integers(lo, hi + 1)),
        "act_min": lo,
        "act_max": hi,
    }
    p["a_mult"], p["a_shift"] = K.quantize_multiplier(0.5 * rng.uniform(0.5, 1.0))
    p["b_mult"], p["b_shift"] = K.quantize_multiplier(0.5 * rng.uniform(0.5, 1.0))
    p["out_mult"], p["out_shift"] = K.quantize_multiplier(rng.uniform(0.5, 2.0) / (1 << 20))
    y = K.add(a, b, **p)
    pa, pb, out = Placed(rng, h, w, c, bits_a), Placed(rng, h, w, c, bits_b), Placed(rng, h, w, c, bits_out)
    row = -(-band * w * c // 4) * 4
    fields = ", ".join(f".{key} = {value}" for key, value in p.items())
    body = f"""    static int8_t scratch[{3 * row}];
    const edgec_packed_view a_p = {pa.view("@a")}, b_p = {pb.view("@b")};
    const edgec_add_params params = {{{fields}}};
    for (int32_t y = 0; y < out_p.h; y += {band}) {{
        const int32_t n = out_p.h - y < {band} ? out_p.h - y : {band};
        edgec_view a, b, out;
        edgec_packed_rows(&a_p, y, n, scratch, &a);
        edgec_packed_rows(&b_p, y, n, scratch + {row}, &b);
        edgec_packed_output_rows(&out_p, y, n, scratch + {2 * row}, &out);
        edgec_add(&a, &b, &out, &params);
        edgec_packed_store_rows(&out_p, y, &out);
    }}
"""
    decls = _arr("uint8_t", "@a", pa.buffer(a)) + _arr("uint8_t", "@b", pb.buffer(b))
    suite.case(f"add {bits_a}+{bits_b}->{bits_out} c{c} band{band}", decls, body, out.buffer(y), out)


def requantize_case(suite, rng, *, bits_in, bits_out, h, w, c):
    x = _rand(rng, (1, h, w, c), bits_in)
    in_zp, out_zp = int(rng.integers(*qrange(bits_in))), int(rng.integers(*qrange(bits_out)))
    mult, shift = K.quantize_multiplier(float(rng.uniform(0.5, 3.0)))
    lo, hi = qrange(bits_out)
    y = np.clip(K.requantize(x, input_offset=-in_zp, output_offset=out_zp, mult=mult, shift=shift), lo, hi).astype(
        np.int8
    )
    assert (y == lo).any() or (y == hi).any()  # saturation happens
    xin, out = Placed(rng, h, w, c, bits_in), Placed(rng, h, w, c, bits_out)
    body = f"""    static int8_t scratch[{2 * (w * c + 4)}];
    const edgec_packed_view in_p = {xin.view("@in")};
    const edgec_requantize_params params = {{{-in_zp}, {out_zp}, {mult}, {shift}}};
    for (int32_t y = 0; y < out_p.h; y++) {{
        edgec_view in, out;
        edgec_packed_rows(&in_p, y, 1, scratch, &in);
        edgec_packed_output_rows(&out_p, y, 1, scratch + {w * c + 4}, &out);
        edgec_requantize(&in, &out, &params);
        edgec_packed_store_rows_saturated(&out_p, y, &out);
    }}
"""
    suite.case(
        f"requantize {bits_in}->{bits_out} c{c}", _arr("uint8_t", "@in", xin.buffer(x)), body, out.buffer(y), out
    )


def pack_cases(suite, rng):
    for bits in (4, 2, 8):
        for c in (*range(1, 10), 15, 16, 17, 24, 33):  # word groups of 8 (int4) / 16 (int2) channels, tails
            x = _rand(rng, (1, 2, 3, c), bits)
            src, dst = Placed(rng, 2, 3, c, bits), Placed(rng, 2, 3, c, bits)
            body = f"""    static int8_t row[{3 * c}];
    const edgec_packed_view in_p = {src.view("@in")};
    for (int32_t y = 0; y < 2; y++) {{
        edgec_unpack_pixels(in_p.data + y * in_p.row_stride, 3, {c}, in_p.pixel_stride, {bits}, row);
        if (memcmp(row, @values + y * {3 * c}, {3 * c}) != 0) return 0;
        edgec_pack_pixels(row, 3, {c}, out_p.pixel_stride, {bits}, out_p.data + y * out_p.row_stride);
    }}
"""
            decls = _arr("uint8_t", "@in", src.buffer(x)) + _arr("const int8_t", "@values", x)
            suite.case(f"pack/unpack {bits} bits c{c}", decls, body, dst.buffer(x), dst)


def outlier_cases(suite, rng):
    """edgec_has_outlier (VDPC) on int8 windows: 1 when a value lies outside [lo, hi]."""
    for lo, hi in ((-128, 127), (0, -1), (-5, 60), (-100, -20), (-128, 40), (-30, 127), (3, 3)):
        for c, spread in ((8, 20), (3, 60), (5, 128)):
            x = np.clip(rng.integers(-spread, spread, size=(1, 3, 5, c)), -128, 127).astype(np.int8)
            win = Placed(rng, 3, 5, c, 8)
            want = int(((x < lo) | (x > hi)).any())
            body = f"""    const edgec_packed_view p = {win.view("@in")};
    const edgec_view v = {{(int8_t *)p.data, p.h, p.w, p.c, p.row_stride, p.pixel_stride}};
    if (edgec_has_outlier(&v, {lo}, {hi}) != {want}) return 0;
"""
            suite.case(f"outlier [{lo}, {hi}] c{c}", _arr("uint8_t", "@in", win.buffer(x)), body, win.buffer(), win)


def inplace_pack_cases(suite, rng):
    """Forward packing in place, as a packed op stores its output: int8 rows of a window of a region
    buffer (row stride W * C) packed into the same buffer's packed layout (row stride W * pixel_bytes),
    band by band; the packed window must hold ``pack`` of the values."""
    for bits in (4, 2):
        for c in (1, 3, 4, 7, 8, 9, 16, 18):
            region_h, region_w, dy, dx, h, w = 6, 7, 1, 2, 4, 4
            pb = pixel_bytes(c, bits)
            x = _rand(rng, (1, h, w, c), bits)
            buf = np.full(region_h * region_w * c, PATTERN, dtype=np.uint8)
            for y in range(h):
                start = ((dy + y) * region_w + dx) * c
                buf[start : start + w * c] = x[0, y].reshape(-1).view(np.uint8)
            want = pack(x[0], bits).reshape(h, w * pb)
            body = f"""    edgec_view int8 = {{(int8_t *)@buf + {(dy * region_w + dx) * c}, {h}, {w}, {c}, {region_w * c}, {c}}};
    edgec_packed_view p = {{@buf + {(dy * region_w + dx) * pb}, {h}, {w}, {c}, {region_w * pb}, {pb}, {bits}}};
    for (int32_t y = 0; y < {h}; y += 3) {{
        const int32_t n = {h} - y < 3 ? {h} - y : 3;
        const edgec_view rows = edgec_view_rows(&int8, y, n);
        edgec_packed_store_rows(&p, y, &rows);
    }}
    for (int32_t y = 0; y < {h}; y++) {{
        if (memcmp(p.data + y * p.row_stride, @packed + y * {w * pb}, {w * pb}) != 0) return 0;
    }}
"""
            decls = _arr("uint8_t", "@buf", buf) + _arr("const uint8_t", "@packed", want)
            dummy = Placed(rng, 1, 1, 1, 8)
            suite.case(
                f"pack in place {bits} bits c{c}",
                decls,
                body,
                dummy.buffer(),
                dummy,
            )


# Conv-like cases per width pair: (h, w, k, stride, dilation, pad, depthwise, dsp).
CONV_CASES = (
    (7, 6, 3, 1, 1, (1, 1, 1, 1), False, False),
    (8, 7, 3, 2, 1, (1, 0, 1, 1), False, False),
    (6, 5, 1, 1, 1, (0, 0, 0, 0), False, False),
    (7, 7, 3, 1, 2, (2, 2, 2, 2), False, False),
    (7, 6, 3, 1, 1, (1, 1, 1, 1), False, True),
    (7, 6, 3, 1, 1, (1, 1, 1, 1), True, False),
    (8, 7, 3, 2, 1, (0, 1, 1, 1), True, True),
)


def direct_max_pool_case(suite, rng, *, bits, h, w, c, k, stride, pad, act=None):
    """edgec_max_pool2d_packed: the max pool on packed lanes (no unpacking), same width in and out."""
    x = _rand(rng, (1, h, w, c), bits)
    lo, hi = act or qrange(bits)
    y = K.max_pool2d(x, kernel=(k, k), stride=(stride, stride), pad=pad, act_min=lo, act_max=hi)
    _, oh, ow, _ = y.shape
    xin, out = Placed(rng, h, w, c, bits), Placed(rng, oh, ow, c, bits)
    pt, pl, pb_, pr = pad
    body = f"""    const edgec_packed_view in_p = {xin.view("@in")};
    const edgec_pool_params params = {{.kernel_h = {k}, .kernel_w = {k}, .stride_h = {stride}, .stride_w = {stride},
        .pad_top = {pt}, .pad_left = {pl}, .pad_bottom = {pb_}, .pad_right = {pr}, .act_min = {lo}, .act_max = {hi}}};
    edgec_max_pool2d_packed(&in_p, &out_p, &params);
"""
    suite.case(
        f"max_pool direct {k}x{k} s{stride} {bits} bits c{c} act [{lo}, {hi}]",
        _arr("uint8_t", "@in", xin.buffer(x)),
        body,
        out.buffer(y),
        out,
    )


def build_suite() -> Suite:
    rng = np.random.default_rng(11)
    suite = Suite()
    pack_cases(suite, rng)
    outlier_cases(suite, rng)
    inplace_pack_cases(suite, rng)
    for i, (bi, bo) in enumerate(PAIRS):
        ci, co = (3, 5, 7, 1, 6, 9)[i], (5, 7, 3, 6, 9, 1)[i]
        for band in (1, 2):
            for h, w, k, stride, dilation, pad, depthwise, dsp in CONV_CASES:
                conv_case(
                    suite, rng, bits_in=bi, bits_out=bo, h=h, w=w, ci=ci, co=ci if depthwise else co, k=k,
                    stride=stride, dilation=dilation, pad=pad, band=band, depthwise=depthwise, dsp=dsp,
                )  # fmt: skip
        requantize_case(suite, rng, bits_in=bi, bits_out=bo if bo < bi else 2, h=3, w=4, c=ci)
        if bo < 8:
            for co_w in (co, 8):
                conv_case(
                    suite, rng, bits_in=bi, bits_out=bo, h=5, w=6, ci=ci, co=co_w, k=3, stride=1, dilation=1,
                    pad=(1, 1, 1, 1), band=2, dsp=True, widen=True,
                )  # fmt: skip
    for bits, ci, co in ((4, 8, 6), (2, 4, 12), (4, 10, 8)):  # whole-byte pixels: rows unpack / pack as one run
        conv_case(
            suite, rng, bits_in=bits, bits_out=bits, h=4, w=5, ci=ci, co=co, k=3, stride=1, dilation=1,
            pad=(1, 1, 1, 1), band=2,
        )  # fmt: skip
    for bits in (8, 4, 2):
        for op in ("max", "avg"):
            for band in (1, 3):
                pool_case(suite, rng, op=op, bits=bits, h=7, w=6, c=5, k=3, stride=1, pad=(1, 1, 1, 1), band=band)
                pool_case(suite, rng, op=op, bits=bits, h=8, w=7, c=3, k=2, stride=2, pad=(0, 0, 0, 0), band=band)
    for bits in (4, 2):
        lo, hi = qrange(bits)
        for c in (1, 3, 7, 8, 9, 16, 17):
            direct_max_pool_case(suite, rng, bits=bits, h=7, w=6, c=c, k=3, stride=1, pad=(1, 1, 1, 1))
            direct_max_pool_case(suite, rng, bits=bits, h=8, w=7, c=c, k=2, stride=2, pad=(0, 0, 1, 1))
        for act in ((lo + 1, hi), (0, hi - 1), (lo, 0)):
            direct_max_pool_case(suite, rng, bits=bits, h=5, w=5, c=9, k=3, stride=2, pad=(1, 1, 1, 1), act=act)
    for bits_a, bits_b, bits_out in ((4, 4, 4), (2, 4, 4), (4, 8, 2), (8, 2, 8)):
        for band in (1, 2):
            add_case(suite, rng, bits_a=bits_a, bits_b=bits_b, bits_out=bits_out, h=3, w=5, c=7, band=band)
    return suite


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, str]:
    if shutil.which("cc") is None:
        pytest.skip("a host C compiler (cc) is needed")
    folder = tmp_path_factory.mktemp("subbyte_kernels")
    (folder / "cases.c").write_text(build_suite().source())
    sources = [folder / "cases.c", *(KERNELS / f"{name}.c" for name in LIBRARY)]
    cmd = [
        "cc",
        "-std=c99",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        *SANITIZE,
        f"-I{KERNELS}",
        *map(str, sources),
        "-o",
        str(folder / "cases"),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    run = subprocess.run([str(folder / "cases")], check=False, capture_output=True, text=True, timeout=120)
    lines = run.stdout.splitlines()
    assert lines and lines[-1].endswith("failed"), run.stdout[-2000:] + run.stderr[-4000:]
    return {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in lines[:-1]}


GROUPS = [
    "outlier",
    "pack/unpack",
    "pack in place",
    "conv ",
    "conv_dsp",
    "dw ",
    "dw_dsp",
    "max_pool ",
    "max_pool direct",
    "avg_pool",
    "add",
    "requantize",
]


@pytest.mark.parametrize("group", GROUPS)
def test_packed_kernels(results, group):
    cases = {name: status for name, status in results.items() if name.startswith(group)}
    assert cases, f"no {group} cases ran"
    failed = [name for name, status in cases.items() if status != "PASS"]
    assert not failed, f"{len(failed)} of {len(cases)} failed: {failed[:8]}"
