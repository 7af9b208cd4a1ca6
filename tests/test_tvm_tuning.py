"""MetaSchedule tuning (edgec/codegen/tvm/tuning.py): records land in the build's tuning/ folder,
a later compile replays them, and the tuned kernel stays bit-exact with the numpy reference."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

tvm = pytest.importorskip("tvm", reason="TVM is an optional extra (pip install edgec[tvm])")

from tvm import s_tir

from edgec.codegen.tvm import tuning
from edgec.errors import EdgecError
from tests import test_tvm_schedules as ops

TARGET = {"kind": "llvm", "num-cores": 1}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    func, args, want, kind, macs = ops.fc_case(np.random.default_rng(7), 32, 16)
    program = SimpleNamespace(
        calls=[SimpleNamespace(func="edgec_k0_fully_connected", kind=kind, macs=macs)],
        funcs={"edgec_k0_fully_connected": func},
    )
    records = tmp_path_factory.mktemp("build") / tuning.TUNING_DIR
    messages: list[str] = []
    summary = tuning.tune_program(program, tvm.target.Target(TARGET), records, trials=2, progress=messages.append)
    return SimpleNamespace(
        func=func, args=args, want=want, kind=kind, macs=macs, records=records, summary=summary, messages=messages
    )


# MetaSchedule starts builder and runner worker processes: about 30 s for the one shared tuning
# run on 2 cores (tests/conftest.py keeps this module on one xdist worker so it runs once).
@pytest.mark.slow
def test_tuning_stores_records_in_the_build(tuned):
    assert (tuned.records / "database_tuning_record.json").stat().st_size > 0
    assert tuned.summary["kernels"] == 1 and tuned.summary["tuned"] == 1
    assert any("tuning 1/1" in m for m in tuned.messages)


@pytest.mark.slow
def test_tuned_records_are_replayed_and_bit_exact(tuned):
    table = tuning.tuned_schedules(tuned.records)
    sch = s_tir.Schedule(tuned.func)
    target = tvm.target.Target(TARGET)
    table["*"](sch, SimpleNamespace(func="k", kind=tuned.kind, macs=tuned.macs), target)
    assert sch.trace is not None and len(sch.trace.insts) > 0
    lib = tvm.compile(sch.mod, target=target)
    dev = tvm.cpu()
    tensors = [tvm.runtime.tensor(a, dev) for a in tuned.args] + [tvm.runtime.empty(tuned.want.shape, "int8", dev)]
    lib(*tensors)
    np.testing.assert_array_equal(tensors[-1].numpy(), tuned.want)


@pytest.mark.parametrize("trials", [0, -3, 10**9])
def test_bad_trial_counts_are_refused(trials):
    with pytest.raises(EdgecError, match="--trials must be"):
        tuning.check_trials(trials)


def test_missing_records_are_one_line(tmp_path):
    with pytest.raises(EdgecError, match="no tuning records") as info:
        tuning.open_records(tmp_path)
    assert "\n" not in str(info.value)


def test_cli_tune_refuses_non_tvm_builds_and_bad_trials(tmp_path):
    """`edgec tune` on a build for an MCU/C target, or with --trials 0: one line, exit 2, nothing written."""
    from tests.test_cli import assert_user_error, edgec

    build = tmp_path / "b"
    build.mkdir()
    (build / "build.json").write_text('{"target": "qemu-cortex-m4"}')
    assert_user_error(edgec("tune", build, "--trials", "4"), "not a TVM build")
    assert_user_error(edgec("tune", build, "--trials", "0"), "--trials must be")
    assert_user_error(edgec("tune", tmp_path / "missing"), "not an edgec build folder")
    assert not (build / tuning.TUNING_DIR).exists()
