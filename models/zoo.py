"""Registry of the bundled float ONNX models and on-demand building of their files.

Generated models are built from seeded builder scripts into
``models/build/<name>.onnx`` (git-ignored) the first time they are asked for,
and rebuilt when any builder script changes.  The trained model is a
committed file and is returned as is.

Command line:  python -m models.zoo NAME -o FILE   (or --list)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx

from models import ds_cnn, mcunet, mobilenet_v1, mobilenet_v2, onnx_builder, resnet8
from models.ds_cnn import build_ds_cnn
from models.mcunet import build_mcunet
from models.mobilenet_v1 import build_mobilenet_v1
from models.mobilenet_v2 import build_mobilenet_v2
from models.resnet8 import build_resnet8

MODELS_DIR = Path(__file__).resolve().parent
BUILD_DIR = MODELS_DIR / "build"
DIGITS_DIR = MODELS_DIR / "digits"


@dataclass(frozen=True)
class ModelEntry:
    """One bundled model: how to build it (or where its committed file lives) and what it is."""

    description: str
    builder: Callable[[], onnx.ModelProto] | None = None
    committed_file: Path | None = None


MODELS: dict[str, ModelEntry] = {
    "mobilenet_v2_w1.0_r224": ModelEntry(
        "MobileNetV2 width 1.0, 224x224, 1000 classes (logits)", lambda: build_mobilenet_v2(1.0, 224)
    ),
    "mobilenet_v2_w0.35_r144": ModelEntry(
        "MobileNetV2 width 0.35, 144x144, 1000 classes (logits)", lambda: build_mobilenet_v2(0.35, 144)
    ),
    "mcunet": ModelEntry("MCUNet-style inverted residual net, 160x160, 1000 classes (logits)", build_mcunet),
    "ds_cnn": ModelEntry("DS-CNN-S keyword spotting, 1x1x49x10 MFCC, 12 classes (softmax)", build_ds_cnn),
    "resnet8": ModelEntry("ResNet-8 (MLPerf Tiny), 32x32, 10 classes (softmax)", build_resnet8),
    "mobilenet_v1_w0.25_r96": ModelEntry(
        "MobileNetV1 width 0.25, 96x96, visual wake words, 2 classes (softmax)", lambda: build_mobilenet_v1(0.25, 96, 2)
    ),
    "digits_cnn": ModelEntry(
        "CNN trained on scikit-learn digits, 1x1x8x8 in [0,1], 10 classes (logits)",
        committed_file=DIGITS_DIR / "digits_cnn.onnx",
    ),
}


def list_models() -> list[str]:
    return list(MODELS)


def _entry(name: str) -> ModelEntry:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None


def build(name: str) -> onnx.ModelProto:
    """The model as an in-memory ModelProto (built from its script, or loaded from its committed file)."""
    entry = _entry(name)
    if entry.committed_file is not None:
        return onnx.load(entry.committed_file)
    assert entry.builder is not None
    return entry.builder()


def builder_fingerprint() -> str:
    """Hash of the builder sources: a change to any of them invalidates the built files."""
    digest = hashlib.sha256()
    modules = (onnx_builder, mobilenet_v2, mobilenet_v1, mcunet, ds_cnn, resnet8, sys.modules[__name__])
    for source in sorted(Path(m.__file__) for m in modules if m.__file__):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def onnx_path(name: str) -> Path:
    """Path of the model's ONNX file, building ``models/build/<name>.onnx`` first if missing or stale."""
    entry = _entry(name)
    if entry.committed_file is not None:
        return entry.committed_file
    path = BUILD_DIR / f"{name}.onnx"
    stamp = path.with_name(path.name + ".stamp")
    fingerprint = builder_fingerprint()
    if path.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return path
    write_atomically(path, build(name).SerializeToString())
    write_atomically(stamp, fingerprint.encode())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.zoo", description="Write a bundled ONNX model to a file.")
    parser.add_argument("name", nargs="?", help="model name (see --list)")
    parser.add_argument("-o", "--output", type=Path, help="output .onnx file (default: models/build/NAME.onnx)")
    parser.add_argument("--list", action="store_true", help="list the bundled models and exit")
    args = parser.parse_args(argv)
    if args.list or args.name is None:
        for name, entry in MODELS.items():
            print(f"{name:26s} {entry.description}")
        return 0
    if args.name not in MODELS:
        print(f"error: unknown model {args.name!r}; run with --list to see the bundled models", file=sys.stderr)
        return 2
    if args.output is None:
        print(onnx_path(args.name))
        return 0
    write_atomically(args.output, build(args.name).SerializeToString())
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
