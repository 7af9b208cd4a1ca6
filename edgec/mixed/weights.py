"""int4 weight values for the mixed variant's conv and depthwise conv ops.

A stage conv/depthwise conv the search gives 4-bit weights keeps the int8
graph's weight tensor name, shape and int8 storage; its values are
requantized per output channel, symmetric (zero point 0), to ``[-8, 7]``
(``subbyte.qrange(4)``).  The int8 kernels compute with them unchanged, so
only the values and the per-channel scales differ: "int4 weight values, int8
storage" (flash holds the mixed variant's copy as int8 bytes).

Per channel the real weights ``w = s8 * q8`` are mapped to
``q4 = clip(round(w / s4), -8, 7)`` (round half away from zero) with
``s4 = clip_ratio * max|w| / 7``; the clip ratio is the one of
``CLIP_RATIOS`` with the least squared error ``sum (w - s4 q4)^2`` (ties: the
larger ratio).  ``relative_noise`` is that error summed over channels divided
by ``sum w^2``: the relative noise power the search scores (``search.py``).
"""

from __future__ import annotations

import numpy as np

from edgec.ir.tensor import Tensor
from edgec.mixed.subbyte import qrange
from edgec.passes.quantize import round_half_away

WEIGHT_OPS = frozenset({"conv2d", "depthwise_conv2d"})
CANDIDATE_WEIGHT_BITS = (4,)
CLIP_RATIOS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6)


def _channels_last(t: Tensor) -> np.ndarray:
    """Real weight values as [elements per channel, channels] (float64)."""
    q = np.moveaxis(np.asarray(t.data, dtype=np.float64), t.axis or 0, -1)
    return (q * t.scale.astype(np.float64)).reshape(-1, q.shape[-1])


def requantize(t: Tensor, bits: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``(values, scales, relative noise)``: ``t``'s int8 per-channel weights as ``bits``-wide values.

    ``values`` has ``t``'s shape and dtype (int8), ``scales`` one float32 per channel.
    """
    if t.scale is None or t.scale.size != t.shape[t.axis or 0]:
        raise ValueError(f"weights {t.name!r} are not per-channel quantized")
    qmin, qmax = qrange(bits)
    w = _channels_last(t)
    peak = np.abs(w).max(axis=0)
    best_err = np.full(w.shape[1], np.inf)
    scales = np.ones(w.shape[1], dtype=np.float64)
    for ratio in CLIP_RATIOS:
        s = np.where(peak > 0, np.float32(ratio * peak / qmax), np.float32(1.0)).astype(np.float32).astype(np.float64)
        err = ((w - s * np.clip(round_half_away(w / s), qmin, qmax)) ** 2).sum(axis=0)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        scales = np.where(better, s, scales)
    q = np.clip(round_half_away(w / scales), qmin, qmax)
    axis = t.axis or 0
    moved = np.moveaxis(np.asarray(t.data), axis, -1).shape
    values = np.moveaxis(q.reshape(moved), -1, axis).astype(np.int8)
    power = float((w**2).sum())
    noise = float(best_err.sum()) / power if power > 0 else 0.0
    return values, scales.astype(np.float32), noise
