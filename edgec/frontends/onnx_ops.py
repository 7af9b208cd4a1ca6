"""Translators from ONNX nodes to IR nodes, one function per ONNX op type.

A translator is ``fn(ctx, node, name, attrs)``: it reads inputs through the
context (which knows layouts and constants), appends IR nodes with ``ctx.emit``
and names its final IR outputs after the ONNX outputs.  It raises
``Unsupported`` with a short reason for anything it cannot translate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx

from edgec.frontends.onnx_context import (
    NCHW_TO_NHWC,
    NHWC_TO_NCHW,
    ConstValue,
    OnnxContext,
    Unsupported,
    nhwc_axis,
)

Translator = Callable[[OnnxContext, onnx.NodeProto, str, dict], None]
TRANSLATORS: dict[str, Translator] = {}

INF = float("inf")


def translator(*op_types: str):
    def deco(fn: Translator) -> Translator:
        for op_type in op_types:
            TRANSLATORS[op_type] = fn
        return fn

    return deco


def _input(node: onnx.NodeProto, i: int) -> str:
    return node.input[i] if len(node.input) > i else ""


def _check_unused_outputs(ctx: OnnxContext, node: onnx.NodeProto, used: set[str], first_extra: int = 1) -> None:
    for out in node.output[first_extra:]:
        if out and out in used:
            raise Unsupported(f"output {out!r} is not supported")


# -- convolution geometry ---------------------------------------------------------------------------


def _spatial_pads(attrs: dict, in_hw: tuple[int, int], kernel, stride, dilation) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from ONNX ``pads`` or ``auto_pad``."""
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(in_hw, kernel, stride, dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            pads.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad != "NOTSET":
        raise Unsupported(f"auto_pad={auto_pad}")
    pads = tuple(int(p) for p in attrs.get("pads", (0, 0, 0, 0)))
    if len(pads) != 4:
        raise Unsupported(f"pads {pads} are not 2-D")
    if any(p < 0 for p in pads):
        raise Unsupported(f"negative pads {pads}")
    return pads  # ONNX order (x1_begin, x2_begin, x1_end, x2_end) == (top, left, bottom, right)


def _pair(attrs: dict, key: str) -> tuple[int, int]:
    value = tuple(int(v) for v in attrs.get(key, (1, 1)))
    if len(value) != 2:
        raise Unsupported(f"{key}={list(value)} is not 2-D")
    return value  # type: ignore[return-value]


def _require_4d(ctx: OnnxContext, name: str, what: str) -> None:
    if ctx.rank(name) != 4:
        raise Unsupported(f"{what} of rank {ctx.rank(name)} (only 4-D NCHW is supported)")


# -- convolution and dense --------------------------------------------------------------------------


@translator("Conv")
def conv(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x, w, b = node.input[0], node.input[1], _input(node, 2)
    _require_4d(ctx, x, "Conv input")
    if not ctx.is_const(w):
        ctx.onnx_shape(w)  # poisoned inputs stay silent
        raise Unsupported(f"non-constant weights {w!r}")
    if b and not ctx.is_const(b):
        raise Unsupported(f"non-constant bias {b!r}")
    wshape = ctx.const(w).data.shape
    if len(wshape) != 4:
        raise Unsupported(f"weights of rank {len(wshape)} (only 2-D convolution is supported)")
    co, cig, kh, kw = wshape
    _, ci, h, wid = ctx.onnx_shape(x)
    group = int(attrs.get("group", 1))
    stride, dilation = _pair(attrs, "strides"), _pair(attrs, "dilations")
    pad = _spatial_pads(attrs, (h, wid), (kh, kw), stride, dilation)
    xin = ctx.activation(x)
    bias = ctx.materialize(b) if b else ""
    if group > 1 and group == ci and cig == 1:
        wt = ctx.materialize(w, perm=(1, 2, 3, 0), tag="dw", node=f"{name}/weights")
        ctx.emit(
            "depthwise_conv2d", [xin, wt, bias], [node.output[0]], name,
            stride=stride, dilation=dilation, pad=pad, depth_multiplier=co // ci, act=None,
        )
        return
    wt = ctx.materialize(w, perm=(0, 2, 3, 1), tag="ohwi", node=f"{name}/weights")
    ctx.emit(
        "conv2d", [xin, wt, bias], [node.output[0]], name,
        stride=stride, dilation=dilation, pad=pad, groups=group, act=None,
    )


def _dense_bias(ctx: OnnxContext, c: str, n_out: int, beta: float) -> str | None:
    """A [N] bias from Gemm's C when C broadcasts along rows; ``None`` if it needs a separate add."""
    cv = ctx.const(c)
    if cv.data.size == n_out and (cv.data.ndim == 1 or cv.data.shape[-1] == n_out):
        return ctx.materialize(c, shape=(n_out,), multiplier=None if beta == 1.0 else beta, tag="bias")
    if cv.data.size == 1 and not cv.dequantized:
        return ctx.materialize(c, transform=lambda d: np.full((n_out,), d.reshape(()) * beta, np.float32), tag="bias")
    return None


@translator("Gemm")
def gemm(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    a, b, c = node.input[0], node.input[1], _input(node, 2)
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    if not ctx.is_const(b):
        ctx.onnx_shape(b)
        raise Unsupported(f"non-constant weights {b!r}")
    xin = ctx.activation(a)
    if int(attrs.get("transA", 0)):
        xin = ctx.emit("transpose", [xin], None, f"{name}/transpose_a", perm=(1, 0))
    trans_b = int(attrs.get("transB", 0))
    wt = ctx.materialize(b, perm=None if trans_b else (1, 0), multiplier=None if alpha == 1.0 else alpha, tag="fc")
    n_out = ctx.graph.tensors[wt].shape[0]
    bias, extra = "", ""
    if c:
        if ctx.is_const(c):
            bias = _dense_bias(ctx, c, n_out, beta) or ""
            if not bias:
                extra = ctx.materialize(c, multiplier=None if beta == 1.0 else beta, tag="addend")
        else:
            if beta != 1.0:
                raise Unsupported("non-constant C with beta != 1")
            extra = ctx.activation(c)
    out = node.output[0]
    y = ctx.emit("fully_connected", [xin, wt, bias], None if extra else [out], name, act=None)
    if extra:
        ctx.emit("add", [y, extra], [out], f"{name}/add_c", act=None)


@translator("MatMul")
def matmul(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    a, b = node.input[0], node.input[1]
    if not ctx.is_const(b):
        ctx.onnx_shape(b)
        raise Unsupported(f"non-constant weights {b!r}")
    if ctx.const(b).data.ndim != 2:
        raise Unsupported(f"weights of rank {ctx.const(b).data.ndim} (only 2-D)")
    n_out = ctx.const(b).data.shape[1]
    a_shape = ctx.onnx_shape(a)
    wt = ctx.materialize(b, perm=(1, 0), tag="fc")
    out = node.output[0]
    if len(a_shape) == 2:
        ctx.emit("fully_connected", [ctx.activation(a), wt, ""], [out], name, act=None)
        return
    out_shape = a_shape[:-1] + (n_out,)
    y = ctx.emit("fully_connected", [ctx.in_onnx_order(a, name), wt, ""], None, name, act=None)
    ctx.from_onnx_order(y, out_shape, out, f"{name}/reshape_out")


# -- elementwise ------------------------------------------------------------------------------------


def _broadcast_operand(ctx: OnnxContext, name: str, out_rank: int, node: str, transform=None, tag: str = "") -> str:
    """Operand ``name`` of a broadcasting op whose output has ``out_rank``, in IR layout."""
    shape = ctx.onnx_shape(name)
    lifted = (1,) * (out_rank - len(shape)) + tuple(shape)
    if ctx.is_const(name):
        if out_rank == 4:
            return ctx.materialize(name, shape=lifted, perm=NCHW_TO_NHWC, transform=transform, tag=tag or "nhwc")
        if len(shape) == 0 or transform is not None:
            return ctx.materialize(name, shape=lifted or (1,), transform=transform, tag=tag or "b")
        return ctx.activation(name)
    if out_rank == 4 and len(shape) < 4:
        return ctx.from_onnx_order(ctx.activation(name), lifted, None, f"{node}/lift_{name}")
    return ctx.activation(name)


@translator("Add", "Sub", "Mul", "Div")
def binary(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    a, b = node.input[0], node.input[1]
    out_rank = len(np.broadcast_shapes(ctx.onnx_shape(a), ctx.onnx_shape(b)))
    op = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "mul"}[node.op_type]
    ia = _broadcast_operand(ctx, a, out_rank, name)
    if node.op_type == "Div":
        if not ctx.is_const(b) or ctx.const(b).dequantized:
            raise Unsupported("division by a non-constant")
        ib = _broadcast_operand(ctx, b, out_rank, name, transform=lambda d: (1.0 / d).astype(np.float32), tag="recip")
    else:
        ib = _broadcast_operand(ctx, b, out_rank, name)
    ctx.emit(op, [ia, ib], [node.output[0]], name, act=None)


def _unary(op: str, **fixed):
    def fn(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
        ctx.emit(op, [ctx.activation(node.input[0])], [node.output[0]], name, **fixed)

    return fn


translator("Sigmoid")(_unary("logistic"))
translator("Tanh")(_unary("tanh"))
translator("HardSwish")(_unary("hard_swish"))
translator("Identity")(_unary("identity"))


@translator("Relu")
def relu(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    ctx.emit("relu", [ctx.activation(node.input[0])], [node.output[0]], name)


@translator("Dropout")
def dropout(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _check_unused_outputs(ctx, node, ctx.graph.meta["_used"])
    ctx.emit("dropout", [ctx.activation(node.input[0])], [node.output[0]], name)


@translator("LeakyRelu")
def leaky_relu(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    alpha = float(attrs.get("alpha", 0.01))
    ctx.emit("leaky_relu", [ctx.activation(node.input[0])], [node.output[0]], name, alpha=alpha)


@translator("HardSigmoid")
def hard_sigmoid(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    ctx.emit("hard_sigmoid", [ctx.activation(node.input[0])], [node.output[0]], name, alpha=alpha, beta=beta)


@translator("Clip")
def clip(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    if ctx.opset >= 11:
        lo_name, hi_name = _input(node, 1), _input(node, 2)
        lo = float(ctx.const_value(lo_name, "Clip min")) if lo_name else -INF
        hi = float(ctx.const_value(hi_name, "Clip max")) if hi_name else INF
    else:
        lo, hi = float(attrs.get("min", -INF)), float(attrs.get("max", INF))
    x = ctx.activation(node.input[0])
    out = [node.output[0]]
    if (lo, hi) == (0.0, INF):
        ctx.emit("relu", [x], out, name)
    elif (lo, hi) == (0.0, 6.0):
        ctx.emit("relu6", [x], out, name)
    else:
        ctx.emit("clip", [x], out, name, min=lo, max=hi)


# -- pooling and reductions -------------------------------------------------------------------------


def _pool_geometry(ctx: OnnxContext, node: onnx.NodeProto, attrs: dict):
    x = node.input[0]
    _require_4d(ctx, x, f"{node.op_type} input")
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    if len(kernel) != 2:
        raise Unsupported(f"kernel_shape={list(kernel)} is not 2-D")
    stride = _pair(attrs, "strides")
    if _pair(attrs, "dilations") != (1, 1):
        raise Unsupported(f"dilations={list(attrs['dilations'])}")
    _, _, h, w = ctx.onnx_shape(x)
    pad = _spatial_pads(attrs, (h, w), kernel, stride, (1, 1))
    if int(attrs.get("ceil_mode", 0)):
        for size, k, s, lo, hi in zip((h, w), kernel, stride, pad[0::2], pad[1::2]):
            span = size + lo + hi - k
            if math.ceil(span / s) != span // s:
                raise Unsupported("ceil_mode=1 changes the output shape (export with ceil_mode=0)")
    return kernel, stride, pad


@translator("MaxPool")
def max_pool(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _check_unused_outputs(ctx, node, ctx.graph.meta["_used"])
    if int(attrs.get("storage_order", 0)):
        raise Unsupported("storage_order=1")
    kernel, stride, pad = _pool_geometry(ctx, node, attrs)
    x = ctx.activation(node.input[0])
    ctx.emit("max_pool2d", [x], [node.output[0]], name, kernel=kernel, stride=stride, pad=pad, act=None)


@translator("AveragePool")
def avg_pool(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    kernel, stride, pad = _pool_geometry(ctx, node, attrs)
    x = ctx.activation(node.input[0])
    if int(attrs.get("count_include_pad", 0)) and any(pad):
        # Padded zeros count in the divisor: make them real zeros.
        top, left, bottom, right = pad
        x = ctx.emit("pad", [x], None, f"{name}/pad", pads=((0, 0), (top, bottom), (left, right), (0, 0)), value=0.0)
        pad = (0, 0, 0, 0)
    ctx.emit("avg_pool2d", [x], [node.output[0]], name, kernel=kernel, stride=stride, pad=pad, act=None)


@translator("GlobalAveragePool")
def global_avg_pool(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _require_4d(ctx, node.input[0], "GlobalAveragePool input")
    ctx.emit("mean", [ctx.activation(node.input[0])], [node.output[0]], name, axes=(1, 2), keepdims=True)


@translator("GlobalMaxPool")
def global_max_pool(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _require_4d(ctx, node.input[0], "GlobalMaxPool input")
    _, _, h, w = ctx.onnx_shape(node.input[0])
    x = ctx.activation(node.input[0])
    ctx.emit("max_pool2d", [x], [node.output[0]], name, kernel=(h, w), stride=(1, 1), pad=(0, 0, 0, 0), act=None)


@translator("ReduceMean")
def reduce_mean(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _reduce(ctx, node, name, attrs, "mean", axes_input_opset=18)


@translator("Softmax")
def softmax(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    shape = ctx.onnx_shape(x)
    rank = len(shape)
    axis = int(attrs.get("axis", -1 if ctx.opset >= 13 else 1)) % rank
    if ctx.opset < 13 and any(d != 1 for d in shape[axis + 1 :]):
        raise Unsupported(f"axis={axis} flattens {shape[axis:]} (opset < 13 semantics)")
    last_ir_axis = nhwc_axis(axis) == 3 if rank == 4 else axis == rank - 1
    if not last_ir_axis:
        raise Unsupported(f"axis={axis} does not map to the last axis")
    ctx.emit("softmax", [ctx.activation(x)], [node.output[0]], name, axis=-1, beta=1.0)


@translator("BatchNormalization")
def batch_norm(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _check_unused_outputs(ctx, node, ctx.graph.meta["_used"])
    if int(attrs.get("training_mode", 0)):
        raise Unsupported("training_mode=1")
    x = node.input[0]
    if ctx.rank(x) not in (2, 4):
        raise Unsupported(f"input of rank {ctx.rank(x)} (channel axis must map to the last axis)")
    params = []
    for label, p in zip(("scale", "bias", "mean", "var"), node.input[1:5]):
        if not ctx.is_const(p):
            ctx.onnx_shape(p)
            raise Unsupported(f"non-constant {label} {p!r}")
        params.append(ctx.materialize(p))
    eps = float(attrs.get("epsilon", 1e-5))
    ctx.emit("batch_norm", [ctx.activation(x), *params], [node.output[0]], name, epsilon=eps)


# -- data movement ----------------------------------------------------------------------------------


def _reshape_target(in_shape: tuple[int, ...], spec: np.ndarray, allowzero: bool) -> tuple[int, ...]:
    dims = [int(d) for d in spec.reshape(-1)]
    out = [in_shape[i] if d == 0 and not allowzero else d for i, d in enumerate(dims)]
    if out.count(-1) == 1:
        known = math.prod(d for d in out if d != -1)
        out[out.index(-1)] = math.prod(in_shape) // known if known else 0
    return tuple(out)


@translator("Reshape")
def reshape(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    spec = ctx.const_value(node.input[1], "Reshape shape")
    target = _reshape_target(ctx.onnx_shape(x), spec, bool(int(attrs.get("allowzero", 0))))
    ctx.reshape_to(x, target, node.output[0], name)


@translator("Flatten")
def flatten(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    shape = ctx.onnx_shape(node.input[0])
    axis = int(attrs.get("axis", 1)) % (len(shape) + 1) if shape else 0
    target = (math.prod(shape[:axis]), math.prod(shape[axis:]))
    ctx.reshape_to(node.input[0], target, node.output[0], name)


def _axes(ctx: OnnxContext, node: onnx.NodeProto, attrs: dict, what: str) -> list[int] | None:
    if ctx.opset >= 13:
        axes_name = _input(node, 1)
        return [int(a) for a in ctx.const_value(axes_name, f"{what} axes").reshape(-1)] if axes_name else None
    return [int(a) for a in attrs["axes"]] if "axes" in attrs else None


@translator("Squeeze")
def squeeze(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    shape = ctx.onnx_shape(node.input[0])
    axes = _axes(ctx, node, attrs, "Squeeze")
    drop = {a % len(shape) for a in axes} if axes is not None else {i for i, d in enumerate(shape) if d == 1}
    target = tuple(d for i, d in enumerate(shape) if i not in drop)
    ctx.reshape_to(node.input[0], target, node.output[0], name)


@translator("Unsqueeze")
def unsqueeze(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    shape = list(ctx.onnx_shape(node.input[0]))
    axes = _axes(ctx, node, attrs, "Unsqueeze")
    if axes is None:
        raise Unsupported("Unsqueeze without axes")
    out_rank = len(shape) + len(axes)
    for a in sorted(a % out_rank for a in axes):
        shape.insert(a, 1)
    ctx.reshape_to(node.input[0], tuple(shape), node.output[0], name)


def _compose(first: tuple[int, ...], second: tuple[int, ...]) -> tuple[int, ...]:
    """The single permutation equal to ``transpose(first)`` followed by ``transpose(second)``."""
    return tuple(first[p] for p in second)


@translator("Transpose")
def transpose(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    rank = ctx.rank(x)
    perm = tuple(int(p) for p in attrs.get("perm", range(rank - 1, -1, -1)))
    if rank == 4:
        # IR(NHWC) -> ONNX(NCHW) -> ONNX perm -> IR(NHWC).
        perm = _compose(_compose(NHWC_TO_NCHW, perm), NCHW_TO_NHWC)
    ctx.emit("transpose", [ctx.activation(x)], [node.output[0]], name, perm=perm)


@translator("Concat")
def concat(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    rank = ctx.rank(node.input[0])
    axis = int(attrs["axis"]) % rank
    ir_axis = nhwc_axis(axis) if rank == 4 else axis
    inputs = [ctx.activation(i) for i in node.input]
    ctx.emit("concat", inputs, [node.output[0]], name, axis=ir_axis, act=None)


@translator("Pad")
def pad(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    mode = attrs.get("mode", "constant")
    if mode != "constant":
        raise Unsupported(f"mode={mode} (only constant padding)")
    x = node.input[0]
    rank = ctx.rank(x)
    if ctx.opset >= 11:
        pads = [int(p) for p in ctx.const_value(node.input[1], "Pad pads").reshape(-1)]
        value_name = _input(node, 2)
        value = float(ctx.const_value(value_name, "Pad value").reshape(-1)[0]) if value_name else 0.0
        axes_name = _input(node, 3)
        axes = [int(a) % rank for a in ctx.const_value(axes_name, "Pad axes").reshape(-1)] if axes_name else None
    else:
        pads, value, axes = [int(p) for p in attrs["pads"]], float(attrs.get("value", 0.0)), None
    axes = axes if axes is not None else list(range(rank))
    if any(p < 0 for p in pads):
        raise Unsupported(f"negative pads {pads}")
    per_axis = [(0, 0)] * rank
    for i, a in enumerate(axes):
        per_axis[a] = (pads[i], pads[i + len(axes)])
    if rank == 4:
        per_axis = [per_axis[p] for p in NCHW_TO_NHWC]
    ctx.emit("pad", [ctx.activation(x)], [node.output[0]], name, pads=tuple(per_axis), value=value)


_NEAREST_EXACT = {
    ("half_pixel", "round_prefer_floor"),
    ("half_pixel", "round_prefer_ceil"),
    ("pytorch_half_pixel", "round_prefer_floor"),
    ("pytorch_half_pixel", "round_prefer_ceil"),
    ("asymmetric", "floor"),
    ("tf_half_pixel_for_nn", "floor"),
}


@translator("Resize", "Upsample")
def resize(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    _require_4d(ctx, x, f"{node.op_type} input")
    mode = attrs.get("mode", "nearest")
    if mode == "linear":
        resize_linear(ctx, node, name, attrs)
        return
    if mode != "nearest":
        raise Unsupported(f"mode={mode} (only nearest and linear)")
    if node.op_type == "Upsample" or ctx.opset < 11:
        coord, nearest = "asymmetric", "floor"
        scales_name, sizes_name = _input(node, 1), ""
    else:
        coord = attrs.get("coordinate_transformation_mode", "half_pixel")
        nearest = attrs.get("nearest_mode", "round_prefer_floor")
        scales_name, sizes_name = _input(node, 2), _input(node, 3)
        if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise Unsupported(f"keep_aspect_ratio_policy={attrs['keep_aspect_ratio_policy']}")
    in_shape = ctx.onnx_shape(x)
    if sizes_name:
        out_shape = tuple(int(s) for s in ctx.const_value(sizes_name, "Resize sizes").reshape(-1))
    elif scales_name or "scales" in attrs:
        scales = ctx.const_value(scales_name, "Resize scales") if scales_name else np.asarray(attrs["scales"])
        out_shape = tuple(math.floor(d * float(s)) for d, s in zip(in_shape, scales.reshape(-1)))
    else:
        raise Unsupported("neither scales nor sizes given")
    if len(out_shape) != 4 or out_shape[:2] != in_shape[:2]:
        raise Unsupported(f"resizes batch/channel dims {in_shape} -> {out_shape}")
    factors = [o // i if o % i == 0 else 0 for o, i in zip(out_shape[2:], in_shape[2:])]
    if not all(factors):
        raise Unsupported(f"non-integer scale {in_shape[2:]} -> {out_shape[2:]}")
    exact = (coord, nearest) in _NEAREST_EXACT or (
        (coord, nearest) == ("asymmetric", "round_prefer_floor") and max(factors) <= 2
    )
    if not exact:
        raise Unsupported(f"coordinate_transformation_mode={coord} with nearest_mode={nearest}")
    ctx.emit("resize_nearest", [ctx.activation(x)], [node.output[0]], name, size=tuple(out_shape[2:]))


# ONNX coordinate_transformation_mode -> the IR's resize_bilinear ``coord``.
_LINEAR_COORDS = {
    "half_pixel": "half_pixel",
    "pytorch_half_pixel": "half_pixel",  # the same as half_pixel for outputs longer than one pixel
    "align_corners": "align_corners",
    "asymmetric": "asymmetric",
}


def resize_linear(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Resize / Upsample with mode=linear on H and W (bilinear)."""
    x = node.input[0]
    if node.op_type == "Upsample" or ctx.opset < 11:
        coord = "asymmetric"
        scales_name, sizes_name = _input(node, 1), ""
    else:
        coord = attrs.get("coordinate_transformation_mode", "half_pixel")
        scales_name, sizes_name = _input(node, 2), _input(node, 3)
        for key, default in (("antialias", 0), ("exclude_outside", 0)):
            if int(attrs.get(key, default)):
                raise Unsupported(f"{key}=1 with mode=linear")
        if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise Unsupported(f"keep_aspect_ratio_policy={attrs['keep_aspect_ratio_policy']}")
    if coord not in _LINEAR_COORDS:
        raise Unsupported(f"coordinate_transformation_mode={coord} with mode=linear")
    in_shape = ctx.onnx_shape(x)
    if sizes_name:
        out_shape = tuple(int(s) for s in ctx.const_value(sizes_name, "Resize sizes").reshape(-1))
    elif scales_name or "scales" in attrs:
        scales = ctx.const_value(scales_name, "Resize scales") if scales_name else np.asarray(attrs["scales"])
        real = [d * float(s) for d, s in zip(in_shape, scales.reshape(-1))]
        out_shape = tuple(math.floor(r) for r in real)
        if any(r != o for r, o in zip(real, out_shape)):
            raise Unsupported(f"scales {scales.reshape(-1).tolist()} give a fractional size from {in_shape}")
    else:
        raise Unsupported("neither scales nor sizes given")
    if len(out_shape) != 4 or out_shape[:2] != in_shape[:2]:
        raise Unsupported(f"resizes batch/channel dims {in_shape} -> {out_shape}")
    if coord == "pytorch_half_pixel" and min(out_shape[2:]) == 1:
        raise Unsupported("coordinate_transformation_mode=pytorch_half_pixel to an output of one row or column")
    ctx.emit(
        "resize_bilinear", [ctx.activation(x)], [node.output[0]], name, size=tuple(out_shape[2:]), coord=_LINEAR_COORDS[coord]
    )


@translator("ConvTranspose")
def conv_transpose(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x, w, b = node.input[0], node.input[1], _input(node, 2)
    _require_4d(ctx, x, "ConvTranspose input")
    if not ctx.is_const(w):
        ctx.onnx_shape(w)
        raise Unsupported(f"non-constant weights {w!r}")
    if b and not ctx.is_const(b):
        raise Unsupported(f"non-constant bias {b!r}")
    if int(attrs.get("group", 1)) != 1:
        raise Unsupported(f"group={attrs['group']} (only group=1)")
    wshape = ctx.const(w).data.shape
    if len(wshape) != 4:
        raise Unsupported(f"weights of rank {len(wshape)} (only 2-D transposed convolution is supported)")
    _, _, kh, kw = wshape
    _, _, h, wid = ctx.onnx_shape(x)
    stride, dilation = _pair(attrs, "strides"), _pair(attrs, "dilations")
    out_pad = tuple(int(v) for v in attrs.get("output_padding", (0, 0)))
    if len(out_pad) != 2:
        raise Unsupported(f"output_padding={list(out_pad)} is not 2-D")
    full = [(size - 1) * s + (k - 1) * d + 1 + op for size, k, s, d, op in zip((h, wid), (kh, kw), stride, dilation, out_pad)]
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if "output_shape" in attrs or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if "output_shape" in attrs:
            target = [int(v) for v in attrs["output_shape"]][-2:]
        else:
            target = [size * s for size, s in zip((h, wid), stride)]
        begins, ends = [], []
        for f, t in zip(full, target):
            total = f - t
            small = total // 2
            upper = auto_pad == "SAME_UPPER"
            begins.append(small if upper else total - small)
            ends.append(total - small if upper else small)
        pads = (begins[0], begins[1], ends[0], ends[1])
    elif auto_pad == "VALID":
        pads = (0, 0, 0, 0)
    elif auto_pad == "NOTSET":
        pads = tuple(int(p) for p in attrs.get("pads", (0, 0, 0, 0)))
        if len(pads) != 4:
            raise Unsupported(f"pads {pads} are not 2-D")
    else:
        raise Unsupported(f"auto_pad={auto_pad}")
    if any(p < 0 for p in pads):
        raise Unsupported(f"negative pads {pads}")
    # output_padding extends the bottom/right: the IR writes it as negative bottom/right padding.
    top, left, bottom, right = pads
    ir_pad = (top, left, bottom - out_pad[0], right - out_pad[1])
    wt = ctx.materialize(w, perm=(1, 2, 3, 0), tag="ohwi", node=f"{name}/weights")
    bias = ctx.materialize(b) if b else ""
    ctx.emit(
        "transpose_conv2d", [ctx.activation(x), wt, bias], [node.output[0]], name,
        stride=stride, dilation=dilation, pad=ir_pad, act=None,
    )


@translator("PRelu")
def prelu(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x, slope = node.input[0], node.input[1]
    rank = ctx.rank(x)
    x_shape, s_shape = ctx.onnx_shape(x), ctx.onnx_shape(slope)
    try:
        shape = np.broadcast_shapes(x_shape, s_shape)
    except ValueError:
        raise Unsupported(f"slope {s_shape} does not broadcast to the input {x_shape}") from None
    if tuple(shape) != tuple(x_shape):
        raise Unsupported(f"slope {s_shape} does not broadcast to the input {x_shape}")
    alpha = _broadcast_operand(ctx, slope, rank, name)
    ctx.emit("prelu", [ctx.activation(x), alpha], [node.output[0]], name)


@translator("DepthToSpace")
def depth_to_space(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _require_4d(ctx, node.input[0], "DepthToSpace input")
    mode = attrs.get("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        raise Unsupported(f"mode={mode}")
    block = int(attrs["blocksize"])
    ctx.emit("depth_to_space", [ctx.activation(node.input[0])], [node.output[0]], name, block_size=block, mode=mode)


@translator("SpaceToDepth")
def space_to_depth(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _require_4d(ctx, node.input[0], "SpaceToDepth input")
    block = int(attrs["blocksize"])
    ctx.emit("space_to_depth", [ctx.activation(node.input[0])], [node.output[0]], name, block_size=block)


@translator("LpNormalization")
def lp_normalization(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    rank = ctx.rank(x)
    if int(attrs.get("p", 2)) != 2:
        raise Unsupported(f"p={attrs['p']} (only p=2)")
    axis = int(attrs.get("axis", -1)) % rank
    last_ir_axis = nhwc_axis(axis) == 3 if rank == 4 else axis == rank - 1
    if not last_ir_axis:
        raise Unsupported(f"axis={axis} does not map to the last axis")
    ctx.emit("l2_normalization", [ctx.activation(x)], [node.output[0]], name, axis=-1, epsilon=0.0)


# -- quantization -----------------------------------------------------------------------------------

_QUANT_DTYPES = {"int8", "uint8"}


def _qparams(ctx: OnnxContext, node: onnx.NodeProto, attrs: dict, data_rank: int):
    scale = np.atleast_1d(np.asarray(ctx.const_value(node.input[1], f"{node.op_type} scale"), np.float32))
    zp_name = _input(node, 2)
    zp = ctx.const(zp_name).data if zp_name and ctx.is_const(zp_name) else None
    if zp_name and zp is None:
        ctx.const_value(zp_name, f"{node.op_type} zero point")
    if int(attrs.get("block_size", 0)):
        raise Unsupported("blocked quantization")
    axis = int(attrs.get("axis", 1)) % max(data_rank, 1) if scale.size > 1 else None
    return scale, zp, axis


@translator("QuantizeLinear")
def quantize_linear(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    rank = ctx.rank(x)
    scale, zp, axis = _qparams(ctx, node, attrs, rank)
    if zp is not None:
        dtype = str(zp.dtype)
    elif int(attrs.get("output_dtype", 0)):
        dtype = onnx.helper.tensor_dtype_to_np_dtype(int(attrs["output_dtype"])).name
    else:
        dtype = "uint8"
    if dtype not in _QUANT_DTYPES:
        raise Unsupported(f"quantization to {dtype} (only int8/uint8)")
    zero = np.atleast_1d(zp if zp is not None else np.zeros(1, dtype)).astype(np.int64)
    out = node.output[0]
    if ctx.is_const(x):
        from edgec.reference.float_ops import quantize_array

        q = quantize_array(ctx.const(x).value().astype(np.float32), scale, zero, axis, dtype)
        ctx.consts[out] = ConstValue(q, scale, zero, axis)
        return
    ir_axis = nhwc_axis(axis) if axis is not None and rank == 4 else axis
    quant = {"scale": scale, "zero_point": zero, "axis": ir_axis}
    ctx.emit("quantize", [ctx.activation(x)], [out], name, dtype=dtype, quant=quant)


@translator("DequantizeLinear")
def dequantize_linear(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    rank = ctx.rank(x)
    scale, zp, axis = _qparams(ctx, node, attrs, rank)
    zero = np.atleast_1d(zp if zp is not None else np.zeros(1)).astype(np.int64)
    out = node.output[0]
    if ctx.is_const(x):
        cv = ctx.const(x)
        if cv.dequantized:
            raise Unsupported(f"{x!r} is dequantized twice")
        ctx.consts[out] = ConstValue(cv.data, scale, zero, axis, dequantized=True)
        return
    xin = ctx.activation(x)
    t = ctx.graph.tensors[xin]
    if t.dtype not in _QUANT_DTYPES:
        raise Unsupported(f"dequantization of {t.dtype} activations")
    ir_axis = nhwc_axis(axis) if axis is not None and rank == 4 else axis
    if t.scale is None:
        t.scale, t.zero_point, t.axis = scale, zero, ir_axis
    elif not (np.array_equal(t.scale, scale) and np.array_equal(t.zero_point, np.broadcast_to(zero, t.zero_point.shape))):
        raise Unsupported(f"quantization of {x!r} differs from its QuantizeLinear")
    ctx.emit("dequantize", [xin], [out], name)


# -- slicing, splitting, maximum/minimum (activations; constant inputs are folded before translation) --


def _ir_slice(ctx: OnnxContext, x: str, out: str, name: str, ranges: list[range]) -> None:
    """An IR ``slice`` of activation ``x`` reading ONNX-order index ``ranges`` (one per ONNX dim)."""
    if any(len(r) < 1 for r in ranges):
        raise Unsupported("an empty slice")
    begin, size, strides = [r.start for r in ranges], [len(r) for r in ranges], [r.step for r in ranges]
    if len(ranges) == 4:
        begin, size, strides = ([v[p] for p in NCHW_TO_NHWC] for v in (begin, size, strides))
    ctx.emit("slice", [ctx.activation(x)], [out], name, begin=tuple(begin), size=tuple(size), strides=tuple(strides))


@translator("Split")
def split(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    shape = ctx.onnx_shape(x)
    axis = int(attrs.get("axis", 0)) % len(shape)
    outputs = list(node.output)
    if ctx.opset >= 13 and _input(node, 1):
        sizes = [int(s) for s in ctx.const_value(node.input[1], "Split sizes").reshape(-1)]
    elif "split" in attrs:
        sizes = [int(s) for s in attrs["split"]]
    else:  # equal parts, the last one smaller when the extent does not divide (opset 18 num_outputs)
        count = int(attrs.get("num_outputs", len(outputs)))
        part = -(-shape[axis] // count)
        sizes = [min(part, shape[axis] - i * part) for i in range(count)]
    if len(sizes) != len(outputs) or sum(sizes) != shape[axis] or min(sizes) < 1:
        raise Unsupported(f"split of {shape[axis]} elements into {sizes}")
    start = 0
    for k, (out, size) in enumerate(zip(outputs, sizes)):
        ranges = [range(d) for d in shape]
        ranges[axis] = range(start, start + size)
        start += size
        if out:
            _ir_slice(ctx, x, out, f"{name}/{k}" if k else name, ranges)


@translator("Slice")
def slice_(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = node.input[0]
    shape = ctx.onnx_shape(x)
    if ctx.opset >= 10:
        starts = ctx.const_value(node.input[1], "Slice starts").reshape(-1)
        ends = ctx.const_value(node.input[2], "Slice ends").reshape(-1)
        axes = ctx.const_value(node.input[3], "Slice axes").reshape(-1) if _input(node, 3) else range(len(starts))
        steps = ctx.const_value(node.input[4], "Slice steps").reshape(-1) if _input(node, 4) else [1] * len(starts)
    else:
        starts, ends = attrs["starts"], attrs["ends"]
        axes, steps = attrs.get("axes", range(len(starts))), [1] * len(starts)
    ranges = [range(d) for d in shape]
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % len(shape)
        # Python slicing clamps like ONNX; the huge INT64 ends exporters write stay exact as Python ints.
        ranges[axis] = range(shape[axis])[slice(int(start), int(end), int(step))]
    _ir_slice(ctx, x, node.output[0], name, ranges)


@translator("Max", "Min")
def max_min(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    op = {"Max": "maximum", "Min": "minimum"}[node.op_type]
    operands = [i for i in node.input if i]
    if len(operands) == 1:
        ctx.emit("identity", [ctx.activation(operands[0])], [node.output[0]], name)
        return
    out_rank = len(np.broadcast_shapes(*(ctx.onnx_shape(i) for i in operands)))
    acc = _broadcast_operand(ctx, operands[0], out_rank, name)
    for k, other in enumerate(operands[1:], start=1):
        last = k == len(operands) - 1
        acc = ctx.emit(
            op, [acc, _broadcast_operand(ctx, other, out_rank, name)], [node.output[0]] if last else None,
            name if last else f"{name}/{k}",
        )


def _reduce(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict, ir_op: str, axes_input_opset: int) -> None:
    """ReduceMean / ReduceMax as IR ``ir_op``: NCHW axes map to NHWC; a dropped-axes result in another order is transposed back."""
    x = node.input[0]
    rank = ctx.rank(x)
    if ctx.opset >= axes_input_opset:
        axes_name = _input(node, 1)
        axes = [int(a) for a in ctx.const_value(axes_name, f"{node.op_type} axes").reshape(-1)] if axes_name else []
    else:
        axes = [int(a) for a in attrs.get("axes", [])]
    if not axes:
        if int(attrs.get("noop_with_empty_axes", 0)):
            ctx.emit("identity", [ctx.activation(x)], [node.output[0]], name)
            return
        axes = list(range(rank))
    onnx_axes = sorted({a % rank for a in axes})
    keepdims = bool(int(attrs.get("keepdims", 1)))
    ir_axes = tuple(sorted(nhwc_axis(a) for a in onnx_axes)) if rank == 4 else tuple(onnx_axes)
    out = node.output[0]
    kept_ir_order = [a for a in NCHW_TO_NHWC if a not in onnx_axes]  # ONNX axis ids, in IR order
    if rank != 4 or keepdims or kept_ir_order == sorted(kept_ir_order):
        ctx.emit(ir_op, [ctx.activation(x)], [out], name, axes=ir_axes, keepdims=keepdims)
        return
    y = ctx.emit(ir_op, [ctx.activation(x)], None, name, axes=ir_axes, keepdims=False)
    perm = tuple(kept_ir_order.index(a) for a in sorted(kept_ir_order))
    ctx.emit("transpose", [y], [out], f"{name}/reorder", perm=perm)


@translator("ReduceMax")
def reduce_max(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    _reduce(ctx, node, name, attrs, "reduce_max", axes_input_opset=18)


@translator("Gather")
def gather(ctx: OnnxContext, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Gather of an activation with constant indices (all-constant Gathers are folded before)."""
    x = node.input[0]
    shape = ctx.onnx_shape(x)
    axis = int(attrs.get("axis", 0)) % len(shape)
    indices = ctx.const_value(node.input[1], "Gather indices")
    if indices.ndim > 1:
        raise Unsupported(f"indices of shape {indices.shape} (only a scalar or a 1-D list)")
    flat = [int(i) + shape[axis] if int(i) < 0 else int(i) for i in indices.reshape(-1)]
    out_shape = tuple(shape[:axis]) + (len(flat),) + tuple(shape[axis + 1 :])
    ir_axis = nhwc_axis(axis) if len(shape) == 4 else axis
    if indices.ndim == 1:
        ctx.emit("gather", [ctx.activation(x)], [node.output[0]], name, axis=ir_axis, indices=tuple(flat))
        return
    full = ctx.emit("gather", [ctx.activation(x)], None, name, axis=ir_axis, indices=tuple(flat))
    dropped = tuple(d for i, d in enumerate(out_shape) if i != axis)  # a scalar index drops the axis
    ctx.reshape_to(full, dropped, node.output[0], f"{name}/squeeze")
