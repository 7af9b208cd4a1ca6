"""One coverage-guided atheris run of one harness (started by bench/fuzz.py in its own process).

    python -m tests.fuzz.atheris_main HARNESS --seconds N --seed S --status FILE

libFuzzer ends the process itself when the time is up, so the outcome is
written to the status file (JSON) as it goes: executions so far and every
unique crash (exception type + location, message, input as hex).  Crashes
are recorded and the run goes on; only a hang or a hard crash of the
interpreter stops it early.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import atheris

# Imported here, inside the block, so that atheris instruments edgec's modules for coverage.
with atheris.instrument_imports(include=["edgec"]):
    import edgec.calibration
    import edgec.device.framing
    import edgec.device.protocol
    import edgec.frontends.onnx
    import edgec.frontends.tflite
    import edgec.npyfile
    import edgec.tensor_io  # noqa: F401 - the package name edgec is bound, the modules are the point

from tests.fuzz.engine import RunResult, check
from tests.fuzz.harnesses import HARNESSES

WRITE_EVERY = 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("harness", choices=sorted(HARNESSES))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--status", type=Path, required=True)
    args = parser.parse_args()
    harness = HARNESSES[args.harness]
    result = RunResult(harness.name)

    def write_status() -> None:
        crashes = [
            {"kind": c.kind, "location": c.location, "message": c.message, "data": c.data.hex()}
            for c in result.crashes.values()
        ]
        args.status.write_text(json.dumps({"executions": result.executions, "crashes": crashes}))

    def one_input(data: bytes) -> None:
        before = len(result.crashes)
        # No per-input alarm here: libFuzzer's own -timeout catches hangs.
        result.add(check(harness, data, time_limit=None))
        result.executions += 1
        if len(result.crashes) != before or result.executions % WRITE_EVERY == 0:
            write_status()

    corpus = Path(tempfile.mkdtemp(prefix=f"edgec-corpus-{harness.name}-"))
    for i, seed in enumerate(harness.seeds()):
        (corpus / f"seed{i}").write_bytes(seed)
    write_status()
    atheris.Setup(
        [sys.argv[0], str(corpus), f"-max_total_time={args.seconds}", f"-seed={args.seed}", "-timeout=20",
         "-rss_limit_mb=4096", "-print_final_stats=1"],
        one_input,
    )
    atheris.Fuzz()


if __name__ == "__main__":
    main()
