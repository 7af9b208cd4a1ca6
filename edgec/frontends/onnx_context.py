"""State shared by the ONNX op translators: constants, layout helpers and node emission.

The IR is NHWC while ONNX is NCHW.  Every 4-D *activation* keeps its ONNX name
but is stored NHWC in the IR; tensors of any other rank keep the ONNX layout.
Constants stay in ONNX layout (``ConstValue``) until a translator asks for them
in the layout its IR op wants (``materialize``), so a weight is laid out once
for the op that reads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.ir.ops import infer_shapes
from edgec.ir.tensor import Tensor

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


class Unsupported(Exception):
    """One node cannot be translated; the message says why (collected, reported together)."""


class Skip(Exception):
    """A node reads the output of an untranslatable node: already reported, stay silent."""


@dataclass
class ConstValue:
    """A constant in ONNX layout, possibly stored quantized (``dequantized`` = the ONNX value is float)."""

    data: np.ndarray
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    axis: int | None = None  # ONNX axis of per-channel parameters
    dequantized: bool = False

    def value(self) -> np.ndarray:
        """The numeric value ONNX sees (float for dequantized constants)."""
        if not self.dequantized:
            return self.data
        from edgec.reference.float_ops import dequantize_array

        assert self.scale is not None and self.zero_point is not None
        return dequantize_array(self.data, self.scale, self.zero_point, self.axis)


def nhwc_axis(axis: int) -> int:
    """Where ONNX axis ``axis`` of a 4-D NCHW tensor lives in the NHWC IR tensor."""
    return NCHW_TO_NHWC.index(axis % 4)


def to_nhwc_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[p] for p in NCHW_TO_NHWC) if len(shape) == 4 else tuple(shape)


def to_nchw_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[p] for p in NHWC_TO_NCHW) if len(shape) == 4 else tuple(shape)


def same_memory_order(nchw_shape: tuple[int, ...]) -> bool:
    """NCHW and NHWC hold the elements in the same order when C == 1 or H*W == 1."""
    _, c, h, w = nchw_shape
    return c == 1 or h * w == 1


class OnnxContext:
    def __init__(self, graph: Graph, opset: int, reserved_names: set[str], expected_shapes: dict[str, tuple[int, ...]]):
        self.graph = graph
        self.opset = opset
        self.consts: dict[str, ConstValue] = {}
        self.poisoned: set[str] = set()
        self._reserved = set(reserved_names)
        self._node_names: set[str] = set()
        self._materialized: dict[tuple, str] = {}
        self._expected = expected_shapes  # ONNX shapes from shape inference, static only

    # -- names ----------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """A tensor name unused by the IR and by any ONNX tensor."""
        name, i = base, 1
        while name in self.graph.tensors or name in self._reserved:
            name = f"{base}_{i}"
            i += 1
        self._reserved.add(name)
        return name

    def node_name(self, base: str, reserve: bool = True) -> str:
        """A node name not used yet (``reserve=False`` only proposes it)."""
        name, i = base, 1
        while name in self._node_names:
            name = f"{base}_{i}"
            i += 1
        if reserve:
            self._node_names.add(name)
        return name

    # -- queries --------------------------------------------------------------------------------
    def is_const(self, name: str) -> bool:
        return name in self.consts

    def const(self, name: str) -> ConstValue:
        return self.consts[name]

    def const_value(self, name: str, what: str) -> np.ndarray:
        """The value of an input that must be constant (``what`` names it in the error)."""
        self._check_known(name)
        if name not in self.consts:
            raise Unsupported(f"{what} {name!r} is not a constant")
        return self.consts[name].value()

    def _check_known(self, name: str) -> None:
        if name in self.poisoned:
            raise Skip(name)
        if name not in self.consts and name not in self.graph.tensors:
            raise Unsupported(f"input {name!r} is never produced")

    def onnx_shape(self, name: str) -> tuple[int, ...]:
        self._check_known(name)
        if name in self.consts:
            return tuple(self.consts[name].data.shape)
        return to_nchw_shape(self.graph.tensors[name].shape)

    def rank(self, name: str) -> int:
        return len(self.onnx_shape(name))

    # -- constants ------------------------------------------------------------------------------
    def materialize(
        self,
        name: str,
        *,
        shape: tuple[int, ...] | None = None,
        perm: tuple[int, ...] | None = None,
        multiplier: float | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        tag: str = "",
        node: str = "",
    ) -> str:
        """Add constant ``name`` to the IR reshaped to ``shape``, then permuted by ``perm``, then scaled.

        A dequantized constant becomes an int8 constant plus a ``dequantize`` node, so QDQ
        models keep their quantization.  Returns the IR name of the float tensor.
        """
        key = (name, shape, perm, multiplier, tag)
        if key in self._materialized:
            return self._materialized[key]
        cv = self.consts[name]
        plain = shape is None and perm is None and multiplier is None and transform is None
        ir_name = name if plain and name not in self.graph.tensors else self.fresh(f"{name}_{tag or 'ir'}")
        data = cv.data
        axis = cv.axis
        if axis is not None and cv.scale is not None and cv.scale.size > 1:
            channels = cv.scale.size
            if shape is not None:
                data = data.reshape(shape)
                axis = next(i for i, d in enumerate(shape) if d == channels)
            if perm is not None:
                data = data.transpose(perm)
                axis = perm.index(axis)
        else:
            axis = None
            if shape is not None:
                data = data.reshape(shape)
            if perm is not None:
                data = data.transpose(perm)
        data = np.ascontiguousarray(data)
        if cv.dequantized:
            assert cv.scale is not None
            if transform is not None:
                raise Unsupported(f"quantized constant {name!r} cannot be transformed ({tag})")
            scale = cv.scale
            if multiplier is not None:
                if multiplier <= 0:
                    raise Unsupported(f"quantized constant {name!r} cannot be scaled by {multiplier}")
                scale = scale * np.float32(multiplier)
            q_name = self.fresh(f"{ir_name}_quant")
            self.graph.add_tensor(Tensor(q_name, data.shape, str(data.dtype), data, scale, cv.zero_point, axis))
            self.emit("dequantize", [q_name], [ir_name], node or f"{name}/dequantize")
        else:
            if multiplier is not None:
                data = (data * np.float32(multiplier)).astype(data.dtype)
            if transform is not None:
                data = np.ascontiguousarray(transform(data))
            if data.dtype == np.float64:
                data = data.astype(np.float32)
            self.graph.add_const(ir_name, data)
        self._materialized[key] = ir_name
        return ir_name

    def activation(self, name: str) -> str:
        """The IR tensor for ONNX tensor ``name`` in IR layout (constants are materialized NHWC if 4-D)."""
        self._check_known(name)
        if name in self.consts:
            perm = NCHW_TO_NHWC if self.consts[name].data.ndim == 4 else None
            return self.materialize(name, perm=perm, tag="nhwc" if perm else "")
        return name

    def ir_shape(self, name: str) -> tuple[int, ...]:
        return self.graph.tensors[self.activation(name)].shape

    # -- emission -------------------------------------------------------------------------------
    def emit(
        self,
        op: str,
        inputs: list[str],
        outputs: list[str] | None,
        name: str,
        *,
        dtype: str = "float32",
        quant: dict | None = None,
        **attrs,
    ) -> str:
        """Append an IR node; output tensors are created with inferred shapes. Returns the first output."""
        outs = outputs if outputs is not None else [self.fresh(f"{name}_out")]
        node = Node(self.node_name(name), op, list(inputs), list(outs), attrs)
        try:
            shapes = infer_shapes(self.graph, node)
        except (ValueError, KeyError, IndexError) as e:
            raise Unsupported(f"{op} cannot be formed: {e}") from e
        for out, shape in zip(outs, shapes):
            expected = self._expected.get(out)
            if expected is not None and to_nhwc_shape(expected) != tuple(shape):
                raise Unsupported(f"translated shape {tuple(shape)} of {out!r} disagrees with ONNX shape {expected}")
            self.graph.add_tensor(Tensor(out, shape, dtype, **(quant or {})))
        self.graph.nodes.append(node)
        return outs[0]

    # -- layout ---------------------------------------------------------------------------------
    def in_onnx_order(self, name: str, node: str) -> str:
        """An IR tensor holding activation ``name`` with ONNX (C-major for 4-D) element order."""
        x = self.activation(name)
        shape = self.onnx_shape(name)
        if len(shape) != 4 or same_memory_order(shape):
            return x
        return self.emit("transpose", [x], None, f"{node}/to_nchw", perm=NHWC_TO_NCHW)

    def from_onnx_order(self, x: str, onnx_shape: tuple[int, ...], out: str | None, node: str) -> str:
        """Reshape IR tensor ``x`` (ONNX element order) to ``onnx_shape`` as an IR-layout tensor ``out``."""
        onnx_shape = tuple(int(d) for d in onnx_shape)
        if len(onnx_shape) == 4 and not same_memory_order(onnx_shape):
            nchw = self.emit("reshape", [x], None, f"{node}/reshape", shape=onnx_shape)
            return self.emit("transpose", [nchw], [out] if out else None, f"{node}/to_nhwc", perm=NCHW_TO_NHWC)
        target = to_nhwc_shape(onnx_shape)
        if self.graph.tensors[x].shape == target and out is None:
            return x
        return self.emit("reshape", [x], [out] if out else None, node, shape=target)

    def reshape_to(self, name: str, onnx_shape: tuple[int, ...], out: str | None, node: str) -> str:
        """ONNX Reshape semantics (element order preserved) from activation ``name`` to ``onnx_shape``."""
        if math.prod(onnx_shape) != math.prod(self.onnx_shape(name)):
            raise Unsupported(f"cannot reshape {self.onnx_shape(name)} to {tuple(onnx_shape)}")
        return self.from_onnx_order(self.in_onnx_order(name, node), onnx_shape, out, node)
