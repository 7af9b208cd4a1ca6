"""Fixing a model's dynamic input dimensions: a dynamic batch, and ``--input-shape NAME=DxDxD``.

Both frontends describe each model input by its declared dimensions, with
``None`` for a dynamic one.  A dynamic first dimension of an input of rank 2
or more is the batch and is built for 1; any other dynamic dimension must be given by the user with
``--input-shape`` (in the model's own layout: NCHW for ONNX, NHWC for TFLite).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from edgec.errors import EdgecError

InputShapes = dict[str, tuple[int, ...]]


def parse_input_shapes(specs: Iterable[str]) -> InputShapes:
    """``["x=1x49x10x1", ...]`` -> ``{"x": (1, 49, 10, 1)}``; EdgecError on a malformed spec."""
    shapes: InputShapes = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        if not sep or not name:
            raise EdgecError(f"--input-shape {spec!r} is not NAME=DxDxD: write e.g. --input-shape input=1x49x10x1")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise EdgecError(
                f"--input-shape {spec!r}: {dims!r} is not a list of integers joined by 'x' (e.g. 1x49x10x1)"
            ) from None
        if any(d <= 0 for d in shape):
            raise EdgecError(f"--input-shape {spec!r}: every dimension must be a positive integer")
        if name in shapes and shapes[name] != shape:
            raise EdgecError(f"--input-shape gives two shapes for {name!r}: pass it once")
        shapes[name] = shape
    return shapes


def _text(declared: Sequence[int | str | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in declared) + "]"


def resolve_input_shape(
    name: str, declared: Sequence[int | None], given: InputShapes, shown: Sequence[int | str] | None = None
) -> tuple[tuple[int, ...], bool]:
    """The shape to build input ``name`` for, and whether its batch (dimension 0) is dynamic.

    ``declared`` holds the model's dimensions (``None`` = dynamic); ``shown`` is how the
    model writes them (``-1`` or a symbolic name), for messages.
    """
    shown_text = _text(shown if shown is not None else declared)
    batch_dynamic = len(declared) >= 2 and declared[0] is None  # a vector's only dimension is no batch
    if name in given:
        shape = given[name]
        if len(shape) != len(declared):
            raise EdgecError(
                f"--input-shape {_option(name, shape)} has rank {len(shape)}, "
                f"but input {name!r} has rank {len(declared)} (shape {shown_text})"
            )
        for axis, (want, have) in enumerate(zip(declared, shape)):
            if want is not None and want != have:
                raise EdgecError(
                    f"--input-shape {_option(name, shape)} contradicts dimension {axis} of input "
                    f"{name!r} (shape {shown_text}): only its dynamic dimensions can be chosen"
                )
        if batch_dynamic and shape[0] != 1:
            raise EdgecError(
                f"--input-shape {_option(name, shape)} asks for batch {shape[0]}: "
                "edgec builds for batch 1, give 1 as the first dimension"
            )
        return tuple(shape), batch_dynamic
    unknown = [axis for axis, d in enumerate(declared) if d is None and (axis > 0 or not batch_dynamic)]
    if unknown:
        example = "x".join(
            "1" if axis == 0 and batch_dynamic else ("N" if d is None else str(d)) for axis, d in enumerate(declared)
        )
        raise EdgecError(
            f"input {name!r} has dynamic shape {shown_text} (dimension{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(str, unknown))} unknown): pass --input-shape {_option(name, example)} "
            "with N the size to build for"
        )
    return tuple(1 if d is None else int(d) for d in declared), batch_dynamic


def _option(name: str, dims: Sequence[int] | str) -> str:
    """The ``--input-shape`` argument for ``name``, quoted for a shell; unprintable characters
    (a damaged file's names) are escaped so that the error stays one line."""
    arg = f"{name}={dims if isinstance(dims, str) else 'x'.join(map(str, dims))}"
    if not arg.isprintable():
        arg = arg.encode("unicode_escape").decode("ascii")
    return shlex.quote(arg)


def check_names(given: InputShapes, input_names: Sequence[str]) -> None:
    """EdgecError if ``--input-shape`` names something that is not a model input."""
    unknown = [n for n in given if n not in input_names]
    if unknown:
        raise EdgecError(
            f"--input-shape names {unknown[0]!r}, which is not an input of the model; "
            f"its inputs are {', '.join(repr(n) for n in input_names)}"
        )


def batch_meta(dynamic: bool, shapes: Iterable[tuple[int, ...]]) -> dict:
    """What ``graph.meta["batch"]`` records: whether the batch was dynamic, and what it was built for."""
    firsts = [s[0] for s in shapes if s]
    return {"dynamic": dynamic, "built_for": firsts[0] if firsts else 1}
