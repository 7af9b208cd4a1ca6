"""The C int8 kernels compiled for Cortex-M targets, bit for bit against their numpy twins in QEMU.

The same vectors as tests/test_c_kernels.py (tests/kernels/gen_vectors.py, expected
outputs from edgec.reference.int8_kernels) run through tests/kernels/run_vectors.c
built with each target's CPU flags and executed by QEMU with semihosting
(tests/qemu_vectors.py): qemu-cortex-m4 (Armv7E-M: DSP instructions) and
qemu-cortex-m55 (Armv8.1-M: Helium/MVE), where the harness calls the MVE
variants (conv 1x1, conv, depthwise, in-place depthwise, add) and the MVE
vector requantization in place of the portable kernels
(tests/kernels/vectors_mve.h).  One QEMU run per
target checks every vector; each op is its own test so a failure names the op
and the target.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import qemu_vectors
from test_c_kernels import GEN, OPS

TARGETS = ["qemu-cortex-m4", "qemu-cortex-m55"]

pytestmark = pytest.mark.skipif(qemu_vectors.tools_missing() is not None, reason=str(qemu_vectors.tools_missing()))


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    path = tmp_path_factory.mktemp("qemu_kernel_vectors") / qemu_vectors.VECTORS_NAME
    gen = subprocess.run([sys.executable, str(GEN), str(path)], capture_output=True, text=True, check=False)
    assert gen.returncode == 0, f"vector generation failed:\n{gen.stdout}\n{gen.stderr}"
    return path


@pytest.fixture(scope="module")
def results(tmp_path_factory, vectors):
    """{target: {op: result lines}} from one QEMU run per target."""
    out = {}
    for target in TARGETS:
        build = tmp_path_factory.mktemp(f"harness_{target}")
        elf = qemu_vectors.build_harness(target, build)
        out[target] = qemu_vectors.run_harness(elf, target, vectors)
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("op", OPS)
def test_kernel_matches_numpy_twin_in_qemu(results, target, op):
    lines = results[target].get(op, [])
    assert lines, f"no test vectors ran for {op} on {target}"
    failures = [line for line in lines if line.startswith("FAIL")]
    assert not failures, f"{len(failures)} of {len(lines)} {op} cases differ on {target}:\n" + "\n".join(failures)


@pytest.mark.parametrize("target", TARGETS)
def test_harness_ran_every_case_in_qemu(results, target):
    summary, rc = results[target]["__summary__"]
    unknown = set(results[target]) - set(OPS) - {"__summary__"}
    assert not unknown, f"ops without a test here: {sorted(unknown)}"
    assert rc == "0", f"harness exit code {rc} on {target}: {summary}"
