"""Armv7E-M DSP-extension kernel variants (Cortex-M4/M7/M33): their rules and C emitters.

Registered into ``kernel_variants``; the kernels live in runtime/kernels/*_dsp.c and use
runtime/kernels/arm_dsp.h, so they also compile and run (plain C) on the host.

conv2d and fully connected use the ``oc4`` weight layout (``oc4_layout``, described in
runtime/kernels/conv_dsp.c): int8 weights pre-widened to int16 pairs in the order SXTB16
widens the input, output channels interleaved in blocks of four.  It doubles the flash of
those weights; ``extra_bytes`` reports the growth to the selector, which falls back to a
compact layout when the image would not fit: the ``oc4 int8`` layout (``oc4_int8_layout``) of
``edgec_conv2d_dsp_int8`` / ``edgec_fully_connected_dsp_int8``, the int8 weights regrouped in
blocks of four output channels and widened at run time, which takes exactly the flash of the
portable kernel's constants (KW * Ci, or K, a multiple of 4, and a bias), else the portable kernel.
"""

from __future__ import annotations

import numpy as np

from edgec.codegen.kernel_variants import VariantRule, accumulator_bound, fast_requant_ok, folded_bias, register
from edgec.ir import Graph, Node

# Largest KH * KW * Ci the conv kernel gathers for a border pixel (EDGEC_CONV_DSP_MAX_FIELD in conv_dsp.c).
MAX_FIELD = 2304
BLOCK = 4  # output channels per block


def _pairs(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int32 words holding int16 ``lo`` in bits 0..15 and ``hi`` in bits 16..31."""
    lo = np.asarray(lo, dtype=np.int64) & 0xFFFF
    hi = np.asarray(hi, dtype=np.int64) & 0xFFFF
    return (lo | (hi << 16)).astype(np.uint32).view(np.int32)


def oc4_layout(weights: np.ndarray, header: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """The oc4 words of int8 ``weights`` [Co][rows][run] (see conv_dsp.c), Co padded to a multiple of 4;
    each block starts with one 4-word group per ``header`` array (per-channel int32 constants)."""
    co, rows, run = weights.shape
    blocks = -(-co // BLOCK)
    padded = np.zeros((blocks * BLOCK, rows, run), dtype=np.int64)
    padded[:co] = weights
    heads = [_padded(np.asarray(h, dtype=np.int64).reshape(-1)).reshape(blocks, BLOCK) for h in header]
    quads = run // 4
    words = []
    for b, block in enumerate(padded.reshape(blocks, BLOCK, rows, run)):
        words += [h[b] for h in heads]
        for r in range(rows):
            q = block[:, r, : 4 * quads].reshape(BLOCK, quads, 4)
            even, odd = _pairs(q[..., 0], q[..., 2]), _pairs(q[..., 1], q[..., 3])  # [oc][quad]
            words.append(np.stack([even.T, odd.T], axis=-1).reshape(-1))  # quad, oc, even/odd
            t = block[:, r, 4 * quads :]  # [oc][tail]
            words.append(np.stack([_pairs(t[0], t[1]), _pairs(t[2], t[3])], axis=-1).reshape(-1))
    return np.concatenate(words).astype(np.int32) if words else np.zeros(0, np.int32)


# Tap pairs of the c1 layout (single-channel 3x3 convs; taps ky * 3 + kx, None: a zero weight), in
# the order conv_pixel_c1 widens a pixel's inputs.
C1_PAIRS = ((0, 2), (3, 5), (6, 8), (1, 7), (4, None))


def c1_shape(kh: int, kw: int, ci: int, mode: int) -> bool:
    """Whether a conv takes the c1 layout (c1_path in conv_dsp.c): 3x3 on one input channel, epilogue mode 2."""
    return (kh, kw, ci, mode) == (3, 3, 1, 2)


def c1_layout(weights: np.ndarray, header: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """The c1 words of int8 ``weights`` [Co][9] (conv_dsp.c): per block of four output channels (the
    last padded with zeros) one 4-word group per ``header`` array, then per tap pair of C1_PAIRS one
    pair word per channel."""
    co = weights.shape[0]
    blocks = -(-co // BLOCK)
    padded = np.zeros((blocks * BLOCK, 10), dtype=np.int64)  # tap 9: the zero weight
    padded[:co, :9] = weights.reshape(co, 9)
    heads = [_padded(np.asarray(h, dtype=np.int64).reshape(-1)).reshape(blocks, BLOCK) for h in header]
    words = []
    for b, block in enumerate(padded.reshape(blocks, BLOCK, 10)):
        words += [h[b] for h in heads]
        words += [_pairs(block[:, a], block[:, 9 if z is None else z]) for a, z in C1_PAIRS]
    return np.concatenate(words).astype(np.int32) if words else np.zeros(0, np.int32)


def _padded(values: np.ndarray) -> np.ndarray:
    """``values`` (int32 range) padded with zeros to a multiple of 4."""
    out = np.zeros(-(-values.size // BLOCK) * BLOCK, dtype=np.int64)
    out[: values.size] = values
    return out.astype(np.int32)


def _bias(graph: Graph, node: Node) -> np.ndarray | None:
    if len(node.inputs) > 2 and node.inputs[2]:
        return np.asarray(graph.tensors[node.inputs[2]].data, dtype=np.int64).reshape(-1)
    return None


def _const_int8(graph: Graph, name: str) -> bool:
    t = graph.tensors[name]
    return t.is_const and t.dtype == "int8" and t.data is not None


# -- conv2d ---------------------------------------------------------------------------------------


def _conv_applies(graph: Graph, node: Node) -> bool:
    if not _const_int8(graph, node.inputs[1]) or len(graph.tensors[node.inputs[1]].shape) != 4:
        return False
    a = node.attrs
    _, kh, kw, ci = graph.tensors[node.inputs[1]].shape
    groups = a.get("groups", 1) or 1
    x = graph.tensors[node.inputs[0]]
    return (
        groups == 1
        and tuple(a.get("dilation", (1, 1)))[1] == 1
        and kh * kw * ci <= MAX_FIELD
        and len(x.shape) == 4
        and x.shape[-1] == ci
    )


def _layout_growth(graph: Graph, node: Node, rows: int, run: int, header_words: int) -> int:
    """Flash bytes of the oc4 layout beyond the compact int8 weights and int32 bias (and, for conv,
    the multiplier and shift arrays the portable kernel also needs)."""
    co = graph.tensors[node.inputs[1]].shape[0]
    blocks = -(-co // BLOCK)
    words = blocks * (header_words + rows * (2 * BLOCK * (run // 4) + 2 * (run % 4)))
    compact = co * rows * run + (4 * co if _bias(graph, node) is not None else 0)
    if header_words > BLOCK:
        compact += 8 * co  # multipliers and shifts
    return 4 * words - compact


def _conv_extra(graph: Graph, node: Node) -> int:
    _, kh, kw, ci = graph.tensors[node.inputs[1]].shape
    if c1_shape(kh, kw, ci, 2):  # the c1 layout if epilogue mode 2: 20 weight words per block, not 18
        return _layout_growth(graph, node, 1, 10, 4 * BLOCK)
    return _layout_growth(graph, node, kh, kw * ci, 4 * BLOCK)


def conv_blocks(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, mult, shift, mode: int,
                output_offset: int) -> np.ndarray:  # fmt: skip
    """The oc4 words of a conv: headers (per channel: folded bias, rounding term, multiplier,
    shift) and pre-widened weights.  Epilogue mode 2 (see requant_mode) stores right = -shift, rounding
    terms with the output offset, and the folded biases and weights doubled (the kernel's
    accumulators are then rq_fast_right's 2 * acc: one shift less per output; int16 weight lanes
    hold 2 * w in [-256, 254]); the other modes the shifts as they are and zero rounding terms."""
    co, kh, kw, ci = weights.shape
    w = np.asarray(weights, dtype=np.int64)
    mult, shift = (np.broadcast_to(np.asarray(v, dtype=np.int64).reshape(-1), (co,)) for v in (mult, shift))
    rounding = np.zeros(co, dtype=np.int64)
    if mode == 2:  # shifts stored as right = -shift, the output offset in the rounding terms
        shift = -shift
        rounding = np.left_shift(1, shift - 1) + np.left_shift(np.int64(output_offset), shift)
    scale = 2 if mode == 2 else 1
    fields = (scale * folded_bias(w, bias, input_offset, channel_axis=0), rounding, mult, shift)
    # Per channel its four words together (HDR_* in conv_dsp.c): group g of block b holds channel
    # 4b + g's bias, rounding term, multiplier and shift.
    per_channel = np.stack([_padded(np.asarray(f, dtype=np.int64).reshape(-1)) for f in fields])  # [field][channel]
    header = tuple(per_channel.reshape(len(fields), -1, BLOCK).transpose(2, 1, 0).reshape(BLOCK, -1))
    if c1_shape(kh, kw, ci, mode):
        return c1_layout(scale * w.reshape(co, 9), header)
    return oc4_layout(scale * w.reshape(co, kh, kw * ci), header)


def requant_mode(bound: np.ndarray, shift, output_offset: int) -> int:
    """``fast_requant`` of a conv (conv_dsp.c, requant_fast.h): 0 TFLite's general requantization;
    1 rq_fast, proven exact by the accumulator bound; 2 rq_fast_right: also every shift < 0 and
    |SMMULR result| + |rounding term with the output offset| < 2^31.  With shift < 0 the SMMULR
    result is (2 acc M + 2^31) >> 32 with M < 2^31, so its magnitude is at most |acc| + 1."""
    bound = np.asarray(bound, dtype=np.int64).reshape(-1)
    shift = np.broadcast_to(np.asarray(shift, dtype=np.int64).reshape(-1), bound.shape)
    if not fast_requant_ok(bound, shift):
        return 0
    if np.any(shift >= 0) or np.any(shift < -31):
        return 1
    right = -shift
    rounding = np.left_shift(1, right - 1) + np.abs(np.left_shift(np.int64(output_offset), right))
    return 2 if bool(np.all(bound + 1 + rounding < 2**31)) else 1


def _conv_emitter(kernel: str, suffix: str, make_blocks, comment: str):
    """The emitter of a DSP conv variant: ``make_blocks(weights, bias, p, mode)`` lays the weights out
    (``comment`` describes the layout in the generated C), ``kernel`` runs the layer."""

    def emit(w, names, weights, node, p, ident):
        from edgec.codegen.op_emitters import _conv_fields

        graph = names.graph
        wt = graph.tensors[node.inputs[1]]
        _, kh, kw, _ = wt.shape
        data = np.asarray(wt.data, dtype=np.int64)
        bias = _bias(graph, node)
        bound = accumulator_bound(data, bias, p["input_offset"], channel_axis=0)
        mode = requant_mode(bound, p["out_shift"], p["output_offset"])
        blocks = weights.add(f"{ident}_{suffix}", make_blocks(data, bias, p, mode), "int32_t", f"{ident}: {comment}")
        fields = _conv_fields(p, kh, kw, ("groups", 1), "NULL", "NULL") + [("fast_requant", mode)]
        w.line(names.place.view(node.inputs[0], "in", const=True))
        w.line(names.place.view(node.outputs[0], "out"))
        names.place.params(w, "edgec_conv_params", fields)
        w.line(f"{kernel}(&in, &out, {blocks}, &params);")
        return kernel

    return emit


_emit_conv_dsp = _conv_emitter(
    "edgec_conv2d_dsp", "oc4",
    lambda data, bias, p, mode: conv_blocks(
        data, bias, p["input_offset"], p["out_mult"], p["out_shift"], mode, p["output_offset"]
    ),
    "per 4 output channels, for each: bias + input_offset * sum(w), rounding term, multiplier, shift;\n"
    "then the weights as int16 pairs in SXTB16 order (oc4 layout, conv_dsp.c)",
)  # fmt: skip


register(VariantRule("conv2d", "dsp", "conv2d_oc4", _conv_applies, _emit_conv_dsp, _conv_extra))


# -- compact: int8 weights, regrouped ----------------------------------------------------------------


def oc4_int8_layout(weights: np.ndarray, header: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """The oc4 int8 words of int8 ``weights`` [Co][rows][run] (run a multiple of 4; conv_dsp.c): per
    block of n <= 4 output channels, n values of each ``header`` array, then per row and every four
    inputs one word per channel with its four weights (lane k, bits 8k..8k+7, the weight of input k).
    Exactly the bytes of the weights and the header arrays: the last block is not padded."""
    co, rows, run = weights.shape
    if run % 4:
        raise ValueError(f"oc4 int8 layout needs runs of a multiple of 4 inputs, not {run}")
    w = np.asarray(weights, dtype=np.int64)
    heads = [np.broadcast_to(np.asarray(h, dtype=np.int64).reshape(-1), (co,)) for h in header]
    words = []
    for b in range(0, co, BLOCK):
        n = min(BLOCK, co - b)
        words += [h[b : b + n] for h in heads]
        quads = w[b : b + n].reshape(n, rows, run // 4, 4).transpose(1, 2, 0, 3)  # row, quad, channel, lane
        lanes = (quads & 0xFF) << (8 * np.arange(4))
        words.append(lanes.sum(axis=-1).astype(np.uint32).view(np.int32).reshape(-1))
    return np.concatenate(words).astype(np.int32) if words else np.zeros(0, np.int32)


def conv_int8_blocks(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, mult, shift, mode: int) -> np.ndarray:
    """The oc4 int8 words of a conv: per block the folded biases, multipliers and shifts (right =
    -shift in epilogue mode 2; the kernel derives the rounding terms), then the int8 weights."""
    co, kh, kw, ci = weights.shape
    w = np.asarray(weights, dtype=np.int64)
    mult, shift = (np.broadcast_to(np.asarray(v, dtype=np.int64).reshape(-1), (co,)) for v in (mult, shift))
    header = (folded_bias(w, bias, input_offset, channel_axis=0), mult, -shift if mode == 2 else shift)
    return oc4_int8_layout(w.reshape(co, kh, kw * ci), header)


def _int8_growth(graph: Graph, node: Node) -> int:
    """Flash bytes of the oc4 int8 layout beyond the portable kernel's constants: 0 with a bias,
    4 per output channel (the folded bias) without."""
    return 0 if _bias(graph, node) is not None else 4 * graph.tensors[node.inputs[1]].shape[0]


def _conv_int8_applies(graph: Graph, node: Node) -> bool:
    _, _, kw, ci = graph.tensors[node.inputs[1]].shape
    return _conv_applies(graph, node) and (kw * ci) % 4 == 0


_emit_conv_dsp_int8 = _conv_emitter(
    "edgec_conv2d_dsp_int8", "oc4i8",
    lambda data, bias, p, mode: conv_int8_blocks(data, bias, p["input_offset"], p["out_mult"], p["out_shift"], mode),
    "per 4 output channels, bias + input_offset * sum(w), multipliers, shifts, then the int8\n"
    "weights, four inputs of one channel per word (oc4 int8 layout, conv_dsp.c)",
)  # fmt: skip


register(
    VariantRule(
        "conv2d", "dsp", "conv2d_oc4_int8", _conv_int8_applies, _emit_conv_dsp_int8,
        _int8_growth,
    )
)  # fmt: skip


# -- fully connected ------------------------------------------------------------------------------


def fc_applies(graph: Graph, node: Node) -> bool:
    """A fully connected layer on constant int8 [Co][K] weights (the DSP and MVE FC rules)."""
    return _const_int8(graph, node.inputs[1]) and len(graph.tensors[node.inputs[1]].shape) == 2


def _fc_extra(graph: Graph, node: Node) -> int:
    _, k = graph.tensors[node.inputs[1]].shape
    return _layout_growth(graph, node, 1, k, BLOCK)


def _fc_emitter(kernel: str, suffix: str, layout, comment: str):
    """The emitter of a DSP fully connected variant: ``layout(weights [Co][1][K], header)`` lays the
    weights out (``comment`` describes it in the generated C), ``kernel`` runs the layer."""

    def emit(w, names, weights, node, p, ident):
        from edgec.codegen.op_emitters import _pointer, fc_fields

        graph = names.graph
        wt = graph.tensors[node.inputs[1]]
        co, k = wt.shape
        data = np.asarray(wt.data, dtype=np.int64)
        batches = graph.tensors[node.inputs[0]].size // k
        scales = np.broadcast_to(np.asarray(p["out_scale"], dtype=np.float64).reshape(-1), (co,))
        scale = weights.add(f"{ident}_scale", scales, "double", "output rescale per channel (double, as TFLite's reference FC)")
        header = (folded_bias(data, _bias(graph, node), p["input_offset"], channel_axis=0),)
        blocks = weights.add(f"{ident}_{suffix}", layout(data.reshape(co, 1, k), header), "int32_t", f"{ident}: {comment}")
        names.place.params(w, "edgec_fc_params", fc_fields(p, k, co, scale))
        src, dst = _pointer(names, node.inputs[0]), _pointer(names, node.outputs[0])
        w.line(f"{kernel}({src}, {dst}, {batches}, {blocks}, &params);")
        return kernel

    return emit


_emit_fc_dsp = _fc_emitter(
    "edgec_fully_connected_dsp", "oc4", oc4_layout,
    "per 4 output channels, bias + input_offset * sum(w), then the weights as int16 pairs\n"
    "in SXTB16 order (oc4 layout, conv_dsp.c)",
)  # fmt: skip


register(VariantRule("fully_connected", "dsp", "fully_connected_oc4", fc_applies, _emit_fc_dsp, _fc_extra))


def _fc_int8_applies(graph: Graph, node: Node) -> bool:
    return fc_applies(graph, node) and graph.tensors[node.inputs[1]].shape[1] % 4 == 0


_emit_fc_dsp_int8 = _fc_emitter(
    "edgec_fully_connected_dsp_int8", "oc4i8", oc4_int8_layout,
    "per 4 output channels, bias + input_offset * sum(w), then the int8 weights, four\n"
    "inputs of one channel per word (oc4 int8 layout, conv_dsp.c)",
)  # fmt: skip


register(
    VariantRule(
        "fully_connected", "dsp", "fully_connected_oc4_int8", _fc_int8_applies, _emit_fc_dsp_int8,
        _int8_growth,
    )
)  # fmt: skip
