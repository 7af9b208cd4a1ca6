"""Build the bundled int8 TFLite models in ``models/tflite/`` (run once; outputs are committed).

Run with the TensorFlow environment, never from edgec or the tests::

    .fixture-venv/bin/python models/make_tflite.py            # every model
    .fixture-venv/bin/python models/make_tflite.py ds_cnn     # just one

Every model is a Keras network with seeded random weights (the architectures
matter here, not the accuracy), random but non-trivial batch-norm gammas/betas
and biases, then (the networks in ``MODELS``) a data-dependent initialization so
that the int8 output depends on the input (``data_dependent_init``), converted to a full-integer TFLite flatbuffer with int8 input and
output and a seeded random representative dataset.  ``models/tflite/bad/``
holds small models that edgec must reject (unsupported ops, uint8 I/O, a
dynamic batch dimension).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

OUT_DIR = Path(__file__).resolve().parent / "tflite"
BAD_DIR = OUT_DIR / "bad"
OP_DIR = OUT_DIR / "ops"
WEIGHT_SEED = 1234
CALIB_SEED = 4321
CALIB_SAMPLES = 20
INIT_SEED = 5678  # calibration inputs of the data-dependent initialization
INIT_SAMPLES = 32
LOGIT_STD = 2.0  # spread of the classifier's logits across inputs


# -- architectures ------------------------------------------------------------


def batch1_input(shape: tuple[int, ...]) -> keras.KerasTensor:
    """A fixed batch-1 input: a ``None`` batch would give the TFLite model dynamic shapes."""
    return keras.Input(shape, batch_size=1)


def mobilenet_v2_w035_r96() -> keras.Model:
    return keras.applications.MobileNetV2(alpha=0.35, input_tensor=batch1_input((96, 96, 3)), weights=None, classes=10)


def mobilenet_v2_w10_r224() -> keras.Model:
    return keras.applications.MobileNetV2(
        alpha=1.0, input_tensor=batch1_input((224, 224, 3)), weights=None, classes=1000
    )


def mobilenet_v1_w025_r96() -> keras.Model:
    """MobileNetV1 0.25 at 96x96 with two classes, as in the Visual Wake Words benchmark."""
    return keras.applications.MobileNet(alpha=0.25, input_tensor=batch1_input((96, 96, 3)), weights=None, classes=2)


def ds_cnn() -> keras.Model:
    """DS-CNN-S from ARM's "Hello Edge" keyword spotting (49 MFCC frames x 10 coefficients)."""
    x = inputs = batch1_input((49, 10, 1))
    x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.Conv2D(64, 1, use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12, activation="softmax")(x)
    return keras.Model(inputs, x, name="ds_cnn")


def resnet8() -> keras.Model:
    """ResNet-8 of the MLPerf Tiny image-classification benchmark (CIFAR-10)."""
    x = inputs = batch1_input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        y = layers.ReLU()(layers.BatchNormalization()(y))
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        if stride != 1:
            x = layers.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.AveragePooling2D(pool_size=8)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, x, name="resnet8")


# (expansion, kernel, out channels, stride) — MCUNet-like mix of 3/5/7 kernels.
MCUNET_BLOCKS = (
    (1, 3, 8, 1),
    (6, 7, 16, 2),
    (3, 3, 16, 1),
    (6, 5, 24, 2),
    (3, 7, 24, 1),
    (4, 3, 24, 1),
    (6, 5, 40, 2),
    (3, 5, 40, 1),
    (5, 7, 48, 1),
    (6, 5, 96, 2),
    (4, 3, 96, 1),
    (3, 7, 160, 1),
)


def mcunet() -> keras.Model:
    """An MCUNet-style network: inverted residual blocks with searched kernel sizes and expansions."""
    x = inputs = batch1_input((96, 96, 3))
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    for expansion, kernel, out_ch, stride in MCUNET_BLOCKS:
        y = x
        if expansion != 1:
            y = layers.Conv2D(x.shape[-1] * expansion, 1, use_bias=False)(y)
            y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
        y = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False)(y)
        y = layers.ReLU(6.0)(layers.BatchNormalization()(y))
        y = layers.Conv2D(out_ch, 1, use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        x = layers.Add()([x, y]) if stride == 1 and x.shape[-1] == out_ch else y
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(10)(x)
    return keras.Model(inputs, x, name="mcunet")


def op_zoo() -> keras.Model:
    """Not an architecture: one of each op the TFLite frontend translates that the real networks lack."""
    x = inputs = batch1_input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu6")(x)
    x = layers.ZeroPadding2D(((1, 0), (0, 1)))(x)  # PAD
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)  # 17x17 -> 9x9, uneven SAME padding
    a = layers.DepthwiseConv2D(5, padding="same", depth_multiplier=2)(x)
    b = layers.Conv2D(16, 1)(x)
    x = layers.Concatenate()([layers.Activation("sigmoid")(a), layers.Activation("tanh")(b)])
    x = layers.Multiply()([x, layers.LeakyReLU(0.2)(layers.Conv2D(32, 1)(x))])
    x = layers.Subtract()([x, layers.ReLU()(layers.Conv2D(32, 1)(x))])
    x = layers.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) * (1.0 / 6.0))(x)  # HARD_SWISH
    x = layers.Dense(24, activation="relu")(x)  # FULLY_CONNECTED on a 4-D tensor (keep_num_dims)
    x = layers.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 1], [2, 0], [0, 0]], constant_values=0.5))(x)  # PADV2
    x = layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = layers.Lambda(lambda t: tf.raw_ops.ResizeNearestNeighbor(images=t, size=[10, 12], half_pixel_centers=False))(x)
    x = layers.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2], keepdims=True))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(5, activation="softmax")(x)
    return keras.Model(inputs, x, name="op_zoo")


MODELS: dict[str, Callable[[], keras.Model]] = {
    "mobilenet_v2_w0.35_r96": mobilenet_v2_w035_r96,
    "mobilenet_v2_w1.0_r224": mobilenet_v2_w10_r224,
    "mobilenet_v1_w0.25_r96": mobilenet_v1_w025_r96,
    "ds_cnn": ds_cnn,
    "resnet8": resnet8,
    "mcunet": mcunet,
}
# Small models that exercise single ops; they live in tflite/ops/.
OP_MODELS: dict[str, Callable[[], keras.Model]] = {"op_zoo": op_zoo, "op_zoo_float_io": op_zoo}
# Models whose input/output stay float32 (QUANTIZE/DEQUANTIZE at the boundary).
FLOAT_IO = {"op_zoo_float_io"}


# -- weights and conversion -----------------------------------------------------


def randomize_statistics(model: keras.Model, rng: np.random.Generator) -> None:
    """Give batch norms and biases non-trivial values so folded biases and scales vary per channel."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                    rng.normal(0.0, 0.2, n).astype(np.float32),
                    rng.normal(0.0, 0.2, n).astype(np.float32),
                    rng.uniform(0.5, 1.5, n).astype(np.float32),
                ]
            )
        elif getattr(layer, "use_bias", False) and layer.get_weights():
            weights = layer.get_weights()
            weights[-1] = rng.normal(0.0, 0.1, weights[-1].shape).astype(np.float32)
            layer.set_weights(weights)


def calibration_inputs(shape: tuple[int, ...], seed: int, samples: int) -> np.ndarray:
    """``samples`` inputs uniform in [-1, 1]: the distribution of the representative dataset."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (samples, *shape)).astype(np.float32)


def last_linear_layer(model: keras.Model) -> layers.Layer:
    """The classifier: the last Dense (or MobileNetV1's 1x1 ``conv_preds`` Conv2D) in the model."""
    return [layer for layer in model.layers if isinstance(layer, (layers.Dense, layers.Conv2D))][-1]


def data_dependent_init(model: keras.Model, rng: np.random.Generator) -> None:
    """Make the int8 output depend on the input: random weights alone collapse or saturate through depth.

    Every BatchNormalization gets the observed statistics of its own input on seeded calibration
    inputs as its moving mean and variance, so that its output is ~N(beta, gamma^2) per channel
    (gamma ~ U(0.5, 1.5), beta ~ N(0, 0.2) come from ``randomize_statistics``).  Done in one pass:
    with momentum 0 (and epsilon ~0), a training-mode forward pass normalizes every BN with the
    batch statistics of its input and copies those into the moving statistics (the variance less
    epsilon, which inference adds back); the inputs each BN sees there are the ones it sees in
    inference mode afterwards, since every BN before it then normalizes identically.  This is
    exactly the layer-by-layer initialization.  (Each conv feeding a BN is also rescaled per
    channel to unit output variance, which leaves the network's function as it is.)  Then the
    classifier (the last Dense or 1x1 conv) is rescaled per class so that its logits have a
    standard deviation of ``LOGIT_STD`` across calibration inputs, and its bias is set to centre
    them on small random offsets, so a softmax after it does not saturate on one class.
    """
    shape = tuple(model.inputs[0].shape[1:])
    x = calibration_inputs(shape, INIT_SEED, INIT_SAMPLES)
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    saved = [(bn.momentum, bn.epsilon) for bn in norms]
    for bn in norms:
        bn.momentum, bn.epsilon = 0.0, 1e-12
    model(x, training=True)
    for bn, (momentum, epsilon) in zip(norms, saved):
        bn.momentum, bn.epsilon = momentum, epsilon
        # Some inputs have a variance below epsilon (depthwise convs of small activations), which
        # inference adds to it.  Rescale the conv feeding the BN per channel to give its output unit
        # variance: the BN output (and everything after it) is unchanged, as the BN divides that
        # scale out again; then fold epsilon into the stored variance.
        gamma, beta, mean, var = bn.get_weights()
        producer = bn.input._keras_history.operation
        assert isinstance(producer, (layers.Conv2D, layers.DepthwiseConv2D)), (bn.name, producer.name)
        k = 1.0 / np.sqrt(np.maximum(var.astype(np.float64), 1e-30))
        weights = producer.get_weights()
        kernel = weights[0]  # Conv2D (kh, kw, in, out); DepthwiseConv2D (kh, kw, in, mult): out = in*mult + m
        flat = kernel.reshape(*kernel.shape[:2], -1) if isinstance(producer, layers.DepthwiseConv2D) else kernel
        weights[0] = (flat * k).reshape(kernel.shape)
        weights[1:] = [b * k for b in weights[1:]]  # the bias, if any
        producer.set_weights([w.astype(np.float32) for w in weights])
        bn.set_weights([gamma, beta, (mean * k).astype(np.float32), np.full_like(var, 1.0 - epsilon)])

    head = last_linear_layer(model)
    features = keras.Model(model.inputs, head.input)(x, training=False).numpy().astype(np.float64)
    kernel, bias = head.get_weights()
    w = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)  # (in, classes); a 1x1 conv's kernel too
    logits = features.reshape(len(x), -1) @ w
    w *= LOGIT_STD / np.maximum(logits.std(axis=0), 1e-12)
    bias = -(features.reshape(len(x), -1) @ w).mean(axis=0) + rng.normal(0.0, 0.5, bias.shape)
    head.set_weights([w.reshape(kernel.shape).astype(np.float32), bias.astype(np.float32)])

    # Check: in inference mode each BN's output has per-channel mean ~beta and std ~gamma.
    outs = keras.Model(model.inputs, [bn.output for bn in norms])(x, training=False)
    worst = 0.0
    for bn, out in zip(norms, outs if isinstance(outs, (list, tuple)) else [outs]):
        gamma, beta = bn.get_weights()[:2]
        out = out.numpy().reshape(-1, gamma.shape[0]).astype(np.float64)
        worst = max(worst, float(np.abs(out.mean(0) - beta).max()), float(np.abs(out.std(0) / gamma - 1).max()))
    print(f"{model.name}: worst BN deviation {worst:.4f}")
    assert worst < 0.05, f"{model.name}: batch-norm outputs off N(beta, gamma^2) by {worst}"


def representative_dataset(shape: tuple[int, ...], dtype=np.float32):
    rng = np.random.default_rng(CALIB_SEED)

    def gen():
        for _ in range(CALIB_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, (1, *shape)).astype(dtype)]

    return gen


def convert_int8(model: keras.Model, io_type=tf.int8) -> bytes:
    shape = tuple(model.inputs[0].shape[1:])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset(shape)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = io_type
    converter.inference_output_type = io_type
    return converter.convert()


def build(name: str) -> Path:
    keras.utils.set_random_seed(WEIGHT_SEED)
    model = {**MODELS, **OP_MODELS}[name]()
    rng = np.random.default_rng(WEIGHT_SEED)
    randomize_statistics(model, rng)
    if name in MODELS:  # the op models in ops/ keep their plain random weights
        data_dependent_init(model, rng)
    path = (OP_DIR if name in OP_MODELS else OUT_DIR) / f"{name}.tflite"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(convert_int8(model, io_type=tf.float32 if name in FLOAT_IO else tf.int8))
    print(f"{path.name}: {path.stat().st_size} bytes")
    return path


# -- models edgec must reject -----------------------------------------------------


def build_bad_models() -> None:
    BAD_DIR.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(WEIGHT_SEED)
    w = tf.constant(np.random.default_rng(WEIGHT_SEED).normal(size=(8, 4)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def unsupported(x):
        y = tf.matmul(x, w)
        return tf.cast(tf.math.argmax(tf.math.cumsum(y, axis=1), axis=1), tf.int32)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([unsupported.get_concrete_function()])
    (BAD_DIR / "unsupported_ops.tflite").write_bytes(converter.convert())

    @tf.function(input_signature=[tf.TensorSpec((None, 8), tf.float32)])
    def dynamic_batch(x):
        return tf.nn.relu(tf.matmul(x, w))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([dynamic_batch.get_concrete_function()])
    (BAD_DIR / "dynamic_batch.tflite").write_bytes(converter.convert())

    x = inputs = batch1_input((8, 8, 3))
    x = layers.Conv2D(4, 3, activation="relu")(x)
    tiny = keras.Model(inputs, x)
    (BAD_DIR / "uint8_io.tflite").write_bytes(convert_int8(tiny, io_type=tf.uint8))
    print("bad models:", sorted(p.name for p in BAD_DIR.glob("*.tflite")))


def main(names: list[str]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    for name in names or [*MODELS, *OP_MODELS]:
        if name == "bad":
            build_bad_models()
        else:
            build(name)
    if not names:
        build_bad_models()


if __name__ == "__main__":
    main(sys.argv[1:])
