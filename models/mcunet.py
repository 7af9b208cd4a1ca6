"""An MCUNet-style ImageNet network (after Lin et al., "MCUNet", 2020) with seeded random weights.

Not a reproduction of a published searched architecture: a hand-written net
in the spirit of MCUNet's TinyNAS models -- an MobileNetV2-like backbone of
inverted residual blocks whose depthwise kernels (3/5/7) and expansion ratios
(3/4/6) vary block by block, narrow early stages to keep the peak activation
memory small, and residual adds wherever a block keeps its shape.

Input 160x160 RGB (MCUNet's 160-resolution setting); output logits [1, 1000].
Every conv is followed by BatchNormalization; ReLU6 is an ONNX Clip(0, 6).
"""

from __future__ import annotations

import onnx

from models.onnx_builder import OnnxBuilder

RESOLUTION = 160
CLASSES = 1000
STEM_CHANNELS = 16
FIRST_BLOCK_CHANNELS = 8
# (expansion, depthwise kernel, output channels, stride); stride-1 blocks with equal channels add a residual
BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    (4, 7, 16, 2),  # 40x40
    (3, 3, 16, 1),
    (6, 5, 24, 2),  # 20x20
    (3, 7, 24, 1),
    (4, 3, 24, 1),
    (6, 7, 40, 2),  # 10x10
    (3, 5, 40, 1),
    (4, 3, 48, 1),
    (6, 5, 48, 1),
    (6, 5, 96, 2),  # 5x5
    (3, 7, 96, 1),
    (4, 3, 96, 1),
    (6, 3, 160, 1),
)


def mb_block(b: OnnxBuilder, x: str, expansion: int, kernel: int, out_channels: int, stride: int) -> str:
    """Inverted residual: expand 1x1 -> depthwise kxk -> linear project 1x1 (+ residual)."""
    in_channels = b.shape(x)[1]
    hidden = in_channels * expansion
    y = b.conv_bn(x, hidden, 1, act="relu6")
    y = b.conv_bn(y, hidden, kernel, stride=stride, groups=hidden, act="relu6")
    y = b.conv_bn(y, out_channels, 1, act=None)
    if stride == 1 and in_channels == out_channels:
        y = b.add(x, y)
    return y


def build_mcunet(seed: int = 0) -> onnx.ModelProto:
    b = OnnxBuilder("mcunet_style_r160", (1, 3, RESOLUTION, RESOLUTION), seed)
    x = b.conv_bn(b.input_name, STEM_CHANNELS, 3, stride=2, act="relu6")
    # first block: depthwise-separable, no expansion (as in MobileNetV2 / MCUNet)
    x = b.conv_bn(x, STEM_CHANNELS, 3, groups=STEM_CHANNELS, act="relu6")
    x = b.conv_bn(x, FIRST_BLOCK_CHANNELS, 1, act=None)
    for expansion, kernel, channels, stride in BLOCKS:
        x = mb_block(b, x, expansion, kernel, channels, stride)
    x = b.flatten(b.global_avg_pool(x))
    logits = b.gemm(x, CLASSES)
    return b.build(logits, doc="MCUNet-style inverted-residual net, 160x160 input, seeded random weights")
