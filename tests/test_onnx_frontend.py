"""ONNX frontend: every supported op against onnxruntime, layouts, and error reporting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_builders import assert_matches_onnxruntime, make_model, rng_weights

from edgec.errors import EdgecError, ModelError, UnsupportedError
from edgec.frontends import load_model
from edgec.frontends.onnx import load_onnx
from edgec.passes import optimize

X = (1, 4, 9, 9)


def node(op: str, inputs: list[str], outputs: list[str], **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


def check(nodes, inputs, outputs, inits=None, opset=13, optimized=True):
    model = make_model(nodes, inputs, outputs, inits, opset=opset)
    graph = load_onnx(model)
    assert_matches_onnxruntime(model, graph, seeds=(0, 1))
    if optimized:
        assert_matches_onnxruntime(model, optimize(graph), seeds=(0,))
    return graph


def ops_of(graph) -> list[str]:
    return [n.op for n in graph.nodes]


# -- convolution ----------------------------------------------------------------------------------

CONV_CASES = {
    "stride2_asym_pads_bias": ({"strides": [2, 2], "pads": [1, 0, 2, 1]}, (6, 4, 3, 3), True),
    "same_upper_stride2": ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, (6, 4, 3, 3), False),
    "same_lower_stride2": ({"strides": [2, 2], "auto_pad": "SAME_LOWER"}, (6, 4, 4, 4), True),
    "valid": ({"auto_pad": "VALID"}, (5, 4, 3, 2), True),
    "dilated": ({"dilations": [2, 2], "pads": [2, 2, 2, 2]}, (3, 4, 3, 3), True),
    "grouped": ({"group": 2, "pads": [1, 1, 1, 1]}, (6, 2, 3, 3), True),
    "pointwise": ({}, (8, 4, 1, 1), False),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv(case):
    attrs, wshape, with_bias = CONV_CASES[case]
    inits = {"w": rng_weights(1, *wshape)}
    inputs = ["x", "w"]
    if with_bias:
        inits["b"] = rng_weights(2, wshape[0])
        inputs.append("b")
    graph = check([node("Conv", inputs, ["y"], **attrs)], {"x": X}, ["y"], inits)
    assert ops_of(graph) == ["conv2d"]
    assert graph.meta["layouts"] == {"x": "NCHW", "y": "NCHW"}


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_conv(multiplier):
    w = rng_weights(3, 4 * multiplier, 1, 3, 3)
    graph = check(
        [node("Conv", ["x", "w", "b"], ["y"], group=4, strides=[2, 1], pads=[0, 1, 1, 1])],
        {"x": X},
        ["y"],
        {"w": w, "b": rng_weights(4, 4 * multiplier)},
    )
    assert ops_of(graph) == ["depthwise_conv2d"]
    assert graph.tensors[graph.nodes[0].inputs[1]].shape == (1, 3, 3, 4 * multiplier)


# -- dense ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "wshape", "cshape"),
    [
        ({"transB": 1}, (5, 12), (5,)),
        ({}, (12, 5), (1, 5)),
        ({"transB": 1, "alpha": 0.5, "beta": 2.0}, (5, 12), (5,)),
        ({"beta": 0.5}, (12, 5), (1, 1)),
    ],
)
def test_gemm(attrs, wshape, cshape):
    inits = {"w": rng_weights(5, *wshape), "c": rng_weights(6, *cshape)}
    check([node("Gemm", ["x", "w", "c"], ["y"], **attrs)], {"x": (1, 12)}, ["y"], inits)


def test_gemm_trans_a():
    nodes = [node("Transpose", ["x"], ["t"]), node("Gemm", ["t", "w"], ["y"], transA=1)]
    check(nodes, {"x": (1, 12)}, ["y"], {"w": rng_weights(7, 12, 5)})


@pytest.mark.parametrize("shape", [(1, 12), (1, 3, 12), (1, 2, 3, 12)])
def test_matmul(shape):
    check([node("MatMul", ["x", "w"], ["y"])], {"x": shape}, ["y"], {"w": rng_weights(8, 12, 7)})


def test_flatten_keeps_onnx_element_order_and_transpose_folds_away():
    nodes = [
        node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        node("Flatten", ["c"], ["f"]),
        node("Gemm", ["f", "fc", "fb"], ["y"], transB=1),
    ]
    inits = {"w": rng_weights(9, 3, 4, 3, 3), "fc": rng_weights(10, 10, 3 * 9 * 9), "fb": rng_weights(11, 10)}
    graph = check(nodes, {"x": X}, ["y"], inits)
    assert ops_of(graph) == ["conv2d", "transpose", "reshape", "fully_connected"]
    assert ops_of(optimize(graph)) == ["conv2d", "reshape", "fully_connected"]


def test_pytorch_style_flatten_through_shape_ops():
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes0"], ["n1"]),
        node("Concat", ["n1", "minus1"], ["spec"], axis=0),
        node("Reshape", ["x", "spec"], ["f"]),
        node("MatMul", ["f", "w"], ["y"]),
    ]
    inits = {
        "zero": np.array(0, np.int64),
        "axes0": np.array([0], np.int64),
        "minus1": np.array([-1], np.int64),
        "w": rng_weights(12, 4 * 81, 6),
    }
    check(nodes, {"x": X}, ["y"], inits)


# -- elementwise ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "attrs"),
    [
        ("Relu", {}),
        ("LeakyRelu", {"alpha": 0.2}),
        ("Sigmoid", {}),
        ("Tanh", {}),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
        ("HardSwish", {}),
        ("Identity", {}),
        ("Dropout", {}),
    ],
)
def test_unary(op_type, attrs):
    check([node(op_type, ["x"], ["y"], **attrs)], {"x": X}, ["y"], opset=14)


@pytest.mark.parametrize(("lo", "hi", "op"), [(0.0, 6.0, "relu6"), (-0.5, 0.7, "clip"), (0.0, None, "relu")])
def test_clip_with_input_bounds(lo, hi, op):
    inits = {"lo": np.array(lo, np.float32)}
    inputs = ["x", "lo"]
    if hi is not None:
        inits["hi"] = np.array(hi, np.float32)
        inputs.append("hi")
    graph = check([node("Clip", inputs, ["y"])], {"x": X}, ["y"], inits, opset=11)
    assert ops_of(graph) == [op]


@pytest.mark.parametrize(
    ("op_type", "const_shape", "const_first"),
    [
        ("Add", (1, 4, 1, 1), False),
        ("Mul", (), False),
        ("Sub", (4, 1, 1), True),
        ("Div", (1, 4, 1, 1), False),
        ("Add", (9,), False),
        ("Mul", (1, 4, 9, 9), True),
    ],
)
def test_binary_with_constant(op_type, const_shape, const_first):
    k = rng_weights(13, *const_shape) + (3.0 if op_type == "Div" else 0.0)
    inputs = ["k", "x"] if const_first else ["x", "k"]
    check([node(op_type, inputs, ["y"])], {"x": X}, ["y"], {"k": np.asarray(k, np.float32)})


def test_binary_activations_of_different_rank():
    nodes = [node("Relu", ["x"], ["r"]), node("Add", ["r", "v"], ["y"])]
    check(nodes, {"x": X, "v": (1, 9)}, ["y"])


def test_concat_channels_and_height():
    nodes = [
        node("Relu", ["x"], ["a"]),
        node("Concat", ["a", "x"], ["c"], axis=1),
        node("Concat", ["c", "k"], ["y"], axis=-2),
    ]
    check(nodes, {"x": X}, ["y"], {"k": rng_weights(14, 1, 8, 2, 9)})


# -- pooling and reductions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "attrs"),
    [
        ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("MaxPool", {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 2]}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
        ("GlobalAveragePool", {}),
        ("GlobalMaxPool", {}),
    ],
)
def test_pooling(op_type, attrs):
    check([node(op_type, ["x"], ["y"], **attrs)], {"x": X}, ["y"])


@pytest.mark.parametrize(("axes", "keepdims"), [([2, 3], 1), ([2, 3], 0), ([2], 0), ([1], 0), ([1, 3], 1)])
def test_reduce_mean(axes, keepdims):
    check([node("ReduceMean", ["x"], ["y"], axes=axes, keepdims=keepdims)], {"x": X}, ["y"])


def test_reduce_mean_opset18_axes_input():
    nodes = [node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)]
    check(nodes, {"x": X}, ["y"], {"axes": np.array([2, 3], np.int64)}, opset=18)


# -- data movement --------------------------------------------------------------------------------


def test_channel_shuffle_reshape_transpose():
    nodes = [
        node("Reshape", ["x", "s1"], ["a"]),
        node("Transpose", ["a"], ["b"], perm=[0, 2, 1, 3, 4]),
        node("Reshape", ["b", "s2"], ["y"]),
    ]
    inits = {"s1": np.array([1, 2, 2, 9, 9], np.int64), "s2": np.array([1, 4, 9, 9], np.int64)}
    check(nodes, {"x": X}, ["y"], inits)


def test_transpose_4d_and_squeeze_unsqueeze():
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        node("Unsqueeze", ["t", "ax"], ["u"]),
        node("Squeeze", ["u", "ax"], ["y"]),
    ]
    check(nodes, {"x": X}, ["y"], {"ax": np.array([2], np.int64)})


@pytest.mark.parametrize("shape", [(1, 10), (1, 10, 1, 1)])
def test_softmax(shape):
    check([node("Softmax", ["x"], ["y"], axis=1)], {"x": shape}, ["y"])


def test_batch_normalization():
    c = 4
    inits = {
        "g": rng_weights(15, c),
        "b": rng_weights(16, c),
        "m": rng_weights(17, c),
        "v": np.abs(rng_weights(18, c)) + 0.5,
    }
    check([node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], epsilon=1e-3)], {"x": X}, ["y"], inits)


def test_pad_constant_value():
    pads = np.array([0, 1, 2, 0, 0, 2, 1, 3], np.int64)
    nodes = [node("Pad", ["x", "p", "v"], ["y"], mode="constant")]
    graph = check(nodes, {"x": X}, ["y"], {"p": pads, "v": np.array(0.5, np.float32)})
    assert graph.nodes[0].attrs["pads"] == ((0, 0), (2, 1), (0, 3), (1, 2))


@pytest.mark.parametrize("use_sizes", [False, True])
def test_resize_nearest(use_sizes):
    if use_sizes:
        inputs, inits = ["x", "", "", "sz"], {"sz": np.array([1, 4, 18, 27], np.int64)}
    else:
        inputs, inits = ["x", "", "sc"], {"sc": np.array([1, 1, 2, 2], np.float32)}
    graph = check([node("Resize", inputs, ["y"], mode="nearest")], {"x": X}, ["y"], inits)
    assert ops_of(graph) == ["resize_nearest"]


# -- quantization ---------------------------------------------------------------------------------


def test_qdq_is_translated_with_quantization_parameters():
    wq = np.random.default_rng(0).integers(-127, 128, (6, 4, 3, 3)).astype(np.int8)
    wscale = np.linspace(0.01, 0.02, 6).astype(np.float32)
    nodes = [
        node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
        node("Conv", ["xd", "w"], ["y"]),
    ]
    inits = {
        "xs": np.array(0.05, np.float32),
        "xz": np.array(3, np.int8),
        "wq": wq,
        "ws": wscale,
        "wz": np.zeros(6, np.int8),
    }
    graph = load_onnx(make_model(nodes, {"x": X}, ["y"], inits))
    assert ops_of(graph) == ["quantize", "dequantize", "dequantize", "conv2d"]
    xq = graph.tensors["xq"]
    assert (xq.dtype, xq.qscale, xq.qzero) == ("int8", np.float32(0.05), 3)
    weight_q = graph.tensors[graph.nodes[2].inputs[0]]
    assert weight_q.dtype == "int8" and weight_q.axis == 0 and weight_q.shape == (6, 3, 3, 4)
    np.testing.assert_array_equal(weight_q.data, wq.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(weight_q.scale, wscale)


def test_quantize_kernel_rounds_half_to_even_like_onnxruntime():
    from onnx_builders import run_onnxruntime

    from edgec.reference.float_ops import quantize_array

    x = (np.arange(-40, 40, dtype=np.float32) * 0.25).reshape(1, 80)
    model = make_model([node("QuantizeLinear", ["x", "s", "z"], ["y"])], {"x": x.shape}, ["y"],
                       {"s": np.array(0.5, np.float32), "z": np.array(-3, np.int8)})
    expected = run_onnxruntime(model, {"x": x})[0]
    actual = quantize_array(x, np.array([0.5], np.float32), np.array([-3]), None, "int8")
    np.testing.assert_array_equal(actual, expected)


# -- errors ---------------------------------------------------------------------------------------


def _one_line(err: Exception) -> str:
    message = str(err)
    assert "\n" not in message
    return message


def test_truncated_file(tmp_path):
    model = make_model([node("Conv", ["x", "w"], ["y"])], {"x": X}, ["y"], {"w": rng_weights(1, 6, 4, 3, 3)})
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString()[:-37])
    with pytest.raises(ModelError) as err:
        load_model(path)
    assert "model.onnx" in _one_line(err.value)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096).astype(np.uint8).tobytes())
    with pytest.raises(ModelError) as err:
        load_model(path)
    assert "not a valid ONNX or TFLite model" in _one_line(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope.onnx")


def test_all_unsupported_ops_reported_at_once():
    nodes = [node("Erf", ["x"], ["a"]), node("Relu", ["a"], ["b"]), node("Floor", ["b"], ["y"])]
    with pytest.raises(UnsupportedError) as err:
        load_onnx(make_model(nodes, {"x": X}, ["y"]))
    message = _one_line(err.value)
    assert "node 'erf_a' (Erf)" in message and "node 'floor_y' (Floor)" in message
    assert len(err.value.problems) == 2


def test_dynamic_batch_and_batch_2():
    nodes = [node("Relu", ["x"], ["y"]), node("Relu", ["z"], ["w"])]
    with pytest.raises(UnsupportedError) as err:
        load_onnx(make_model(nodes, {"x": ("N", 4, 9, 9), "z": (2, 4)}, ["y", "w"]))
    message = _one_line(err.value)
    assert "input 'x'" not in message  # a dynamic batch is built for 1
    assert "input 'z' has batch size 2" in message


def test_dynamic_non_batch_dimension_needs_input_shape():
    nodes = [node("Relu", ["x"], ["y"])]
    model = make_model(nodes, {"x": ("N", 4, "H", 9)}, ["y"])
    with pytest.raises(EdgecError) as err:
        load_onnx(model)
    message = _one_line(err.value)
    assert "input 'x' has dynamic shape [N, 4, H, 9]" in message and "--input-shape x=1x4xNx9" in message
    graph = load_onnx(model, {"x": (1, 4, 5, 9)})
    assert graph.tensors["x"].shape == (1, 5, 9, 4) and graph.meta["batch"]["dynamic"]
    for bad, needle in [({"y": (1, 4, 5, 9)}, "not an input"), ({"x": (1, 4, 5)}, "rank"), ({"x": (1, 3, 5, 9)}, "contradicts")]:
        with pytest.raises(EdgecError, match=needle):
            load_onnx(model, bad)


def test_missing_dim_value_in_batch_is_dynamic():
    model = make_model([node("Relu", ["x"], ["y"])], {"x": (1, 4, 9, 9)}, ["y"])
    model.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    graph = load_onnx(model)
    assert graph.meta["batch"] == {"dynamic": True, "built_for": 1} and graph.tensors["x"].shape == (1, 9, 9, 4)


def test_batch_flatten_through_shape_subgraph_with_dynamic_batch():
    """``x.view(x.size(0), -1)`` as the TorchScript exporter writes it, with a symbolic batch."""
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Concat", ["n1", "minus_one"], ["spec"], axis=0),
        node("Reshape", ["x", "spec"], ["flat"]),
        node("Size", ["flat"], ["size"]),
        node("Range", ["zero", "size_i", "one"], ["r"]),
        node("Relu", ["flat"], ["y"]),
    ]
    inits = {
        "zero": np.asarray(0, np.int64),
        "one": np.asarray(1, np.int64),
        "axes": np.asarray([0], np.int64),
        "minus_one": np.asarray([-1], np.int64),
        "size_i": np.asarray(5, np.int64),
    }
    model = make_model(nodes, {"x": ("batch", 4, 3, 3)}, ["y"], inits)
    graph = load_onnx(model)
    assert graph.tensors["y"].shape == (1, 36)
    assert {n.op for n in graph.nodes} <= {"transpose", "reshape", "relu"}


def test_non_constant_weights_and_ceil_mode():
    nodes = [
        node("Reshape", ["wflat", "wshape"], ["wx"]),
        node("Conv", ["x", "wx"], ["c"]),
        node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    ]
    inits = {"wshape": np.array([6, 4, 3, 3], np.int64)}
    with pytest.raises(UnsupportedError) as err:
        load_onnx(make_model(nodes, {"x": X, "wflat": (1, 216)}, ["c", "y"], inits))
    message = _one_line(err.value)
    assert "non-constant weights 'wx'" in message and "ceil_mode=1" in message


def test_load_model_reads_onnx_file(tmp_path):
    model = make_model([node("Relu", ["x"], ["y"])], {"x": X}, ["y"])
    path = tmp_path / "relu.onnx"
    onnx.save(model, path)
    graph = load_model(path)
    assert ops_of(graph) == ["relu"] and graph.tensors["x"].shape == (1, 9, 9, 4)


def test_empty_node_names_are_synthesized():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    graph = load_onnx(make_model(nodes, {"x": X}, ["y"]))
    names = [n.name for n in graph.nodes]
    assert len(set(names)) == 2 and all(names)


def test_numpy_helper_roundtrip_of_int_inputs():
    """Integer graph inputs keep their dtype (e.g. uint8 images feeding DequantizeLinear)."""
    nodes = [node("DequantizeLinear", ["x", "s", "z"], ["y"])]
    model = make_model(nodes, {"x": X}, ["y"], {"s": np.array(0.1, np.float32), "z": np.array(128, np.uint8)},
                       input_types={"x": TensorProto.UINT8})
    graph = load_onnx(model)
    x = graph.tensors["x"]
    assert (x.dtype, x.qzero) == ("uint8", 128)


# -- bundled models -------------------------------------------------------------------------------


def _zoo_names() -> list[str]:
    try:
        from models import zoo
    except ImportError:
        return []
    return zoo.list_models()


@pytest.mark.parametrize("name", _zoo_names())
def test_bundled_model_matches_onnxruntime(name):
    from models import zoo

    path = zoo.onnx_path(name)
    model = onnx.load(path)
    graph = optimize(load_model(path))
    assert not any(n.op in ("batch_norm", "identity", "dropout", "transpose") for n in graph.nodes)
    assert_matches_onnxruntime(model, graph, seeds=(0, 1))


def test_load_model_dispatches_tflite_by_content(tmp_path):
    source = Path(__file__).resolve().parents[1] / "models" / "tflite" / "resnet8.tflite"
    if not source.exists():
        pytest.skip("bundled TFLite model not present")
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(source.read_bytes())
    graph = load_model(renamed)
    assert any(n.op == "conv2d" for n in graph.nodes)


def test_shape_arithmetic_folds_and_matches_onnxruntime():
    """Range, Cast, Expand, Tile, Mod, Max, Where, Equal, Neg, ReduceProd on shapes: all constant at batch 1."""
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Slice", ["s", "one_1d", "four_1d"], ["chw"]),
        node("ReduceProd", ["chw"], ["k"], axes=[0], keepdims=1),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Concat", ["n1", "k"], ["spec"], axis=0),
        node("Reshape", ["x", "spec"], ["flat"]),
        node("Size", ["x"], ["size"]),
        node("Range", ["zero", "size", "one"], ["idx"]),
        node("Mod", ["idx", "three"], ["m"]),
        node("Equal", ["m", "zero"], ["is_zero"]),
        node("Neg", ["idx"], ["neg"]),
        node("Where", ["is_zero", "neg", "idx"], ["mixed"]),
        node("Max", ["mixed", "minus_five"], ["clamped"]),
        node("Cast", ["clamped"], ["bias_1d"], to=TensorProto.FLOAT),
        node("Expand", ["bias_1d", "spec"], ["bias"]),
        node("Tile", ["tile_me", "tile_reps"], ["tiled"]),
        node("Add", ["flat", "bias"], ["b"]),
        node("Add", ["b", "tiled"], ["y"]),
    ]
    inits = {
        "zero": np.asarray(0, np.int64),
        "one": np.asarray(1, np.int64),
        "three": np.asarray(3, np.int64),
        "minus_five": np.asarray(-5, np.int64),
        "one_1d": np.asarray([1], np.int64),
        "four_1d": np.asarray([4], np.int64),
        "axes": np.asarray([0], np.int64),
        "tile_me": np.asarray([[0.5, -0.5]], np.float32),
        "tile_reps": np.asarray([1, 18], np.int64),
    }
    model = make_model(nodes, {"x": ("batch", 4, 3, 3)}, ["y"], inits)
    graph = load_onnx(model)
    assert {n.op for n in graph.nodes} <= {"transpose", "reshape", "add"}
    fixed = make_model(nodes, {"x": (1, 4, 3, 3)}, ["y"], inits)
    assert_matches_onnxruntime(fixed, graph, seeds=(0, 1))
