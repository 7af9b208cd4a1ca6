"""The op registry: every IR op, its attributes, shape inference and MAC count.

Layout is NHWC.  Attributes are plain Python values (tuples, ints, floats).
The canonical op set (``inputs`` in order; ``?`` marks optional inputs, given
as ``""`` when absent):

==================  ======================================  ===========================================
op                  inputs                                  attrs
==================  ======================================  ===========================================
conv2d              x[N,H,W,Ci], w[Co,KH,KW,Ci/groups], b?  stride, dilation, pad, groups, act
depthwise_conv2d    x[N,H,W,Ci], w[1,KH,KW,Co], b?          stride, dilation, pad, depth_multiplier, act
fully_connected     x[...,K], w[Co,K], b?                   act          (output [numel/K, Co])
add, sub, mul       a, b (numpy broadcasting)               act
max_pool2d          x                                       kernel, stride, pad, act
avg_pool2d          x                                       kernel, stride, pad, act (padding not counted)
mean                x                                       axes, keepdims
reshape             x                                       shape
transpose           x                                       perm
softmax             x                                       axis (must be last), beta
pad                 x                                       pads ((before, after) per dim), value (real)
concat              x0, x1, ...                             axis, act
quantize            x (float or int8)                       -            (output quantization = target)
dequantize          x (int8)                                -
relu, relu6         x                                       -
clip                x                                       min, max
leaky_relu          x                                       alpha
logistic, tanh      x                                       -
hard_swish          x                                       -
hard_sigmoid        x                                       alpha, beta
resize_nearest      x                                       size (OH, OW)   (asymmetric, floor)
batch_norm          x, gamma, beta, mean, var               epsilon       (channel = last axis)
identity, dropout   x                                       -
slice               x                                       begin, size, strides (per dim; strides != 0)
maximum, minimum    a, b (numpy broadcasting)               -
reduce_max          x                                       axes, keepdims
gather              x                                       axis, indices (constant, non-negative)
transpose_conv2d    x[N,H,W,Ci], w[Co,KH,KW,Ci], b?         stride, dilation, pad, act   (pad crops; see below)
prelu               x, alpha (broadcast to x)               -            (y = x < 0 ? alpha * x : x)
resize_bilinear     x                                       size (OH, OW), coord ("asymmetric",
                                                                         "half_pixel", "align_corners")
depth_to_space      x[N,H,W,C]                              block_size, mode ("DCR" or "CRD")
space_to_depth      x[N,H,W,C]                              block_size
squared_difference  a, b (numpy broadcasting)               -            ((a - b)^2)
rsqrt               x                                       -            (1 / sqrt(x))
l2_normalization    x                                       axis (must be last), epsilon
==================  ======================================  ===========================================

Conventions shared by all ops:

* ``stride``/``dilation``/``kernel`` are ``(h, w)``; ``pad`` is
  ``(top, left, bottom, right)``.
* ``act`` is ``None`` or a real-valued clamp ``(lo, hi)`` fused into the op
  (ReLU = ``(0.0, inf)``, ReLU6 = ``(0.0, 6.0)``).  Integer kernels turn it
  into ``act_min``/``act_max`` with the output's quantization, as TFLite's
  ``CalculateActivationRangeQuantized`` does.
* ``transpose_conv2d`` scatters input pixel ``(iy, ix)`` through tap
  ``(ky, kx)`` to output pixel ``(iy*sh + ky*dh - top, ix*sw + kx*dw - left)``
  (no kernel flip, as TFLite's TRANSPOSE_CONV and ONNX ConvTranspose); the
  output is ``OH = (H-1)*sh + (KH-1)*dh + 1 - top - bottom`` rows.  ``bottom``
  and ``right`` may be negative: the output then extends past the last tap
  (ONNX ``output_padding``), and those pixels get the bias alone.
* ``depth_to_space`` moves channel ``(dy*B + dx)*C' + c`` (DCR, TFLite's
  DEPTH_TO_SPACE) or ``c*B*B + dy*B + dx`` (CRD, PyTorch's PixelShuffle) of
  pixel ``(y, x)`` to channel ``c`` of pixel ``(y*B + dy, x*B + dx)``;
  ``space_to_depth`` is DCR's inverse.
* int8 graphs: activations are int8 per-tensor asymmetric; conv/fc weights
  int8 symmetric per-channel (``axis=0`` for conv2d/fc/transpose_conv2d,
  ``axis=3`` for depthwise); biases int32 with ``scale = input_scale * weight_scale`` and
  zero point 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgec.ir.graph import Graph, Node

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: Callable[[Graph, Node], list[Shape]]
    macs: Callable[[Graph, Node], int]
    elementwise: bool = False  # output[i] depends only on input[i]: may run in place


OPS: dict[str, OpDef] = {}


def _shape(g: Graph, name: str) -> Shape:
    return g.tensors[name].shape


def _no_macs(g: Graph, n: Node) -> int:
    return 0


def register(name: str, infer, macs=_no_macs, elementwise: bool = False) -> None:
    OPS[name] = OpDef(name, infer, macs, elementwise)


def conv_out_size(size: int, kernel: int, stride: int, dilation: int, pad_lo: int, pad_hi: int) -> int:
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def _spatial(n: Node, h: int, w: int, kh: int, kw: int) -> tuple[int, int]:
    sh, sw = n.attrs.get("stride", (1, 1))
    dh, dw = n.attrs.get("dilation", (1, 1))
    pt, pl, pb, pr = n.attrs.get("pad", (0, 0, 0, 0))
    return conv_out_size(h, kh, sh, dh, pt, pb), conv_out_size(w, kw, sw, dw, pl, pr)


def _infer_conv(g: Graph, n: Node) -> list[Shape]:
    nb, h, w, ci = _shape(g, n.inputs[0])
    co, kh, kw, cig = _shape(g, n.inputs[1])
    groups = n.attrs.get("groups", 1)
    if cig * groups != ci:
        raise ValueError(f"weights expect {cig}x{groups} input channels, input has {ci}")
    oh, ow = _spatial(n, h, w, kh, kw)
    return [(nb, oh, ow, co)]


def _macs_conv(g: Graph, n: Node) -> int:
    _, kh, kw, cig = _shape(g, n.inputs[1])
    return math.prod(_shape(g, n.outputs[0])) * kh * kw * cig


def _infer_dw(g: Graph, n: Node) -> list[Shape]:
    nb, h, w, ci = _shape(g, n.inputs[0])
    _, kh, kw, co = _shape(g, n.inputs[1])
    if co != ci * n.attrs.get("depth_multiplier", 1):
        raise ValueError(f"depthwise weights have {co} channels for {ci} inputs")
    oh, ow = _spatial(n, h, w, kh, kw)
    return [(nb, oh, ow, co)]


def _macs_dw(g: Graph, n: Node) -> int:
    _, kh, kw, _ = _shape(g, n.inputs[1])
    return math.prod(_shape(g, n.outputs[0])) * kh * kw


def _infer_fc(g: Graph, n: Node) -> list[Shape]:
    xs = _shape(g, n.inputs[0])
    co, k = _shape(g, n.inputs[1])
    if math.prod(xs) % k:
        raise ValueError(f"input of {math.prod(xs)} elements is not a multiple of K={k}")
    return [(math.prod(xs) // k, co)]


def _macs_fc(g: Graph, n: Node) -> int:
    _, k = _shape(g, n.inputs[1])
    return math.prod(_shape(g, n.outputs[0])) * k


def _infer_broadcast(g: Graph, n: Node) -> list[Shape]:
    return [tuple(np.broadcast_shapes(*(_shape(g, i) for i in n.inputs)))]


def _infer_pool(g: Graph, n: Node) -> list[Shape]:
    nb, h, w, c = _shape(g, n.inputs[0])
    kh, kw = n.attrs["kernel"]
    oh, ow = _spatial(n, h, w, kh, kw)
    return [(nb, oh, ow, c)]


def _infer_same(g: Graph, n: Node) -> list[Shape]:
    return [_shape(g, n.inputs[0])]


def _infer_mean(g: Graph, n: Node) -> list[Shape]:
    s = _shape(g, n.inputs[0])
    axes = {a % len(s) for a in n.attrs["axes"]}
    if n.attrs.get("keepdims", True):
        return [tuple(1 if i in axes else d for i, d in enumerate(s))]
    return [tuple(d for i, d in enumerate(s) if i not in axes)]


def _infer_reshape(g: Graph, n: Node) -> list[Shape]:
    shape = tuple(n.attrs["shape"])
    if math.prod(shape) != math.prod(_shape(g, n.inputs[0])):
        raise ValueError(f"cannot reshape {_shape(g, n.inputs[0])} to {shape}")
    return [shape]


def _infer_transpose(g: Graph, n: Node) -> list[Shape]:
    s = _shape(g, n.inputs[0])
    return [tuple(s[p] for p in n.attrs["perm"])]


def _infer_pad(g: Graph, n: Node) -> list[Shape]:
    s = _shape(g, n.inputs[0])
    return [tuple(d + lo + hi for d, (lo, hi) in zip(s, n.attrs["pads"]))]


def _infer_concat(g: Graph, n: Node) -> list[Shape]:
    shapes = [_shape(g, i) for i in n.inputs]
    axis = n.attrs["axis"] % len(shapes[0])
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    for s in shapes[1:]:
        if len(s) != len(out) or any(a != b for i, (a, b) in enumerate(zip(s, out)) if i != axis):
            raise ValueError(f"concat of mismatched shapes {shapes}")
    return [tuple(out)]


def _infer_resize(g: Graph, n: Node) -> list[Shape]:
    nb, _, _, c = _shape(g, n.inputs[0])
    oh, ow = n.attrs["size"]
    return [(nb, oh, ow, c)]


register("conv2d", _infer_conv, _macs_conv)
register("depthwise_conv2d", _infer_dw, _macs_dw)
register("fully_connected", _infer_fc, _macs_fc)
for _op in ("add", "sub", "mul"):
    register(_op, _infer_broadcast, elementwise=True)
register("max_pool2d", _infer_pool)
register("avg_pool2d", _infer_pool)
register("mean", _infer_mean)
register("reshape", _infer_reshape)
register("transpose", _infer_transpose)
register("softmax", _infer_same)
register("pad", _infer_pad)
register("concat", _infer_concat)
register("resize_nearest", _infer_resize)
for _op in (
    "quantize",
    "dequantize",
    "relu",
    "relu6",
    "clip",
    "leaky_relu",
    "logistic",
    "tanh",
    "hard_swish",
    "hard_sigmoid",
    "batch_norm",
    "identity",
    "dropout",
):
    register(_op, _infer_same, elementwise=True)


def _infer_slice(g: Graph, n: Node) -> list[Shape]:
    s = _shape(g, n.inputs[0])
    begin, size, strides = (tuple(int(v) for v in n.attrs[k]) for k in ("begin", "size", "strides"))
    if not len(begin) == len(size) == len(strides) == len(s):
        raise ValueError(f"slice of a rank-{len(s)} tensor needs begin/size/strides of that rank")
    for d, b, k, st in zip(s, begin, size, strides):
        last = b + (k - 1) * st
        if st == 0 or k < 1 or not (0 <= b < d and 0 <= last < d):
            raise ValueError(f"slice begin {begin} size {size} strides {strides} leaves the input {s}")
    return [size]


register("slice", _infer_slice)
for _op in ("maximum", "minimum"):
    register(_op, _infer_broadcast)
register("reduce_max", _infer_mean)


def _infer_gather(g: Graph, n: Node) -> list[Shape]:
    s = _shape(g, n.inputs[0])
    axis = int(n.attrs["axis"]) % len(s)
    indices = tuple(int(i) for i in n.attrs["indices"])
    if not indices or min(indices) < 0 or max(indices) >= s[axis]:
        raise ValueError(f"gather indices {indices} out of range for axis {axis} of {s}")
    return [s[:axis] + (len(indices),) + s[axis + 1 :]]


register("gather", _infer_gather)


def transpose_conv_out_size(size: int, kernel: int, stride: int, dilation: int, pad_lo: int, pad_hi: int) -> int:
    return (size - 1) * stride + (kernel - 1) * dilation + 1 - pad_lo - pad_hi


def _infer_transpose_conv(g: Graph, n: Node) -> list[Shape]:
    nb, h, w, ci = _shape(g, n.inputs[0])
    co, kh, kw, wci = _shape(g, n.inputs[1])
    if wci != ci:
        raise ValueError(f"weights expect {wci} input channels, input has {ci}")
    sh, sw = n.attrs.get("stride", (1, 1))
    dh, dw = n.attrs.get("dilation", (1, 1))
    pt, pl, pb, pr = n.attrs.get("pad", (0, 0, 0, 0))
    return [(nb, transpose_conv_out_size(h, kh, sh, dh, pt, pb), transpose_conv_out_size(w, kw, sw, dw, pl, pr), co)]


def _macs_transpose_conv(g: Graph, n: Node) -> int:
    """Every input element times every tap and output channel (taps cropped away included)."""
    co, kh, kw, _ = _shape(g, n.inputs[1])
    return math.prod(_shape(g, n.inputs[0])) * kh * kw * co


def _infer_prelu(g: Graph, n: Node) -> list[Shape]:
    x, alpha = _shape(g, n.inputs[0]), _shape(g, n.inputs[1])
    if tuple(np.broadcast_shapes(x, alpha)) != tuple(x):
        raise ValueError(f"alpha of shape {alpha} does not broadcast to the input {x}")
    return [x]


RESIZE_COORDS = ("asymmetric", "half_pixel", "align_corners")


def _infer_resize_bilinear(g: Graph, n: Node) -> list[Shape]:
    if n.attrs.get("coord", "asymmetric") not in RESIZE_COORDS:
        raise ValueError(f"coordinate mode {n.attrs.get('coord')!r} is not one of {RESIZE_COORDS}")
    return _infer_resize(g, n)


register("transpose_conv2d", _infer_transpose_conv, _macs_transpose_conv)
register("prelu", _infer_prelu)
register("resize_bilinear", _infer_resize_bilinear)


def _infer_depth_to_space(g: Graph, n: Node) -> list[Shape]:
    nb, h, w, c = _shape(g, n.inputs[0])
    bs = n.attrs["block_size"]
    if n.attrs.get("mode", "DCR") not in ("DCR", "CRD"):
        raise ValueError(f"mode {n.attrs.get('mode')!r} is not DCR or CRD")
    if bs < 1 or c % (bs * bs):
        raise ValueError(f"{c} channels are not a multiple of block_size^2 = {bs * bs}")
    return [(nb, h * bs, w * bs, c // (bs * bs))]


def _infer_space_to_depth(g: Graph, n: Node) -> list[Shape]:
    nb, h, w, c = _shape(g, n.inputs[0])
    bs = n.attrs["block_size"]
    if bs < 1 or h % bs or w % bs:
        raise ValueError(f"{h}x{w} is not a multiple of block_size {bs}")
    return [(nb, h // bs, w // bs, c * bs * bs)]


register("depth_to_space", _infer_depth_to_space)
register("space_to_depth", _infer_space_to_depth)


register("squared_difference", _infer_broadcast)
register("rsqrt", _infer_same)
register("l2_normalization", _infer_same)


def infer_shapes(g: Graph, n: Node) -> list[Shape]:
    return OPS[n.op].infer(g, n)


def macs(g: Graph, n: Node) -> int:
    return int(OPS[n.op].macs(g, n))


def param_bytes(g: Graph, n: Node) -> int:
    return sum(g.tensors[i].nbytes for i in n.inputs if i and g.tensors[i].is_const)


def activation_bytes(g: Graph, n: Node) -> int:
    ins = sum(g.tensors[i].nbytes for i in n.inputs if i and not g.tensors[i].is_const)
    return ins + sum(g.tensors[o].nbytes for o in n.outputs)
