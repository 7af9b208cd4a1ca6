"""`edgec validate`: a build run on a whole data set, in one process or one QEMU session.

The model is the trained Fashion-MNIST CNN (models/fashion/), the data its committed
held-out images.  Oracles: the labels, the build's numpy int8 reference (computed here),
onnxruntime on the float ONNX model (not edgec's float reference, which validate uses).
Bad data files must give one error line and exit code 2.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from edgec.cli import main as cli
from edgec.compiler import BUILD_FILE, BuildOptions, build_model, load_build
from edgec.reference import run as run_reference
from edgec.tensor_io import to_model_input
from edgec.validate import validate_build
from models.fashion.data import load

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "fashion" / "fashion_cnn.onnx"
EDGEC = Path(sys.executable).with_name("edgec")
HOST_SAMPLES = 100
QEMU_SAMPLES = 4


def _save(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _build(tmp: Path, target: str) -> Path:
    calib = _save(tmp / "calib.npz", x=load("calib", 28, limit=32)[0])
    out = tmp / f"fashion_cnn-{target}"
    build_model(MODEL, BuildOptions(target=target, out_dir=out, calib=calib))
    return out


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("validate-host"), "host")


@pytest.fixture(scope="module")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    x, y = load("heldout", 28, limit=HOST_SAMPLES)
    return _save(tmp_path_factory.mktemp("validate-data") / "heldout.npz", x=x, y=y), x, y


def _reference_classes(build_dir: Path, x: np.ndarray) -> np.ndarray:
    build = load_build(build_dir)
    graph, spec = build.graph, build.inputs[0]
    return np.array([np.argmax(run_reference(graph, {graph.inputs[0]: to_model_input(s[None], spec)})[graph.outputs[0]]) for s in x])


def test_host_run_of_the_heldout_set(host_build: Path, heldout: tuple[Path, np.ndarray, np.ndarray]) -> None:
    data, x, y = heldout
    proc = subprocess.run([str(EDGEC), "validate", str(host_build), "--data", str(data), "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["samples"] == HOST_SAMPLES
    assert report["exact"] == HOST_SAMPLES and report["max_abs_diff"] == 0  # host C == numpy reference
    predicted = _reference_classes(host_build, x)
    assert report["correct"] == int(np.sum(predicted == y))
    assert report["top1"] == pytest.approx(np.mean(predicted == y))
    assert report["top1"] > 0.75  # a trained model, not noise

    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    float_classes = logits.argmax(axis=1)
    # edgec's float reference and onnxruntime may order a near-tie differently: one sample of slack.
    assert abs(report["float"]["top1"] - np.mean(float_classes == y)) <= 1 / HOST_SAMPLES
    assert abs(report["float"]["agreement"] - np.mean(float_classes == predicted)) <= 1 / HOST_SAMPLES
    assert 0.99 < report["float"]["cosine"] <= 1.0 + 1e-9
    assert report["float"]["cosine_min"] <= report["float"]["cosine"]


def test_float_comparison_is_skipped_with_a_reason_when_the_model_is_gone(host_build: Path, tmp_path: Path) -> None:
    moved = tmp_path / "build"
    shutil.copytree(host_build, moved)
    summary = json.loads((moved / BUILD_FILE).read_text())
    summary["model_path"] = str(tmp_path / "deleted.onnx")
    (moved / BUILD_FILE).write_text(json.dumps(summary))
    small = _save(tmp_path / "three.npz", x=load("heldout", 28, limit=3)[0])
    report = validate_build(moved, small)
    assert report["samples"] == 3 and report["exact"] == 3
    assert "top1" not in report  # no labels
    assert report["float"] is None and "is gone" in report["float_note"]


@pytest.mark.hil
@pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/install-system-deps.sh)",
)
def test_qemu_run_in_one_session(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("validate-qemu")
    build = _build(tmp, "qemu-cortex-m4")
    x, y = load("heldout", 28, limit=QEMU_SAMPLES)
    x_int8 = np.stack([to_model_input(s[None], load_build(build).inputs[0])[0] for s in x])  # int8 NHWC samples
    data = _save(tmp / "few.npz", x=x_int8, y=y)
    report = validate_build(build, data)
    assert report["where"] == "QEMU mps2-an386"
    assert report["samples"] == QEMU_SAMPLES and report["exact"] == QEMU_SAMPLES
    assert report["correct"] == int(np.sum(_reference_classes(build, x) == y))
    assert report["float"]["agreement"] >= 0.75


def _bad_data_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    x, y = load("heldout", 28, limit=3)
    (tmp / "junk.npz").write_text("not a zip archive")
    np.save(tmp / "single.npy", x)
    return {
        "missing file": (tmp / "nowhere.npz", "does not exist"),
        "not an npz": (tmp / "junk.npz", "cannot read"),
        "a single .npy": (tmp / "single.npy", "not an .npz archive"),
        "missing x": (_save(tmp / "no_x.npz", images=x), "has no array 'x'"),
        "wrong shape": (_save(tmp / "shape.npz", x=x[:, :, :27, :]), "x has shape [3, 1, 27, 28]"),
        "wrong dtype": (_save(tmp / "dtype.npz", x=(x * 255).astype(np.uint8)), "x has dtype uint8"),
        "labels count": (_save(tmp / "labels.npz", x=x, y=y[:2]), "y has 2 labels for 3 samples"),
        "labels dtype": (_save(tmp / "float_labels.npz", x=x, y=y.astype(np.float32)), "y must be a 1-D array of integer"),
        "no samples": (_save(tmp / "empty.npz", x=x[:0]), "x holds no samples"),
    }


def test_bad_data_files_are_one_line_errors(host_build: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for case, (path, needle) in _bad_data_cases(tmp_path).items():
        result = runner.invoke(cli, ["validate", str(host_build), "--data", str(path)])
        assert result.exit_code == 2, (case, result.output, result.exception)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (case, result.stderr)
        assert result.stdout == "", case
    # The console script, as users run it: the same one line and exit code 2.
    path, needle = _bad_data_cases(tmp_path)["missing x"]
    proc = subprocess.run([str(EDGEC), "validate", str(host_build), "--data", str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: ") and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
