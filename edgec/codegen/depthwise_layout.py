"""Build-time weight layout of the DSP depthwise kernels (runtime/kernels/depthwise_dsp.c).

The kernel handles four channels per step and two kernel taps per SMLAD, so
it wants, for every group of four channels and every pair of taps, the four
channels' int16 weight pairs side by side::

    layout[q][j][i][t] = w[tap 2j + t][channel 4q + i]     (taps in ky * KW + kx order)

with zeros for the missing partner of an odd last tap and for the channels
past C.  Flash grows from KH * KW * C bytes to 8 * ceil(C / 4) * ceil(KH * KW / 2)
bytes: about 2.2x for a 3x3 kernel.
"""

from __future__ import annotations

import numpy as np

MAX_TAPS = 64  # EDGEC_DW_DSP_MAX_TAPS in edgec_kernels.h


def depthwise_dsp_layout(weights: np.ndarray) -> np.ndarray:
    """[1, KH, KW, C] int8 depthwise weights -> int16 [ceil(C/4), ceil(KH*KW/2), 4, 2]."""
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
    return np.ascontiguousarray(padded.reshape(pairs, 2, quads, 4).transpose(2, 0, 3, 1))


def depthwise_dsp_layout_bytes(kernel_h: int, kernel_w: int, channels: int) -> int:
    """Flash bytes of the layout (int16)."""
    return 2 * 8 * ((channels + 3) // 4) * ((kernel_h * kernel_w + 1) // 2)
