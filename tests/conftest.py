"""Suite-wide pytest configuration: how `make test` spreads the tests over workers.

`make test` runs the suite on two pytest-xdist workers (``-n 2``).  Tests are handed
out one at a time, except in the modules below: their tests share module-scoped
fixtures that build something once (host builds, firmware, a compiled kernel harness,
a virtualenv), so each of these modules runs whole on one worker instead of building
the same things on both; in ``test_corpus.py``, whose cache holds one build per corpus
model, the tests of one model run together.  (xdist's own ``--dist loadgroup`` would do this with marks,
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
        "test_c_kernels_qemu.py",  # the C harness built for two Cortex-M targets, one QEMU run each
        "test_cli.py",  # a host build of ds_cnn
        "test_device_hil.py",  # stub firmware for four targets
        "test_ethosu.py",  # op_zoo built for the Ethos-U55 and its Vela partition, shared by several tests
        "test_host_e2e.py",  # host builds of every bundled model, shared by several tests each
        "test_install.py",  # the sdist, the wheel and a fresh virtualenv
        "test_kernel_variants.py",  # resnet8 host builds with DSP variants, shared by several tests
        "test_patch_e2e.py",  # auto-scheduled host builds, the reference for the forced-grid builds
        "test_profile_variants.py",  # two QEMU builds of ds_cnn (DSP and portable kernels), profiled once each
        "test_row_stream.py",  # host builds of two bundled models
        "test_tvm_deploy.py",  # ds_cnn built for host-tvm and qemu-aarch64
        "test_tvm_tuning.py",  # one MetaSchedule run, shared by the record and replay tests
        "test_tvm_models.py",  # every bundled model built for host-tvm and qemu-aarch64, one reference per model
    }
)
# Modules whose module-scoped cache holds one build per test parameter (a model name).
SHARED_PER_PARAMETER_MODULES = frozenset({"test_corpus.py"})


def work_unit(nodeid: str) -> str:
    """The unit a worker runs whole: a module or a module's parameter for the modules above, else the test."""
    module = nodeid.split("::", 1)[0]
    name = Path(module).name
    if name in SHARED_FIXTURE_MODULES:
        return module
    if name in SHARED_PER_PARAMETER_MODULES and nodeid.endswith("]"):
        return module + nodeid[nodeid.index("[") :]
    return nodeid


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
