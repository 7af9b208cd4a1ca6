"""Model frontends: ONNX and TFLite files to an edgec ``Graph``.

``load_model`` picks the frontend from the file's content (the TFLite
flatbuffer identifier ``TFL3``) or extension, and turns unreadable files into
a one-line ``ModelError``.
"""

from __future__ import annotations

import os

from edgec.errors import ModelError
from edgec.ir.graph import Graph

TFLITE_IDENTIFIER = b"TFL3"


def _is_tflite(path: str, head: bytes) -> bool:
    return head[4:8] == TFLITE_IDENTIFIER or path.lower().endswith(".tflite")


def load_model(path: str | os.PathLike, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    """Read an ONNX or TFLite model file into a ``Graph``.

    ``input_shapes`` (``--input-shape``) fixes dynamic input dimensions, in the model's own layout.
    """
    path = str(path)
    label = os.path.basename(path)
    if not os.path.isfile(path):
        raise ModelError(f"model file {path!r} not found: check the path")
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ModelError(f"{label} is empty: re-export the model")
    if _is_tflite(path, head):
        if head[4:8] != TFLITE_IDENTIFIER:
            raise ModelError(f"{label} is not a valid TFLite model (no TFL3 flatbuffer identifier): re-export it")
        from edgec.frontends.tflite import load_tflite

        return load_tflite(path, input_shapes)
    from edgec.frontends.onnx import load_onnx, read_onnx

    return load_onnx(read_onnx(path, kind="ONNX or TFLite"), input_shapes)


__all__ = ["load_model"]
