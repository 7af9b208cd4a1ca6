"""Models exported the way users export them: dynamic batch, shape subgraphs, float TFLite.

The fixtures in ``tests/fixtures/dynamic/`` come from the real exporters
(``tests/fixtures/make_dynamic_models.py``): Keras models with batch ``None``
through the TFLite converter's defaults, PyTorch modules through
``torch.onnx.export`` with ``dynamic_axes`` on the batch.  Oracles: LiteRT
``BUILTIN_REF`` for int8 TFLite (bit-exact), LiteRT's float kernels for float
TFLite and onnxruntime for ONNX (tolerance relative to the output range).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from onnx_builders import max_error_vs_range, run_edgec, run_onnxruntime
from test_cli import assert_user_error, edgec

from edgec.frontends import load_model
from edgec.frontends.onnx import load_onnx
from edgec.frontends.tflite import load_tflite
from edgec.reference import run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dynamic"
SEEDS = range(5)
FLOAT_TOLERANCE = 1e-4  # of the output range
TIME_INPUT = "serving_default_mfcc:0"  # keras_dynamic_time.tflite: Input(shape=(None, 10, 1))


def litert(path: Path, reference: bool, input_shape: tuple[int, ...] | None = None) -> Interpreter:
    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    content = with_reference_tile(path.read_bytes()) if reference else path.read_bytes()
    interpreter = Interpreter(model_content=content, experimental_op_resolver_type=resolver, num_threads=1)
    if input_shape is not None:
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(input_shape))
    interpreter.allocate_tensors()
    return interpreter


def with_reference_tile(raw: bytes) -> bytes:
    """``raw`` with its TILE operator code at version 2, so LiteRT's BUILTIN_REF resolver runs it.

    The converter marks int8 TILE version 3, and LiteRT 2.3's reference resolver registers TILE
    versions 1-2 only; its reference TILE kernel copies int8 elements at any version (it switches
    on the tensor type), so the oracle stays LiteRT's reference kernels for every other op too.
    """
    buf = bytearray(raw)
    model = tflite.Model.GetRootAsModel(buf, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        slot = code._tab.Offset(8)  # the Version field of OperatorCode
        if code.BuiltinCode() == tflite.BuiltinOperator.TILE and slot and code.Version() > 2:
            struct.pack_into("<i", buf, code._tab.Pos + slot, 2)
    return bytes(buf)


def invoke(interpreter: Interpreter, x: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def random_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "int8":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


# -- TFLite -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["keras_int8", "keras_int8_float_io", "keras_branches_int8", "keras_upsample_int8"])
def test_int8_keras_model_with_dynamic_batch_is_bit_exact(name: str):
    path = FIXTURES / f"{name}.tflite"
    graph = load_tflite(path)  # raises if a SHAPE/STRIDED_SLICE/PACK/GATHER/REDUCE_PROD was left unfolded
    assert graph.meta["batch"] == {"dynamic": True, "built_for": 1}
    interpreter = litert(path, reference=True)
    (x_name,) = graph.inputs
    spec = graph.tensors[x_name]
    assert spec.shape == tuple(interpreter.get_input_details()[0]["shape"])
    rng = np.random.default_rng(7)
    for _ in SEEDS:
        x = random_input(rng, spec.shape, spec.dtype)
        expected = invoke(interpreter, x)
        got = run(graph, x)[graph.outputs[0]]
        assert got.dtype == expected.dtype and np.array_equal(got, expected), (got, expected)


FLOAT_OPS = {
    "keras_float32": {"conv2d", "depthwise_conv2d", "avg_pool2d", "reshape", "fully_connected", "softmax"},
    "keras_float16": {"conv2d", "depthwise_conv2d", "avg_pool2d", "reshape", "fully_connected", "softmax"},
    "keras_branches_float32": {
        "conv2d", "logistic", "add", "tanh", "concat", "leaky_relu", "max_pool2d", "mean", "fully_connected",
    },
    "keras_upsample_float32": {"conv2d", "resize_nearest"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FLOAT_OPS))
def test_float_keras_model_matches_litert(name: str):
    path = FIXTURES / f"{name}.tflite"
    graph = load_tflite(path)
    assert graph.is_float() and graph.meta["batch"]["dynamic"]
    assert {n.op for n in graph.nodes} == FLOAT_OPS[name]  # no dequantize: float16 weights became float32
    interpreter = litert(path, reference=False)
    shape = tuple(interpreter.get_input_details()[0]["shape"])
    rng = np.random.default_rng(8)
    for _ in SEEDS:
        x = random_input(rng, shape, "float32")
        expected = invoke(interpreter, x)
        got = run(graph, x)[graph.outputs[0]]
        assert max_error_vs_range(expected, got) <= FLOAT_TOLERANCE


def test_dynamic_range_model_becomes_a_float_model():
    """Int8 weights feeding float ops are dequantized to float32 constants (then quantized post-training)."""
    path = FIXTURES / "keras_dynamic_range.tflite"
    graph = load_tflite(path)
    assert graph.is_float() and all(t.dtype == "float32" for t in graph.tensors.values() if t.is_const)
    interpreter = litert(path, reference=False)
    rng = np.random.default_rng(9)
    for _ in SEEDS:
        x = random_input(rng, (1, 40), "float32")
        # LiteRT's hybrid kernels also quantize the activations on the fly: allow that rounding.
        assert max_error_vs_range(invoke(interpreter, x), run(graph, x)[graph.outputs[0]]) <= 0.02


def test_dynamic_time_dimension_needs_input_shape():
    path = FIXTURES / "keras_dynamic_time.tflite"
    with pytest.raises(Exception) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and f"--input-shape {TIME_INPUT}=1xNx10x1" in message and "[-1, -1, 10, 1]" in message
    graph = load_model(path, {TIME_INPUT: (1, 49, 10, 1)})
    assert graph.tensors[graph.inputs[0]].shape == (1, 49, 10, 1)
    interpreter = litert(path, reference=False, input_shape=(1, 49, 10, 1))
    x = random_input(np.random.default_rng(3), (1, 49, 10, 1), "float32")
    assert max_error_vs_range(invoke(interpreter, x), run(graph, x)[graph.outputs[0]]) <= FLOAT_TOLERANCE


# -- Keras UpSampling2D: EXPAND_DIMS -> TILE -> RESHAPE per axis becomes resize_nearest ---------------


def test_keras_upsampling2d_becomes_one_resize_nearest_per_layer():
    """``UpSampling2D()`` on 6x5 and ``UpSampling2D((2, 3))`` on 12x10: each layer's two repeats
    (H, then W) are one nearest resize; nothing of the EXPAND_DIMS/TILE/RESHAPE chain is left."""
    for variant in ("float32", "int8", "batch1_int8"):  # batch1: RESHAPEs folded differently, same graph
        graph = load_tflite(FIXTURES / f"keras_upsample_{variant}.tflite").verify()
        resizes = [n for n in graph.nodes if n.op == "resize_nearest"]
        assert [n.op for n in graph.nodes] == ["conv2d", "resize_nearest", "conv2d", "resize_nearest"]
        assert [n.attrs["size"] for n in resizes] == [(12, 10), (24, 30)]
        assert graph.tensors[graph.outputs[0]].shape == (1, 24, 30, 3)
        for n in resizes:  # int8: the copy keeps the parameters (TILE and RESHAPE do too)
            x, y = graph.tensors[n.inputs[0]], graph.tensors[n.outputs[0]]
            assert x.dtype == y.dtype == ("float32" if variant == "float32" else "int8")
            if x.dtype == "int8":
                assert (x.qscale, x.qzero) == (y.qscale, y.qzero)


def test_keras_upsampling2d_with_fixed_batch_is_bit_exact():
    """``batch_size=1``: the converter writes EXPAND_DIMS as RESHAPE and folds the H repeat's merge
    with the W repeat's expansion into one RESHAPE; still one resize per layer, equal to BUILTIN_REF."""
    path = FIXTURES / "keras_upsample_batch1_int8.tflite"
    graph = load_tflite(path)
    assert "batch" not in graph.meta
    interpreter = litert(path, reference=True)
    rng = np.random.default_rng(10)
    for _ in SEEDS:
        x = random_input(rng, (1, 6, 5, 3), "int8")
        assert np.array_equal(run(graph, x)[graph.outputs[0]], invoke(interpreter, x))


def _upsample_model_with(change):
    """keras_upsample_float32's records, changed by ``change(model, ops_by_name)`` before translation."""
    from edgec.frontends.tflite.reader import read_model
    from edgec.frontends.tflite.translate import Translator

    model = read_model((FIXTURES / "keras_upsample_float32.tflite").read_bytes())
    change(model, [op for op in model.operators if op.op_name == "TILE"])
    translator = Translator(model, "changed")
    translator.run()
    return translator.problems


def test_tile_that_is_not_an_integer_nearest_upsample_is_refused():
    def tile_two_axes(model, tiles):
        model.tensors[tiles[0].inputs[1]].data = np.array([1, 1, 2, 1, 2], np.int32)

    def tile_is_a_model_output(model, tiles):
        model.outputs.append(tiles[0].outputs[0])

    def reshape_elsewhere(model, tiles):  # the merge target of the first repeat: [1, 12, 5, 4] -> [1, 6, 10, 4]
        concat = next(op for op in model.operators if op.op_name == "CONCATENATION")
        model.tensors[concat.inputs[1]].data = np.array([6], np.int32)
        model.tensors[concat.inputs[2]].data = np.array([10, 4], np.int32)

    for change, needle in (
        (tile_two_axes, "multiples [1, 1, 2, 1, 2] repeat more than the expanded axis 2"),
        (tile_is_a_model_output, "its output is not read by exactly one RESHAPE"),
        (reshape_elsewhere, "reshapes the tiled tensor to [1, 6, 10, 4], not [1, 12, 5, 4]"),
    ):
        problems = _upsample_model_with(change)
        assert any(needle in p for p in problems), (needle, problems)
        assert all("\n" not in p for p in problems)


def test_cli_refuses_tile_with_one_line(tmp_path: Path):
    """A TILE outside the pattern is reported with the pattern edgec reads, exit 2, nothing written."""
    raw = (FIXTURES / "keras_upsample_float32.tflite").read_bytes()
    multiples = np.array([1, 1, 2, 1, 1], np.int32).tobytes()  # the first TILE's, in the file's buffer
    assert raw.count(multiples) == 1
    path = tmp_path / "tiled.tflite"
    path.write_bytes(raw.replace(multiples, np.array([1, 1, 2, 1, 2], np.int32).tobytes()))
    out = tmp_path / "out"
    assert_user_error(edgec("build", path, "--target", "host", "-o", out), "TILE", "UpSampling2D", out=out)


# -- ONNX -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["torch_upsample", "torch_upsample_dynamo"])
def test_torch_nearest_upsample_with_dynamic_batch_matches_onnxruntime(name: str):
    """``nn.Upsample(scale_factor=2)`` and ``F.interpolate(scale_factor=(2, 3), mode="nearest")``."""
    model = onnx.load(FIXTURES / f"{name}.onnx")
    graph = load_onnx(model)
    assert graph.meta["batch"] == {"dynamic": True, "built_for": 1}
    assert [n.attrs["size"] for n in graph.nodes if n.op == "resize_nearest"] == [(12, 10), (24, 30)]
    rng = np.random.default_rng(6)
    for _ in SEEDS:
        feeds = {"input": rng.standard_normal((1, 3, 6, 5)).astype(np.float32)}
        (expected,) = run_onnxruntime(model, feeds)
        (got,) = run_edgec(graph, feeds)
        assert max_error_vs_range(expected, got) <= FLOAT_TOLERANCE


def test_torch_upsample_lowers_to_int8():
    """The float export quantizes (the C kernel of resize_nearest is built by the Keras CLI test)."""
    from edgec.lowering import lower_model

    graph = lower_model(FIXTURES / "torch_upsample_dynamo.onnx").graph
    assert not graph.is_float() and graph.meta["batch"] == {"dynamic": True, "built_for": 1}
    assert [n.op for n in graph.nodes].count("resize_nearest") == 2


@pytest.mark.parametrize("name", ["torch_view", "torch_view_dynamo", "torch_flatten"])
def test_torch_export_with_dynamic_batch_matches_onnxruntime(name: str):
    path = FIXTURES / f"{name}.onnx"
    model = onnx.load(path)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    graph = load_onnx(model)
    assert graph.meta["batch"] == {"dynamic": True, "built_for": 1}
    assert graph.tensors["input"].shape == (1, 12, 10, 2)  # NHWC of [batch=1, 2, 12, 10]
    rng = np.random.default_rng(5)
    for _ in SEEDS:
        feeds = {"input": rng.standard_normal((1, 2, 12, 10)).astype(np.float32)}
        (expected,) = run_onnxruntime(model, feeds)
        (got,) = run_edgec(graph, feeds)
        assert max_error_vs_range(expected, got) <= FLOAT_TOLERANCE


# -- command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["keras_int8", "keras_upsample_int8"])
def test_cli_builds_int8_keras_model_and_matches_litert(tmp_path: Path, name: str):
    path = FIXTURES / f"{name}.tflite"
    interpreter = litert(path, reference=True)
    out = tmp_path / "out"
    proc = edgec("build", path, "--target", "host", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "  batch: dynamic, built for 1" in proc.stdout
    summary = json.loads((out / "build.json").read_text())
    assert summary["batch"] == {"dynamic": True, "built_for": 1}
    x = random_input(np.random.default_rng(11), tuple(interpreter.get_input_details()[0]["shape"]), "int8")
    np.save(tmp_path / "x.npy", x)
    proc = edgec("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.load(tmp_path / "y.npy"), invoke(interpreter, x))


def test_cli_float16_keras_model_is_quantized_with_calibration(tmp_path: Path):
    path = FIXTURES / "keras_float16.tflite"
    rng = np.random.default_rng(12)
    np.save(tmp_path / "calib.npy", rng.uniform(-1.0, 1.0, (16, 1, 12, 10, 2)).astype(np.float32))
    out = tmp_path / "out"
    proc = edgec("build", path, "--target", "host", "-o", out, "--calib", tmp_path / "calib.npy")
    assert proc.returncode == 0, proc.stderr
    assert "no calibration data" not in proc.stdout
    interpreter = litert(path, reference=False)
    cosines = []
    for i in range(2):
        x = rng.uniform(-1.0, 1.0, (1, 12, 10, 2)).astype(np.float32)
        np.save(tmp_path / "x.npy", x)
        proc = edgec("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / f"y{i}.npy")
        assert proc.returncode == 0, proc.stderr
        y, ref = np.load(tmp_path / f"y{i}.npy").reshape(-1), invoke(interpreter, x).reshape(-1)
        cosines.append(float(y @ ref / (np.linalg.norm(y) * np.linalg.norm(ref))))
    assert min(cosines) >= 0.98, cosines


def test_float32_keras_model_without_calibration_warns_like_onnx():
    from edgec.lowering import lower_model
    from edgec.passes.quantize import NO_CALIB_WARNING

    lowered = lower_model(FIXTURES / "keras_float32.tflite")
    assert NO_CALIB_WARNING in lowered.warnings
    assert not lowered.graph.is_float() and lowered.graph.meta["batch"]["dynamic"]


def test_cli_dynamic_time_dimension(tmp_path: Path):
    path = FIXTURES / "keras_dynamic_time.tflite"
    out = tmp_path / "out"
    assert_user_error(edgec("build", path, "--target", "host", "-o", out), "--input-shape", TIME_INPUT, out=out)
    proc = edgec("inspect", path, "--input-shape", f"{TIME_INPUT}=1x49x10x1")
    assert proc.returncode == 0, proc.stderr
    assert "1x49x10x4" in proc.stdout  # the conv output follows the chosen length
    x = random_input(np.random.default_rng(4), (1, 49, 10, 1), "float32")
    np.save(tmp_path / "x.npy", x)
    proc = edgec(
        "run", path, "--reference", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy",
        "--input-shape", f"{TIME_INPUT}=1x49x10x1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    expected = invoke(litert(path, reference=False, input_shape=(1, 49, 10, 1)), x)
    assert max_error_vs_range(expected, np.load(tmp_path / "y.npy")) <= FLOAT_TOLERANCE
    proc = edgec("build", path, "--target", "host", "-o", out, "--input-shape", f"{TIME_INPUT}=1x49x10x1", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["input_shapes"] == {TIME_INPUT: [1, 49, 10, 1]}
    assert summary["inputs"][0]["shape"] == [1, 49, 10, 1]


@pytest.mark.parametrize(
    "spec, needles",
    [
        ("nope=1x49x10x1", ["'nope'", "not an input", TIME_INPUT]),
        (f"{TIME_INPUT}=1x49x10", ["rank 3", "rank 4"]),
        (f"{TIME_INPUT}=1x0x10x1", ["positive"]),
        (f"{TIME_INPUT}=1x49x12x1", ["contradicts dimension 2"]),
        (f"{TIME_INPUT}=1xfourx10x1", ["not a list of integers"]),
        ("1x49x10x1", ["NAME=DxDxD"]),
    ],
)
def test_cli_rejects_bad_input_shapes(spec: str, needles: list[str]):
    proc = edgec("inspect", FIXTURES / "keras_dynamic_time.tflite", "--input-shape", spec)
    assert_user_error(proc, *needles)
