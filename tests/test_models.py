"""Tests of the bundled float ONNX models (models/): structure, determinism, numerics, published sizes."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from float_compare import assert_close

from models import zoo
from models.mobilenet_v2 import build_mobilenet_v2

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "models" / "digits"

# What each model must look like, written from the brief / the papers, not read from the builders.
EXPECTED_IO: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "mobilenet_v2_w1.0_r224": ((1, 3, 224, 224), (1, 1000)),
    "mobilenet_v2_w0.35_r144": ((1, 3, 144, 144), (1, 1000)),
    "mcunet": ((1, 3, 160, 160), (1, 1000)),
    "ds_cnn": ((1, 1, 49, 10), (1, 12)),
    "resnet8": ((1, 3, 32, 32), (1, 10)),
    "mobilenet_v1_w0.25_r96": ((1, 3, 96, 96), (1, 2)),
    "digits_cnn": ((1, 1, 8, 8), (1, 10)),
}
SOFTMAX_OUTPUT = {"ds_cnn", "resnet8", "mobilenet_v1_w0.25_r96"}
GENERATED = [name for name in EXPECTED_IO if name != "digits_cnn"]


@pytest.fixture(scope="module")
def built() -> dict[str, onnx.ModelProto]:
    return {name: zoo.build(name) for name in zoo.list_models()}


def _dims(value: onnx.ValueInfoProto) -> tuple[int, ...]:
    return tuple(d.dim_value for d in value.type.tensor_type.shape.dim)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def test_registry_lists_every_expected_model() -> None:
    assert sorted(zoo.list_models()) == sorted(EXPECTED_IO)


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="resnet8"):
        zoo.build("no_such_model")


@pytest.mark.parametrize("name", list(EXPECTED_IO))
def test_model_is_valid_opset13_float_onnx(name: str, built: dict[str, onnx.ModelProto]) -> None:
    model = built[name]
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    (inp,) = model.graph.input
    (out,) = model.graph.output
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert _dims(inp) == EXPECTED_IO[name][0]
    assert _dims(out) == EXPECTED_IO[name][1]
    assert all(init.data_type == onnx.TensorProto.FLOAT for init in model.graph.initializer)


@pytest.mark.parametrize("name", list(EXPECTED_IO))
def test_model_runs_in_onnxruntime(name: str, built: dict[str, onnx.ModelProto]) -> None:
    in_shape, out_shape = EXPECTED_IO[name]
    x = np.random.default_rng(7).normal(size=in_shape).astype(np.float32)
    (y,) = _session(built[name]).run(None, {built[name].graph.input[0].name: x})
    assert y.shape == out_shape
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))
    assert np.std(y) > 0, "a constant output means the network is dead"
    if name in SOFTMAX_OUTPUT:
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)


def _with_every_value_as_output(model: onnx.ModelProto) -> onnx.ModelProto:
    inferred = onnx.shape_inference.infer_shapes(model)
    outputs = {o.name for o in inferred.graph.output}
    inferred.graph.output.extend(v for v in inferred.graph.value_info if v.name not in outputs)
    return inferred


@pytest.mark.parametrize("name", GENERATED)
def test_random_weights_keep_activations_in_a_sane_range(name: str, built: dict[str, onnx.ModelProto]) -> None:
    """Seeded weights must not make activations explode or vanish with depth (they feed the quantizer)."""
    model = _with_every_value_as_output(built[name])
    assert any(n.op_type == "BatchNormalization" for n in model.graph.node), "BN folding needs BN layers"
    x = np.random.default_rng(3).normal(size=EXPECTED_IO[name][0]).astype(np.float32)
    session = _session(model)
    names = [o.name for o in session.get_outputs()]
    bn_outputs = {n.output[0] for n in model.graph.node if n.op_type == "BatchNormalization"}
    for value_name, value in zip(names, session.run(None, {"input": x})):
        assert np.all(np.isfinite(value)), value_name
        assert np.max(np.abs(value)) < 50.0, f"{value_name} reaches {np.max(np.abs(value)):.1f}"
        if value_name in bn_outputs:
            assert 0.4 < float(np.std(value)) < 2.5, f"{value_name} std {np.std(value):.3f}"


@pytest.mark.parametrize("name", GENERATED)
def test_rebuild_gives_identical_bytes(name: str) -> None:
    assert zoo.build(name).SerializeToString() == zoo.build(name).SerializeToString()


def test_build_is_deterministic_across_processes(built: dict[str, onnx.ModelProto]) -> None:
    """A fresh interpreter (other hash seed) must produce the same bytes as this one."""
    script = (
        "import hashlib, json\nfrom models import zoo\n"
        f"print(json.dumps({{n: hashlib.sha256(zoo.build(n).SerializeToString()).hexdigest() for n in {GENERATED!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    theirs = json.loads(result.stdout)
    ours = {n: hashlib.sha256(built[n].SerializeToString()).hexdigest() for n in GENERATED}
    assert theirs == ours


def test_onnx_path_builds_once_and_rebuilds_when_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoo, "BUILD_DIR", tmp_path)
    path = zoo.onnx_path("ds_cnn")
    assert path == tmp_path / "ds_cnn.onnx"
    assert path.read_bytes() == zoo.build("ds_cnn").SerializeToString()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    first_write = path.stat().st_mtime_ns
    assert zoo.onnx_path("ds_cnn") == path
    assert path.stat().st_mtime_ns == first_write, "an up-to-date file must not be rewritten"

    path.write_bytes(b"stale")
    (tmp_path / "ds_cnn.onnx.stamp").write_text("fingerprint of older builder sources")
    zoo.onnx_path("ds_cnn")
    assert path.read_bytes() == zoo.build("ds_cnn").SerializeToString()


def test_onnx_path_of_trained_model_is_the_committed_file() -> None:
    assert zoo.onnx_path("digits_cnn") == DIGITS / "digits_cnn.onnx"


def test_cli_writes_the_model(tmp_path: Path) -> None:
    out = tmp_path / "resnet8.onnx"
    subprocess.run([sys.executable, "-m", "models.zoo", "resnet8", "-o", str(out)], cwd=REPO, check=True)
    assert out.read_bytes() == zoo.build("resnet8").SerializeToString()


# -- the trained digits model ----------------------------------------------------------


def test_digits_data_files_have_the_documented_layout() -> None:
    heldout = np.load(DIGITS / "heldout.npz")
    calib = np.load(DIGITS / "calib.npz")
    assert heldout["x"].dtype == np.float32 and heldout["x"].shape[1:] == (1, 8, 8)
    assert heldout["y"].dtype == np.int64 and heldout["y"].shape == (len(heldout["x"]),)
    assert set(np.unique(heldout["y"])) == set(range(10))
    assert calib["x"].dtype == np.float32 and calib["x"].shape == (100, 1, 8, 8)
    for x in (heldout["x"], calib["x"]):
        assert x.min() >= 0.0 and x.max() <= 1.0


def test_digits_model_reaches_95_percent_on_heldout_split() -> None:
    heldout = np.load(DIGITS / "heldout.npz")
    session = _session(onnx.load(DIGITS / "digits_cnn.onnx"))
    predictions = np.array([session.run(None, {"input": x[None]})[0].argmax() for x in heldout["x"]])
    accuracy = float(np.mean(predictions == heldout["y"]))
    print(f"digits_cnn held-out top-1: {accuracy:.4f} on {len(predictions)} images")
    assert accuracy >= 0.95


def test_digits_model_uses_only_the_supported_ops() -> None:
    ops = {n.op_type for n in onnx.load(DIGITS / "digits_cnn.onnx").graph.node}
    assert ops <= {"Conv", "Relu", "MaxPool", "AveragePool", "Flatten", "GlobalAveragePool", "Gemm"}


# -- sizes against published numbers -----------------------------------------------------


def count_macs_and_params(model: onnx.ModelProto) -> tuple[int, int]:
    """MACs and parameters of the Conv and Gemm layers, from ONNX's own shape inference.

    Conv: output elements * kh * kw * cin/groups; Gemm: in * out.  Parameters are
    the Conv/Gemm weights and biases (BatchNormalization folds away, so it is not counted).
    """
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {v.name: _dims(v) for v in [*inferred.graph.value_info, *inferred.graph.output]}
    weights = {init.name: tuple(init.dims) for init in inferred.graph.initializer}
    macs = params = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            _, in_per_group, kh, kw = weights[node.input[1]]
            macs += math.prod(shapes[node.output[0]]) * kh * kw * in_per_group
        elif node.op_type == "Gemm":
            out_features, in_features = weights[node.input[1]]
            macs += in_features * out_features
        else:
            continue
        params += sum(math.prod(weights[name]) for name in node.input[1:] if name)
    return macs, params


# MobileNetV2 (Sandler et al. 2018, Table/Figure 5; TF-slim model table): (width, resolution) -> (MACs, params)
PUBLISHED_MOBILENET_V2 = {
    (1.0, 224): (300e6, 3.47e6),
    (0.35, 224): (59e6, 1.66e6),
    (1.4, 224): (582e6, 6.06e6),
    (0.5, 160): (50e6, 1.95e6),
}


@pytest.mark.parametrize(("width", "resolution"), list(PUBLISHED_MOBILENET_V2))
def test_mobilenet_v2_matches_published_macs_and_params(width: float, resolution: int) -> None:
    macs, params = count_macs_and_params(build_mobilenet_v2(width, resolution))
    published_macs, published_params = PUBLISHED_MOBILENET_V2[(width, resolution)]
    print(f"MobileNetV2 w{width} r{resolution}: {macs / 1e6:.1f}M MACs, {params / 1e6:.3f}M params")
    assert macs == pytest.approx(published_macs, rel=0.03)
    assert params == pytest.approx(published_params, rel=0.03)
    if (width, resolution) == (1.0, 224):
        assert params == pytest.approx(3.4e6, rel=0.03)


def test_mobilenet_v2_small_keeps_1280_last_channels_and_rounds_to_8() -> None:
    model = build_mobilenet_v2(0.35, 144)
    init = {i.name: tuple(i.dims) for i in model.graph.initializer}
    conv_out = [init[n.input[1]][0] for n in model.graph.node if n.op_type == "Conv"]
    assert conv_out[0] == 16  # 32 * 0.35 = 11.2 -> 8 would lose > 10%, so 16
    assert conv_out[-1] == 1280
    assert all(c % 8 == 0 for c in conv_out)


def test_print_sizes_of_all_models(built: dict[str, onnx.ModelProto]) -> None:
    for name, model in built.items():
        macs, params = count_macs_and_params(model)
        print(f"{name:26s} {macs / 1e6:9.2f}M MACs {params / 1e3:9.1f}K params")
        assert macs > 0 and params > 0


# -- the builder's helpers and the digits training code ---------------------------------


def test_relu_moments_match_sampling() -> None:
    from models.onnx_builder import relu_moments

    mean, var = np.array([-1.0, 0.0, 0.7]), np.array([0.5, 1.0, 2.0])
    samples = np.maximum(np.random.default_rng(0).normal(mean, np.sqrt(var), size=(400_000, 3)), 0.0)
    got_mean, got_var = relu_moments(mean, var)
    np.testing.assert_allclose(got_mean, samples.mean(axis=0), rtol=0.02, atol=2e-3)
    np.testing.assert_allclose(got_var, samples.var(axis=0), rtol=0.02, atol=2e-3)


def test_grouped_linear_moments_match_sampling() -> None:
    from models.onnx_builder import linear_moments

    rng = np.random.default_rng(1)
    weight = rng.normal(size=(4, 3, 2))  # 4 outputs, 2 groups of 3 inputs, 2 taps
    mean, var = rng.normal(size=6), rng.uniform(0.5, 2.0, size=6)
    x = rng.normal(mean, np.sqrt(var), size=(200_000, 2, 6))  # [samples, taps, channels]
    y = np.stack([np.einsum("ck,skc->s", weight[o], x[:, :, (o // 2) * 3 : (o // 2) * 3 + 3]) for o in range(4)], 1)
    got_mean, got_var = linear_moments(weight, np.full(4, 0.5), 2, mean, var)
    np.testing.assert_allclose(got_mean, y.mean(axis=0) + 0.5, atol=0.05)
    np.testing.assert_allclose(got_var, y.var(axis=0), rtol=0.03)


def test_digits_training_gradients_match_finite_differences() -> None:
    from models.digits.train import DigitsCnn

    rng = np.random.default_rng(2)
    model = DigitsCnn.initial(rng)
    for name in model.names():  # non-zero biases so every gradient path is exercised
        if name.endswith("_b"):
            setattr(model, name, rng.normal(0.0, 0.1, getattr(model, name).shape))
    x, y = rng.uniform(0.0, 1.0, (3, 1, 8, 8)), np.array([1, 4, 9])
    _, grads = model.gradients(x, y)
    step = 1e-5
    for name in model.names():
        param = getattr(model, name)
        for index in [tuple(rng.integers(0, d) for d in param.shape) for _ in range(3)]:
            original = param[index]
            param[index] = original + step
            loss_up, _ = model.gradients(x, y)
            param[index] = original - step
            loss_down, _ = model.gradients(x, y)
            param[index] = original
            numeric = (loss_up - loss_down) / (2 * step)
            assert grads[name][index] == pytest.approx(numeric, rel=1e-3, abs=1e-6), f"{name}{index}"


def test_digits_numpy_forward_agrees_with_exported_onnx() -> None:
    from models.digits.train import DigitsCnn, to_onnx

    model = DigitsCnn.initial(np.random.default_rng(3))
    x = np.random.default_rng(4).uniform(0.0, 1.0, (1, 1, 8, 8)).astype(np.float32)
    (onnx_logits,) = _session(to_onnx(model)).run(None, {"input": x})
    assert_close(onnx_logits, model.logits(x.astype(np.float64)), 1e-4)
