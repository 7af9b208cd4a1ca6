"""The C int8 kernels (runtime/kernels) against their numpy twins, bit for bit.

Vectors come from tests/kernels/gen_vectors.py (expected outputs computed by
edgec.reference.int8_kernels); the C harness tests/kernels/run_vectors.c is
built with cmake and reports one PASS/FAIL line per case.  Any differing
element fails the op's test.  A second test compile-checks every kernel
source for a Cortex-M4 with arm-none-eabi-gcc.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "runtime" / "kernels"
GEN = ROOT / "tests" / "kernels" / "gen_vectors.py"

OPS = [
    "primitives",
    "conv2d",
    "conv2d_1x1",
    "depthwise_conv2d",
    "fully_connected",
    "add",
    "mul",
    "max_pool2d",
    "avg_pool2d",
    "mean",
    "requantize",
    "relu",
    "clamp",
    "leaky_relu",
    "lookup_table",
    "hard_swish",
    "softmax",
    "pad",
    "concat",
    "resize_nearest",
]

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wpedantic"]
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-O2", *STRICT]
ALLOWED_INCLUDES = {
    "<string.h>",
    "<stdint.h>",
    "<stddef.h>",
    '"edgec_kernels.h"',
    '"fixedpoint.h"',
    '"kernels_internal.h"',
}


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("c_kernel_vectors") / "vectors.txt"
    gen = _run([sys.executable, str(GEN), str(path)], cwd=ROOT)
    assert gen.returncode == 0, f"vector generation failed:\n{gen.stdout}\n{gen.stderr}"
    return path


@pytest.fixture(scope="module")
def harness_results(tmp_path_factory, vectors) -> dict[str, list[str]]:
    """Build the harness with cmake and run the vectors: {op: [result lines]}."""
    if shutil.which("cmake") is None or shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("cmake and a host C compiler are needed to build the kernel harness")
    build = tmp_path_factory.mktemp("c_kernels") / "build"

    configure = _run(["cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"])
    assert configure.returncode == 0, f"cmake configure failed:\n{configure.stdout}\n{configure.stderr}"
    compile_ = _run(["cmake", "--build", str(build), "--target", "run_vectors", "-j", "2"])
    assert compile_.returncode == 0, f"build failed:\n{compile_.stdout}\n{compile_.stderr}"

    run = _run([str(build / "run_vectors"), str(vectors)], timeout=300)
    lines = run.stdout.splitlines()
    assert lines and re.match(r"\d+ passed, \d+ failed", lines[-1]), f"harness crashed:\n{run.stdout}\n{run.stderr}"
    by_op: dict[str, list[str]] = defaultdict(list)
    for line in lines[:-1]:
        status, _case_id, op = line.split()[:3]
        by_op[op.rstrip(":")].append(line)
        assert status in ("PASS", "FAIL"), line
    by_op["__summary__"] = [lines[-1], str(run.returncode)]
    return by_op


@pytest.mark.parametrize("op", OPS)
def test_kernel_matches_numpy_twin(harness_results, op):
    lines = harness_results.get(op, [])
    assert lines, f"no test vectors ran for {op}"
    failures = [line for line in lines if line.startswith("FAIL")]
    assert not failures, f"{len(failures)} of {len(lines)} {op} cases differ from the numpy twin:\n" + "\n".join(
        failures
    )


def test_harness_ran_every_case(harness_results):
    summary, rc = harness_results["__summary__"]
    unknown = set(harness_results) - set(OPS) - {"__summary__"}
    assert not unknown, f"ops without a test here: {sorted(unknown)}"
    assert rc == "0", f"harness exit code {rc}: {summary}"


def test_kernels_clean_under_sanitizers(tmp_path, vectors):
    """No out-of-window reads or writes and no undefined behaviour (ASan + UBSan)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: cannot build the sanitizer harness")
    exe = tmp_path / "run_vectors_san"
    flags = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", *STRICT]
    sources = [str(p) for p in sorted(KERNELS.glob("*.c"))] + [str(ROOT / "tests" / "kernels" / "run_vectors.c")]
    build = _run([gcc, *flags, "-I", str(KERNELS), *sources, "-o", str(exe)])
    if build.returncode != 0 and "sanitize" in build.stderr:
        pytest.skip(f"sanitizers unavailable: {build.stderr.strip().splitlines()[-1]}")
    assert build.returncode == 0, build.stderr
    run = _run([str(exe), str(vectors)], timeout=600)
    failures = [line for line in run.stdout.splitlines() if line.startswith("FAIL")]
    assert run.returncode == 0 and not failures, "\n".join(failures) + run.stderr[-4000:]


def test_kernels_compile_for_cortex_m4(tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not found on PATH: cannot compile-check the kernels for Cortex-M4")
    sources = sorted(KERNELS.glob("*.c"))
    assert sources
    for src in sources:
        r = _run([cc, *ARM_FLAGS, "-I", str(KERNELS), "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))])
        assert r.returncode == 0, f"{src.name} does not compile for Cortex-M4:\n{r.stderr}"


def test_kernels_use_only_allowed_headers():
    for path in [*KERNELS.glob("*.c"), *KERNELS.glob("*.h")]:
        text = path.read_text()
        for inc in re.findall(r"^\s*#\s*include\s+(\S+)", text, flags=re.MULTILINE):
            assert inc in ALLOWED_INCLUDES, f"{path.name} includes {inc}"
        assert not re.search(r"\b(malloc|calloc|realloc|free)\s*\(", text), f"{path.name} allocates memory"
