"""Translate decoded TFLite records into an edgec ``Graph`` (translation only, no optimisation).

TFLite is already NHWC and its weight layouts match the IR (conv OHWI,
depthwise ``[1, KH, KW, Co]``, fully connected ``[Co, K]``), so weights are
kept as they are.  Attribute inputs (pads, axes, resize sizes) become node
attributes.  Operators whose inputs are all constant (shape computation,
float16 weights behind DEQUANTIZE) are folded first (``const_eval``); the
reshape target comes from the folded shape input.  A dynamic batch is fixed
at 1 (other dynamic input dimensions from ``input_shapes``), and since the
converter writes placeholder shapes for dynamic tensors, every output shape
of such a model is then recomputed from its inputs, op by op.  Every
unsupported construct is collected in ``problems`` and reported together by
the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tflite

from edgec.frontends.input_shapes import InputShapes, batch_meta, check_names, resolve_input_shape
from edgec.frontends.tflite import const_eval, repeat_upsample
from edgec.frontends.tflite.reader import MalformedModel, TfliteModel, TfliteOperator, TfliteTensor
from edgec.ir.graph import Graph
from edgec.ir.ops import infer_shapes
from edgec.ir.tensor import Tensor

SUPPORTED_DTYPES = ("int8", "int32", "float32")
INF = float("inf")

# Fused activation code -> the IR's real-valued clamp (None: no clamp).
FUSED_ACTIVATIONS: dict[int, tuple[float, float] | None] = {
    tflite.ActivationFunctionType.NONE: None,
    tflite.ActivationFunctionType.RELU: (0.0, INF),
    tflite.ActivationFunctionType.RELU_N1_TO_1: (-1.0, 1.0),
    tflite.ActivationFunctionType.RELU6: (0.0, 6.0),
}


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite's SAME padding for one spatial dim: (before, after), the odd extra pixel after."""
    out = (size + stride - 1) // stride
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class Translator:
    def __init__(self, model: TfliteModel, name: str, input_shapes: InputShapes | None = None):
        self.model = model
        self.graph = Graph(name=name)
        self.problems: list[str] = []
        self.names = self._unique_tensor_names()
        self.indices = {n: i for i, n in enumerate(self.names)}
        self.node_names: set[str] = set()
        self.absorbed: set[int] = set()  # operators already translated as part of a pattern (dilated convs)
        self.input_shapes = dict(input_shapes or {})
        # The file's shapes of dynamic tensors are placeholders: recompute them op by op.
        self.propagate = any(t.signature is not None and -1 in t.signature for t in model.tensors)
        # Keras UpSampling2D (EXPAND_DIMS -> TILE -> RESHAPE), see repeat_upsample.py
        self.pending_repeats: dict[int, repeat_upsample.PendingRepeat] = {}  # TILE output index -> match
        self.repeat_outputs: dict[str, bool] = {}  # IR tensor a completed pattern made -> read only by the next

    # -- tensors ----------------------------------------------------------------
    def _unique_tensor_names(self) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        for t in self.model.tensors:
            base = t.name or f"tensor_{t.index}"
            name, k = base, 1
            while name in seen:
                name, k = f"{base}_{k}", k + 1
            seen.add(name)
            names.append(name)
        return names

    def tensor(self, index: int) -> str:
        """The IR name of TFLite tensor ``index``, adding it to the graph on first use ("" if absent)."""
        if index < 0:
            return ""
        name = self.names[index]
        if name not in self.graph.tensors:
            self.graph.add_tensor(self._ir_tensor(self.model.tensors[index], name))
        return name

    def _ir_tensor(self, t: TfliteTensor, name: str) -> Tensor:
        dtype = t.dtype
        if dtype not in SUPPORTED_DTYPES:
            hint = " (re-export with inference_input_type/inference_output_type = tf.int8)" if dtype == "uint8" else ""
            self.problems.append(
                f"tensor {name!r} has type {t.type_name}; edgec supports int8, int32 and float32{hint}"
            )
            dtype = "float32"
        axis = None
        if t.scale is not None and t.scale.size > 1:
            axis = t.quantized_dimension
        data = t.data if t.data is not None and str(t.data.dtype) == dtype else None
        return Tensor(name, t.shape, dtype, data, t.scale, t.zero_point, axis)

    def const_values(self, op: TfliteOperator, position: int, what: str) -> np.ndarray | None:
        """The constant data of input ``position`` of ``op`` (an attribute like pads or axes)."""
        index = op.inputs[position] if position < len(op.inputs) else -1
        data = self.model.tensors[index].data if index >= 0 else None
        if data is None:
            self.problems.append(f"{self.describe(op)} has a non-constant {what}")
        return data

    def describe(self, op: TfliteOperator) -> str:
        out = self.names[op.outputs[0]] if op.outputs else f"#{op.index}"
        return f"operator {op.index} {op.op_name} ({out!r})"

    # -- nodes --------------------------------------------------------------------
    def add_node(
        self, ir_op: str, op: TfliteOperator, inputs: list[str], outputs: list[str] | None = None, **attrs
    ) -> None:
        outputs = outputs if outputs is not None else [self.tensor(i) for i in op.outputs]
        base = outputs[0]
        name, k = base, 1
        while name in self.node_names:
            name, k = f"{base}_{k}", k + 1
        self.node_names.add(name)
        self.graph.add_node(ir_op, inputs, outputs, name=name, **attrs)

    def activation(self, op: TfliteOperator) -> tuple[float, float] | None:
        code = op.options.FusedActivationFunction() if op.options is not None else 0
        if code not in FUSED_ACTIVATIONS:
            names = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
            self.problems.append(f"{self.describe(op)} has fused activation {names.get(code, code)}")
            return None
        return FUSED_ACTIVATIONS[code]

    def spatial_padding(self, op: TfliteOperator, in_hw: tuple[int, int], kernel: tuple[int, int], stride, dilation):
        if op.options.Padding() == tflite.Padding.VALID:
            return (0, 0, 0, 0)
        top, bottom = same_padding(in_hw[0], kernel[0], stride[0], dilation[0])
        left, right = same_padding(in_hw[1], kernel[1], stride[1], dilation[1])
        return (top, left, bottom, right)

    # -- driver -------------------------------------------------------------------
    def run(self) -> Graph:
        self._resolve_inputs()
        self._check_model()
        for op in self.model.operators:
            if const_eval.fold(self.model, op):
                continue
            const_eval.dequantize_hybrid_weights(self.model, op)
            converter = CONVERTERS.get(op.op_name)
            if op.index in self.absorbed:
                continue
            if op.op_name == "CUSTOM":
                self.problems.append(f"operator {op.index} is the custom op {op.custom_code!r}")
            elif converter is None:
                self.problems.append(f"{self.describe(op)} is not supported")
            else:
                first_new = len(self.graph.nodes)
                try:
                    converter(self, op)
                except (IndexError, ValueError, ZeroDivisionError, AttributeError, TypeError) as e:
                    # A damaged file: too few inputs, a missing options table, a zero stride or rank.
                    raise MalformedModel(
                        f"{self.describe(op)} lacks the inputs, shapes or options it needs "
                        f"({type(e).__name__}: {(str(e).splitlines() or [''])[0][:120]})"
                    ) from e
                if self.propagate:
                    self._propagate_shapes(op, first_new)
        self.graph.inputs = [self.tensor(i) for i in self.model.inputs]
        self.graph.outputs = [self.tensor(i) for i in self.model.outputs]
        return self.graph.prune_tensors()

    def _resolve_inputs(self) -> None:
        """Fix each input's dynamic dimensions: batch 1, the rest from ``--input-shape``."""
        m = self.model
        check_names(self.input_shapes, [self.names[i] for i in m.inputs])
        dynamic_batch = False
        for i in m.inputs:
            t = m.tensors[i]
            signature = t.signature if t.signature is not None and len(t.signature) == len(t.shape) else t.shape
            declared = [None if s == -1 else d for d, s in zip(t.shape, signature)]
            shape, batch = resolve_input_shape(self.names[i], declared, self.input_shapes, shown=signature)
            dynamic_batch |= batch
            if shape != tuple(t.shape):
                t.shape = shape
                self.propagate = True
        shapes = [m.tensors[i].shape for i in m.inputs]
        if dynamic_batch:
            self.graph.meta["batch"] = batch_meta(True, shapes)
        if self.input_shapes:
            self.graph.meta["input_shapes"] = {n: list(s) for n, s in self.input_shapes.items()}

    def _propagate_shapes(self, op: TfliteOperator, first_new: int) -> None:
        """Recompute the shapes of the nodes ``op`` became from their (already fixed) inputs."""
        for node in self.graph.nodes[first_new:]:
            try:
                shapes = infer_shapes(self.graph, node)
            except (ValueError, KeyError, IndexError, ZeroDivisionError) as e:  # zero strides of a damaged file
                self.problems.append(f"{self.describe(op)} cannot take its input shapes: {e}")
                return
            for out, shape in zip(node.outputs, shapes):
                self.graph.tensors[out].shape = tuple(int(d) for d in shape)
                if out in self.indices:
                    self.model.tensors[self.indices[out]].shape = tuple(int(d) for d in shape)

    def _check_model(self) -> None:
        m = self.model
        if m.subgraph_count > 1:
            self.problems.append(f"the model has {m.subgraph_count} subgraphs (control flow); edgec reads one")
        for i in m.inputs:
            t = m.tensors[i]
            if len(t.shape) >= 2 and t.shape[0] > 1:
                self.problems.append(f"input {self.names[i]!r} has batch {t.shape[0]}; export with batch 1")


# -- op converters ----------------------------------------------------------------

Converter = Callable[[Translator, TfliteOperator], None]
CONVERTERS: dict[str, Converter] = {}


def converts(*names: str):
    def deco(fn: Converter) -> Converter:
        for name in names:
            CONVERTERS[name] = fn
        return fn

    return deco


def _inputs(tr: Translator, op: TfliteOperator, count: int | None = None) -> list[str]:
    indices = op.inputs if count is None else (op.inputs + [-1] * count)[:count]
    return [tr.tensor(i) for i in indices]


@converts("CONV_2D")
def _conv2d(tr: Translator, op: TfliteOperator) -> None:
    o = op.options
    x, w = (tr.model.tensors[i] for i in op.inputs[:2])
    stride, dilation = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
    pad = tr.spatial_padding(op, x.shape[1:3], w.shape[1:3], stride, dilation)
    groups = x.shape[3] // w.shape[3] if w.shape[3] else 1
    tr.add_node(
        "conv2d",
        op,
        _inputs(tr, op, 3),
        stride=stride,
        dilation=dilation,
        pad=pad,
        groups=groups,
        act=tr.activation(op),
    )


@converts("DEPTHWISE_CONV_2D")
def _depthwise(tr: Translator, op: TfliteOperator) -> None:
    o = op.options
    x, w = (tr.model.tensors[i] for i in op.inputs[:2])
    stride, dilation = (o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor())
    pad = tr.spatial_padding(op, x.shape[1:3], w.shape[1:3], stride, dilation)
    tr.add_node(
        "depthwise_conv2d",
        op,
        _inputs(tr, op, 3),
        stride=stride,
        dilation=dilation,
        pad=pad,
        depth_multiplier=w.shape[3] // x.shape[3],
        act=tr.activation(op),
    )


@converts("FULLY_CONNECTED")
def _fully_connected(tr: Translator, op: TfliteOperator) -> None:
    o = op.options
    if o is not None and o.WeightsFormat() != tflite.FullyConnectedOptionsWeightsFormat.DEFAULT:
        tr.problems.append(f"{tr.describe(op)} uses shuffled weights; export with the default weights format")
        return
    x, w, y = tr.model.tensors[op.inputs[0]], tr.model.tensors[op.inputs[1]], tr.model.tensors[op.outputs[0]]
    ir_shape = (math.prod(x.shape) // w.shape[-1], w.shape[0])
    inputs = _inputs(tr, op, 3)
    keep_num_dims = o is not None and o.KeepNumDims()
    y_shape = tuple(x.shape[:-1]) + (w.shape[0],) if keep_num_dims else ir_shape
    if y_shape == ir_shape:
        tr.add_node("fully_connected", op, inputs, act=tr.activation(op))
        return
    # keep_num_dims=True: the IR's 2-D result, then a reshape to TFLite's shape.
    out = tr.tensor(op.outputs[0])
    flat = tr.graph.unique_name(f"{out}/2d")
    tr.graph.add_tensor(Tensor(flat, ir_shape, y.dtype or "float32", None, y.scale, y.zero_point))
    tr.add_node("fully_connected", op, inputs, [flat], act=tr.activation(op))
    tr.add_node("reshape", op, [flat], [out], shape=y_shape)


@converts("ADD", "SUB", "MUL")
def _binary(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node(op.op_name.lower(), op, _inputs(tr, op, 2), act=tr.activation(op))


@converts("AVERAGE_POOL_2D", "MAX_POOL_2D")
def _pool(tr: Translator, op: TfliteOperator) -> None:
    o = op.options
    x = tr.model.tensors[op.inputs[0]]
    kernel, stride = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
    pad = tr.spatial_padding(op, x.shape[1:3], kernel, stride, (1, 1))
    ir_op = "avg_pool2d" if op.op_name == "AVERAGE_POOL_2D" else "max_pool2d"
    tr.add_node(ir_op, op, _inputs(tr, op, 1), kernel=kernel, stride=stride, pad=pad, act=tr.activation(op))


@converts("MEAN", "REDUCE_MAX")
def _reduce(tr: Translator, op: TfliteOperator) -> None:
    axes = tr.const_values(op, 1, "axes")
    if axes is None:
        return
    keepdims = bool(op.options.KeepDims()) if op.options is not None else False
    rank = len(tr.model.tensors[op.inputs[0]].shape)
    axes_attr = tuple(sorted({int(a) % rank for a in np.atleast_1d(axes)}))
    ir_op = "mean" if op.op_name == "MEAN" else "reduce_max"
    tr.add_node(ir_op, op, _inputs(tr, op, 1), axes=axes_attr, keepdims=keepdims)


@converts("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def _reshape(tr: Translator, op: TfliteOperator) -> None:
    target = _reshape_target(tr, op)
    if target is not None and op.inputs[0] in tr.pending_repeats:
        repeat_upsample.finish_repeat(tr, op, target)
    elif target is not None:
        tr.add_node("reshape", op, _inputs(tr, op, 1), shape=target)


def _reshape_target(tr: Translator, op: TfliteOperator) -> tuple[int, ...] | None:
    """The output shape of a RESHAPE/SQUEEZE/EXPAND_DIMS, from its (folded) shape input and options.

    A dynamic-batch model's output shapes in the file are placeholders, so the
    target is computed from the input shape whenever the shape input is constant.
    """
    x, y = tr.model.tensors[op.inputs[0]], tr.model.tensors[op.outputs[0]]
    attrs = [tr.model.tensors[i].data for i in op.inputs[1:] if i >= 0]
    if all(a is not None for a in attrs):
        probe = np.zeros(x.shape, np.int8)
        try:
            (shaped,) = const_eval.FOLDERS[op.op_name]([probe, *attrs], op.options, op)
            return tuple(int(d) for d in shaped.shape)
        except (const_eval.NotFoldable, ValueError, IndexError, TypeError):
            pass
    if y.signature is not None and -1 in y.signature:
        tr.problems.append(f"{tr.describe(op)} has a target shape that is not constant")
        return None
    return tuple(y.shape)


@converts("SOFTMAX")
def _softmax(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node("softmax", op, _inputs(tr, op, 1), axis=-1, beta=float(op.options.Beta()))


@converts("PAD", "PADV2")
def _pad(tr: Translator, op: TfliteOperator) -> None:
    pads = tr.const_values(op, 1, "paddings")
    value = 0.0
    if op.op_name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        raw = tr.const_values(op, 2, "pad value")
        if raw is None:
            return
        v = tr.model.tensors[op.inputs[2]]
        q = float(np.asarray(raw).reshape(-1)[0])
        value = q if v.scale is None else float(v.scale[0]) * (q - float(v.zero_point[0]))
    if pads is None:
        return
    pads_attr = tuple((int(lo), int(hi)) for lo, hi in np.asarray(pads).reshape(-1, 2))
    tr.add_node("pad", op, _inputs(tr, op, 1), pads=pads_attr, value=value)


@converts("CONCATENATION")
def _concat(tr: Translator, op: TfliteOperator) -> None:
    rank = len(tr.model.tensors[op.outputs[0]].shape)
    tr.add_node("concat", op, _inputs(tr, op), axis=int(op.options.Axis()) % rank, act=tr.activation(op))


@converts("TRANSPOSE")
def _transpose(tr: Translator, op: TfliteOperator) -> None:
    perm = tr.const_values(op, 1, "permutation")
    if perm is not None:
        tr.add_node("transpose", op, _inputs(tr, op, 1), perm=tuple(int(p) for p in perm))


_UNARY = {
    "QUANTIZE": "quantize",
    "DEQUANTIZE": "dequantize",
    "LOGISTIC": "logistic",
    "TANH": "tanh",
    "HARD_SWISH": "hard_swish",
    "RELU": "relu",
    "RELU6": "relu6",
}


@converts(*_UNARY)
def _unary(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node(_UNARY[op.op_name], op, _inputs(tr, op, 1))


@converts("RELU_N1_TO_1", "RELU_0_TO_1")
def _clip(tr: Translator, op: TfliteOperator) -> None:
    lo = -1.0 if op.op_name == "RELU_N1_TO_1" else 0.0
    tr.add_node("clip", op, _inputs(tr, op, 1), min=lo, max=1.0)


@converts("LEAKY_RELU")
def _leaky_relu(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node("leaky_relu", op, _inputs(tr, op, 1), alpha=float(op.options.Alpha()))


@converts("RESIZE_NEAREST_NEIGHBOR")
def _resize_nearest(tr: Translator, op: TfliteOperator) -> None:
    o = op.options
    if o is not None and (o.AlignCorners() or o.HalfPixelCenters()):
        tr.problems.append(f"{tr.describe(op)} uses align_corners/half_pixel_centers; export with both False")
        return
    size = tr.const_values(op, 1, "size")
    if size is not None:
        tr.add_node("resize_nearest", op, _inputs(tr, op, 1), size=tuple(int(s) for s in size))


# -- slicing, splitting, maximum/minimum, dilated convolutions --------------------------------


def _add_slice(tr: Translator, op: TfliteOperator, x: int, out: int, begin, size, strides) -> None:
    """One IR ``slice`` from TFLite tensor ``x`` into ``out`` (a reshape follows when ``out`` drops axes)."""
    y = tr.model.tensors[out]
    inputs = [tr.tensor(x)]
    size = tuple(int(k) for k in size)
    if tuple(y.shape) == size:
        tr.add_node("slice", op, inputs, [tr.tensor(out)], begin=tuple(begin), size=size, strides=tuple(strides))
        return
    name = tr.tensor(out)
    full = tr.graph.unique_name(f"{name}/slice")
    tr.graph.add_tensor(Tensor(full, size, y.dtype or "float32", None, y.scale, y.zero_point))
    tr.add_node("slice", op, inputs, [full], begin=tuple(begin), size=size, strides=tuple(strides))
    tr.add_node("reshape", op, [full], [name], shape=tuple(y.shape))


def _split_along(tr: Translator, op: TfliteOperator, x: int, axis: int, sizes: list[int]) -> None:
    shape = tr.model.tensors[x].shape
    axis %= len(shape)
    if len(sizes) != len(op.outputs) or sum(sizes) != shape[axis] or min(sizes) < 1:
        tr.problems.append(f"{tr.describe(op)} splits {shape[axis]} elements into {sizes}")
        return
    start = 0
    for out, size in zip(op.outputs, sizes):
        begin = [0] * len(shape)
        begin[axis] = start
        extent = list(shape)
        extent[axis] = size
        _add_slice(tr, op, x, out, begin, extent, [1] * len(shape))
        start += size


@converts("SPLIT")
def _split(tr: Translator, op: TfliteOperator) -> None:
    axis = tr.const_values(op, 0, "axis")
    if axis is None:
        return
    x = op.inputs[1]
    count = len(op.outputs)
    extent = tr.model.tensors[x].shape[int(np.asarray(axis).reshape(-1)[0]) % len(tr.model.tensors[x].shape)]
    if extent % count:
        tr.problems.append(f"{tr.describe(op)} splits {extent} elements into {count} equal parts")
        return
    _split_along(tr, op, x, int(np.asarray(axis).reshape(-1)[0]), [extent // count] * count)


@converts("SPLIT_V")
def _split_v(tr: Translator, op: TfliteOperator) -> None:
    sizes, axis = tr.const_values(op, 1, "size_splits"), tr.const_values(op, 2, "axis")
    if sizes is None or axis is None:
        return
    x = op.inputs[0]
    extent = tr.model.tensors[x].shape[int(np.asarray(axis).reshape(-1)[0]) % len(tr.model.tensors[x].shape)]
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = extent - (sum(sizes) + 1)
    _split_along(tr, op, x, int(np.asarray(axis).reshape(-1)[0]), sizes)


@converts("SLICE")
def _slice(tr: Translator, op: TfliteOperator) -> None:
    begin, size = tr.const_values(op, 1, "begin"), tr.const_values(op, 2, "size")
    if begin is None or size is None:
        return
    shape = tr.model.tensors[op.inputs[0]].shape
    begin = [int(b) for b in np.asarray(begin).reshape(-1)]
    size = [d - b if int(k) == -1 else int(k) for d, b, k in zip(shape, begin, np.asarray(size).reshape(-1))]
    _add_slice(tr, op, op.inputs[0], op.outputs[0], begin, size, [1] * len(shape))


def strided_slice_indices(shape, begin, end, strides, begin_mask, end_mask, shrink_mask, offset=False):
    """Per dimension the ``range`` of input indices TFLite STRIDED_SLICE reads (Python slice semantics)."""
    ranges = []
    for i, dim in enumerate(shape):
        b, e, s = int(begin[i]), int(end[i]), int(strides[i])
        if offset:
            e = b + e
        if shrink_mask >> i & 1:
            b = b + dim if b < 0 else b
            ranges.append(range(b, b + 1))
            continue
        start = None if begin_mask >> i & 1 else b
        stop = None if end_mask >> i & 1 else e
        ranges.append(range(dim)[slice(start, stop, s)])
    return ranges


@converts("STRIDED_SLICE")
def _strided_slice(tr: Translator, op: TfliteOperator) -> None:
    begin, end, strides = (tr.const_values(op, i, what) for i, what in ((1, "begin"), (2, "end"), (3, "strides")))
    if begin is None or end is None or strides is None:
        return
    o = op.options
    if o is not None and (o.EllipsisMask() or o.NewAxisMask()):
        tr.problems.append(f"{tr.describe(op)} uses an ellipsis or new-axis mask; only plain strided slices are supported")
        return
    shape = tr.model.tensors[op.inputs[0]].shape
    begin, end, strides = (np.asarray(v).reshape(-1) for v in (begin, end, strides))
    if len(begin) != len(shape):
        tr.problems.append(f"{tr.describe(op)} slices {len(begin)} of {len(shape)} dimensions")
        return
    masks = (o.BeginMask(), o.EndMask(), o.ShrinkAxisMask(), bool(o.Offset())) if o is not None else (0, 0, 0, False)
    ranges = strided_slice_indices(shape, begin, end, strides, *masks)
    if any(len(r) < 1 for r in ranges):
        tr.problems.append(f"{tr.describe(op)} has an empty result")
        return
    _add_slice(tr, op, op.inputs[0], op.outputs[0], [r.start for r in ranges], [len(r) for r in ranges], [r.step for r in ranges])


@converts("MAXIMUM", "MINIMUM")
def _maximum_minimum(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node(op.op_name.lower(), op, _inputs(tr, op, 2))


def _single_consumer(tr: Translator, tensor: int) -> TfliteOperator | None:
    users = [o for o in tr.model.operators if tensor in o.inputs]
    if len(users) != 1 or tensor in tr.model.outputs:
        return None
    return users[0]


def _same_quantization(a: TfliteTensor, b: TfliteTensor) -> bool:
    if a.scale is None or b.scale is None:
        return a.scale is None and b.scale is None
    return np.array_equal(a.scale, b.scale) and np.array_equal(a.zero_point, b.zero_point)


@converts("SPACE_TO_BATCH_ND")
def _space_to_batch(tr: Translator, op: TfliteOperator) -> None:
    """SPACE_TO_BATCH_ND -> CONV_2D/DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND (a dilated conv as older
    converters write it) becomes one dilated conv; anything else is unsupported."""
    block, paddings = tr.const_values(op, 1, "block shape"), tr.const_values(op, 2, "paddings")
    if block is None or paddings is None:
        return
    lone = f"{tr.describe(op)} is not followed by a convolution and BATCH_TO_SPACE_ND; only that dilated-convolution pattern is supported"
    conv = _single_consumer(tr, op.outputs[0])
    if conv is None or conv.op_name not in ("CONV_2D", "DEPTHWISE_CONV_2D") or conv.inputs[0] != op.outputs[0]:
        tr.problems.append(lone)
        return
    b2s = _single_consumer(tr, conv.outputs[0])
    if b2s is None or b2s.op_name != "BATCH_TO_SPACE_ND":
        tr.problems.append(lone)
        return
    block2, crops = tr.const_values(b2s, 1, "block shape"), tr.const_values(b2s, 2, "crops")
    if block2 is None or crops is None:
        return
    block = tuple(int(v) for v in np.asarray(block).reshape(-1))
    paddings = np.asarray(paddings).reshape(-1, 2).astype(int)
    crops = np.asarray(crops).reshape(-1, 2).astype(int)
    x, batched, y = (tr.model.tensors[i] for i in (op.inputs[0], op.outputs[0], b2s.outputs[0]))
    conv_out = tr.model.tensors[conv.outputs[0]]
    o = conv.options
    w = tr.model.tensors[conv.inputs[1]]
    kernel = tuple(w.shape[1:3])
    inner_dilation = (o.DilationHFactor(), o.DilationWFactor())
    fits = (
        len(block) == 2
        and tuple(int(v) for v in np.asarray(block2).reshape(-1)) == block
        and len(x.shape) == 4
        and x.shape[0] == 1
        and (o.StrideH(), o.StrideW()) == (1, 1)
        and inner_dilation == (1, 1)
        and _same_quantization(x, batched)
        and _same_quantization(conv_out, y)
    )
    pad = None
    if fits:
        inner = tr.spatial_padding(conv, batched.shape[1:3], kernel, (1, 1), (1, 1))  # (top, left, bottom, right)
        top = [int(paddings[d][0]) + block[d] * inner[d] - int(crops[d][0]) for d in range(2)]
        bottom = [
            y.shape[1 + d] - x.shape[1 + d] - top[d] + block[d] * (kernel[d] - 1) for d in range(2)
        ]  # what the output size implies
        if min(top + bottom) >= 0:
            pad = (top[0], top[1], bottom[0], bottom[1])
    if pad is None:
        tr.problems.append(
            f"{tr.describe(op)} with {conv.op_name} and BATCH_TO_SPACE_ND cannot be folded into one dilated convolution "
            f"(block {block}, paddings {paddings.tolist()}, crops {crops.tolist()})"
        )
        return
    inputs = [tr.tensor(op.inputs[0])] + _inputs(tr, conv, 3)[1:]
    outputs = [tr.tensor(b2s.outputs[0])]
    if conv.op_name == "CONV_2D":
        groups = x.shape[3] // w.shape[3] if w.shape[3] else 1
        tr.add_node("conv2d", conv, inputs, outputs, stride=(1, 1), dilation=block, pad=pad, groups=groups, act=tr.activation(conv))
    else:
        tr.add_node(
            "depthwise_conv2d", conv, inputs, outputs, stride=(1, 1), dilation=block, pad=pad,
            depth_multiplier=w.shape[3] // x.shape[3], act=tr.activation(conv),
        )
    tr.absorbed.update((conv.index, b2s.index))


@converts("GATHER")
def _gather(tr: Translator, op: TfliteOperator) -> None:
    """GATHER of an activation with constant indices (all-constant gathers are folded before)."""
    indices = tr.const_values(op, 1, "indices")
    if indices is None:
        return
    x = tr.model.tensors[op.inputs[0]]
    o = op.options
    axis = int(o.Axis()) % len(x.shape) if o is not None else 0
    if o is not None and o.BatchDims():
        tr.problems.append(f"{tr.describe(op)} has batch_dims {o.BatchDims()}; only batch_dims 0 is supported")
        return
    flat = [int(i) + x.shape[axis] if int(i) < 0 else int(i) for i in np.asarray(indices).reshape(-1)]
    if np.asarray(indices).ndim > 1 or not flat or min(flat) < 0 or max(flat) >= x.shape[axis]:
        tr.problems.append(f"{tr.describe(op)} has indices of shape {np.asarray(indices).shape} or out of range")
        return
    y = tr.model.tensors[op.outputs[0]]
    shape = tuple(x.shape[:axis]) + (len(flat),) + tuple(x.shape[axis + 1 :])
    out = tr.tensor(op.outputs[0])
    if tuple(y.shape) == shape:
        tr.add_node("gather", op, [tr.tensor(op.inputs[0])], [out], axis=axis, indices=tuple(flat))
        return
    full = tr.graph.unique_name(f"{out}/gather")  # a scalar index drops the axis: gather, then reshape
    tr.graph.add_tensor(Tensor(full, shape, y.dtype or "float32", None, y.scale, y.zero_point))
    tr.add_node("gather", op, [tr.tensor(op.inputs[0])], [full], axis=axis, indices=tuple(flat))
    tr.add_node("reshape", op, [full], [out], shape=tuple(y.shape))


@converts("TRANSPOSE_CONV")
def _transpose_conv(tr: Translator, op: TfliteOperator) -> None:
    """Inputs (output_shape, weights [Co,KH,KW,Ci], input, bias?).

    The output size comes from the (folded) output_shape input: with a dynamic batch the
    converter computes it with SHAPE/STRIDED_SLICE/PACK and the output tensor's shape in the
    file may be a placeholder."""
    o = op.options
    w, x, y = tr.model.tensors[op.inputs[1]], tr.model.tensors[op.inputs[2]], tr.model.tensors[op.outputs[0]]
    if w.data is None:
        tr.problems.append(f"{tr.describe(op)} has non-constant weights")
        return
    out_shape = tr.model.tensors[op.inputs[0]].data
    out_hw = tuple(int(d) for d in np.asarray(out_shape).reshape(-1)[1:3]) if out_shape is not None else y.shape[1:3]
    stride = (o.StrideH(), o.StrideW())
    kernel = tuple(w.shape[1:3])
    pads = []
    for axis in (0, 1):
        full = (x.shape[1 + axis] - 1) * stride[axis] + kernel[axis]
        out = out_hw[axis]
        # TFLite pads as if the output were the input of a forward convolution.
        before = 0 if o.Padding() == tflite.Padding.VALID else same_padding(out, kernel[axis], stride[axis], 1)[0]
        pads.append((before, full - before - out))
    (top, bottom), (left, right) = pads
    bias = op.inputs[3] if len(op.inputs) > 3 else -1
    tr.add_node(
        "transpose_conv2d",
        op,
        [tr.tensor(op.inputs[2]), tr.tensor(op.inputs[1]), tr.tensor(bias)],
        stride=stride,
        dilation=(1, 1),
        pad=(top, left, bottom, right),
        act=tr.activation(op),
    )


@converts("PRELU")
def _prelu(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node("prelu", op, _inputs(tr, op, 2))


@converts("RESIZE_BILINEAR")
def _resize_bilinear(tr: Translator, op: TfliteOperator) -> None:
    o = op.options
    align, half = (bool(o.AlignCorners()), bool(o.HalfPixelCenters())) if o is not None else (False, False)
    if align and half:
        tr.problems.append(f"{tr.describe(op)} sets both align_corners and half_pixel_centers")
        return
    size = tr.const_values(op, 1, "size")
    if size is not None:
        coord = "align_corners" if align else "half_pixel" if half else "asymmetric"
        tr.add_node("resize_bilinear", op, _inputs(tr, op, 1), size=tuple(int(s) for s in size), coord=coord)


@converts("DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
def _space_depth(tr: Translator, op: TfliteOperator) -> None:
    block = int(op.options.BlockSize())
    if op.op_name == "DEPTH_TO_SPACE":
        tr.add_node("depth_to_space", op, _inputs(tr, op, 1), block_size=block, mode="DCR")
    else:
        tr.add_node("space_to_depth", op, _inputs(tr, op, 1), block_size=block)


@converts("SQUARED_DIFFERENCE")
def _squared_difference(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node("squared_difference", op, _inputs(tr, op, 2))


@converts("RSQRT")
def _rsqrt(tr: Translator, op: TfliteOperator) -> None:
    tr.add_node("rsqrt", op, _inputs(tr, op, 1))


@converts("L2_NORMALIZATION")
def _l2_normalization(tr: Translator, op: TfliteOperator) -> None:
    act = tr.activation(op)
    if act is not None:
        tr.problems.append(f"{tr.describe(op)} has a fused activation")
        return
    tr.add_node("l2_normalization", op, _inputs(tr, op, 1), axis=-1, epsilon=1e-6)


@converts("TILE")
def _tile(tr: Translator, op: TfliteOperator) -> None:
    """Only as Keras UpSampling2D's nearest upsampling (repeat_upsample.py); constant TILEs fold."""
    repeat_upsample.start_repeat(tr, op)
