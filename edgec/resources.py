"""Where edgec finds the files it ships: the C runtime and the target descriptions.

Both live inside the ``edgec`` package (``edgec/runtime/``, ``edgec/targets/*.toml``)
so that a wheel installed with pip carries them; they are located through
``importlib.resources`` rather than relative to a source checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_path(*parts: str) -> Path:
    """A file or folder shipped inside the ``edgec`` package, as a filesystem path."""
    root = resources.files("edgec")
    return Path(str(root.joinpath(*parts)))


RUNTIME_DIR = package_path("runtime")
TARGETS_DIR = package_path("targets")
