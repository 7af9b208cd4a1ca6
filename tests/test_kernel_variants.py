"""Kernel variants (edgec/codegen/kernel_variants.py, dsp_emitters.py): which layer gets which kernel,
the oc4 weight layout, the build-time requantization bound, the flash fallback, and whole models
built with the DSP variants on the host (plain-C twins of the DSP instructions) in every schedule
— layer by layer, row-streamed segments, a patch stage — bit-exact with the numpy reference.
(The kernels themselves: tests/test_c_kernels.py on the host, tests/test_c_kernels_qemu.py in QEMU.)
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgec.codegen.depthwise_layout import depthwise_dsp_header, depthwise_dsp_layout
from edgec.codegen.dsp_emitters import oc4_layout
from edgec.codegen.kernel_variants import (
    CODE_RESERVE_BYTES,
    KernelSelector,
    accumulator_bound,
    allowed_variants,
    fast_requant_ok,
    folded_bias,
)
from edgec.compiler import BUILD_FILE, BuildOptions, build_model, load_build
from edgec.errors import EdgecError
from edgec.reference import run
from edgec.runner import run_host_binary
from edgec.targets import load_target

ROOT = Path(__file__).resolve().parents[1]
RESNET8 = ROOT / "models" / "tflite" / "resnet8.tflite"


def _pair(lo: int, hi: int) -> int:
    return int(np.array((lo & 0xFFFF) | ((hi & 0xFFFF) << 16), dtype=np.uint32).view(np.int32))


# -- choice by target ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "mode", "expected"),
    [
        ("host", "auto", ()),
        ("qemu-cortex-m3", "auto", ()),
        ("qemu-cortex-m4", "auto", ("dsp",)),
        ("qemu-cortex-m7", "auto", ("dsp",)),
        ("qemu-cortex-m4", "portable", ()),
        ("host", "dsp", ("dsp",)),
    ],
)
def test_allowed_variants_follow_target_features(target, mode, expected):
    assert allowed_variants(load_target(target), mode) == expected


def test_unknown_kernel_mode_is_one_line_error():
    with pytest.raises(EdgecError, match="--kernels"):
        allowed_variants(load_target("qemu-cortex-m4"), "fastest")


# -- the oc4 layout and the build-time constants ----------------------------------------------


def test_oc4_layout_pairs_inputs_as_sxtb16_widens_them():
    # 2 output channels, one run of 6 inputs: one quad, two tail inputs; the block pads to 4 channels.
    w = np.arange(1, 13).reshape(2, 1, 6)  # oc0: 1..6, oc1: 7..12
    quad = [_pair(1, 3), _pair(2, 4), _pair(7, 9), _pair(8, 10), 0, 0, 0, 0]
    tail = [_pair(5, 11), 0, _pair(6, 12), 0]
    assert oc4_layout(w).tolist() == quad + tail
    # Per-channel constants head each block, one 4-word group per array.
    assert oc4_layout(w, (np.array([-7, 9]),)).tolist() == [-7, 9, 0, 0, *quad, *tail]


def test_oc4_blocks_follow_each_other_with_their_headers():
    w = np.arange(5 * 2 * 4).reshape(5, 2, 4) - 20  # 5 channels: two blocks, 2 runs of one quad
    words = oc4_layout(w, (np.arange(5), np.arange(5) + 10))
    block = 2 * 4 + 2 * 8  # header groups + two runs of one quad
    assert words.size == 2 * block
    assert words[:8].tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
    assert words[block : block + 8].tolist() == [4, 0, 0, 0, 14, 0, 0, 0]
    second_run_oc0 = words[8 + 8 : 8 + 10].tolist()
    assert second_run_oc0 == [_pair(w[0, 1, 0], w[0, 1, 2]), _pair(w[0, 1, 1], w[0, 1, 3])]
    assert words[block + 8 :][:2].tolist() == [_pair(w[4, 0, 0], w[4, 0, 2]), _pair(w[4, 0, 1], w[4, 0, 3])]


def test_oc4_layout_keeps_negative_weights_as_int16():
    w = np.array([[[-1, -128, 127, -2]]] * 4)
    words = oc4_layout(w)
    assert words[:2].tolist() == [_pair(-1, 127), _pair(-128, -2)]
    assert words.size == 8


def test_depthwise_fast_layout_heads_each_channel_group_with_its_constants():
    # 1x3 kernel, 5 channels: two groups of four, 2 tap pairs each; header words per channel:
    # bias + 3 * sum(w), multiplier, 2^(right-1) - 7 * 2^right, right (padding channels: 0, 0, 0, 1).
    w = np.array([[[[1, 2, 3, 4, 5], [-1, -2, -3, -4, -5], [10, 0, 0, 0, -128]]]], dtype=np.int8)
    header = depthwise_dsp_header(w, np.array([100, 0, 0, 0, -9]), 3, [1 << 30] * 5, [-1, -2, -3, -4, -5], -7)
    assert header[0].tolist() == [100 + 3 * 10, 1 << 30, 1 - 14, 1]
    assert header[4].tolist() == [-9 + 3 * -128, 1 << 30, 16 - 7 * 32, 5]
    words = depthwise_dsp_layout(w, header)
    plain = depthwise_dsp_layout(w)  # [2 groups][2 pairs][4][2]
    group = 2 * 16 + plain[0].size  # int16 entries: the header's 16 words, then the weights
    assert words.size == 2 * group
    second = words[group : group + 32].view(np.uint16).astype(np.uint32)
    second_words = (second[0::2] | (second[1::2] << 16)).view(np.int32).tolist()
    assert second_words == [2 * (-9 - 384), 0, 0, 0, 1 << 30, 0, 0, 0, 16 - 224, 0, 0, 0, 5, 1, 1, 1]
    assert words[32:group].tolist() == (2 * plain[0]).reshape(-1).tolist()  # doubled with the header
    assert words[group + 32 :].tolist() == (2 * plain[1]).reshape(-1).tolist()
    with pytest.raises(ValueError, match="shift"):
        depthwise_dsp_header(w, None, 3, [1 << 30] * 5, [-1, 0, -3, -4, -5], 0)


def test_folded_bias_is_bias_plus_offset_times_weight_sum():
    w = np.array([[[[1, -2]], [[3, 4]]], [[[-5, 0]], [[0, 7]]]], dtype=np.int8)  # [2][2][1][2]
    got = folded_bias(w, np.array([10, -20]), input_offset=3, channel_axis=0)
    assert got.tolist() == [10 + 3 * (1 - 2 + 3 + 4), -20 + 3 * (-5 + 7)]


def test_accumulator_bound_covers_every_input_and_is_tight():
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, size=(3, 3, 3, 5)).astype(np.int8)
    bias = np.array([100, -7, 0])
    offset = 17
    bound = accumulator_bound(w, bias, offset, channel_axis=0)
    # The worst input: x + offset = +-max|x + offset| with the signs of w and bias.
    extreme = max(abs(-128 + offset), abs(127 + offset))
    assert bound.tolist() == [int(np.abs(w[c].astype(np.int64)).sum()) * extreme + abs(int(bias[c])) for c in range(3)]
    for _ in range(50):
        x = rng.integers(-128, 128, size=w.shape[1:])
        acc = (w.astype(np.int64) * (x + offset)).reshape(3, -1).sum(axis=1) + bias
        assert np.all(np.abs(acc) <= bound)


@pytest.mark.parametrize("shift", [-9, 0, 3])
def test_fast_requant_precondition_boundary(shift):
    limit = 1 << (31 - max(shift, 0) - 1)  # |acc| * 2^(L + 1) < 2^31  <=>  |acc| < 2^(30 - L)
    assert fast_requant_ok(np.array([limit - 1]), shift)
    assert not fast_requant_ok(np.array([limit]), shift)
    assert not fast_requant_ok(np.array([1, limit]), [shift, shift])


# -- whole models on the host with the DSP variants ------------------------------------------


@pytest.fixture(scope="module")
def dsp_builds(tmp_path_factory):
    """resnet8 for the host with the DSP variants forced: the default plan (row-streamed segments)
    and a 2x2 patch stage."""
    from test_patch_e2e import early_split

    root = tmp_path_factory.mktemp("dsp_models")
    builds = {}
    builds["auto"] = root / "auto"
    build_model(RESNET8, BuildOptions(target="host", out_dir=builds["auto"], schedule="auto", kernels="dsp"))
    split = early_split(load_build(builds["auto"]).graph)
    builds["patch"] = root / "patch"
    build_model(
        RESNET8,
        BuildOptions(target="host", out_dir=builds["patch"], schedule="patch", split=split, patches=2, kernels="dsp"),
    )
    # No flash to spare for weight layouts: every layer falls back to its compact layout.
    builds["compact"] = root / "compact"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(KernelSelector, "_weight_room", lambda self: 0)
        build_model(RESNET8, BuildOptions(target="host", out_dir=builds["compact"], schedule="auto", kernels="dsp"))
    return {k: load_build(v) for k, v in builds.items()}


def _assert_host_bit_exact(build) -> None:
    """The build's host binary equals the numpy reference on two seeded inputs."""
    graph = build.graph
    for seed in (0, 1):
        x = np.random.default_rng(seed).integers(-128, 128, size=build.inputs[0].shape, dtype=np.int8)
        got, _ = run_host_binary(build, x)
        want = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        assert np.array_equal(got, want.reshape(got.shape))


@pytest.mark.parametrize("plan", ["auto", "patch"])
def test_dsp_variants_bit_exact_in_every_schedule(dsp_builds, plan):
    build = dsp_builds[plan]
    kinds = {op["variant"] for op in build.summary["ops"]}
    assert "dsp" in kinds
    schedule = build.summary["schedule"]
    if plan == "patch":
        assert schedule["kind"] == "patch"
        assert any(op.get("patches") and op["variant"] == "dsp" for op in build.summary["ops"])
    else:
        assert schedule.get("row_segments"), "resnet8's default plan streams rows"
        assert any(op.get("row_streamed") and op["variant"] == "dsp" for op in build.summary["ops"])
    _assert_host_bit_exact(build)


def test_flash_limited_build_runs_dsp_kernels_on_int8_weights(dsp_builds):
    """Without room for the pre-widened layouts, conv and FC layers get the DSP kernels on int8
    weights (no layout growth), bit-exact on the host in resnet8's row-streamed plan."""
    build = dsp_builds["compact"]
    s = build.summary
    assert s["totals"]["layout_extra_bytes"] == 0 and s["kernels"]["compact_fallback"]
    kernels = {(op["op"], op["kernel"]) for op in s["ops"] if op["op"] in ("conv2d", "fully_connected")}
    assert ("conv2d", "edgec_conv2d_dsp_int8") in kernels
    assert ("fully_connected", "edgec_fully_connected_dsp_int8") in kernels
    assert ("conv2d", "edgec_conv2d_dsp") not in kernels  # nothing pre-widened is left
    assert any(op.get("row_streamed") and op["kernel"] == "edgec_conv2d_dsp_int8" for op in s["ops"])
    _assert_host_bit_exact(build)


def test_build_json_records_kernel_and_variant(dsp_builds):
    s = dsp_builds["auto"].summary
    assert s["kernels"]["mode"] == "dsp"
    by_op = {(op["op"], op["variant"]): op["kernel"] for op in s["ops"]}
    assert by_op[("conv2d", "dsp")] == "edgec_conv2d_dsp"
    assert by_op[("fully_connected", "dsp")] == "edgec_fully_connected_dsp"
    assert by_op[("add", "dsp")] == "edgec_add_dsp"  # resnet8's adds all meet rq_fast's conditions
    portable = {op: kernel for (op, variant), kernel in by_op.items() if variant == "portable"}
    assert portable and all(k.startswith("edgec_") and not k.endswith(("_dsp", "_mve")) for k in portable.values())
    assert s["totals"]["layout_extra_bytes"] > 0
    assert sum(s["kernels"]["variants"].values()) == len(s["ops"])


def test_flash_fallback_keeps_compact_layouts_largest_first(dsp_builds):
    graph = dsp_builds["auto"].graph
    m4 = load_target("qemu-cortex-m4")
    full = KernelSelector(graph, m4)
    growth = sorted((c.extra_bytes, name) for name, c in full.choices.items() if c.extra_bytes)
    assert len(growth) >= 3 and full.compact_fallback == []
    weights = sum(t.nbytes for t in graph.tensors.values() if t.is_const)
    # Room for everything but the largest layout, by one byte.
    room = full.layout_extra_bytes - growth[-1][0]
    small = dataclasses.replace(m4, flash_bytes=CODE_RESERVE_BYTES + weights + room)
    tight = KernelSelector(graph, small)
    assert tight.compact_fallback == [growth[-1][1]]
    # The layer keeps a DSP kernel: the one on int8 weights, whose layout takes no extra flash.
    kept = tight.choice(graph.node(growth[-1][1]))
    assert kept.variant == "dsp" and kept.rule.name.endswith("_int8") and kept.extra_bytes == 0
    assert tight.layout_extra_bytes == room
    tighter = KernelSelector(graph, dataclasses.replace(small, flash_bytes=small.flash_bytes - 1))
    assert tighter.compact_fallback[0] == growth[-1][1] and len(tighter.compact_fallback) == 2


def test_separate_weights_memory_is_the_budget(dsp_builds):
    graph = dsp_builds["auto"].graph
    m55 = load_target("qemu-cortex-m55")
    assert m55.weights_bytes > 0
    # --kernels dsp: the DSP variants' weight layouts grow the weights (the MVE ones read the portable
    # layouts and grow nothing)
    roomy = KernelSelector(graph, dataclasses.replace(m55, flash_bytes=CODE_RESERVE_BYTES), mode="dsp")  # code-only flash
    assert roomy.compact_fallback == [] and roomy.layout_extra_bytes > 0
    weights = sum(t.nbytes for t in graph.tensors.values() if t.is_const)
    tight = KernelSelector(graph, dataclasses.replace(m55, weights_bytes=weights + 1), mode="dsp")
    assert tight.layout_extra_bytes <= 1 and tight.compact_fallback


def test_cli_kernels_portable_is_recorded(tmp_path):
    out = tmp_path / "portable"
    edgec = Path(sys.executable).parent / "edgec"
    assert edgec.is_file(), f"console script {edgec} missing"
    proc = subprocess.run(
        [str(edgec), "build", str(RESNET8), "--target", "host", "--kernels", "portable", "-o", str(out)],
        check=False, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "kernels        portable:" in proc.stdout
    s = json.loads((out / BUILD_FILE).read_text())
    assert s["kernels"]["mode"] == "portable"
    assert {op["variant"] for op in s["ops"]} == {"portable"}
    assert s["totals"]["layout_extra_bytes"] == 0
