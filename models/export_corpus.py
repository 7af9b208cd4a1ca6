"""Build the conformance corpus in ``models/corpus/``: small models made the way users make them.

Run in the fixture-making environment (``scripts/fixture-env.sh``), never from
edgec or its tests::

    .fixture-venv/bin/python models/export_corpus.py

Every model is trained for a few epochs on seeded synthetic data (so weights
and activations have the distributions of a trained network, not of a random
initialisation), then exported with the real exporters and their DEFAULTS:

* Keras 3 (TensorFlow 2.21) -> TFLite with ``tf.lite.TFLiteConverter.from_keras_model``.
  Inputs are ``keras.Input(shape=...)`` -- no fixed batch, so the flatbuffer
  has ``shape_signature[0] == -1``.  Variants: ``int8`` (full-integer, int8
  input and output), ``int8fio`` (int8 inside, the converter's default float
  input/output), ``float32`` (no optimisation), ``float16`` (float16 weights).
* PyTorch 2.13 -> ONNX with ``torch.onnx.export(..., dynamic_axes={"input": {0: "batch"}})``:
  once with the default exporter (``dynamo``, which in torch 2.13 is the
  torch.export-based one; it writes its weights to ``FILE.onnx.data`` next to
  the model, as users get them) and once with ``dynamo=False`` (the TorchScript
  exporter, which writes ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``
  for ``x.view(x.size(0), -1)``).  The default export is also quantized with
  ``onnxruntime.quantization.quantize_static`` (its defaults: QDQ format,
  int8 activations and weights, MinMax calibration) into ``*_qdq.onnx``.

Every float model gets seeded calibration data ``NAME.calib.npz`` (one array
per input, samples along axis 0, in the model's own layout: NHWC for TFLite,
NCHW for ONNX) as ``edgec build --calib`` reads it.  ``manifest.json`` records
every model's exact export settings, input, calibration file and features;
``README.md`` is the table of it.  Inputs of every model are standard normal
(``input_distribution`` in the manifest): training data, calibration data and
the representative dataset all draw from it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "corpus"
SEED = 2026
TRAIN_SAMPLES = 1024
EPOCHS = 4
CALIB_BYTES = 100_000  # calibration .npz per float model: as many samples as fit, within [8, 64]
REPRESENTATIVE_SAMPLES = 32  # the TFLite converter's representative dataset
INPUT_DISTRIBUTION = {"kind": "normal", "mean": 0.0, "std": 1.0}


def rng_for(name: str, purpose: str) -> np.random.Generator:
    """A generator seeded from the corpus seed, the model and the purpose (training, calibration...)."""
    import zlib

    return np.random.default_rng([SEED, zlib.crc32(f"{name}/{purpose}".encode())])


def samples(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    return rng.standard_normal((n, *shape)).astype(np.float32)


def calibration_count(shape: tuple[int, ...]) -> int:
    """Calibration samples for one float32 input of ``shape``: about CALIB_BYTES, at least 8, at most 64.

    Eight samples of a standard normal under-estimate the activation ranges of some models
    (min/max observers); more keep the committed files small enough.
    """
    return int(np.clip(CALIB_BYTES // (4 * int(np.prod(shape))), 8, 64))


# -- synthetic tasks ----------------------------------------------------------------------------------
# Classifiers learn the arg-max of a fixed random projection of block-pooled inputs; image-to-image
# models learn a fixed smooth function of the input.  Both depend on every input element.


def classification_targets(x: np.ndarray, classes: int, rng: np.random.Generator) -> np.ndarray:
    """One-hot labels: arg-max of a random linear map of the input's quadrant means (x is N,H,W,C)."""
    h, w = x.shape[1:3]
    quadrants = [x[:, i * h // 2 : (i + 1) * h // 2, j * w // 2 : (j + 1) * w // 2] for i in (0, 1) for j in (0, 1)]
    pooled = np.concatenate([q.mean(axis=(1, 2)) for q in quadrants], axis=1) * np.sqrt(h * w / 4)
    teacher = rng.standard_normal((pooled.shape[1], classes)).astype(np.float32)
    labels = np.argmax(pooled @ teacher, axis=1)
    return np.eye(classes, dtype=np.float32)[labels]


def smooth_targets(x: np.ndarray, channels: int, rng: np.random.Generator) -> np.ndarray:
    """tanh of a random channel mix of the input blurred over 3x3 (x is N,H,W,C; output N,H,W,channels)."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = x.shape[1:3]
    blurred = sum(padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0
    mix = rng.standard_normal((x.shape[3], channels)).astype(np.float32)
    return np.tanh(blurred @ mix).astype(np.float32)


# -- Keras architectures --------------------------------------------------------------------------------


def keras_dscnn():
    """DS-CNN for keyword spotting (MLPerf Tiny style, 49x10 MFCC input): conv, 3 depthwise-separable blocks."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape=(49, 10, 1))
    x = layers.Conv2D(24, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(3):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(24, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.AveragePooling2D(pool_size=(25, 5))(x)
    x = layers.Flatten()(x)
    out = layers.Dense(12, activation="softmax")(x)
    return keras.Model(inp, out, name="dscnn")


def keras_mobilenet():
    """MobileNetV2-style: inverted residual blocks (1x1 expand, depthwise, 1x1 project), ReLU6, residual adds."""
    import keras
    from keras import layers

    def block(x, expand: int, out_ch: int, stride: int):
        c = x.shape[-1]
        y = layers.Conv2D(c * expand, 1, use_bias=False)(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(6.0)(y)
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(6.0)(y)
        y = layers.Conv2D(out_ch, 1, use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        return layers.Add()([x, y]) if stride == 1 and c == out_ch else y

    x = inp = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = block(x, 1, 8, 1)
    x = block(x, 4, 12, 2)
    x = block(x, 4, 12, 1)
    x = block(x, 4, 16, 2)
    x = block(x, 4, 16, 1)
    x = layers.Conv2D(64, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(10)(x)
    return keras.Model(inp, out, name="mobilenet")


def keras_autoencoder():
    """Dense autoencoder over an 8x8 patch (anomaly-detection style): Flatten, Dense bottleneck, Reshape."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape=(8, 8, 1))
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dense(64)(x)
    out = layers.Reshape((8, 8, 1))(x)
    return keras.Model(inp, out, name="autoencoder")


def keras_dilated():
    """Dilated convolutions (dilation_rate=2) and a GlobalMaxPool2D head."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape=(24, 24, 3))
    x = layers.Conv2D(12, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(16, 3, dilation_rate=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(16, 3, dilation_rate=2, padding="valid", activation="relu")(x)
    x = layers.GlobalMaxPool2D()(x)
    out = layers.Dense(6)(x)
    return keras.Model(inp, out, name="dilated")


def keras_split_prelu():
    """Channel split (keras.ops.split) into two conv branches, PReLU, Concatenate."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape=(16, 16, 4))
    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.PReLU(shared_axes=[1, 2])(x)
    a, b = keras.ops.split(x, 2, axis=-1)
    a = layers.Conv2D(8, 3, padding="same", activation="relu")(a)
    b = layers.DepthwiseConv2D(3, padding="same")(b)
    b = layers.PReLU(shared_axes=[1, 2])(b)
    x = layers.Concatenate()([a, b])
    x = layers.Conv2D(16, 1, strides=2)(x)
    x = layers.PReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(5)(x)
    return keras.Model(inp, out, name="split_prelu")


def keras_decoder():
    """Encoder-decoder (segmentation style): strided conv, Conv2DTranspose, UpSampling2D bilinear, skip concat."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape=(16, 16, 3))
    skip = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(skip)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(12, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.UpSampling2D(interpolation="bilinear")(x)
    x = layers.Concatenate()([x, skip])
    out = layers.Conv2D(2, 3, padding="same")(x)
    return keras.Model(inp, out, name="decoder")


@dataclass
class KerasArch:
    name: str
    build: Callable
    task: str  # "classify" | "regress"
    outputs: int  # classes, or output channels of an image-to-image model
    features: list[str]
    variants: list[str]  # of "int8", "int8fio", "float32", "float16"


KERAS_ARCHS = [
    KerasArch(
        "dscnn",
        keras_dscnn,
        "classify",
        12,
        ["DS-CNN (keyword spotting, 49x10x1)", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "AveragePooling2D",
         "Flatten", "Dense", "softmax"],
        ["int8", "int8fio", "float32", "float16"],
    ),
    KerasArch(
        "mobilenet",
        keras_mobilenet,
        "classify",
        10,
        ["MobileNetV2-style inverted residuals", "DepthwiseConv2D", "ReLU6", "residual Add", "GlobalAveragePooling2D"],
        ["int8", "float32"],
    ),
    KerasArch(
        "autoencoder",
        keras_autoencoder,
        "autoencode",
        1,
        ["dense autoencoder", "Flatten", "Dense", "Reshape"],
        ["int8fio", "float32"],
    ),
    KerasArch(
        "dilated",
        keras_dilated,
        "classify",
        6,
        ["Conv2D(dilation_rate=2)", "GlobalMaxPool2D", "Dense"],
        ["int8", "float16"],
    ),
    KerasArch(
        "split_prelu",
        keras_split_prelu,
        "classify",
        5,
        ["keras.ops.split (channel split)", "Concatenate", "PReLU (shared and per-element alpha)", "DepthwiseConv2D"],
        ["int8", "float32"],
    ),
    KerasArch(
        "decoder",
        keras_decoder,
        "regress",
        2,
        ["Conv2DTranspose", "UpSampling2D(interpolation='bilinear')", "Concatenate (skip connection)",
         "strided Conv2D"],
        ["int8", "float32"],
    ),
]


def keras_training_data(arch: KerasArch, model, name: str) -> tuple[np.ndarray, np.ndarray]:
    shape = tuple(model.input.shape[1:])
    rng = rng_for(name, "train")
    x = samples(rng, shape, TRAIN_SAMPLES)
    if arch.task == "classify":
        y = classification_targets(x, arch.outputs, rng)
    elif arch.task == "autoencode":
        y = np.tanh(x)
    else:
        y = smooth_targets(x, arch.outputs, rng)
    return x, y


def train_keras(arch: KerasArch):
    import keras

    keras.utils.set_random_seed(SEED)
    model = arch.build()
    x, y = keras_training_data(arch, model, arch.name)
    if arch.task == "classify":
        from_logits = model.layers[-1].get_config().get("activation") != "softmax"
        loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    else:
        loss = "mse"
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    hist = model.fit(x, y, batch_size=32, epochs=EPOCHS, shuffle=True, verbose=0)
    return model, [float(v) for v in hist.history["loss"]]


KERAS_VARIANT_SETTINGS = {
    "int8": {
        "optimizations": ["tf.lite.Optimize.DEFAULT"],
        "representative_dataset": f"{REPRESENTATIVE_SAMPLES} seeded standard-normal samples",
        "target_spec.supported_ops": ["tf.lite.OpsSet.TFLITE_BUILTINS_INT8"],
        "inference_input_type": "tf.int8",
        "inference_output_type": "tf.int8",
    },
    "int8fio": {
        "optimizations": ["tf.lite.Optimize.DEFAULT"],
        "representative_dataset": f"{REPRESENTATIVE_SAMPLES} seeded standard-normal samples",
    },
    "float32": {},
    "float16": {
        "optimizations": ["tf.lite.Optimize.DEFAULT"],
        "target_spec.supported_types": ["tf.float16"],
    },
}

KERAS_VARIANT_DTYPE = {"int8": "int8", "int8fio": "int8 (float I/O)", "float32": "float32", "float16": "float16 weights"}


def convert_keras(model, variant: str, name: str) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    quiet = contextlib.redirect_stdout(io.StringIO())  # the converter prints the exported signature
    if variant in ("int8", "int8fio"):
        shape = tuple(model.input.shape[1:])
        data = samples(rng_for(name, "representative"), shape, REPRESENTATIVE_SAMPLES)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([d[None]] for d in data)
        if variant == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    elif variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    with quiet:
        return converter.convert()


def tflite_io(path: Path) -> tuple[dict, dict, list[str]]:
    """Input and output details (name, shape signature, dtype) and the distinct builtin ops of a flatbuffer."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    (inp,) = interpreter.get_input_details()
    (out,) = interpreter.get_output_details()
    ops = sorted({op["op_name"] for op in interpreter._get_ops_details()})

    def describe(d: dict) -> dict:
        return {"name": d["name"], "shape": [int(v) for v in d["shape_signature"]], "dtype": np.dtype(d["dtype"]).name}

    return describe(inp), describe(out), ops


def export_keras(entries: list[dict]) -> None:
    import keras
    import tensorflow as tf

    for arch in KERAS_ARCHS:
        model, losses = train_keras(arch)
        for variant in arch.variants:
            name = f"keras_{arch.name}_{variant}"
            path = OUT_DIR / f"{name}.tflite"
            path.write_bytes(convert_keras(model, variant, name))
            inp, out, ops = tflite_io(path)
            calib, n_calib = None, 0
            if variant in ("float32", "float16"):
                calib = f"{name}.calib.npz"
                shape = tuple(inp["shape"][1:])
                n_calib = calibration_count(shape)
                np.savez_compressed(OUT_DIR / calib, **{inp["name"]: samples(rng_for(name, "calib"), shape, n_calib)})
            entries.append(
                {
                    "name": name,
                    "file": path.name,
                    "format": "tflite",
                    "dtype": KERAS_VARIANT_DTYPE[variant],
                    "exporter": "tf.lite.TFLiteConverter.from_keras_model",
                    "exporter_version": f"tensorflow {tf.__version__}, keras {keras.__version__}",
                    "settings": KERAS_VARIANT_SETTINGS[variant],
                    "architecture": arch.name,
                    "features": arch.features,
                    "input": {**inp, "layout": "NHWC"},
                    "output": out,
                    "calib": calib,
                    "calib_samples": n_calib,
                    "input_distribution": INPUT_DISTRIBUTION,
                    "training": {"samples": TRAIN_SAMPLES, "epochs": EPOCHS, "loss": [round(v, 4) for v in losses]},
                    "ops": ops,
                }
            )
            print(f"  {name}: {path.stat().st_size} bytes, ops {ops}", flush=True)


# -- PyTorch architectures ------------------------------------------------------------------------------


def torch_archs():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class CnnView(nn.Module):
        """Conv/pool feature extractor, ``x.view(x.size(0), -1)``, two Linear layers."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc1 = nn.Linear(16 * 4 * 4, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(x.size(0), -1)
            return self.fc2(F.relu(self.fc1(x)))

    class FlattenHardswish(nn.Module):
        """MobileNetV3-style: conv + BN + Hardswish, depthwise, AdaptiveAvgPool, ``torch.flatten``, Linear."""

        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(16),
                nn.Hardswish(),
                nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
                nn.BatchNorm2d(16),
                nn.Hardswish(),
                nn.Conv2d(16, 24, 1, bias=False),
                nn.BatchNorm2d(24),
                nn.Hardswish(),
            )
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(24, 6)

        def forward(self, x):
            x = self.pool(self.features(x))
            return self.fc(torch.flatten(x, 1))

    class Upsample(nn.Module):
        """Encoder-decoder: strided convs, ConvTranspose2d, F.interpolate bilinear and nearest."""

        def __init__(self):
            super().__init__()
            self.enc1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.enc2 = nn.Conv2d(8, 12, 3, stride=2, padding=1)
            self.enc3 = nn.Conv2d(12, 16, 3, stride=2, padding=1)
            self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
            self.mid = nn.Conv2d(8, 8, 3, padding=1)
            self.head = nn.Conv2d(8, 2, 3, padding=1)

        def forward(self, x):
            x = F.relu(self.enc1(x))
            x = F.relu(self.enc2(x))
            x = F.relu(self.enc3(x))
            x = F.relu(self.up(x))
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = F.relu(self.mid(x))
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            return self.head(x)

    class ChunkPrelu(nn.Module):
        """``torch.chunk`` and ``torch.split`` along channels into conv branches, PReLU, ``torch.cat``."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(4, 16, 3, padding=1)
            self.act = nn.PReLU(16)
            self.left = nn.Conv2d(8, 8, 3, padding=1)
            self.right = nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.act2 = nn.PReLU()
            self.mix = nn.Conv2d(16, 12, 1, stride=2)
            self.fc = nn.Linear(12, 5)

        def forward(self, x):
            x = self.act(self.stem(x))
            a, b = torch.chunk(x, 2, dim=1)
            b1, b2 = torch.split(b, [3, 5], dim=1)
            a = F.relu(self.left(a))
            b = self.act2(self.right(torch.cat([b2, b1], dim=1)))
            x = self.mix(torch.cat([a, b], dim=1))
            x = x.mean(dim=(2, 3))
            return self.fc(x)

    return [
        ("cnn_view", CnnView, (1, 16, 16), "classify", 10,
         ["Conv2d", "max_pool2d", "x.view(x.size(0), -1)", "Linear"]),
        ("flatten_hardswish", FlattenHardswish, (3, 16, 16), "classify", 6,
         ["Conv2d + BatchNorm2d", "nn.Hardswish", "depthwise Conv2d", "AdaptiveAvgPool2d", "torch.flatten", "Linear"]),
        ("upsample", Upsample, (3, 16, 16), "regress", 2,
         ["strided Conv2d", "ConvTranspose2d", "F.interpolate bilinear", "F.interpolate nearest"]),
        ("chunk_prelu", ChunkPrelu, (4, 16, 16), "classify", 5,
         ["torch.chunk", "torch.split", "torch.cat", "nn.PReLU (per-channel and shared)", "depthwise Conv2d",
          "mean over H, W", "Linear"]),
    ]


def train_torch(name: str, cls, shape: tuple[int, ...], task: str, outputs: int):
    import torch

    torch.manual_seed(SEED)
    model = cls()
    rng = rng_for(name, "train")
    x_nchw = samples(rng, shape, TRAIN_SAMPLES)
    x_nhwc = x_nchw.transpose(0, 2, 3, 1)
    if task == "classify":
        y = torch.from_numpy(classification_targets(x_nhwc, outputs, rng).argmax(axis=1))
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        y = torch.from_numpy(smooth_targets(x_nhwc, outputs, rng).transpose(0, 3, 1, 2).copy())
        loss_fn = torch.nn.MSELoss()
    x = torch.from_numpy(x_nchw)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(SEED)
    losses = []
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(TRAIN_SAMPLES, generator=g)
        total = 0.0
        for i in range(0, TRAIN_SAMPLES, 32):
            idx = order[i : i + 32]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        losses.append(total / TRAIN_SAMPLES)
    model.eval()
    return model, losses


def onnx_io(path: Path) -> tuple[dict, dict, list[str]]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}

    def describe(v) -> dict:
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or -1) for d in v.type.tensor_type.shape.dim]
        return {"name": v.name, "shape": dims, "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name}

    (inp,) = [v for v in model.graph.input if v.name not in inits]
    (out,) = model.graph.output
    return describe(inp), describe(out), sorted({n.op_type for n in model.graph.node})


class CalibrationReader:
    """onnxruntime's CalibrationDataReader over seeded samples, one batch-1 feed at a time."""

    def __init__(self, data: np.ndarray):
        self.feeds = iter([{"input": d[None]} for d in data])

    def get_next(self):
        return next(self.feeds, None)


def export_torch(entries: list[dict]) -> None:
    import onnx
    import onnxruntime
    import torch
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    CalibrationDataReader.register(CalibrationReader)
    for arch, cls, shape, task, outputs, features in torch_archs():
        model, losses = train_torch(arch, cls, shape, task, outputs)
        example = (torch.from_numpy(samples(rng_for(arch, "example"), shape, 1)),)
        calib_data = samples(rng_for(arch, "calib"), shape, calibration_count(shape))
        common = {
            "input_names": ["input"],
            "output_names": ["output"],
            "dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}},
        }
        for exporter, extra in (("dynamo", {}), ("torchscript", {"dynamo": False})):
            name = f"torch_{arch}_{exporter}"
            path = OUT_DIR / f"{name}.onnx"
            for old in (path, path.with_name(path.name + ".data")):
                old.unlink(missing_ok=True)
            torch.onnx.export(model, example, str(path), **common, **extra)
            calib = f"torch_{arch}.calib.npz"  # the same data for both exports
            np.savez_compressed(OUT_DIR / calib, input=calib_data)
            inp, out, ops = onnx_io(path)
            data_file = path.with_name(path.name + ".data")
            settings = {
                "call": "torch.onnx.export(model, (example,), path, input_names=['input'], output_names=['output'], "
                "dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}}"
                + (", dynamo=False)" if extra else ")"),
                "dynamo": not extra,
                "opset": int(onnx.load(str(path), load_external_data=False).opset_import[0].version),
                "external_data": data_file.name if data_file.exists() else None,
            }
            entries.append(
                {
                    "name": name,
                    "file": path.name,
                    "format": "onnx",
                    "dtype": "float32",
                    "exporter": f"torch.onnx.export ({'default, dynamo' if not extra else 'dynamo=False, TorchScript'})",
                    "exporter_version": f"torch {torch.__version__}, onnx {onnx.__version__}",
                    "settings": settings,
                    "architecture": arch,
                    "features": features,
                    "input": {**inp, "layout": "NCHW"},
                    "output": out,
                    "calib": calib,
                    "calib_samples": len(calib_data),
                    "input_distribution": INPUT_DISTRIBUTION,
                    "training": {"samples": TRAIN_SAMPLES, "epochs": EPOCHS, "loss": [round(v, 4) for v in losses]},
                    "ops": ops,
                }
            )
            print(f"  {name}: {path.stat().st_size} bytes, ops {ops}", flush=True)
            if exporter != "dynamo":
                continue
            qname = f"torch_{arch}_qdq"
            qpath = OUT_DIR / f"{qname}.onnx"
            try:
                quantize_static(str(path), str(qpath), CalibrationReader(calib_data))
            except Exception as e:  # noqa: BLE001 - recorded, the corpus lists what the quantizer refused
                print(f"  {qname}: quantize_static failed: {type(e).__name__}: {e}", flush=True)
                continue
            qinp, qout, qops = onnx_io(qpath)
            entries.append(
                {
                    "name": qname,
                    "file": qpath.name,
                    "format": "onnx",
                    "dtype": "int8 QDQ",
                    "exporter": f"onnxruntime.quantization.quantize_static of {path.name}",
                    "exporter_version": f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}",
                    "settings": {
                        "call": f"quantize_static({path.name!r}, {qpath.name!r}, reader)",
                        "defaults": "quant_format=QDQ, activation_type=QInt8, weight_type=QInt8, "
                        "calibrate_method=MinMax, per_channel=False",
                        "calibration": f"{len(calib_data)} seeded standard-normal samples (the data of {calib})",
                    },
                    "architecture": arch,
                    "features": features,
                    "input": {**qinp, "layout": "NCHW"},
                    "output": qout,
                    "calib": None,
                    "calib_samples": 0,
                    "input_distribution": INPUT_DISTRIBUTION,
                    "training": entries[-1]["training"],
                    "ops": qops,
                }
            )
            print(f"  {qname}: {qpath.stat().st_size} bytes, ops {qops}", flush=True)


# -- outputs ------------------------------------------------------------------------------------------------


def write_readme(entries: list[dict]) -> None:
    lines = [
        "# Conformance corpus",
        "",
        "Small models made the way users make them: trained for a few epochs on seeded",
        "synthetic data, exported with the real exporters and their defaults -- a dynamic",
        "batch dimension everywhere (`keras.Input(shape=...)`; ONNX `dynamic_axes` on the batch).",
        "Made by `models/export_corpus.py` in the fixture-making environment",
        "(`scripts/fixture-env.sh`); `manifest.json` holds every model's exact export",
        "settings, input, calibration file and features, and is what `tests/test_corpus.py`",
        "and `bench/intake.py` read.",
        "",
        "```",
        ".fixture-venv/bin/python models/export_corpus.py",
        "```",
        "",
        "Inputs of every model, its training data and its calibration data are standard normal.",
        "Float models come with `NAME.calib.npz` (one array per input, samples along axis 0, in",
        "the model's own layout; 8 to 64 samples, about 100 KB) for `edgec build --calib`. The default `torch.onnx.export`",
        "(the dynamo exporter in torch 2.13) writes the weights to `NAME.onnx.data` next to the",
        "model; the `*_qdq.onnx` models are `onnxruntime.quantization.quantize_static` (defaults)",
        "of the default export.",
        "",
        "| name | exporter | format | dtype | input | size | architecture features | ops |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        size = (OUT_DIR / e["file"]).stat().st_size
        ext = e["settings"].get("external_data") if isinstance(e["settings"], dict) else None
        if ext:
            size += (OUT_DIR / ext).stat().st_size
        shape = "x".join(str(d) for d in e["input"]["shape"])
        lines.append(
            f"| {e['name']} | {e['exporter']} | {e['format']} | {e['dtype']} | {e['input']['dtype']} {shape} "
            f"| {size:,} B | {', '.join(e['features'])} | {', '.join(e['ops'])} |"
        )
    lines.append("")
    (OUT_DIR / "README.md").write_text("\n".join(lines))


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    export_keras(entries)
    export_torch(entries)
    manifest = {
        "seed": SEED,
        "input_distribution": INPUT_DISTRIBUTION,
        "models": entries,
    }
    (OUT_DIR / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    write_readme(entries)
    print(f"wrote {len(entries)} models to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
