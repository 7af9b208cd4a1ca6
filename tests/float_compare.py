"""Float comparisons that hold on any CPU.

A float sum depends on the order of its terms, and that order changes with the BLAS
build, the SIMD width, the thread count and the memory alignment.  So float results are
compared with one error bound relative to the reference's range (its largest magnitude),
never element by element (``rtol``, which fails on an element that cancelled to nearly
zero) nor in absolute units that ignore how large the values are.  Integers (int8 outputs,
integer-valued floats whose sums are exact) are compared exactly instead.

Bounds used in the suite: ``1e-6`` for element-wise ops, ``1e-5`` for one op that sums,
``1e-4`` for chains of ops.  A real bug (a wrong offset, a clobbered buffer, a missing
halo row) moves outputs by a sizeable fraction of the range.
"""

from __future__ import annotations

import numpy as np


def range_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """The largest difference, as a fraction of the largest magnitude in ``expected``."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if expected.size == 0:
        return 0.0
    scale = float(np.max(np.abs(expected)))
    return float(np.max(np.abs(actual - expected))) / (scale if scale > 0 else 1.0)


def assert_close(actual: np.ndarray, expected: np.ndarray, rel: float, what: str = "") -> None:
    """``actual`` equals ``expected`` up to ``rel`` times the largest magnitude of ``expected``."""
    err = range_error(actual, expected)
    assert err <= rel, f"{what}: max error {err:.3g} of the output range exceeds {rel:g}".lstrip(": ")
