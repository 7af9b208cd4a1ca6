"""Omega: the entropy a feature map loses when stored at fewer bits.

Entropy is estimated from the map's int8 histogram over the calibration
non-outlier patches (plug-in estimate, bits): ``H8 = -sum p_q log2 p_q`` over
the 256 int8 levels.  At width ``b`` every int8 level ``q`` maps to the
``b``-bit integer of its real value ``s8 * (q - z8)`` under the map's sub-byte
parameters (round half away from zero, clamp), and ``Hb`` is the entropy of
the resulting histogram.  Since the map is a function of the int8 value,
``0 <= Hb <= H8`` and ``Omega(i, b) = H8 - Hb >= 0``; at 8 bits it is 0.
"""

from __future__ import annotations

import numpy as np

from edgec.mixed.assign import quantize_levels


def entropy(hist: np.ndarray) -> float:
    total = float(np.sum(hist))
    if total <= 0:
        return 0.0
    p = np.asarray(hist, dtype=np.float64)[np.asarray(hist) > 0] / total
    return float(-(p * np.log2(p)).sum())


def requantized_histogram(hist: np.ndarray, scale8: float, zp8: int, scale: float, zp: int, bits: int) -> np.ndarray:
    real = np.float64(scale8) * (np.arange(-128, 128, dtype=np.float64) - zp8)
    q = quantize_levels(real, scale, zp, bits)
    return np.bincount(q + 128, weights=np.asarray(hist, dtype=np.float64), minlength=256)


def entropy_loss(hist: np.ndarray, scale8: float, zp8: int, scale: float, zp: int, bits: int) -> float:
    """Omega: entropy (bits) lost by storing the int8 histogram ``hist`` at ``bits`` with ``(scale, zp)``."""
    if bits == 8:
        return 0.0
    return max(entropy(hist) - entropy(requantized_histogram(hist, scale8, zp8, scale, zp, bits)), 0.0)
