"""Run Arm's Vela compiler in-process on an int8 TFLite model, with explicit settings.

ethos-u-vela is an optional dependency (``pip install edgec[ethosu]``). Vela
is called as its command line would be (``vela.main([...])``) inside a
temporary folder, with the accelerator, config file, system config and
memory mode of the target always passed: without them Vela silently picks
defaults that differ per accelerator. What it prints is captured: the CPU
fallback warnings (operator, output tensor, reason) are parsed from it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import BuildError, EdgecError

VELA_VERSION = "5.2.0"  # the version edgec's parsing and tests were written against (pinned in edgec[ethosu])


@dataclass
class Fallback:
    """One operator Vela left on the CPU, with the reason it printed."""

    op: str  # TFLite builtin name, e.g. RESIZE_NEAREST_NEIGHBOR
    tensor: str  # the operator's output tensor
    reason: str

    def to_json(self) -> dict:
        return {"op": self.op, "tensor": self.tensor, "reason": self.reason}


@dataclass
class VelaOutput:
    """What one Vela run produced."""

    version: str
    args: list[str]
    tflite: bytes  # the optimized model: CUSTOM "ethos-u" ops + the CPU ops
    summary: dict[str, str]  # the summary CSV's one row
    per_layer: list[dict[str, str]] = field(default_factory=list)  # the per-layer CSV's rows
    fallbacks: list[Fallback] = field(default_factory=list)
    log: str = ""

    @property
    def cycles_by_tensor(self) -> dict[str, int]:
        """Vela's estimated NPU cycles per output tensor name (the per-layer CSV's Name column)."""
        cycles: dict[str, int] = {}
        for row in self.per_layer:
            if row.get("Target") == "NPU":
                name = row.get("Name", "")
                cycles[name] = cycles.get(name, 0) + int(float(row.get("Op Cycles") or 0))
        return cycles


def require_vela(what: str) -> str:
    """Vela's version; a one-line error when the optional package is missing."""
    try:
        from ethosu.vela import vela  # noqa: F401
        from ethosu.vela._version import __version__
    except ImportError:
        raise EdgecError(
            f"{what} needs Arm's Vela compiler: pip install 'edgec[ethosu]' (ethos-u-vela=={VELA_VERSION})"
        ) from None
    return str(__version__)


def vela_args(model: Path, npu: dict, out_dir: Path) -> list[str]:
    """Vela's command line for ``model`` with the target's ``[npu]`` settings, every one explicit."""
    return [
        str(model),
        "--accelerator-config", str(npu["accelerator"]),
        "--config", str(npu["config_file"]),
        "--system-config", str(npu["system_config"]),
        "--memory-mode", str(npu["memory_mode"]),
        "--verbose-performance",  # writes the per-layer CSV (estimated cycles per operator)
        "--output-dir", str(out_dir),
    ]  # fmt: skip


def run_vela(model_bytes: bytes, stem: str, npu: dict) -> VelaOutput:
    """Compile an int8 TFLite model with Vela; a Vela failure is a one-line BuildError."""
    version = require_vela("an Ethos-U target")
    from ethosu.vela import vela

    with tempfile.TemporaryDirectory(prefix="edgec-vela-") as tmp:
        tmp_dir = Path(tmp)
        model = tmp_dir / f"{stem}.tflite"
        model.write_bytes(model_bytes)
        out_dir = tmp_dir / "out"
        args = vela_args(model, npu, out_dir)
        log = io.StringIO()
        try:
            with _captured_fds(tmp_dir / "native.log") as native, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                rc = vela.main(args)
        except SystemExit as e:  # argparse rejects a setting
            raise BuildError(f"Vela rejected the settings {' '.join(args[1:-2])} (exit {e.code}): fix the target's [npu] table") from None
        except Exception as e:  # noqa: BLE001 - Vela raises RuntimeError, VelaError and others on models it cannot compile
            raise BuildError(f"Vela {version} failed: {_first_line(str(e)) or e.__class__.__name__}") from None
        text = log.getvalue() + native.read_text(errors="replace")
        optimized = out_dir / f"{stem}_vela.tflite"
        summaries = sorted(out_dir.glob(f"{stem}_summary_*.csv"))
        if rc not in (0, None) or not optimized.is_file() or not summaries:
            raise BuildError(f"Vela {version} produced no optimized model: {_first_line(text) or f'exit code {rc}'}")
        rows = list(csv.DictReader(summaries[0].read_text().splitlines()))
        per_layer_csv = out_dir / f"{stem}_per-layer.csv"
        per_layer = list(csv.DictReader(per_layer_csv.read_text().splitlines())) if per_layer_csv.is_file() else []
        return VelaOutput(
            version=version,
            args=[a if a != str(model) else model.name for a in args[:-2]],
            tflite=optimized.read_bytes(),
            summary=rows[0] if rows else {},
            per_layer=per_layer,
            fallbacks=parse_fallbacks(text),
            log=text,
        )


@contextlib.contextmanager
def _captured_fds(path: Path):
    """Send file descriptors 1 and 2 to ``path`` for the duration: Vela's native compiler (regor)
    prints its warnings there, past Python's sys.stdout."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield path
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().strip("'\"").strip()
        if line:
            return line.removeprefix("Error: ")
    return ""


_WARNING = re.compile(r"^Warning \(supported operators\) operator: (\S+), ofm: '(.*)'$")


def parse_fallbacks(log: str) -> list[Fallback]:
    """The CPU fallbacks Vela printed: a ``Warning (supported operators)`` line naming the operator and
    its output, then ``Reason: ...`` (the first line of the reason; the rest restates the rule)."""
    fallbacks = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        match = _WARNING.match(line.strip())
        if not match:
            continue
        reason = ""
        for follow in lines[i + 1 : i + 3]:
            if follow.strip().startswith("Reason:"):
                reason = follow.strip().removeprefix("Reason:").strip()
                break
        fallbacks.append(Fallback(match.group(1), match.group(2), reason or "not given by Vela"))
    return fallbacks
