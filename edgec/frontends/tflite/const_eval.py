"""Evaluation of TFLite operators whose inputs are all constants (shape plumbing, float16 weights).

A Keras ``Flatten``/``Reshape`` converted with a dynamic batch computes its
reshape target at run time: ``SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE``.
Once the batch is fixed at 1 every shape is static, so these subgraphs are
plain constants.  ``fold`` evaluates one operator when all its inputs are
constant (``SHAPE`` only needs its input's shape) and stores the result as
the constant data of its output tensors; the translator then skips it.  An
operator with an activation input is left to the normal converters.

Float16-weight models keep their weights as ``FLOAT16`` constants behind
``DEQUANTIZE``; folding that ``DEQUANTIZE`` yields the float32 weights.
Dynamic-range models feed int8 weights straight to float ops; those weights
become float32 constants too (``dequantize_hybrid_weights``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tflite

from edgec.frontends.tflite.reader import TfliteModel, TfliteOperator, TfliteTensor

FoldFn = Callable[[list[np.ndarray], object, TfliteOperator], list[np.ndarray]]
FOLDERS: dict[str, FoldFn] = {}
# Ops that only move elements: they may fold quantized constants sharing one scale.
DATA_MOVEMENT = {
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE", "SLICE",
    "PACK", "UNPACK", "GATHER", "CONCATENATION",
}  # fmt: skip


# Ops that read only their input's shape: they fold even when the input is an activation.
SHAPE_OPS = {"SHAPE", "RANK"}


class NotFoldable(Exception):
    """The op uses a form the folder does not evaluate; the normal converter decides."""


def folds(*names: str):
    def deco(fn: FoldFn) -> FoldFn:
        for name in names:
            FOLDERS[name] = fn
        return fn

    return deco


def fold(model: TfliteModel, op: TfliteOperator) -> bool:
    """Evaluate ``op`` if all its inputs are constant; store its outputs' data and return True."""
    fn = FOLDERS.get(op.op_name)
    if fn is None or not op.outputs:
        return False
    inputs = [model.tensors[i] if i >= 0 else None for i in op.inputs]
    outputs = [model.tensors[i] for i in op.outputs]
    if not inputs or inputs[0] is None:
        return False
    if op.op_name in SHAPE_OPS:
        inputs = inputs[1:]  # only the input's shape is read, not its values
    elif any(t is not None and t.data is None for t in inputs):
        return False
    if any(t.dtype is None for t in outputs) or not _quantization_allows(op.op_name, inputs, outputs):
        return False
    if op.op_name == "DEQUANTIZE" and inputs[0].type_name != "FLOAT16":
        return False  # int8 constants behind DEQUANTIZE stay quantized
    if op.op_name in SHAPE_OPS:
        args = [np.zeros(model.tensors[op.inputs[0]].shape, np.int8)]
    else:
        args = [t.data if t is not None else None for t in inputs]
    try:
        values = fn(args, op.options, op)
    except (NotFoldable, ValueError, IndexError, TypeError, ZeroDivisionError):
        return False
    if len(values) != len(outputs):
        return False
    for t, v in zip(outputs, values):
        data = np.asarray(v).astype(t.dtype)
        t.data, t.shape, t.signature = data, tuple(data.shape), None
    return True


def _quantization_allows(op_name: str, inputs: list[TfliteTensor | None], outputs: list[TfliteTensor]) -> bool:
    """Unquantized constants fold; quantized ones only through data movement with one per-tensor scale."""
    params = [
        (float(t.scale[0]), int(t.zero_point[0]), t.scale.size)
        for t in [*inputs, *outputs]
        if t is not None and t.scale is not None
    ]
    if not params:
        return True
    if op_name not in DATA_MOVEMENT:
        return False
    out_quantized = [t for t in outputs if t.scale is not None]
    return len(set(params)) == 1 and params[0][2] == 1 and len(out_quantized) == len(outputs)


def _axis(value: int, rank: int) -> int:
    if not -rank <= value < max(rank, 1):
        raise NotFoldable(f"axis {value} out of range for rank {rank}")
    return value % max(rank, 1)


def _ints(a: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _no_activation(options) -> None:
    code = getattr(options, "FusedActivationFunction", lambda: tflite.ActivationFunctionType.NONE)()
    if code != tflite.ActivationFunctionType.NONE:
        raise NotFoldable("fused activation")


# -- shapes and element moves -------------------------------------------------------------------


@folds("SHAPE")
def _shape(args, options, op):
    return [np.asarray(args[0].shape, np.int64)]


@folds("RANK")
def _rank(args, options, op):
    return [np.asarray(args[0].ndim)]


@folds("STRIDED_SLICE")
def _strided_slice(args, o, op):
    x, begin, end = args[0], _ints(args[1]), _ints(args[2])
    strides = _ints(args[3]) if len(args) > 3 and args[3] is not None else [1] * len(begin)
    if o is not None and (o.EllipsisMask() or o.NewAxisMask()):
        raise NotFoldable("ellipsis/new-axis masks")
    begin_mask, end_mask = (o.BeginMask(), o.EndMask()) if o is not None else (0, 0)
    shrink = o.ShrinkAxisMask() if o is not None else 0
    offset = bool(o.Offset()) if o is not None and hasattr(o, "Offset") else False
    index: list = []
    for i in range(x.ndim):
        if i >= len(begin):
            index.append(slice(None))
            continue
        b, e, s = begin[i], end[i], strides[i]
        if s == 0:
            raise NotFoldable("zero stride")
        if offset:
            e = b + e
        if shrink >> i & 1:
            index.append(b)
            continue
        index.append(slice(None if begin_mask >> i & 1 else b, None if end_mask >> i & 1 else e, s))
    return [np.asarray(x[tuple(index)])]


@folds("SLICE")
def _slice(args, options, op):
    x, begin, size = args[0], _ints(args[1]), _ints(args[2])
    index = tuple(slice(b, x.shape[i] if n == -1 else b + n) for i, (b, n) in enumerate(zip(begin, size)))
    return [x[index]]


@folds("PACK")
def _pack(args, o, op):
    rank = args[0].ndim + 1
    return [np.stack(args, axis=_axis(o.Axis() if o is not None else 0, rank))]


@folds("UNPACK")
def _unpack(args, o, op):
    x = args[0]
    axis = _axis(o.Axis() if o is not None else 0, x.ndim)
    return [np.take(x, i, axis=axis) for i in range(x.shape[axis])]


@folds("GATHER")
def _gather(args, o, op):
    if o is not None and o.BatchDims():
        raise NotFoldable("batch_dims")
    params, indices = args
    return [np.take(params, indices.astype(np.int64), axis=_axis(o.Axis() if o is not None else 0, params.ndim))]


@folds("CONCATENATION")
def _concatenation(args, o, op):
    _no_activation(o)
    return [np.concatenate(args, axis=_axis(o.Axis() if o is not None else 0, args[0].ndim))]


def _reshape_target(x: np.ndarray, dims: list[int]) -> list[int]:
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        dims = [x.size // known if d == -1 else d for d in dims]
    return dims


@folds("RESHAPE")
def _reshape(args, o, op):
    if len(args) > 1 and args[1] is not None:
        dims = _ints(args[1])
    elif o is not None and o.NewShapeLength():
        dims = _ints(o.NewShapeAsNumpy())
    else:
        raise NotFoldable("no target shape")
    return [args[0].reshape(_reshape_target(args[0], dims))]


@folds("SQUEEZE")
def _squeeze(args, o, op):
    x = args[0]
    axes = _ints(o.SqueezeDimsAsNumpy()) if o is not None and o.SqueezeDimsLength() else None
    return [np.squeeze(x, axis=None if axes is None else tuple(_axis(a, x.ndim) for a in axes))]


@folds("EXPAND_DIMS")
def _expand_dims(args, o, op):
    x = args[0]
    return [np.expand_dims(x, _axis(_ints(args[1])[0], x.ndim + 1))]


@folds("TRANSPOSE")
def _transpose(args, o, op):
    return [np.transpose(args[0], _ints(args[1]))]


# -- values -------------------------------------------------------------------------------------


@folds("CAST")
def _cast(args, o, op):
    return [args[0]]  # fold() casts to the output tensor's type


@folds("DEQUANTIZE")
def _dequantize(args, o, op):
    return [args[0].astype(np.float32)]  # float16 -> float32, exactly


@folds("FILL")
def _fill(args, o, op):
    return [np.full(_ints(args[0]), np.asarray(args[1]).reshape(-1)[0])]


@folds("RANGE")
def _range(args, o, op):
    start, limit, delta = (np.asarray(a).reshape(-1)[0] for a in args)
    return [np.arange(start, limit, delta)]


def _integer(a: np.ndarray) -> bool:
    return np.issubdtype(a.dtype, np.integer)


def _div(a, b):
    if _integer(a) and _integer(b):
        if np.any(b == 0):
            raise NotFoldable("integer division by zero")
        return np.trunc(a / b).astype(a.dtype)  # C division truncates toward zero
    return a / b


def _floor_div(a, b):
    if _integer(a) and np.any(b == 0):
        raise NotFoldable("integer division by zero")
    return np.floor_divide(a, b)


def _floor_mod(a, b):
    if _integer(a) and np.any(b == 0):
        raise NotFoldable("integer division by zero")
    return np.mod(a, b)


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "ADD": np.add,
    "SUB": np.subtract,
    "MUL": np.multiply,
    "DIV": _div,
    "FLOOR_DIV": _floor_div,
    "FLOOR_MOD": _floor_mod,
    "MAXIMUM": np.maximum,
    "MINIMUM": np.minimum,
}


@folds(*_BINARY)
def _binary(args, o, op):
    _no_activation(o)
    a, b = args
    return [_BINARY[op.op_name](a, b)]


@folds("NEG")
def _neg(args, o, op):
    return [np.negative(args[0])]


def _reduce(fn):
    def reduce(args, o, op):
        x = args[0]
        axes = tuple(sorted({_axis(a, x.ndim) for a in _ints(args[1])}))
        keep = bool(o.KeepDims()) if o is not None else False
        return [fn(x, axis=axes, keepdims=keep)]

    return reduce


folds("REDUCE_PROD")(_reduce(np.prod))
folds("SUM")(_reduce(np.sum))
folds("REDUCE_MAX")(_reduce(np.max))
folds("REDUCE_MIN")(_reduce(np.min))


# -- dynamic-range (hybrid) models --------------------------------------------------------------


def dequantize_hybrid_weights(model: TfliteModel, op: TfliteOperator) -> None:
    """Int8 weights of an op with float activations (``Optimize.DEFAULT`` without calibration data)
    become float32 constants: the model is then a float model, quantized post-training like any other."""
    present = [model.tensors[i] for i in op.inputs if i >= 0]
    if len(present) < 2 or present[0].type_name != "FLOAT32":
        return
    for t in present[1:]:
        if t.data is None or t.type_name != "INT8" or t.scale is None:
            continue
        shape = [1] * t.data.ndim
        if t.scale.size > 1:
            shape[t.quantized_dimension] = t.scale.size
        scale = t.scale.astype(np.float32).reshape(shape)
        zero = t.zero_point.astype(np.float32).reshape(shape) if t.zero_point.size > 1 else np.float32(t.zero_point[0])
        t.data = ((t.data.astype(np.float32) - zero) * scale).astype(np.float32)
        t.type_name, t.scale, t.zero_point = "FLOAT32", None, None
