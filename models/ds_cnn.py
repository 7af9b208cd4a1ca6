"""DS-CNN-S keyword spotting model (Zhang et al., "Hello Edge", 2017) with seeded random weights.

Layout as in the MLPerf Tiny keyword-spotting reference: input 49 frames x 10
MFCC features (NCHW 1x1x49x10); a 10x4 conv with stride 2 and TensorFlow
'SAME' padding (asymmetric: 4 rows above, 5 below) to 64 channels; four
depthwise-separable blocks (3x3 depthwise + 1x1 pointwise, 64 channels, each
conv followed by BatchNormalization and ReLU); global average pool over the
25x5 map; dense 12 with softmax.  Output: probabilities [1, 12].
"""

from __future__ import annotations

import onnx

from models.onnx_builder import OnnxBuilder, same_pads

FRAMES, FEATURES = 49, 10
CHANNELS = 64
SEPARABLE_BLOCKS = 4
CLASSES = 12


def build_ds_cnn(seed: int = 0) -> onnx.ModelProto:
    b = OnnxBuilder("ds_cnn_s", (1, 1, FRAMES, FEATURES), seed)
    top, bottom = same_pads(FRAMES, 10, 2)
    left, right = same_pads(FEATURES, 4, 2)
    x = b.conv_bn(b.input_name, CHANNELS, (10, 4), stride=2, pads=(top, left, bottom, right), act="relu")
    for _ in range(SEPARABLE_BLOCKS):
        x = b.conv_bn(x, CHANNELS, 3, groups=CHANNELS, act="relu")
        x = b.conv_bn(x, CHANNELS, 1, act="relu")
    x = b.flatten(b.global_avg_pool(x))
    probabilities = b.softmax(b.gemm(x, CLASSES))
    return b.build(probabilities, doc="DS-CNN-S keyword spotting, 49x10 MFCC input, seeded random weights")
