"""A small layer builder on top of ``onnx.helper`` for the bundled float models.

:class:`OnnxBuilder` emits float32 ONNX graphs (opset 13, NCHW, static shapes)
one layer at a time.  Weights come from a seeded generator, so a builder called
with the same seed produces the same bytes.

Random weights alone make activations drift with depth, which would give the
quantizer unrealistic ranges.  The builder therefore tracks, per channel, an
estimate of the mean and variance of every tensor (assuming independent
Gaussian-ish activations, starting from the input statistics the caller
declares) and gives each BatchNormalization running statistics close to the
real ones: after every BN the channels are roughly ``N(beta, gamma**2)`` no
matter how deep the network is.  The estimate is an approximation (it ignores
spatial correlation and treats ReLU6 like ReLU) -- good enough to keep values
in a sane range, not a claim about any trained network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8  # the IR version that introduced opset 13-era features; widely readable
BN_EPSILON = 1e-5


@dataclass
class TensorInfo:
    """Static shape (NCHW or [N, K]) and per-channel moment estimates of one value."""

    shape: tuple[int, ...]
    mean: np.ndarray  # per channel (axis 1), float64
    var: np.ndarray  # per channel (axis 1), float64

    @property
    def channels(self) -> int:
        return self.shape[1]


def conv_output_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int) -> int:
    return (size + pad_lo + pad_hi - kernel) // stride + 1


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding for one spatial axis: (before, after), extra pixel after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def relu_moments(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of max(0, X) for X ~ N(mean, var) (rectified Gaussian)."""
    std = np.sqrt(np.maximum(var, 1e-12))
    a = mean / std
    cdf, pdf = _normal_cdf(a), _normal_pdf(a)
    first = mean * cdf + std * pdf
    second = (mean * mean + var) * cdf + mean * std * pdf
    return first, np.maximum(second - first * first, 1e-12)


def linear_moments(
    weight: np.ndarray, bias: np.ndarray | None, groups: int, mean: np.ndarray, var: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Moments of a grouped conv / dense layer output, per output channel.

    ``weight`` is [Co, Ci/groups, ...]; inputs are taken as independent across
    channels and positions with the given per-channel mean and variance.
    """
    co, cig = weight.shape[:2]
    w = weight.reshape(co, cig, -1).astype(np.float64)
    group_of_output = np.arange(co) // (co // groups)
    input_index = group_of_output[:, None] * cig + np.arange(cig)[None, :]  # [Co, Ci/groups]
    out_mean = np.sum(w.sum(axis=2) * mean[input_index], axis=1)
    out_var = np.sum((w**2).sum(axis=2) * var[input_index], axis=1)
    if bias is not None:
        out_mean += bias
    return out_mean, np.maximum(out_var, 1e-12)


class OnnxBuilder:
    """Builds one float32 ONNX model layer by layer; every method returns the output value's name."""

    def __init__(
        self,
        name: str,
        input_shape: tuple[int, int, int, int],
        seed: int,
        input_mean: float = 0.0,
        input_var: float = 1.0,
        input_name: str = "input",
    ) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.info: dict[str, TensorInfo] = {}
        self.input_name = input_name
        self._counts: dict[str, int] = {}
        channels = input_shape[1]
        self.info[input_name] = TensorInfo(
            tuple(input_shape), np.full(channels, float(input_mean)), np.full(channels, float(input_var))
        )

    # -- bookkeeping ---------------------------------------------------------

    def shape(self, x: str) -> tuple[int, ...]:
        return self.info[x].shape

    def _fresh(self, prefix: str) -> str:
        n = self._counts.get(prefix, 0)
        self._counts[prefix] = n + 1
        return f"{prefix}_{n}"

    def _const(self, base: str, suffix: str, array: np.ndarray) -> str:
        name = f"{base}.{suffix}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def _node(self, op: str, inputs: list[str], prefix: str, info: TensorInfo, **attrs) -> str:
        name = self._fresh(prefix)
        out = f"{name}.out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        self.info[out] = info
        return out

    # -- layers --------------------------------------------------------------

    def conv(
        self,
        x: str,
        out_channels: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        groups: int = 1,
        pads: tuple[int, int, int, int] | None = None,
        bias: bool = False,
        weight: np.ndarray | None = None,
        bias_value: np.ndarray | None = None,
        gain: float = 2.0,
    ) -> str:
        """2-D convolution.  ``pads`` is ONNX order (top, left, bottom, right); default k//2 all round.

        Without ``weight`` the kernel is He-normal, ``std = sqrt(gain / fan_in)``.
        """
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        n, ci, h, w = self.shape(x)
        if ci % groups or out_channels % groups:
            raise ValueError(f"{ci} -> {out_channels} channels do not split into {groups} groups")
        if pads is None:
            pads = (kh // 2, kw // 2, kh // 2, kw // 2)
        if weight is None:
            fan_in = kh * kw * ci // groups
            weight = self.rng.normal(0.0, math.sqrt(gain / fan_in), (out_channels, ci // groups, kh, kw))
        if bias and bias_value is None:
            bias_value = self.rng.normal(0.0, 0.05, out_channels)
        base = self._fresh("conv")
        inputs = [x, self._const(base, "weight", weight)]
        if bias_value is not None:
            inputs.append(self._const(base, "bias", bias_value))
        oh = conv_output_size(h, kh, sh, pads[0], pads[2])
        ow = conv_output_size(w, kw, sw, pads[1], pads[3])
        mean, var = linear_moments(weight, bias_value, groups, self.info[x].mean, self.info[x].var)
        out = f"{base}.out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                inputs,
                [out],
                name=base,
                kernel_shape=[kh, kw],
                strides=[sh, sw],
                pads=list(pads),
                dilations=[1, 1],
                group=groups,
            )
        )
        self.info[out] = TensorInfo((n, out_channels, oh, ow), mean, var)
        return out

    def batch_norm(self, x: str) -> str:
        """BatchNormalization with seeded gamma/beta and running stats near the tracked moments."""
        info = self.info[x]
        c = info.channels
        std = np.sqrt(info.var)
        gamma = self.rng.uniform(0.5, 1.5, c)
        beta = self.rng.normal(0.0, 0.25, c)
        running_mean = info.mean + self.rng.normal(0.0, 0.1, c) * std
        running_var = info.var * self.rng.uniform(0.7, 1.4, c)
        base = self._fresh("bn")
        inputs = [
            x,
            self._const(base, "gamma", gamma),
            self._const(base, "beta", beta),
            self._const(base, "running_mean", running_mean),
            self._const(base, "running_var", running_var),
        ]
        scale = gamma / np.sqrt(running_var + BN_EPSILON)
        out_info = TensorInfo(info.shape, scale * (info.mean - running_mean) + beta, scale * scale * info.var)
        out = f"{base}.out"
        self.nodes.append(helper.make_node("BatchNormalization", inputs, [out], name=base, epsilon=BN_EPSILON))
        self.info[out] = out_info
        return out

    def relu(self, x: str) -> str:
        mean, var = relu_moments(self.info[x].mean, self.info[x].var)
        return self._node("Relu", [x], "relu", TensorInfo(self.shape(x), mean, var))

    def relu6(self, x: str) -> str:
        """ReLU6 as ONNX Clip(0, 6) (opset 13 takes the bounds as inputs)."""
        base = self._fresh("clip")
        lo = self._scalar(base, "min", 0.0)
        hi = self._scalar(base, "max", 6.0)
        mean, var = relu_moments(self.info[x].mean, self.info[x].var)  # the clip at 6 is rarely reached
        out = f"{base}.out"
        self.nodes.append(helper.make_node("Clip", [x, lo, hi], [out], name=base))
        self.info[out] = TensorInfo(self.shape(x), mean, var)
        return out

    def _scalar(self, base: str, suffix: str, value: float) -> str:
        name = f"{base}.{suffix}"
        self.initializers.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    def activation(self, x: str, kind: str | None) -> str:
        if kind is None:
            return x
        if kind == "relu":
            return self.relu(x)
        if kind == "relu6":
            return self.relu6(x)
        raise ValueError(f"unknown activation {kind!r}")

    def conv_bn(
        self,
        x: str,
        out_channels: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        groups: int = 1,
        act: str | None = "relu",
        pads: tuple[int, int, int, int] | None = None,
        bias: bool = False,
    ) -> str:
        """Conv -> BatchNormalization -> optional activation (the usual CNN unit)."""
        y = self.conv(x, out_channels, kernel, stride, groups, pads=pads, bias=bias)
        return self.activation(self.batch_norm(y), act)

    def add(self, a: str, b: str) -> str:
        if self.shape(a) != self.shape(b):
            raise ValueError(f"add of {self.shape(a)} and {self.shape(b)}")
        ia, ib = self.info[a], self.info[b]
        return self._node("Add", [a, b], "add", TensorInfo(ia.shape, ia.mean + ib.mean, ia.var + ib.var))

    def max_pool(self, x: str, kernel: int, stride: int, pad: int = 0) -> str:
        return self._pool("MaxPool", x, kernel, stride, pad, variance_divisor=1.0)

    def avg_pool(self, x: str, kernel: int, stride: int, pad: int = 0) -> str:
        return self._pool("AveragePool", x, kernel, stride, pad, variance_divisor=float(kernel * kernel))

    def _pool(self, op: str, x: str, kernel: int, stride: int, pad: int, variance_divisor: float) -> str:
        n, c, h, w = self.shape(x)
        oh = conv_output_size(h, kernel, stride, pad, pad)
        ow = conv_output_size(w, kernel, stride, pad, pad)
        info = TensorInfo((n, c, oh, ow), self.info[x].mean, self.info[x].var / variance_divisor)
        attrs = {"kernel_shape": [kernel, kernel], "strides": [stride, stride], "pads": [pad] * 4}
        return self._node(op, [x], op.lower(), info, **attrs)

    def global_avg_pool(self, x: str) -> str:
        n, c, h, w = self.shape(x)
        info = TensorInfo((n, c, 1, 1), self.info[x].mean, self.info[x].var / (h * w))
        return self._node("GlobalAveragePool", [x], "gap", info)

    def flatten(self, x: str) -> str:
        shape = self.shape(x)
        info = self.info[x]
        spatial = math.prod(shape[2:])
        # channel-major flattening (NCHW): each channel's moments repeat over its positions
        out_info = TensorInfo(
            (shape[0], math.prod(shape[1:])), np.repeat(info.mean, spatial), np.repeat(info.var, spatial)
        )
        return self._node("Flatten", [x], "flatten", out_info, axis=1)

    def gemm(
        self,
        x: str,
        out_features: int,
        weight: np.ndarray | None = None,
        bias_value: np.ndarray | None = None,
        gain: float = 1.0,
    ) -> str:
        """Dense layer ``x @ W.T + b`` (Gemm, transB=1); W is [out, in] like PyTorch's Linear."""
        n, k = self.shape(x)
        if weight is None:
            weight = self.rng.normal(0.0, math.sqrt(gain / k), (out_features, k))
        if bias_value is None:
            bias_value = self.rng.normal(0.0, 0.05, out_features)
        base = self._fresh("fc")
        inputs = [x, self._const(base, "weight", weight), self._const(base, "bias", bias_value)]
        mean, var = linear_moments(weight, bias_value, 1, self.info[x].mean, self.info[x].var)
        out = f"{base}.out"
        self.nodes.append(helper.make_node("Gemm", inputs, [out], name=base, transB=1))
        self.info[out] = TensorInfo((n, out_features), mean, var)
        return out

    def softmax(self, x: str) -> str:
        c = self.info[x].channels
        return self._node(
            "Softmax", [x], "softmax", TensorInfo(self.shape(x), np.full(c, 1.0 / c), np.zeros(c)), axis=-1
        )

    # -- output ----------------------------------------------------------------

    def build(self, output: str, output_name: str = "output", doc: str = "") -> onnx.ModelProto:
        """Finish the graph with ``output`` renamed to ``output_name``; shapes are inferred and checked."""
        producer = next(n for n in self.nodes if output in n.output)
        producer.output[list(producer.output).index(output)] = output_name
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, list(self.shape(self.input_name)))],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(self.shape(output)))],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph,
            producer_name="edgec-models",
            opset_imports=[helper.make_opsetid("", OPSET)],
            ir_version=IR_VERSION,
            doc_string=doc,
        )
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        onnx.checker.check_model(model)
        return model
