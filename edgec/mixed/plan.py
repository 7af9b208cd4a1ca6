"""What a mixed-precision build hands from quantization to the reference and to codegen.

The patch stage (``ModelPlan.stage``) exists in two compiled variants:

* the **int8 variant**: the build's int8 graph, unchanged;
* the **mixed variant**: ``MixedPrecision.graph``, a copy of the int8 graph with the
  same nodes and tensor names in which stage feature maps carry ``Tensor.bits``
  4 or 2 and their own scale and zero point (``edgec/mixed/subbyte.py``).  The
  stage inputs and the split tensor (the stage output) keep their int8
  parameters, so the rest of the network is the same for both variants.
  Weights are shared unless the search gave an op int4 weight values
  (``weight_bits``; ``edgec/mixed/weights.py``: same tensor, int8 storage,
  values in [-8, 7] with their own per-channel scales); a conv/depthwise conv
  reading a re-scaled map or with int4 weights has its int32 bias requantized
  to the new accumulator scale (same tensor names, different data: codegen
  must emit the mixed variant's weight and bias arrays from this graph).

Value-driven patch classification (VDPC) picks the variant per patch at run
time: the stage ops up to and including the producer of ``test_tensor`` are
identical in both variants (their outputs stay 8-bit with the int8 parameters)
and run first; then the patch's window of ``test_tensor`` is scanned, and if
any value lies outside ``[lo, hi]`` the patch is an *outlier patch* and the
remaining stage ops run in the int8 variant, otherwise in the mixed variant.
``test_tensor`` may be a stage input (nothing runs before the test).  When
``[lo, hi]`` is the whole int8 range no patch can be an outlier patch
(``int8_variant`` False): the build then runs the mixed variant on every patch
without classifying, and may give the stage a coarser grid of its own
(``edgec/mixed/grid.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgec.ir.graph import Graph


@dataclass(frozen=True)
class OutlierTest:
    tensor: str  # a stage input, or a stage tensor kept at 8 bits whose producer chain is shared
    lo: int  # int8 values outside [lo, hi] make a patch an outlier patch
    hi: int


@dataclass
class MixedPrecision:
    graph: Graph  # the mixed variant of the whole int8 graph (only stage feature maps differ)
    bits: dict[str, int]  # every stage feature map -> 8, 4 or 2
    outlier_test: OutlierTest
    outlier_patch_fraction: float  # on the calibration data
    mixed_lambda: float
    search_seconds: float
    report: dict = field(default_factory=dict)  # build.json "precision" section (mode, bitops, ...)
    weight_bits: dict[str, int] = field(default_factory=dict)  # stage op -> 4: int4 weight values (mixed variant)

    @property
    def int8_variant(self) -> bool:
        """Whether a patch can take the int8 variant: False when the thresholds are the whole int8
        range (no value lies outside), so the classifier and the int8 variant are never needed."""
        return self.outlier_test.lo > -128 or self.outlier_test.hi < 127
