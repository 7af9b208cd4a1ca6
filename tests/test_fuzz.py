"""Fuzzing in `make test`: a short seeded run of every harness, and the replay of past crashes.

The run uses the seeded mutator of tests/fuzz/mutate.py (not atheris, whose
coverage feedback makes a run depend on timing), so every machine tries the
same inputs.  Longer, coverage-guided runs: ``bench/fuzz.py`` (docs/fuzzing.md).
Each input must end in success or a one-line EdgecError; anything else fails
with the exception, where it was raised and the input that caused it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edgec.errors import EdgecError
from tests.fuzz.engine import check, mutation_run
from tests.fuzz.harnesses import HARNESSES, Harness

REGRESSIONS = Path(__file__).parent / "fuzz" / "regressions"

# Executions per harness: about 5-10 s each on one core of a 2-core machine.
EXECUTIONS = {"tflite": 1500, "onnx": 1200, "input": 2000, "calib": 2000, "frames": 8000, "protocol": 50000}


def _report(crashes) -> str:
    return "\n".join(
        f"{c.kind} at {c.location}: {c.message} (input {len(c.data)} bytes, starts {c.data[:48].hex()})"
        for c in crashes
    )


@pytest.mark.parametrize("name", sorted(EXECUTIONS))
def test_seeded_fuzz_run(name: str):
    result = mutation_run(HARNESSES[name], seed=0, executions=EXECUTIONS[name])
    assert result.executions == EXECUTIONS[name]
    assert not result.crashes, f"{len(result.crashes)} crash(es) in {name}:\n" + _report(result.crashes.values())


def _regression_files() -> list[Path]:
    return sorted(p for p in REGRESSIONS.glob("*/*") if p.suffix == ".bin")


def test_regression_corpus_covers_every_fixed_harness():
    harnesses = {p.parent.name for p in _regression_files()}
    assert harnesses >= {"tflite", "onnx", "input", "calib", "protocol"}
    assert harnesses <= set(HARNESSES)


@pytest.mark.parametrize("harness", sorted({p.parent.name for p in _regression_files()}))
def test_past_crashes_stay_fixed(harness: str):
    folder = REGRESSIONS / harness
    index = json.loads((folder / "index.json").read_text())
    files = sorted(folder.glob("*.bin"))
    assert sorted(index) == [p.name for p in files], "index.json must describe every regression input"
    failures = [(p.name, check(HARNESSES[harness], p.read_bytes())) for p in files]
    failures = [(name, crash) for name, crash in failures if crash is not None]
    assert not failures, "\n".join(f"{name} (was {index[name]['kind']}): " + _report([c]) for name, c in failures)


# -- the checker itself must be able to fail -------------------------------------------------------


def _harness(target) -> Harness:
    return Harness("probe", target, lambda: [b"x"], "a probe")


def test_check_reports_exceptions_other_than_edgec_error():
    def target(data: bytes) -> None:
        raise IndexError("list index out of range")

    crash = check(_harness(target), b"abc")
    assert crash is not None and crash.kind == "IndexError" and "test_fuzz.py" in crash.location


def test_check_accepts_one_line_edgec_errors_only():
    def clean(data: bytes) -> None:
        raise EdgecError("bad input: fix it")

    def multi_line(data: bytes) -> None:
        raise EdgecError("bad input\nsecond line")

    assert check(_harness(clean), b"") is None
    crash = check(_harness(multi_line), b"")
    assert crash is not None and crash.kind == "MultiLineEdgecError"


def test_check_reports_hangs():
    def hang(data: bytes) -> None:
        time.sleep(5)

    crash = check(_harness(hang), b"", time_limit=0.2)
    assert crash is not None and crash.kind.endswith("InputTimeout")


def test_check_reports_numpy_warnings():
    import numpy as np

    def overflow(data: bytes) -> None:
        np.array([1e300]).astype(np.float32)

    crash = check(_harness(overflow), b"")
    assert crash is not None and crash.kind == "FloatingPointError"


def test_calibration_image_size_is_checked_before_decoding(tmp_path: Path):
    from edgec.calibration import load_calibration
    from tests.fuzz.harnesses import _calibration_graphs

    (tmp_path / "big.pgm").write_bytes(b"P5 8000 8000 255\n")  # a header claiming 64 M pixels, no pixels
    with pytest.raises(EdgecError, match="8000x8000"):
        load_calibration(tmp_path, _calibration_graphs()[0])
