"""The conformance corpus (``models/corpus/``): models exported the way users export them.

Every model of ``models/corpus/manifest.json`` (made by
``models/export_corpus.py``: Keras -> TFLite with the converter's defaults and
a dynamic batch, torch -> ONNX with ``dynamic_axes`` on the batch, onnxruntime
QDQ) must:

* build for ``host`` as it is -- float models with their calibration file --
  and say in the build summary that the dynamic batch was built as 1;
* int8 TFLite (int8 or float I/O): the host executable's outputs EQUAL LiteRT
  with TFLite's reference kernels (``OpResolverType.BUILTIN_REF``) on 5 seeded
  inputs (random int8, or standard-normal floats for float-I/O models);
* float models (float32 / float16-weight TFLite, float ONNX):
  - edgec's float reference interpreter matches the framework's float
    reference (LiteRT for TFLite, onnxruntime for ONNX) on 5 seeded
    standard-normal inputs within ``FLOAT_TOLERANCE`` of the reference
    output's range (max |edgec - reference| <= 1e-4 * (max - min)): a bound
    far above float32 summation-order noise and far below any semantic error;
  - the int8 build with the model's calibration file keeps cosine similarity
    >= ``MIN_COSINE`` (0.98) with the float reference on each of those inputs,
    and the host executable equals edgec's int8 reference bit for bit;
* QDQ ONNX (onnxruntime's static quantizer): the host executable equals
  edgec's int8 reference bit for bit and stays within ``QDQ_MAX_LSB`` output
  quantization steps of onnxruntime running the QDQ model;
* a few small models (``QEMU_MODELS``) also run in QEMU on ``qemu-cortex-m4``,
  bit-exact with edgec's int8 reference (itself bit-exact with BUILTIN_REF).

Inputs of every corpus model are standard normal (its training and
calibration distribution, ``input_distribution`` in the manifest).  One host
build per model, shared by the tests through a module-scoped cache.
"""

from __future__ import annotations

import json
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from edgec.compiler import Build, BuildOptions, build_model, format_build_summary, load_build
from edgec.lowering import lower_model
from edgec.reference import run as run_reference
from edgec.runner import run_host_binary
from edgec.tensor_io import from_model_output, io_specs, to_model_input

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "models" / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
MODELS = {m["name"]: m for m in MANIFEST["models"]}

N_INPUTS = 5
FLOAT_TOLERANCE = 1e-4  # of the float reference output's range (max - min)
MIN_COSINE = 0.98
QDQ_MAX_LSB = 3  # output quantization steps between edgec's int8 and onnxruntime's QDQ execution
QEMU_TARGET = "qemu-cortex-m4"
QEMU_MODELS = ["keras_dscnn_int8", "keras_autoencoder_int8fio", "torch_cnn_view_dynamo"]
BATCH_LINE = re.compile(r"batch:?\s+dynamic, built for 1\b")  # the build summary's line for a dynamic batch


def kind(model: dict) -> str:
    """'int8-tflite', 'float' (TFLite float32/float16 or float ONNX) or 'qdq'."""
    if model["format"] == "tflite":
        return "int8-tflite" if model["dtype"].startswith("int8") else "float"
    return "qdq" if "QDQ" in model["dtype"] else "float"


def names(which: str) -> list[str]:
    return [n for n, m in MODELS.items() if kind(m) == which]


def seed_of(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


# -- references --------------------------------------------------------------------------------------


def litert(path: Path) -> Interpreter:
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()  # a dynamic batch (shape_signature -1) is allocated as 1
    return interpreter


def litert_invoke(interpreter: Interpreter, x: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def onnxruntime_session(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def framework_reference(model: dict):
    """``x (batch-1 user array) -> float output`` with LiteRT (TFLite) or onnxruntime (ONNX)."""
    path = CORPUS / model["file"]
    if model["format"] == "tflite":
        interpreter = litert(path)
        return lambda x: litert_invoke(interpreter, x)
    session = onnxruntime_session(path)
    return lambda x: session.run(None, {model["input"]["name"]: x})[0]


def user_inputs(model: dict, shape: tuple[int, ...], dtype: str) -> list[np.ndarray]:
    """5 seeded batch-1 inputs in the model's own terms: random int8, or standard normal floats."""
    rng = np.random.default_rng(seed_of("corpus", model["name"]))
    if dtype == "int8":
        return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(N_INPUTS)]
    assert MANIFEST["input_distribution"] == {"kind": "normal", "mean": 0.0, "std": 1.0}
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(N_INPUTS)]


def batch1_shape(model: dict) -> tuple[int, ...]:
    shape = model["input"]["shape"]
    return (1, *(int(d) for d in shape[1:]))


def describe_mismatch(expected: np.ndarray, got: np.ndarray) -> str:
    diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
    return f"{int(np.count_nonzero(diff))}/{diff.size} elements differ, max |diff| {diff.max():g}"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


# -- builds --------------------------------------------------------------------------------------------


class HostBuilds:
    """Each corpus model built once for ``host`` (float models with their calibration file)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._builds: dict[str, Build] = {}

    def get(self, name: str) -> Build:
        if name not in self._builds:
            model = MODELS[name]
            calib = CORPUS / model["calib"] if model["calib"] else None
            out = self.root / name
            build_model(CORPUS / model["file"], BuildOptions(target="host", out_dir=out, calib=calib))
            self._builds[name] = load_build(out)
        return self._builds[name]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> HostBuilds:
    return HostBuilds(tmp_path_factory.mktemp("corpus-builds"))


def run_like_cli(build: Build, x_user: np.ndarray) -> np.ndarray:
    """What ``edgec run OUT --input x.npy`` returns: user array -> int8 -> host binary -> user array."""
    y, _ = run_host_binary(build, to_model_input(x_user, build.inputs[0]))
    return from_model_output(y, build.outputs[0])


def check_binary_equals_int8_reference(build: Build, x_user: np.ndarray, label: str) -> np.ndarray:
    """Run the host binary on ``x_user``; assert its int8 output equals edgec's int8 reference; return it."""
    graph = build.graph
    x = to_model_input(x_user, build.inputs[0])
    want = run_reference(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    got, _ = run_host_binary(build, x)
    assert got.dtype == np.int8 and want.dtype == np.int8
    want = want.reshape(got.shape)
    assert np.array_equal(got, want), f"{label}: host binary vs int8 reference: " + describe_mismatch(want, got)
    return from_model_output(got, build.outputs[0])


# -- the manifest -------------------------------------------------------------------------------------


def test_manifest_lists_the_whole_corpus():
    """At least 12 models, every file in the folder is in the manifest and exists, float models have calibration."""
    assert len(MODELS) >= 12
    files = set()
    for m in MODELS.values():
        files.add(m["file"])
        assert (CORPUS / m["file"]).is_file(), m["file"]
        external = m["settings"].get("external_data")
        if external:
            files.add(external)
            assert (CORPUS / external).is_file(), external
        if kind(m) == "float":
            assert m["calib"] and (CORPUS / m["calib"]).is_file(), f"{m['name']}: no calibration file"
        shape = m["input"]["shape"]
        assert shape[0] in (-1, "batch"), f"{m['name']}: batch {shape[0]!r} is not dynamic"
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in (".tflite", ".onnx", ".data")}
    assert on_disk == files, f"files not in the manifest: {sorted(on_disk - files)}; missing: {sorted(files - on_disk)}"
    kinds = {kind(m) for m in MODELS.values()}
    assert kinds == {"int8-tflite", "float", "qdq"}
    assert {m["format"] for m in MODELS.values()} == {"tflite", "onnx"}
    assert set(QEMU_MODELS) <= set(MODELS)


# -- every model builds --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_builds_for_host(builds: HostBuilds, name: str):
    model = MODELS[name]
    build = builds.get(name)
    summary = build.summary
    assert summary["target_kind"] == "host" and build.binary.is_file()
    text = format_build_summary(summary)
    assert BATCH_LINE.search(text), f"{name}: the build summary does not say the batch is dynamic, built for 1:\n{text}"
    assert not build.graph.is_float()
    (spec,) = build.inputs
    assert tuple(spec.user_shape) == batch1_shape(model)
    assert spec.user_dtype == model["input"]["dtype"]
    if kind(model) == "float":
        assert not any("calib" in w.lower() for w in summary["warnings"]), summary["warnings"]


# -- int8 TFLite: equal to LiteRT BUILTIN_REF -----------------------------------------------------------


@pytest.mark.parametrize("name", names("int8-tflite"))
def test_int8_tflite_equals_litert_builtin_ref(builds: HostBuilds, name: str):
    model = MODELS[name]
    interpreter = litert(CORPUS / model["file"])
    detail = interpreter.get_input_details()[0]
    build = builds.get(name)
    outputs = set()
    for i, x in enumerate(user_inputs(model, tuple(detail["shape"]), np.dtype(detail["dtype"]).name)):
        expected = litert_invoke(interpreter, x)
        got = run_like_cli(build, x)
        assert got.dtype == expected.dtype and got.shape == expected.shape, (got.dtype, got.shape, expected.shape)
        assert np.array_equal(got, expected), f"{name}, input {i}: " + describe_mismatch(expected, got)
        outputs.add(expected.tobytes())
    assert len(outputs) > 1, f"{name}: every input gave the same output (a vacuous comparison)"


# -- float models: float reference, then int8 with calibration -----------------------------------------


@pytest.mark.parametrize("name", names("float"))
def test_float_reference_matches_framework(name: str):
    model = MODELS[name]
    graph = lower_model(CORPUS / model["file"], quantize=False).graph
    assert graph.is_float()
    in_spec, out_spec = io_specs(graph, graph.inputs)[0], io_specs(graph, graph.outputs)[0]
    reference = framework_reference(model)
    for i, x in enumerate(user_inputs(model, batch1_shape(model), "float32")):
        expected = reference(x)
        y = run_reference(graph, {graph.inputs[0]: to_model_input(x, in_spec)})[graph.outputs[0]]
        got = from_model_output(y, out_spec)
        assert got.shape == expected.shape, (got.shape, expected.shape)
        span = float(expected.max() - expected.min())
        assert span > 0, f"{name}: constant reference output"
        worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
        assert worst <= FLOAT_TOLERANCE * span, (
            f"{name}, input {i}: max |edgec - reference| {worst:.3g} > {FLOAT_TOLERANCE:g} x output range {span:.3g}"
        )


@pytest.mark.parametrize("name", names("float"))
def test_int8_build_keeps_cosine_with_calibration(builds: HostBuilds, name: str):
    model = MODELS[name]
    build = builds.get(name)
    reference = framework_reference(model)
    for i, x in enumerate(user_inputs(model, batch1_shape(model), "float32")):
        expected = reference(x)
        got = check_binary_equals_int8_reference(build, x, f"{name}, input {i}")
        assert got.shape == expected.shape
        c = cosine(got, expected)
        assert c >= MIN_COSINE, f"{name}, input {i}: cosine {c:.4f} with the float reference < {MIN_COSINE}"


# -- QDQ ONNX: onnxruntime's own int8 model -----------------------------------------------------------


@pytest.mark.parametrize("name", names("qdq"))
def test_qdq_model_matches_onnxruntime(builds: HostBuilds, name: str):
    model = MODELS[name]
    build = builds.get(name)
    session = onnxruntime_session(CORPUS / model["file"])
    scale = build.outputs[0].scale
    assert scale is not None
    for i, x in enumerate(user_inputs(model, batch1_shape(model), "float32")):
        expected = session.run(None, {model["input"]["name"]: x})[0]
        got = check_binary_equals_int8_reference(build, x, f"{name}, input {i}")
        assert got.shape == expected.shape
        steps = float(np.max(np.abs(got.astype(np.float64) - expected))) / scale
        assert steps <= QDQ_MAX_LSB + 1e-3, f"{name}, input {i}: {steps:.2f} output steps from onnxruntime"


# -- a few on the emulated Cortex-M4 -------------------------------------------------------------------


@pytest.mark.hil
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc",
)
@pytest.mark.parametrize("name", QEMU_MODELS)
def test_runs_bit_exact_in_qemu(tmp_path: Path, name: str):
    from edgec.device.session import profile_on_device

    model = MODELS[name]
    calib = CORPUS / model["calib"] if model["calib"] else None
    build_model(CORPUS / model["file"], BuildOptions(target=QEMU_TARGET, out_dir=tmp_path / "fw", calib=calib))
    build = load_build(tmp_path / "fw")
    assert build.summary["fits"] is True
    graph = build.graph
    rng = np.random.default_rng(seed_of("qemu", name))
    inputs = [rng.integers(-128, 128, size=build.inputs[0].shape, dtype=np.int8) for _ in range(N_INPUTS)]
    outputs, results, _ = profile_on_device(
        build.binary, inputs, build.target, expected_hash=int(build.summary["model_hash"][:8], 16)
    )
    for i, (x, y, result) in enumerate(zip(inputs, outputs, results, strict=True)):
        want = run_reference(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        got = np.asarray(y).reshape(want.shape)
        assert np.array_equal(got, want), f"{name}, input {i}: device vs reference: " + describe_mismatch(want, got)
        assert result.total > 0
