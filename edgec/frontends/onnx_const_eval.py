"""Evaluation of ONNX nodes whose inputs are all constants (shape plumbing, weight reshapes).

Exporters often compute reshape targets with ``Shape -> Gather -> Concat`` or
reshape/transpose weights with ops on initializers.  Shapes are static in
edgec (a dynamic batch is fixed at 1), so these subgraphs are plain constants;
evaluating them here lets the translators see constant weights and shape
specs.  ``Shape`` and ``Size`` are evaluated from the static shape of their
input even when the input is an activation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import onnx
from onnx import numpy_helper

ConstFn = Callable[[list[np.ndarray], dict, int], np.ndarray]


def _axes_arg(args: list[np.ndarray], attrs: dict, opset: int) -> list[int] | None:
    if opset >= 13:
        return [int(a) for a in args[1].reshape(-1)] if len(args) > 1 and args[1] is not None else None
    return [int(a) for a in attrs["axes"]] if "axes" in attrs else None


def _unsqueeze(args, attrs, opset):
    x = args[0]
    axes = _axes_arg(args, attrs, opset) or []
    out_rank = x.ndim + len(axes)
    shape = list(x.shape)
    for a in sorted(a % out_rank for a in axes):
        shape.insert(a, 1)
    return x.reshape(shape)


def _squeeze(args, attrs, opset):
    axes = _axes_arg(args, attrs, opset)
    return np.squeeze(args[0], axis=None if axes is None else tuple(a % args[0].ndim for a in axes))


def _reshape(args, attrs, opset):
    x, spec = args[0], [int(d) for d in args[1].reshape(-1)]
    shape = [x.shape[i] if d == 0 and not attrs.get("allowzero", 0) else d for i, d in enumerate(spec)]
    return x.reshape(shape)


def _slice(args, attrs, opset):
    x = args[0]
    starts, ends = args[1].reshape(-1), args[2].reshape(-1)
    axes = args[3].reshape(-1) if len(args) > 3 and args[3] is not None else range(len(starts))
    steps = args[4].reshape(-1) if len(args) > 4 and args[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a) % x.ndim] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def _cast(args, attrs, opset):
    return args[0].astype(onnx.helper.tensor_dtype_to_np_dtype(int(attrs["to"])))


def _flatten(args, attrs, opset):
    x = args[0]
    axis = int(attrs.get("axis", 1)) % (x.ndim + 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _div(args, attrs, opset):
    a, b = args
    if np.issubdtype(a.dtype, np.integer):
        return (a // b).astype(a.dtype)
    return (a / b).astype(a.dtype)


def _range(args, attrs, opset):
    start, limit, delta = (a.reshape(-1)[0] for a in args)
    return np.arange(start, limit, delta).astype(args[0].dtype)


def _expand(args, attrs, opset):
    x, shape = args[0], [int(d) for d in args[1].reshape(-1)]
    return x * np.ones(shape, dtype=x.dtype)  # ONNX Expand broadcasts both ways


def _mod(args, attrs, opset):
    a, b = args
    if int(attrs.get("fmod", 0)):
        return np.fmod(a, b).astype(a.dtype)
    return np.mod(a, b).astype(a.dtype)


def _reduce(fn, axes_input_from: int):
    """A Reduce* op; its axes are an input from opset ``axes_input_from`` on, an attribute before."""

    def reduce(args, attrs, opset):
        x = args[0]
        axes = _axes_arg(args, attrs, 13 if opset >= axes_input_from else 0)
        keep = bool(attrs.get("keepdims", 1))
        if not axes:
            if int(attrs.get("noop_with_empty_axes", 0)):
                return x
            return fn(x, keepdims=keep)
        return fn(x, axis=tuple(a % x.ndim for a in axes), keepdims=keep)

    return reduce


CONST_EVAL: dict[str, ConstFn] = {
    "Identity": lambda a, at, o: a[0],
    "Cast": _cast,
    "Gather": lambda a, at, o: np.take(a[0], a[1], axis=int(at.get("axis", 0))),
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": lambda a, at, o: np.transpose(a[0], at.get("perm")),
    "Concat": lambda a, at, o: np.concatenate(a, axis=int(at["axis"])),
    "Slice": _slice,
    "Add": lambda a, at, o: (a[0] + a[1]).astype(a[0].dtype),
    "Sub": lambda a, at, o: (a[0] - a[1]).astype(a[0].dtype),
    "Mul": lambda a, at, o: (a[0] * a[1]).astype(a[0].dtype),
    "Div": _div,
    "Sqrt": lambda a, at, o: np.sqrt(a[0]),
    "ReduceProd": _reduce(np.prod, 18),
    "ReduceSum": _reduce(np.sum, 13),
    "ReduceMax": _reduce(np.max, 18),
    "ReduceMin": _reduce(np.min, 18),
    "Range": _range,
    "Expand": _expand,
    "Tile": lambda a, at, o: np.tile(a[0], [int(r) for r in a[1].reshape(-1)]),
    "Neg": lambda a, at, o: np.negative(a[0]),
    "Abs": lambda a, at, o: np.abs(a[0]),
    "Max": lambda a, at, o: functools.reduce(np.maximum, a).astype(a[0].dtype),
    "Min": lambda a, at, o: functools.reduce(np.minimum, a).astype(a[0].dtype),
    "Mod": _mod,
    "Equal": lambda a, at, o: np.equal(a[0], a[1]),
    "Less": lambda a, at, o: np.less(a[0], a[1]),
    "Greater": lambda a, at, o: np.greater(a[0], a[1]),
    "Not": lambda a, at, o: np.logical_not(a[0]),
    "Where": lambda a, at, o: np.where(a[0], a[1], a[2]),
    "ConstantOfShape": lambda a, at, o: np.full(
        [int(d) for d in a[0].reshape(-1)],
        numpy_helper.to_array(at["value"]).reshape(-1)[0] if "value" in at else np.float32(0),
    ),
}


def constant_node_value(attrs: dict) -> np.ndarray | None:
    """The value of an ONNX ``Constant`` node, or ``None`` for unsupported (sparse) forms."""
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    if "value_float" in attrs:
        return np.asarray(attrs["value_float"], np.float32)
    if "value_floats" in attrs:
        return np.asarray(attrs["value_floats"], np.float32)
    if "value_int" in attrs:
        return np.asarray(attrs["value_int"], np.int64)
    if "value_ints" in attrs:
        return np.asarray(attrs["value_ints"], np.int64)
    return None
