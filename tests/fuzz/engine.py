"""Run a harness on inputs and sort outcomes into clean results and crashes.

``check(harness, data)`` runs one input under a time limit and returns None
(success or a clean one-line ``EdgecError``) or a ``Crash``.  ``mutation_run``
is the seeded, deterministic loop used by ``make test`` and by
``bench/fuzz.py --engine mutate``: seeds first, then mutations of them.
Crashes are deduplicated by exception type and location (the innermost frame
in edgec, else the innermost frame).
"""

from __future__ import annotations

import random
import signal
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError
from tests.fuzz.harnesses import Harness
from tests.fuzz.mutate import mutate

EDGEC_DIR = Path(__file__).resolve().parents[2] / "edgec"
REPO_DIR = EDGEC_DIR.parent
INPUT_TIME_LIMIT_S = 5.0


class InputTimeout(BaseException):
    """One input ran longer than INPUT_TIME_LIMIT_S (a hang)."""


@dataclass
class Crash:
    kind: str  # exception type name
    location: str  # path:line (function)
    message: str
    data: bytes = field(repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.location


@dataclass
class RunResult:
    harness: str
    executions: int = 0
    seconds: float = 0.0
    crashes: dict[tuple[str, str], Crash] = field(default_factory=dict)

    def add(self, crash: Crash | None) -> None:
        if crash is not None and crash.key not in self.crashes:
            self.crashes[crash.key] = crash


def _location(tb) -> str:
    frames = traceback.extract_tb(tb)
    if not frames:
        return "?"
    ours = [f for f in frames if Path(f.filename).resolve().is_relative_to(EDGEC_DIR)]
    frame = (ours or frames)[-1]
    path = Path(frame.filename).resolve()
    shown = path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path.name
    return f"{shown}:{frame.lineno} ({frame.name})"


def _type_name(e: BaseException) -> str:
    kind = type(e)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _on_alarm(signum, frame):
    raise InputTimeout("the input ran past its time limit")


def check(harness: Harness, data: bytes, time_limit: float | None = INPUT_TIME_LIMIT_S) -> Crash | None:
    """Run ``harness`` on ``data``: None if it ended well, else the Crash (time_limit None: no alarm)."""
    if time_limit is not None:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        # numpy warnings (overflow in a cast, invalid value) mean a reader let bad data through.
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", RuntimeWarning)
            harness.target(data)
    except EdgecError as e:
        message = str(e)
        if not message.strip() or "\n" in message:
            return Crash("MultiLineEdgecError", _location(e.__traceback__), message[:300], data)
        return None
    except (Exception, InputTimeout) as e:  # noqa: BLE001 - every other exception is what we look for
        return Crash(_type_name(e), _location(e.__traceback__), str(e).splitlines()[0][:300] if str(e) else "", data)
    finally:
        if time_limit is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return None


def mutation_run(
    harness: Harness, seed: int = 0, executions: int | None = None, seconds: float | None = None
) -> RunResult:
    """Seeds, then seeded mutations of them, until ``executions`` or ``seconds`` is reached."""
    rng = random.Random(seed)
    seeds = harness.seeds()
    result = RunResult(harness.name)
    start = time.monotonic()

    def done() -> bool:
        if executions is not None and result.executions >= executions:
            return True
        return seconds is not None and time.monotonic() - start >= seconds

    queue = list(seeds)
    while not done():
        data = queue.pop(0) if queue else mutate(rng, rng.choice(seeds), seeds)
        result.add(check(harness, data))
        result.executions += 1
    result.seconds = time.monotonic() - start
    return result
