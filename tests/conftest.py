"""Suite-wide pytest configuration: how `make test` spreads the tests over workers.

`make test` runs the suite on two pytest-xdist workers (``-n 2``).  Tests are handed
out one at a time, except in the modules below: their tests share module-scoped
fixtures that build something once (host builds, firmware, a compiled kernel harness,
a virtualenv), so each of these modules runs whole on one worker instead of building
the same things on both.  (xdist's own ``--dist loadgroup`` would do this with marks,
but it does not group under pytest 9, so the scheduler is chosen here.)

Every test writes only under its own ``tmp_path`` / ``tmp_path_factory`` folders, and
``models/build`` is written atomically, so workers never share an output path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Modules whose tests share an expensive module-scoped fixture.
SHARED_FIXTURE_MODULES = frozenset(
    {
        "test_c_kernels.py",  # the C harness, built with cmake once
        "test_cli.py",  # a host build of ds_cnn
        "test_device_hil.py",  # stub firmware for four targets
        "test_host_e2e.py",  # host builds of every bundled model, shared by several tests each
        "test_install.py",  # the sdist, the wheel and a fresh virtualenv
        "test_patch_e2e.py",  # auto-scheduled host builds, the reference for the forced-grid builds
        "test_row_stream.py",  # host builds of two bundled models
    }
)


def work_unit(nodeid: str) -> str:
    """The unit a worker runs whole: the module for the modules above, else the test itself."""
    module = nodeid.split("::", 1)[0]
    return module if Path(module).name in SHARED_FIXTURE_MODULES else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "load":  # an explicit --dist choice wins
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        """LoadScopeScheduling with ``work_unit`` as the scope; the largest units start first."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SharedFixtureScheduling(config, log)
