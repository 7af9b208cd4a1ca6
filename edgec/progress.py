"""Progress feedback on stderr for steps that take a while."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Progress:
    """Prints ``step ... done (1.2 s)`` lines to stderr; silent when ``quiet``."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet


    def note(self, message: str) -> None:
        if not self.quiet:
            print(f"  {message}", file=sys.stderr, flush=True)

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        start = time.monotonic()
        if not self.quiet:
            print(f"- {message} ...", file=sys.stderr, end="", flush=True)
        try:
            yield
        except BaseException:
            if not self.quiet:
                print(" failed", file=sys.stderr, flush=True)
            raise
        if not self.quiet:
            print(f" done ({time.monotonic() - start:.1f} s)", file=sys.stderr, flush=True)

    def __call__(self, message: str) -> None:
        self.note(message)


QUIET = Progress(quiet=True)


def terminal_progress(quiet: bool = False) -> Progress:
    """Progress on stderr when it is a terminal (or EDGEC_PROGRESS=1); silent in pipes, so errors stay one line."""
    import os

    shown = sys.stderr.isatty() or os.environ.get("EDGEC_PROGRESS") == "1"
    return Progress(quiet=quiet or not shown)
