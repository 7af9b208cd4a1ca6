"""Every bundled model through the TVM back end, on host-tvm and on qemu-aarch64: bit-exact.

Models: the int8 TFLite models (``models/tflite/*.tflite``), the float ONNX zoo
(``models/zoo.py``, quantized with seeded calibration data) and a few int8
models of the conformance corpus (``models/corpus/``) whose ops the TVM back
end lowers.  Each model is built once per target (module-scoped cache); its 5
seeded int8 inputs run in one runner invocation (one emulator start under
QEMU).  To keep `make test` short, some models run on host-tvm only and two
are left out (``SKIPPED``, ``HOST_ONLY``: the comment there says where they
are covered).  Oracles: the numpy int8 reference on the build's final graph (every
model), and LiteRT's reference kernels (``BUILTIN_REF``) for int8 TFLite
models.  Integers compare exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from edgec.compiler import Build, BuildOptions, build_model, load_build
from edgec.reference import run as run_reference
from edgec.runner import run_linux_build
from models import zoo

REPO = Path(__file__).resolve().parents[1]
TFLITE_MODELS = sorted((REPO / "models" / "tflite").glob("*.tflite"))
CORPUS_MODELS = [REPO / "models" / "corpus" / f"{name}.tflite" for name in ("keras_mobilenet_int8", "keras_split_prelu_int8", "keras_dilated_int8")]
ONNX_MODELS = zoo.list_models()
TARGETS = ["host-tvm", "qemu-aarch64"]
INPUTS = 5
CALIBRATION_SAMPLES = 8
FLOAT_INPUT_RANGE = {"digits_cnn": (0.0, 1.0)}  # the trained digits CNN sees pixels in [0, 1]

MODELS = [f"tflite:{p.stem}" for p in TFLITE_MODELS] + [f"onnx:{n}" for n in ONNX_MODELS] + [f"corpus:{p.stem}" for p in CORPUS_MODELS]


def model_file(model: str) -> Path:
    kind, name = model.split(":")
    if kind == "onnx":
        return zoo.onnx_path(name)
    folder = REPO / "models" / ("tflite" if kind == "tflite" else "corpus")
    return folder / f"{name}.tflite"


class Cache:
    """One build per model and target, one set of inputs and reference outputs per model."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds: dict[tuple[str, str], Build] = {}
        self.references: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def build(self, model: str, target: str) -> Build:
        key = (model, target)
        if key not in self.builds:
            out = self.root / f"{model.replace(':', '-')}-{target}"
            build_model(model_file(model), BuildOptions(target=target, out_dir=out, calib=self._calibration(model)))
            self.builds[key] = load_build(out)
        return self.builds[key]

    def _calibration(self, model: str) -> Path | None:
        kind, name = model.split(":")
        if kind != "onnx":
            return None
        onnx_model = onnx.load(zoo.onnx_path(name), load_external_data=False)
        inits = {i.name for i in onnx_model.graph.initializer}
        (value,) = [v for v in onnx_model.graph.input if v.name not in inits]
        shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
        lo, hi = FLOAT_INPUT_RANGE.get(name, (-1.0, 1.0))
        samples = np.random.default_rng(1000).uniform(lo, hi, size=[CALIBRATION_SAMPLES, *shape[1:]]).astype(np.float32)
        path = self.root / f"{name}-calib.npy"
        np.save(path, samples)
        return path

    def reference(self, model: str, build: Build) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """5 seeded int8 inputs (``FEWER_INPUTS``) and the numpy reference's outputs on the build's final graph."""
        if model not in self.references:
            rng = np.random.default_rng(7)
            graph = build.graph
            count = FEWER_INPUTS.get(model, INPUTS)
            inputs = [rng.integers(-128, 128, size=build.inputs[0].shape, dtype=np.int8) for _ in range(count)]
            outputs = [run_reference(graph, {graph.inputs[0]: x})[graph.outputs[0]] for x in inputs]
            self.references[model] = (inputs, outputs)
        return self.references[model]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Cache:
    return Cache(tmp_path_factory.mktemp("tvm-models"))


# What `make test` leaves out, to stay within its time (all of it was checked when the back end landed):
# - tflite:ds_cnn: tests/test_tvm_deploy.py builds it for both targets and checks it on 5 seeded inputs
#   against the numpy reference and LiteRT's reference kernels, and that both targets share one graph;
# - onnx:mobilenet_v2_w1.0_r224: the same network as tflite:mobilenet_v2_w1.0_r224, which runs here;
# - on qemu-aarch64, the largest models (about a minute each to build and run there on a 2-core
#   machine) and the ONNX twins of the TFLite networks run there (ds_cnn, mcunet, mobilenet_v1, resnet8):
#   the aarch64 kernels are the same TIR as on host-tvm with the generic CPU schedules, and every op kind
#   of these networks runs on qemu-aarch64 in a model that stays (the ONNX twins add only mean, reshape
#   and fully_connected, which mcunet, mobilenet_v1 and resnet8 have).  The twins run on host-tvm.
SKIPPED = {"tflite:ds_cnn", "onnx:mobilenet_v2_w1.0_r224"}
HOST_ONLY = {
    "tflite:mobilenet_v2_w1.0_r224",
    "onnx:mobilenet_v2_w0.35_r144",
    "onnx:ds_cnn",
    "onnx:mcunet",
    "onnx:mobilenet_v1_w0.25_r96",
    "onnx:resnet8",
}
FEWER_INPUTS = {"tflite:mobilenet_v2_w1.0_r224": 2}  # its numpy reference takes seconds per input
PAIRS = [(m, t) for m in MODELS if m not in SKIPPED for t in TARGETS if t == TARGETS[0] or m not in HOST_ONLY]


def test_left_out_models_are_bundled_models():
    """The lists above name real models: a renamed model must not silently change what runs."""
    assert SKIPPED | HOST_ONLY | set(FEWER_INPUTS) <= set(MODELS)
    for model in HOST_ONLY - {"tflite:mobilenet_v2_w1.0_r224", "onnx:mobilenet_v2_w0.35_r144"}:
        twin = "tflite:" + model.split(":")[1]
        assert twin in MODELS and (twin in SKIPPED or (twin, TARGETS[1]) in PAIRS), model


@pytest.mark.parametrize(("model", "target"), PAIRS)
def test_bit_exact_with_numpy_reference(cache: Cache, model: str, target: str) -> None:
    build = cache.build(model, target)
    assert build.summary["deploy"]["kernels"] == "tvm"
    first = cache.build(model, TARGETS[0])
    assert (build.path / "graph.json").read_bytes() == (first.path / "graph.json").read_bytes()  # one graph, any target
    inputs, expected = cache.reference(model, first)
    result = run_linux_build(build, inputs)
    for i, (got, want) in enumerate(zip(result.outputs, expected)):
        if not np.array_equal(got, want):
            diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
            pytest.fail(f"{model} on {target}, input {i}: {np.count_nonzero(diff)}/{diff.size} elements differ, max |diff| {diff.max()}")


INT8_TFLITE = [m for m in MODELS if not m.startswith("onnx:") and m not in SKIPPED]


@pytest.mark.parametrize("model", INT8_TFLITE)
def test_int8_tflite_matches_litert_reference_kernels(cache: Cache, model: str) -> None:
    build = cache.build(model, TARGETS[0])
    interpreter = Interpreter(model_path=str(model_file(model)), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    detail = interpreter.get_input_details()[0]
    if detail["dtype"] != np.int8:
        pytest.skip(f"{model} has {detail['dtype'].__name__} input: only int8-I/O models compare with LiteRT here")
    inputs, _ = cache.reference(model, build)
    result = run_linux_build(build, inputs)
    shape = [1, *detail["shape"][1:]]  # the corpus exports a dynamic batch
    interpreter.resize_tensor_input(detail["index"], shape)
    interpreter.allocate_tensors()
    for x, got in zip(inputs, result.outputs):
        interpreter.set_tensor(detail["index"], x.reshape(shape))
        interpreter.invoke()
        want = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        np.testing.assert_array_equal(got.reshape(want.shape), want)
