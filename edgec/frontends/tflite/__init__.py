"""The TFLite frontend: ``load_tflite(path) -> Graph`` for int8 and float models as the TFLite converter writes them."""

from __future__ import annotations

from pathlib import Path

from edgec.errors import EdgecError, ModelError, UnsupportedError
from edgec.frontends.input_shapes import InputShapes
from edgec.frontends.tflite.reader import read_model
from edgec.frontends.tflite.translate import Translator
from edgec.ir.graph import Graph

__all__ = ["load_tflite"]


def load_tflite(path: str | Path, input_shapes: InputShapes | None = None) -> Graph:
    """Translate the TFLite flatbuffer at ``path`` into an NHWC edgec graph.

    ``input_shapes`` fixes inputs' dynamic dimensions (``--input-shape``); a
    dynamic batch is built for 1.

    Raises ``ModelError`` when the file cannot be read or decoded and
    ``UnsupportedError`` listing every unsupported op, type or shape at once.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read TFLite model {str(path)!r}: {e.strerror or e}; check the path") from e
    try:
        model = read_model(raw)
        translator = Translator(model, name=path.stem, input_shapes=input_shapes)
        graph = translator.run()
    except EdgecError:
        raise
    except Exception as e:  # any decoding failure means malformed bytes
        raise ModelError(
            f"{path.name} is not a valid TFLite flatbuffer ({type(e).__name__}: {e}); re-export it with the TFLite converter"
        ) from e
    if translator.problems:
        raise UnsupportedError(translator.problems, source=path.name)
    graph.meta["source"] = {"format": "tflite", "path": str(path)}
    return graph
