"""Converting user arrays to and from a compiled model's int8 boundary.

A compiled model takes and returns int8 NHWC tensors.  Users hand in `.npy`
files in the source model's terms: float (quantized here with the input's
parameters) or int8, NCHW for ONNX image models (transposed here).  Outputs
go back the same way: dequantized when the source model's output was float,
transposed back to NCHW when it was a 4-D ONNX output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.graph import Graph
from edgec.npyfile import NpyFileError, read_npy

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


@dataclass
class IOSpec:
    name: str
    shape: list[int]  # IR shape (NHWC)
    dtype: str  # IR dtype (int8 for compiled models)
    scale: float | None
    zero_point: int | None
    user_dtype: str  # what the user sees: float32 or int8
    layout: str | None  # "NCHW" when the user's array is NCHW

    @property
    def user_shape(self) -> tuple[int, ...]:
        if self.layout == "NCHW":
            return tuple(self.shape[i] for i in NHWC_TO_NCHW)
        return tuple(self.shape)

    def to_dict(self) -> dict:
        return asdict(self)


def io_specs(graph: Graph, names: list[str]) -> list[IOSpec]:
    layouts = graph.meta.get("layouts", {})
    io_dtypes = graph.meta.get("io_dtypes", {})
    specs = []
    for name in names:
        t = graph.tensors[name]
        specs.append(
            IOSpec(
                name,
                list(t.shape),
                t.dtype,
                t.qscale if t.is_quantized else None,
                t.qzero if t.is_quantized else None,
                io_dtypes.get(name, t.dtype),
                layouts.get(name) if len(t.shape) == 4 else None,
            )
        )
    return specs


def quantize_round(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 as TFLite's QUANTIZE does (round half away from zero, saturate)."""
    # Values beyond 256 steps saturate whatever the zero point; clipping first keeps the division finite.
    limit = np.float32(256) * np.float32(scale)
    v = np.clip(np.asarray(x, dtype=np.float32), -limit, limit) / np.float32(scale)
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def load_array(path: Path) -> np.ndarray:
    if not Path(path).is_file():
        raise EdgecError(f"input file {path} does not exist: pass an existing .npy file")
    try:
        return read_npy(path)
    except (OSError, NpyFileError) as e:
        raise EdgecError(f"cannot read {path} as a .npy array: {e}; save it with numpy.save") from None


def to_model_input(x: np.ndarray, spec: IOSpec) -> np.ndarray:
    """User array -> the array the compiled graph takes (IR shape and dtype)."""
    x = np.asarray(x)
    if x.shape == spec.user_shape and spec.layout == "NCHW":
        x = x.transpose(NCHW_TO_NHWC)
    elif x.shape != tuple(spec.shape):
        want = " or ".join(sorted({str(tuple(spec.shape)), str(spec.user_shape)}))
        raise EdgecError(f"input {spec.name!r} must have shape {want}, got {x.shape}: reshape the array")
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)) or np.any(np.abs(x) > np.finfo(np.float32).max):
            raise EdgecError(f"input {spec.name!r} contains NaN, infinity or values beyond float32: clean the array")
        if spec.dtype == "float32":
            return x.astype(np.float32)
        if spec.scale is None:
            raise EdgecError(f"input {spec.name!r} is {spec.dtype} without quantization parameters: pass {spec.dtype} data")
        return quantize_round(x, spec.scale, spec.zero_point or 0)
    if str(x.dtype) != spec.dtype:
        raise EdgecError(f"input {spec.name!r} must be {spec.dtype} (or float32), got {x.dtype}: convert the array")
    return np.ascontiguousarray(x)


def from_model_output(y: np.ndarray, spec: IOSpec) -> np.ndarray:
    """Compiled graph output -> the array the user gets (source dtype and layout)."""
    y = np.asarray(y).reshape(spec.shape)
    if spec.user_dtype == "float32" and spec.dtype != "float32":
        y = ((y.astype(np.int32) - (spec.zero_point or 0)) * np.float32(spec.scale)).astype(np.float32)
    if spec.layout == "NCHW":
        y = y.transpose(NHWC_TO_NCHW)
    return np.ascontiguousarray(y)
