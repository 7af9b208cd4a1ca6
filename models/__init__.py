"""The bundled reference models: seeded float ONNX builders and one trained model.

``from models import build, onnx_path, list_models, MODELS`` -- see :mod:`models.zoo`.
The names are loaded lazily so that ``python -m models.zoo`` does not import the zoo twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELS", "build", "list_models", "onnx_path"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from models import zoo

        return getattr(zoo, name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
