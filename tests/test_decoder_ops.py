"""Transposed convolution, PReLU, bilinear resize, depth/space reshuffles, end to end through both frontends.

* int8 TFLite: the single-op fixtures (``tests/fixtures/ops/``, made with the
  real converter) built for the host; every output element equals LiteRT's
  ``BUILTIN_REF`` kernels.  (The reference interpreter against the same
  oracle is ``test_int8_kernels.py``, which runs every fixture.)
* float ONNX: single-op models built with ``onnx.helper`` match onnxruntime
  within a tolerance relative to the output range; two small decoders using
  all the ops are quantized with calibration data, built for the host with
  ``--schedule auto`` and equal the int8 reference exactly.
* constructs edgec does not run are reported as unsupported, by name.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from onnx import helper
from onnx_builders import assert_matches_onnxruntime, make_model, rng_weights, run_onnxruntime

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.errors import UnsupportedError
from edgec.frontends.onnx import load_onnx
from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor
from edgec.passes import optimize
from edgec.reference import run
from edgec.runner import run_host_binary
from edgec.tensor_io import to_model_input

FIXTURES = Path(__file__).parent / "fixtures" / "ops"
# Host builds take seconds apiece: one chain holding every op (Keras Conv2DTranspose with fused relu,
# PReLU, half-pixel resize, depth/space reshuffles, squared difference, rsqrt, L2 normalization),
# then the variants the chain does not reach.  The C kernels meet every other geometry in the
# kernel vectors (test_c_kernels.py); every fixture runs through the reference interpreter against
# LiteRT in test_int8_kernels.py.
HOST_FIXTURES = [
    "decoder_chain",
    "transpose_conv1x1_s2_same",
    "resize_bilinear_align_corners",
    "resize_bilinear_asymmetric",
]
TFLITE_OPS = [FIXTURES / f"{name}.tflite" for name in HOST_FIXTURES]
HOST_INPUTS = 4
X = (1, 4, 5, 6)  # NCHW


def test_fixtures_present() -> None:
    assert all(p.is_file() for p in TFLITE_OPS)


@pytest.mark.parametrize("path", TFLITE_OPS, ids=lambda p: p.stem)
def test_tflite_host_build_matches_litert_reference(tmp_path: Path, path: Path) -> None:
    build_model(path, BuildOptions(target="host", out_dir=tmp_path / "out"))
    build = load_build(tmp_path / "out")
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    detail, out = interp.get_input_details()[0], interp.get_output_details()[0]
    rng = np.random.default_rng(11)
    outputs = set()
    for _ in range(HOST_INPUTS):
        x = rng.integers(-128, 128, size=tuple(detail["shape"]), dtype=np.int8)
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        expected = interp.get_tensor(out["index"])
        got, _ = run_host_binary(build, x)
        got = got.reshape(expected.shape)
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected), f"{path.stem}: {int(np.count_nonzero(got != expected))} elements differ"
        outputs.add(expected.tobytes())
    assert len(outputs) == HOST_INPUTS  # the output depends on the input


# -- float ONNX against onnxruntime -------------------------------------------------------------------


def node(op: str, inputs: list[str], outputs: list[str], **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op.lower()}_{outputs[0]}", **attrs)


def check(nodes, inputs, outputs, inits=None, opset=13):
    model = make_model(nodes, inputs, outputs, inits, opset=opset)
    graph = load_onnx(model)
    assert_matches_onnxruntime(model, graph, seeds=(0, 1))
    assert_matches_onnxruntime(model, optimize(graph), seeds=(0,))
    return graph


CONV_TRANSPOSE = {
    "stride2_pads_bias": ({"strides": [2, 2], "pads": [1, 1, 1, 1]}, (4, 6, 4, 4), True),
    "stride2_output_padding": ({"strides": [2, 2], "pads": [1, 0, 1, 2], "output_padding": [1, 1]}, (4, 3, 3, 3), True),
    "dilated_asymmetric_stride": ({"strides": [1, 2], "dilations": [2, 1]}, (4, 2, 3, 2), False),
    "same_upper": ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, (4, 5, 3, 3), True),
    "output_shape": ({"strides": [2, 2], "output_shape": [9, 11]}, (4, 4, 3, 3), True),
    "pointwise": ({}, (4, 3, 1, 1), False),
}


@pytest.mark.parametrize("case", CONV_TRANSPOSE)
def test_conv_transpose_matches_onnxruntime(case: str) -> None:
    attrs, wshape, with_bias = CONV_TRANSPOSE[case]
    inits = {"w": rng_weights(1, *wshape)}
    inputs = ["x", "w"]
    if with_bias:
        inits["b"] = rng_weights(2, wshape[1])
        inputs.append("b")
    graph = check([node("ConvTranspose", inputs, ["y"], **attrs)], {"x": X}, ["y"], inits)
    assert [n.op for n in graph.nodes] == ["transpose_conv2d"]


def test_relu_after_conv_transpose_is_fused() -> None:
    """A fused clamp lets the int8 output spend its range on the values the relu keeps."""
    inits = {"w": rng_weights(1, 4, 6, 3, 3), "b": rng_weights(2, 6)}
    nodes = [node("ConvTranspose", ["x", "w", "b"], ["t"], strides=[2, 2]), node("Relu", ["t"], ["y"])]
    graph = optimize(check(nodes, {"x": X}, ["y"], inits))
    assert [(n.op, n.attrs["act"]) for n in graph.nodes] == [("transpose_conv2d", (0.0, float("inf")))]


@pytest.mark.parametrize("slope_shape", [(4, 1, 1), (1,), (4, 5, 6), (5, 1)])
def test_prelu_matches_onnxruntime(slope_shape) -> None:
    slope = np.random.default_rng(3).uniform(-0.5, 0.8, size=slope_shape).astype(np.float32)
    graph = check([node("PRelu", ["x", "s"], ["y"])], {"x": X}, ["y"], {"s": slope})
    assert "prelu" in [n.op for n in graph.nodes]


RESIZE = {
    "pytorch_half_pixel_scales": ("pytorch_half_pixel", None, [1, 1, 2, 2]),
    "half_pixel_sizes_odd": ("half_pixel", [1, 4, 7, 12], None),
    "align_corners": ("align_corners", [1, 4, 7, 9], None),
    "asymmetric": ("asymmetric", None, [1, 1, 2, 3]),
    "half_pixel_down": ("half_pixel", [1, 4, 2, 3], None),
}


@pytest.mark.parametrize("case", RESIZE)
def test_resize_linear_matches_onnxruntime(case: str) -> None:
    coord, sizes, scales = RESIZE[case]
    if sizes is not None:
        inputs, inits = ["x", "", "", "sz"], {"sz": np.array(sizes, np.int64)}
    else:
        inputs, inits = ["x", "", "sc"], {"sc": np.array(scales, np.float32)}
    nodes = [node("Resize", inputs, ["y"], mode="linear", coordinate_transformation_mode=coord)]
    graph = check(nodes, {"x": X}, ["y"], inits)
    assert [n.op for n in graph.nodes] == ["resize_bilinear"]


@pytest.mark.parametrize("op_type,attrs", [("DepthToSpace", {"mode": "DCR"}), ("DepthToSpace", {"mode": "CRD"}), ("SpaceToDepth", {})])
def test_depth_space_matches_onnxruntime(op_type: str, attrs: dict) -> None:
    shape = (1, 8, 3, 4) if op_type == "DepthToSpace" else (1, 3, 4, 6)
    graph = check([node(op_type, ["x"], ["y"], blocksize=2, **attrs)], {"x": shape}, ["y"])
    assert [n.op for n in graph.nodes] == ["depth_to_space" if op_type == "DepthToSpace" else "space_to_depth"]


@pytest.mark.parametrize("shape,axis", [((1, 4, 5, 6), 1), ((1, 7), -1), ((1, 4, 5, 6), -3)])
def test_lp_normalization_matches_onnxruntime(shape, axis) -> None:
    graph = check([node("LpNormalization", ["x"], ["y"], p=2, axis=axis)], {"x": shape}, ["y"])
    assert [n.op for n in graph.nodes] == ["l2_normalization"]


def test_unsupported_variants_are_named() -> None:
    w = rng_weights(1, 4, 3, 3, 3)
    nodes = [
        node("ConvTranspose", ["x", "w"], ["t"], group=2),
        node("Resize", ["x", "", "sc"], ["r"], mode="linear", antialias=1),
        node("Resize", ["x", "", "sc2"], ["c"], mode="cubic"),
    ]
    inits = {"w": w, "sc": np.array([1, 1, 0.5, 0.5], np.float32), "sc2": np.array([1, 1, 2, 2], np.float32)}
    model = make_model(nodes, {"x": X}, ["t", "r", "c"], inits, opset=18)
    with pytest.raises(UnsupportedError) as err:
        load_onnx(model)
    text = str(err.value)
    assert "group=2" in text and "antialias=1" in text and "mode=cubic" in text
    model = make_model([node("LpNormalization", ["x"], ["y"], p=1, axis=1)], {"x": X}, ["y"])
    with pytest.raises(UnsupportedError, match="p=1"):
        load_onnx(model)


# -- a quantized decoder on the host ------------------------------------------------------------------


def decoder_model():
    """conv -> ConvTranspose (x2) -> PRelu -> conv -> Resize linear (x2) -> conv: every new op between
    ops the scheduler can window."""
    c = 6
    inits = {
        "w1": rng_weights(1, c, 4, 3, 3),
        "b1": rng_weights(2, c),
        "wt": rng_weights(3, c, 4, 4, 4),
        "bt": rng_weights(4, 4),
        "slope": np.random.default_rng(5).uniform(-0.3, 0.6, size=(4, 1, 1)).astype(np.float32),
        "w2": rng_weights(6, 5, 4, 3, 3),
        "sc": np.array([1, 1, 2, 2], np.float32),
        "w3": rng_weights(7, 3, 5, 1, 1),
    }
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        node("ConvTranspose", ["c1", "wt", "bt"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1]),
        node("PRelu", ["t", "slope"], ["p"]),
        node("Conv", ["p", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        node("Resize", ["c2", "", "sc"], ["r"], mode="linear", coordinate_transformation_mode="pytorch_half_pixel"),
        node("Conv", ["r", "w3"], ["y"]),
    ]
    return make_model(nodes, {"x": X}, ["y"], inits)


def pixel_shuffle_model():
    """conv -> DepthToSpace (CRD, PyTorch's PixelShuffle) -> conv -> SpaceToDepth -> conv."""
    inits = {
        "w1": rng_weights(11, 16, 4, 3, 3),
        "w2": rng_weights(12, 3, 4, 3, 3),
        "b2": rng_weights(13, 3),
        "w3": rng_weights(14, 5, 12, 1, 1),
    }
    nodes = [
        node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        node("DepthToSpace", ["c1"], ["d"], blocksize=2, mode="CRD"),
        node("Conv", ["d", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        node("SpaceToDepth", ["c2"], ["s"], blocksize=2),
        node("Conv", ["s", "w3"], ["y"]),
    ]
    return make_model(nodes, {"x": X}, ["y"], inits)


MODELS = {"decoder": decoder_model, "pixel_shuffle": pixel_shuffle_model}
NEW_OPS = {"transpose_conv2d", "prelu", "resize_bilinear", "depth_to_space", "space_to_depth"}
ALL_NEW_OPS = NEW_OPS | {"squared_difference", "rsqrt", "l2_normalization"}


@pytest.mark.parametrize("name", MODELS)
def test_quantized_decoder_host_build_matches_int8_reference(tmp_path: Path, name: str) -> None:
    """Built with ``--schedule auto``: the planner weighs patch stages and row segments around the
    new ops, which it runs whole (``test_scheduler_runs_the_new_ops_whole``)."""
    model = MODELS[name]()
    feeds = np.random.default_rng(9).uniform(-1, 1, size=(8, *X[1:])).astype(np.float32)
    path, calib = tmp_path / "decoder.onnx", tmp_path / "calib.npy"
    path.write_bytes(model.SerializeToString())
    np.save(calib, feeds)
    build_model(path, BuildOptions(target="host", out_dir=tmp_path / "out", calib=calib, schedule="auto"))
    build = load_build(tmp_path / "out")
    graph = build.graph
    assert len(NEW_OPS & {n.op for n in graph.nodes}) >= 2
    assert not graph.is_float()
    for seed in range(3):
        x_user = np.random.default_rng(seed).uniform(-1, 1, size=X).astype(np.float32)
        x = to_model_input(x_user, build.inputs[0])
        expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        got, _ = run_host_binary(build, x)
        assert np.array_equal(got, expected.reshape(got.shape)), f"seed {seed}: host build differs from reference"
        # and the int8 model still computes the float model's function
        scale, zp = build.outputs[0].scale, build.outputs[0].zero_point
        real = (expected.astype(np.float32) - zp) * scale
        want = run_onnxruntime(model, {"x": x_user})[0].transpose(0, 2, 3, 1).reshape(real.shape)
        cos = float(np.dot(real.ravel(), want.ravel()) / (np.linalg.norm(real) * np.linalg.norm(want)))
        assert cos > 0.98, f"seed {seed}: cosine {cos:.4f} to onnxruntime"


def test_scheduler_runs_the_new_ops_whole() -> None:
    """Neither patch stages nor row-streamed segments window these ops: they stay whole-tensor layers."""
    from edgec.schedule.patch import NotPatchable, check_patchable
    from edgec.schedule.rows import find_chains

    seen = set()
    for make in MODELS.values():
        graph = optimize(load_onnx(make()))
        for n in graph.nodes:
            if n.op in NEW_OPS:
                seen.add(n.op)
                with pytest.raises(NotPatchable):
                    check_patchable(graph, [n])
        in_chains = {graph.nodes[i].op for chain in find_chains(graph) for i in chain}
        assert not in_chains & NEW_OPS
    assert seen == NEW_OPS
    graph = distance_graph()
    for n in graph.nodes[1:]:
        if n.op in ALL_NEW_OPS:
            with pytest.raises(NotPatchable):
                check_patchable(graph, [n])


# -- squared difference and rsqrt: no ONNX op, so a float IR graph through the quantizer ---------------


def distance_graph() -> Graph:
    """x -> conv -> squared_difference(., c) -> add 0.1 -> rsqrt -> l2_normalization (float IR)."""
    g = Graph(name="distance")
    rng = np.random.default_rng(21)
    g.add_tensor(Tensor("x", (1, 5, 6, 4), "float32"))
    g.add_const("w", rng.normal(0, 0.5, (8, 3, 3, 4)).astype(np.float32))
    g.add_const("centre", rng.normal(0, 0.5, (1, 1, 1, 8)).astype(np.float32))
    g.add_const("eps", np.full((1,), 0.1, np.float32))
    for name in ("c", "d", "e", "r", "y"):
        g.add_tensor(Tensor(name, (1, 5, 6, 8), "float32"))
    g.add_node("conv2d", ["x", "w", ""], ["c"], stride=(1, 1), dilation=(1, 1), pad=(1, 1, 1, 1), groups=1, act=None)
    g.add_node("squared_difference", ["c", "centre"], ["d"])
    g.add_node("add", ["d", "eps"], ["e"], act=None)
    g.add_node("rsqrt", ["e"], ["r"])
    g.add_node("l2_normalization", ["r"], ["y"], axis=-1, epsilon=1e-6)
    g.inputs, g.outputs = ["x"], ["y"]
    return g.verify()


def test_quantized_distance_graph_tracks_float_and_runs_bit_exact_on_host(tmp_path: Path) -> None:
    from edgec.compiler import BUILD_FILE, _build_into
    from edgec.lowering import LoweredModel
    from edgec.passes.quantize import quantize
    from edgec.progress import QUIET
    from edgec.targets import load_target

    graph = distance_graph()
    rng = np.random.default_rng(4)
    samples = [{"x": rng.uniform(-1, 1, (1, 5, 6, 4)).astype(np.float32)} for _ in range(16)]
    qgraph, warnings = quantize(graph, samples)
    assert not warnings
    ops = {n.op for n in qgraph.nodes}
    assert {"squared_difference", "rsqrt", "l2_normalization"} <= ops
    out = qgraph.tensors["y"]
    assert (out.qscale, out.qzero) == (1.0 / 128.0, 0)
    out_dir = tmp_path / "build"
    out_dir.mkdir()
    lowered = LoweredModel(qgraph, Path("distance.ir"), "0" * 64)
    summary = _build_into(out_dir, lowered, load_target("host"), BuildOptions(target="host", out_dir=out_dir), QUIET)
    (out_dir / BUILD_FILE).write_text(json.dumps(summary))
    build = load_build(out_dir)
    x_spec = qgraph.tensors["x"]
    for seed in range(3):
        x = np.random.default_rng(100 + seed).uniform(-1, 1, (1, 5, 6, 4)).astype(np.float32)
        xq = np.clip(np.round(x / x_spec.qscale) + x_spec.qzero, -128, 127).astype(np.int8)
        expected = run(qgraph, {"x": xq})["y"]
        got, _ = run_host_binary(build, xq)
        assert np.array_equal(got, expected.reshape(got.shape)), f"seed {seed}: host build differs from reference"
        real = (expected.astype(np.float32) - out.qzero) * out.qscale
        want = run(graph, {"x": x})["y"]
        cos = float(np.dot(real.ravel(), want.ravel()) / (np.linalg.norm(real) * np.linalg.norm(want)))
        assert cos > 0.98, f"seed {seed}: cosine {cos:.4f} to the float graph"


@pytest.mark.parametrize("name", MODELS)
def test_onnxruntime_qdq_model_lifts_to_int8_close_to_onnxruntime(tmp_path: Path, name: str) -> None:
    """The same decoders quantized by onnxruntime's static quantizer (QDQ): every op becomes int8
    and the int8 reference stays within a few output steps of onnxruntime running the QDQ model
    (each op alone is within one step; the float-between-Q/DQ roundings differ from integer
    kernels and grow through the following layers: up to 3 steps seen after six layers)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime import quantization as ortq

    from edgec.passes.qdq import lift_qdq

    class Reader(ortq.CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(8)
            self._it = iter([{"x": rng.uniform(-1, 1, X).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self._it, None)

    src, dst = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    onnx.save(MODELS[name](), src)
    ortq.quantize_static(
        str(src), str(dst), Reader(), quant_format=ortq.QuantFormat.QDQ,
        activation_type=ortq.QuantType.QInt8, weight_type=ortq.QuantType.QInt8, per_channel=True,
    )
    qdq = onnx.load(dst)
    q = lift_qdq(load_onnx(qdq))
    assert all(q.tensors[o].dtype == "int8" for n in q.nodes for o in n.outputs), q.summary()
    assert len(NEW_OPS & {n.op for n in q.nodes}) >= 2
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # the QDQ semantics, unfused
    session = ort.InferenceSession(qdq.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x_in, y_out = q.tensors[q.inputs[0]], q.tensors[q.outputs[0]]
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-1, 1, X).astype(np.float32)
        xq = np.clip(np.round(x.transpose(0, 2, 3, 1) / x_in.qscale) + x_in.qzero, -128, 127).astype(np.int8)
        got = run(q, {q.inputs[0]: xq})[q.outputs[0]].astype(np.int32)
        want = session.run(None, {"x": x})[0].transpose(0, 2, 3, 1)
        want_q = np.clip(np.round(want / y_out.qscale) + y_out.qzero, -128, 127).astype(np.int32).reshape(got.shape)
        assert np.abs(got - want_q).max() <= 4, f"seed {seed}: off by {np.abs(got - want_q).max()} output steps"


@pytest.mark.hil
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc",
)
def test_decoder_chain_runs_bit_exact_on_emulated_cortex_m4(tmp_path: Path) -> None:
    """Every new kernel (int64 bilinear weights, the inverse square root, ...) on the Cortex-M4
    in QEMU, against LiteRT's BUILTIN_REF."""
    from edgec.device.session import profile_on_device

    path = FIXTURES / "decoder_chain.tflite"
    build_model(path, BuildOptions(target="qemu-cortex-m4", out_dir=tmp_path / "fw"))
    build = load_build(tmp_path / "fw")
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    detail, out = interp.get_input_details()[0], interp.get_output_details()[0]
    rng = np.random.default_rng(17)
    inputs = [rng.integers(-128, 128, size=tuple(detail["shape"]), dtype=np.int8) for _ in range(2)]
    outputs, _, _ = profile_on_device(
        build.binary, inputs, build.target, expected_hash=int(build.summary["model_hash"][:8], 16)
    )
    for x, y in zip(inputs, outputs, strict=True):
        interp.set_tensor(detail["index"], x)
        interp.invoke()
        expected = interp.get_tensor(out["index"])
        assert np.array_equal(np.asarray(y).reshape(expected.shape), expected)
