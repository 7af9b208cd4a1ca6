"""The mixed stage's own patch grid (edgec/mixed/grid.py) and the stage without an int8 variant.

When the outlier thresholds are the whole int8 range no patch can take the
int8 variant: the generated stage runs the mixed variant on every patch
without a classifier, and under an SRAM budget the packed maps may fit a
coarser grid than the int8 stage's.  Oracles: ``plan_grid``'s per-patch plan
against the int8 one (sub-byte maps at their packed size), the BitOPs of
the new stage against ``bitops.stage_bitops``, and the generated C (host,
ASan/UBSan, portable kernels; QEMU with the DSP kernels) against
``run_mixed`` on the new stage, byte for byte.  The net is
tests/mixed_fixture.py's (int4 and int2 maps, odd channel counts).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgec.codegen.c import emit_project
from edgec.mixed import bitops
from edgec.mixed.grid import apply_grid, packed_buffer_graph, plan_grid
from edgec.mixed.reference import run_mixed
from edgec.mixed.subbyte import pixel_bytes
from edgec.schedule.split_search import patch_buffer_graph
from edgec.targets import load_target
from tests import mixed_fixture as mf
from tests.test_mixed_e2e import _host_binary, _inputs, _plan, _run_binary


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from edgec.lowering import lower_model

    model, calib = mf.write_model(tmp_path_factory.mktemp("mixed_grid"))
    return lower_model(model, calib)


def _budget_for(graph, plan, mixed, n: int, least: bool = False) -> int:
    """The arena bytes the mixed stage takes on an n x n grid with packed maps (``least``: with the
    smallest scratch, the least any budget can get)."""
    return plan_grid(graph, plan.stage.split, (n, n), plan.arena, mixed.graph, 0 if least else 1 << 30)[3]


def test_packed_buffers_are_smaller(net):
    graph = net.graph
    plan = _plan(graph, "host")
    mixed = mf.mixed_variant(graph, plan.stage, -128, 127)
    int8, packed = patch_buffer_graph(graph, plan.stage), packed_buffer_graph(graph, plan.stage, mixed.graph)
    lowered_maps = 0
    for name, t in int8.tensors.items():
        if t.is_const:
            continue
        bits = mixed.graph.tensors[name].bits
        pixels = t.shape[2]
        assert packed.tensors[name].nbytes == pixels * pixel_bytes(t.shape[3], bits)
        lowered_maps += bits < 8
        assert (packed.tensors[name].nbytes < t.nbytes) == (bits < 8)
    assert lowered_maps == len(mf.BITS)


def test_coarser_grid_under_the_budget(net):
    """No outlier possible: the plan moves to the 2x2 grid that fits the budget (fewer MACs than 3x3),
    the report's BitOPs follow the new stage; with a classifying test, or a budget no coarser grid
    fits, the plan keeps its grid."""
    graph = net.graph
    plan = _plan(graph, "host")
    mixed = mf.mixed_variant(graph, plan.stage, -128, 127)
    assert not mixed.int8_variant
    mixed.report = {}
    budget = _budget_for(graph, plan, mixed, 2)
    int8_stage = plan.stage
    got = apply_grid(graph, plan, mixed, budget)
    assert plan.stage.grid == (2, 2) and plan.arena_size <= budget and plan.stage.macs < int8_stage.macs
    assert got.report["grid"] == [2, 2] and got.report["grid_int8"] == [3, 3]
    assert got.report["stage_bitops"] == round(bitops.stage_bitops(graph, plan.stage, mixed.bits, 0.0, mixed.weight_bits))
    assert got.report["stage_bitops_int8_grid"] == round(bitops.stage_bitops(graph, int8_stage, {}, 0.0))
    assert got.report["stage_bitops_int8"] == round(bitops.stage_bitops(graph, plan.stage, {}, 0.0))
    # a budget one byte short of every coarser grid, or a test that can classify: the 3x3 grid stays
    for thresholds, budget in (((-128, 127), min(_budget_for(graph, _plan(graph, "host"), mixed, n, True) for n in (1, 2)) - 1),
                               ((-100, 100), 1 << 30)):  # fmt: skip
        plan = _plan(graph, "host")
        other = mf.mixed_variant(graph, plan.stage, *thresholds)
        other.report = {}
        assert apply_grid(graph, plan, other, budget).report["grid"] == [3, 3] and plan.stage.grid == (3, 3)


def _coarse_setup(graph, target: str, least: bool = False):
    plan = _plan(graph, target)
    mixed = mf.mixed_variant(graph, plan.stage, -128, 127)
    mixed.report = {}
    budget = _budget_for(graph, plan, mixed, 2, least)
    plan.mixed = apply_grid(graph, plan, mixed, budget)
    assert plan.stage.grid == (2, 2)
    return plan, budget


@pytest.mark.parametrize("least", [False, True], ids=["scratch", "one-row-bands"])
def test_coarse_grid_host_bit_exact(net, tmp_path, least):
    """The stage on its own 2x2 grid, packed per-patch buffers (output bands computed in the arena's
    free stretch, also when the budget leaves only bands of one row), no classifier: the host binary
    (ASan/UBSan) equals run_mixed on that stage."""
    if shutil.which("cc") is None:
        pytest.skip("a host C compiler (cc) is needed to compile the generated project")
    graph = net.graph
    plan, budget = _coarse_setup(graph, "host", least)
    project = emit_project(graph, plan, tmp_path / "src", load_target("host"), "0" * 64, kernels="portable")
    source = (tmp_path / "src" / "model.c").read_text()
    assert "edgec_has_outlier" not in source and "if (outlier)" not in source
    assert "edgec_packed_output_rows(&out_p, oy, n, edgec_subbyte_scratch" in source  # bands in the scratch
    assert "static int8_t *const edgec_subbyte_scratch = arena + " in source  # inside the arena, not beside it
    assert all(op.get("precision") != "int8" for op in project.ops)
    assert f"{max(plan.arena_size, 16)}" in (tmp_path / "src" / "model.h").read_text() and plan.arena_size <= budget
    binary = _host_binary(tmp_path / "src", tmp_path)
    out_shape = graph.tensors[graph.outputs[0]].shape
    for x in _inputs(graph):
        want = run_mixed(graph, plan, plan.mixed, x)[graph.outputs[0]]
        np.testing.assert_array_equal(_run_binary(binary, x, out_shape, tmp_path), want)


@pytest.mark.hil
def test_coarse_grid_qemu_bit_exact(net, tmp_path):
    """The same on qemu-cortex-m4 with the DSP kernels."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    from edgec.device.session import run_on_device
    from edgec.firmware import build_firmware

    graph = net.graph
    plan, _ = _coarse_setup(graph, "qemu-cortex-m4")
    xs = _inputs(graph)[:2]
    project = emit_project(graph, plan, tmp_path / "src", load_target("qemu-cortex-m4"), "0" * 64)
    assert "dsp" in {op["variant"] for op in project.ops}
    image = build_firmware(tmp_path / "src", "qemu-cortex-m4", tmp_path / "bin")
    outputs, _, _ = run_on_device(image.elf, xs, "qemu-cortex-m4")
    for got, x in zip(outputs, xs):
        np.testing.assert_array_equal(got, run_mixed(graph, plan, plan.mixed, x)[graph.outputs[0]])


def test_memory_plot_of_a_mixed_stage_on_its_own_grid(net, tmp_path, monkeypatch):
    """The memory plot of such a build draws the packed schedule: its candidate has the plan's arena."""
    from types import SimpleNamespace

    from edgec.mixed.grid import mixed_candidate
    from edgec.schedule import plot as plot_module
    from edgec.schedule.planning import plot_build

    graph = net.graph
    plan, budget = _coarse_setup(graph, "host")
    cand = mixed_candidate(graph, plan.stage.split, plan.stage.grid, plan.arena, plan.mixed.graph, budget)
    assert cand.peak == plan.arena_size and cand.patch_plan.size == plan.patch_plan.size
    summary = {
        "schedule": {"kind": "patch", "split": plan.stage.split, "grid": [2, 2], "budget_bytes": budget},
        "precision": {"mode": "mixed", "grid": [2, 2], "grid_int8": [3, 3], "bits": plan.mixed.bits},
        "model": "fixture", "target": "host", "target_kind": "host",
    }  # fmt: skip
    build = SimpleNamespace(graph=graph, summary=summary, mixed=lambda: (plan.stage, plan.mixed))
    seen = {}
    real = plot_module.plot_memory
    monkeypatch.setattr(plot_module, "plot_memory", lambda *a, **k: seen.update(peak=a[2].peak, **k) or real(*a, **k))
    plot_build(build, tmp_path / "mem.png")
    assert seen["packed"] and seen["peak"] == plan.arena_size and (tmp_path / "mem.png").stat().st_size > 0


def test_no_classifier_on_the_int8_grid_builds_with_werror(net, tmp_path):
    """Whole-range thresholds on the int8 grid (buffers sized for int8): only the step tables the
    mixed variant reads are emitted (the firmware's -Werror rejects an unused one), no classifier."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc")
    from edgec.firmware import build_firmware

    graph = net.graph
    plan = _plan(graph, "qemu-cortex-m4")
    plan.mixed = mf.mixed_variant(graph, plan.stage, -128, 127)
    emit_project(graph, plan, tmp_path / "src", load_target("qemu-cortex-m4"), "0" * 64)
    assert "edgec_has_outlier" not in (tmp_path / "src" / "model.c").read_text()
    build_firmware(tmp_path / "src", "qemu-cortex-m4", tmp_path / "bin")
