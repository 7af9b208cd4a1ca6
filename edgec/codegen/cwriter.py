"""A tiny C source writer: indentation, blocks, comments and constant arrays."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

_C_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "uint8": "uint8_t"}


def c_identifier(name: str, used: set[str] | None = None) -> str:
    """A readable, unique C identifier derived from a model name."""
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", name).strip("_").lower() or "t"
    ident = re.sub(r"_+", "_", ident)
    if ident[0].isdigit():
        ident = "t_" + ident
    if used is not None:
        base, i = ident, 1
        while ident in used:
            ident = f"{base}_{i}"
            i += 1
        used.add(ident)
    return ident


def c_type(dtype: str) -> str:
    return _C_TYPES[dtype]


def c_float(x: float) -> str:
    return f"{float(np.float32(x))!r}f"


def c_list(values: Iterable[int]) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


class CWriter:
    def __init__(self, indent: str = "    "):
        self._lines: list[str] = []
        self._depth = 0
        self._indent = indent

    def line(self, text: str = "") -> None:
        self._lines.append(f"{self._indent * self._depth}{text}" if text else "")

    def lines(self, texts: Iterable[str]) -> None:
        for t in texts:
            self.line(t)

    def comment(self, text: str) -> None:
        for part in text.splitlines():
            self.line(f"/* {part} */")

    @contextmanager
    def block(self, head: str = "", tail: str = "}") -> Iterator[None]:
        self.line(f"{head} {{" if head else "{")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self.line(tail)

    @contextmanager
    def indented(self) -> Iterator[None]:
        """One more level of indentation without braces (``case`` bodies)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def array(self, decl: str, data: np.ndarray, per_line: int = 16) -> None:
        """``decl = { ... };`` with the flattened values, ``per_line`` per line."""
        flat = np.asarray(data).reshape(-1)
        self.line(f"{decl} = {{")
        self._depth += 1
        values = [repr(v) for v in flat.tolist()]
        for start in range(0, len(values), per_line):
            self.line(", ".join(values[start : start + per_line]) + ",")
        self._depth -= 1
        self.line("};")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
