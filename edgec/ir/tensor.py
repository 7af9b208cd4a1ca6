"""Tensors of the edgec IR.

A tensor is a named value with a static shape (NHWC for 4-D activations), a
dtype name, optional constant data and optional affine quantization
(``real = scale * (q - zero_point)``).  Quantization is per-tensor when
``scale`` has one element and per-channel along ``axis`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DTYPES = ("float32", "int8", "uint8", "int16", "int32", "int64", "bool")


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    data: np.ndarray | None = None
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    axis: int | None = None
    meta: dict = field(default_factory=dict)
    bits: int = 8  # stored width of an int8-typed activation: 8, or 4/2 for packed sub-byte maps

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in self.shape)
        if self.scale is not None:
            self.scale = np.atleast_1d(np.asarray(self.scale, dtype=np.float32))
            zp = 0 if self.zero_point is None else self.zero_point
            self.zero_point = np.atleast_1d(np.asarray(zp, dtype=np.int64))
            if self.zero_point.size == 1 and self.scale.size > 1:
                self.zero_point = np.zeros(self.scale.size, dtype=np.int64)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def is_quantized(self) -> bool:
        return self.scale is not None

    @property
    def per_channel(self) -> bool:
        return self.scale is not None and self.scale.size > 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def qscale(self) -> float:
        """The per-tensor scale (error for per-channel tensors)."""
        assert self.scale is not None and self.scale.size == 1, self.name
        return float(self.scale[0])

    @property
    def qzero(self) -> int:
        """The per-tensor zero point (error for per-channel tensors)."""
        assert self.zero_point is not None and self.zero_point.size == 1, self.name
        return int(self.zero_point[0])

    def copy(self) -> Tensor:
        return Tensor(
            self.name,
            self.shape,
            self.dtype,
            None if self.data is None else self.data.copy(),
            None if self.scale is None else self.scale.copy(),
            None if self.zero_point is None else self.zero_point.copy(),
            self.axis,
            dict(self.meta),
            self.bits,
        )

    def describe(self) -> str:
        q = ""
        if self.is_quantized:
            q = f" q(scale={self.scale[0]:.4g}{'..' if self.per_channel else ''}, zp={int(self.zero_point[0])})"
        width = f"/int{self.bits}" if self.bits != 8 else ""
        return f"{self.name}: {self.dtype}{width}{list(self.shape)}{' const' if self.is_const else ''}{q}"
