"""Suite-wide pytest configuration: how `make test` spreads the tests over workers.

`make test` runs the suite on two pytest-xdist workers (``-n 2``).  Tests are handed
out in work units: a unit is one test, except in the modules below, whose tests share
module-scoped fixtures that build something once (host builds, firmware, a compiled
kernel harness, a virtualenv).  Each of those modules runs whole on one worker instead
of building the same things on both; in the modules whose cache holds one build per
model (``test_corpus.py``, ``test_tvm_models.py``) the tests of one model run together,
so their models spread over both workers.  (xdist's own ``--dist loadgroup`` would do
this with marks, but it does not group under pytest 9, so the scheduler is chosen here.)

Units are handed out longest first (``UNIT_SECONDS``, measured; other units by their
test count), so that no long unit starts last and leaves one worker running alone.

Every test writes only under its own ``tmp_path`` / ``tmp_path_factory`` folders, and
``models/build`` is written atomically, so workers never share an output path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

# Modules whose tests share an expensive module-scoped fixture.
SHARED_FIXTURE_MODULES = frozenset(
    {
        "test_c_kernels.py",  # the C harness, built with cmake once
        "test_c_kernels_qemu.py",  # the C harness built for two Cortex-M targets, one QEMU run each
        "test_c_kernels_subbyte.py",  # the packed sub-byte harness, built once
        "test_cli.py",  # a host build of ds_cnn
        "test_device_hil.py",  # stub firmware for four targets
        "test_ethosu.py",  # op_zoo built for the Ethos-U55 and its Vela partition, shared by several tests
        "test_host_e2e.py",  # host builds of every bundled model, shared by several tests each
        "test_install.py",  # the sdist, the wheel and a fresh virtualenv
        "test_kernel_variants.py",  # resnet8 host builds with DSP variants, shared by several tests
        "test_mixed_build.py",  # one --precision mixed build read by several tests
        "test_mixed_e2e.py",  # the lowered fixture net and its hand-made mixed variant
        "test_mixed_grid.py",  # the fixture net's stage statistics, shared by its grid tests
        "test_mixed_search.py",  # calibration statistics of one patch stage
        "test_patch_e2e.py",  # auto-scheduled host builds, the reference for the forced-grid builds
        "test_profile_variants.py",  # two QEMU builds of ds_cnn (DSP and portable kernels), profiled once each
        "test_row_stream.py",  # host builds of two bundled models
        "test_tvm_cuda.py",  # the GPU-scheduled op kernels, shared by the source and ptxas tests
        "test_tvm_deploy.py",  # ds_cnn built for host-tvm and qemu-aarch64
        "test_tvm_tuning.py",  # one MetaSchedule run, shared by the record and replay tests
        "test_validate.py",  # a host build of the fashion CNN
    }
)
# Modules whose module-scoped cache holds one build per model: the model is the test parameter's
# id up to its first "-" (model names hold none; "tflite:ds_cnn-host-tvm" -> "tflite:ds_cnn").
SHARED_PER_MODEL_MODULES = frozenset({"test_corpus.py", "test_tvm_models.py"})

# The longest units, by the seconds they took (junit times) in one run of the whole suite on the
# 2-core machine while two other jobs ran (load 4-5; only the order matters).  Keys are unit
# prefixes.  Units not listed are short: they follow these, ordered by test count.
HIL = "tests/test_hil_models.py::test_model_bit_exact_on_device"
UNIT_SECONDS = {
    "tests/test_patch_e2e.py": 231,
    "tests/test_host_e2e.py": 152,
    f"{HIL}[onnx:mobilenet_v2_w1.0_r224": 96,
    "tests/test_install.py": 89,
    "tests/test_tvm_models.py[tflite:mobilenet_v2_w1.0_r224]": 84,
    "tests/test_tvm_models.py[tflite:mobilenet_v2_w0.35_r96]": 76,
    "tests/test_tvm_models.py[tflite:mobilenet_v1_w0.25_r96]": 62,
    "tests/test_tvm_deploy.py": 56,
    "tests/test_c_kernels.py": 52,
    "tests/test_tvm_models.py[tflite:mcunet]": 47,
    f"{HIL}[tflite:mobilenet_v2_w1.0_r224": 45,
    "tests/test_tvm_models.py[onnx:mobilenet_v2_w0.35_r144]": 40,
    f"{HIL}[onnx:mobilenet_v2_w0.35_r144": 28,
    f"{HIL}[onnx:mcunet": 28,
    "tests/test_c_kernels_qemu.py": 26,
    "tests/test_tvm_tuning.py": 25,
}


def work_unit(nodeid: str) -> str:
    """The unit a worker runs whole: a module or a module's model for the modules above, else the test."""
    module = nodeid.split("::", 1)[0]
    name = Path(module).name
    if name in SHARED_FIXTURE_MODULES:
        return module
    if name in SHARED_PER_MODEL_MODULES and nodeid.endswith("]"):
        param = nodeid[nodeid.index("[") + 1 : -1]
        return f"{module}[{param.split('-', 1)[0]}]"
    return nodeid


def unit_seconds(unit: str) -> float:
    """The measured time of ``unit`` where ``UNIT_SECONDS`` lists it (by prefix), else 0."""
    return max((s for key, s in UNIT_SECONDS.items() if unit.startswith(key)), default=0)


# Firmware builds link their kernels from edgec's kernel cache (edgec/kernel_archive.py).  The suite
# gets a cache of its own, shared by the xdist workers (they inherit the controller's environment)
# and removed at the end: a run starts cold, as on a fresh machine, and leaves nothing in ~/.cache.
_OWN_CACHE: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _OWN_CACHE
    if "EDGEC_CACHE_DIR" not in os.environ:
        _OWN_CACHE = Path(tempfile.gettempdir()) / f"edgec-test-cache-{uuid.uuid4().hex[:12]}"
        os.environ["EDGEC_CACHE_DIR"] = str(_OWN_CACHE)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "load":  # an explicit --dist choice wins
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        """LoadScopeScheduling with ``work_unit`` as the scope; the longest units start first."""

        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self.ordered:  # xdist queued the units by test count; put the measured long ones first
                units = sorted(self.workqueue.items(), key=lambda item: -unit_seconds(item[0]))
                self.workqueue.clear()
                self.workqueue.update(units)
                self.ordered = True
            super()._assign_work_unit(node)

    return SharedFixtureScheduling(config, log)
