"""ONNX frontend: translate an ONNX model (opsets 11-21) into an NHWC edgec ``Graph``.

The frontend only translates; it never optimises (constant-only subgraphs such
as ``Shape -> Gather -> Concat`` are evaluated because they are static
plumbing, not computation).  4-D activations become NHWC; each 4-D graph input
and output is listed in ``graph.meta["layouts"]`` as ``"NCHW"`` so callers can
transpose user data.  Every construct that cannot be translated is collected
and all of them are raised together as one ``UnsupportedError``.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import onnx
from onnx import numpy_helper

from edgec.errors import ModelError, UnsupportedError
from edgec.frontends.input_shapes import InputShapes, batch_meta, check_names, resolve_input_shape
from edgec.frontends.onnx_const_eval import CONST_EVAL, constant_node_value
from edgec.frontends.onnx_context import ConstValue, OnnxContext, Skip, Unsupported, to_nhwc_shape
from edgec.frontends.onnx_ops import TRANSLATORS
from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor

MIN_OPSET, MAX_OPSET = 11, 21

_ELEM_DTYPES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.BOOL: "bool",
}


def read_onnx(path: str | os.PathLike, kind: str = "ONNX") -> onnx.ModelProto:
    """Parse an ONNX file; ModelError if it is missing or not a valid ``kind`` model."""
    label = os.path.basename(str(path))
    if not os.path.isfile(path):
        raise ModelError(f"model file {str(path)!r} not found: check the path")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf raises several types
        raise ModelError(f"{label} is not a valid {kind} model (protobuf parse failed: {type(e).__name__}): re-export it") from e
    if not model.HasField("graph") or not model.graph.node or not model.opset_import:
        raise ModelError(f"{label} is not a valid {kind} model (no graph or opset): re-export it")
    return model


def load_onnx(model: str | os.PathLike | onnx.ModelProto, input_shapes: InputShapes | None = None) -> Graph:
    """Translate an ONNX model (path or ``ModelProto``) into an NHWC float/QDQ ``Graph``.

    A dynamic batch (``dim_param`` or no ``dim_value`` in dimension 0 of an input)
    is built for 1; ``input_shapes`` (``--input-shape``, NCHW) fixes any other.
    """
    proto = model if isinstance(model, onnx.ModelProto) else read_onnx(model)
    proto, meta = _fix_input_shapes(proto, dict(input_shapes or {}))
    with contextlib.suppress(Exception):  # shapes are recomputed by the IR anyway
        proto = onnx.shape_inference.infer_shapes(proto)
    graph = _Importer(proto).run()
    graph.meta.update(meta)
    return graph


def _fix_input_shapes(model: onnx.ModelProto, given: InputShapes) -> tuple[onnx.ModelProto, dict]:
    """A copy of ``model`` with every input dimension static, so shape inference sees batch 1 throughout."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in initializers]
    check_names(given, [vi.name for vi in inputs])
    resolved: dict[str, tuple[int, ...]] = {}
    dynamic_batch = False
    for vi in inputs:
        if not vi.type.HasField("tensor_type"):
            continue
        if not vi.type.tensor_type.HasField("shape"):  # rank unknown: only --input-shape can tell
            if vi.name in given:
                resolved[vi.name] = given[vi.name]
            continue
        dims = vi.type.tensor_type.shape.dim
        declared = [int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]
        shown = [d if d is not None else (dims[i].dim_param or "?") for i, d in enumerate(declared)]
        shape, batch = resolve_input_shape(vi.name, declared, given, shown=shown)
        dynamic_batch |= batch
        if list(shape) != declared:
            resolved[vi.name] = shape
    meta: dict = {}
    if dynamic_batch:
        first = [s for s in resolved.values()] or [(1,)]
        meta["batch"] = batch_meta(True, first)
    if given:
        meta["input_shapes"] = {n: list(s) for n, s in given.items()}
    if not resolved:
        return model, meta
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for vi in fixed.graph.input:
        if vi.name in resolved:
            shape = vi.type.tensor_type.shape
            del shape.dim[:]
            for size in resolved[vi.name]:
                shape.dim.add().dim_value = size
    del fixed.graph.value_info[:]  # inferred again from the fixed inputs
    return fixed, meta


def _attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _static_shape(vi: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    dims = vi.type.tensor_type.shape.dim
    if any(not d.HasField("dim_value") or d.dim_value <= 0 for d in dims):
        return None
    return tuple(int(d.dim_value) for d in dims)


class _Importer:
    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.g = model.graph
        self.problems: list[str] = []
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        names = {i.name for i in self.g.initializer} | {i.name for i in self.g.input}
        names |= {o for n in self.g.node for o in n.output}
        expected = {}
        for vi in list(self.g.value_info) + list(self.g.output):
            shape = _static_shape(vi)
            if shape is not None:
                expected[vi.name] = shape
        graph = Graph(name=self.g.name or "model")
        graph.meta["_used"] = {i for n in self.g.node for i in n.input if i} | {o.name for o in self.g.output}
        self.ctx = OnnxContext(graph, self.opset, names, expected)

    def run(self) -> Graph:
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            self.problems.append(
                f"opset {self.opset} (supported: {MIN_OPSET}-{MAX_OPSET}; convert with onnx.version_converter)"
            )
        for init in self.g.initializer:
            self.ctx.consts[init.name] = ConstValue(numpy_helper.to_array(init))
        self._inputs()
        for index, node in enumerate(self.g.node):
            self._node(index, node)
        self._outputs()
        if self.problems:
            raise UnsupportedError(self.problems, source=f"ONNX model {self.g.name or ''}".strip())
        graph = self.ctx.graph
        del graph.meta["_used"]
        return graph.prune_tensors().verify()

    # -- boundary -------------------------------------------------------------------------------
    def _inputs(self) -> None:
        graph = self.ctx.graph
        layouts: dict[str, str] = {}
        for vi in self.g.input:
            if vi.name in self.ctx.consts:
                continue  # old exporters list initializers as inputs
            tt = vi.type.tensor_type
            dtype = _ELEM_DTYPES.get(tt.elem_type)
            problems_before = len(self.problems)
            if dtype is None:
                type_name = onnx.TensorProto.DataType.Name(tt.elem_type)
                self.problems.append(f"input '{vi.name}' has unsupported type {type_name}")
            dims = []
            for d in tt.shape.dim:
                if d.HasField("dim_value") and d.dim_value > 0:
                    dims.append(int(d.dim_value))
                else:
                    label = d.dim_param or "?"
                    self.problems.append(f"input '{vi.name}' has dynamic dimension '{label}' (fix it with --input-shape)")
                    dims.append(0)
            if len(dims) >= 2 and dims[0] > 1:
                self.problems.append(f"input '{vi.name}' has batch size {dims[0]} (only batch 1 is supported)")
            if len(self.problems) > problems_before:
                self.ctx.poisoned.add(vi.name)
                continue
            graph.add_tensor(Tensor(vi.name, to_nhwc_shape(tuple(dims)), dtype or "float32"))
            graph.inputs.append(vi.name)
            if len(dims) == 4:
                layouts[vi.name] = "NCHW"
        graph.meta["layouts"] = layouts

    def _outputs(self) -> None:
        graph = self.ctx.graph
        for vi in self.g.output:
            if vi.name in self.ctx.poisoned:
                continue
            try:
                name = self.ctx.activation(vi.name)
            except (Unsupported, Skip) as e:
                if isinstance(e, Unsupported):
                    self.problems.append(f"output '{vi.name}': {e}")
                continue
            graph.outputs.append(name)
            if len(graph.tensors[name].shape) == 4:
                graph.meta["layouts"][name] = "NCHW"

    # -- nodes ----------------------------------------------------------------------------------
    def _node(self, index: int, node: onnx.NodeProto) -> None:
        ctx = self.ctx
        name = ctx.node_name(node.name or f"{node.op_type}_{index}", reserve=False)
        label = f"node '{name}' ({node.op_type})"
        try:
            if node.domain not in ("", "ai.onnx"):
                raise Unsupported("")
            attrs = _attrs(node)
            if self._constant(node, attrs):
                return
            fn = TRANSLATORS.get(node.op_type)
            if fn is None:
                raise Unsupported("")
            fn(ctx, node, name, attrs)
        except Skip:
            ctx.poisoned.update(o for o in node.output if o)
        except Unsupported as e:
            reason = str(e)
            self.problems.append(f"{label}: {reason}" if reason else label)
            ctx.poisoned.update(o for o in node.output if o)

    def _constant(self, node: onnx.NodeProto, attrs: dict) -> bool:
        """Handle nodes that produce constants (Constant, Shape, ops on constants); True if handled."""
        ctx = self.ctx
        if node.op_type == "Constant":
            value = constant_node_value(attrs)
            if value is None:
                raise Unsupported("sparse or string constant")
            ctx.consts[node.output[0]] = ConstValue(value)
            return True
        if node.op_type == "Shape":
            shape = np.asarray(ctx.onnx_shape(node.input[0]), np.int64)
            start, end = attrs.get("start", 0), attrs.get("end", None)
            ctx.consts[node.output[0]] = ConstValue(shape[start:end])
            return True
        if node.op_type == "Size":
            ctx.consts[node.output[0]] = ConstValue(np.asarray(np.prod(ctx.onnx_shape(node.input[0])), np.int64))
            return True
        fn = CONST_EVAL.get(node.op_type)
        inputs = [i for i in node.input if i]
        if fn is None or not inputs or len(node.output) != 1:
            return False
        if not all(ctx.is_const(i) and not ctx.const(i).dequantized for i in inputs):
            return False
        args = [ctx.const(i).data if i else None for i in node.input]
        ctx.consts[node.output[0]] = ConstValue(np.asarray(fn(args, attrs, self.opset)))
        return True
