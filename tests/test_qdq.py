"""Tests for lifting QDQ ONNX models to int8 graphs (edgec.passes.qdq.lift_qdq)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.frontends.onnx import load_onnx
from edgec.passes.qdq import lift_qdq
from edgec.passes.quantize import quantize
from edgec.reference import run

ort = pytest.importorskip("onnxruntime")
ortq = pytest.importorskip("onnxruntime.quantization")


def _init(rng: np.random.Generator, name: str, shape: tuple[int, ...], scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((rng.normal(size=shape) * scale).astype(np.float32), name)


def _model(nodes, inits, in_shape, out_shapes: dict[str, list[int]]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "qdq_test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in out_shapes.items()],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def float_cnn() -> onnx.ModelProto:
    """Conv+Relu, depthwise, MaxPool, 1x1 conv, residual Add, GlobalAveragePool, Flatten, Gemm."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p", "w3", "b3"], ["c3"]),
        helper.make_node("Add", ["c3", "p"], ["a"]),
        helper.make_node("GlobalAveragePool", ["a"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    inits = [
        _init(rng, "w1", (8, 3, 3, 3)),
        _init(rng, "b1", (8,), 0.1),
        _init(rng, "w2", (8, 1, 3, 3)),
        _init(rng, "b2", (8,), 0.1),
        _init(rng, "w3", (8, 8, 1, 1)),
        _init(rng, "b3", (8,), 0.1),
        _init(rng, "wf", (10, 8)),
        _init(rng, "bf", (10,), 0.1),
    ]
    return _model(nodes, inits, (1, 3, 8, 8), {"y": [1, 10]})


def calib_inputs(n: int = 16, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32) for _ in range(n)]


class _Reader(ortq.CalibrationDataReader):
    def __init__(self, inputs: list[np.ndarray]) -> None:
        self._it = iter([{"x": x} for x in inputs])

    def get_next(self):
        return next(self._it, None)


def ort_qdq(model: onnx.ModelProto, tmp_path: Path, activation_type=None) -> onnx.ModelProto:
    src, dst = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    onnx.save(model, src)
    ortq.quantize_static(
        str(src),
        str(dst),
        _Reader(calib_inputs()),
        quant_format=ortq.QuantFormat.QDQ,
        activation_type=activation_type or ortq.QuantType.QInt8,
        weight_type=ortq.QuantType.QInt8,
        per_channel=True,
    )
    return onnx.load(dst)


def run_ort(model: onnx.ModelProto, x_nchw: np.ndarray) -> np.ndarray:
    """Run the QDQ model as written (DQ -> float op -> Q).

    Basic graph optimizations only: with ORT_ENABLE_ALL, onnxruntime 1.32 fuses the QDQ groups
    into its own integer kernels, whose output on ``float_cnn`` differs by up to 43 LSB both from
    the unfused QDQ semantics and from TFLite-style integer arithmetic (the unfused run and the
    int8 reference agree within 1 LSB), so the fused path is not a useful oracle.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x_nchw})[0]


def to_int8(q, name: str, real: np.ndarray) -> np.ndarray:
    t = q.tensors[name]
    return np.clip(np.round(real / t.qscale) + t.qzero, -128, 127).astype(np.int8)


def assert_int8_graph(q) -> None:
    assert not any(n.op == "dequantize" for n in q.nodes), q.summary()
    assert all(q.tensors[o].dtype == "int8" for n in q.nodes for o in n.outputs)
    assert all(q.tensors[i].dtype == "int8" for i in q.inputs + q.outputs)


@pytest.mark.parametrize("activation", ["QInt8", "QUInt8"])
def test_ort_qdq_cnn_lifts_to_int8_close_to_onnxruntime(tmp_path: Path, activation: str) -> None:
    qdq_model = ort_qdq(float_cnn(), tmp_path, getattr(ortq.QuantType, activation))
    q = lift_qdq(load_onnx(qdq_model))
    assert_int8_graph(q)
    ops = [n.op for n in q.nodes]
    assert ops.count("conv2d") == 2 and "depthwise_conv2d" in ops and "fully_connected" in ops
    assert "quantize" not in ops  # every Q/DQ pair was absorbed
    conv = next(n for n in q.nodes if n.op == "conv2d")
    w, b = q.tensors[conv.inputs[1]], q.tensors[conv.inputs[2]]
    assert w.dtype == "int8" and w.axis == 0 and w.scale.size == 8
    assert b.dtype == "int32"
    np.testing.assert_allclose(b.scale, q.tensors[conv.inputs[0]].qscale * w.scale, rtol=1e-5)
    (x_name,), (y_name,) = q.inputs, q.outputs
    worst = 0
    for x in calib_inputs(8, seed=7):
        x_q = to_int8(q, x_name, x.transpose(0, 2, 3, 1))
        ours = run(q, {x_name: x_q})[y_name].astype(np.int32)
        theirs = to_int8(q, y_name, run_ort(qdq_model, x)).astype(np.int32)
        worst = max(worst, int(np.abs(ours - theirs).max()))
    assert worst <= 2, f"int8 reference differs from onnxruntime by {worst} LSB"


def _qdq(name: str, scale: float, zp: int, out: str | None = None) -> tuple[list, list]:
    """Q then DQ of activation ``name`` (int8, per-tensor); returns (nodes, initializers)."""
    s, z = f"{name}_s", f"{name}_z"
    nodes = [
        helper.make_node("QuantizeLinear", [name, s, z], [f"{name}_q"]),
        helper.make_node("DequantizeLinear", [f"{name}_q", s, z], [out or f"{name}_dq"]),
    ]
    inits = [numpy_helper.from_array(np.array(scale, np.float32), s), numpy_helper.from_array(np.array(zp, np.int8), z)]
    return nodes, inits


def handmade_qdq_model() -> onnx.ModelProto:
    """Hand-built QDQ: per-tensor int8 weight, float bias, unquantized Relu after Conv, Concat, Softmax."""
    rng = np.random.default_rng(3)
    w = np.clip(np.round(rng.normal(size=(4, 3, 3, 3)) * 40), -127, 127).astype(np.int8)
    nodes, inits = _qdq("x", 2 / 255, 0)
    nodes += [
        helper.make_node("DequantizeLinear", ["w_q", "w_s"], ["w"]),
        helper.make_node("Conv", ["x_dq", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
    ]
    inits += [
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(np.array(0.01, np.float32), "w_s"),
        numpy_helper.from_array(rng.normal(size=4).astype(np.float32) * 0.1, "b"),
    ]
    n, i = _qdq("r", 0.03, -128)
    nodes += n
    inits += i
    nodes.append(helper.make_node("Concat", ["r_dq", "x_dq"], ["cat"], axis=1))
    n, i = _qdq("cat", 0.04, -60)
    nodes += n
    inits += i
    nodes.append(helper.make_node("GlobalAveragePool", ["cat_dq"], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    n, i = _qdq("flat", 0.02, -50)
    nodes += n
    inits += i
    nodes.append(helper.make_node("Softmax", ["flat_dq"], ["sm"], axis=-1))
    n, i = _qdq("sm", 1 / 255, -128, out="y")
    nodes += n
    inits += i
    return _model(nodes, inits, (1, 3, 6, 6), {"y": [1, 7]})


def test_handmade_qdq_fuses_relu_expands_weight_scale_and_fixes_softmax_params() -> None:
    model = handmade_qdq_model()
    q = lift_qdq(load_onnx(model))
    assert not any(n.op == "dequantize" for n in q.nodes), q.summary()
    conv = next(n for n in q.nodes if n.op == "conv2d")
    assert conv.attrs["act"] == (0.0, float("inf"))
    w = q.tensors[conv.inputs[1]]
    assert w.scale.size == 4 and np.allclose(w.scale, 0.01) and w.axis == 0
    assert q.tensors[conv.inputs[2]].dtype == "int32"
    concat = next(n for n in q.nodes if n.op == "concat")
    out = q.tensors[concat.outputs[0]]
    assert all((q.tensors[i].qscale, q.tensors[i].qzero) == (out.qscale, out.qzero) for i in concat.inputs)
    softmax = next(n for n in q.nodes if n.op == "softmax")
    sm_out = q.tensors[softmax.outputs[0]]
    assert sm_out.qscale == pytest.approx(1 / 256) and sm_out.qzero == -128
    # the model asked for 1/255: a requantize node follows the softmax
    (y,) = q.outputs
    assert q.tensors[y].qscale == pytest.approx(1 / 255) and q.producer(y).op == "quantize"
    rng = np.random.default_rng(5)
    for _ in range(4):
        x = rng.uniform(-1, 1, (1, 3, 6, 6)).astype(np.float32)
        ours = run(q, {q.inputs[0]: to_int8(q, q.inputs[0], x.transpose(0, 2, 3, 1))})[y].astype(np.int32)
        theirs = to_int8(q, y, run_ort(model, x)).astype(np.int32)
        assert np.abs(ours - theirs).max() <= 2


def test_quantize_on_qdq_graph_lifts_instead_of_calibrating(tmp_path: Path) -> None:
    g = load_onnx(ort_qdq(float_cnn(), tmp_path))
    q, warnings = quantize(g, None)
    assert warnings == []
    assert_int8_graph(q)


def test_unliftable_op_stays_float_between_dequantize_and_quantize() -> None:
    nodes, inits = _qdq("x", 2 / 255, 0)
    nodes.append(helper.make_node("HardSigmoid", ["x_dq"], ["h"]))
    n, i = _qdq("h", 1 / 255, -128, out="y")
    model = _model(nodes + n, inits + i, (1, 4), {"y": [1, 4]})
    q = lift_qdq(load_onnx(model))
    ops = [n.op for n in q.nodes]
    assert ops == ["dequantize", "hard_sigmoid", "quantize"]
    x = np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4)
    ours = run(q, {q.inputs[0]: to_int8(q, q.inputs[0], x)})[q.outputs[0]].astype(np.int32)
    theirs = to_int8(q, q.outputs[0], run_ort(model, x)).astype(np.int32)
    assert np.abs(ours - theirs).max() <= 1


def test_lifting_after_optimize_matches_lifting_before(tmp_path: Path) -> None:
    from edgec.passes import optimize

    g = load_onnx(ort_qdq(float_cnn(), tmp_path))
    direct = lift_qdq(g)
    after_optimize, _ = quantize(optimize(g), None)
    assert [n.op for n in after_optimize.nodes] == [n.op for n in direct.nodes]
    x = np.random.default_rng(9).integers(-128, 128, direct.tensors[direct.inputs[0]].shape, dtype=np.int8)
    a = run(direct, {direct.inputs[0]: x})[direct.outputs[0]]
    b = run(after_optimize, {after_optimize.inputs[0]: x})[after_optimize.outputs[0]]
    np.testing.assert_array_equal(a, b)
