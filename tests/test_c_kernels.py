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

import numpy as np
import pytest

from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor
from edgec.reference import int8_kernels as K
from edgec.schedule.arena import _depthwise_inplace_ok, depthwise_scratch_bytes

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "edgec" / "runtime" / "kernels"
GEN = ROOT / "tests" / "kernels" / "gen_vectors.py"

OPS = [
    "primitives",
    "conv2d",
    "conv2d_1x1",
    "depthwise_conv2d",
    "depthwise_conv2d_inplace",
    "depthwise_conv2d_dsp",
    "depthwise_conv2d_inplace_dsp",
    "add_dsp",
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
    "strided_slice",
    "maximum",
    "minimum",
    "reduce_max",
    "gather",
    "transpose_conv2d",
    "prelu",
    "resize_bilinear",
    "depth_to_space",
    "space_to_depth",
    "squared_difference",
    "l2_normalization",
    "move_rows",
    "requant_fast",
    "conv2d_dsp",
    "fully_connected_dsp",
    "conv2d_dsp_int8",
    "fully_connected_dsp_int8",
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
    '"binary_walk.h"',
    '"arm_dsp.h"',
    '"requant_fast.h"',
    "<arm_acle.h>",
    '"mve_requant.h"',
    '"depthwise_ring_mve.h"',
    '"depthwise_shapes_mve.h"',
    '"depthwise_window_mve.h"',
    '"depthwise_pairs_mve.h"',
    '"depthwise_small_mve.h"',
    "<arm_mve.h>",
    '"subbyte.h"',
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


# -- in-place depthwise: the numpy twin of the in-place procedure ------------------


def _random_inplace_depthwise(rng: np.random.Generator, n: int = 1):
    """Random in-place-legal depthwise arguments (depth_multiplier 1, OH*OW <= H*W, no input row
    overwritten before the row ring copies it)."""
    while True:
        kh, kw = (int(v) for v in rng.choice([1, 3, 5, 7], size=2))
        sh, sw = (int(v) for v in rng.choice([1, 2], size=2))
        dh, dw = (1, 1) if rng.random() < 0.7 else (int(v) for v in rng.integers(1, 3, size=2))
        h, w = (int(v) for v in rng.integers(1, 12, size=2))
        pad = (int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kh)), int(rng.integers(0, kw)))
        oh = (h + pad[0] + pad[2] - dh * (kh - 1) - 1) // sh + 1
        ow = (w + pad[1] + pad[3] - dw * (kw - 1) - 1) // sw + 1
        if oh >= 1 and ow >= 1 and oh * ow <= h * w and K.depthwise_inplace_rows_ok(h, w, oh, ow, kh, sh, dh, pad[0]):
            break
    c = int(rng.choice([1, 2, 3, 17, 33]))
    zp_in, zp_out = (int(v) for v in rng.choice([-128, -127, -5, 0, 9, 127], size=2))
    per_tensor = rng.random() < 0.3
    mult = rng.integers(1 << 30, 1 << 31, size=1 if per_tensor else c)
    shift = rng.integers(-12, 1, size=1 if per_tensor else c)
    x = rng.integers(-128, 128, size=(n, h, w, c)).astype(np.int8)
    wt = rng.integers(-127, 128, size=(1, kh, kw, c)).astype(np.int8)
    bias = rng.integers(-50000, 50000, size=c).astype(np.int32) if rng.random() < 0.7 else None
    params = {
        "stride": (sh, sw),
        "dilation": (dh, dw),
        "pad": pad,
        "input_offset": -zp_in,
        "output_offset": zp_out,
        "out_mult": mult,
        "out_shift": shift,
        "act_min": -128,
        "act_max": 127,
    }
    return x, wt, bias, params


@pytest.mark.parametrize("seed", range(6))
def test_depthwise_inplace_twin_equals_depthwise(seed):
    """Running channel by channel over one shared buffer gives the out-of-place result, bit for bit."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        x, wt, bias, params = _random_inplace_depthwise(rng, n=int(rng.integers(1, 3)))
        want = K.depthwise_conv2d(x, wt, bias, depth_multiplier=1, **params)
        got = K.depthwise_conv2d_inplace(x, wt, bias, **params)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"x{x.shape} w{wt.shape} {params['pad']} {params['stride']}")


def test_depthwise_inplace_twin_rejects_illegal_cases():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(1, 4, 4, 3)).astype(np.int8)
    wt = rng.integers(-127, 128, size=(1, 3, 3, 3)).astype(np.int8)
    common = {
        "stride": (1, 1),
        "dilation": (1, 1),
        "input_offset": 0,
        "output_offset": 0,
        "out_mult": [1 << 30],
        "out_shift": [0],
        "act_min": -128,
        "act_max": 127,
    }
    with pytest.raises(ValueError, match="larger than the input"):  # 6x6 output from a 4x4 input
        K.depthwise_conv2d_inplace(x, wt, None, pad=(2, 2, 2, 2), **common)
    with pytest.raises(ValueError, match="depth_multiplier"):
        K.depthwise_conv2d_inplace(x, wt, None, pad=(1, 1, 1, 1), depth_multiplier=2, **common)
    # 8x8 -> 9x6 (3x3, pad_top 3): output row 0 reads only padding and overwrites input row 0 (and
    # the start of row 1) before output row 1 first needs it.
    x8 = rng.integers(-128, 128, size=(1, 8, 8, 3)).astype(np.int8)
    with pytest.raises(ValueError, match="overwritten before its first use"):
        K.depthwise_conv2d_inplace(x8, wt, None, pad=(3, 0, 0, 0), **common)
    # dilation 2, pad_top 1: output row 0 taps padded rows 0, 2, 4 and overwrites input row 0,
    # which output row 1 taps first.
    x9 = rng.integers(-128, 128, size=(1, 9, 9, 3)).astype(np.int8)
    with pytest.raises(ValueError, match="overwritten before its first use"):
        K.depthwise_conv2d_inplace(x9, wt, None, pad=(1, 1, 1, 1), **{**common, "dilation": (2, 1)})


def test_depthwise_inplace_rows_ok_is_tight():
    """The row condition on hand-checked geometries; its boundary iy*W == oy0*OW is allowed (the row
    starts right after the outputs written so far).  tests/test_arena.py shows that running the ring
    where it fails reads a clobbered row."""
    first = K.depthwise_inplace_first_uses(8, 9, 3, 1, 1, 3)
    assert first == {iy: iy + 1 for iy in range(8)}  # padded row iy + 3 first tapped by output row iy + 1
    assert not K.depthwise_inplace_rows_ok(8, 8, 9, 6, 3, 1, 1, 3)
    assert K.depthwise_inplace_rows_ok(8, 8, 8, 6, 3, 1, 1, 2)  # pad_top 2 <= KH - 1: fine
    assert K.depthwise_inplace_rows_ok(10, 4, 5, 8, 1, 2, 1, 0)  # iy*W == oy0*OW for every row: fine
    assert not K.depthwise_inplace_rows_ok(10, 4, 5, 9, 1, 2, 1, 0)


@pytest.mark.parametrize(
    "kh,dilation,pad",
    [(3, 1, (0, 0, 0, 0)), (3, 1, (1, 1, 1, 1)), (3, 1, (2, 0, 1, 2)), (5, 1, (2, 2, 2, 2)), (3, 2, (2, 1, 2, 1))],
)
def test_depthwise_inplace_scratch_formula_matches_planner(kh, dilation, pad):
    """The vectors' scratch_size (checked in C against edgec_depthwise_inplace_scratch_size, and that
    the kernel writes every byte of it) is the planner's: a ring of (KH-1)*dilation+1 padded rows."""
    g = Graph()
    g.add_tensor(Tensor("x", (1, 7, 9, 5), "int8"))
    oh = 7 + pad[0] + pad[2] - dilation * (kh - 1)
    ow = 9 + pad[1] + pad[3] - (kh - 1)
    g.add_tensor(Tensor("y", (1, oh, ow, 5), "int8"))
    g.add_const("w", np.ones((1, kh, kh, 5), dtype=np.int8))
    node = g.add_node(
        "depthwise_conv2d", ["x", "w", ""], ["y"], name="dw", stride=(1, 1), dilation=(dilation, 1), pad=pad
    )
    assert depthwise_scratch_bytes(g, node) == ((kh - 1) * dilation + 1) * (9 + pad[1] + pad[3])


@pytest.mark.parametrize("seed", range(3))
def test_depthwise_inplace_planner_condition_matches_twin(seed):
    """edgec.schedule.arena._depthwise_inplace_ok accepts exactly the geometries the twin runs."""
    rng = np.random.default_rng(100 + seed)
    checked = 0
    while checked < 150:
        kh, kw = (int(v) for v in rng.choice([1, 2, 3, 5], size=2))
        sh, sw = (int(v) for v in rng.integers(1, 4, size=2))
        dh, dw = (int(v) for v in rng.integers(1, 4, size=2))
        h, w = (int(v) for v in rng.integers(1, 12, size=2))
        pad = tuple(int(rng.integers(0, 2 * k)) for k in (kh, kw, kh, kw))
        oh = (h + pad[0] + pad[2] - dh * (kh - 1) - 1) // sh + 1
        ow = (w + pad[1] + pad[3] - dw * (kw - 1) - 1) // sw + 1
        if oh < 1 or ow < 1:
            continue
        checked += 1
        g = Graph()
        g.add_tensor(Tensor("x", (1, h, w, 2), "int8"))
        g.add_tensor(Tensor("y", (1, oh, ow, 2), "int8"))
        g.add_const("w", np.ones((1, kh, kw, 2), dtype=np.int8))
        node = g.add_node(
            "depthwise_conv2d", ["x", "w", ""], ["y"], name="dw", stride=(sh, sw), dilation=(dh, dw), pad=pad
        )
        x = rng.integers(-128, 128, size=(1, h, w, 2)).astype(np.int8)
        wt = rng.integers(-127, 128, size=(1, kh, kw, 2)).astype(np.int8)
        params = {
            "stride": (sh, sw),
            "dilation": (dh, dw),
            "pad": pad,
            "input_offset": 3,
            "output_offset": -1,
            "out_mult": [1 << 30],
            "out_shift": [-4],
            "act_min": -128,
            "act_max": 127,
        }
        try:
            got = K.depthwise_conv2d_inplace(x, wt, None, **params)
        except ValueError:
            assert not _depthwise_inplace_ok(g, node), (h, w, kh, kw, (sh, sw), (dh, dw), pad)
            continue
        assert _depthwise_inplace_ok(g, node), (h, w, kh, kw, (sh, sw), (dh, dw), pad)
        np.testing.assert_array_equal(got, K.depthwise_conv2d(x, wt, None, depth_multiplier=1, **params))
