"""Sub-byte feature maps: value ranges and the packed storage layout.

A feature map of ``bits`` 4 or 2 holds signed integers in ``qrange(bits)``
([-8, 7] or [-2, 1]) with per-tensor affine parameters, exactly like an int8
map with a narrower clamp.  In memory it is packed **per pixel** (NHWC,
channels dense): the ``C`` channels of one pixel take ``pixel_bytes(C, bits)``
= ceil(C * bits / 8) bytes, so rows and windows stay byte-addressed and a
pixel never shares a byte with its neighbour.  Inside a byte, channel ``c``
of the pixel sits at bit ``(c % per_byte) * bits`` (the first channel in the
lowest bits), two's complement; unused high bits of a pixel's last byte are 0.
"""

from __future__ import annotations

import numpy as np

SUB_BYTE = (4, 2)
WIDTHS = (8, 4, 2)


def qrange(bits: int) -> tuple[int, int]:
    """The signed integer range of a ``bits``-wide value: (-128, 127), (-8, 7) or (-2, 1)."""
    if bits not in WIDTHS:
        raise ValueError(f"unsupported feature-map width {bits} bits (expected one of {WIDTHS})")
    half = 1 << (bits - 1)
    return -half, half - 1


def per_byte(bits: int) -> int:
    return 8 // bits


def pixel_bytes(channels: int, bits: int) -> int:
    """Bytes one pixel of ``channels`` values takes when packed at ``bits``."""
    return -(-channels * bits // 8)


def pack(values: np.ndarray, bits: int) -> np.ndarray:
    """Pack an int array (last axis: channels) into uint8, per pixel; 8 bits is a plain int8 view."""
    values = np.asarray(values)
    lo, hi = qrange(bits)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"values outside [{lo}, {hi}] cannot be packed at {bits} bits")
    if bits == 8:
        return values.astype(np.int8).view(np.uint8)
    n = per_byte(bits)
    channels = values.shape[-1]
    padded = np.zeros(values.shape[:-1] + (pixel_bytes(channels, bits) * n,), dtype=np.uint8)
    padded[..., :channels] = values.astype(np.int64) & ((1 << bits) - 1)
    groups = padded.reshape(values.shape[:-1] + (-1, n)).astype(np.uint8)
    shifts = (np.arange(n) * bits).astype(np.uint8)
    return np.bitwise_or.reduce(groups << shifts, axis=-1).astype(np.uint8)


def unpack(packed: np.ndarray, bits: int, channels: int) -> np.ndarray:
    """Inverse of ``pack``: int8 values, last axis ``channels``."""
    packed = np.asarray(packed, dtype=np.uint8)
    if bits == 8:
        return packed.view(np.int8)[..., :channels].copy()
    n = per_byte(bits)
    shifts = (np.arange(n) * bits).astype(np.uint8)
    fields = (packed[..., None] >> shifts) & ((1 << bits) - 1)
    fields = fields.reshape(packed.shape[:-1] + (-1,))[..., :channels].astype(np.int16)
    sign = 1 << (bits - 1)
    return ((fields ^ sign) - sign).astype(np.int8)
