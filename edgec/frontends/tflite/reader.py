"""Read a TFLite flatbuffer into plain Python records (no IR, no policy).

Uses the generated accessors of the ``tflite`` package.  Every record keeps
the flatbuffer's own vocabulary (tensor indices, builtin op names, option
tables) so ``translate.py`` can decide what is supported.
"""

from __future__ import annotations

import inspect
import math
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import flatbuffers
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


MAX_ELEMENTS = 2**31 - 1  # TFLite sizes and offsets are 32-bit


class MalformedModel(ValueError):
    """The bytes are not a valid TFLite model; ``load_tflite`` reports it with the file name."""


class TruncatedModel(MalformedModel):
    """The flatbuffer is damaged: an offset, count or size points outside the file."""


# Exceptions the flatbuffers runtime and the generated ``tflite`` accessors raise on bytes that
# do not hold what the schema says (offsets past the end, out-of-range numbers).
_DECODE_ERRORS = (struct.error, IndexError, TypeError, ValueError, OverflowError)
_DECODER_PACKAGES = (Path(flatbuffers.__file__).parent, Path(tflite.__file__).parent)

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
    options: TfliteOptions | None  # the decoded options table (e.g. of tflite.Conv2DOptions) or None


@dataclass
class TfliteModel:
    tensors: list[TfliteTensor]
    operators: list[TfliteOperator]
    inputs: list[int]
    outputs: list[int]
    subgraph_count: int


def read_model(raw: bytes) -> TfliteModel:
    """Decode ``raw`` (a whole .tflite file); ``MalformedModel`` on malformed bytes.

    Everything is read here, eagerly (options tables included), so a damaged
    flatbuffer fails in one place with a one-line message and the translator
    only ever sees plain, index-checked records.
    """
    if len(raw) < 8 or not tflite.Model.ModelBufferHasIdentifier(raw, 0):
        raise MalformedModel("missing the 'TFL3' file identifier")
    try:
        return _read_model(raw)
    except _DECODE_ERRORS as e:
        if not _raised_by_decoder(e):
            raise
        kind = type(e).__name__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__name__}"
        raise TruncatedModel(f"{kind} while decoding: {_first_line(e)}") from e


def _raised_by_decoder(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = Path(tb.tb_frame.f_code.co_filename).resolve()
    return any(where.is_relative_to(p.resolve()) for p in _DECODER_PACKAGES)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:120] if text else "no detail"


def _read_model(raw: bytes) -> TfliteModel:
    model = tflite.Model.GetRootAsModel(raw, 0)
    subgraph_count = _count(raw, model.SubgraphsLength(), "subgraphs")
    if subgraph_count < 1:
        raise MalformedModel("the model has no subgraph")
    subgraph = model.Subgraphs(0)
    if subgraph is None:
        raise TruncatedModel("subgraph 0 is missing")
    buffer_count = _count(raw, model.BuffersLength(), "buffers")
    tensors = [
        _read_tensor(raw, model, buffer_count, subgraph.Tensors(i), i)
        for i in range(_count(raw, subgraph.TensorsLength(), "tensors"))
    ]
    opcode_count = _count(raw, model.OperatorCodesLength(), "operator codes")
    operators = [
        _read_operator(model, opcode_count, subgraph.Operators(i), i)
        for i in range(_count(raw, subgraph.OperatorsLength(), "operators"))
    ]
    result = TfliteModel(
        tensors=tensors,
        operators=operators,
        inputs=[int(i) for i in _as_list(subgraph.InputsAsNumpy())],
        outputs=[int(i) for i in _as_list(subgraph.OutputsAsNumpy())],
        subgraph_count=subgraph_count,
    )
    _check_indices(result)
    return result


def _count(raw: bytes, count: int, what: str) -> int:
    """A vector length, checked against the file size (each element takes at least 4 bytes)."""
    if count * 4 > len(raw):
        raise TruncatedModel(f"the model claims {count} {what}, more than its {len(raw)} bytes can hold")
    return count


def _check_indices(model: TfliteModel) -> None:
    """Every tensor index names a tensor of the subgraph (-1 only for absent optional inputs)."""
    n = len(model.tensors)

    def bad(indices: list[int], optional: bool) -> int | None:
        return next((i for i in indices if not (-1 if optional else 0) <= i < n), None)

    for what, indices in (("inputs", model.inputs), ("outputs", model.outputs)):
        i = bad(indices, optional=False)
        if i is not None:
            raise MalformedModel(f"subgraph {what} name tensor {i}, but the subgraph has {n} tensors")
    for op in model.operators:
        i = bad(op.inputs, optional=True)
        j = bad(op.outputs, optional=False)
        if i is not None or j is not None:
            raise MalformedModel(
                f"operator {op.index} {op.op_name} names tensor {i if i is not None else j}, "
                f"but the subgraph has {n} tensors"
            )
        if not op.outputs:
            raise MalformedModel(f"operator {op.index} {op.op_name} has no outputs")


def _as_list(values) -> list:
    # The generated accessors return 0 instead of an empty array for absent vectors.
    return [] if isinstance(values, int) else list(values)


def _read_tensor(raw: bytes, model, buffer_count: int, t, index: int) -> TfliteTensor:
    if t is None:
        raise TruncatedModel(f"tensor {index} is missing")
    type_name = TENSOR_TYPE_NAMES.get(t.Type(), f"type#{t.Type()}")
    name = t.Name().decode("utf-8", errors="replace") if t.Name() else ""
    label = repr(name) if name else f"#{index}"
    shape = tuple(int(d) for d in _as_list(t.ShapeAsNumpy()))
    if any(d < 0 for d in shape):
        raise MalformedModel(f"tensor {label} has a negative dimension in its shape {list(shape)}")
    if math.prod(shape) > MAX_ELEMENTS:
        raise MalformedModel(f"tensor {label} has shape {list(shape)}, more elements than a TFLite tensor can hold")
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
        _check_quantization(label, shape, scale, zero_point, quantized_dimension)
    data = _read_constant(raw, model, buffer_count, t.Buffer(), shape, type_name, label)
    return TfliteTensor(index, name, shape, signature, type_name, data, scale, zero_point, quantized_dimension)


def _check_quantization(label: str, shape, scale: np.ndarray, zero_point: np.ndarray, axis: int) -> None:
    if not np.all(np.isfinite(scale)) or np.any(scale < 0):
        raise MalformedModel(f"tensor {label} has quantization scale(s) that are negative or not finite")
    if zero_point.size not in (1, scale.size):
        raise MalformedModel(f"tensor {label} has {scale.size} scales but {zero_point.size} zero points")
    if scale.size > 1 and not (0 <= axis < len(shape) and shape[axis] == scale.size):
        raise MalformedModel(
            f"tensor {label} has {scale.size} per-channel scales on dimension {axis} of its shape {list(shape)}"
        )


def _read_constant(raw: bytes, model, buffer_count: int, buffer_index: int, shape, type_name: str, label: str):
    """The tensor's constant data, or None when its buffer is empty (an activation)."""
    if buffer_index <= 0:
        return None
    if buffer_index >= buffer_count:
        raise TruncatedModel(f"tensor {label} refers to buffer {buffer_index}; the model has {buffer_count}")
    buffer = model.Buffers(buffer_index)
    if buffer is None:
        return None
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
    expected = math.prod(shape) * little.itemsize
    if data.size != expected:
        raise TruncatedModel(f"tensor {label} has {data.size} bytes of data, expected {expected}")
    return np.frombuffer(data.tobytes(), dtype=little).astype(dtype).reshape(shape)


def _read_operator(model, opcode_count: int, op, index: int) -> TfliteOperator:
    if op is None:
        raise TruncatedModel(f"operator {index} is missing")
    opcode = op.OpcodeIndex()
    if opcode >= opcode_count:
        raise TruncatedModel(f"operator {index} uses operator code {opcode}; the model has {opcode_count}")
    code = model.OperatorCodes(opcode)
    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    op_name = BUILTIN_OP_NAMES.get(builtin, f"BUILTIN#{builtin}")
    custom_code = code.CustomCode().decode("utf-8", errors="replace") if code.CustomCode() else None
    return TfliteOperator(
        index=index,
        op_name=op_name,
        custom_code=custom_code,
        inputs=[int(i) for i in _as_list(op.InputsAsNumpy())],
        outputs=[int(i) for i in _as_list(op.OutputsAsNumpy())],
        options=_read_options(op, f"operator {index} {op_name}"),
    )


class TfliteOptions:
    """An operator's options table, decoded eagerly; reads like the generated class (``o.StrideH()``).

    Asking for a field the table does not have (a damaged file pairing, say,
    CONV_2D with Pool2DOptions) raises ``MalformedModel`` instead of AttributeError.
    """

    def __init__(self, class_name: str, values: dict[str, object], owner: str):
        self._class_name = class_name
        self._values = values
        self._owner = owner

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._values:
            raise MalformedModel(
                f"{self._owner} carries {self._class_name}, which has no {name}: the file is damaged; re-export it"
            )
        value = self._values[name]
        if isinstance(value, np.ndarray):  # a vector field, read by element as the generated class does
            return lambda j: value[j]
        return lambda: value

    def __repr__(self) -> str:
        return f"{self._class_name}({self._values})"


@cache
def _option_fields(class_name: str) -> tuple[tuple[str, str], ...]:
    """(field, accessor) pairs of a generated options class: scalars by getter, vectors by ``*AsNumpy``."""
    cls = getattr(tflite, class_name)
    fields = []
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith(("_", "GetRootAs", "Init")) or name.endswith(("Length", "IsNone", "BufferHasIdentifier")):
            continue
        params = list(inspect.signature(fn).parameters)
        if name.endswith("AsNumpy") and len(params) == 1:
            fields.append((name[: -len("AsNumpy")], name))
        elif len(params) == 1 and not hasattr(cls, name + "AsNumpy"):
            fields.append((name, name))
    return tuple(fields)


def _read_options(op, owner: str) -> TfliteOptions | None:
    table = op.BuiltinOptions()
    class_name = OPTIONS_CLASS_NAMES.get(op.BuiltinOptionsType())
    if table is None or class_name in (None, "NONE") or not hasattr(tflite, class_name):
        return None
    options = getattr(tflite, class_name)()
    options.Init(table.Bytes, table.Pos)
    values = {}
    for field, accessor in _option_fields(class_name):
        value = getattr(options, accessor)()
        values[field] = np.asarray(value) if accessor != field else value
    return TfliteOptions(class_name, values, owner)
