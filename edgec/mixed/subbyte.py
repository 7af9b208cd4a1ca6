"""Sub-byte feature maps: value ranges and the packed storage layout.

A feature map of ``bits`` 4 or 2 holds signed integers in ``qrange(bits)``
([-8, 7] or [-2, 1]) with per-tensor affine parameters, exactly like an int8
map with a narrower clamp.  In memory it is packed **per pixel** (NHWC,
channels dense): the ``C`` channels of one pixel take ``pixel_bytes(C, bits)``
= ceil(C * bits / 8) bytes, so rows and windows stay byte-addressed and a
pixel never shares a byte with its neighbour.  Values are two's complement.

Inside a pixel, channels come in **word groups** of ``G = 32 / bits`` (8 at
int4, 16 at int2), each packed into 4 bytes: channel ``4 j + k`` of a group
sits in byte ``k`` of the group's word at bit ``j * bits`` (``j < 8 / bits``).
So the ``j``-th field of all four bytes holds four consecutive channels, and a
word unpacks into ``8 / bits`` words of four int8 channels in their order
with one shift and one mask each (packing: a mask and a shifted OR), the
cheapest layout for the word-at-a-time C code.  The last ``C % G`` channels
of a pixel (fewer than a word) follow **sequentially**: channel ``c`` of that
tail at bit ``(c % per_byte) * bits`` of its byte ``c / per_byte`` (the first
channel in the lowest bits); unused high bits of a pixel's last byte are 0.
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


def group_channels(bits: int) -> int:
    """Channels of one word group: 8 at int4, 16 at int2."""
    return 32 // bits


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
    lanes = (values.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint8)
    full = channels // group_channels(bits) * group_channels(bits)
    shifts = (np.arange(n) * bits).astype(np.uint8)
    # word groups: [..., group, field j, byte k] -> byte k = OR_j lane(4 j + k) << j * bits
    grouped = lanes[..., :full].reshape(values.shape[:-1] + (-1, n, 4))
    words = np.bitwise_or.reduce(grouped << shifts[:, None], axis=-2).reshape(values.shape[:-1] + (-1,))
    # the tail, sequentially: n lanes a byte, the first in the lowest bits
    tail = np.zeros(values.shape[:-1] + (pixel_bytes(channels - full, bits) * n,), dtype=np.uint8)
    tail[..., : channels - full] = lanes[..., full:]
    tail = np.bitwise_or.reduce(tail.reshape(values.shape[:-1] + (-1, n)) << shifts, axis=-1)
    return np.concatenate([words, tail], axis=-1).astype(np.uint8)


def unpack(packed: np.ndarray, bits: int, channels: int) -> np.ndarray:
    """Inverse of ``pack``: int8 values, last axis ``channels``."""
    packed = np.asarray(packed, dtype=np.uint8)
    if bits == 8:
        return packed.view(np.int8)[..., :channels].copy()
    n = per_byte(bits)
    full = channels // group_channels(bits) * group_channels(bits)
    shifts = (np.arange(n) * bits).astype(np.uint8)
    mask = (1 << bits) - 1
    head = packed[..., : full * bits // 8].reshape(packed.shape[:-1] + (-1, 1, 4))
    grouped = ((head >> shifts[:, None]) & mask).reshape(packed.shape[:-1] + (-1,))
    tail = (packed[..., full * bits // 8 :, None] >> shifts) & mask
    tail = tail.reshape(packed.shape[:-1] + (-1,))[..., : channels - full]
    fields = np.concatenate([grouped, tail], axis=-1).astype(np.int16)
    sign = 1 << (bits - 1)
    return ((fields ^ sign) - sign).astype(np.int8)
