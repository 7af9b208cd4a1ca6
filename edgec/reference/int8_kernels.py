"""int8 kernels in numpy with explicit integer parameters.

Each function here is the numpy twin of one C kernel in ``runtime/kernels/``:
same name, same integer parameters, same rounding, bit-exact with TFLite's
reference kernels (LiteRT ``OpResolverType.BUILTIN_REF``).  Parameters are the
ones TFLite derives in its ``Prepare`` step (offsets, multipliers, shifts,
activation ranges); ``edgec.reference.qparams`` derives them from a graph
node, and both the reference interpreter and the C code generator use it.

Conventions (shared with the C kernels):

* activations NHWC int8; ``input_offset = -input_zero_point``,
  ``output_offset = +output_zero_point`` (TFLite's sign convention);
* ``out_mult``/``out_shift``: int32 arrays, one per output channel (a
  per-tensor op passes arrays of length 1 or the scalar repeated); a positive
  shift is a left shift, as in TFLite's ``QuantizeMultiplier``;
* ``pad`` is ``(top, left, bottom, right)``; ``stride``/``dilation``/
  ``kernel`` are ``(h, w)``;
* ``act_min``/``act_max`` are the int8 clamp bounds.
"""

from __future__ import annotations

import numpy as np

# -- fixed-point primitives (TFLite / gemmlowp) -------------------------------


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``: real ~= mult * 2**(shift - 31), mult in [2**30, 2**31)."""
    raise NotImplementedError


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    raise NotImplementedError


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    raise NotImplementedError


def multiply_by_quantized_multiplier(x: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """TFLite reference ``MultiplyByQuantizedMultiplier`` on int32 accumulators (vectorised)."""
    raise NotImplementedError


# -- kernels ------------------------------------------------------------------


def conv2d(x, w, bias, *, stride, dilation, pad, input_offset, output_offset, out_mult, out_shift, act_min, act_max, groups=1):
    """x[N,H,W,Ci] int8, w[Co,KH,KW,Ci/groups] int8, bias[Co] int32 or None -> int8[N,OH,OW,Co]."""
    raise NotImplementedError


def depthwise_conv2d(x, w, bias, *, stride, dilation, pad, depth_multiplier, input_offset, output_offset, out_mult, out_shift, act_min, act_max):
    """x[N,H,W,Ci], w[1,KH,KW,Co] -> int8[N,OH,OW,Co] (TFLite reference_integer_ops::DepthwiseConvPerChannel)."""
    raise NotImplementedError


def fully_connected(x, w, bias, *, input_offset, output_offset, out_mult, out_shift, act_min, act_max):
    """x[B,K], w[Co,K] -> int8[B,Co]."""
    raise NotImplementedError


def add(a, b, *, a_offset, a_mult, a_shift, b_offset, b_mult, b_shift, left_shift, output_offset, out_mult, out_shift, act_min, act_max):
    """Broadcasting int8 add (TFLite reference_integer_ops::Add / BroadcastAdd); sub = add with b_mult negated."""
    raise NotImplementedError


def mul(a, b, *, a_offset, b_offset, output_offset, out_mult, out_shift, act_min, act_max):
    """Broadcasting int8 mul (reference_integer_ops::Mul)."""
    raise NotImplementedError


def max_pool2d(x, *, kernel, stride, pad, act_min, act_max):
    raise NotImplementedError


def avg_pool2d(x, *, kernel, stride, pad, act_min, act_max):
    """Average over the in-bounds window only, rounded half away from zero (TFLite)."""
    raise NotImplementedError


def mean(x, *, axes, input_offset, output_offset, mult, shift):
    """int8 mean over ``axes`` (keepdims) as TFLite's reference MEAN computes it."""
    raise NotImplementedError


def requantize(x, *, input_offset, output_offset, mult, shift):
    """int8 -> int8 with new scale/zero point (TFLite QUANTIZE int8->int8)."""
    raise NotImplementedError


def softmax(x, *, input_beta_multiplier, input_beta_left_shift, diff_min):
    """int8 softmax over the last axis; output scale 1/256, zero point -128."""
    raise NotImplementedError


def logistic(x, *, input_zero_point, input_range_radius, input_multiplier, input_left_shift):
    """int8 logistic; output scale 1/256, zero point -128 (reference_integer_ops::Logistic)."""
    raise NotImplementedError


def hard_swish(x, **params):
    """int8 hard-swish (reference_ops::HardSwish with HardSwishParams)."""
    raise NotImplementedError


def pad(x, *, pads, value):
    """Constant pad; ``pads`` is ((before, after), ...) per dim, ``value`` an int8."""
    raise NotImplementedError


def concat(xs, *, axis):
    """Concatenation of int8 tensors that share quantization parameters."""
    raise NotImplementedError


def resize_nearest(x, *, size):
    """Nearest-neighbour resize, asymmetric coordinates, floor (TFLite default flags)."""
    raise NotImplementedError
