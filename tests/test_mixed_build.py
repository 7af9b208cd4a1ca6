"""`edgec build --precision mixed`: build.json ``precision``, the saved mixed graph, summary/inspect, errors.

One host build of the trained digits CNN with a forced 2x2 patch stage; its
read-back reference (``Build.reference_outputs``) must be ``run_mixed`` and
differ from the int8 reference somewhere, and the BitOPs fields must match
an independent count from ``analyze_patches``.  The C code of the mixed
variant belongs to codegen (helper "subbyte"); this file does not compare the
binary.  Bad flags: one error line, exit code 2, nothing written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgec.compiler import BUILD_FILE, BuildOptions, build_model, format_build_report, format_build_summary, load_build
from edgec.ir.ops import macs
from edgec.mixed.reference import run_mixed_detailed
from edgec.mixed.weights import requantize
from edgec.reference import run

REPO = Path(__file__).resolve().parents[1]
EDGEC = Path(sys.executable).with_name("edgec")
DIGITS = REPO / "models" / "digits"
MODEL, CALIB = DIGITS / "digits_cnn.onnx", DIGITS / "calib.npz"
SPLIT = "maxpool_0"


def edgec(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EDGEC), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=REPO, check=False
    )


@pytest.fixture(scope="module")
def mixed_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "digits"
    options = BuildOptions(
        target="host",
        out_dir=out,
        calib=CALIB,
        schedule="patch",
        split=SPLIT,
        patches=2,
        precision="mixed",
        mixed_lambda=0.0,
    )
    build_model(MODEL, options)
    return load_build(out)


def test_precision_section(mixed_build):
    p = mixed_build.summary["precision"]
    assert p["mode"] == "mixed" and p["mixed_lambda"] == 0.0 and p["search_seconds"] >= 0
    for key in ("bitops", "bitops_int8", "stage_bitops", "stage_bitops_int8", "outlier_patch_fraction", "bits"):
        assert key in p, key
    graph = mixed_build.graph
    stage, mixed = mixed_build.mixed()
    # independent int8 count: every stage op's MACs on its patch windows, then the rest layer by layer, x 8 x 8
    stage_macs = sum(
        macs(graph, graph.node(op.node))
        * op.output.area
        // (
            graph.tensors[graph.node(op.node).outputs[0]].shape[1]
            * graph.tensors[graph.node(op.node).outputs[0]].shape[2]
        )
        for patch in stage.patches
        for op in patch.ops
    )
    rest = sum(macs(graph, n) for n in graph.nodes if n.name not in stage.nodes)
    assert p["stage_bitops_int8"] == stage_macs * 64 and p["bitops_int8"] == (stage_macs + rest) * 64
    assert p["stage_bitops"] < p["stage_bitops_int8"]  # lambda 0 lowers what it can
    assert 0.0 <= p["outlier_patch_fraction"] <= 1.0
    assert set(p["bits"]) == {o for n in stage.nodes for o in graph.node(n).outputs} - {stage.split}
    assert any(b < 8 for b in p["bits"].values())
    for name, bits in p["bits"].items():
        assert mixed.graph.tensors[name].bits == bits
    # int4 weight values, int8 storage: read back with the build and counted at 4 bits
    assert p["weight_storage"] == "int8" and p["weight_bits"] and mixed.weight_bits == p["weight_bits"]
    for name in p["weight_bits"]:
        w = mixed.graph.tensors[graph.node(name).inputs[1]]
        # int4 values in [-8, 7], stored x 2^k per channel where the requantization needs it (scale / 2^k)
        values, scales, _ = requantize(graph.tensors[graph.node(name).inputs[1]], 4)
        step = scales.astype(np.float64) / w.scale.astype(np.float64)
        shape = [1] * w.data.ndim
        shape[w.axis or 0] = -1
        assert w.dtype == "int8" and set(np.unique(step)) <= {1.0, 2.0, 4.0, 8.0, 16.0}
        assert np.array_equal(w.data.astype(np.int64), values.astype(np.int64) * step.astype(np.int64).reshape(shape))


def test_build_reference_is_run_mixed(mixed_build):
    graph = mixed_build.graph
    stage, mixed = mixed_build.mixed()
    rng = np.random.default_rng(3)
    differs = 0
    for _ in range(6):
        x = rng.integers(-128, 128, size=graph.tensors[graph.inputs[0]].shape, dtype=np.int8)
        got = mixed_build.reference_outputs(x)[graph.outputs[0]]
        assert np.array_equal(got, run_mixed_detailed(graph, stage, mixed, x).outputs[graph.outputs[0]])
        differs += not np.array_equal(got, run(graph, {graph.inputs[0]: x})[graph.outputs[0]])
    assert differs


def test_summary_and_inspect_show_bits(mixed_build):
    summary = format_build_summary({**mixed_build.summary, "path": str(mixed_build.path)})
    assert "precision      mixed:" in summary and "BitOPs" in summary
    low = [n for n, b in mixed_build.summary["precision"]["bits"].items() if b < 8]
    assert any(name in summary and "2 bits" in summary for name in low)
    report = format_build_report(mixed_build)
    assert report.splitlines()[0].split()[-1] == "bits"


def test_mixed_without_patch_stage_builds_int8_with_a_note(tmp_path):
    out = tmp_path / "layer"
    r = edgec(
        "build",
        MODEL,
        "--target",
        "host",
        "--calib",
        CALIB,
        "--precision",
        "mixed",
        "--schedule",
        "layer",
        "-o",
        out,
        "--json",
    )
    assert r.returncode == 0, r.stderr
    p = json.loads((out / BUILD_FILE).read_text())["precision"]
    assert p["mode"] == "int8" and p["requested"] == "mixed" and "no patch stage" in p["reason"]
    assert not (out / "graph_mixed.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--precision", "mixed"], "needs calibration data"),
        (["--precision", "mixed", "--calib", CALIB, "--mixed-lambda", "1.5"], "--mixed-lambda must lie in [0, 1]"),
        (["--calib", CALIB, "--mixed-lambda", "0.3"], "--mixed-lambda applies to --precision mixed"),
    ],
)
def test_bad_mixed_flags_fail_in_one_line(tmp_path, args, message):
    out = tmp_path / "bad"
    r = edgec("build", MODEL, "--target", "host", "-o", out, *args)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], r.stderr
    assert not out.exists()


def test_memory_plot_of_a_mixed_build(mixed_build, tmp_path):
    from edgec.compiler import plot_build_memory

    path = tmp_path / "mem.png"
    plot_build_memory(mixed_build, path)
    assert path.stat().st_size > 0
