"""Load the committed Fashion-MNIST subsets as model inputs (numpy only).

The ``.npz`` files next to this module hold 28x28 ``uint8`` images (``x``,
[N,28,28]) and, for the held-out set, ``int64`` labels (``y``).  A model
input is the image scaled to [0, 1] as ``float32`` NCHW [N,1,S,S]; for the
112x112 model (``size=112``) each pixel is repeated 4x4 (nearest-neighbour
upsampling), exactly as in training (``models/fashion/train.py``).

    from models.fashion.data import load
    x, y = load("heldout", size=112)      # x float32 [N,1,112,112], y int64 [N]
    x, _ = load("calib", size=28)         # calibration inputs, no labels

As a command, it writes an .npz that `edgec build --calib` (``calib``: ``x``
only) or `edgec validate --data` (``heldout``: ``x`` and ``y``) reads::

    python -m models.fashion.data calib --size 112 -o calib112.npz
    python -m models.fashion.data heldout --size 112 --limit 500 -o heldout112.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SIZES = (28, 112)


def to_input(images: np.ndarray, size: int = 28) -> np.ndarray:
    """uint8 [N,28,28] -> float32 [N,1,size,size] in [0,1]; size 112 repeats each pixel 4x4."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size}")
    x = images.astype(np.float32)[:, None, :, :] / 255.0
    factor = size // 28
    if factor > 1:
        x = x.repeat(factor, axis=2).repeat(factor, axis=3)
    return np.ascontiguousarray(x)


def load(split: str, size: int = 28, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The committed ``split`` ("heldout" or "calib") as (inputs, labels or None), first ``limit`` samples."""
    with np.load(HERE / f"{split}.npz") as data:
        images = data["x"][:limit]
        labels = data["y"][:limit] if "y" in data else None
    return to_input(images, size), labels


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a committed Fashion-MNIST subset as model inputs (.npz).")
    parser.add_argument("split", choices=["heldout", "calib"])
    parser.add_argument("--size", type=int, default=28, choices=SIZES, help="input size: 28 (fashion_cnn) or 112 (fashion_mbv2)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N samples")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the .npz to write")
    args = parser.parse_args()
    x, y = load(args.split, args.size, args.limit)
    arrays = {"x": x} if y is None else {"x": x, "y": y}
    np.savez(args.out, **arrays)
    print(f"wrote {args.out}: x {x.dtype}{list(x.shape)}" + ("" if y is None else f", y {y.dtype}{list(y.shape)}"))


if __name__ == "__main__":
    main()
