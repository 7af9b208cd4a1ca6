"""Tests for lifting QDQ ONNX models to int8 graphs (edgec.passes.qdq.lift_qdq) and quantizing
the float islands lifting leaves (edgec.passes.float_islands)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.errors import UnsupportedError
from edgec.frontends.onnx import load_onnx
from edgec.lowering import lower_model
from edgec.passes.qdq import lift_qdq
from edgec.passes.quantize import NO_CALIB_WARNING, quantize
from edgec.reference import run
from edgec.runner import run_host_binary
from edgec.tensor_io import from_model_output, to_model_input

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


# -- float islands: float ops the QDQ model leaves between a DequantizeLinear and a QuantizeLinear -----

ISLAND_IN_SHAPE = (1, 4, 8, 8)
ISLAND_SEMANTICS_MAX_LSB = 1  # output steps from onnxruntime running the island quantized as edgec did
ISLAND_MIN_COSINE = 0.98


def island_inputs(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, ISLAND_IN_SHAPE).astype(np.float32) for _ in range(n)]


def _island_graph(quantized: dict[str, tuple[float, int]]) -> onnx.ModelProto:
    """x -> Conv -> HardSwish -> Conv -> HardSwish -> ReduceMean -> Flatten -> Gemm -> y_f.

    Each tensor named in ``quantized`` gets a Q/DQ pair with the given (scale, zero point); with
    x, c1, flat and y_f quantized, HardSwish -> Conv -> HardSwish -> ReduceMean -> Flatten is a
    float island (its Conv reads DequantizeLinear'd int8 weights, as onnxruntime writes them).
    """
    rng = np.random.default_rng(11)
    nodes, inits = [], [numpy_helper.from_array(np.array(0.01, np.float32), "w_s")]
    for w, shape in (("w1", (8, 4, 3, 3)), ("w2", (8, 8, 1, 1)), ("wf", (5, 8))):
        data = np.clip(np.round(rng.normal(size=shape) * 40), -127, 127).astype(np.int8)
        inits.append(numpy_helper.from_array(data, f"{w}_q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{w}_q", "w_s"], [w]))
    for b, size in (("b1", 8), ("b2", 8), ("bf", 5)):
        inits.append(numpy_helper.from_array((rng.normal(size=size) * 0.1).astype(np.float32), b))

    def read(name: str) -> str:
        """The name a reader of ``name`` uses: its DequantizeLinear output when it is quantized."""
        if name not in quantized:
            return name
        n, i = _qdq(name, *quantized[name])
        nodes.extend(n)
        inits.extend(i)
        return f"{name}_dq"

    nodes.append(helper.make_node("Conv", [read("x"), "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("HardSwish", [read("c1")], ["h1"]))
    nodes.append(helper.make_node("Conv", [read("h1"), "w2", "b2"], ["c2"]))
    nodes.append(helper.make_node("HardSwish", [read("c2")], ["h2"]))
    nodes.append(helper.make_node("ReduceMean", [read("h2")], ["m"], axes=[2, 3], keepdims=1))
    nodes.append(helper.make_node("Flatten", [read("m")], ["flat"]))
    nodes.append(helper.make_node("Gemm", [read("flat"), "wf", "bf"], ["y_f"], transB=1))
    out = "y_f"
    if "y_f" in quantized:
        n, i = _qdq("y_f", *quantized["y_f"], out="y")
        nodes += n
        inits += i
        out = "y"
    return _model(nodes, inits, ISLAND_IN_SHAPE, {out: [1, 5]})


def _minmax_params(values: np.ndarray) -> tuple[float, int]:
    """What a MinMax static quantizer picks: int8 covering [min, max] widened to include 0."""
    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(np.round(-128 - lo / scale), -128, 127))


def float_island_model() -> onnx.ModelProto:
    """The QDQ model of ``_island_graph`` with a float island; boundary parameters chosen as a
    MinMax quantizer would, from onnxruntime running the float model on ``island_inputs``."""
    probe = _island_graph({})
    probe.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in ("c1", "flat"))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    runs = [sess.run(None, {"x": x}) for x in island_inputs(16, seed=21)]
    y, c1, flat = (np.stack([r[k] for r in runs]) for k in range(3))
    params = {"x": (2 / 255, 0), "c1": _minmax_params(c1), "flat": _minmax_params(flat), "y_f": _minmax_params(y)}
    return _island_graph(params)


def _onnx_params(model: onnx.ModelProto, tensor: str) -> tuple[float, int]:
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == tensor)
    return float(inits[q.input[1]]), int(inits[q.input[2]])


def _nhwc_samples(xs: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    return [{"x": x.transpose(0, 2, 3, 1)} for x in xs]


def _island_as_quantized_by(q, model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with Q/DQ pairs also on the island tensors h1, c2, h2, at the parameters edgec chose:
    onnxruntime running it is the oracle for the int8 semantics of the quantized island."""
    ops = [n for n in q.nodes if n.op in ("hard_swish", "conv2d")]  # conv c1, hard_swish h1, conv c2, hard_swish h2
    params = {k: _onnx_params(model, k) for k in ("x", "c1", "flat", "y_f")}
    for key, node in zip(("h1", "c2", "h2"), ops[1:]):
        t = q.tensors[node.outputs[0]]
        params[key] = (t.qscale, t.qzero)
    return _island_graph(params)


def _compare_with_onnxruntime(q, model: onnx.ModelProto, xs: list[np.ndarray]) -> tuple[int, float]:
    """(worst |edgec - onnxruntime on the island quantized like edgec| in output steps,
    worst cosine between edgec's real output and onnxruntime's on the QDQ model as given)."""
    quantized_island = _island_as_quantized_by(q, model)
    (x_name,), (y_name,) = q.inputs, q.outputs
    t = q.tensors[y_name]
    worst, worst_cos = 0, 1.0
    for x in xs:
        ours = run(q, {x_name: to_int8(q, x_name, x.transpose(0, 2, 3, 1))})[y_name].astype(np.int32)
        same_island = to_int8(q, y_name, run_ort(quantized_island, x)).astype(np.int32)
        worst = max(worst, int(np.abs(ours - same_island).max()))
        mine, real = ((ours - t.qzero) * t.qscale).ravel(), run_ort(model, x).ravel()
        worst_cos = min(worst_cos, float(mine @ real / (np.linalg.norm(mine) * np.linalg.norm(real))))
    return worst, worst_cos


def test_float_island_is_calibrated_and_keeps_the_qdq_boundary_params() -> None:
    """HardSwish/Conv/HardSwish/ReduceMean/Flatten left float by the QDQ model become int8 ops.

    The island reads the int8 tensor c1 with c1's QDQ parameters, its last free tensor (the mean,
    reshaped by Flatten) takes flat's QuantizeLinear parameters, and the Conv inside keeps the
    model's int8 weights.  Two oracles, both onnxruntime:

    * the int8 semantics: onnxruntime running the model with Q/DQ on the island tensors too, at
      the parameters edgec chose, is within ISLAND_SEMANTICS_MAX_LSB (1) output step -- the same
      agreement lifted QDQ ops have (one rounding may flip where float sums differ);
    * the accuracy: cosine >= ISLAND_MIN_COSINE with onnxruntime running the QDQ model as given
      (island in float).  Not a step bound: rounding three island tensors moves this output by up
      to ~4 steps in onnxruntime itself (its quantized-island run vs its float-island run), so a
      step bound would measure the island's quantization, not edgec.
    """
    model = float_island_model()
    q, warnings = quantize(load_onnx(model), _nhwc_samples(island_inputs(16, seed=21)))
    assert warnings == []
    assert_int8_graph(q)
    assert [n.op for n in q.nodes] == [
        "conv2d", "hard_swish", "conv2d", "hard_swish", "mean", "reshape", "fully_connected"
    ]  # fmt: skip
    entry = next(n for n in q.nodes if n.op == "hard_swish")
    c1 = q.tensors[entry.inputs[0]]
    assert (c1.qscale, c1.qzero) == pytest.approx(_onnx_params(model, "c1"))
    mean = next(n for n in q.nodes if n.op == "mean")
    m = q.tensors[mean.outputs[0]]
    assert (m.qscale, m.qzero) == pytest.approx(_onnx_params(model, "flat"))
    island_conv = [n for n in q.nodes if n.op == "conv2d"][1]
    w = q.tensors[island_conv.inputs[1]]
    w2 = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "w2_q"))
    np.testing.assert_array_equal(w.data, w2.transpose(0, 2, 3, 1))
    assert np.allclose(w.scale, 0.01)
    assert q.meta["quantization"]["calibrated"] and q.meta["quantization"]["island_tensors_calibrated"] == 3
    steps, cos = _compare_with_onnxruntime(q, model, island_inputs(8, seed=22))
    assert steps <= ISLAND_SEMANTICS_MAX_LSB, f"{steps} output steps from onnxruntime on the same quantized island"
    assert cos >= ISLAND_MIN_COSINE, f"cosine {cos:.4f} with onnxruntime on the QDQ model"


def test_float_island_without_calibration_data_warns() -> None:
    model = float_island_model()
    q, warnings = quantize(load_onnx(model), None)
    assert warnings == [NO_CALIB_WARNING]
    assert_int8_graph(q)
    assert not q.meta["quantization"]["calibrated"]
    steps, cos = _compare_with_onnxruntime(q, model, island_inputs(8, seed=22))
    assert steps <= ISLAND_SEMANTICS_MAX_LSB
    assert cos >= ISLAND_MIN_COSINE, f"cosine {cos:.4f} with onnxruntime on the QDQ model"


def test_float_island_op_without_int8_kernel_is_reported() -> None:
    nodes, inits = _qdq("x", 2 / 255, 0)
    nodes.append(helper.make_node("HardSigmoid", ["x_dq"], ["h"]))
    n, i = _qdq("h", 1 / 255, -128, out="y")
    model = _model(nodes + n, inits + i, (1, 4), {"y": [1, 4]})
    with pytest.raises(UnsupportedError, match=r"'HardSigmoid_\d+' \(hard_sigmoid\) has no int8 kernel"):
        quantize(load_onnx(model), None)


def test_float_island_builds_for_host_bit_exact_with_the_int8_reference(tmp_path: Path) -> None:
    model = float_island_model()
    onnx.save(model, tmp_path / "island_qdq.onnx")
    np.savez(tmp_path / "calib.npz", x=np.concatenate(island_inputs(16, seed=21)))  # NCHW, as torch users have it
    build_model(tmp_path / "island_qdq.onnx", BuildOptions(target="host", out_dir=tmp_path / "out", calib=tmp_path / "calib.npz"))
    build = load_build(tmp_path / "out")
    assert build.summary["warnings"] == []
    graph = build.graph
    assert not graph.is_float() and "hard_swish" in [n.op for n in graph.nodes]
    outputs = set()
    for x in island_inputs(4, seed=23):
        x_q = to_model_input(x, build.inputs[0])
        want = run(graph, {graph.inputs[0]: x_q})[graph.outputs[0]]
        got, _ = run_host_binary(build, x_q)
        np.testing.assert_array_equal(got, want.reshape(got.shape))
        y, real = from_model_output(got, build.outputs[0]).ravel(), run_ort(model, x).ravel()
        assert float(y @ real / (np.linalg.norm(y) * np.linalg.norm(real))) >= ISLAND_MIN_COSINE
        outputs.add(got.tobytes())
    assert len(outputs) > 1


def test_corpus_qdq_model_island_keeps_the_model_params() -> None:
    """torch_flatten_hardswish_qdq (onnxruntime's quantize_static) leaves HardSwish -> ReduceMean ->
    Reshape float; its build, bit-exactness and distance to onnxruntime are tests/test_corpus.py's."""
    path = Path(__file__).resolve().parents[1] / "models" / "corpus" / "torch_flatten_hardswish_qdq.onnx"
    lowered = lower_model(path)
    q, model = lowered.graph, onnx.load(path)
    assert lowered.warnings == [NO_CALIB_WARNING]
    assert_int8_graph(q)
    hs = q.node("n0_3")
    assert hs.op == "hard_swish"
    t = q.tensors[hs.inputs[0]]
    assert (t.qscale, t.qzero) == pytest.approx(_onnx_params(model, "getitem_6"))
    mean = next(n for n in q.nodes if n.op == "mean")
    t = q.tensors[mean.outputs[0]]
    assert (t.qscale, t.qzero) == pytest.approx(_onnx_params(model, "view"))


def test_float_island_at_the_graph_input_quantizes_the_input_from_calibration() -> None:
    """HardSwish reads the float model input (no QuantizeLinear before it): the input itself gets
    calibrated int8 parameters and stays float for the user.  Bound: the input rounding (<= 0.5 of
    ~2/255 on [-1, 1]) through hard_swish's slope (<= 1.5 there) is < 0.6 of h's 0.01 step, plus
    one rounding of the int8 kernel: <= 2 steps."""
    n, i = _qdq("h", 0.01, -100)
    n2, i2 = _qdq("r", 0.01, -128, out="y")
    nodes = [helper.make_node("HardSwish", ["x"], ["h"]), *n, helper.make_node("Relu", ["h_dq"], ["r"]), *n2]
    model = _model(nodes, i + i2, (1, 16), {"y": [1, 16]})
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 16)
    q, warnings = quantize(load_onnx(model), [{"x": x}])
    assert warnings == []
    assert_int8_graph(q)
    assert [n.op for n in q.nodes] == ["hard_swish", "relu"]
    assert q.meta["io_dtypes"][q.inputs[0]] == "float32"
    ours = run(q, {q.inputs[0]: to_int8(q, q.inputs[0], x)})[q.outputs[0]].astype(np.int32)
    theirs = to_int8(q, q.outputs[0], run_ort(model, x)).astype(np.int32)
    assert np.abs(ours - theirs).max() <= 2
