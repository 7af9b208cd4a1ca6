"""Read a TFLite flatbuffer into plain Python records (no IR, no policy).

Uses the generated accessors of the ``tflite`` package.  Every record keeps
the flatbuffer's own vocabulary (tensor indices, builtin op names, option
tables) so ``translate.py`` can decide what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tflite

TENSOR_TYPE_NAMES: dict[int, str] = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
BUILTIN_OP_NAMES: dict[int, str] = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
OPTIONS_CLASS_NAMES: dict[int, str] = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}

# TFLite tensor types edgec can hold in the IR, by numpy dtype name.
NUMPY_DTYPES: dict[str, str] = {
    "FLOAT32": "float32",
    "FLOAT16": "float16",  # weights of float16 models, folded to float32 behind DEQUANTIZE
    "INT8": "int8",
    "UINT8": "uint8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
}


class TruncatedModel(ValueError):
    """The flatbuffer refers to bytes it does not contain."""


@dataclass
class TfliteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    signature: tuple[int, ...] | None  # shape_signature; -1 marks a dynamic dimension
    type_name: str  # TFLite TensorType name, e.g. "INT8"
    data: np.ndarray | None
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    quantized_dimension: int

    @property
    def dtype(self) -> str | None:
        return NUMPY_DTYPES.get(self.type_name)


@dataclass
class TfliteOperator:
    index: int
    op_name: str  # builtin name ("CONV_2D") or "CUSTOM"
    custom_code: str | None
    inputs: list[int]  # -1 marks an absent optional input
    outputs: list[int]
    options: object | None  # the typed options table (e.g. tflite.Conv2DOptions) or None


@dataclass
class TfliteModel:
    tensors: list[TfliteTensor]
    operators: list[TfliteOperator]
    inputs: list[int]
    outputs: list[int]
    subgraph_count: int


def read_model(raw: bytes) -> TfliteModel:
    """Decode ``raw`` (a whole .tflite file); raise ``TruncatedModel``/``ValueError`` on malformed bytes."""
    if len(raw) < 8 or not tflite.Model.ModelBufferHasIdentifier(raw, 0):
        raise ValueError("missing the 'TFL3' file identifier")
    model = tflite.Model.GetRootAsModel(raw, 0)
    subgraph_count = model.SubgraphsLength()
    if subgraph_count < 1:
        raise ValueError("the model has no subgraph")
    subgraph = model.Subgraphs(0)
    tensors = [_read_tensor(raw, model, subgraph.Tensors(i), i) for i in range(subgraph.TensorsLength())]
    operators = [_read_operator(model, subgraph.Operators(i), i) for i in range(subgraph.OperatorsLength())]
    return TfliteModel(
        tensors=tensors,
        operators=operators,
        inputs=[int(i) for i in _as_list(subgraph.InputsAsNumpy())],
        outputs=[int(i) for i in _as_list(subgraph.OutputsAsNumpy())],
        subgraph_count=subgraph_count,
    )


def _as_list(values) -> list:
    # The generated accessors return 0 instead of an empty array for absent vectors.
    return [] if isinstance(values, int) else list(values)


def _read_tensor(raw: bytes, model, t, index: int) -> TfliteTensor:
    type_name = TENSOR_TYPE_NAMES.get(t.Type(), f"type#{t.Type()}")
    shape = tuple(int(d) for d in _as_list(t.ShapeAsNumpy()))
    signature = None if t.ShapeSignatureIsNone() else tuple(int(d) for d in _as_list(t.ShapeSignatureAsNumpy()))
    scale = zero_point = None
    quantized_dimension = 0
    q = t.Quantization()
    if q is not None and q.ScaleLength() > 0:
        scale = np.asarray(_as_list(q.ScaleAsNumpy()), dtype=np.float32)
        zero_point = np.asarray(_as_list(q.ZeroPointAsNumpy()), dtype=np.int64)
        if zero_point.size == 0:
            zero_point = np.zeros(1, dtype=np.int64)
        quantized_dimension = int(q.QuantizedDimension())
    name = t.Name().decode("utf-8", errors="replace") if t.Name() else ""
    data = _read_constant(raw, model, t.Buffer(), shape, type_name, name or f"#{index}")
    return TfliteTensor(index, name, shape, signature, type_name, data, scale, zero_point, quantized_dimension)


def _read_constant(raw: bytes, model, buffer_index: int, shape: tuple[int, ...], type_name: str, label: str):
    """The tensor's constant data, or None when its buffer is empty (an activation)."""
    if buffer_index <= 0 or buffer_index >= model.BuffersLength():
        return None
    buffer = model.Buffers(buffer_index)
    offset = int(buffer.Offset())
    if offset > 1:  # data stored after the flatbuffer (models over 2 GB)
        size = int(buffer.Size())
        if offset + size > len(raw):
            raise TruncatedModel(f"buffer of tensor {label} lies beyond the end of the file")
        data = np.frombuffer(raw, dtype=np.uint8, count=size, offset=offset)
    elif buffer.DataLength() > 0:
        data = buffer.DataAsNumpy()
    else:
        return None
    dtype = NUMPY_DTYPES.get(type_name)
    if dtype is None:
        return data.copy()  # kept raw; the translator reports the type
    little = np.dtype(dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * little.itemsize
    if data.size != expected:
        raise TruncatedModel(f"tensor {label} has {data.size} bytes of data, expected {expected}")
    return np.frombuffer(data.tobytes(), dtype=little).astype(dtype).reshape(shape)


def _read_operator(model, op, index: int) -> TfliteOperator:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    op_name = BUILTIN_OP_NAMES.get(builtin, f"BUILTIN#{builtin}")
    custom_code = code.CustomCode().decode("utf-8", errors="replace") if code.CustomCode() else None
    return TfliteOperator(
        index=index,
        op_name=op_name,
        custom_code=custom_code,
        inputs=[int(i) for i in _as_list(op.InputsAsNumpy())],
        outputs=[int(i) for i in _as_list(op.OutputsAsNumpy())],
        options=_read_options(op),
    )


def _read_options(op):
    table = op.BuiltinOptions()
    class_name = OPTIONS_CLASS_NAMES.get(op.BuiltinOptionsType())
    if table is None or class_name in (None, "NONE"):
        return None
    options = getattr(tflite, class_name)()
    options.Init(table.Bytes, table.Pos)
    return options
