"""MobileNetV2 (Sandler et al., 2018, Table 2) with seeded random weights.

Channel counts follow the reference implementation: ``width * c`` rounded to a
multiple of 8 (never more than 10% below the exact value), and the last 1x1
conv keeps 1280 channels for width < 1.  Every conv is followed by
BatchNormalization; ReLU6 is an ONNX Clip(0, 6); the projection convs are
linear.  Output: logits [1, classes].
"""

from __future__ import annotations

import onnx

from models.onnx_builder import OnnxBuilder

# (expansion t, output channels c, repeats n, first stride s) -- Table 2 of the paper
INVERTED_RESIDUAL_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to the nearest multiple of ``divisor``, going up if rounding lost more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def inverted_residual(b: OnnxBuilder, x: str, expansion: int, out_channels: int, stride: int) -> str:
    """Expand 1x1 (ReLU6) -> depthwise 3x3 (ReLU6) -> linear project 1x1, residual when shapes match."""
    in_channels = b.shape(x)[1]
    hidden = in_channels * expansion
    y = x if expansion == 1 else b.conv_bn(x, hidden, 1, act="relu6")
    y = b.conv_bn(y, hidden, 3, stride=stride, groups=hidden, act="relu6")
    y = b.conv_bn(y, out_channels, 1, act=None)
    if stride == 1 and in_channels == out_channels:
        y = b.add(x, y)
    return y


def build_mobilenet_v2(
    width: float = 1.0, resolution: int = 224, classes: int = 1000, seed: int = 0
) -> onnx.ModelProto:
    b = OnnxBuilder(f"mobilenet_v2_w{width}_r{resolution}", (1, 3, resolution, resolution), seed)
    x = b.conv_bn(b.input_name, make_divisible(STEM_CHANNELS * width), 3, stride=2, act="relu6")
    for expansion, channels, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        out_channels = make_divisible(channels * width)
        for i in range(repeats):
            x = inverted_residual(b, x, expansion, out_channels, first_stride if i == 0 else 1)
    x = b.conv_bn(x, make_divisible(LAST_CHANNELS * max(1.0, width)), 1, act="relu6")
    x = b.flatten(b.global_avg_pool(x))
    logits = b.gemm(x, classes)
    return b.build(logits, doc=f"MobileNetV2 width {width}, {resolution}x{resolution}, seeded random weights")
