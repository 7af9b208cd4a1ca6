"""Tests for post-training int8 quantization (edgec.passes.quantize and calibrate)."""

from __future__ import annotations

import numpy as np
import pytest

from edgec.errors import EdgecError, UnsupportedError
from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor
from edgec.passes.calibrate import MinMaxObserver, PercentileObserver
from edgec.passes.quantize import (
    NO_CALIB_WARNING,
    choose_activation_params,
    dequantize_values,
    quantize,
    quantize_values,
    quantize_weights_per_channel,
)
from edgec.reference import run

RELU = (0.0, float("inf"))


# -- graph building -----------------------------------------------------------------------------------


class Builder:
    """Tiny helper to build float graphs with shape inference."""

    def __init__(self, input_shape: tuple[int, ...], seed: int = 0) -> None:
        from edgec.ir.ops import infer_shapes

        self._infer = infer_shapes
        self.g = Graph("t")
        self.g.add_tensor(Tensor("x", input_shape))
        self.g.inputs = ["x"]
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def const(self, shape: tuple[int, ...], scale: float = 0.5) -> str:
        name = f"c{len(self.g.tensors)}"
        self.g.add_const(name, (self.rng.normal(size=shape) * scale).astype(np.float32))
        return name

    def op(self, op: str, inputs: list[str], **attrs) -> str:
        self.count += 1
        out = f"t{self.count}"
        node = self.g.add_node(op, inputs, [out], **attrs)
        shape = self._infer(self.g, node)[0]
        self.g.add_tensor(Tensor(out, shape))
        return out

    def conv(self, x: str, co: int, k: int = 3, act=None, pad: int = 1) -> str:
        ci = self.g.tensors[x].shape[-1]
        w = self.const((co, k, k, ci), 0.3)
        b = self.const((co,), 0.1)
        return self.op("conv2d", [x, w, b], stride=(1, 1), dilation=(1, 1), pad=(pad,) * 4, groups=1, act=act)

    def done(self, *outputs: str) -> Graph:
        self.g.outputs = list(outputs)
        return self.g.verify()


def samples_for(g: Graph, n: int = 8, seed: int = 1, lo: float = -1.0, hi: float = 1.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{i: rng.uniform(lo, hi, g.tensors[i].shape).astype(np.float32) for i in g.inputs} for _ in range(n)]


def run_dequantized(q: Graph, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    feeds = {}
    for name, x in sample.items():
        t = q.tensors[name]
        feeds[name] = quantize_values(x, t.qscale, t.qzero)
    out = run(q, feeds)
    return {name: dequantize_values(v, q.tensors[name].qscale, q.tensors[name].qzero) for name, v in out.items()}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def assert_close_to_float(g: Graph, samples: list[dict], min_cos: float = 0.99, **kw) -> Graph:
    q, warnings = quantize(g, samples, **kw)
    assert warnings == []
    assert all(q.tensors[o].dtype == "int8" for n in q.nodes for o in n.outputs)
    for sample in samples:
        ref = run(g, sample)
        got = run_dequantized(q, sample)
        for name in g.outputs:
            c = cosine(ref[name], got[name])
            assert c >= min_cos, f"{name}: cosine {c:.4f}"
    return q


# -- parameter arithmetic ----------------------------------------------------------------------------


def test_activation_params_relu_range_has_zero_point_minus_128() -> None:
    scale, zp = choose_activation_params(0.0, 2.55)
    assert zp == -128 and scale == pytest.approx(0.01)


def test_activation_params_symmetric_and_nudged() -> None:
    scale, zp = choose_activation_params(-1.0, 1.0)
    assert scale == pytest.approx(2 / 255) and zp in (0, -1)
    scale, zp = choose_activation_params(-0.3, 1.7)
    assert -128 <= zp <= 127
    # zero is exactly representable, and both ends are within one step
    assert dequantize_values(np.array([zp]), scale, zp)[0] == 0.0
    assert scale * (-128 - zp) <= -0.3 + scale and scale * (127 - zp) >= 1.7 - scale


def test_activation_params_positive_range_widened_to_zero() -> None:
    scale, zp = choose_activation_params(1.0, 3.0)
    assert zp == -128 and scale == pytest.approx(3.0 / 255)


def test_weights_per_channel_scales_axis0() -> None:
    w = np.zeros((3, 2, 2, 2), np.float32)
    w[0, 0, 0, 0] = 1.27
    w[1, 1, 1, 1] = -2.54
    w[1, 0, 0, 0] = 1.0
    q, scale = quantize_weights_per_channel(w, 0)
    np.testing.assert_allclose(scale, [0.01, 0.02, 1.0], rtol=1e-6)
    assert q.dtype == np.int8 and q[0, 0, 0, 0] == 127 and q[1, 1, 1, 1] == -127 and q[1, 0, 0, 0] == 50
    assert not q[2].any()


def test_weights_per_channel_axis3_for_depthwise() -> None:
    w = np.random.default_rng(0).normal(size=(1, 3, 3, 4)).astype(np.float32)
    q, scale = quantize_weights_per_channel(w, 3)
    np.testing.assert_allclose(scale, np.abs(w).max(axis=(0, 1, 2)) / 127, rtol=1e-6)
    assert np.abs(q).max(axis=(0, 1, 2)).tolist() == [127] * 4


def test_quantized_graph_params_follow_conventions() -> None:
    b = Builder((1, 6, 6, 3))
    c = b.conv("x", 4, act=RELU)
    dw_w = b.const((1, 3, 3, 4))
    dw = b.op(
        "depthwise_conv2d",
        [c, dw_w, b.const((4,))],
        stride=(1, 1),
        dilation=(1, 1),
        pad=(1, 1, 1, 1),
        depth_multiplier=1,
        act=None,
    )
    p = b.op("max_pool2d", [dw], kernel=(2, 2), stride=(2, 2), pad=(0, 0, 0, 0), act=None)
    r = b.op("reshape", [p], shape=(1, 36))
    f = b.op("fully_connected", [r, b.const((5, 36)), b.const((5,))], act=None)
    s = b.op("softmax", [f], axis=-1, beta=1.0)
    g = b.done(s)
    samples = samples_for(g)
    q, _ = quantize(g, samples)
    nodes = {n.op: n for n in q.nodes}
    conv, dwn, fc = nodes["conv2d"], nodes["depthwise_conv2d"], nodes["fully_connected"]
    w = q.tensors[conv.inputs[1]]
    assert w.dtype == "int8" and w.axis == 0 and w.scale.size == 4
    np.testing.assert_allclose(w.scale, np.abs(g.tensors["c1"].data).max(axis=(1, 2, 3)) / 127, rtol=1e-6)
    assert q.tensors[dwn.inputs[1]].axis == 3 and q.tensors[dwn.inputs[1]].scale.size == 4
    assert q.tensors[fc.inputs[1]].axis == 0 and q.tensors[fc.inputs[1]].scale.size == 5
    for node in (conv, dwn, fc):
        bias = q.tensors[node.inputs[2]]
        assert bias.dtype == "int32" and not bias.zero_point.any()
        expected = q.tensors[node.inputs[0]].qscale * q.tensors[node.inputs[1]].scale.astype(np.float64)
        np.testing.assert_allclose(bias.scale, expected, rtol=1e-6)
    assert q.tensors[c].qzero == -128  # fused relu: the range starts at 0
    for shared in (p, r):
        assert (q.tensors[shared].qscale, q.tensors[shared].qzero) == (q.tensors[dw].qscale, q.tensors[dw].qzero)
    assert q.tensors[s].qscale == pytest.approx(1 / 256) and q.tensors[s].qzero == -128
    assert q.inputs == ["x"] and q.tensors["x"].dtype == "int8" and q.tensors["x"].is_quantized
    assert q.meta["quantization"]["calibrated"] is True


def test_logistic_and_tanh_fixed_output_params() -> None:
    b = Builder((1, 8))
    lo = b.op("logistic", ["x"])
    th = b.op("tanh", ["x"])
    q, _ = quantize(b.done(lo, th), samples_for(b.g))
    assert (q.tensors[lo].qscale, q.tensors[lo].qzero) == (pytest.approx(1 / 256), -128)
    assert (q.tensors[th].qscale, q.tensors[th].qzero) == (pytest.approx(1 / 128), 0)


def test_no_samples_warns_and_uses_seeded_random_inputs() -> None:
    b = Builder((1, 4, 4, 2))
    g = b.done(b.conv("x", 3))
    q1, warnings = quantize(g, None)
    q2, _ = quantize(g, [], seed=0)
    assert warnings == [NO_CALIB_WARNING]
    assert q1.tensors["t1"].qscale == q2.tensors["t1"].qscale
    assert q1.meta["quantization"]["calibrated"] is False


def test_unsupported_ops_all_listed() -> None:
    b = Builder((1, 4))
    h = b.op("hard_sigmoid", ["x"], alpha=0.2, beta=0.5)
    g = b.done(b.op("batch_norm", [h, b.const((4,)), b.const((4,)), b.const((4,)), b.const((4,))], epsilon=1e-5))
    with pytest.raises(UnsupportedError) as err:
        quantize(g, samples_for(g))
    msg = str(err.value)
    assert "hard_sigmoid" in msg and "batch_norm" in msg and "2 unsupported" in msg


def test_unknown_observer_errors() -> None:
    b = Builder((1, 4))
    with pytest.raises(EdgecError, match="unknown observer"):
        quantize(b.done(b.op("relu", ["x"])), None, observer="kl")


def test_does_not_modify_input_graph() -> None:
    b = Builder((1, 4, 4, 2))
    g = b.done(b.conv("x", 3))
    before = g.tensors["c1"].data.copy()
    quantize(g, samples_for(g))
    assert g.tensors["x"].dtype == "float32" and g.tensors["c1"].dtype == "float32"
    np.testing.assert_array_equal(g.tensors["c1"].data, before)


# -- observers ---------------------------------------------------------------------------------------


def test_percentile_ignores_outliers_minmax_does_not() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=200_000).astype(np.float32)
    values[:3] = [80.0, -60.0, 100.0]
    mm, pc = MinMaxObserver(), PercentileObserver(99.9)
    for chunk in np.split(values, 4):
        mm.update("t", chunk)
        pc.update("t", chunk)
    assert mm.range("t") == (-60.0, 100.0)
    lo, hi = pc.range("t")
    assert 2.5 < hi < 4.0 and -4.0 < lo < -2.5


def test_percentile_observer_bounds_memory() -> None:
    pc = PercentileObserver(99.0, max_values=1000, seed=0)
    for _ in range(10):
        pc.update("t", np.random.default_rng(1).uniform(-1, 1, 5000))
    lo, hi = pc.range("t")
    assert sum(c.size for c in pc._chunks["t"]) <= 2 * 1000 + 5000
    assert -1.0 <= lo < -0.9 and 0.9 < hi <= 1.0


def test_percentile_observer_gives_finer_scale_with_outlier_inputs() -> None:
    b = Builder((1, 16))
    g = b.done(b.op("fully_connected", ["x", b.const((4, 16)), b.const((4,))], act=None))
    samples = samples_for(g, 64)
    samples[0]["x"][0, 0] = 50.0
    q_mm, _ = quantize(g, samples, observer="minmax")
    q_pc, _ = quantize(g, samples, observer="percentile", percentile=99.0)
    assert q_pc.tensors["x"].qscale < q_mm.tensors["x"].qscale / 10


# -- accuracy of small graphs ------------------------------------------------------------------------


def test_conv_relu_close_to_float() -> None:
    b = Builder((1, 8, 8, 3))
    g = b.done(b.conv(b.conv("x", 8, act=RELU), 4, act=(0.0, 6.0)))
    assert_close_to_float(g, samples_for(g))


def test_conv_strided_grouped_close_to_float() -> None:
    b = Builder((1, 9, 9, 4))
    w = b.const((6, 3, 3, 2))
    y = b.op("conv2d", ["x", w, ""], stride=(2, 2), dilation=(1, 1), pad=(1, 1, 1, 1), groups=2, act=None)
    g = b.done(y)
    assert_close_to_float(g, samples_for(g))


def test_depthwise_close_to_float() -> None:
    b = Builder((1, 8, 8, 4))
    y = b.op(
        "depthwise_conv2d",
        ["x", b.const((1, 3, 3, 8)), b.const((8,))],
        stride=(1, 1),
        dilation=(1, 1),
        pad=(1, 1, 1, 1),
        depth_multiplier=2,
        act=RELU,
    )
    g = b.done(y)
    assert_close_to_float(g, samples_for(g))


def test_fully_connected_close_to_float() -> None:
    b = Builder((1, 32))
    h = b.op("fully_connected", ["x", b.const((16, 32)), b.const((16,))], act=RELU)
    g = b.done(b.op("fully_connected", [h, b.const((10, 16)), b.const((10,))], act=None))
    assert_close_to_float(g, samples_for(g))


def test_add_mul_with_constant_close_to_float() -> None:
    b = Builder((1, 4, 4, 8))
    c1 = b.conv("x", 8)
    c2 = b.conv("x", 8, act=RELU)
    s = b.op("add", [c1, c2], act=None)
    m = b.op("mul", [s, b.const((8,), 1.0)], act=None)
    g = b.done(b.op("sub", [m, c2], act=None))
    assert_close_to_float(g, samples_for(g))


def test_concat_requantizes_inputs_and_close_to_float() -> None:
    b = Builder((1, 4, 4, 3))
    a = b.conv("x", 4, act=RELU)
    c = b.conv("x", 5, act=None)
    cat = b.op("concat", [a, c, "x"], axis=3, act=None)
    g = b.done(b.conv(cat, 4))
    q = assert_close_to_float(g, samples_for(g))
    concat = next(n for n in q.nodes if n.op == "concat")
    out = q.tensors[concat.outputs[0]]
    for name in concat.inputs:
        t = q.tensors[name]
        assert (t.qscale, t.qzero) == (out.qscale, out.qzero)
    assert sum(n.op == "quantize" for n in q.nodes) >= 2


def test_pools_mean_pad_resize_close_to_float() -> None:
    b = Builder((1, 8, 8, 4))
    c = b.conv("x", 6, act=RELU)
    mp = b.op("max_pool2d", [c], kernel=(2, 2), stride=(2, 2), pad=(0, 0, 0, 0), act=None)
    ap = b.op("avg_pool2d", [mp], kernel=(3, 3), stride=(1, 1), pad=(1, 1, 1, 1), act=None)
    pd = b.op("pad", [ap], pads=((0, 0), (1, 1), (1, 1), (0, 0)), value=0.0)
    rs = b.op("resize_nearest", [pd], size=(12, 12))
    tr = b.op("transpose", [rs], perm=(0, 3, 1, 2))
    mn = b.op("mean", [rs], axes=(1, 2), keepdims=True)
    g = b.done(mn, tr)
    assert_close_to_float(g, samples_for(g))


def test_softmax_logistic_tanh_close_to_float() -> None:
    b = Builder((1, 10))
    h = b.op("fully_connected", ["x", b.const((10, 10), 1.0), b.const((10,))], act=None)
    g = b.done(b.op("softmax", [h], axis=-1, beta=1.0), b.op("logistic", [h]), b.op("tanh", [h]))
    assert_close_to_float(g, samples_for(g, 16))


def test_hard_swish_and_leaky_relu_close_to_float() -> None:
    b = Builder((1, 6, 6, 3))
    c = b.conv("x", 8)
    hs = b.op("hard_swish", [c])
    g = b.done(b.op("leaky_relu", [hs], alpha=0.1))
    assert_close_to_float(g, samples_for(g, 8, lo=-3, hi=3))


def test_standalone_relu_relu6_clip_close_to_float() -> None:
    b = Builder((1, 4, 4, 4))
    c = b.conv("x", 4)
    g = b.done(b.op("relu", [c]), b.op("relu6", [c]), b.op("clip", [c], min=-0.5, max=0.5))
    assert_close_to_float(g, samples_for(g))


# -- bundled models --------------------------------------------------------------------------------

BUNDLED_MODELS = [
    "ds_cnn",
    "resnet8",
    "mobilenet_v1_w0.25_r96",
    "digits_cnn",
    "mcunet",
    "mobilenet_v2_w0.35_r144",
    "mobilenet_v2_w1.0_r224",
]
MODEL_MIN_COSINE = 0.97


def _model_cosines(name: str, calib: int, evals: int) -> list[float]:
    from edgec.frontends import load_model
    from edgec.passes import optimize
    from models.zoo import onnx_path

    g = optimize(load_model(onnx_path(name)))
    q, warnings = quantize(g, samples_for(g, calib, seed=10))
    assert warnings == []
    cosines = []
    for sample in samples_for(g, evals, seed=20):
        ref, got = run(g, sample), run_dequantized(q, sample)
        cosines += [cosine(ref[o], got[o]) for o in g.outputs]
    print(f"{name}: int8 vs float cosine {', '.join(f'{c:.4f}' for c in cosines)}")
    return cosines


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_bundled_model_int8_close_to_float(name: str) -> None:
    """Seeded uniform calibration and evaluation inputs; the cosines are printed (pytest -s)."""
    assert min(_model_cosines(name, calib=8, evals=2)) >= MODEL_MIN_COSINE


def test_digits_heldout_cosine_and_accuracy() -> None:
    from edgec.calibration import load_calibration, samples_from_arrays
    from edgec.frontends import load_model
    from edgec.passes import optimize
    from models.zoo import DIGITS_DIR, onnx_path

    g = optimize(load_model(onnx_path("digits_cnn")))
    q, warnings = quantize(g, load_calibration(DIGITS_DIR / "calib.npz", g))
    assert warnings == []
    with np.load(DIGITS_DIR / "heldout.npz") as data:
        labels = data["y"][:150]
        heldout = samples_from_arrays({g.inputs[0]: data["x"][:150]}, g)
    (out,) = g.outputs
    ref = np.concatenate([run(g, s)[out] for s in heldout])
    got = np.concatenate([run_dequantized(q, s)[out] for s in heldout])
    cosines = [cosine(a, b) for a, b in zip(ref, got)]
    print(f"digits_cnn held-out: mean cosine {np.mean(cosines):.5f}, min {np.min(cosines):.5f}")
    assert np.mean(cosines) >= 0.98
    float_acc, int8_acc = np.mean(ref.argmax(1) == labels), np.mean(got.argmax(1) == labels)
    assert int8_acc >= float_acc - 0.02


def test_accuracy_bench_drop_within_one_point() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_accuracy", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up while the class is created
    spec.loader.exec_module(bench)
    rows = bench.evaluate(bench.DIGITS / "digits_cnn.onnx", bench.DIGITS / "calib.npz", bench.DIGITS / "heldout.npz")
    assert [r.observer for r in rows] == ["minmax", "percentile"]
    for row in rows:
        assert row.float_top1 > 90.0
        assert row.drop <= bench.MAX_DROP_POINTS
        assert row.mean_cosine >= 0.99
