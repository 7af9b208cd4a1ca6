"""CUDA code generation for the TVM back end (edgec/codegen/tvm/cuda.py): every kernel gets GPU
threads and a device module, and the source compiles for the Jetson Orin's sm_87 with nvcc + ptxas.

There is no GPU here: these tests check code generation and compilation, not GPU results
(the kernels are the CPU kernels' integer TIR, scheduled differently).
"""

from __future__ import annotations

import numpy as np
import pytest

tvm = pytest.importorskip("tvm", reason="TVM is an optional extra (pip install edgec[tvm])")

from edgec.codegen.tvm import cuda
from edgec.errors import BuildError
from tests import test_tvm_schedules as ops

NO_TOOLS = "nvcc/ptxas not installed here: CUDA source is generated but not compiled"


@pytest.fixture(scope="module")
def op_funcs():
    rng = np.random.default_rng(0)
    cases = {
        "conv3x3": ops.conv_case(rng, *ops.CONV_CASES["3x3_s2_asym"]),
        "conv1x1": ops.conv_case(rng, *ops.CONV_CASES["1x1_ci24_co40"]),
        "depthwise": ops.conv_case(rng, *ops.DW_CASES["3x3_s2"], depthwise=True),
        "fc": ops.fc_case(rng, 64, 10),
        "maxpool": ops.pool_case(rng, 9, 9, 32, 3, 2, (0, 0, 1, 1)),
    }
    return {f"edgec_{name}": case[0] for name, case in cases.items()}


@pytest.fixture(scope="module")
def op_source(op_funcs):
    target = cuda.cuda_target()
    return cuda.cuda_source(cuda.schedule_gpu(cuda.kernels_module(op_funcs), target), target)


def test_every_kernel_becomes_a_cuda_kernel(op_funcs, op_source):
    assert op_source.count("__global__") >= len(op_funcs)
    for name in op_funcs:
        assert f"{name}_kernel" in op_source


def test_unscheduled_kernels_are_refused(op_funcs):
    """Without a GPU schedule TVM would silently emit host code: the check must catch it."""
    unscheduled = cuda.kernels_module({"edgec_fc": op_funcs["edgec_fc"]})
    assert not any(cuda._has_threads(f) for f in unscheduled.functions.values())
    with pytest.raises(BuildError, match="no CUDA device module"):
        cuda.cuda_source(unscheduled, cuda.cuda_target())


@pytest.mark.skipif(cuda.cuda_tools() is None, reason=NO_TOOLS)
def test_op_kernels_compile_for_sm87(op_source, tmp_path):
    paths = cuda.compile_ptx(op_source, tmp_path)
    assert ".target sm_87" in paths["ptx"].read_text()
    assert paths["cubin"].stat().st_size > 0


@pytest.mark.skipif(cuda.cuda_tools() is None, reason=NO_TOOLS)
def test_bad_cuda_is_one_line_error(tmp_path):
    from edgec.errors import EdgecError

    with pytest.raises(EdgecError, match="rejected the CUDA code for sm_87") as info:
        cuda.compile_ptx('extern "C" __global__ void k() { undefined_thing(); }', tmp_path)
    assert "\n" not in str(info.value)


def test_build_hook_schedules_each_kernel_for_the_gpu(op_funcs):
    """FAST_SCHEDULES (the build's hook table) gives CUDA targets a device schedule for every op kind."""
    from types import SimpleNamespace

    from tvm import s_tir

    from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

    target = cuda.cuda_target()
    kinds = {"edgec_conv3x3": "conv2d", "edgec_depthwise": "depthwise_conv2d", "edgec_maxpool": "softmax"}
    for name, kind in kinds.items():
        sch = s_tir.Schedule(op_funcs[name])
        FAST_SCHEDULES.get(kind, FAST_SCHEDULES["*"])(sch, SimpleNamespace(func=name, kind=kind, macs=0), target)
        assert cuda._has_threads(sch.mod["main"]), name


@pytest.mark.skipif(cuda.cuda_tools() is None, reason=NO_TOOLS)
def test_resnet8_kernels_compile_for_sm87(tmp_path):
    """A whole bundled model: its softmax (a chain of fixed-point stages that must not be inlined:
    inlined, its expression grew past 20 GB) and its adds (int64 rounding that TVM's GPU pipeline
    narrows to int32: a 63-bit shift was rejected) become CUDA kernels that ptxas assembles."""
    from pathlib import Path

    from edgec.codegen.tvm import lower_graph
    from edgec.frontends.tflite import load_tflite

    program = lower_graph(load_tflite(Path(__file__).parents[1] / "models" / "tflite" / "resnet8.tflite"))
    kinds = {call.kind for call in program.calls if call.func}
    assert {"softmax", "add", "conv2d"} <= kinds
    target = cuda.cuda_target()
    source = cuda.cuda_source(cuda.schedule_gpu(cuda.kernels_module(program.funcs), target), target)
    for name in program.funcs:
        assert f"{name}_kernel" in source
    paths = cuda.compile_ptx(source, tmp_path)
    assert paths["cubin"].stat().st_size > 0
