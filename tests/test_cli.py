"""The `edgec` command line, run as users run it: the console script in a subprocess.

Good input: `targets`, `inspect` (model files and build folders), `run --reference`,
`build --json`.  Bad input (docs/design.md): one error line on stderr, exit code 2, no
traceback, and no half-written output folder or staging directory left behind.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from float_compare import assert_close
from onnx import helper

from edgec.compiler import BUILD_FILE, BuildOptions, build_model
from models import zoo

REPO = Path(__file__).resolve().parents[1]
EDGEC = Path(sys.executable).with_name("edgec")
TFLITE_DIR = REPO / "models" / "tflite"
DS_CNN = TFLITE_DIR / "ds_cnn.tflite"
TARGET_NAMES = sorted(p.stem for p in (REPO / "edgec" / "targets").glob("*.toml"))
DEFAULT_TARGET = "qemu-cortex-m4"
# `build` reports its steps on stderr ("- loading x ... done (0.1 s)", "... failed"); they are
# progress, not part of the error.  Everything else on stderr must be the one error line.
PROGRESS_LINE = re.compile(r"^- .+ \.\.\. (done \(\d+\.\d s\)|failed)$")


def edgec(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert EDGEC.is_file(), f"console script {EDGEC} missing: pip install -e ."
    return subprocess.run(
        [str(EDGEC), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def assert_user_error(proc: subprocess.CompletedProcess[str], *needles: str, out: Path | None = None) -> str:
    """Exit 2, no traceback, exactly one error line (besides progress lines); return it."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert proc.stdout == "", proc.stdout
    lines = [line for line in proc.stderr.splitlines() if not PROGRESS_LINE.match(line)]
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    assert line.startswith("error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    if out is not None:
        assert not out.exists(), f"{out} left behind"
        stray = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
        assert not stray, f"staging folders left behind: {stray}"
    return line


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ds_cnn.tflite built for the host through the library (the CLI build is tested separately)."""
    out = tmp_path_factory.mktemp("cli") / "ds_cnn-host"
    build_model(DS_CNN, BuildOptions(target="host", out_dir=out))
    return out


@pytest.fixture(scope="module")
def transpose_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A float ONNX model whose Transpose survives quantization; the C back end has no transpose kernel."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Transpose", ["r"], ["y"], perm=[0, 1, 3, 2])]
    graph = helper.make_graph(
        nodes,
        "transpose_net",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 4, 5])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 5, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("cli-models") / "transpose_net.onnx"
    onnx.save(model, path)
    return path


# -- targets ---------------------------------------------------------------------------------------


def test_targets_table_lists_every_target_file() -> None:
    proc = edgec("targets")
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()[2:]  # header, rule
    assert sorted(r.split()[0] for r in rows) == TARGET_NAMES
    (default_row,) = [r for r in rows if "(default)" in r]
    assert default_row.split()[0] == DEFAULT_TARGET
    kinds = {r.split()[0]: r.split()[1] for r in rows if "(default)" not in r}
    assert kinds["host-tvm"] == "linux" and kinds["qemu-aarch64"] == "linux"
    assert kinds["jetson-agx-orin"] == "jetson" and kinds["raspberrypi-4"] == "linux"


def test_targets_json() -> None:
    proc = edgec("targets", "--json")
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert sorted(d["name"] for d in docs) == TARGET_NAMES
    by_name = {d["name"]: d for d in docs}
    assert by_name["host"]["kind"] == "host"
    assert by_name[DEFAULT_TARGET]["kind"] == "mcu" and by_name[DEFAULT_TARGET]["emulated"]


# -- inspect ---------------------------------------------------------------------------------------


def test_inspect_onnx_table_and_json() -> None:
    path = zoo.onnx_path("resnet8")
    table = edgec("inspect", path)
    assert table.returncode == 0, table.stderr
    doc = json.loads(edgec("inspect", path, "--json").stdout)
    totals = doc["totals"]
    assert totals["ops"] == len(doc["layers"]) > 0
    assert totals["macs"] == sum(layer["macs"] for layer in doc["layers"]) > 0
    assert doc["inputs"]["input"]["shape"] == [1, 32, 32, 3]  # NHWC inside edgec
    assert f"total: {totals['ops']} ops, {totals['macs']:,} MACs" in table.stdout
    for layer in doc["layers"]:
        assert layer["name"] in table.stdout


def test_inspect_tflite_table_and_json() -> None:
    path = TFLITE_DIR / "resnet8.tflite"
    table = edgec("inspect", path)
    assert table.returncode == 0, table.stderr
    doc = json.loads(edgec("inspect", path, "--json").stdout)
    # models/tflite/README.md (from the converter): 15 ops, 12.5 M MACs
    assert doc["totals"]["ops"] == 15
    assert doc["totals"]["macs"] == pytest.approx(12.5e6, rel=0.01)
    assert f"total: 15 ops, {doc['totals']['macs']:,} MACs" in table.stdout


def test_inspect_mobilenet_v2_matches_published_size() -> None:
    proc = edgec("inspect", zoo.onnx_path("mobilenet_v2_w1.0_r224"), "--json")
    assert proc.returncode == 0, proc.stderr
    totals = json.loads(proc.stdout)["totals"]
    # MobileNetV2 paper, width 1.0 at 224x224: 300M multiply-adds, 3.47M parameters
    assert totals["macs"] == pytest.approx(300e6, rel=0.03)
    assert totals["parameters"] == pytest.approx(3.47e6, rel=0.03)


def test_inspect_build_folder(host_build: Path) -> None:
    table = edgec("inspect", host_build)
    assert table.returncode == 0, table.stderr
    summary = json.loads((host_build / BUILD_FILE).read_text())
    for op in summary["ops"]:
        assert op["name"] in table.stdout
    assert f"arena/SRAM     {summary['totals']['arena_bytes']:,} bytes" in table.stdout
    doc = json.loads(edgec("inspect", host_build, "--json").stdout)
    assert doc == summary


# -- run --------------------------------------------------------------------------------------------


def test_run_reference_float_onnx_matches_onnxruntime(tmp_path: Path) -> None:
    path = zoo.onnx_path("resnet8")
    x = np.random.default_rng(7).uniform(-1, 1, size=(1, 3, 32, 32)).astype(np.float32)  # NCHW, as in the model
    np.save(tmp_path / "x.npy", x)
    proc = edgec("run", path, "--reference", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "y.npy")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {session.get_inputs()[0].name: x})
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert_close(got, expected, 1e-4)
    # the same data in edgec's NHWC layout gives the same answer
    np.save(tmp_path / "x_nhwc.npy", x.transpose(0, 2, 3, 1))
    proc = edgec("run", path, "--reference", "--input", tmp_path / "x_nhwc.npy", "--output", tmp_path / "y2.npy")
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y2.npy"), got)


def test_run_build_folder_json(host_build: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(3).integers(-128, 128, size=(1, 49, 10, 1), dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    proc = edgec("run", host_build, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    y = np.load(tmp_path / "y.npy")
    assert doc["output_shape"] == [1, 12] and doc["output_dtype"] == "int8"
    assert doc["output"] == y.reshape(-1).tolist()


# -- build -----------------------------------------------------------------------------------------


def test_build_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = edgec("build", DS_CNN, "--target", "host", "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["target"] == "host" and doc["model"] == "ds_cnn.tflite" and Path(doc["path"]) == out
    assert doc["totals"]["ops"] == len(doc["ops"]) == 12  # models/tflite/README.md
    assert doc["totals"]["arena_bytes"] > 0
    assert json.loads((out / BUILD_FILE).read_text())["totals"] == doc["totals"]
    assert (out / doc["binary"]).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    # rebuilding into an existing build folder replaces it
    assert edgec("build", DS_CNN, "--target", "host", "-o", out).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# -- bad input: one line, exit 2, nothing left behind ------------------------------------------------


def test_truncated_model(tmp_path: Path) -> None:
    model = tmp_path / "truncated.tflite"
    model.write_bytes(DS_CNN.read_bytes()[:1000])
    out = tmp_path / "out"
    assert_user_error(edgec("build", model, "--target", "host", "-o", out), "truncated.tflite", out=out)


@pytest.mark.parametrize("suffix", [".onnx", ".tflite"])
def test_random_bytes_model(tmp_path: Path, suffix: str) -> None:
    model = tmp_path / f"noise{suffix}"
    model.write_bytes(np.random.default_rng(0).integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    out = tmp_path / "out"
    assert_user_error(edgec("build", model, "--target", "host", "-o", out), model.name, out=out)


def test_missing_model_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_user_error(edgec("build", tmp_path / "nope.onnx", "--target", "host", "-o", out), "nope.onnx", out=out)


def test_unsupported_ops_are_all_listed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    line = assert_user_error(
        edgec("build", TFLITE_DIR / "bad" / "unsupported_ops.tflite", "--target", "host", "-o", out), out=out
    )
    for op in ("CUMSUM", "ARG_MAX", "CAST"):  # models/tflite/README.md
        assert op in line


def test_uint8_io_model(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_user_error(
        edgec("build", TFLITE_DIR / "bad" / "uint8_io.tflite", "--target", "host", "-o", out), "UINT8", out=out
    )


def test_dynamic_batch_tflite_is_taken_as_batch_1(tmp_path: Path) -> None:
    # Builds of Keras models with a dynamic batch: tests/test_dynamic_models.py.
    path = TFLITE_DIR / "bad" / "dynamic_batch.tflite"
    proc = edgec("inspect", path)
    assert proc.returncode == 0 and "batch: dynamic, built for 1" in proc.stdout, proc.stderr
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    x = np.random.default_rng(1).standard_normal(detail["shape"]).astype(np.float32)
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.save(tmp_path / "x.npy", x)
    proc = edgec("run", path, "--reference", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "y.npy")
    assert np.max(np.abs(got - expected)) <= 1e-4 * max(float(np.ptp(expected)), 1e-6), (got, expected)


def _dynamic_onnx(tmp_path: Path, dims: list) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Sigmoid", ["r"], ["y"])],
        "dyn",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, dims)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "dyn.onnx"
    onnx.save(model, path)
    return path


def test_dynamic_batch_onnx_builds_for_batch_1(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = edgec("build", _dynamic_onnx(tmp_path, ["N", 3, 4, 4]), "--target", "host", "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["batch"] == {"dynamic": True, "built_for": 1}
    assert summary["inputs"][0]["shape"] == [1, 4, 4, 3]


def test_dynamic_non_batch_dimension_onnx(tmp_path: Path) -> None:
    path = _dynamic_onnx(tmp_path, ["N", 3, "height", 4])
    out = tmp_path / "out"
    line = assert_user_error(edgec("build", path, "--target", "host", "-o", out), "--input-shape x=1x3xNx4", out=out)
    assert "[N, 3, height, 4]" in line
    proc = edgec("build", path, "--target", "host", "-o", out, "--input-shape", "x=1x3x6x4", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs"][0]["shape"] == [1, 6, 4, 3]
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = edgec("run", path, "--reference", "--input", tmp_path / "x.npy", "--input-shape", "x=1x3x6x4", "--output", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    assert_close(np.load(tmp_path / "y.npy"), 1 / (1 + np.exp(-np.maximum(x, 0))), 1e-6)


def test_missing_calibration_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = edgec("build", zoo.onnx_path("digits_cnn"), "--target", "host", "-o", out, "--calib", tmp_path / "calib.npy")
    assert_user_error(proc, "calib.npy", out=out)


def test_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    line = assert_user_error(edgec("build", DS_CNN, "--target", "no-such-board", "-o", out), "no-such-board", out=out)
    for name in TARGET_NAMES:
        assert name in line


def test_op_the_c_back_end_lacks(tmp_path: Path, transpose_model: Path) -> None:
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).standard_normal((8, 3, 4, 5)).astype(np.float32))
    out = tmp_path / "out"
    proc = edgec("build", transpose_model, "--target", "host", "-o", out, "--calib", calib)
    assert_user_error(proc, "transpose", out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calib.npy"]


def test_out_dir_that_is_not_a_build_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "sub").mkdir()
    (out / "sub" / "data.bin").write_bytes(b"\x00\x01")
    before = {p.relative_to(out): p.read_bytes() if p.is_file() else None for p in out.rglob("*")}
    assert_user_error(edgec("build", DS_CNN, "--target", "host", "-o", out), str(out))
    after = {p.relative_to(out): p.read_bytes() if p.is_file() else None for p in out.rglob("*")}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_run_on_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    np.save(tmp_path / "x.npy", np.zeros((1, 49, 10, 1), np.int8))
    assert_user_error(edgec("run", folder, "--input", tmp_path / "x.npy"), "not an edgec build folder")


def test_run_input_of_the_wrong_shape(host_build: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 49, 10, 2), np.int8))
    y = tmp_path / "y.npy"
    assert_user_error(
        edgec("run", host_build, "--input", tmp_path / "x.npy", "--output", y), "(1, 49, 10, 1)", "(1, 49, 10, 2)"
    )
    assert not y.exists()


def test_run_input_of_the_wrong_dtype(host_build: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 49, 10, 1), np.int32))
    y = tmp_path / "y.npy"
    assert_user_error(edgec("run", host_build, "--input", tmp_path / "x.npy", "--output", y), "int32")
    assert not y.exists()


def test_run_missing_input_file(host_build: Path, tmp_path: Path) -> None:
    assert_user_error(edgec("run", host_build, "--input", tmp_path / "missing.npy"), "missing.npy")


def test_run_input_that_is_not_npy(host_build: Path, tmp_path: Path) -> None:
    (tmp_path / "x.npy").write_bytes(b"not numpy at all")
    assert_user_error(edgec("run", host_build, "--input", tmp_path / "x.npy"), "x.npy")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    proc = edgec("--debug", "run", folder, "--input", tmp_path / "x.npy")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "not an edgec build folder" in proc.stderr
