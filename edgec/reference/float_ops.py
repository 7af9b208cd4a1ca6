"""float32 reference kernels (ONNX semantics, NHWC layout).

Each kernel is registered with ``@float_kernel`` and has the interpreter's
signature ``fn(graph, node, args) -> np.ndarray``.  Ops that carry a fused
``act`` attribute clamp their result to ``(lo, hi)`` after the op.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.reference.interpreter import float_kernel

F32 = np.float32


# -- helpers ---------------------------------------------------------------------------------------


def apply_act(y: np.ndarray, act: tuple[float, float] | None) -> np.ndarray:
    """Clamp ``y`` to the fused activation range ``act`` (``None`` = no clamp)."""
    if act is None:
        return y
    lo, hi = act
    return np.clip(y, F32(lo), F32(hi)).astype(F32, copy=False)


def _pad_spatial(x: np.ndarray, pad: tuple[int, int, int, int], value: float) -> np.ndarray:
    top, left, bottom, right = pad
    if not any(pad):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _out_size(padded: int, kernel: int, stride: int, dilation: int) -> int:
    return (padded - dilation * (kernel - 1) - 1) // stride + 1


def _window(xp: np.ndarray, i: int, j: int, oh: int, ow: int, stride, dilation) -> np.ndarray:
    """The strided view of padded input ``xp`` that kernel tap (i, j) reads for every output pixel."""
    sh, sw = stride
    dh, dw = dilation
    r0, c0 = i * dh, j * dw
    return xp[:, r0 : r0 + sh * (oh - 1) + 1 : sh, c0 : c0 + sw * (ow - 1) + 1 : sw, :]


def _patches(xp: np.ndarray, kh: int, kw: int, oh: int, ow: int, stride, dilation) -> np.ndarray:
    """A read-only [N, OH, OW, KH, KW, C] view of the receptive fields (no copy)."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    sh, sw = stride
    dh, dw = dilation
    return np.lib.stride_tricks.as_strided(
        xp,
        shape=(n, oh, ow, kh, kw, c),
        strides=(s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
        writeable=False,
    )


def _bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    return y if b is None else y + b.astype(F32)


# -- convolutions ----------------------------------------------------------------------------------


def conv2d_nhwc(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride=(1, 1),
    dilation=(1, 1),
    pad=(0, 0, 0, 0),
    groups: int = 1,
) -> np.ndarray:
    """Grouped 2-D convolution: x[N,H,W,Ci], w[Co,KH,KW,Ci/groups] -> [N,OH,OW,Co]."""
    x = x.astype(F32, copy=False)
    w = w.astype(F32, copy=False)
    co, kh, kw, cig = w.shape
    xp = np.ascontiguousarray(_pad_spatial(x, pad, 0.0))
    oh = _out_size(xp.shape[1], kh, stride[0], dilation[0])
    ow = _out_size(xp.shape[2], kw, stride[1], dilation[1])
    cols = _patches(xp, kh, kw, oh, ow, stride, dilation)  # [N,OH,OW,KH,KW,Ci]
    if groups == 1:
        y = np.tensordot(cols, w, axes=([3, 4, 5], [1, 2, 3]))
    else:
        cog = co // groups
        n = x.shape[0]
        grouped = cols.reshape(n, oh, ow, kh, kw, groups, cig)
        wg = w.reshape(groups, cog, kh, kw, cig)
        y = np.einsum("nhwijgc,goijc->nhwgo", grouped, wg, optimize=True).reshape(n, oh, ow, co)
    return _bias(y.astype(F32, copy=False), b)


def depthwise_conv2d_nhwc(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride=(1, 1),
    dilation=(1, 1),
    pad=(0, 0, 0, 0),
    depth_multiplier: int = 1,
) -> np.ndarray:
    """Depthwise convolution: x[N,H,W,Ci], w[1,KH,KW,Ci*dm] -> [N,OH,OW,Ci*dm] (out channel c*dm+m reads c)."""
    x = x.astype(F32, copy=False)
    w = w.astype(F32, copy=False)
    _, kh, kw, co = w.shape
    if depth_multiplier > 1:
        x = np.repeat(x, depth_multiplier, axis=3)
    xp = _pad_spatial(x, pad, 0.0)
    oh = _out_size(xp.shape[1], kh, stride[0], dilation[0])
    ow = _out_size(xp.shape[2], kw, stride[1], dilation[1])
    y = np.zeros((x.shape[0], oh, ow, co), dtype=F32)
    for i in range(kh):
        for j in range(kw):
            y += _window(xp, i, j, oh, ow, stride, dilation) * w[0, i, j]
    return _bias(y, b)


@float_kernel("conv2d")
def _conv2d(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    a = n.attrs
    y = conv2d_nhwc(x, w, b, a.get("stride", (1, 1)), a.get("dilation", (1, 1)), a.get("pad", (0, 0, 0, 0)), a.get("groups", 1))
    return apply_act(y, a.get("act"))


@float_kernel("depthwise_conv2d")
def _depthwise(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    a = n.attrs
    y = depthwise_conv2d_nhwc(
        x, w, b, a.get("stride", (1, 1)), a.get("dilation", (1, 1)), a.get("pad", (0, 0, 0, 0)), a.get("depth_multiplier", 1)
    )
    return apply_act(y, a.get("act"))


@float_kernel("fully_connected")
def _fully_connected(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    k = w.shape[1]
    y = x.astype(F32, copy=False).reshape(-1, k) @ w.astype(F32, copy=False).T
    return apply_act(_bias(y, b), n.attrs.get("act"))


# -- elementwise binary ----------------------------------------------------------------------------


@float_kernel("add")
def _add(g: Graph, n: Node, args: list) -> np.ndarray:
    return apply_act(np.add(args[0], args[1], dtype=F32), n.attrs.get("act"))


@float_kernel("sub")
def _sub(g: Graph, n: Node, args: list) -> np.ndarray:
    return apply_act(np.subtract(args[0], args[1], dtype=F32), n.attrs.get("act"))


@float_kernel("mul")
def _mul(g: Graph, n: Node, args: list) -> np.ndarray:
    return apply_act(np.multiply(args[0], args[1], dtype=F32), n.attrs.get("act"))


@float_kernel("maximum")
def _maximum(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.maximum(args[0], args[1], dtype=F32)


@float_kernel("minimum")
def _minimum(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.minimum(args[0], args[1], dtype=F32)


# -- pooling and reductions ------------------------------------------------------------------------


@float_kernel("max_pool2d")
def _max_pool(g: Graph, n: Node, args: list) -> np.ndarray:
    a = n.attrs
    kh, kw = a["kernel"]
    stride, pad = a.get("stride", (1, 1)), a.get("pad", (0, 0, 0, 0))
    xp = _pad_spatial(args[0].astype(F32, copy=False), pad, -np.inf)
    oh, ow = _out_size(xp.shape[1], kh, stride[0], 1), _out_size(xp.shape[2], kw, stride[1], 1)
    y = np.full((xp.shape[0], oh, ow, xp.shape[3]), -np.inf, dtype=F32)
    for i in range(kh):
        for j in range(kw):
            np.maximum(y, _window(xp, i, j, oh, ow, stride, (1, 1)), out=y)
    return apply_act(y, a.get("act"))


@float_kernel("avg_pool2d")
def _avg_pool(g: Graph, n: Node, args: list) -> np.ndarray:
    """Average over the in-bounds part of each window (padding is not counted)."""
    a = n.attrs
    kh, kw = a["kernel"]
    stride, pad = a.get("stride", (1, 1)), a.get("pad", (0, 0, 0, 0))
    x = args[0].astype(F32, copy=False)
    xp = _pad_spatial(x, pad, 0.0)
    ones = _pad_spatial(np.ones((1, x.shape[1], x.shape[2], 1), dtype=F32), pad, 0.0)
    oh, ow = _out_size(xp.shape[1], kh, stride[0], 1), _out_size(xp.shape[2], kw, stride[1], 1)
    total = np.zeros((xp.shape[0], oh, ow, xp.shape[3]), dtype=F32)
    count = np.zeros((1, oh, ow, 1), dtype=F32)
    for i in range(kh):
        for j in range(kw):
            total += _window(xp, i, j, oh, ow, stride, (1, 1))
            count += _window(ones, i, j, oh, ow, stride, (1, 1))
    return apply_act(total / count, a.get("act"))


@float_kernel("mean")
def _mean(g: Graph, n: Node, args: list) -> np.ndarray:
    axes = tuple(int(ax) % args[0].ndim for ax in n.attrs["axes"])
    return np.mean(args[0], axis=axes, keepdims=bool(n.attrs.get("keepdims", True)), dtype=F32)


@float_kernel("reduce_max")
def _reduce_max(g: Graph, n: Node, args: list) -> np.ndarray:
    axes = tuple(int(ax) % args[0].ndim for ax in n.attrs["axes"])
    return np.max(args[0], axis=axes, keepdims=bool(n.attrs.get("keepdims", True))).astype(F32, copy=False)


# -- data movement ---------------------------------------------------------------------------------


@float_kernel("reshape")
def _reshape(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.reshape(args[0], tuple(n.attrs["shape"]))


@float_kernel("transpose")
def _transpose(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(args[0], tuple(n.attrs["perm"])))


@float_kernel("pad")
def _pad(g: Graph, n: Node, args: list) -> np.ndarray:
    pads = tuple(tuple(int(v) for v in p) for p in n.attrs["pads"])
    return np.pad(args[0], pads, constant_values=F32(n.attrs.get("value", 0.0)))


@float_kernel("concat")
def _concat(g: Graph, n: Node, args: list) -> np.ndarray:
    y = np.concatenate([a.astype(F32, copy=False) for a in args], axis=int(n.attrs["axis"]))
    return apply_act(y, n.attrs.get("act"))


@float_kernel("resize_nearest")
def _resize_nearest(g: Graph, n: Node, args: list) -> np.ndarray:
    """Nearest neighbour, asymmetric coordinates, floor: out[i] = in[floor(i * in_size / out_size)]."""
    x = args[0]
    oh, ow = n.attrs["size"]
    rows = (np.arange(oh) * x.shape[1]) // oh
    cols = (np.arange(ow) * x.shape[2]) // ow
    return x[:, rows][:, :, cols]


def slice_index(attrs: dict) -> tuple[slice, ...]:
    """The numpy index of an IR ``slice`` node: ``begin + i * stride`` for ``i < size`` per dim (stride may be < 0)."""
    return tuple(axis_slice(int(b), int(k), int(st)) for b, k, st in zip(attrs["begin"], attrs["size"], attrs["strides"]))


def axis_slice(begin: int, size: int, stride: int) -> slice:
    """``slice`` selecting ``begin + i * stride`` for ``i < size`` (a stop below 0 would wrap: ``None``)."""
    stop = begin + (size - 1) * stride + (1 if stride > 0 else -1)
    return slice(begin, stop if stop >= 0 else None, stride)


@float_kernel("slice")
def _slice(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.ascontiguousarray(args[0][slice_index(n.attrs)])


@float_kernel("gather")
def _gather(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.take(args[0], list(n.attrs["indices"]), axis=int(n.attrs["axis"]))


def transpose_conv2d_nhwc(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride=(1, 1), dilation=(1, 1), pad=(0, 0, 0, 0)
) -> np.ndarray:
    """Transposed convolution: x[N,H,W,Ci], w[Co,KH,KW,Ci] -> [N,OH,OW,Co] (``edgec.ir.ops`` conventions)."""
    from edgec.ir.ops import transpose_conv_out_size

    x = x.astype(F32, copy=False)
    w = w.astype(F32, copy=False)
    n, h, wd, _ = x.shape
    co, kh, kw, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    top, left, bottom, right = pad
    oh = transpose_conv_out_size(h, kh, sh, dh, top, bottom)
    ow = transpose_conv_out_size(wd, kw, sw, dw, left, right)
    # Scatter into a frame that starts at the first tap row/column and covers the output.
    rows = max((h - 1) * sh + (kh - 1) * dh + 1, top + oh)
    cols = max((wd - 1) * sw + (kw - 1) * dw + 1, left + ow)
    full = np.zeros((n, rows, cols, co), dtype=F32)
    for i in range(kh):
        for j in range(kw):
            contrib = np.tensordot(x, w[:, i, j, :], axes=([3], [1]))  # [N,H,W,Co]
            full[:, i * dh : i * dh + sh * (h - 1) + 1 : sh, j * dw : j * dw + sw * (wd - 1) + 1 : sw, :] += contrib
    return _bias(np.ascontiguousarray(full[:, top : top + oh, left : left + ow, :]), b)


@float_kernel("transpose_conv2d")
def _transpose_conv2d(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    a = n.attrs
    y = transpose_conv2d_nhwc(x, w, b, a.get("stride", (1, 1)), a.get("dilation", (1, 1)), a.get("pad", (0, 0, 0, 0)))
    return apply_act(y, a.get("act"))


@float_kernel("prelu")
def _prelu(g: Graph, n: Node, args: list) -> np.ndarray:
    x, alpha = args[0].astype(F32, copy=False), args[1].astype(F32, copy=False)
    return np.where(x < 0, x * alpha, x).astype(F32)


def bilinear_source(out_size: int, in_size: int, coord: str) -> np.ndarray:
    """Real source coordinate of each output index, clamped to ``[0, in_size - 1]`` (ONNX Resize linear)."""
    dst = np.arange(out_size, dtype=np.float64)
    if coord == "align_corners":
        src = dst * ((in_size - 1) / (out_size - 1)) if out_size > 1 else np.zeros(out_size)
    elif coord == "half_pixel":
        src = (dst + 0.5) * (in_size / out_size) - 0.5
    else:  # asymmetric
        src = dst * (in_size / out_size)
    return np.clip(src, 0.0, in_size - 1)


@float_kernel("resize_bilinear")
def _resize_bilinear(g: Graph, n: Node, args: list) -> np.ndarray:
    """Bilinear resize of H and W: separable linear interpolation between the two nearest source pixels."""
    x = args[0].astype(F32, copy=False)
    coord = n.attrs.get("coord", "asymmetric")
    y = x
    for axis, out_size in ((1, n.attrs["size"][0]), (2, n.attrs["size"][1])):
        in_size = y.shape[axis]
        src = bilinear_source(out_size, in_size, coord)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, in_size - 1)
        frac_shape = [1, 1, 1, 1]
        frac_shape[axis] = out_size
        frac = (src - lo).astype(F32).reshape(frac_shape)
        y = np.take(y, lo, axis=axis) * (F32(1) - frac) + np.take(y, hi, axis=axis) * frac
    return y.astype(F32)


def depth_to_space_nhwc(x: np.ndarray, block: int, mode: str = "DCR") -> np.ndarray:
    """[N,H,W,C*B*B] -> [N,H*B,W*B,C] (``edgec.ir.ops`` conventions; any dtype)."""
    n, h, w, c = x.shape
    co = c // (block * block)
    if mode == "CRD":
        t = x.reshape(n, h, w, co, block, block).transpose(0, 1, 4, 2, 5, 3)
    else:
        t = x.reshape(n, h, w, block, block, co).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(t.reshape(n, h * block, w * block, co))


def space_to_depth_nhwc(x: np.ndarray, block: int) -> np.ndarray:
    """[N,H*B,W*B,C] -> [N,H,W,C*B*B], the inverse of DCR depth_to_space (any dtype)."""
    n, h, w, c = x.shape
    t = x.reshape(n, h // block, block, w // block, block, c).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(t.reshape(n, h // block, w // block, c * block * block))


@float_kernel("depth_to_space")
def _depth_to_space(g: Graph, n: Node, args: list) -> np.ndarray:
    return depth_to_space_nhwc(args[0], int(n.attrs["block_size"]), n.attrs.get("mode", "DCR"))


@float_kernel("space_to_depth")
def _space_to_depth(g: Graph, n: Node, args: list) -> np.ndarray:
    return space_to_depth_nhwc(args[0], int(n.attrs["block_size"]))


@float_kernel("squared_difference")
def _squared_difference(g: Graph, n: Node, args: list) -> np.ndarray:
    d = np.subtract(args[0], args[1], dtype=F32)
    return d * d


@float_kernel("rsqrt")
def _rsqrt(g: Graph, n: Node, args: list) -> np.ndarray:
    return (F32(1) / np.sqrt(args[0].astype(F32, copy=False))).astype(F32)


@float_kernel("l2_normalization")
def _l2_normalization(g: Graph, n: Node, args: list) -> np.ndarray:
    """x / max(||x||, epsilon) along ``axis`` (TFLite L2_NORMALIZATION; ONNX LpNormalization p=2)."""
    x = args[0].astype(F32, copy=False)
    norm = np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=int(n.attrs.get("axis", -1)), keepdims=True))
    denom = np.maximum(norm, float(n.attrs.get("epsilon", 1e-6)))
    return np.where(denom > 0, x / np.where(denom > 0, denom, 1.0), 0.0).astype(F32)  # a zero vector stays zero


@float_kernel("identity", "dropout")
def _identity(g: Graph, n: Node, args: list) -> np.ndarray:
    return args[0]


# -- activations -----------------------------------------------------------------------------------


@float_kernel("relu")
def _relu(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.maximum(args[0], F32(0))


@float_kernel("relu6")
def _relu6(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.clip(args[0], F32(0), F32(6))


@float_kernel("clip")
def _clip(g: Graph, n: Node, args: list) -> np.ndarray:
    lo = n.attrs.get("min", -np.inf)
    hi = n.attrs.get("max", np.inf)
    return np.clip(args[0], F32(-np.inf if lo is None else lo), F32(np.inf if hi is None else hi))


@float_kernel("leaky_relu")
def _leaky_relu(g: Graph, n: Node, args: list) -> np.ndarray:
    x = args[0]
    return np.where(x >= 0, x, x * F32(n.attrs.get("alpha", 0.01))).astype(F32)


@float_kernel("logistic")
def _logistic(g: Graph, n: Node, args: list) -> np.ndarray:
    x = args[0].astype(F32, copy=False)
    # Split by sign so exp never overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(F32)


@float_kernel("tanh")
def _tanh(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.tanh(args[0])


@float_kernel("hard_swish")
def _hard_swish(g: Graph, n: Node, args: list) -> np.ndarray:
    x = args[0].astype(F32, copy=False)
    return x * np.clip(x / F32(6) + F32(0.5), F32(0), F32(1))


@float_kernel("hard_sigmoid")
def _hard_sigmoid(g: Graph, n: Node, args: list) -> np.ndarray:
    alpha = F32(n.attrs.get("alpha", 0.2))
    beta = F32(n.attrs.get("beta", 0.5))
    return np.clip(alpha * args[0] + beta, F32(0), F32(1))


@float_kernel("softmax")
def _softmax(g: Graph, n: Node, args: list) -> np.ndarray:
    x = args[0].astype(F32, copy=False) * F32(n.attrs.get("beta", 1.0))
    axis = int(n.attrs.get("axis", -1))
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(F32)


@float_kernel("batch_norm")
def _batch_norm(g: Graph, n: Node, args: list) -> np.ndarray:
    x, gamma, beta, mean, var = args
    inv = gamma.astype(F32) / np.sqrt(var.astype(F32) + F32(n.attrs.get("epsilon", 1e-5)))
    return ((x - mean) * inv + beta).astype(F32)


# -- quantization ----------------------------------------------------------------------------------


def _channel_shape(t_ndim: int, axis: int | None, size: int) -> tuple[int, ...]:
    """Shape that broadcasts per-channel parameters of ``size`` along ``axis``."""
    if size == 1 or axis is None:
        return (size,) if size > 1 else ()
    shape = [1] * t_ndim
    shape[axis % t_ndim] = size
    return tuple(shape)


def quantize_array(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int | None, dtype: str) -> np.ndarray:
    """``clamp(round_half_even(x / scale) + zero_point)`` into ``dtype``'s range (ONNX QuantizeLinear)."""
    shape = _channel_shape(x.ndim, axis, scale.size)
    s = scale.astype(F32).reshape(shape)
    zp = zero_point.astype(np.int64).reshape(shape)
    info = np.iinfo(dtype)
    q = np.rint(x.astype(F32) / s).astype(np.int64) + zp
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_array(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int | None) -> np.ndarray:
    shape = _channel_shape(q.ndim, axis, scale.size)
    s = scale.astype(F32).reshape(shape)
    zp = zero_point.astype(np.int64).reshape(shape)
    return ((q.astype(np.int64) - zp).astype(F32) * s).astype(F32)


@float_kernel("quantize")
def _quantize(g: Graph, n: Node, args: list) -> np.ndarray:
    out = g.tensors[n.outputs[0]]
    x = args[0]
    src = g.tensors[n.inputs[0]]
    if src.is_quantized and src.dtype != "float32":
        x = dequantize_array(x, src.scale, src.zero_point, src.axis)
    return quantize_array(x, out.scale, out.zero_point, out.axis, out.dtype)


@float_kernel("dequantize")
def _dequantize(g: Graph, n: Node, args: list) -> np.ndarray:
    src = g.tensors[n.inputs[0]]
    return dequantize_array(args[0], src.scale, src.zero_point, src.axis)
