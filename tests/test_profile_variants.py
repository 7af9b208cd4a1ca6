"""`edgec profile` shows which kernel variant ran each op and its MACs per instruction.

One bundled model with depthwise layers (DS-CNN) is built for ``qemu-cortex-m4`` twice --
``--kernels auto`` (DSP variants where they apply) and ``--kernels portable`` -- and
profiled in QEMU: the report's kernel/variant per op must be build.json's, the DSP
depthwise layers must name their kernel, MACs per instruction must be MACs / count, the
outputs must equal the numpy reference, and the DSP depthwise layers must take fewer
instructions than the same layers in portable C.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.profiler import format_profile, kernel_label, variant_totals

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "tflite" / "ds_cnn.tflite"
TARGET = "qemu-cortex-m4"

def needs_qemu(test):
    skip = pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="needs qemu-system-arm and arm-none-eabi-gcc",
    )
    return pytest.mark.hil(skip(test))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from edgec.profiler import profile_build

    out = {}
    for mode in ("auto", "portable"):
        folder = tmp_path_factory.mktemp(f"profile_{mode}") / "build"
        build_model(MODEL, BuildOptions(target=TARGET, out_dir=folder, kernels=mode))
        out[mode] = (load_build(folder), profile_build(folder, runs=1))
    return out


@needs_qemu
def test_report_names_the_kernel_and_variant_of_every_op(reports):
    build, report = reports["auto"]
    assert report["check"]["bit_exact"], report["check"]
    ops = build.summary["ops"]
    assert [(r["kernel"], r["variant"]) for r in report["ops"]] == [(o["kernel"], o["variant"]) for o in ops]
    dsp = [r for r in report["ops"] if r["variant"] == "dsp" and r["op"] == "depthwise_conv2d"]
    assert dsp, "no depthwise layer ran a DSP kernel on the Cortex-M4"
    assert all(r["kernel"].startswith("edgec_depthwise_conv2d") and r["kernel"].endswith("_dsp") for r in dsp)
    for r in report["ops"]:
        assert r["count"] > 0
        if r["macs"]:
            assert r["macs_per_count"] == pytest.approx(r["macs"] / r["count"])
    text = format_profile(report)
    header = text.splitlines()[1].split()
    assert header[:5] == ["#", "op", "type", "kernel", "variant"]
    line = next(ln for ln in text.splitlines() if kernel_label(dsp[0]["kernel"]) in ln)
    assert " dsp " in line and f"{dsp[0]['macs_per_count']:.3f}" in line
    assert "by variant: " in text and "bit-exact" in text


@needs_qemu
def test_portable_build_runs_portable_kernels_and_dsp_depthwise_is_faster(reports):
    _, auto = reports["auto"]
    _, portable = reports["portable"]
    assert portable["check"]["bit_exact"], portable["check"]
    assert {r["variant"] for r in portable["ops"]} == {"portable"}
    assert all(not r["kernel"].endswith("_dsp") for r in portable["ops"])
    for fast, slow in zip(auto["ops"], portable["ops"]):
        assert fast["name"] == slow["name"]
        if fast["variant"] == "dsp" and fast["op"] == "depthwise_conv2d":
            assert fast["count"] < slow["count"], f"{fast['name']}: DSP {fast['count']} >= portable {slow['count']}"


def test_variant_totals_and_table_from_a_report():
    report = {
        "model": "m.tflite",
        "target": TARGET,
        "unit": "instructions",
        "runs": 1,
        "total": 1000,
        "macs": 600,
        "macs_per_count": 0.6,
        "check": {"bit_exact": True, "max_abs_diff": 0, "mismatched_elements": 0},
        "ops": [
            {"index": 0, "name": "a", "op": "conv2d", "kernel": "edgec_conv2d", "variant": "portable", "macs": 100,
             "count": 400, "share": 0.4, "macs_per_count": 0.25},
            {"index": 1, "name": "b", "op": "depthwise_conv2d", "kernel": "edgec_depthwise_conv2d_3x3_dsp",
             "variant": "dsp", "macs": 500, "count": 500, "share": 0.5, "macs_per_count": 1.0},
            {"index": 2, "name": "c", "op": "add", "kernel": "edgec_add", "variant": "portable", "macs": 0,
             "count": 100, "share": 0.1, "macs_per_count": 0.0},
        ],
    }
    totals = variant_totals(report)
    assert totals["portable"] == {"ops": 2, "macs": 100, "count": 500, "macs_per_count": 0.2}
    assert totals["dsp"] == {"ops": 1, "macs": 500, "count": 500, "macs_per_count": 1.0}
    text = format_profile(report)
    assert "depthwise_conv2d_3x3_dsp" in text and "edgec_depthwise" not in text
    assert "by variant: " in text
    assert "portable 2 ops, 500 instructions (0.200 MACs/instruction)" in text
    assert "dsp 1 ops, 500 instructions (1.000 MACs/instruction)" in text
