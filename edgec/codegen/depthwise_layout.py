"""Build-time weight layout of the DSP depthwise kernels (runtime/kernels/depthwise_dsp.c).

The kernel handles four channels per step and two kernel taps per SMLAD, so
it wants, for every group of four channels and every pair of taps, the four
channels' int16 weight pairs side by side::

    layout[q][j][i][t] = w[tap 2j + t][channel 4q + i]     (taps in ky * KW + kx order)

with zeros for the missing partner of an odd last tap and for the channels
past C.  Flash grows from KH * KW * C bytes to 8 * ceil(C / 4) * ceil(KH * KW / 2)
bytes: about 2.2x for a 3x3 kernel.

With the fast epilogue (``fast_requant`` 2) each group of four channels
starts with a header of 16 int32 words, four per channel in four groups
(``depthwise_dsp_header``): the bias with the input offset folded in, the
multipliers, the rounding terms with the output offset and the right
shifts; then the group's weights as above (``depthwise_dsp_layout(w, header)``,
16 more int32 words per four channels).  In that layout the folded biases and the
weights are doubled, so the kernel's accumulators hold 2 * acc and its
requantization (``rq_fast_right_x2_mla``) needs no shift; ``fast_requant`` 2
implies |acc| < 2^30 (``kernel_variants.fast_requant_ok``), so 2 * acc fits int32
and the int16 weights (at most 256 in magnitude) fit.
"""

from __future__ import annotations

import numpy as np

MAX_TAPS = 64  # EDGEC_DW_DSP_MAX_TAPS in edgec_kernels.h
HEADER_WORDS = 16  # int32 words before each group's weights with the fast epilogue


def depthwise_dsp_header(weights: np.ndarray, bias, input_offset: int, mult, shift, output_offset: int) -> np.ndarray:
    """[C, 4] int64: per channel the folded bias (bias + input_offset * sum w), multiplier,
    rounding term (1 << (right - 1)) + (output_offset << right) and right = -shift (every shift
    negative: ``dsp_emitters.requant_mode`` 2 checks it and that the terms fit int32)."""
    w = np.asarray(weights, dtype=np.int64)
    c = w.shape[-1]
    folded = w.reshape(-1, c).sum(axis=0) * int(input_offset)
    if bias is not None:
        folded = folded + np.asarray(bias, dtype=np.int64).reshape(-1)
    mult = np.broadcast_to(np.asarray(mult, dtype=np.int64).reshape(-1), (c,))
    right = -np.broadcast_to(np.asarray(shift, dtype=np.int64).reshape(-1), (c,))
    if np.any(right < 1) or np.any(right > 31):
        raise ValueError("the fast depthwise epilogue needs every shift in [-31, -1]")
    rounding = np.left_shift(np.int64(1), right - 1) + np.int64(output_offset) * np.left_shift(np.int64(1), right)
    header = np.stack([folded, mult, rounding, right], axis=1)
    if np.any(np.abs(header) >= 2**31):
        raise ValueError("a depthwise header word overflows int32")
    return header


def depthwise_dsp_layout(weights: np.ndarray, header: np.ndarray | None = None) -> np.ndarray:
    """[1, KH, KW, C] int8 depthwise weights -> int16 [ceil(C/4), ceil(KH*KW/2), 4, 2]; with a
    ``header`` ([C, 4], depthwise_dsp_header) a flat int16 array of the groups, each its 16 header
    words (int32, little-endian halves, the folded bias doubled) then its weights, doubled."""
    w = np.asarray(weights)
    if w.ndim != 4 or w.shape[0] != 1:
        raise ValueError(f"depthwise weights must be [1, KH, KW, C], got {list(w.shape)}")
    _, kh, kw, c = w.shape
    taps = kh * kw
    pairs = (taps + 1) // 2
    quads = (c + 3) // 4
    padded = np.zeros((2 * pairs, 4 * quads), dtype=np.int16)
    padded[:taps, :c] = w.reshape(taps, c)
    # [pair, t, quad, i] -> [quad, pair, i, t]
    layout = np.ascontiguousarray(padded.reshape(pairs, 2, quads, 4).transpose(2, 0, 3, 1))
    if header is None:
        return layout
    # padding channels: bias 0, multiplier 0, rounding 0, right 1 (any value works; these are harmless)
    h = np.zeros((4 * quads, 4), dtype=np.int64)
    h[:, 3] = 1
    h[:c] = header
    h[:, 0] *= 2  # the kernel accumulates 2 * acc (weights doubled below)
    if np.any(np.abs(h[:, 0]) >= 2**31):
        raise ValueError("a doubled depthwise bias overflows int32")
    layout = layout * np.int16(2)
    # [quad, i, field] -> [quad, field, i]: four words of each field side by side
    words = h.reshape(quads, 4, 4).transpose(0, 2, 1).reshape(quads, HEADER_WORDS).astype("<i4")
    halves = words.view("<i2").reshape(quads, 2 * HEADER_WORDS).astype(np.int16)
    return np.concatenate([halves, layout.reshape(quads, -1)], axis=1).reshape(-1)


def depthwise_dsp_layout_bytes(kernel_h: int, kernel_w: int, channels: int, header: bool = False) -> int:
    """Flash bytes of the layout (int16), with or without the fast epilogue's headers."""
    quads = (channels + 3) // 4
    return 2 * 8 * quads * ((kernel_h * kernel_w + 1) // 2) + (4 * HEADER_WORDS * quads if header else 0)
