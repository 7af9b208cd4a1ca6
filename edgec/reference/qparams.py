"""Integer kernel parameters of int8 IR nodes, derived exactly as TFLite's ``Prepare`` does.

``kernel_params(graph, node)`` returns the keyword arguments of the matching
function in ``edgec.reference.int8_kernels`` (everything except the tensor
data).  The reference interpreter and the C code generator both call it, so it
is the single source of truth for multipliers, shifts, offsets, activation
ranges and lookup tables.

Float details matter for bit-exactness: TFLite stores scales as float32 and
computes most effective scales in double from those float32 values
(conv/fc/mul/mean/quantize/add), but some in float32 arithmetic (relu,
leaky_relu, hard_swish, lookup tables, activation ranges).  Each function below
says which.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.errors import ModelError
from edgec.ir.graph import Graph, Node
from edgec.ir.tensor import Tensor
from edgec.mixed.subbyte import qrange
from edgec.reference import int8_kernels as K

F32 = np.float32
ADD_LEFT_SHIFT = 20  # TFLite uses 20 for int8 add/sub (15 for int16)
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


# -- helpers ------------------------------------------------------------------------------------


def _scale(t: Tensor) -> float:
    if t.scale is None:
        raise ModelError(f"tensor {t.name!r} of an int8 op has no quantization parameters")
    return float(t.qscale)


def _zp(t: Tensor) -> int:
    return int(t.qzero)


def quantize_real_f32(value: float, scale: float, zero_point: int) -> int:
    """``zero_point + round(value / scale)`` with float32 division and C ``round``."""
    q = F32(value) / F32(scale)
    return zero_point + int(K.round_half_away(q))


def activation_range(act: tuple[float, float] | None, out: Tensor) -> tuple[int, int]:
    """TFLite ``CalculateActivationRangeQuantized`` for a real clamp ``(lo, hi)`` on an int8 output.

    A sub-byte output (``out.bits`` 4 or 2) clamps to its own range, [-8, 7] or [-2, 1].
    """
    lo, hi = qrange(out.bits)
    if act is None:
        return lo, hi
    scale, zp = _scale(out), _zp(out)
    a_lo, a_hi = act
    if math.isfinite(a_lo):
        lo = max(lo, quantize_real_f32(a_lo, scale, zp))
    if math.isfinite(a_hi):
        hi = min(hi, quantize_real_f32(a_hi, scale, zp))
    return lo, hi


def _channel_multipliers(in_scale: float, w: Tensor, out_scale: float, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``QuantizeMultiplier(double(in) * double(w[c]) / double(out))``."""
    if w.scale is None:
        raise ModelError(f"weights {w.name!r} of an int8 op are not quantized")
    w_scales = np.broadcast_to(np.asarray(w.scale, dtype=F32), (channels,))
    pairs = [K.quantize_multiplier(float(in_scale) * float(s) / float(out_scale)) for s in w_scales]
    mult = np.array([m for m, _ in pairs], dtype=np.int32)
    shift = np.array([s for _, s in pairs], dtype=np.int32)
    return mult, shift


def _real_value_table(fn, inp: Tensor, out: Tensor) -> np.ndarray:
    """TFLite ``LUTPopulate<int8_t>`` (float32 throughout): table[q + 128] for q in -128..127."""
    in_scale, in_zp = F32(_scale(inp)), _zp(inp)
    inverse_out = F32(1.0) / F32(_scale(out))
    q = np.arange(-128, 128, dtype=np.int64)
    dequantized = in_scale * (q - in_zp).astype(F32)
    transformed = fn(dequantized)
    rescaled = K.round_half_away(transformed * inverse_out)
    quantized = (rescaled.astype(F32) + F32(_zp(out))).astype(np.int64)
    return np.clip(quantized, -128, 127).astype(np.int8)


def _sigmoid_f32(x: np.ndarray) -> np.ndarray:
    e = np.exp(-x.astype(np.float64)).astype(F32)  # correctly rounded expf
    return F32(1.0) / (F32(1.0) + e)


def _tanh_f32(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(F32)


def _downscale_int32_to_int16_multiplier(mult: int) -> int:
    """TFLite ``DownScaleInt32ToInt16Multiplier``."""
    rounding_offset = 1 << 15
    if mult >= K.INT32_MAX - rounding_offset:
        return 32767
    return (mult + rounding_offset) >> 16


def mean_multiplier(in_scale: float, out_scale: float, num_elements: int) -> tuple[int, int]:
    """MEAN's multiplier with ``1/num_elements`` folded in (``reference_ops::QuantizedMeanOrSum``)."""
    mult, shift = K.quantize_multiplier(float(in_scale) / float(out_scale))
    extra = min(num_elements.bit_length() - 1, 32, 31 + shift)
    mult = K.wrap_int32(np.int64((mult << extra) // num_elements)).item()
    return int(mult), shift - extra


# -- per-op parameter builders -----------------------------------------------------------------


def _conv_like(g: Graph, n: Node, channels: int) -> dict:
    x, w, y = g.tensors[n.inputs[0]], g.tensors[n.inputs[1]], g.tensors[n.outputs[0]]
    mult, shift = _channel_multipliers(_scale(x), w, _scale(y), channels)
    act_min, act_max = activation_range(n.attrs.get("act"), y)
    return {
        "input_offset": -_zp(x),
        "output_offset": _zp(y),
        "out_mult": mult,
        "out_shift": shift,
        "act_min": act_min,
        "act_max": act_max,
    }


def _spatial(n: Node) -> dict:
    return {
        "stride": tuple(n.attrs.get("stride", (1, 1))),
        "dilation": tuple(n.attrs.get("dilation", (1, 1))),
        "pad": tuple(n.attrs.get("pad", (0, 0, 0, 0))),
    }


def _conv2d(g: Graph, n: Node) -> dict:
    co = g.tensors[n.inputs[1]].shape[0]
    return {**_spatial(n), **_conv_like(g, n, co), "groups": int(n.attrs.get("groups", 1))}


def _depthwise(g: Graph, n: Node) -> dict:
    co = g.tensors[n.inputs[1]].shape[3]
    return {**_spatial(n), **_conv_like(g, n, co), "depth_multiplier": int(n.attrs.get("depth_multiplier", 1))}


def _fully_connected(g: Graph, n: Node) -> dict:
    """BUILTIN_REF FC rescales in double: ``out_scale[c] = double(s_in) * double(s_w[c]) / double(s_out)``."""
    x, w, y = g.tensors[n.inputs[0]], g.tensors[n.inputs[1]], g.tensors[n.outputs[0]]
    if w.scale is None:
        raise ModelError(f"weights {w.name!r} of an int8 op are not quantized")
    co = w.shape[0]
    w_scales = np.broadcast_to(np.asarray(w.scale, dtype=F32), (co,)).astype(np.float64)
    act_min, act_max = activation_range(n.attrs.get("act"), y)
    return {
        "input_offset": -_zp(x),
        "output_offset": _zp(y),
        "out_scale": float(_scale(x)) * w_scales / float(_scale(y)),
        "act_min": act_min,
        "act_max": act_max,
    }


def _add_sub(g: Graph, n: Node) -> dict:
    """TFLite add/sub Prepare: inputs rescaled to 2*max(scale) with a 20-bit headroom shift."""
    a, b, y = (g.tensors[i] for i in (n.inputs[0], n.inputs[1], n.outputs[0]))
    sa, sb, sy = F32(_scale(a)), F32(_scale(b)), F32(_scale(y))
    twice_max = float(F32(2) * max(sa, sb))
    a_mult, a_shift = K.quantize_multiplier_smaller_than_one_exp(float(sa) / twice_max)
    b_mult, b_shift = K.quantize_multiplier_smaller_than_one_exp(float(sb) / twice_max)
    out_mult, out_shift = K.quantize_multiplier_smaller_than_one_exp(twice_max / float(F32(1 << ADD_LEFT_SHIFT) * sy))
    if n.op == "sub":
        b_mult = -b_mult
    act_min, act_max = activation_range(n.attrs.get("act"), y)
    return {
        "a_offset": -_zp(a),
        "a_mult": a_mult,
        "a_shift": a_shift,
        "b_offset": -_zp(b),
        "b_mult": b_mult,
        "b_shift": b_shift,
        "left_shift": ADD_LEFT_SHIFT,
        "output_offset": _zp(y),
        "out_mult": out_mult,
        "out_shift": out_shift,
        "act_min": act_min,
        "act_max": act_max,
    }


def _mul(g: Graph, n: Node) -> dict:
    a, b, y = (g.tensors[i] for i in (n.inputs[0], n.inputs[1], n.outputs[0]))
    out_mult, out_shift = K.quantize_multiplier(_scale(a) * _scale(b) / _scale(y))
    act_min, act_max = activation_range(n.attrs.get("act"), y)
    return {
        "a_offset": -_zp(a),
        "b_offset": -_zp(b),
        "output_offset": _zp(y),
        "out_mult": out_mult,
        "out_shift": out_shift,
        "act_min": act_min,
        "act_max": act_max,
    }


def _pool(g: Graph, n: Node) -> dict:
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    if _scale(x) != _scale(y) or _zp(x) != _zp(y):
        raise ModelError(f"int8 pooling node {n.name!r} must keep its input's quantization")
    act_min, act_max = activation_range(n.attrs.get("act"), y)
    return {
        "kernel": tuple(n.attrs["kernel"]),
        "stride": tuple(n.attrs.get("stride", (1, 1))),
        "pad": tuple(n.attrs.get("pad", (0, 0, 0, 0))),
        "act_min": act_min,
        "act_max": act_max,
    }


def _reduced_axes(g: Graph, n: Node) -> tuple[int, ...]:
    """A reduction's axes, non-negative and sorted."""
    rank = len(g.tensors[n.inputs[0]].shape)
    return tuple(sorted({int(a) % rank for a in n.attrs["axes"]}))


def _mean(g: Graph, n: Node) -> dict:
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    axes = _reduced_axes(g, n)
    count = math.prod(x.shape[a] for a in axes)
    mult, shift = mean_multiplier(_scale(x), _scale(y), count)
    return {"axes": axes, "input_offset": -_zp(x), "output_offset": _zp(y), "mult": mult, "shift": shift}


def _quantize(g: Graph, n: Node) -> dict:
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    if x.dtype == "float32":
        return {"scale": _scale(y), "zero_point": _zp(y)}
    mult, shift = K.quantize_multiplier(_scale(x) / _scale(y))
    return {"input_offset": -_zp(x), "output_offset": _zp(y), "mult": mult, "shift": shift}


def _dequantize(g: Graph, n: Node) -> dict:
    x = g.tensors[n.inputs[0]]
    return {"scale": _scale(x), "zero_point": _zp(x)}


def _softmax(g: Graph, n: Node) -> dict:
    """TFLite ``PreprocessSoftmaxScaling`` + ``CalculateInputRadius`` (kReference path)."""
    x = g.tensors[n.inputs[0]]
    beta = float(F32(n.attrs.get("beta", 1.0)))
    bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    real = min(beta * _scale(x) * (1 << (31 - bits)), (1 << 31) - 1.0)
    mult, left_shift = K.quantize_multiplier_greater_than_one(real)
    max_input_rescaled = 1.0 * ((1 << bits) - 1) * (1 << (31 - bits)) / (1 << left_shift)
    return {
        "input_beta_multiplier": mult,
        "input_beta_left_shift": left_shift,
        "diff_min": -math.floor(max_input_rescaled),
    }


def _table(fn):
    def build(g: Graph, n: Node) -> dict:
        return {"table": _real_value_table(fn, g.tensors[n.inputs[0]], g.tensors[n.outputs[0]])}

    return build


def _hard_swish(g: Graph, n: Node) -> dict:
    """TFLite HardSwishPrepare: float32 scale arithmetic, int16 fixed-point multipliers."""
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    hires_input_scale = F32(1.0 / 128.0) * F32(_scale(x))
    reluish_scale = F32(3.0 / 32768.0)
    out_mult32, out_exp = K.quantize_multiplier(float(hires_input_scale / F32(_scale(y))))
    reluish_mult32, reluish_exp = K.quantize_multiplier(float(hires_input_scale / reluish_scale))
    if out_exp > 0:
        raise ModelError(f"hard_swish node {n.name!r}: output scale too small for TFLite's int8 kernel")
    return {
        "input_zero_point": _zp(x),
        "output_zero_point": _zp(y),
        "reluish_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(reluish_mult32),
        "reluish_multiplier_exponent": reluish_exp,
        "output_multiplier_fixedpoint_int16": _downscale_int32_to_int16_multiplier(out_mult32),
        "output_multiplier_exponent": out_exp,
    }


_RELU_RANGES = {"relu": (0.0, math.inf), "relu6": (0.0, 6.0)}


def _relu(g: Graph, n: Node) -> dict:
    """TFLite ``QuantizedReluX``: float32 ``in/out`` scale ratio, clamp from ``roundf(limit / scale)``."""
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    if n.op == "clip":
        limits = (float(n.attrs.get("min", -math.inf)), float(n.attrs.get("max", math.inf)))
    else:
        limits = _RELU_RANGES[n.op]
    mult, shift = K.quantize_multiplier(float(F32(_scale(x)) / F32(_scale(y))))
    act_min, act_max = activation_range(limits, y)
    return {
        "input_offset": -_zp(x),
        "output_offset": _zp(y),
        "out_mult": mult,
        "out_shift": shift,
        "act_min": act_min,
        "act_max": act_max,
    }


def _leaky_relu(g: Graph, n: Node) -> dict:
    """TFLite LeakyReluPrepare: multipliers from float32 ``in*alpha/out`` and ``in/out``."""
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    sx, sy = F32(_scale(x)), F32(_scale(y))
    alpha = F32(n.attrs.get("alpha", 0.2))
    alpha_mult, alpha_shift = K.quantize_multiplier(float(sx * alpha / sy))
    identity_mult, identity_shift = K.quantize_multiplier(float(sx / sy))
    return {
        "input_offset": -_zp(x),
        "output_offset": _zp(y),
        "identity_mult": identity_mult,
        "identity_shift": identity_shift,
        "alpha_mult": alpha_mult,
        "alpha_shift": alpha_shift,
    }


def _pad(g: Graph, n: Node) -> dict:
    y = g.tensors[n.outputs[0]]
    value = quantize_real_f32(float(n.attrs.get("value", 0.0)), _scale(y), _zp(y))
    return {"pads": tuple(tuple(int(v) for v in p) for p in n.attrs["pads"]), "value": int(np.clip(value, -128, 127))}


def _concat(g: Graph, n: Node) -> dict:
    y = g.tensors[n.outputs[0]]
    for i in n.inputs:
        t = g.tensors[i]
        if _scale(t) != _scale(y) or _zp(t) != _zp(y):
            raise ModelError(f"int8 concat node {n.name!r}: input {i!r} must share the output's quantization")
    return {"axis": int(n.attrs["axis"]) % len(y.shape)}


def _resize(g: Graph, n: Node) -> dict:
    return {"size": tuple(int(s) for s in n.attrs["size"])}


def _same_quantization(g: Graph, n: Node, what: str) -> None:
    """TFLite copies int8 values unchanged through ``what``: every operand must share the output's quantization."""
    y = g.tensors[n.outputs[0]]
    for i in n.inputs:
        t = g.tensors[i]
        if _scale(t) != _scale(y) or _zp(t) != _zp(y):
            raise ModelError(f"int8 {what} node {n.name!r}: input {i!r} must share the output's quantization")


def _slice(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, "slice")
    return {key: tuple(int(v) for v in n.attrs[key]) for key in ("begin", "size", "strides")}


def _maximum_minimum(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, n.op)
    return {}


def _reduce_max(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, "reduce_max")
    return {"axes": _reduced_axes(g, n)}


def _gather(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, "gather")
    rank = len(g.tensors[n.inputs[0]].shape)
    return {"axis": int(n.attrs["axis"]) % rank, "indices": tuple(int(i) for i in n.attrs["indices"])}


def _transpose_conv2d(g: Graph, n: Node) -> dict:
    """TFLite TRANSPOSE_CONV: conv's per-channel multipliers (weights quantized along axis 0)."""
    co = g.tensors[n.inputs[1]].shape[0]
    return {**_spatial(n), **_conv_like(g, n, co)}


def _prelu(g: Graph, n: Node) -> dict:
    """TFLite PreluPrepare: multipliers from float32 ``in/out`` and ``in*alpha/out``."""
    x, alpha, y = (g.tensors[i] for i in (n.inputs[0], n.inputs[1], n.outputs[0]))
    if alpha.per_channel:
        raise ModelError(f"prelu node {n.name!r}: alpha must be quantized per tensor")
    sx, sa, sy = F32(_scale(x)), F32(_scale(alpha)), F32(_scale(y))
    identity_mult, identity_shift = K.quantize_multiplier(float(sx / sy))
    alpha_mult, alpha_shift = K.quantize_multiplier(float(sx * sa / sy))
    return {
        "input_offset": -_zp(x),
        "alpha_offset": -_zp(alpha),
        "output_offset": _zp(y),
        "identity_mult": identity_mult,
        "identity_shift": identity_shift,
        "alpha_mult": alpha_mult,
        "alpha_shift": alpha_shift,
    }


def _resize_bilinear(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, "resize_bilinear")
    coord = n.attrs.get("coord", "asymmetric")
    return {
        "size": tuple(int(s) for s in n.attrs["size"]),
        "align_corners": coord == "align_corners",
        "half_pixel_centers": coord == "half_pixel",
    }


def _depth_to_space(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, n.op)
    return {"block_size": int(n.attrs["block_size"]), "crd": n.attrs.get("mode", "DCR") == "CRD"}


def _space_to_depth(g: Graph, n: Node) -> dict:
    _same_quantization(g, n, n.op)
    return {"block_size": int(n.attrs["block_size"])}


SQUARED_DIFFERENCE_LEFT_SHIFT = 7  # TFLite's headroom for int8 SQUARED_DIFFERENCE
L2_NORMALIZATION_OUTPUT = (1.0 / 128.0, 0)  # the output quantization TFLite's int8 L2_NORMALIZATION requires


def _squared_difference(g: Graph, n: Node) -> dict:
    """TFLite SquaredDifference Prepare (int8): double arithmetic from the float32 scales."""
    a, b, y = (g.tensors[i] for i in (n.inputs[0], n.inputs[1], n.outputs[0]))
    sa, sb, sy = float(F32(_scale(a))), float(F32(_scale(b))), F32(_scale(y))
    twice_max = 2.0 * max(sa, sb)
    a_mult, a_shift = K.quantize_multiplier_smaller_than_one_exp(sa / twice_max)
    b_mult, b_shift = K.quantize_multiplier_smaller_than_one_exp(sb / twice_max)
    shift = SQUARED_DIFFERENCE_LEFT_SHIFT
    out_mult, out_shift = K.quantize_multiplier(twice_max * twice_max / float(F32(1 << (2 * shift)) * sy))
    return {
        "a_offset": -_zp(a),
        "a_mult": a_mult,
        "a_shift": a_shift,
        "b_offset": -_zp(b),
        "b_mult": b_mult,
        "b_shift": b_shift,
        "left_shift": shift,
        "output_offset": _zp(y),
        "out_mult": out_mult,
        "out_shift": out_shift,
    }


def _rsqrt(g: Graph, n: Node) -> dict:
    """TFLite RSQRT (int8) is a function of the input byte alone: its 256-entry table, with the
    multiplier ``1 / (sqrtf(s_in) * s_out)`` of TFLite's Prepare (float32 product, double quotient)."""
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    product = F32(np.sqrt(F32(_scale(x))) * F32(_scale(y)))
    mult, shift = K.quantize_multiplier(1.0 / float(product))
    return {"table": K.rsqrt_table(_zp(x), _zp(y), mult, shift)}


def _l2_normalization(g: Graph, n: Node) -> dict:
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    if (_scale(y), _zp(y)) != L2_NORMALIZATION_OUTPUT:
        raise ModelError(f"int8 l2_normalization node {n.name!r}: the output must have scale 1/128 and zero point 0")
    axis = int(n.attrs.get("axis", -1)) % len(x.shape)
    if axis != len(x.shape) - 1:
        raise ModelError(f"int8 l2_normalization node {n.name!r} must normalize the last axis")
    return {"input_zero_point": _zp(x)}


BUILDERS = {
    "conv2d": _conv2d,
    "depthwise_conv2d": _depthwise,
    "fully_connected": _fully_connected,
    "add": _add_sub,
    "sub": _add_sub,
    "mul": _mul,
    "max_pool2d": _pool,
    "avg_pool2d": _pool,
    "mean": _mean,
    "quantize": _quantize,
    "dequantize": _dequantize,
    "softmax": _softmax,
    "logistic": _table(_sigmoid_f32),
    "tanh": _table(_tanh_f32),
    "hard_swish": _hard_swish,
    "relu": _relu,
    "relu6": _relu,
    "clip": _relu,
    "leaky_relu": _leaky_relu,
    "pad": _pad,
    "concat": _concat,
    "resize_nearest": _resize,
    "slice": _slice,
    "maximum": _maximum_minimum,
    "minimum": _maximum_minimum,
    "reduce_max": _reduce_max,
    "gather": _gather,
    "transpose_conv2d": _transpose_conv2d,
    "prelu": _prelu,
    "resize_bilinear": _resize_bilinear,
    "depth_to_space": _depth_to_space,
    "space_to_depth": _space_to_depth,
    "squared_difference": _squared_difference,
    "rsqrt": _rsqrt,
    "l2_normalization": _l2_normalization,
}

# The int8_kernels function each op runs (ops absent here are pure data movement).
KERNEL_NAMES = {
    "conv2d": "conv2d",
    "depthwise_conv2d": "depthwise_conv2d",
    "fully_connected": "fully_connected",
    "add": "add",
    "sub": "add",
    "mul": "mul",
    "max_pool2d": "max_pool2d",
    "avg_pool2d": "avg_pool2d",
    "mean": "mean",
    "softmax": "softmax",
    "logistic": "logistic",
    "tanh": "tanh",
    "hard_swish": "hard_swish",
    "relu": "relu",
    "relu6": "relu",
    "clip": "relu",
    "leaky_relu": "leaky_relu",
    "pad": "pad",
    "concat": "concat",
    "resize_nearest": "resize_nearest",
    "dequantize": "dequantize",
    "slice": "strided_slice",
    "maximum": "maximum",
    "minimum": "minimum",
    "reduce_max": "reduce_max",
    "gather": "gather",
    "transpose_conv2d": "transpose_conv2d",
    "prelu": "prelu",
    "resize_bilinear": "resize_bilinear",
    "depth_to_space": "depth_to_space",
    "space_to_depth": "space_to_depth",
    "squared_difference": "squared_difference",
    "rsqrt": "rsqrt",
    "l2_normalization": "l2_normalization",
}


def kernel_name(graph: Graph, node: Node) -> str:
    """The ``int8_kernels`` function that runs ``node`` (``quantize`` depends on its input dtype)."""
    if node.op == "quantize":
        return "quantize" if graph.tensors[node.inputs[0]].dtype == "float32" else "requantize"
    return KERNEL_NAMES[node.op]


def kernel_params(graph: Graph, node: Node) -> dict:
    """Keyword arguments of ``int8_kernels.<kernel_name(node)>`` for an int8 IR node."""
    builder = BUILDERS.get(node.op)
    if builder is None:
        raise ModelError(f"op {node.op!r} (node {node.name!r}) has no int8 kernel parameters")
    if node.op == "softmax":
        axis = node.attrs.get("axis", -1)
        rank = len(graph.tensors[node.inputs[0]].shape)
        if axis % rank != rank - 1:
            raise ModelError(f"int8 softmax node {node.name!r} must run over the last axis")
    return builder(graph, node)
