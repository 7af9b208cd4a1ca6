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

# The units over about a minute, by the seconds they took with --durations in one run of the whole
# suite on the 2-core machine while other jobs ran (about 3x an idle machine; only the order matters).
# Keys are unit prefixes.  Units not listed are short: they follow these, ordered by test count.
HIL = "tests/test_hil_models.py::test_model_bit_exact_on_device"
UNIT_SECONDS = {
    "tests/test_patch_e2e.py": 520,
    "tests/test_tvm_tuning.py": 100,
    "tests/test_tvm_models.py[tflite:mobilenet_v2_w0.35_r96]": 225,
    "tests/test_host_e2e.py": 215,
    "tests/test_tvm_models.py[tflite:mobilenet_v2_w1.0_r224]": 200,
    "tests/test_install.py": 165,
    f"{HIL}[tflite:mobilenet_v2_w1.0_r224": 150,
    "tests/test_tvm_deploy.py": 140,
    "tests/test_tvm_models.py[tflite:mobilenet_v1_w0.25_r96]": 125,
    f"{HIL}[onnx:mobilenet_v2_w1.0_r224": 120,
    "tests/test_tvm_models.py[tflite:mcunet]": 113,
    "tests/test_kernel_variants.py": 110,
    "tests/test_tvm_models.py[onnx:mobilenet_v2_w0.35_r144]": 93,
    "tests/test_c_kernels.py": 85,
    "tests/test_tvm_models.py[corpus:keras_mobilenet_int8]": 82,
    "tests/test_cli.py": 78,
    "tests/test_tvm_models.py[onnx:mcunet]": 75,
    "tests/test_tvm_models.py[tflite:resnet8]": 70,
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
