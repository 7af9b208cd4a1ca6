"""The numpy reference interpreter (float = ONNX semantics, int8 = TFLite reference kernels)."""

from edgec.reference.interpreter import run

__all__ = ["run"]
