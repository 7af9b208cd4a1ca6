"""Slicing/splitting, gather, maximum/minimum, reduce_max and the dilated-conv fold (SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND).

* int8 TFLite fixtures made by the real converter (``tests/fixtures/ops/``,
  see ``make_op_models.py``) built for the host, layer by layer and with
  ``--schedule auto``: every output element equals LiteRT ``BUILTIN_REF``.
  (The numpy reference is checked on the same fixtures, every op, by
  ``test_int8_kernels.py``.)
* float ONNX models (Split as torch.chunk/torch.split export it, Slice, Max,
  Min) match onnxruntime within a tolerance relative to the output range, and
  their calibrated int8 host builds equal the int8 reference.
* a SPACE_TO_BATCH_ND that is not around a conv is refused with one line;
* the mixed model also runs as Cortex-M4 firmware in QEMU, bit-exact.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from onnx import helper

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.errors import EdgecError
from edgec.frontends.onnx import load_onnx
from edgec.frontends.tflite import load_tflite
from edgec.reference import run
from edgec.runner import run_build, run_host_binary
from tests.onnx_builders import assert_matches_onnxruntime, make_model, rng_weights

FIXTURES = Path(__file__).parent / "fixtures"
# One-input fixtures (the C back end takes one input): two mixed models cover the ops and the
# geometries together (one host build each); the single-op fixtures are checked op by op against
# LiteRT through the reference in test_int8_kernels.py, and the C kernels by the vectors.
HOST_MODELS = [
    "ops_b_mix2",  # dilated depthwise fold, maximum(x, const), reversed/strided slice, gather, reduce_max x2, shrink
    "strided_slice_2d",  # a rank-2 view
    "gather_scalar_2d",  # a scalar index on a rank-3 tensor
]
SEEDS = range(4)


def _litert(path: Path) -> Interpreter:
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    return interp


def _litert_run(interp: Interpreter, feeds: list[np.ndarray]) -> np.ndarray:
    for detail, x in zip(interp.get_input_details(), feeds):
        interp.set_tensor(detail["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).copy()


def _random_int8(interp: Interpreter, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=d["shape"], dtype=np.int8) for d in interp.get_input_details()]


def _host_matches_litert(path: Path, out: Path, schedule: str | None = None) -> None:
    build_model(path, BuildOptions(target="host", out_dir=out, schedule=schedule))
    build = load_build(out)
    interp = _litert(path)
    for seed in SEEDS:
        (x,) = _random_int8(interp, seed)
        expected = _litert_run(interp, [x])
        got, _ = run_host_binary(build, x)
        assert np.array_equal(got.reshape(expected.shape), expected), f"{path.stem} seed {seed}"


@pytest.mark.parametrize("name", HOST_MODELS)
def test_tflite_host_build_matches_litert(tmp_path: Path, name: str) -> None:
    _host_matches_litert(FIXTURES / "ops" / f"{name}.tflite", tmp_path / name)


def test_dilated_conv_pattern_becomes_one_dilated_conv() -> None:
    """SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND is read as one conv with dilation and SAME padding."""
    for name, op, dilation, pad in [
        ("s2b_conv_b2s_same", "conv2d", (2, 2), (2, 2, 2, 2)),
        ("s2b_conv_b2s_rate3", "conv2d", (3, 3), (3, 3, 3, 3)),
        ("s2b_conv_b2s_valid", "conv2d", (2, 2), (0, 0, 0, 0)),
        ("s2b_dw_b2s_same", "depthwise_conv2d", (2, 2), (2, 2, 2, 2)),
    ]:
        graph = load_tflite(FIXTURES / "ops" / f"{name}.tflite")
        (node,) = graph.nodes
        assert (node.op, node.attrs["dilation"], node.attrs["pad"]) == (op, dilation, pad), name


def test_lone_space_to_batch_is_refused() -> None:
    with pytest.raises(EdgecError) as e:
        load_tflite(FIXTURES / "unsupported" / "space_to_batch_alone.tflite")
    assert "SPACE_TO_BATCH_ND" in str(e.value) and "\n" not in str(e.value)


def test_mixed_model_builds_with_schedule_auto(tmp_path: Path) -> None:
    """conv, split, maximum/minimum, concat, strided slice, the dilated-conv pattern under ``--schedule auto``:
    whole-tensor layers where they cannot be windowed, bit-exact with LiteRT."""
    _host_matches_litert(FIXTURES / "ops" / "ops_b_mix.tflite", tmp_path / "mix", "auto")


# -- ONNX --------------------------------------------------------------------------------------------


def _conv(seed: int, x: str, out: str, ci: int, co: int) -> tuple[onnx.NodeProto, dict]:
    w, b = f"w{seed}", f"b{seed}"
    node = helper.make_node("Conv", [x, w, b], [out], pads=[1, 1, 1, 1])
    return node, {w: rng_weights(seed, co, ci, 3, 3), b: rng_weights(seed + 100, co, scale=0.1)}


def _chunk_model() -> onnx.ModelProto:
    """conv -> torch.chunk(3, dim=1) as opset-18 Split(num_outputs) -> Max/Min -> Concat."""
    conv, inits = _conv(1, "x", "y", 3, 9)
    nodes = [
        conv,
        helper.make_node("Split", ["y"], ["a", "b", "c"], axis=1, num_outputs=3),
        helper.make_node("Max", ["a", "b"], ["m"]),
        helper.make_node("Min", ["b", "c", "k"], ["n"]),
        helper.make_node("Concat", ["m", "n"], ["z"], axis=1),
    ]
    inits["k"] = rng_weights(7, 3, 1, 1)
    return make_model(nodes, {"x": (1, 3, 8, 8)}, ["z"], inits, opset=18)


def _split_slice_model() -> onnx.ModelProto:
    """conv -> torch.split([2, 4], dim=1) (opset-13 Split with sizes) -> Slice with steps and INT64_MAX ends."""
    conv, inits = _conv(2, "x", "y", 2, 6)
    nodes = [
        conv,
        helper.make_node("Split", ["y", "sizes"], ["a", "b"], axis=1),
        helper.make_node("Slice", ["b", "starts", "ends", "axes", "steps"], ["s"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Slice", ["r", "starts", "ends", "axes", "steps"], ["t"]),
        helper.make_node("Concat", ["s", "t"], ["z"], axis=1),
    ]
    inits.update(
        sizes=np.array([2, 4], np.int64),
        starts=np.array([1, 0], np.int64),
        ends=np.array([np.iinfo(np.int64).max, 7], np.int64),
        axes=np.array([2, 3], np.int64),
        steps=np.array([2, 1], np.int64),
    )
    return make_model(nodes, {"x": (1, 2, 9, 7)}, ["z"], inits)


def _reduce_max_model(opset: int, axes: list[int], keepdims: int) -> onnx.ModelProto:
    """conv -> ReduceMax (axes as attribute before opset 18, as input from 18)."""
    conv, inits = _conv(3, "x", "y", 3, 5)
    if opset >= 18:
        inits["axes"] = np.array(axes, np.int64)
        reduce = helper.make_node("ReduceMax", ["y", "axes"], ["z"], keepdims=keepdims)
    else:
        reduce = helper.make_node("ReduceMax", ["y"], ["z"], axes=axes, keepdims=keepdims)
    return make_model([conv, reduce], {"x": (1, 3, 6, 7)}, ["z"], inits, opset=opset)


def _gather_model() -> onnx.ModelProto:
    """conv -> x[:, [3, 0, -1]] (channels) -> x[:, :, [4, 1]] (rows) -> x[:, 1] (a scalar index drops the axis)."""
    conv, inits = _conv(4, "x", "y", 2, 4)
    inits.update(channels=np.array([3, 0, -1], np.int64), rows=np.array([4, 1], np.int64), one=np.array(1, np.int64))
    nodes = [
        conv,
        helper.make_node("Gather", ["y", "channels"], ["a"], axis=1),
        helper.make_node("Gather", ["a", "rows"], ["b"], axis=2),
        helper.make_node("Gather", ["b", "one"], ["z"], axis=1),
    ]
    return make_model(nodes, {"x": (1, 2, 5, 6)}, ["z"], inits)


ONNX_MODELS = {
    "gather": _gather_model,
    "chunk_max_min": _chunk_model,
    "split_slice": _split_slice_model,
    "global_reduce_max": lambda: _reduce_max_model(13, [2, 3], 0),
    "channel_reduce_max": lambda: _reduce_max_model(18, [1], 0),
}


@pytest.mark.parametrize("name", sorted(ONNX_MODELS))
def test_onnx_float_matches_onnxruntime(name: str) -> None:
    model = ONNX_MODELS[name]()
    graph = load_onnx(model)
    assert {n.op for n in graph.nodes} & {"slice", "reduce_max", "gather"}
    assert_matches_onnxruntime(model, graph, seeds=(0, 1, 2), tol=1e-5)


@pytest.mark.parametrize("name", ["chunk_max_min", "gather", "split_slice"])
def test_onnx_int8_host_build_matches_reference(tmp_path: Path, name: str) -> None:
    model = ONNX_MODELS[name]()
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(5).standard_normal((8, *shape[1:])).astype(np.float32))
    build_model(path, BuildOptions(target="host", out_dir=tmp_path / "build", calib=calib))
    build = load_build(tmp_path / "build")
    graph = build.graph
    assert not graph.is_float()
    rng = np.random.default_rng(9)
    for _ in SEEDS:
        x = rng.integers(-128, 128, size=graph.tensors[graph.inputs[0]].shape, dtype=np.int8)
        expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        got, _ = run_host_binary(build, x)
        assert np.array_equal(got, expected.reshape(got.shape))


def test_negative_step_slice_matches_onnxruntime() -> None:
    """x[..., ::-1] and x[:, :, 4:0:-2] as ONNX Slice with negative steps (INT64_MIN end, as exporters write)."""
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])]
    inits = {
        "starts": np.array([-1, 4], np.int64),
        "ends": np.array([np.iinfo(np.int64).min, 0], np.int64),
        "axes": np.array([3, 2], np.int64),
        "steps": np.array([-1, -2], np.int64),
    }
    model = make_model(nodes, {"x": (1, 2, 5, 4)}, ["y"], inits)
    graph = load_onnx(model)
    assert [n.op for n in graph.nodes] == ["slice"]
    assert_matches_onnxruntime(model, graph, seeds=(0, 1))


def test_onnxruntime_qdq_model_lifts_to_int8_close_to_onnxruntime(tmp_path: Path) -> None:
    """The chunk/Max/Min model quantized by onnxruntime's static quantizer (QDQ) lifts to an all-int8 graph."""
    from edgec.passes.qdq import lift_qdq
    from tests.test_qdq import assert_int8_graph, calib_inputs, ort_qdq, run_ort, to_int8

    model = _chunk_model()
    model = helper.make_model(model.graph, opset_imports=[helper.make_opsetid("", 18)])
    qdq = ort_qdq(model, tmp_path)
    q = lift_qdq(load_onnx(qdq))
    assert_int8_graph(q)
    assert {"slice", "maximum", "minimum"} <= {n.op for n in q.nodes}
    (x_name,), (y_name,) = q.inputs, q.outputs
    worst = 0
    for x in calib_inputs(6, seed=11):
        ours = run(q, {x_name: to_int8(q, x_name, x.transpose(0, 2, 3, 1))})[y_name].astype(np.int32)
        theirs = to_int8(q, y_name, run_ort(qdq, x).transpose(0, 2, 3, 1)).astype(np.int32)
        worst = max(worst, int(np.abs(ours - theirs).max()))
    assert worst <= 2, f"int8 reference differs from onnxruntime by {worst} LSB"


@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc and qemu-system-arm are needed for the Cortex-M4 firmware",
)
def test_mixed_model_in_qemu_cortex_m4_matches_litert(tmp_path: Path) -> None:
    """The same mixed model as firmware for qemu-cortex-m4, run in QEMU: bit-exact with LiteRT."""
    path = FIXTURES / "ops" / "ops_b_mix.tflite"
    build_model(path, BuildOptions(target="qemu-cortex-m4", out_dir=tmp_path / "m4"))
    build = load_build(tmp_path / "m4")
    interp = _litert(path)
    (x,) = _random_int8(interp, 3)
    expected = _litert_run(interp, [x])
    assert np.array_equal(run_build(build, x).reshape(expected.shape), expected)


# -- a model exported by torch.onnx.export (tests/fixtures/make_torch_models.py) ------------------

TORCH_MODEL = FIXTURES / "torch" / "chunk_split_max_min.onnx"


def test_torch_export_matches_onnxruntime_with_slices_folded() -> None:
    """torch.chunk (Slice x3), torch.split (Split), x[:, 1:3, 1:, ::2] (Slice x3), amax, x[:, [5, 0]]."""
    from edgec.passes import optimize

    model = onnx.load(TORCH_MODEL)
    graph = optimize(load_onnx(model))
    ops = [n.op for n in graph.nodes]
    # chunk's first piece and split's first piece are one slice; the three chained Slices are one
    assert ops.count("slice") == 4 and {"maximum", "minimum", "reduce_max", "gather"} <= set(ops), ops
    assert_matches_onnxruntime(model, graph, seeds=(0, 1, 2), tol=1e-5)


def test_torch_export_int8_host_build_matches_reference(tmp_path: Path) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(5).standard_normal((8, 3, 6, 6)).astype(np.float32))
    build_model(TORCH_MODEL, BuildOptions(target="host", out_dir=tmp_path / "build", calib=calib))
    build = load_build(tmp_path / "build")
    graph = build.graph
    rng = np.random.default_rng(2)
    for _ in SEEDS:
        x = rng.integers(-128, 128, size=graph.tensors[graph.inputs[0]].shape, dtype=np.int8)
        expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        got, _ = run_host_binary(build, x)
        assert np.array_equal(got, expected.reshape(got.shape))
