"""Mixed precision (QuantMCU) library: statistics, entropy, BitOPs, VDPC, the VDQS search, run_mixed.

Oracles: histograms against the tensors the int8 reference computes, entropy
of known distributions, BitOPs against ``analyze_patches`` MACs, and
``run_mixed`` against the int8 reference (all 8 bits, or every patch an
outlier) and against the mixed graph run layer by layer (no outlier patch).
One model: the trained digits CNN lowered with its committed calibration set,
its conv/conv/max-pool prefix run as a 2x2 patch stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgec.calibration import load_calibration
from edgec.lowering import lower_model
from edgec.mixed import assign, bitops, vdpc
from edgec.mixed.entropy import entropy, entropy_loss
from edgec.mixed.plan import MixedPrecision, OutlierTest
from edgec.mixed.reference import run_mixed, run_mixed_detailed
from edgec.mixed.search import samples_to_int8, search_mixed
from edgec.mixed.sensitivity import OutputDivergence
from edgec.mixed.stats import collect_stats, run_stage
from edgec.mixed.subbyte import qrange
from edgec.mixed.weights import requantize
from edgec.reference import run
from edgec.reference.qparams import kernel_params
from edgec.schedule.patch import analyze_patches

DIGITS = Path(__file__).resolve().parents[1] / "models" / "digits"


@pytest.fixture(scope="module")
def digits():
    graph = lower_model(DIGITS / "digits_cnn.onnx", DIGITS / "calib.npz").graph
    pool = next(n for n in graph.nodes if n.op == "max_pool2d")
    stage = analyze_patches(graph, pool.outputs[0], (2, 2))
    samples = samples_to_int8(graph, load_calibration(DIGITS / "calib.npz", graph))[:24]
    return graph, stage, samples


@pytest.fixture(scope="module")
def searched(digits):
    graph, stage, samples = digits
    return {lam: search_mixed(graph, stage, samples, lam) for lam in (0.0, 0.5, 1.0)}


def test_stats_histograms_count_each_patch_region(digits):
    graph, stage, samples = digits
    name = graph.inputs[0]
    stats = collect_stats(graph, stage, samples[:3], [name])
    for s in range(3):
        env = run(graph, samples[s], keep=True)
        for p, patch in enumerate(stage.patches):
            for k, t in enumerate(stats.tensors):
                win = patch.regions[t]
                region = env[t][:, win.h0 : win.h1, win.w0 : win.w1, :]
                expect = np.bincount(region.reshape(-1).astype(np.int64) + 128, minlength=256)
                assert np.array_equal(stats.counts[s, p, k], expect), (t, p)
            win = patch.regions[name]
            assert stats.patch_min[name][s, p] == env[name][:, win.h0 : win.h1, win.w0 : win.w1].min()
            assert stats.patch_max[name][s, p] == env[name][:, win.h0 : win.h1, win.w0 : win.w1].max()


def test_entropy_of_known_distributions():
    assert entropy(np.ones(256)) == pytest.approx(8.0)
    assert entropy(np.r_[np.ones(16), np.zeros(240)]) == pytest.approx(4.0)
    assert entropy(np.r_[5, np.zeros(255)]) == 0.0
    uniform = np.ones(256)
    # 256 equiprobable levels at 4 bits over the full range: 16 bins of about 17 levels (edge bins smaller)
    scale, zp = assign.params_for_range(-128.0, 127.0, 4)
    assert entropy_loss(uniform, 1.0, 0, scale, zp, 4) == pytest.approx(4.0, abs=0.15)
    assert entropy_loss(uniform, 1.0, 0, scale, zp, 8) == 0.0
    # a map already on 4-bit levels loses nothing at 4 bits
    hist = np.zeros(256)
    hist[np.arange(16) * 3 + 128] = 7
    scale, zp = assign.subbyte_params(hist, 0.5, 0, 4)
    assert entropy_loss(hist, 0.5, 0, scale, zp, 4) == pytest.approx(0.0)


@pytest.mark.parametrize("bits", [4, 2])
def test_subbyte_params_cover_zero_in_range(bits):
    rng = np.random.default_rng(bits)
    lo, hi = qrange(bits)
    for zp8 in (-128, -20, 0, 50):
        hist = np.bincount(np.clip(rng.normal(zp8, 30, 5000).round(), -128, 127).astype(int) + 128, minlength=256)
        scale, zp = assign.subbyte_params(hist, 0.02, zp8, bits)
        assert scale > 0 and lo <= zp <= hi
        real_zero = assign.quantize_levels(np.array([0.0]), scale, zp, bits)[0]
        assert real_zero == zp  # real 0 is exact: ReLU outputs and padding stay exact


def test_bitops_match_patch_macs(digits):
    graph, stage, _ = digits
    per_op = bitops.stage_op_macs(graph, stage)
    assert sum(per_op.values()) == stage.macs
    assert bitops.stage_bitops(graph, stage, {}, 0.3) == stage.macs * 64
    (group,) = assign.groups(graph, stage, graph.inputs[0])
    consumer = next(c for c in graph.consumers(group[0]))
    low = {m: 2 for m in group}
    f = 0.25
    expect = stage.macs * 64 - per_op[consumer.name] * 8 * (1 - f) * (8 - 2)
    assert bitops.stage_bitops(graph, stage, low, f) == pytest.approx(expect)
    report = bitops.report(graph, stage, low, f)
    assert report["bitops"] - report["stage_bitops"] == report["bitops_int8"] - report["stage_bitops_int8"] > 0


def test_groups_keep_prefix_split_and_inputs_at_8(digits):
    graph, stage, _ = digits
    maps = assign.stage_maps(graph, stage)
    assert stage.split not in maps and graph.inputs[0] not in maps
    first = graph.node(stage.nodes[0]).outputs[0]
    assert any(first in g for g in assign.groups(graph, stage, graph.inputs[0]))
    assert not any(first in g for g in assign.groups(graph, stage, first))  # the VDPC prefix stays int8
    # the map the split's max pool reads is tied to the split tensor: never sub-byte
    pooled = graph.producer(stage.split).inputs[0]
    assert not any(pooled in g for g in assign.groups(graph, stage, graph.inputs[0]))


def test_vdpc_threshold_bounds_the_outlier_fraction(digits):
    graph, stage, samples = digits
    name = graph.inputs[0]
    stats = collect_stats(graph, stage, samples, [name])
    for target in (0.0, 0.1, 0.5):
        test = vdpc.choose_test(stats, name, target)
        mask = vdpc.outlier_mask(stats, test)
        assert mask.mean() <= target + 1e-9
        assert test.lo <= test.hi


def test_search_is_deterministic_and_lambda_extremes(digits, searched):
    graph, stage, samples = digits
    again = search_mixed(graph, stage, samples, 0.5)
    first = searched[0.5]
    assert again.bits == first.bits and again.outlier_test == first.outlier_test
    for name in first.bits:
        a, b = again.graph.tensors[name], first.graph.tensors[name]
        assert (a.bits, a.qscale, a.qzero) == (b.bits, b.qscale, b.qzero)
    assert set(searched[1.0].bits.values()) == {8}  # lambda 1: accuracy only
    eligible = {m for g in assign.groups(graph, stage, searched[0.0].outlier_test.tensor) for m in g}
    assert eligible and all(searched[0.0].bits[m] == (2 if m in eligible else 8) for m in searched[0.0].bits)
    r = searched[0.0].report
    assert r["stage_bitops"] < r["stage_bitops_int8"] and r["mode"] == "mixed"
    assert searched[1.0].report["stage_bitops"] == searched[1.0].report["stage_bitops_int8"]


def test_output_divergence_is_the_kl_of_whole_runs(digits):
    """The suffix-only runs give the KL of full reference runs; 0 for the int8 graph, larger at 2 bits than at 4."""
    graph, stage, samples = digits
    samples = samples[:4]
    divergence = OutputDivergence(graph, samples)
    assert divergence(graph.copy(), [stage.nodes[0]]) == 0.0
    hists = collect_stats(graph, stage, samples, [graph.inputs[0]]).histograms()
    (group,) = assign.groups(graph, stage, graph.inputs[0])
    t, out = graph.tensors[group[0]], graph.tensors[graph.outputs[0]]

    def softmax(values):
        z = (np.stack([v.reshape(-1) for v in values]).astype(np.float64) - out.qzero) * out.qscale
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p8 = softmax([run(graph, x)[out.name] for x in samples])
    kl = {}
    for b in (4, 2):
        scale, zp = assign.subbyte_params(sum(hists[m] for m in group), t.qscale, t.qzero, b)
        mixed = assign.mixed_graph(graph, {m: (b, scale, zp) for m in group})
        p = softmax([run(mixed, x)[out.name] for x in samples])
        kl[b] = divergence(mixed, [graph.producer(m).name for m in group])
        assert kl[b] == pytest.approx(float(np.mean(np.sum(p8 * np.log(p8 / p), axis=1))), rel=1e-9, abs=1e-12)
    assert 0 < kl[4] < kl[2]


def test_run_mixed_all_8_bits_is_the_int8_reference(digits):
    graph, stage, samples = digits
    mixed = MixedPrecision(graph.copy(), {}, OutlierTest(graph.inputs[0], -128, 127), 0.0, 0.5, 0.0)
    for x in samples[:4]:
        y = run_mixed(graph, stage, mixed, x[graph.inputs[0]])
        assert np.array_equal(y[graph.outputs[0]], run(graph, x)[graph.outputs[0]])


def test_run_mixed_with_every_patch_an_outlier_is_the_int8_reference(digits, searched):
    graph, stage, samples = digits
    mixed = searched[0.0]
    assert any(b < 8 for b in mixed.bits.values())
    always = MixedPrecision(mixed.graph, mixed.bits, OutlierTest(graph.inputs[0], 127, -128), 1.0, 0.0, 0.0)
    for x in samples[:4]:
        result = run_mixed_detailed(graph, stage, always, x)
        assert all(result.outliers)
        assert np.array_equal(result.outputs[graph.outputs[0]], run(graph, x)[graph.outputs[0]])


def test_run_mixed_without_outliers_is_the_mixed_graph_layer_by_layer(digits, searched):
    graph, stage, samples = digits
    mixed = searched[0.0]
    never = MixedPrecision(mixed.graph, mixed.bits, OutlierTest(graph.inputs[0], -128, 127), 0.0, 0.0, 0.0)
    differs = 0
    for x in samples[:4]:
        result = run_mixed_detailed(graph, stage, never, x)
        assert not any(result.outliers)
        expect = run(mixed.graph, x)[graph.outputs[0]]
        assert np.array_equal(result.outputs[graph.outputs[0]], expect)
        differs += not np.array_equal(expect, run(graph, x)[graph.outputs[0]])
        split = run_stage(mixed.graph, stage, x)[stage.split]
        lo, hi = qrange(8)
        assert lo <= split.min() and split.max() <= hi
    assert differs  # the 2-bit maps change the outputs: the test can tell the variants apart


def test_sub_byte_maps_hold_values_in_their_range(digits, searched):
    _, stage, samples = digits
    mixed = searched[0.0]
    env = run_stage(mixed.graph, stage, samples[0])
    for name, bits in mixed.bits.items():
        lo, hi = qrange(bits)
        assert mixed.graph.tensors[name].bits == bits
        assert lo <= env[name].min() and env[name].max() <= hi, name


def test_four_bit_stage_stays_close_to_int8_in_real_values(digits):
    """Dequantized split tensor at 4-bit maps vs int8: within a few % of its range (catches unscaled biases)."""
    graph, stage, samples = digits
    stats = collect_stats(graph, stage, samples, [graph.inputs[0]])
    hists = stats.histograms()
    params = {}
    for members in assign.groups(graph, stage, graph.inputs[0]):
        t = graph.tensors[members[0]]
        scale, zp = assign.subbyte_params(sum(hists[m] for m in members), t.qscale, t.qzero, 4)
        params.update({m: (4, scale, zp) for m in members})
    mixed = assign.mixed_graph(graph, params)
    split = graph.tensors[stage.split]
    for x in samples[:4]:
        a = (run_stage(graph, stage, x)[stage.split].astype(np.float64) - split.qzero) * split.qscale
        b = (run_stage(mixed, stage, x)[stage.split].astype(np.float64) - split.qzero) * split.qscale
        assert np.mean(np.abs(a - b)) < 0.03 * (a.max() - a.min())


def test_vdpc_test_tensor_modes(digits):
    graph, stage, _ = digits
    first = graph.node(stage.nodes[0]).outputs[0]
    assert vdpc.test_tensor(graph, stage, "input") == stage.inputs[0]
    assert vdpc.test_tensor(graph, stage, "first") == first
    assert vdpc.test_tensor(graph, stage, first) == first
    with pytest.raises(ValueError):
        vdpc.test_tensor(graph, stage, stage.split)  # the split tensor is computed last: nothing left to choose


def test_int4_weight_values_per_channel(digits):
    """int4 weight values: int8 storage, [-8, 7], per-channel scales; dequantized weights near the real ones."""
    graph, stage, _ = digits
    conv = next(graph.node(n) for n in stage.nodes if graph.node(n).op == "conv2d")
    t = graph.tensors[conv.inputs[1]]
    values, scales, noise = requantize(t, 4)
    assert values.dtype == np.int8 and values.shape == t.shape and scales.shape == t.scale.shape
    assert values.min() >= -8 and values.max() <= 7 and np.abs(values).max() >= 7
    axis = t.axis or 0
    shape = [1] * values.ndim
    shape[axis] = -1
    real = t.data.astype(np.float64) * t.scale.astype(np.float64).reshape(shape)
    back = values.astype(np.float64) * scales.astype(np.float64).reshape(shape)
    peak = np.moveaxis(np.abs(real), axis, 0).reshape(real.shape[axis], -1).max(axis=1).reshape(shape)
    assert np.all(np.abs(back - real) <= peak / 7 + 1e-9)  # within one int4 step of its channel's range
    assert noise == pytest.approx(float(((back - real) ** 2).sum() / (real**2).sum()))
    assert 0 < noise < 0.05


def test_bitops_count_weight_bits(digits):
    graph, stage, _ = digits
    per_op = bitops.stage_op_macs(graph, stage)
    conv = next(n for n in stage.nodes if graph.node(n).op == "conv2d")
    f = 0.25
    expect = stage.macs * 64 - per_op[conv] * (1 - f) * (64 - 4 * 8)
    assert bitops.stage_bitops(graph, stage, {}, f, {conv: 4}) == pytest.approx(expect)


def test_int4_weights_in_the_mixed_graph(digits, searched):
    """lambda 0 gives every stage conv after the prefix int4 weight values; the mixed graph carries them,
    biases requantized, and its split tensor stays close to int8 in real values."""
    graph, stage, samples = digits
    mixed = searched[0.0]
    ops = [n for n in stage.nodes if graph.node(n).op in ("conv2d", "depthwise_conv2d")]
    prefix = set(assign.prefix_nodes(graph, stage, mixed.outlier_test.tensor))
    assert mixed.weight_bits == {n: 4 for n in ops if n not in prefix} and mixed.weight_bits
    assert mixed.report["weight_bits"] == mixed.weight_bits and searched[1.0].weight_bits == {}
    for name in mixed.weight_bits:
        node = graph.node(name)
        w = mixed.graph.tensors[node.inputs[1]]
        values, scales, _ = requantize(graph.tensors[node.inputs[1]], 4)
        # int4 values, stored times 2^k per channel (k >= 0) with the scale divided by 2^k
        step = (scales / w.scale).astype(np.float64)
        k = np.log2(step)
        assert w.dtype == "int8" and np.all(k == np.round(k)) and np.all(k >= 0)
        shape = [1] * w.data.ndim
        shape[w.axis or 0] = -1
        assert np.array_equal(w.data.astype(np.int64), values.astype(np.int64) * step.astype(np.int64).reshape(shape))
        shifts = np.asarray(kernel_params(mixed.graph, node)["out_shift"]).reshape(-1)
        assert np.all((k == 0) | (shifts < 0))  # scaled only where the shift would not be a right shift
    weights_only = assign.mixed_graph(graph, {}, mixed.weight_bits)
    split = graph.tensors[stage.split]
    for x in samples[:4]:
        a = (run_stage(graph, stage, x)[stage.split].astype(np.float64) - split.qzero) * split.qscale
        b = (run_stage(weights_only, stage, x)[stage.split].astype(np.float64) - split.qzero) * split.qscale
        assert not np.array_equal(a, b)
        assert np.mean(np.abs(a - b)) < 0.03 * (a.max() - a.min())  # catches a bias left at the int8 scale


def test_int4_weights_keep_a_right_shift(digits):
    """Where int4 values on a coarse input would requantize with a left shift (multiplier >= 1/2), the
    mixed graph stores them x 2^k per channel so every shift is a right shift (the DSP conv's fast
    epilogue); the real weights are unchanged and the values still take at most 16 levels per channel."""
    graph, stage, _ = digits
    conv = next(graph.node(n) for n in stage.nodes if graph.node(n).op == "conv2d")
    x = conv.inputs[0]
    t = graph.tensors[x]
    coarse = 64.0 * float(t.qscale)  # a very coarse 4-bit input map: multipliers well above 1/2
    before = assign.mixed_graph(graph, {}, {conv.name: 4})
    assert np.any(np.asarray(kernel_params(before, conv)["out_shift"]) < 0)
    mixed = assign.mixed_graph(graph, {x: (4, coarse, 0)}, {conv.name: 4})
    w8, w = graph.tensors[conv.inputs[1]], mixed.tensors[conv.inputs[1]]
    values, scales, _ = requantize(w8, 4)
    assert np.all(np.asarray(kernel_params(mixed, conv)["out_shift"]) < 0)
    step = scales.astype(np.float64) / w.scale.astype(np.float64)
    assert np.all(step > 1) and np.all(step <= 16)
    shape = [1] * w.data.ndim
    shape[w.axis or 0] = -1
    assert np.array_equal(w.data.astype(np.float64) * w.scale.reshape(shape), values * scales.reshape(shape).astype(np.float64))
    for c in range(w.shape[w.axis or 0]):
        assert len(np.unique(np.take(w.data, c, axis=w.axis or 0))) <= 16


def test_range_candidates_start_with_the_mse_best(digits):
    graph, stage, samples = digits
    stats = collect_stats(graph, stage, samples, [])
    name = assign.stage_maps(graph, stage)[0]
    t = graph.tensors[name]
    hist = stats.histograms()[name]
    for bits in (4, 2):
        cands = assign.range_candidates(hist, t.qscale, t.qzero, bits, 6)
        assert cands[0] == assign.subbyte_params(hist, t.qscale, t.qzero, bits)
        assert len(cands) == len(set(cands)) > 1
        lo, hi = qrange(bits)
        assert all(lo <= zp <= hi and scale > 0 for scale, zp in cands)


def test_chosen_ranges_diverge_least(digits, searched):
    """Each sub-byte group keeps, of its candidate ranges, the one whose whole mixed variant diverges
    least on the calibration samples (the search table's ``range_kl``), and the mixed graph carries it."""
    graph, stage, samples = digits
    mixed = searched[0.0]
    rows = [r for r in mixed.report["search"] if "range_kl" in r]
    assert rows and {m for r in rows for m in r["maps"]} == {m for m, b in mixed.bits.items() if b < 8}
    for row in rows:
        t = graph.tensors[row["maps"][0]]
        cands = assign.range_candidates(
            sum(collect_stats(graph, stage, samples[:64], []).histograms()[m] for m in row["maps"]),
            t.qscale, t.qzero, row["bits"], len(row["range_kl"]),
        )  # fmt: skip
        best = cands[int(np.argmin(row["range_kl"]))]
        assert tuple(row["range"]) == pytest.approx(best)
        for m in row["maps"]:
            got = mixed.graph.tensors[m]
            assert (float(got.qscale), int(got.qzero)) == pytest.approx(best)
