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
from pathlib import Path

import numpy as np
import onnx
import pytest
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
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver, num_threads=1)
    if input_shape is not None:
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(input_shape))
    interpreter.allocate_tensors()
    return interpreter


def invoke(interpreter: Interpreter, x: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def random_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "int8":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


# -- TFLite -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["keras_int8", "keras_int8_float_io", "keras_branches_int8"])
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


# -- ONNX -------------------------------------------------------------------------------------------


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


def test_cli_builds_int8_keras_model_and_matches_litert(tmp_path: Path):
    path = FIXTURES / "keras_int8.tflite"
    out = tmp_path / "out"
    proc = edgec("build", path, "--target", "host", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "  batch: dynamic, built for 1" in proc.stdout
    summary = json.loads((out / "build.json").read_text())
    assert summary["batch"] == {"dynamic": True, "built_for": 1}
    x = random_input(np.random.default_rng(11), (1, 12, 10, 2), "int8")
    np.save(tmp_path / "x.npy", x)
    proc = edgec("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.load(tmp_path / "y.npy"), invoke(litert(path, reference=True), x))


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
