"""Graph passes: node counts before/after and numeric equivalence (float reference and onnxruntime)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from float_compare import assert_close
from onnx import helper
from onnx_builders import assert_matches_onnxruntime, make_model, random_feeds, rng_weights, run_edgec

from edgec.frontends.onnx import load_onnx
from edgec.ir.graph import Graph
from edgec.ir.ops import infer_shapes
from edgec.ir.tensor import Tensor
from edgec.passes import (
    fold_batch_norm,
    fold_constants,
    fold_pads,
    fold_transposes,
    fuse_activations,
    optimize,
    remove_dead_nodes,
    remove_noops,
)
from edgec.reference import run

X = (1, 4, 8, 8)


def node(op: str, inputs: list[str], outputs: list[str], **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


def ops_of(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def apply(graph_pass, nodes, inputs, outputs, inits=None):
    """Load, apply one pass, check the input graph is untouched and both agree with onnxruntime."""
    model = make_model(nodes, inputs, outputs, inits)
    before = load_onnx(model)
    snapshot = before.summary()
    after = graph_pass(before).verify()
    assert before.summary() == snapshot, "pass mutated its input"
    assert_matches_onnxruntime(model, before, seeds=(0,))
    assert_matches_onnxruntime(model, after, seeds=(0, 1))
    feeds = random_feeds(model, 3)
    for a, b in zip(run_edgec(before, feeds), run_edgec(after, feeds)):
        assert_close(a, b, 1e-4)
    return before, after


def bn_inits(c: int, seed: int = 20) -> dict[str, np.ndarray]:
    return {
        "g": rng_weights(seed, c),
        "b": rng_weights(seed + 1, c),
        "m": rng_weights(seed + 2, c),
        "v": np.abs(rng_weights(seed + 3, c)) + 0.5,
    }


# -- constant folding -----------------------------------------------------------------------------


def ir_graph() -> Graph:
    g = Graph()
    g.add_tensor(Tensor("x", (1, 4, 4, 3)))
    g.inputs = ["x"]
    return g


def add_node(g: Graph, op: str, inputs: list[str], out: str, **attrs) -> None:
    n = g.add_node(op, inputs, [out], name=f"n_{out}", **attrs)
    g.add_tensor(Tensor(out, infer_shapes(g, n)[0]))


def test_constant_folding_evaluates_constant_subgraphs():
    g = ir_graph()
    g.add_const("k1", np.full((3,), 2.0, np.float32))
    g.add_const("k2", np.arange(3, dtype=np.float32))
    add_node(g, "add", ["k1", "k2"], "k", act=None)
    add_node(g, "relu", ["k"], "kr")
    add_node(g, "mul", ["x", "kr"], "y", act=None)
    g.outputs = ["y"]
    folded = fold_constants(g.verify()).verify()
    assert ops_of(folded) == ["mul"]
    np.testing.assert_array_equal(folded.tensors["kr"].data, [2.0, 3.0, 4.0])
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(run(folded, x)["y"], run(g, x)["y"])


def test_constant_folding_keeps_quantize_nodes():
    g = ir_graph()
    g.add_const("w", np.ones((3,), np.float32))
    n = g.add_node("quantize", ["w"], ["wq"], name="q")
    g.add_tensor(Tensor("wq", (3,), "int8", scale=0.1, zero_point=0))
    assert infer_shapes(g, n)[0] == (3,)
    add_node(g, "dequantize", ["wq"], "wd")
    add_node(g, "add", ["x", "wd"], "y", act=None)
    g.outputs = ["y"]
    assert ops_of(fold_constants(g.verify())) == ["quantize", "dequantize", "add"]


# -- batch norm -----------------------------------------------------------------------------------


@pytest.mark.parametrize("producer", ["Conv", "DepthwiseConv", "Gemm"])
def test_batch_norm_folds_into_producer(producer):
    if producer == "Gemm":
        nodes = [node("Gemm", ["x", "w"], ["c"], transB=1), node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"])]
        inits = {"w": rng_weights(1, 6, 16), **bn_inits(6)}
        inputs = {"x": (1, 16)}
        expected_op = "fully_connected"
    else:
        group = 4 if producer == "DepthwiseConv" else 1
        w = rng_weights(1, 4, 1, 3, 3) if group == 4 else rng_weights(1, 6, 4, 3, 3)
        c = w.shape[0]
        nodes = [
            node("Conv", ["x", "w", "wb"], ["c"], group=group, pads=[1, 1, 1, 1]),
            node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"]),
        ]
        inits = {"w": w, "wb": rng_weights(2, c), **bn_inits(c)}
        inputs = {"x": X}
        expected_op = "depthwise_conv2d" if group == 4 else "conv2d"
    before, after = apply(fold_batch_norm, nodes, inputs, ["y"], inits)
    assert ops_of(before) == [expected_op, "batch_norm"]
    assert ops_of(after) == [expected_op]


def test_batch_norm_without_foldable_producer_becomes_scale_shift():
    nodes = [
        node("Conv", ["x", "w"], ["c"]),
        node("Relu", ["c"], ["r"]),
        node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"]),
        node("Add", ["n", "r"], ["y"]),
    ]
    inits = {"w": rng_weights(3, 4, 4, 1, 1), **bn_inits(4)}
    _, after = apply(fold_batch_norm, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["conv2d", "relu", "mul", "add", "add"]


# -- activation fusion ----------------------------------------------------------------------------


def test_activation_fuses_into_conv_and_add():
    nodes = [
        node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        node("Clip", ["c", "lo", "hi"], ["r"]),
        node("Add", ["r", "x"], ["a"]),
        node("Relu", ["a"], ["y"]),
    ]
    inits = {"w": rng_weights(4, 4, 4, 3, 3), "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)}
    _, after = apply(fuse_activations, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["conv2d", "add"]
    assert after.nodes[0].attrs["act"] == (0.0, 6.0)
    assert after.nodes[1].attrs["act"] == (0.0, math.inf)


def test_activation_not_fused_when_intermediate_is_shared():
    nodes = [node("Conv", ["x", "w"], ["c"]), node("Relu", ["c"], ["r"]), node("Add", ["r", "c"], ["y"])]
    _, after = apply(fuse_activations, nodes, {"x": X}, ["y"], {"w": rng_weights(5, 4, 4, 1, 1)})
    assert ops_of(after) == ["conv2d", "relu", "add"]


# -- pad folding ----------------------------------------------------------------------------------


def _pad_then(op_nodes, value: float = 0.0, pads=(0, 0, 1, 2, 0, 0, 2, 1)):
    return [node("Pad", ["x", "p", "pv"], ["xp"]), *op_nodes], {
        "p": np.array(pads, np.int64),
        "pv": np.array(value, np.float32),
    }


def test_zero_pad_folds_into_conv():
    nodes, inits = _pad_then([node("Conv", ["xp", "w"], ["y"], pads=[1, 0, 0, 1])])
    inits["w"] = rng_weights(6, 5, 4, 3, 3)
    _, after = apply(fold_pads, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["conv2d"]
    assert after.nodes[0].attrs["pad"] == (2, 2, 2, 2)


def test_nonzero_pad_and_avg_pool_keep_the_pad():
    nodes, inits = _pad_then([node("Conv", ["xp", "w"], ["y"])], value=1.0)
    inits["w"] = rng_weights(7, 5, 4, 3, 3)
    _, after = apply(fold_pads, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["pad", "conv2d"]
    nodes, inits = _pad_then([node("AveragePool", ["xp"], ["y"], kernel_shape=[3, 3])])
    _, after = apply(fold_pads, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["pad", "avg_pool2d"]


def test_channel_pad_does_not_fold():
    nodes, inits = _pad_then([node("Conv", ["xp", "w"], ["y"])], pads=(0, 1, 0, 0, 0, 1, 0, 0))
    inits["w"] = rng_weights(8, 5, 6, 1, 1)
    _, after = apply(fold_pads, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["pad", "conv2d"]


def test_minus_inf_pad_folds_into_max_pool():
    g = ir_graph()
    add_node(g, "pad", ["x"], "xp", pads=((0, 0), (1, 0), (0, 1), (0, 0)), value=-math.inf)
    add_node(g, "max_pool2d", ["xp"], "y", kernel=(2, 2), stride=(2, 2), pad=(0, 0, 0, 0), act=None)
    g.outputs = ["y"]
    after = fold_pads(g.verify()).verify()
    assert ops_of(after) == ["max_pool2d"] and after.nodes[0].attrs["pad"] == (1, 0, 0, 1)
    x = np.random.default_rng(1).standard_normal((1, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(run(after, x)["y"], run(g, x)["y"])


# -- no-ops, dead nodes, transposes ---------------------------------------------------------------


def test_noops_removed_and_reshapes_collapse():
    nodes = [
        node("Identity", ["x"], ["i"]),
        node("Dropout", ["i"], ["d"]),
        node("Reshape", ["d", "s1"], ["r1"]),
        node("Reshape", ["r1", "s2"], ["r2"]),
        node("Relu", ["r2"], ["q"]),
        node("Reshape", ["q", "s2"], ["r3"]),
        node("Identity", ["r3"], ["y"]),
    ]
    inits = {"s1": np.array([1, 256], np.int64), "s2": np.array([1, 16, 16], np.int64)}
    before, after = apply(remove_noops, nodes, {"x": X}, ["y"], inits)
    assert ops_of(before).count("identity") == 2
    assert ops_of(after) == ["transpose", "reshape", "relu"]
    assert after.outputs == ["y"]


def test_dead_nodes_removed():
    nodes = [node("Relu", ["x"], ["unused"]), node("Sigmoid", ["x"], ["y"])]
    _, after = apply(remove_dead_nodes, nodes, {"x": X}, ["y"])
    assert ops_of(after) == ["logistic"]


def test_cancelling_transposes_disappear():
    nodes = [
        node("Transpose", ["x"], ["t1"], perm=[0, 2, 3, 1]),
        node("Relu", ["t1"], ["r"]),
        node("Transpose", ["t1"], ["t2"], perm=[0, 3, 1, 2]),
        node("Add", ["t2", "x"], ["y0"]),
        node("Mul", ["y0", "r2"], ["y"]),
        node("Transpose", ["r"], ["r2"], perm=[0, 3, 1, 2]),
    ]
    # Put the last transpose before its use (ONNX requires topological order).
    nodes = nodes[:4] + [nodes[5], nodes[4]]
    before, after = apply(fold_transposes, nodes, {"x": X}, ["y"])
    assert ops_of(before).count("transpose") == 3
    # t1 -> t2 cancels; t1 (read by relu) and r2 (after relu) stay.
    assert ops_of(after) == ["transpose", "relu", "add", "transpose", "mul"]


def test_flatten_to_graph_output_keeps_transpose():
    _, after = apply(optimize, [node("Flatten", ["x"], ["y"])], {"x": X}, ["y"])
    assert ops_of(after) == ["transpose", "reshape"]


def test_optimize_full_block():
    nodes = [
        node("Pad", ["x", "p"], ["xp"]),
        node("Conv", ["xp", "w"], ["c"]),
        node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"]),
        node("Relu", ["n"], ["r"]),
        node("Flatten", ["r"], ["f"]),
        node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    inits = {
        "p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
        "w": rng_weights(9, 6, 4, 3, 3),
        **bn_inits(6),
        "fw": rng_weights(10, 3, 6 * 64),
        "fb": rng_weights(11, 3),
    }
    _, after = apply(optimize, nodes, {"x": X}, ["y"], inits)
    assert ops_of(after) == ["conv2d", "reshape", "fully_connected"]
    assert after.nodes[0].attrs["act"] == (0.0, math.inf)
