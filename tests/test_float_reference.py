"""Float reference kernels against brute-force loops written from the op definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from float_compare import assert_close

from edgec.ir.graph import Graph
from edgec.reference import run
from edgec.reference.float_ops import dequantize_array, quantize_array


def single_op_graph(op: str, x: np.ndarray, consts: list[np.ndarray | None], **attrs) -> Graph:
    from edgec.ir.ops import infer_shapes
    from edgec.ir.tensor import Tensor

    g = Graph()
    g.add_tensor(Tensor("x", x.shape, "float32"))
    g.inputs = ["x"]
    names = ["x"]
    for i, c in enumerate(consts):
        if c is None:
            names.append("")
        else:
            g.add_const(f"c{i}", c)
            names.append(f"c{i}")
    node = g.add_node(op, names, ["y"], name="op", **attrs)
    g.add_tensor(Tensor("y", infer_shapes(g, node)[0], "float32"))
    g.outputs = ["y"]
    return g.verify()


def rand(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def brute_conv(x, w, b, stride, dilation, pad, groups):
    n, h, wd, _ = x.shape
    co, kh, kw, cig = w.shape
    top, left, bottom, right = pad
    oh = (h + top + bottom - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + left + right - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, oh, ow, co), np.float64)
    cog = co // groups
    for oy, ox, o in itertools.product(range(oh), range(ow), range(co)):
        g = o // cog
        acc = 0.0 if b is None else float(b[o])
        for i, j, c in itertools.product(range(kh), range(kw), range(cig)):
            iy = oy * stride[0] - top + i * dilation[0]
            ix = ox * stride[1] - left + j * dilation[1]
            if 0 <= iy < h and 0 <= ix < wd:
                acc += x[0, iy, ix, g * cig + c] * w[o, i, j, c]
        y[0, oy, ox, o] = acc
    return y


@pytest.mark.parametrize(
    ("groups", "stride", "dilation", "pad"),
    [(1, (1, 1), (1, 1), (1, 1, 1, 1)), (2, (2, 1), (1, 1), (0, 2, 1, 0)), (1, (1, 2), (2, 1), (2, 0, 0, 1)), (4, (1, 1), (1, 1), (0, 0, 0, 0))],
)
def test_conv2d_matches_brute_force(groups, stride, dilation, pad):
    x, w, b = rand(0, 1, 7, 6, 4), rand(1, 8, 3, 2, 4 // groups), rand(2, 8)
    g = single_op_graph("conv2d", x, [w, b], stride=stride, dilation=dilation, pad=pad, groups=groups, act=None)
    assert_close(run(g, x)["y"], brute_conv(x, w, b, stride, dilation, pad, groups), 1e-5)


@pytest.mark.parametrize("multiplier", [1, 3])
def test_depthwise_matches_grouped_brute_force(multiplier):
    x, w = rand(3, 1, 6, 7, 2), rand(4, 1, 3, 3, 2 * multiplier)
    g = single_op_graph("depthwise_conv2d", x, [w, None], stride=(2, 2), dilation=(1, 1), pad=(1, 1, 1, 0),
                        depth_multiplier=multiplier, act=(-0.5, 0.5))
    # Output channel c*m + k reads input channel c: a grouped conv with groups = input channels.
    w_grouped = w[0].transpose(2, 0, 1)[..., None]  # [Co, KH, KW, 1]
    expected = np.clip(brute_conv(x, w_grouped, None, (2, 2), (1, 1), (1, 1, 1, 0), 2), -0.5, 0.5)
    assert_close(run(g, x)["y"], expected, 1e-5)


def test_fully_connected_flattens_rows():
    x, w, b = rand(5, 1, 2, 3, 4), rand(6, 5, 12), rand(7, 5)
    g = single_op_graph("fully_connected", x, [w, b], act=(0.0, float("inf")))
    expected = np.maximum(x.reshape(2, 12) @ w.T + b, 0)
    assert_close(run(g, x)["y"], expected, 1e-5)


def brute_pool(x, kernel, stride, pad, kind):
    _, h, w, c = x.shape
    top, left, bottom, right = pad
    oh = (h + top + bottom - kernel[0]) // stride[0] + 1
    ow = (w + left + right - kernel[1]) // stride[1] + 1
    y = np.zeros((1, oh, ow, c))
    for oy, ox in itertools.product(range(oh), range(ow)):
        rows = [r for r in range(oy * stride[0] - top, oy * stride[0] - top + kernel[0]) if 0 <= r < h]
        cols = [q for q in range(ox * stride[1] - left, ox * stride[1] - left + kernel[1]) if 0 <= q < w]
        window = x[0][np.ix_(rows, cols)].reshape(-1, c)
        y[0, oy, ox] = window.max(0) if kind == "max" else window.mean(0)
    return y


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pools_ignore_padding(kind):
    x = rand(8, 1, 7, 8, 3)
    attrs = {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 0, 1, 2), "act": None}
    g = single_op_graph(f"{kind}_pool2d", x, [], **attrs)
    assert_close(run(g, x)["y"], brute_pool(x, (3, 3), (2, 2), (1, 0, 1, 2), kind), 1e-6)


def test_resize_nearest_is_floor_of_scaled_index():
    x = rand(9, 1, 3, 4, 2)
    g = single_op_graph("resize_nearest", x, [], size=(6, 12))
    y = run(g, x)["y"]
    for i, j in itertools.product(range(6), range(12)):
        np.testing.assert_array_equal(y[0, i, j], x[0, i // 2, j // 3])


@pytest.mark.parametrize(
    ("op", "attrs", "formula"),
    [
        ("relu6", {}, lambda x: np.minimum(np.maximum(x, 0), 6)),
        ("clip", {"min": -0.3, "max": 0.4}, lambda x: np.clip(x, -0.3, 0.4)),
        ("leaky_relu", {"alpha": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x)),
        ("logistic", {}, lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))),
        ("hard_swish", {}, lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6),
        ("hard_sigmoid", {"alpha": 0.25, "beta": 0.5}, lambda x: np.clip(0.25 * x + 0.5, 0, 1)),
        ("tanh", {}, np.tanh),
    ],
)
def test_activations(op, attrs, formula):
    x = rand(10, 1, 4, 4, 3) * 5
    g = single_op_graph(op, x, [], **attrs)
    assert_close(run(g, x)["y"], formula(x), 1e-6)


def test_softmax_and_batch_norm():
    x = rand(11, 1, 3, 10) * 4
    y = run(single_op_graph("softmax", x, [], axis=-1, beta=1.0), x)["y"]
    e = np.exp(x.astype(np.float64))
    assert_close(y, e / e.sum(-1, keepdims=True), 1e-6)
    gamma, beta, mean, var = rand(12, 10), rand(13, 10), rand(14, 10), np.abs(rand(15, 10)) + 0.1
    y = run(single_op_graph("batch_norm", x, [gamma, beta, mean, var], epsilon=1e-3), x)["y"]
    assert_close(y, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta, 1e-6)


def test_quantize_round_half_even_and_clamp():
    x = np.array([-300.0, -1.5, -0.5, 0.5, 1.5, 2.5, 126.6, 500.0], np.float32)
    q = quantize_array(x, np.array([1.0], np.float32), np.array([0]), None, "int8")
    np.testing.assert_array_equal(q, np.array([-128, -2, 0, 0, 2, 2, 127, 127], np.int8))
    per_channel = quantize_array(np.ones((2, 3), np.float32), np.array([0.5, 0.25], np.float32), np.array([1, -1]), 0, "int8")
    np.testing.assert_array_equal(per_channel, [[3, 3, 3], [3, 3, 3]])
    np.testing.assert_allclose(dequantize_array(per_channel, np.array([0.5, 0.25]), np.array([1, -1]), 0), 1.0)
