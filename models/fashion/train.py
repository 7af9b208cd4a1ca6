"""Train the two Fashion-MNIST models and write the committed models and data.

Run in the fixture-making environment (``scripts/fixture-env.sh``; torch is
never a dependency of edgec or of its tests), from the repository root::

    nice .fixture-venv/bin/python -m models.fashion.train

Data: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``,
60k training and 10k test images, 28x28 grey, 10 classes).  Seeded subsets:

* training: ``TRAIN_SAMPLES`` images drawn from the 60k training images;
* ``calib.npz``: ``CALIB_SAMPLES`` other training images (``x`` uint8 [N,28,28]),
  the calibration data for ``edgec build --calib``;
* ``heldout.npz``: ``HELDOUT_SAMPLES`` images of the 10k test set (``x`` uint8
  [N,28,28], ``y`` int64), never seen in training; accuracies are measured on it.

Inputs are pixel / 255 as float32 NCHW; the 112x112 model sees each pixel
repeated 4x4 (nearest-neighbour upsampling, ``models/fashion/data.py``).

Models (exported with ``torch.onnx.export(..., dynamo=False,
dynamic_axes={"input": {0: "batch"}})``: one self-contained .onnx file, batch
normalisation folded into the convolutions by the exporter):

* ``fashion_cnn.onnx`` (28x28): conv 3x3 1->16 + ReLU, max pool 2, conv 3x3
  16->32 + ReLU, max pool 2, flatten, dense 1568->64 + ReLU, dense 64->10.
* ``fashion_mbv2.onnx`` (112x112): a MobileNetV2-style network.  Stem conv 3x3
  stride 2 (1->16) to 56x56, then inverted residual blocks (expand 1x1 +
  ReLU6, depthwise 3x3 + ReLU6, linear project 1x1, residual add when shape
  is kept) with (expansion, channels, stride): (1,16,1) (4,24,2) (4,24,1)
  (4,32,2) (4,32,1) (4,64,2), a 1x1 conv to 128 + ReLU6, global average pool,
  dense 128->10.  The 56x56 feature maps are wide (the expand of the second
  block writes 56x56x64 int8 = 196 KiB next to its 49 KiB input): layer-by-layer
  execution needs ~250 KiB of SRAM, so patch-based inference pays off there.

Both use Adam with a cosine learning-rate decay, seeded (torch and numpy),
single-threaded, so a rerun reproduces the same weights on the same machine.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.fashion.data import to_input

HERE = Path(__file__).resolve().parent
DATASET = Path("/usr/share/datasets/fashion-mnist")
SEED = 2026
TRAIN_SAMPLES = 12000
CALIB_SAMPLES = 200
HELDOUT_SAMPLES = 2000
BATCH = 64
SETTINGS = {  # model -> (input size, training images, epochs, learning rate)
    "fashion_cnn": (28, 12000, 10, 2e-3),
    "fashion_mbv2": (112, 6000, 4, 3e-3),
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip) as a numpy array: images uint8 [N,28,28] or labels uint8 [N]."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_dataset() -> dict[str, np.ndarray]:
    return {
        "train_x": read_idx(DATASET / "train-images-idx3-ubyte.gz"),
        "train_y": read_idx(DATASET / "train-labels-idx1-ubyte.gz").astype(np.int64),
        "test_x": read_idx(DATASET / "t10k-images-idx3-ubyte.gz"),
        "test_y": read_idx(DATASET / "t10k-labels-idx1-ubyte.gz").astype(np.int64),
    }


class FashionCnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        layers = [] if expansion == 1 else [conv_bn(cin, hidden, 1)]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden), conv_bn(hidden, cout, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class FashionMbv2(nn.Module):
    BLOCKS = ((1, 16, 1), (4, 24, 2), (4, 24, 1), (4, 32, 2), (4, 32, 1), (4, 64, 2))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(1, 16, 3, stride=2)]
        cin = 16
        for expansion, cout, stride in self.BLOCKS:
            layers.append(InvertedResidual(cin, cout, expansion, stride))
            cin = cout
        layers.append(conv_bn(cin, 128, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


MODELS = {"fashion_cnn": FashionCnn, "fashion_mbv2": FashionMbv2}


def train(name: str, images: np.ndarray, labels: np.ndarray) -> nn.Module:
    size, count, epochs, lr = SETTINGS[name]
    torch.manual_seed(SEED)
    model = MODELS[name]()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((count + BATCH - 1) // BATCH)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    rng = np.random.default_rng(SEED)
    x_all = torch.from_numpy(to_input(images[:count], size))
    y_all = torch.from_numpy(labels[:count])
    model.train()
    for epoch in range(epochs):
        start, losses, correct = time.time(), [], 0
        order = torch.from_numpy(rng.permutation(count))
        for i in range(0, count, BATCH):
            batch = order[i : i + BATCH]
            logits = model(x_all[batch])
            loss = nn.functional.cross_entropy(logits, y_all[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            correct += int((logits.argmax(1) == y_all[batch]).sum())
        print(f"{name} epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}, "
              f"train top-1 {correct / count:.4f}, {time.time() - start:.0f} s", flush=True)  # fmt: skip
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    predictions = np.concatenate([model(torch.from_numpy(x[i : i + 250])).argmax(1).numpy() for i in range(0, len(x), 250)])
    return float(np.mean(predictions == y))


def export(model: nn.Module, size: int, path: Path) -> None:
    example = torch.zeros(1, 1, size, size)
    torch.onnx.export(
        model, (example,), str(path), dynamo=False, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where to write the models and data files")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset()
    rng = np.random.default_rng(SEED)
    train_order = rng.permutation(len(data["train_x"]))
    train_index, calib_index = train_order[:TRAIN_SAMPLES], np.sort(train_order[TRAIN_SAMPLES : TRAIN_SAMPLES + CALIB_SAMPLES])
    held_index = np.sort(rng.permutation(len(data["test_x"]))[:HELDOUT_SAMPLES])
    held_x, held_y = data["test_x"][held_index], data["test_y"][held_index]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out_dir / "calib.npz", x=data["train_x"][calib_index])
    np.savez_compressed(args.out_dir / "heldout.npz", x=held_x, y=held_y)
    for name in args.models:
        size = SETTINGS[name][0]
        start = time.time()
        model = train(name, data["train_x"][train_index], data["train_y"][train_index])
        top1 = accuracy(model, to_input(held_x, size), held_y)
        print(f"{name}: held-out float top-1 {top1:.4f} on {len(held_y)} images, trained in {time.time() - start:.0f} s")
        export(model, size, args.out_dir / f"{name}.onnx")


if __name__ == "__main__":
    main()
