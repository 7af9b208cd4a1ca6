"""Mixed-precision patch stage (QuantMCU) end to end: generated C vs the patch-wise numpy reference.

A small conv net (tests/mixed_fixture.py) is planned with a 3x3 patch stage;
a hand-made ``MixedPrecision`` gives six stage feature maps 4 or 2 bits
(width pairs 8->4, 4->4, 4->2, 2->2, 2->4, 4->8 through conv, depthwise,
max pool and add; odd channel counts 5 and 7, so pixels end mid-byte) and an
outlier test on the first conv's output whose thresholds put patches in both
classes.  The C project is built for the host (ASan/UBSan, portable kernels),
and every output byte must equal the reference: the int8 reference kernels run patch by patch
on the int8 or the mixed graph as the classifier decides.  In QEMU on
qemu-cortex-m4 (DSP kernels) and qemu-cortex-m55 (Helium kernels) the
firmware must give the same bytes.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from edgec.codegen.c import emit_project
from edgec.compiler import BuildOptions
from edgec.lowering import lower_model
from edgec.mixed.reference import run_mixed
from edgec.schedule.planning import plan_model
from edgec.targets import load_target
from tests import mixed_fixture as mf

SEEDS = (0, 1, 2)
SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"


@pytest.fixture(scope="module")
def lowered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed_model")
    model, calib = mf.write_model(folder)
    return lower_model(model, calib)


def _inputs(graph) -> list[np.ndarray]:
    shape = graph.tensors[graph.inputs[0]].shape
    return [
        np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8) for seed in SEEDS
    ]


def _plan(graph, target: str):
    options = BuildOptions(target=target, schedule="patch", split=mf.tensor_of(graph, mf.SPLIT), patches=3)
    return plan_model(graph, load_target(target), options)


def _thresholds(graph, stage, xs) -> tuple[int, int]:
    """[lo, hi] for the test tensor such that the first input has patches of both classes."""
    from edgec.reference import run

    env = run(graph, xs[0], keep=True)
    test = mf.tensor_of(graph, mf.TEST_TENSOR_OP)
    peaks = sorted(
        int(env[test][:, r.h0 : r.h1, r.w0 : r.w1, :].max()) for r in (p.regions[test] for p in stage.patches)
    )
    assert peaks[0] < peaks[-1], "every patch has the same peak: cannot split the classes"
    return -128, peaks[len(peaks) // 2] - (1 if peaks[len(peaks) // 2] == peaks[-1] else 0)


@pytest.fixture(scope="module")
def mixed_setup(lowered):
    graph = lowered.graph
    plan = _plan(graph, "host")
    xs = _inputs(graph)
    lo, hi = _thresholds(graph, plan.stage, xs)
    mixed = mf.mixed_variant(graph, plan.stage, lo, hi)
    expected = [mf.reference_outputs(graph, plan.stage, mixed, x) for x in xs]
    for x, (want, _) in zip(xs, expected):  # the fixture's own patch loop agrees with the mixed reference
        np.testing.assert_array_equal(run_mixed(graph, plan, mixed, x)[graph.outputs[0]], want)
    return graph, mixed, xs, expected


def _host_binary(project_dir, out_dir):
    """Compile the generated project with ASan/UBSan in one cc call (-O0: compile time dominates here)."""
    sources = [project_dir / "model.c", project_dir / "weights.c", project_dir / "host" / "main.c"]
    sources += sorted((project_dir / "kernels").glob("*.c"))
    binary = out_dir / "edgec_model"
    cmd = ["cc", "-std=c99", "-O0", "-Wall", "-Wextra", "-Werror", *SANITIZE.split(), f"-I{project_dir}"]
    cmd += [f"-I{project_dir / 'kernels'}", *map(str, sources), "-o", str(binary)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return binary


def _run_binary(binary, x, out_shape, tmp):
    fin, fout = tmp / "in.bin", tmp / "out.bin"
    fin.write_bytes(np.ascontiguousarray(x).tobytes())
    proc = subprocess.run(
        [str(binary), str(fin), str(fout), "1"], check=False, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.frombuffer(fout.read_bytes(), dtype=np.int8).reshape(out_shape)


def test_reference_classes_both_ways(mixed_setup):
    """The hand-made thresholds make the test meaningful: outlier and non-outlier patches both occur."""
    _, _, _, expected = mixed_setup
    classes = expected[0][1]
    assert any(classes) and not all(classes), classes


def test_mixed_differs_from_int8(mixed_setup):
    """The mixed variant really changes the numbers (else the comparison below proves nothing)."""
    from edgec.reference import run

    graph, _, xs, expected = mixed_setup
    int8 = [run(graph, x)[graph.outputs[0]] for x in xs]
    assert any(not np.array_equal(a, e[0]) for a, e in zip(int8, expected))


def test_host_bit_exact(mixed_setup, tmp_path, kernels="portable"):
    """Portable kernels under ASan/UBSan (the DSP and Helium variants run in QEMU below)."""
    if shutil.which("cc") is None:
        pytest.skip("a host C compiler (cc) is needed to compile the generated project")
    graph, mixed, xs, expected = mixed_setup
    plan = _plan(graph, "host")
    plan.mixed = mixed
    project = emit_project(graph, plan, tmp_path / "src", load_target("host"), "0" * 64, kernels=kernels)
    source = (tmp_path / "src" / "model.c").read_text()
    assert "edgec_has_outlier" in source and "edgec_packed_input_rows" in source
    precisions = [op.get("precision") for op in project.ops]
    assert precisions.count("mixed") == precisions.count("int8") == len(mixed.graph.nodes[1:8])
    binary = _host_binary(tmp_path / "src", tmp_path)
    out_shape = graph.tensors[graph.outputs[0]].shape
    for x, (want, _) in zip(xs, expected):
        got = _run_binary(binary, x, out_shape, tmp_path)
        np.testing.assert_array_equal(got, want)


@pytest.mark.hil
@pytest.mark.parametrize("target", ["qemu-cortex-m4", "qemu-cortex-m55"])
def test_qemu_bit_exact(lowered, tmp_path, target):
    """The mixed build's firmware in QEMU (DSP kernels on the M4, Helium on the M55): same bytes as the reference;
    one profiler entry per op of both variants plus the classifier."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    from edgec.device.session import run_on_device
    from edgec.firmware import build_firmware

    graph = lowered.graph
    plan = _plan(graph, target)
    xs = _inputs(graph)[:2]
    lo, hi = _thresholds(graph, plan.stage, xs)
    mixed = mf.mixed_variant(graph, plan.stage, lo, hi)
    expected = [(run_mixed(graph, plan, mixed, x)[graph.outputs[0]], None) for x in xs]
    plan.mixed = mixed
    project = emit_project(graph, plan, tmp_path / "src", load_target(target), "0" * 64)
    assert {"dsp" if target.endswith("m4") else "mve"} <= {op["variant"] for op in project.ops}
    image = build_firmware(tmp_path / "src", target, tmp_path / "bin")
    outputs, counts, _ = run_on_device(image.elf, xs, target)
    for got, (want, _) in zip(outputs, expected):
        np.testing.assert_array_equal(got, want)
    classifier = next(op["index"] for op in project.ops if op["op"] == "vdpc_classify")
    assert len(counts[0]) == len(project.ops) and counts[0][classifier] > 0


def test_precision_mixed_build_bit_exact(tmp_path):
    """A real `--precision mixed` build (VDQS-searched widths, calibrated VDPC thresholds) of the digits CNN:
    the host binary equals the build's own reference (``run_mixed``) on seeded inputs."""
    from edgec.compiler import build_model, load_build
    from edgec.runner import run_host_binary

    digits = mf.ROOT / "models" / "digits"
    options = BuildOptions(
        target="host", out_dir=tmp_path / "digits", calib=digits / "calib.npz", schedule="patch", split="maxpool_0",
        patches=2, precision="mixed", mixed_lambda=0.0,
    )  # fmt: skip
    build_model(digits / "digits_cnn.onnx", options)
    build = load_build(tmp_path / "digits")
    assert build.summary["precision"]["mode"] == "mixed"
    assert any(b < 8 for b in build.summary["precision"]["bits"].values())
    assert build.summary["precision"]["weight_bits"]  # lambda 0: int4 weight values in the mixed variant too
    # the classifier is emitted exactly when the calibrated thresholds can flag a patch
    test = build.summary["precision"]["outlier_test"]
    classifies = test["lo"] > -128 or test["hi"] < 127
    assert ("edgec_has_outlier" in (tmp_path / "digits" / "src" / "model.c").read_text()) == classifies
    graph = build.graph
    shape = graph.tensors[graph.inputs[0]].shape
    for seed in SEEDS:
        x = np.random.default_rng(seed).integers(-128, 128, size=shape).astype(np.int8)
        got, _ = run_host_binary(build, x)
        np.testing.assert_array_equal(got, build.reference_outputs(x)[graph.outputs[0]])
    # `edgec validate` checks a mixed build against run_mixed, not the int8 graph
    from edgec.validate import validate_build

    with np.load(digits / "heldout.npz") as held:
        np.savez(tmp_path / "few.npz", x=held["x"][:12], y=held["y"][:12])
    report = validate_build(tmp_path / "digits", tmp_path / "few.npz")
    assert report["samples"] == 12 and report["exact"] == 12


def test_sub_byte_test_tensor_is_a_one_line_error(lowered, tmp_path):
    """A plan whose outlier-test tensor is sub-byte cannot be classified on the device: one-line BuildError."""
    from edgec.errors import BuildError

    graph = lowered.graph
    plan = _plan(graph, "host")
    mixed = mf.mixed_variant(graph, plan.stage, -128, 127)
    mixed.graph.tensors[mixed.outlier_test.tensor].bits = 4
    plan.mixed = mixed
    with pytest.raises(BuildError) as err:
        emit_project(graph, plan, tmp_path / "src", load_target("host"), "0" * 64)
    assert "\n" not in str(err.value) and "8-bit" in str(err.value)


def test_firmware_with_int4_weights_only(tmp_path, monkeypatch):
    """A mixed variant with int4 weight values and every map int8 (the search offered no sub-byte
    map width): its firmware (-Werror) still builds, and in QEMU it equals ``run_mixed``."""
    from edgec.compiler import build_model, load_build
    from edgec.mixed import search
    from edgec.validate import validate_build

    monkeypatch.setattr(search, "CANDIDATE_BITS", ())
    digits = mf.ROOT / "models" / "digits"
    options = BuildOptions(
        target="qemu-cortex-m4", out_dir=tmp_path / "m4", calib=digits / "calib.npz", schedule="patch",
        split="maxpool_0", patches=2, precision="mixed", mixed_lambda=0.0,
    )  # fmt: skip
    build_model(digits / "digits_cnn.onnx", options)
    precision = load_build(tmp_path / "m4").summary["precision"]
    assert precision["weight_bits"] and all(b == 8 for b in precision["bits"].values())
    with np.load(digits / "heldout.npz") as held:
        np.savez(tmp_path / "few.npz", x=held["x"][:4], y=held["y"][:4])
    report = validate_build(tmp_path / "m4", tmp_path / "few.npz")
    assert report["samples"] == 4 and report["exact"] == 4
