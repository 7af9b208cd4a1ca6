"""The TVM back end's lowering (edgec/codegen/tvm): bit-exact with the numpy int8 reference.

* One fixture model per int8 op (tests/fixtures/ops, the models whose reference
  outputs equal LiteRT BUILTIN_REF in test_int8_kernels.py) is lowered to TE,
  compiled for the host and run in-process through the TVM runtime on seeded
  random inputs plus the saturating extremes: every output byte must equal the
  reference interpreter's.
* A bundled model goes the whole way: kernels.o + shim + model.c linked with
  the unchanged host runner (runtime/host/main.c) by gcc, no TVM runtime, on
  5 seeded inputs.
* resnet8 (residual adds, softmax) in-process on 5 seeded inputs.
* A model with ops the back end lacks fails with one BuildError naming them all.

TVM is an optional extra: without it the module is skipped (stated reason).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

tvm = pytest.importorskip("tvm", reason="TVM is not installed (pip install edgec[tvm])")

from edgec.codegen.tvm import compile_program, lower_graph, run_program, write_sources
from edgec.errors import BuildError
from edgec.frontends.tflite import load_tflite
from edgec.ir.graph import Graph
from edgec.lowering import lower_model
from edgec.reference import run
from edgec.resources import RUNTIME_DIR

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "ops"
# One fixture per op family (several ops each for the mixes).
OP_FIXTURES = [
    "conv3x3_s2_same",
    "conv3x3_groups2",
    "conv3x3_dilation2",
    "dw5x5_m2_s2_same_relu",
    "dense_relu",
    "add_broadcast_relu",
    "sub",
    "mul_broadcast_relu6",
    "avgpool3x3_s2_same_relu6",
    "maxpool3x3_s2_same",
    "mean_hw",
    "requantize",
    "relu6",
    "leaky_relu",
    "logistic",
    "tanh",
    "hard_swish",
    "softmax_3d",
    "pad_constant",
    "concat",
    "resize_nearest_odd",
    "resize_bilinear_half_pixel_odd",
    "strided_slice_reverse",
    "ops_b_mix2",
    "gather_channels",
    "transpose_conv3x3_s2_same",
    "prelu_channel",
    "depth_to_space",
    "space_to_depth",
    "squared_difference_broadcast",
    "rsqrt",
    "l2_normalization",
]
GCC = shutil.which("gcc")


def _inputs(graph: Graph, seed: int, count: int) -> list[dict[str, np.ndarray]]:
    """Saturated extremes first, then seeded uniform int8."""
    rng = np.random.default_rng(seed)
    feeds = []
    for k in range(count):
        feed = {}
        for name in graph.inputs:
            shape = graph.tensors[name].shape
            if k == 0:
                feed[name] = np.full(shape, 127, np.int8)
            elif k == 1:
                feed[name] = np.full(shape, -128, np.int8)
            else:
                feed[name] = rng.integers(-128, 128, size=shape, dtype=np.int8)
        feeds.append(feed)
    return feeds


def _assert_equal(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    diff = np.flatnonzero(got.astype(np.int32) != expected.astype(np.int32))
    assert diff.size == 0, (
        f"{what}: {diff.size}/{got.size} elements differ, first at {diff[:5]}: "
        f"TVM {got.ravel()[diff[:5]]} vs reference {expected.ravel()[diff[:5]]}"
    )


@pytest.mark.parametrize("fixture", OP_FIXTURES)
def test_op_bit_exact_with_reference(fixture: str) -> None:
    graph = load_tflite(FIXTURES / f"{fixture}.tflite")
    program = lower_graph(graph)
    module = compile_program(program)
    for k, feed in enumerate(_inputs(graph, sum(map(ord, fixture)), 4)):
        expected = run(graph, feed)[graph.outputs[0]]
        got = run_program(program, module, feed)
        _assert_equal(got, expected, f"{fixture} input {k}")


def test_every_op_of_the_c_back_end_lowers() -> None:
    """Every int8 op the C back end emits has a TE lowering (the Ethos-U segment call is not a kernel)."""
    from edgec.codegen.ethosu.glue import NPU_OP  # registers its emitter, whatever ran before on this worker
    from edgec.codegen.op_emitters import EMITTERS
    from edgec.codegen.tvm.te_ops import LOWERINGS

    assert NPU_OP in EMITTERS
    missing = sorted(set(EMITTERS) - set(LOWERINGS) - {NPU_OP})
    assert missing == []


def test_fused_epilogue_is_one_kernel() -> None:
    """conv -> requantize: one kernel, the intermediate never stored, same bytes as unfused."""
    graph = load_tflite(FIXTURES / "conv3x3_s1_same_relu.tflite")
    conv = graph.nodes[0]
    mid = conv.outputs[0]
    out = graph.unique_name("requantized")
    from edgec.ir.tensor import Tensor

    t = graph.tensors[mid]
    graph.add_tensor(Tensor(out, t.shape, "int8", scale=t.scale * 2, zero_point=t.zero_point))
    graph.add_node("quantize", [mid], [out], name="requant")
    graph.outputs = [out]
    graph.verify()
    fused = lower_graph(graph)
    assert [c.ops for c in fused.calls] == [["conv2d", "quantize"]]
    unfused = lower_graph(graph, fuse=False)
    assert len(unfused.calls) == 2
    m_fused, m_unfused = compile_program(fused), compile_program(unfused)
    for feed in _inputs(graph, 5, 3):
        expected = run(graph, feed)[out]
        _assert_equal(run_program(fused, m_fused, feed), expected, "fused")
        _assert_equal(run_program(unfused, m_unfused, feed), expected, "unfused")


def test_missing_ops_are_listed_in_one_error() -> None:
    graph = load_tflite(FIXTURES / "relu.tflite")
    node = graph.nodes[0]
    node.op = "dequantize"
    graph.nodes.append(node.copy())
    graph.nodes[-1].name = "second"
    graph.nodes[-1].op = "batch_norm"
    with pytest.raises(BuildError) as err:
        lower_graph(graph)
    message = str(err.value)
    assert "\n" not in message
    assert "dequantize" in message and "batch_norm" in message


@pytest.fixture(scope="module")
def ds_cnn_build(tmp_path_factory):
    """ds_cnn (bundled int8 TFLite) compiled to kernels.o and linked with the host runner by gcc."""
    if GCC is None:
        pytest.skip("gcc is not installed: cannot link the C driver")
    lowered = lower_model(REPO / "models" / "tflite" / "ds_cnn.tflite")
    program = lower_graph(lowered.graph)
    module = compile_program(program)
    src = tmp_path_factory.mktemp("ds_cnn_tvm")
    paths = write_sources(program, module, src, lowered.model_hash)
    sources = [p for p in paths if p.suffix in (".c", ".o")]
    exe = src / "edgec_model"
    subprocess.run(
        [GCC, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(src), "-o", str(exe), *map(str, sources),
         str(RUNTIME_DIR / "host" / "main.c"), "-lpthread", "-lm"],
        check=True,
    )
    return lowered.graph, program, exe, src, module


def test_object_needs_no_tvm_runtime(ds_cnn_build) -> None:
    _, _, _, src, _ = ds_cnn_build
    undefined = subprocess.run(["nm", "-u", str(src / "kernels.o")], capture_output=True, text=True, check=True).stdout.split()
    tvm_symbols = {s for s in undefined if "TVM" in s}
    assert tvm_symbols <= {"TVMFFIErrorSetRaisedFromCStrParts", "TVMBackendAllocWorkspace", "TVMBackendFreeWorkspace",
                           "TVMBackendParallelLaunch", "TVMBackendParallelBarrier"}


def test_linked_model_bit_exact_on_five_inputs(ds_cnn_build, tmp_path) -> None:
    graph, _, exe, _, _ = ds_cnn_build
    rng = np.random.default_rng(12)
    x_name, y_name = graph.inputs[0], graph.outputs[0]
    for k in range(5):
        x = rng.integers(-128, 128, size=graph.tensors[x_name].shape, dtype=np.int8)
        (tmp_path / "in.bin").write_bytes(x.tobytes())
        subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True, timeout=60)
        got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(graph.tensors[y_name].shape)
        _assert_equal(got, run(graph, {x_name: x})[y_name], f"ds_cnn input {k}")


def test_in_process_run_matches_linked_run(ds_cnn_build, tmp_path) -> None:
    """The packed functions called one by one (the RPC path) give the linked executable's bytes."""
    graph, program, exe, _, module = ds_cnn_build
    x = np.random.default_rng(3).integers(-128, 128, size=graph.tensors[graph.inputs[0]].shape, dtype=np.int8)
    (tmp_path / "in.bin").write_bytes(x.tobytes())
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True, timeout=60)
    linked = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8)
    _assert_equal(run_program(program, module, x).reshape(-1), linked, "in-process vs linked")


# conv shapes of the VNNI lowering: 1x1, odd widths, strides 2 with odd and SAME padding, 5x5 (and
# with 2 input channels: adjacent taps in one group),
# a fused activation; groups and dilation keep the plain lowering
VNNI_CONV_FIXTURES = [
    "conv1x1_s1",
    "conv1x5_valid",
    "conv3x3_s1_same_relu",
    "conv3x3_s2_valid_odd",
    "conv5x5_s2_same_relu6",
    "conv5x5_s1_valid",
    "conv3x3_groups2",
    "conv3x3_dilation2",
    # fully connected layers as packed u8 x s8 dot products (te_ops._fully_connected_vnni), and the
    # residual add's rescalings as requant_x86's one-rounding op
    "dense",
    "dense_relu",
    "add",
    "add_broadcast_relu",
    "add_relu6_scalar_like",
]


def _vnni_host():
    from edgec.codegen.tvm.x86_dot import has_vnni
    from edgec.deploy.tvm_env import resolve_target_dict

    target = tvm.target.Target(resolve_target_dict({"kind": "llvm", "mcpu": "native"}))
    if not has_vnni(target):
        pytest.skip("this CPU has no AVX-512 VNNI: the VNNI lowering is not compiled here")
    return target


@pytest.mark.parametrize("fixture", VNNI_CONV_FIXTURES)
def test_vnni_conv_lowering_bit_exact(fixture: str) -> None:
    """Convolutions lowered for VNNI (flipped uint8 input, packed weights, the 128*sum(w) in the bias),
    scheduled with the fast schedules for this CPU: every output byte equals the reference's."""
    from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

    target = _vnni_host()
    graph = load_tflite(FIXTURES / f"{fixture}.tflite")
    program = lower_graph(graph, vnni=True)
    module = compile_program(program, target, FAST_SCHEDULES)
    for k, feed in enumerate(_inputs(graph, sum(map(ord, fixture)), 4)):
        _assert_equal(run_program(program, module, feed), run(graph, feed)[graph.outputs[0]], f"{fixture} input {k}")


# shapes of the VNNI forms that are not in the fixtures above, with the intrinsic each must use:
# depthwise as int16 tap pairs (te_ops._depthwise_pairs, one vpdpwssd per two taps): strides 1
# and 2, 3x3 and 5x5 (an odd tap count: a zero weight pads the last pair), odd widths, 16, 24 and
# 32 channels (16- and 8-lane tiles), symmetric and asymmetric padding; convolutions of 1 or 2
# input channels with adjacent taps in one vpdpbusd (te_ops._conv2d_vnni_taps): strides 1 and 2,
# a tap count not a multiple of the group (zero weights), padding on every side
VNNI_SHAPE_CASES = {
    "dw3x3_s1_c16": ("depthwise_conv2d", 7, 9, 16, 3, 3, 1, (1, 1, 1, 1), "vpdpwssd"),
    "dw5x5_s2_c24": ("depthwise_conv2d", 11, 10, 24, 5, 5, 2, (1, 2, 2, 1), "vpdpwssd"),
    "dw3x3_s2_c32": ("depthwise_conv2d", 9, 7, 32, 3, 3, 2, (0, 0, 1, 1), "vpdpwssd"),
    "conv10x4_ci1_s2": ("conv2d", 13, 10, 1, 10, 4, 2, (4, 1, 5, 1), "vpdpbusd"),
    "conv3x3_ci2_s1": ("conv2d", 6, 7, 2, 3, 3, 1, (1, 1, 1, 1), "vpdpbusd"),
    # a 1x1 convolution whose unpadded flipped copy has 24 channels per pixel (copied 8 bytes at a time)
    "conv1x1_ci24": ("conv2d", 5, 7, 24, 1, 1, 1, (0, 0, 0, 0), "vpdpbusd"),
}


def _conv_graph(rng, op, h, w, ci, kh, kw, stride, pad) -> Graph:
    """One int8 conv2d (16 output channels) or depthwise conv (multiplier 1) with per-channel weight
    scales and a bias."""
    from edgec.ir.tensor import Tensor

    co = 16 if op == "conv2d" else ci
    oh, ow = (h + pad[0] + pad[2] - kh) // stride + 1, (w + pad[1] + pad[3] - kw) // stride + 1
    shape, axis = ((co, kh, kw, ci), 0) if op == "conv2d" else ((1, kh, kw, co), 3)
    w_scale = rng.uniform(0.002, 0.02, co).astype(np.float32)
    g = Graph(op)
    g.add_tensor(Tensor("x", (1, h, w, ci), "int8", scale=0.05, zero_point=int(rng.integers(-20, 20))))
    g.add_tensor(Tensor("y", (1, oh, ow, co), "int8", scale=0.3, zero_point=int(rng.integers(-10, 10))))
    g.add_const("w", rng.integers(-127, 128, shape).astype(np.int8), scale=w_scale, zero_point=0, axis=axis)
    g.add_const("b", rng.integers(-3000, 3000, co).astype(np.int32), scale=0.05 * w_scale, zero_point=0, axis=0)
    g.add_node(op, ["x", "w", "b"], ["y"], stride=(stride, stride), pad=pad)
    g.inputs, g.outputs = ["x"], ["y"]
    return g.verify()


@pytest.mark.parametrize("case", sorted(VNNI_SHAPE_CASES))
def test_vnni_forms_bit_exact(case: str) -> None:
    """Depthwise convolutions as int16 tap pairs and 1-2 channel convolutions with grouped taps,
    scheduled with the fast schedules for this CPU: the VNNI intrinsic is used and every output
    byte equals the reference's."""
    from edgec.codegen.tvm.build import scheduled_module
    from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

    target = _vnni_host()
    rng = np.random.default_rng(sum(map(ord, case)))
    *shape, instruction = VNNI_SHAPE_CASES[case]
    graph = _conv_graph(rng, *shape)
    program = lower_graph(graph, vnni=True)
    assert instruction in scheduled_module(program, target, FAST_SCHEDULES).script()
    module = compile_program(program, target, FAST_SCHEDULES)
    for k in range(3):
        x = rng.integers(-128, 128, size=graph.tensors["x"].shape, dtype=np.int8)
        _assert_equal(run_program(program, module, x), run(graph, {"x": x})["y"], f"{case} input {k}")


@pytest.mark.parametrize("case", sorted(c for c in VNNI_SHAPE_CASES if c.startswith("dw")))
def test_paired_depthwise_in_row_bands_bit_exact(case: str, monkeypatch) -> None:
    """The paired depthwise with its paired input computed per band of output rows (forced here by a
    tiny ``PAIR_BAND_BYTES``; in the bundled models the large stride-2 layers take this form): the
    rows two bands share are computed twice, every output byte equals the reference's."""
    from edgec.codegen.tvm import schedules_cpu
    from edgec.codegen.tvm.build import scheduled_module
    from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

    target = _vnni_host()
    monkeypatch.setattr(schedules_cpu, "PAIR_BAND_BYTES", 1024)
    rng = np.random.default_rng(sum(map(ord, case)) + 1)
    *shape, _ = VNNI_SHAPE_CASES[case]
    graph = _conv_graph(rng, *shape)
    program = lower_graph(graph, vnni=True)
    script = scheduled_module(program, target, FAST_SCHEDULES).script()
    assert "vpdpwssd" in script
    module = compile_program(program, target, FAST_SCHEDULES)
    for k in range(3):
        x = rng.integers(-128, 128, size=graph.tensors["x"].shape, dtype=np.int8)
        _assert_equal(run_program(program, module, x), run(graph, {"x": x})["y"], f"{case} banded, input {k}")


def test_pair_band_rows() -> None:
    from edgec.codegen.tvm.schedules_cpu import PAIR_BAND_BYTES, pair_band_rows

    assert pair_band_rows(56, 58, 3, 1024) == 56  # fits: one band
    row = PAIR_BAND_BYTES // 10
    assert pair_band_rows(56, 58, 3, row) == 8  # stride 1: 8 rows need 10 padded rows
    assert pair_band_rows(56, 113, 3, row) == 4  # stride 2: 4 rows need 9
    assert pair_band_rows(7, 9, 3, PAIR_BAND_BYTES) == 1  # not even one band fits: one row at a time


@pytest.mark.parametrize("vnni", [False, True], ids=["plain", "vnni"])
def test_resnet8_bit_exact_in_process(vnni: bool) -> None:
    """A bundled int8 model with residual adds and a softmax, 5 seeded inputs, kernels called one by one
    (``vnni``: lowered for VNNI and compiled with the fast schedules for this CPU)."""
    graph = lower_model(REPO / "models" / "tflite" / "resnet8.tflite").graph
    program = lower_graph(graph, vnni=vnni)
    if vnni:
        from edgec.codegen.tvm.fast_schedules import FAST_SCHEDULES

        module = compile_program(program, _vnni_host(), FAST_SCHEDULES)
    else:
        module = compile_program(program)
    rng = np.random.default_rng(8)
    x_name, y_name = graph.inputs[0], graph.outputs[0]
    for k in range(5):
        x = rng.integers(-128, 128, size=graph.tensors[x_name].shape, dtype=np.int8)
        _assert_equal(run_program(program, module, x), run(graph, {x_name: x})[y_name], f"resnet8 input {k}")


def test_exported_shared_library_runs_kernel_by_kernel(tmp_path) -> None:
    """The RPC path's form: the module exported as a shared library, loaded back, kernels called one by one."""
    graph = load_tflite(FIXTURES / "ops_b_mix.tflite")
    program = lower_graph(graph)
    compile_program(program).export_library(str(tmp_path / "kernels.so"))
    library = tvm.runtime.load_module(str(tmp_path / "kernels.so"))
    for k, feed in enumerate(_inputs(graph, 21, 3)):
        _assert_equal(run_program(program, library, feed), run(graph, feed)[graph.outputs[0]], f"ops_b_mix input {k}")
