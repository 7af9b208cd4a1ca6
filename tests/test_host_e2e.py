"""End to end on the host: `edgec build --target host`, run the executable, compare with real oracles.

* Every bundled int8 TFLite model (and the op zoo, with int8 and with float
  I/O) is built for the host and run on seeded random inputs; every output
  element must equal LiteRT with TFLite's reference kernels
  (``OpResolverType.BUILTIN_REF``), the bit-exact oracle of docs/design.md.
  Float-I/O models get float inputs converted exactly as the CLI converts them
  (``edgec.tensor_io``), and LiteRT gets the same float array.
* Every bundled float ONNX model is built with seeded calibration data (a
  ``.npy`` of NCHW samples); the executable's int8 output must equal the
  numpy int8 reference run on the final graph stored in the build folder.
* Every build's arena is within 5 % of the layer-wise lower bound, and the
  generated C project compiles as strict C99 with warnings as errors.

One build per model, shared through a module-scoped cache.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from edgec.compiler import BUILD_FILE, Build, BuildOptions, build_model, load_build
from edgec.reference import run
from edgec.runner import run_host_binary
from edgec.tensor_io import from_model_output, to_model_input
from models import zoo

REPO = Path(__file__).resolve().parents[1]
TFLITE_DIR = REPO / "models" / "tflite"
TFLITE_MODELS = sorted(TFLITE_DIR.glob("*.tflite")) + [
    TFLITE_DIR / "ops" / "op_zoo.tflite",
    TFLITE_DIR / "ops" / "op_zoo_float_io.tflite",
]
ONNX_MODELS = zoo.list_models()
EDGEC = Path(sys.executable).with_name("edgec")

INPUTS_PER_TFLITE_MODEL = 10
INPUTS_PER_ONNX_MODEL = 4
CALIBRATION_SAMPLES = 8
# The 224x224 MobileNetV2 (300M MACs) is the slowest to run: fewer inputs keep the file short.
FEWER_INPUTS = {"mobilenet_v2_w1.0_r224": 3}
# Calibration / test input ranges of the float models (the trained digits CNN sees pixels in [0, 1]).
FLOAT_INPUT_RANGE = {"digits_cnn": (0.0, 1.0)}
DEFAULT_FLOAT_RANGE = (-1.0, 1.0)
# Float inputs of float-I/O TFLite models: a little wider than the [-1, 1] the converter
# calibrated on, so input quantization saturates on some elements.
TFLITE_FLOAT_RANGE = (-1.2, 1.2)
ARENA_SLACK = 1.05


def _n_inputs(name: str, default: int) -> int:
    return FEWER_INPUTS.get(name, default)


def _onnx_input_shape(name: str) -> list[int]:
    model = onnx.load(zoo.onnx_path(name), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    (value,) = [v for v in model.graph.input if v.name not in inits]
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def _float_samples(name: str, shape: list[int], seed: int) -> np.ndarray:
    lo, hi = FLOAT_INPUT_RANGE.get(name, DEFAULT_FLOAT_RANGE)
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(np.float32)


class BuildCache:
    """Builds each model for the host once per module, into a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._builds: dict[str, Build] = {}

    def tflite(self, path: Path) -> Build:
        key = f"tflite-{path.stem}"
        if key not in self._builds:
            out = self.root / key
            build_model(path, BuildOptions(target="host", out_dir=out))
            self._builds[key] = load_build(out)
        return self._builds[key]

    def onnx(self, name: str) -> Build:
        key = f"onnx-{name}"
        if key not in self._builds:
            shape = _onnx_input_shape(name)
            calib = self.root / f"{key}-calib.npy"
            np.save(calib, _float_samples(name, [CALIBRATION_SAMPLES, *shape[1:]], seed=1000))
            out = self.root / key
            build_model(zoo.onnx_path(name), BuildOptions(target="host", out_dir=out, calib=calib))
            self._builds[key] = load_build(out)
        return self._builds[key]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> BuildCache:
    return BuildCache(tmp_path_factory.mktemp("host-builds"))


def litert_ref(path: Path) -> Interpreter:
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    return interpreter


def litert_invoke(interpreter: Interpreter, x: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def random_litert_input(interpreter: Interpreter, seed: int) -> np.ndarray:
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(seed)
    if detail["dtype"] == np.int8:
        return rng.integers(-128, 128, size=detail["shape"], dtype=np.int8)
    assert detail["dtype"] == np.float32, detail["dtype"]
    return rng.uniform(*TFLITE_FLOAT_RANGE, size=detail["shape"]).astype(np.float32)


def run_like_cli(build: Build, x_user: np.ndarray) -> np.ndarray:
    """What `edgec run OUT --input x.npy` computes: user array -> int8 -> host binary -> user array."""
    x = to_model_input(x_user, build.inputs[0])
    y, _ = run_host_binary(build, x)
    return from_model_output(y, build.outputs[0])


def _describe_mismatch(expected: np.ndarray, got: np.ndarray) -> str:
    diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
    return f"{int(np.count_nonzero(diff))}/{diff.size} elements differ, max |diff| {diff.max()}"


# -- int8 TFLite models vs LiteRT BUILTIN_REF ---------------------------------------------------


@pytest.mark.parametrize("path", TFLITE_MODELS, ids=[p.stem for p in TFLITE_MODELS])
def test_tflite_host_build_matches_litert_reference_kernels(builds: BuildCache, path: Path) -> None:
    build = builds.tflite(path)
    assert build.summary["target_kind"] == "host"
    interpreter = litert_ref(path)
    out_detail = interpreter.get_output_details()[0]
    assert build.outputs[0].user_shape == tuple(out_detail["shape"])
    for seed in range(_n_inputs(path.stem, INPUTS_PER_TFLITE_MODEL)):
        x = random_litert_input(interpreter, seed)
        expected = litert_invoke(interpreter, x)
        got = run_like_cli(build, x)
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected), f"{path.name}, input seed {seed}: " + _describe_mismatch(expected, got)


def test_float_io_model_takes_and_returns_float(builds: BuildCache) -> None:
    """The float-I/O op zoo keeps float at the user boundary and int8 inside the build."""
    build = builds.tflite(TFLITE_DIR / "ops" / "op_zoo_float_io.tflite")
    (spec_in,), (spec_out,) = build.inputs, build.outputs
    assert (spec_in.dtype, spec_in.user_dtype) == ("int8", "float32")
    assert (spec_out.dtype, spec_out.user_dtype) == ("int8", "float32")
    assert spec_in.scale is not None and spec_out.scale is not None


def test_full_model_outputs_depend_on_the_input(builds: BuildCache) -> None:
    """Guard against a vacuous comparison: the bundled networks' outputs differ across seeds.

    (models/make_tflite.py initialises batch-norm statistics from data so activations do not collapse.)
    """
    for stem in ("ds_cnn", "resnet8", "mcunet", "mobilenet_v1_w0.25_r96", "mobilenet_v2_w0.35_r96"):
        path = next(p for p in TFLITE_MODELS if p.stem == stem)
        build = builds.tflite(path)
        interpreter = litert_ref(path)
        outs = {
            run_like_cli(build, random_litert_input(interpreter, seed)).tobytes()
            for seed in range(INPUTS_PER_TFLITE_MODEL)
        }
        assert len(outs) > 1, f"{stem}: every input gave the same output"


# Inner activations carry more information than a classifier's final scores (and op_zoo's final
# output takes few distinct values): these models are also cut after an inner op (the flatbuffer's
# subgraph output is repointed at that op's output tensor, in place) and the cut model is compared in full.
CUT_AFTER_OP = {"ds_cnn": 6, "op_zoo": 17}
CUT_INPUTS = 5


def cut_tflite(src: Path, op_index: int, dst: Path) -> str:
    """Write ``src`` with its single output replaced by the first output of operator ``op_index``; return that tensor's name."""
    buf = bytearray(src.read_bytes())
    subgraph = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0)
    outputs = subgraph.OutputsAsNumpy()  # a writable view into buf
    assert outputs.size == 1 and outputs.flags.writeable
    tensor = subgraph.Operators(op_index).Outputs(0)
    outputs[0] = tensor
    dst.write_bytes(bytes(buf))
    return subgraph.Tensors(tensor).Name().decode()


@pytest.mark.parametrize("stem", sorted(CUT_AFTER_OP))
def test_cut_tflite_model_matches_litert_on_inner_activations(tmp_path: Path, stem: str) -> None:
    src = next(p for p in TFLITE_MODELS if p.stem == stem)
    path = tmp_path / f"{stem}_cut.tflite"
    tensor = cut_tflite(src, CUT_AFTER_OP[stem], path)
    build_model(path, BuildOptions(target="host", out_dir=tmp_path / "out"))
    build = load_build(tmp_path / "out")
    interpreter = litert_ref(path)
    assert interpreter.get_output_details()[0]["name"] == tensor
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    distinct = set()
    for seed in range(CUT_INPUTS):
        x = random_litert_input(interpreter, seed)
        expected = litert_invoke(interpreter, x)
        got = run_like_cli(build, x)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        assert np.array_equal(got, expected), f"{stem} cut at {tensor!r}, seed {seed}: " + _describe_mismatch(
            expected, got
        )
        distinct.add(expected.tobytes())
    assert len(distinct) == CUT_INPUTS, f"{stem} cut at {tensor!r}: outputs do not depend on the input; cut earlier"


# -- float ONNX models vs the numpy int8 reference -----------------------------------------------


@pytest.mark.parametrize("name", ONNX_MODELS)
def test_onnx_host_build_matches_int8_reference(builds: BuildCache, name: str) -> None:
    build = builds.onnx(name)
    graph = build.graph  # the final int8 graph, read back from the build folder
    assert not graph.is_float()
    (in_spec,) = build.inputs
    assert in_spec.user_dtype == "float32" and in_spec.layout == "NCHW"
    shape = _onnx_input_shape(name)
    assert list(in_spec.user_shape) == shape
    for seed in range(_n_inputs(name, INPUTS_PER_ONNX_MODEL)):
        x_user = _float_samples(name, shape, seed=seed)
        x = to_model_input(x_user, in_spec)
        assert x.dtype == np.int8 and list(x.shape) == in_spec.shape
        expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        got, _ = run_host_binary(build, x)
        assert got.dtype == np.int8 and expected.dtype == np.int8
        assert np.array_equal(got, expected.reshape(got.shape)), f"{name}, input seed {seed}: " + _describe_mismatch(
            expected.reshape(got.shape), got
        )


def test_calibrated_builds_carry_no_accuracy_warning(builds: BuildCache) -> None:
    build = builds.onnx("resnet8")
    assert not any("calib" in w.lower() for w in build.summary["warnings"]), build.summary["warnings"]


# -- memory and C hygiene --------------------------------------------------------------------------


ALL_BUILDS = [("tflite", p.stem) for p in TFLITE_MODELS] + [("onnx", n) for n in ONNX_MODELS]


@pytest.mark.parametrize("kind,name", ALL_BUILDS, ids=[f"{k}-{n}" for k, n in ALL_BUILDS])
def test_arena_within_five_percent_of_lower_bound(builds: BuildCache, kind: str, name: str) -> None:
    build = builds.tflite(next(p for p in TFLITE_MODELS if p.stem == name)) if kind == "tflite" else builds.onnx(name)
    totals = json.loads((build.path / BUILD_FILE).read_text())["totals"]
    assert totals["lower_bound_bytes"] > 0
    assert 0 < totals["arena_bytes"] <= ARENA_SLACK * totals["lower_bound_bytes"], totals
    assert totals["ops"] == len(build.summary["ops"]) > 0


def test_generated_project_is_strict_c99_with_werror(builds: BuildCache) -> None:
    build = builds.tflite(TFLITE_DIR / "ops" / "op_zoo.tflite")
    src = build.path / "src"
    cmake = (src / "CMakeLists.txt").read_text()
    for needle in (
        "-Wall",
        "-Wextra",
        "-Werror",
        "set(CMAKE_C_STANDARD 99)",
        "set(CMAKE_C_STANDARD_REQUIRED ON)",
        "set(CMAKE_C_EXTENSIONS OFF)",
    ):
        assert needle in cmake, f"generated CMakeLists.txt lacks {needle}"
    top = (REPO / "CMakeLists.txt").read_text()
    for needle in ("-Werror", "set(CMAKE_C_STANDARD 99)"):
        assert needle in top, f"project CMakeLists.txt lacks {needle}"
    assert build.binary.is_file()

    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc is not None, "no C compiler"
    sources = [src / "model.c", src / "weights.c", src / "host" / "main.c", *sorted((src / "kernels").glob("*.c"))]
    proc = subprocess.run(
        [
            cc,
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            f"-I{src}",
            f"-I{src / 'kernels'}",
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


# -- through the real console script ----------------------------------------------------------------


def _edgec(*args: str) -> subprocess.CompletedProcess[str]:
    assert EDGEC.is_file(), f"console script {EDGEC} missing: pip install -e ."
    return subprocess.run([str(EDGEC), *args], capture_output=True, text=True, timeout=300, cwd=REPO, check=False)


@pytest.mark.parametrize("stem", ["ds_cnn", "op_zoo_float_io"])
def test_console_script_build_and_run_match_litert(tmp_path: Path, stem: str) -> None:
    path = next(p for p in TFLITE_MODELS if p.stem == stem)
    out = tmp_path / "out"
    proc = _edgec("build", str(path), "--target", "host", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["target"] == "host" and Path(summary["path"]) == out
    assert (out / BUILD_FILE).is_file() and (out / summary["binary"]).is_file()

    interpreter = litert_ref(path)
    for seed in range(3):
        x = random_litert_input(interpreter, seed)
        np.save(tmp_path / "x.npy", x)
        proc = _edgec("run", str(out), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"))
        assert proc.returncode == 0, proc.stderr
        got = np.load(tmp_path / "y.npy")
        expected = litert_invoke(interpreter, x)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected), f"{stem}, seed {seed}: " + _describe_mismatch(expected, got)
        # the library path gives the same bits as the command line
        assert np.array_equal(run_like_cli(load_build(out), x), got)


def test_single_op_model_without_arena_builds_and_runs(tmp_path: Path) -> None:
    """A model whose only tensors are its input and output needs no arena; the C must still compile."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu_only", [x], [y])
    path = tmp_path / "relu_only.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).uniform(-1, 1, (8, 3, 4, 4)).astype(np.float32))
    build_model(path, BuildOptions(target="host", out_dir=tmp_path / "out", calib=calib))
    build = load_build(tmp_path / "out")
    assert json.loads((build.path / BUILD_FILE).read_text())["totals"]["arena_bytes"] == 0
    graph = build.graph
    x = np.random.default_rng(1).integers(-128, 128, build.inputs[0].shape, dtype=np.int8)
    got, _ = run_host_binary(build, x)
    expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    assert np.array_equal(got, expected.reshape(got.shape))
