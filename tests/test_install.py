"""edgec installed the way users install Python tools: from a wheel, into a fresh virtualenv.

The sdist and the wheel are built from this checkout with ``python -m build`` (the wheel
from the sdist, as the build frontend does), installed with pip into a virtualenv
outside the checkout, and the installed ``edgec`` console script is run from a folder
outside the checkout.  It must find its targets and its C runtime inside the installed
package: it lists the targets, builds a bundled int8 model for the host and for the
emulated Cortex-M4, and both binaries give LiteRT's BUILTIN_REF output bit for bit.

pip takes edgec's pinned dependencies from the configured index or its cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "tflite" / "ds_cnn.tflite"
SHIPPED = ("edgec/runtime/kernels/conv.c", "edgec/runtime/cmake/arm-none-eabi.cmake", "edgec/targets/host.toml")


def run(*args: str | Path, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run a command with the environment a user would have: no PYTHONPATH into the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{args}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


# What a clone does not hold: build outputs, virtualenvs, caches.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "out", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".fixture-venv"
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel (built from the sdist) of a copy of this checkout, outside it.

    The copy keeps setuptools' ``edgec.egg-info`` and build folders out of the checkout.
    """
    source = tmp_path_factory.mktemp("source") / "edgec"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, source, cwd=out)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the checkout with the wheel installed; returns its bin/ folder."""
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", venv, cwd=venv)
    (wheel,) = dist.glob("edgec-*.whl")
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    run(*pip, wheel, cwd=venv)
    return venv / "bin"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder outside the checkout."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    return tmp_path


def litert_reference(x: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_path=str(MODEL), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def model_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A seeded int8 input for the bundled DS-CNN, and LiteRT's reference output for it."""
    interpreter = Interpreter(model_path=str(MODEL))
    detail = interpreter.get_input_details()[0]
    assert detail["dtype"] == np.int8
    x = np.random.default_rng(9).integers(-128, 128, size=tuple(detail["shape"]), dtype=np.int8)
    path = tmp_path_factory.mktemp("input") / "x.npy"
    np.save(path, x)
    return path, litert_reference(x)


def test_sdist_and_wheel_carry_the_runtime_and_the_targets(dist: Path) -> None:
    (wheel,) = dist.glob("edgec-*.whl")
    (sdist,) = dist.glob("edgec-*.tar.gz")
    wheel_names = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as tar:
        sdist_names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for name in SHIPPED:
        assert name in wheel_names, f"{name} missing from {wheel.name}"
        assert name in sdist_names, f"{name} missing from {sdist.name}"
    tomls = {p.name for p in (REPO / "edgec" / "targets").glob("*.toml")}
    assert tomls == {Path(n).name for n in wheel_names if n.startswith("edgec/targets/") and n.endswith(".toml")}
    # The sdist is the whole source tree: `make test` works from it.
    for name in ("Makefile", "CMakeLists.txt", "tests/onnx_builders.py", "models/tflite/ds_cnn.tflite"):
        assert name in sdist_names, f"{name} missing from {sdist.name}"


def test_installed_edgec_is_not_the_checkout(installed: Path, workdir: Path) -> None:
    where = run(installed / "python", "-c", "import edgec; print(edgec.__file__)", cwd=workdir).stdout.strip()
    assert Path(where).resolve().is_relative_to(installed.parent.resolve()), where


def test_installed_edgec_lists_the_targets(installed: Path, workdir: Path) -> None:
    table = run(installed / "edgec", "targets", cwd=workdir).stdout
    rows = [line.split()[0] for line in table.splitlines()[2:] if line.strip()]
    assert {"host", "qemu-cortex-m4"} <= set(rows), table


@pytest.mark.parametrize("target", ["host", pytest.param("qemu-cortex-m4", marks=pytest.mark.hil)])
def test_installed_edgec_builds_and_runs_a_bundled_model(
    installed: Path, workdir: Path, model_input: tuple[Path, np.ndarray], target: str
) -> None:
    x_path, expected = model_input
    edgec = installed / "edgec"
    run(edgec, "build", MODEL, "--target", target, "-o", workdir / "out", cwd=workdir)
    run(edgec, "run", workdir / "out", "--input", x_path, "--output", workdir / "y.npy", cwd=workdir)
    run(edgec, "run", MODEL, "--reference", "--input", x_path, "--output", workdir / "ref.npy", cwd=workdir)
    y, ref = np.load(workdir / "y.npy"), np.load(workdir / "ref.npy")
    assert y.dtype == np.int8 and ref.dtype == np.int8
    np.testing.assert_array_equal(ref, expected)  # the installed reference interpreter: LiteRT, bit for bit
    np.testing.assert_array_equal(y, expected)  # the built binary: LiteRT, bit for bit
