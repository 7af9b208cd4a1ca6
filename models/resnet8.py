"""ResNet-8 of the MLPerf Tiny image-classification benchmark (CIFAR-10) with seeded random weights.

32x32 RGB input; a 3x3 conv to 16 channels; three residual stages of 16, 32
and 64 channels (two 3x3 convs each; stages 2 and 3 downsample with stride 2
and a 1x1 stride-2 shortcut conv); global average pool; dense 10 with softmax.
Convs carry a bias and are followed by BatchNormalization (as in the Keras
reference), except the shortcut convs, which have no BatchNormalization.
Output: probabilities [1, 10].
"""

from __future__ import annotations

import onnx

from models.onnx_builder import OnnxBuilder

STAGE_CHANNELS = (16, 32, 64)
CLASSES = 10


def residual_stage(b: OnnxBuilder, x: str, channels: int, stride: int) -> str:
    y = b.conv_bn(x, channels, 3, stride=stride, act="relu", bias=True)
    y = b.conv_bn(y, channels, 3, act=None, bias=True)
    shortcut = x if stride == 1 else b.conv(x, channels, 1, stride=stride, pads=(0, 0, 0, 0), bias=True, gain=1.0)
    return b.relu(b.add(shortcut, y))


def build_resnet8(seed: int = 0) -> onnx.ModelProto:
    b = OnnxBuilder("resnet8", (1, 3, 32, 32), seed)
    x = b.conv_bn(b.input_name, STAGE_CHANNELS[0], 3, act="relu", bias=True)
    for i, channels in enumerate(STAGE_CHANNELS):
        x = residual_stage(b, x, channels, stride=1 if i == 0 else 2)
    x = b.flatten(b.global_avg_pool(x))
    probabilities = b.softmax(b.gemm(x, CLASSES))
    return b.build(probabilities, doc="ResNet-8 (MLPerf Tiny), 32x32 input, seeded random weights")
