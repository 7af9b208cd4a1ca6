"""int8 reference kernels: bit-exact against LiteRT's BUILTIN_REF kernels.

Each fixture in ``tests/fixtures/ops/`` (built by ``make_op_models.py``) is a
single-op full-int8 TFLite model.  It is loaded with edgec's TFLite frontend,
so these tests also cover ``qparams.kernel_params``; the numpy reference run
must equal LiteRT's reference kernels on every element for seeded random int8
inputs.  The fixed-point primitives are checked against exact big-integer
arithmetic written from their definitions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from edgec.frontends.tflite import load_tflite
from edgec.reference import int8_kernels as K
from edgec.reference.interpreter import run
from edgec.reference.qparams import kernel_name, kernel_params

FIXTURES = Path(__file__).parent / "fixtures" / "ops"
MODELS = sorted(p.stem for p in FIXTURES.glob("*.tflite"))
RUNS = 10


def _litert(path: Path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    return interp


def _random_int8(rng: np.random.Generator, shape, run_index: int) -> np.ndarray:
    """Mostly uniform int8, plus a few runs that stress saturation and zero-point regions."""
    if run_index == 0:
        return np.full(shape, 127, np.int8)
    if run_index == 1:
        return np.full(shape, -128, np.int8)
    if run_index == 2:
        return rng.integers(-8, 8, size=shape, dtype=np.int8)
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


@pytest.mark.parametrize("model", MODELS)
def test_matches_litert_reference(model: str) -> None:
    path = FIXTURES / f"{model}.tflite"
    graph = load_tflite(path)
    interp = _litert(path)
    inputs = interp.get_input_details()
    output = interp.get_output_details()[0]
    assert len(inputs) == len(graph.inputs)
    rng = np.random.default_rng(sum(map(ord, model)))
    for r in range(RUNS):
        feeds = [_random_int8(rng, tuple(d["shape"]), r) for d in inputs]
        for d, x in zip(inputs, feeds):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        expected = interp.get_tensor(output["index"])
        got = run(graph, dict(zip(graph.inputs, feeds)))[graph.outputs[0]]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        diff = np.flatnonzero(got.astype(np.int32) != expected.astype(np.int32))
        assert diff.size == 0, (
            f"{model} run {r}: {diff.size}/{got.size} elements differ, first at {diff[:5]}: "
            f"ours {got.ravel()[diff[:5]]} vs LiteRT {expected.ravel()[diff[:5]]}"
        )


@pytest.mark.parametrize("model", ["dense", "dense_relu", "requantize", "mul", "mean_hw"])
def test_rare_rounding_ties_match_litert(model: str) -> None:
    """Many runs of small models: rounding ties (one in ~1000 outputs) must also agree.

    This is what showed that BUILTIN_REF's FULLY_CONNECTED rescales in double
    rather than with the fixed-point multiplier.
    """
    path = FIXTURES / f"{model}.tflite"
    graph = load_tflite(path)
    interp = _litert(path)
    inputs = interp.get_input_details()
    out_index = interp.get_output_details()[0]["index"]
    rng = np.random.default_rng(7)
    batch = [[rng.integers(-128, 128, size=tuple(d["shape"]), dtype=np.int8) for d in inputs] for _ in range(400)]
    for feeds in batch:
        for d, x in zip(inputs, feeds):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        expected = interp.get_tensor(out_index)
        got = run(graph, dict(zip(graph.inputs, feeds)))[graph.outputs[0]]
        np.testing.assert_array_equal(got, expected)


def test_every_fixture_op_has_parameters() -> None:
    """kernel_params/kernel_name cover every op the fixtures contain (the C generator's contract)."""
    seen = set()
    for model in MODELS:
        graph = load_tflite(FIXTURES / f"{model}.tflite")
        for node in graph.nodes:
            if node.op in ("reshape", "transpose", "identity", "dropout"):
                continue
            params = kernel_params(graph, node)
            assert hasattr(K, kernel_name(graph, node))
            seen.add(node.op)
            assert all(not isinstance(v, float) or node.op in ("quantize", "dequantize") for v in params.values())
    assert {"conv2d", "depthwise_conv2d", "fully_connected", "add", "sub", "mul", "softmax", "mean"} <= seen


# -- fixed-point primitives against exact arithmetic -----------------------------------------------

I32 = [-(2**31), -(2**31) + 1, -(2**30), -12345, -2, -1, 0, 1, 2, 3, 12345, 2**30, 2**31 - 1]


def _exact_srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    # the nudge (+-2**30) and C's truncating division round halves towards +infinity
    return math.floor(Fraction(a * b, 2**31) + Fraction(1, 2))


def _round_half_away(q: Fraction) -> int:
    f = math.floor(abs(q) + Fraction(1, 2))
    return f if q >= 0 else -f


def test_srdhm_matches_exact_rounding() -> None:
    a, b = np.meshgrid(np.array(I32), np.array(I32))
    got = K.saturating_rounding_doubling_high_mul(a.ravel(), b.ravel())
    want = [_exact_srdhm(int(x), int(y)) for x, y in zip(a.ravel(), b.ravel())]
    assert got.tolist() == want
    assert K.saturating_rounding_doubling_high_mul(np.array([-(2**31)]), -(2**31))[0] == 2**31 - 1


@pytest.mark.parametrize("exponent", [0, 1, 2, 5, 30, 31])
def test_rounding_divide_by_pot_rounds_half_away(exponent: int) -> None:
    x = np.array(I32 + [5, -5, 6, -6, 7, -7, 1 << 20, -(1 << 20) - 1], dtype=np.int64)
    got = K.rounding_divide_by_pot(x, exponent)
    want = [_round_half_away(Fraction(int(v), 2**exponent)) for v in x]
    assert got.tolist() == want


def test_rounding_divide_by_pot_negative_halves() -> None:
    assert K.rounding_divide_by_pot(np.array([-3, -5, -1, 3, 5, 1]), 1).tolist() == [-2, -3, -1, 2, 3, 1]


@pytest.mark.parametrize(
    "real",
    [1.0, 0.9999999999, 1 - 2**-33, 0.5, 0.75, 2.0, 1e-3, 3.1e-7, 2**-31, 2**-32, 2**-40, 123.456, 2**31, 0.0],
)
def test_quantize_multiplier_is_frexp_based(real: float) -> None:
    mult, shift = K.quantize_multiplier(real)
    if real == 0.0 or real < 2**-32:
        assert (mult, shift) == (0, 0)
        return
    if shift == 30 and real >= 2**30:
        assert mult == 2**31 - 1
        return
    assert 2**30 <= mult < 2**31
    # the multiplier is the nearest 31-bit significand of ``real``
    assert abs(Fraction(mult, 2**31) * Fraction(2) ** shift - Fraction(real)) <= Fraction(2) ** (shift - 32)


def test_quantize_multiplier_rounds_up_to_next_power() -> None:
    # q * 2**31 rounds to 2**31 exactly: TFLite halves it and bumps the shift
    mult, shift = K.quantize_multiplier(1 - 2**-33)
    assert (mult, shift) == (2**30, 1)


@pytest.mark.parametrize("shift", [-31, -20, -1, 0, 1, 5])
def test_multiply_by_quantized_multiplier_matches_two_roundings(shift: int) -> None:
    rng = np.random.default_rng(shift + 100)
    x = rng.integers(-(2**24), 2**24, size=300)
    mult = int(rng.integers(2**30, 2**31))
    got = K.multiply_by_quantized_multiplier(x, mult, shift)
    left, right = max(shift, 0), max(-shift, 0)
    want = [_round_half_away(Fraction(_exact_srdhm(int(v) << left, mult), 2**right)) for v in x]
    assert got.tolist() == want


def test_multiply_by_quantized_multiplier_per_channel_broadcast() -> None:
    acc = np.array([[1000, -1000], [77777, -77777]])
    mult = np.array([2**30, 1518500250])
    shift = np.array([-3, -10])
    got = K.multiply_by_quantized_multiplier(acc, mult, shift)
    for c in range(2):
        assert got[:, c].tolist() == K.multiply_by_quantized_multiplier(acc[:, c], mult[c], shift[c]).tolist()
    assert got[0, 0] == 63 and got[0, 1] == -1  # 1000 / 16 = 62.5 -> 63; -1000 * 0.707 / 1024 -> -0.69 -> -1


def test_quantize_rounds_half_away_from_zero() -> None:
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.5, 1000.0, -1000.0], dtype=np.float32)
    assert K.quantize(x, scale=1.0, zero_point=0).tolist() == [1, -1, 2, -2, 3, 127, -128]
    assert K.dequantize(np.array([-128, 127], np.int8), scale=0.5, zero_point=-1).tolist() == [-63.5, 64.0]
