"""Plain-text tables and byte formatting for the command line."""

from __future__ import annotations

from collections.abc import Sequence


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """Render rows as an aligned text table; columns in ``right`` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def shorten(name: str, limit: int = 44, keep_end: bool = True) -> str:
    """A long model name cut to ``limit`` characters for a table or a comment."""
    if len(name) <= limit:
        return name
    return "..." + name[-(limit - 3) :] if keep_end else name[: limit - 3] + "..."


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)
