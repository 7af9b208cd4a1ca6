"""Train the small digits CNN with plain numpy and write the committed model and data.

Data: scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), pixel
values 0..16 scaled to [0, 1].  A stratified, seeded split keeps 25% as the
held-out set that the accuracy is measured on.

Network (NCHW): conv 3x3 1->16 + ReLU, conv 3x3 16->32 + ReLU (both padded to
keep 8x8), max pool 2x2 -> 32x4x4, flatten, dense 512->64 + ReLU, dense 64->10
(logits).  Trained with minibatch SGD + momentum on softmax cross-entropy,
seeded, so a rerun reproduces the same weights (up to BLAS summation order).

Run from the repository root:  python -m models.digits.train
Writes digits_cnn.onnx, heldout.npz (x float32 [N,1,8,8], y int64) and
calib.npz (x: 100 training images) next to this file.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from models.onnx_builder import OnnxBuilder

HERE = Path(__file__).resolve().parent
SEED = 0
HELDOUT_FRACTION = 0.25
CALIB_SAMPLES = 100
EPOCHS = 15
BATCH = 32
LEARNING_RATE = 0.03
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images as float32 [N,1,8,8] in [0,1] and int64 labels: (x_train, y_train, x_heldout, y_heldout)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_held, y_train, y_held = train_test_split(x, y, test_size=HELDOUT_FRACTION, stratify=y, random_state=SEED)
    return x_train, y_train, x_held, y_held


# -- layers (forward returns a cache for backward) -------------------------------


def im2col_3x3(x: np.ndarray) -> np.ndarray:
    """[N,C,H,W] -> [N, H*W, C*9] patches of a 3x3, stride-1, pad-1 convolution."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(padded, (3, 3), axis=(2, 3))  # [N,C,H,W,3,3]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, h * w, c * 9)


def col2im_3x3(cols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Adjoint of :func:`im2col_3x3`: scatter-add patch gradients back to [N,C,H,W]."""
    n, c, h, w = shape
    patches = cols.reshape(n, h, w, c, 3, 3)
    padded = np.zeros((n, c, h + 2, w + 2))
    for dy in range(3):
        for dx in range(3):
            padded[:, :, dy : dy + h, dx : dx + w] += patches[:, :, :, :, dy, dx].transpose(0, 3, 1, 2)
    return padded[:, :, 1:-1, 1:-1]


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, _, h, w = x.shape
    cols = im2col_3x3(x)
    y = cols @ weight.reshape(weight.shape[0], -1).T + bias
    return y.transpose(0, 2, 1).reshape(n, -1, h, w), cols


def conv_backward(
    dy: np.ndarray, cols: np.ndarray, weight: np.ndarray, x_shape: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, co, h, w = dy.shape
    dy_rows = dy.reshape(n, co, h * w).transpose(0, 2, 1)  # [N, HW, Co]
    dweight = np.einsum("npo,npk->ok", dy_rows, cols).reshape(weight.shape)
    dbias = dy_rows.sum(axis=(0, 1))
    dx = col2im_3x3(dy_rows @ weight.reshape(co, -1), x_shape)
    return dx, dweight, dbias


def maxpool_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    winner = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, winner[..., None], axis=-1)[..., 0], winner


def maxpool_backward(dy: np.ndarray, winner: np.ndarray) -> np.ndarray:
    n, c, oh, ow = dy.shape
    blocks = np.zeros((n, c, oh, ow, 4))
    np.put_along_axis(blocks, winner[..., None], dy[..., None], axis=-1)
    return blocks.reshape(n, c, oh, ow, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * 2, ow * 2)


# -- the network -------------------------------------------------------------------


@dataclass
class DigitsCnn:
    conv1_w: np.ndarray
    conv1_b: np.ndarray
    conv2_w: np.ndarray
    conv2_b: np.ndarray
    fc1_w: np.ndarray
    fc1_b: np.ndarray
    fc2_w: np.ndarray
    fc2_b: np.ndarray

    @classmethod
    def initial(cls, rng: np.random.Generator) -> DigitsCnn:
        def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
            return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)

        return cls(
            he((16, 1, 3, 3), 9), np.zeros(16),
            he((32, 16, 3, 3), 144), np.zeros(32),
            he((64, 512), 512), np.zeros(64),
            he((10, 64), 64) / np.sqrt(2.0), np.zeros(10),
        )  # fmt: skip

    def names(self) -> list[str]:
        return list(self.__dataclass_fields__)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        a1, cols1 = conv_forward(x, self.conv1_w, self.conv1_b)
        r1 = np.maximum(a1, 0.0)
        a2, cols2 = conv_forward(r1, self.conv2_w, self.conv2_b)
        r2 = np.maximum(a2, 0.0)
        pooled, winner = maxpool_forward(r2)
        flat = pooled.reshape(len(x), -1)  # channel-major, as ONNX Flatten of NCHW
        a3 = flat @ self.fc1_w.T + self.fc1_b
        r3 = np.maximum(a3, 0.0)
        logits = r3 @ self.fc2_w.T + self.fc2_b
        cache = {"x": x, "cols1": cols1, "a1": a1, "r1": r1, "cols2": cols2, "a2": a2, "winner": winner}
        cache |= {"flat": flat, "a3": a3, "r3": r3}
        return logits, cache

    def gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean softmax cross-entropy over the batch and its gradient for every parameter."""
        logits, c = self.forward(x)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = float(-np.mean(np.log(probs[np.arange(len(y)), y] + 1e-12)))
        dlogits = probs
        dlogits[np.arange(len(y)), y] -= 1.0
        dlogits /= len(y)
        g: dict[str, np.ndarray] = {"fc2_w": dlogits.T @ c["r3"], "fc2_b": dlogits.sum(axis=0)}
        da3 = (dlogits @ self.fc2_w) * (c["a3"] > 0)
        g["fc1_w"], g["fc1_b"] = da3.T @ c["flat"], da3.sum(axis=0)
        dpooled = (da3 @ self.fc1_w).reshape(len(x), 32, 4, 4)
        da2 = maxpool_backward(dpooled, c["winner"]) * (c["a2"] > 0)
        dr1, g["conv2_w"], g["conv2_b"] = conv_backward(da2, c["cols2"], self.conv2_w, c["r1"].shape)
        da1 = dr1 * (c["a1"] > 0)
        _, g["conv1_w"], g["conv1_b"] = conv_backward(da1, c["cols1"], self.conv1_w, c["x"].shape)
        return loss, g


def train(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, log: bool = True) -> DigitsCnn:
    model = DigitsCnn.initial(rng)
    velocity = {name: np.zeros_like(getattr(model, name)) for name in model.names()}
    x64 = x.astype(np.float64)
    for epoch in range(EPOCHS):
        lr = LEARNING_RATE * 0.5 * (1.0 + np.cos(np.pi * epoch / EPOCHS))  # cosine decay
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            loss, grads = model.gradients(x64[batch], y[batch])
            losses.append(loss)
            for name, grad in grads.items():
                param = getattr(model, name)
                velocity[name] = MOMENTUM * velocity[name] - lr * (grad + WEIGHT_DECAY * param)
                setattr(model, name, param + velocity[name])
        if log and (epoch % 5 == 4 or epoch == EPOCHS - 1):
            print(f"epoch {epoch + 1:3d}  lr {lr:.4f}  loss {np.mean(losses):.4f}")
    return model


def accuracy(model: DigitsCnn, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.logits(x.astype(np.float64)).argmax(axis=1) == y))


def to_onnx(model: DigitsCnn) -> onnx.ModelProto:
    b = OnnxBuilder("digits_cnn", (1, 1, 8, 8), seed=SEED, input_mean=0.3, input_var=0.15)
    x = b.relu(b.conv(b.input_name, 16, 3, weight=model.conv1_w, bias_value=model.conv1_b))
    x = b.relu(b.conv(x, 32, 3, weight=model.conv2_w, bias_value=model.conv2_b))
    x = b.flatten(b.max_pool(x, kernel=2, stride=2))
    x = b.relu(b.gemm(x, 64, weight=model.fc1_w, bias_value=model.fc1_b))
    logits = b.gemm(x, 10, weight=model.fc2_w, bias_value=model.fc2_b)
    return b.build(logits, doc="CNN trained on scikit-learn digits (8x8, inputs in [0,1]); output logits [1,10]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where to write the model and data files")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    x_train, y_train, x_held, y_held = load_split()
    model = train(x_train, y_train, rng)
    print(f"train accuracy {accuracy(model, x_train, y_train):.4f}")
    print(f"held-out accuracy {accuracy(model, x_held, y_held):.4f} on {len(y_held)} images")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(to_onnx(model), args.out_dir / "digits_cnn.onnx")
    np.savez(args.out_dir / "heldout.npz", x=x_held.astype(np.float32), y=y_held.astype(np.int64))
    calib_index = rng.choice(len(x_train), CALIB_SAMPLES, replace=False)
    np.savez(args.out_dir / "calib.npz", x=x_train[np.sort(calib_index)].astype(np.float32))


if __name__ == "__main__":
    main()
