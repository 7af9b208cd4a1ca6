"""Hardware-in-the-loop tests of every bundled model on the emulated boards.

Every bundled model -- the int8 TFLite models in ``models/tflite/*.tflite``
and the float ONNX models of ``models.zoo`` (quantized with 8 seeded
standard-normal NCHW calibration samples) -- is built for ``qemu-cortex-m4``
and ``qemu-cortex-m55``, except that an ONNX model whose network is also a
bundled TFLite file runs on the M4 only (the M55 runs that network's TFLite
file; ``M4_ONLY_TWINS``) and the largest, MobileNetV2 w1.0 r224, runs once per
format and core: TFLite on the M4, ONNX on the M55 (``LARGEST_PAIRS``).  The
firmware runs in QEMU and the host talks to it over QEMU's pty with the real
serial protocol, exactly as with a board: ONE emulator session per build runs
2 seeded random int8 inputs (1 for the largest model, ``FEWER_INPUTS``), and
every output element must equal the numpy int8 reference (bit-exact with
LiteRT's reference kernels).  The per-op counts must be positive, one per op
of the build.

Time: QEMU runs with ``-icount shift=0``, and the emulation is most of each
test: MCUNet takes about 6 s per inference on the M55 on an idle 2-core
machine, the largest model, MobileNetV2 w1.0 r224 (300.8 M MACs, ~1.7 G
instructions on the M4), 10-20 s on a loaded one.  Hence 2 inputs per model
and 1 for the largest (1000 output elements compared): each random input
already drives every kernel of the build over all its output elements, and
the kernels' edge cases are checked vector by vector in QEMU
(tests/test_c_kernels_qemu.py); more inputs would test little more.

Every model fits both targets: ``qemu-cortex-m55`` keeps its code in the
AN547's 512 KiB ITCM and the weights in the 8 MiB QSPI region
(targets/qemu-cortex-m55.toml; each test checks that the weights landed
there).  That a model too big for a target fails with a
one-line error is tested in tests/test_firmware.py.

Kernel variants: on ``qemu-cortex-m4`` every model must run some DSP
kernels.  ``test_model_bit_exact_on_other_cores`` runs a couple of models on
``qemu-cortex-m3`` (no DSP extension: portable C only, checked in build.json)
and ``qemu-cortex-m7`` (DSP variants compiled for the M7); MobileNetV2 w0.35's
automatic schedule has row-streamed segments, so the DSP kernels also run on
row views on the M4 and M7, the portable ones on the M3.

``test_patch_schedule_on_device`` forces the patch-based schedule
(MCUNetV2-style: the early ops run patch by patch) on ``qemu-cortex-m4`` (and
the smaller case on ``qemu-cortex-m7``), with DSP kernels on the patch views,
and checks the device's outputs against the same reference;
``test_patch_schedule_with_mve_kernels_on_device`` does the same on
``qemu-cortex-m55``, where the Helium (MVE) kernels run on the patch views.
"""

from __future__ import annotations

import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgec.compiler import Build, BuildOptions, build_model, load_build
from edgec.device.session import profile_on_device
from edgec.reference import run as run_reference

pytestmark = [
    pytest.mark.hil,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="needs qemu-system-arm and arm-none-eabi-gcc",
    ),
]

REPO = Path(__file__).resolve().parents[1]
TFLITE_DIR = REPO / "models" / "tflite"
TARGETS = ["qemu-cortex-m4", "qemu-cortex-m55"]
N_INPUTS = 2
FEWER_INPUTS = {"mobilenet_v2_w1.0_r224": 1}  # 10-20 s per inference in QEMU
CALIB_SAMPLES = 8
CALIB_SEED = 0


@dataclass(frozen=True)
class ModelCase:
    id: str  # "tflite:ds_cnn" or "onnx:ds_cnn"
    name: str
    format: str  # "tflite" | "onnx"

    def path(self) -> Path:
        if self.format == "tflite":
            return TFLITE_DIR / f"{self.name}.tflite"
        from models import zoo

        return zoo.onnx_path(self.name)


def _model_cases() -> list[ModelCase]:
    from models import zoo

    cases = [ModelCase(f"tflite:{p.stem}", p.stem, "tflite") for p in sorted(TFLITE_DIR.glob("*.tflite"))]
    cases += [ModelCase(f"onnx:{name}", name, "onnx") for name in zoo.list_models()]
    return cases


MODELS = _model_cases()

# The largest model runs once per format and once per core: its TFLite file on the M4, where
# its weight layouts overflow the flash and its largest layers fall back to the compact layout
# (checked below), and its ONNX model on the M55, with about 3.5 MB of weights in QSPI.  Its other
# two pairs would repeat what these two and the smaller models check in every format x core.
LARGEST = "mobilenet_v2_w1.0_r224"
LARGEST_PAIRS = {("tflite", "qemu-cortex-m4"), ("onnx", "qemu-cortex-m55")}
# The ONNX models of networks that are also bundled TFLite files run on the M4 only: on the M55 their
# TFLite files run the same layers through the same Helium kernels.
M4_ONLY_TWINS = {"mobilenet_v2_w0.35_r144", "mcunet", "mobilenet_v1_w0.25_r96", "ds_cnn", "resnet8"}


def _runs_on(model: ModelCase, target: str) -> bool:
    if model.name == LARGEST:
        return (model.format, target) in LARGEST_PAIRS
    return not (model.format == "onnx" and model.name in M4_ONLY_TWINS and target != "qemu-cortex-m4")


PAIRS = [(m, t) for m in MODELS for t in TARGETS if _runs_on(m, t)]
RUN_PAIRS = [pytest.param(m, t, id=f"{m.id}-{t}") for m, t in PAIRS]


def test_every_bundled_model_is_covered():
    """The lists above name real models: a renamed model must not silently drop out of these tests."""
    assert len([m for m in MODELS if m.format == "tflite"]) >= 6
    assert len([m for m in MODELS if m.format == "onnx"]) >= 7
    assert {(m.format, t) for m, t in PAIRS if m.name == LARGEST} == LARGEST_PAIRS
    assert len(RUN_PAIRS) == 2 * len(MODELS) - 2 - len(M4_ONLY_TWINS)
    assert {m.name for m in MODELS if m.format == "tflite"} >= M4_ONLY_TWINS - {"mobilenet_v2_w0.35_r144"}
    assert {m.name for m, _ in PAIRS} == {m.name for m in MODELS}


# -- building ------------------------------------------------------------------------------------------


def _seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


def _onnx_input_shape(path: Path) -> list[int]:
    import onnx

    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value for d in dims]


def _calibration(model: ModelCase, folder: Path) -> Path | None:
    """8 seeded standard-normal samples in the ONNX model's own NCHW input shape (None for int8 TFLite)."""
    if model.format != "onnx":
        return None
    shape = _onnx_input_shape(model.path())
    path = folder / f"{model.name}-calib.npy"
    if not path.is_file():
        rng = np.random.default_rng(CALIB_SEED)
        np.save(path, rng.standard_normal([CALIB_SAMPLES, *shape[1:]]).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hil-models")


def _build(model: ModelCase, target: str, workdir: Path, **options) -> Build:
    tag = "-".join(f"{k}{v}" for k, v in sorted(options.items()) if k != "split")
    out = workdir / f"{model.format}-{model.name}-{target}{'-' + tag if tag else ''}"
    if not (out / "build.json").is_file():
        build_model(
            model.path(),
            BuildOptions(target=target, out_dir=out, calib=_calibration(model, workdir), **options),
        )
    return load_build(out)


def _inputs(build: Build, *seed_parts: str) -> list[np.ndarray]:
    rng = np.random.default_rng(_seed(*seed_parts))
    shape = build.inputs[0].shape
    count = FEWER_INPUTS.get(build.summary["model"].rsplit(".", 1)[0], N_INPUTS)
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(count)]


def _check_on_device(build: Build, inputs: list[np.ndarray]) -> None:
    """Run ``inputs`` in ONE emulator session; compare every output element and the per-op counts."""
    expected_hash = int(build.summary["model_hash"][:8], 16)
    outputs, results, info = profile_on_device(build.binary, inputs, build.target, expected_hash=expected_hash)
    assert info.model_hash == expected_hash
    assert info.counter_unit == "instructions"  # QEMU -icount: instructions, not cycles
    graph = build.graph
    n_ops = build.summary["totals"]["ops"]
    assert n_ops == len(build.summary["ops"]) > 0
    for i, (x, y, result) in enumerate(zip(inputs, outputs, results, strict=True)):
        want = run_reference(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        assert want.dtype == np.int8
        got = np.asarray(y).reshape(want.shape)
        assert got.dtype == np.int8
        mismatched = int(np.count_nonzero(got != want))
        assert mismatched == 0, (
            f"input {i}: {mismatched} of {want.size} output elements differ from the reference "
            f"(max |diff| {int(np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))))})"
        )
        assert len(result.per_op) == n_ops
        assert all(c > 0 for c in result.per_op), f"input {i}: non-positive per-op counts {result.per_op}"
        assert result.total > 0


def _check_weights_memory(build: Build) -> None:
    """On a target with a weights memory (qemu-cortex-m55: QSPI) the weights live there, not with the code."""
    memory = build.summary["memory"]
    if "weights_size" not in memory:
        return
    assert memory["weights_used"] <= memory["weights_size"] and memory["flash_used"] <= memory["flash_size"]
    assert memory["weights_used"] >= build.summary["totals"]["weight_bytes"] > 0


# -- tests -----------------------------------------------------------------------------------------------


ROW_STREAMED = "tflite:mobilenet_v2_w0.35_r96"  # its automatic schedule streams rows through segments


def _check_variants(build: Build, expected: str) -> None:
    """build.json's per-op variants: portable only, or some layers on ``expected`` ("dsp")."""
    variants = {op["variant"] for op in build.summary["ops"]}
    if expected == "portable":
        assert variants == {"portable"}, f"{build.summary['target']} ran {sorted(variants)} kernels"
        assert not any(op["kernel"].endswith(("_dsp", "_mve")) for op in build.summary["ops"])
    else:
        assert expected in variants, f"no {expected} kernel was chosen on {build.summary['target']}"


@pytest.mark.parametrize(("model", "target"), RUN_PAIRS)
def test_model_bit_exact_on_device(model: ModelCase, target: str, workdir: Path):
    build = _build(model, target, workdir)
    assert build.summary["target"] == target and build.summary["fits"] is True
    _check_weights_memory(build)
    if target == "qemu-cortex-m4":
        _check_variants(build, "dsp")
        if model.name == LARGEST:  # the flash fallback runs on the device too
            kept = set(build.summary["kernels"]["compact_fallback"])
            assert kept, "expected layers kept in the compact layout"
            # ... and they run the DSP kernels on int8 weights, not the portable ones.
            kernels = {op["kernel"] for op in build.summary["ops"] if op["name"] in kept}
            assert kernels == {"edgec_conv2d_dsp_int8", "edgec_fully_connected_dsp_int8"}, kernels
    if model.id == ROW_STREAMED:
        assert build.summary["schedule"]["row_segments"], "expected row-streamed segments"
    _check_on_device(build, _inputs(build, model.id, target))


# A couple of models on the other emulated cores (the M4 and M55 run every model above): the
# Cortex-M3 has no DSP extension (portable C only), the Cortex-M7 runs the DSP variants.
OTHER_CORES = {"qemu-cortex-m3": "portable", "qemu-cortex-m7": "dsp"}
# ds_cnn and the row-streamed MobileNetV2 on both (portable kernels on row views on the M3, the DSP
# kernels compiled for the M7 on the M7).
OTHER_CORE_MODELS = {"qemu-cortex-m3": ["tflite:ds_cnn", ROW_STREAMED], "qemu-cortex-m7": ["tflite:ds_cnn", ROW_STREAMED]}
OTHER_PAIRS = [pytest.param(m, t, id=f"{m.id}-{t}") for t in OTHER_CORES for m in MODELS if m.id in OTHER_CORE_MODELS[t]]


@pytest.mark.parametrize(("model", "target"), OTHER_PAIRS)
def test_model_bit_exact_on_other_cores(model: ModelCase, target: str, workdir: Path):
    build = _build(model, target, workdir)
    assert build.summary["target"] == target and build.summary["fits"] is True
    _check_variants(build, OTHER_CORES[target])
    if model.id == ROW_STREAMED:
        assert build.summary["schedule"]["row_segments"], "expected row-streamed segments"
    _check_on_device(build, _inputs(build, model.id, target))


# Split points early in each net (an op or tensor name of the lowered graph), chosen so that the
# patch stage covers a strided depthwise conv (and, for MobileNetV2, a residual add).
PATCH_CASES = [
    pytest.param(
        ModelCase("tflite:mobilenet_v2_w0.35_r96", "mobilenet_v2_w0.35_r96", "tflite"),
        "mobilenetv2_0.35_96_1/block_2_add_1/Add",
        3,
        id="tflite:mobilenet_v2_w0.35_r96-3x3",
    ),
    pytest.param(
        ModelCase("onnx:mobilenet_v1_w0.25_r96", "mobilenet_v1_w0.25_r96", "onnx"),
        "conv_5",
        2,
        id="onnx:mobilenet_v1_w0.25_r96-2x2",
    ),
]


# Every case on the M4; the smaller one also on the M7 (the same DSP kernels, compiled for the M7).
PATCH_RUNS = [pytest.param(*case.values, "qemu-cortex-m4", id=f"{case.id}-qemu-cortex-m4") for case in PATCH_CASES] + [
    pytest.param(*PATCH_CASES[1].values, "qemu-cortex-m7", id=f"{PATCH_CASES[1].id}-qemu-cortex-m7")
]


@pytest.mark.parametrize(("model", "split", "patches", "target"), PATCH_RUNS)
def test_patch_schedule_on_device(model: ModelCase, split: str, patches: int, target: str, workdir: Path):
    build = _build(model, target, workdir, schedule="patch", split=split, patches=patches)
    schedule = build.summary["schedule"]
    assert schedule["kind"] == "patch"
    assert list(schedule["grid"]) == [patches, patches]
    stage = [op for op in build.summary["ops"] if "patches" in op]  # the ops of the patch stage
    assert stage and any(op["variant"] == "dsp" for op in stage), "no DSP kernel inside the patch stage"
    _check_on_device(build, _inputs(build, model.id, target, "patch"))


def test_patch_schedule_with_mve_kernels_on_device(workdir: Path):
    """The Helium kernels inside a patch stage (views into the patch buffers) on qemu-cortex-m55."""
    model, split, patches = PATCH_CASES[0].values
    target = "qemu-cortex-m55"
    build = _build(model, target, workdir, schedule="patch", split=split, patches=patches)
    assert build.summary["schedule"]["kind"] == "patch"
    mve_ops = [op for op in build.summary["ops"] if op.get("variant") == "mve"]
    assert {op["op"] for op in mve_ops} >= {"conv2d", "depthwise_conv2d"}, "no MVE kernel was chosen"
    _check_on_device(build, _inputs(build, model.id, target, "patch"))
