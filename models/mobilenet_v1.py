"""MobileNetV1 (Howard et al., 2017, Table 1) with seeded random weights.

The default configuration is the MLPerf Tiny visual-wake-words model: width
0.25, 96x96 RGB input, 2 classes.  Each conv (standard or depthwise) is
followed by BatchNormalization and ReLU6 (ONNX Clip); a global average pool
and a dense layer with softmax finish the net.  Output: probabilities [1, classes].
"""

from __future__ import annotations

import onnx

from models.onnx_builder import OnnxBuilder

STEM_CHANNELS = 32
# (pointwise output channels, depthwise stride) for the 13 depthwise-separable blocks of Table 1
SEPARABLE_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def build_mobilenet_v1(width: float = 0.25, resolution: int = 96, classes: int = 2, seed: int = 0) -> onnx.ModelProto:
    b = OnnxBuilder(f"mobilenet_v1_w{width}_r{resolution}", (1, 3, resolution, resolution), seed)
    x = b.conv_bn(b.input_name, int(STEM_CHANNELS * width), 3, stride=2, act="relu6")
    for channels, stride in SEPARABLE_BLOCKS:
        in_channels = b.shape(x)[1]
        x = b.conv_bn(x, in_channels, 3, stride=stride, groups=in_channels, act="relu6")
        x = b.conv_bn(x, int(channels * width), 1, act="relu6")
    x = b.flatten(b.global_avg_pool(x))
    probabilities = b.softmax(b.gemm(x, classes))
    return b.build(probabilities, doc=f"MobileNetV1 width {width}, {resolution}x{resolution}, seeded random weights")
