"""A small conv net with a mixed-precision patch stage, made by hand, and its patch-wise reference.

Used by tests/test_mixed_e2e.py (host and QEMU) and bench/mixed_stage.py.  The
int8 graph comes from a seeded float ONNX model (3 input channels, odd channel
counts 5 and 7 inside the stage, 3x3 convs with padding, a stride-2 conv, a
depthwise conv, a max pool and a residual add); the mixed variant gives the
stage feature maps 4 or 2 bits with scales that span each map's int8 range.
``reference_outputs`` computes what a mixed build must output, patch by patch:
the shared prefix in int8, the classification of the patch's region of the
test tensor, the rest of the stage in the int8 or the mixed graph, then the
rest of the network in int8 (the oracle is the numpy int8 reference kernels).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from onnx import helper

from edgec.ir import Graph
from edgec.mixed.plan import MixedPrecision, OutlierTest
from edgec.mixed.subbyte import qrange
from edgec.schedule.patch import Window, run_windowed_op
from tests.onnx_builders import make_model, rng_weights

ROOT = Path(__file__).resolve().parents[1]
SPLIT = "conv_split"
TEST_TENSOR_OP = "conv_a"  # its output is the outlier-test tensor (8-bit, shared prefix)
# stage feature map (by producing op) -> bits in the mixed variant
BITS = {"dw_b": 4, "conv_c": 4, "conv_d": 2, "pool_e": 2, "conv_f": 4, "add_g": 4}


def onnx_model():
    nodes, inits = [], {}

    def conv(name, x, cin, cout, k, stride=1, pad=None, group=1, relu=True, seed=0):
        pad = k // 2 if pad is None else pad
        inits[f"{name}_w"] = rng_weights(seed, cout, cin // group, k, k, scale=0.4)
        inits[f"{name}_b"] = rng_weights(seed + 100, cout, scale=0.1)
        out = name if not relu else f"{name}_pre"
        nodes.append(
            helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [out], name=name, kernel_shape=[k, k],
                             strides=[stride, stride], pads=[pad] * 4, group=group)
        )  # fmt: skip
        if relu:
            nodes.append(helper.make_node("Relu", [out], [name], name=f"{name}_relu"))
        return name

    a = conv("conv_a", "x", 3, 8, 3, seed=1)
    b = conv("dw_b", a, 8, 8, 3, group=8, seed=2)
    c = conv("conv_c", b, 8, 5, 1, seed=3)
    d = conv("conv_d", c, 5, 7, 3, stride=2, seed=4)
    nodes.append(
        helper.make_node("MaxPool", [d], ["pool_e"], name="pool_e", kernel_shape=[3, 3], pads=[1] * 4, strides=[1, 1])
    )
    f = conv("conv_f", "pool_e", 7, 7, 1, relu=False, seed=5)
    nodes.append(helper.make_node("Add", ["pool_e", f], ["add_g"], name="add_g"))
    conv("conv_split", "add_g", 7, 8, 3, seed=6)
    conv("conv_h", "conv_split", 8, 6, 3, stride=2, seed=7)
    nodes.append(helper.make_node("GlobalAveragePool", ["conv_h"], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat"))
    inits["fc_w"] = rng_weights(8, 6, 4)
    inits["fc_b"] = rng_weights(9, 4, scale=0.1)
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc"))
    return make_model(nodes, {"x": (1, 3, 20, 20)}, ["y"], inits)


def write_model(folder: Path) -> tuple[Path, Path]:
    """The ONNX model and seeded calibration data in ``folder``."""
    import onnx

    model, calib = folder / "mixed_net.onnx", folder / "mixed_net_calib.npy"
    onnx.save(onnx_model(), model)
    np.save(calib, np.random.default_rng(5).uniform(-1, 1, size=(8, 3, 20, 20)).astype(np.float32))
    return model, calib


def tensor_of(graph: Graph, op_prefix: str) -> str:
    """The output tensor of the node whose name starts with ``op_prefix`` (the last such: after fusion
    the relu's output carries the conv's activation)."""
    names = [n.outputs[0] for n in graph.nodes if n.name.startswith(op_prefix)]
    assert names, f"no node named {op_prefix}* in {[n.name for n in graph.nodes]}"
    return names[-1]


def _narrow(t, bits: int) -> None:
    """Requantize tensor ``t`` to ``bits``: same real range as its int8 range, new scale and zero point."""
    lo8, hi8 = -128, 127
    s, zp = t.qscale, t.qzero
    real_lo, real_hi = (lo8 - zp) * s, (hi8 - zp) * s
    lo, hi = qrange(bits)
    scale = (real_hi - real_lo) / (hi - lo)
    t.scale = np.asarray([scale], dtype=np.float32)
    t.zero_point = np.asarray([int(np.clip(round(lo - real_lo / scale), lo, hi))], dtype=np.int64)
    t.bits = bits


def mixed_variant(graph: Graph, stage, lo: int, hi: int) -> MixedPrecision:
    """The hand-made MixedPrecision of the stage: ``BITS``, test tensor conv_a's output at [lo, hi]."""
    mgraph = copy.deepcopy(graph)
    bits = {t: 8 for n in stage.nodes for t in graph.node(n).outputs}
    old_scales = {
        name: t.qscale for name, t in graph.tensors.items() if t.is_quantized and not t.is_const and not t.per_channel
    }
    for op, b in BITS.items():
        name = tensor_of(graph, op)
        assert name in bits, f"{name} is not a stage feature map"
        bits[name] = b
        _narrow(mgraph.tensors[name], b)
    pool_in, pool_out = tensor_of(graph, "conv_d"), tensor_of(graph, "pool_e")
    for attr in ("scale", "zero_point", "bits"):  # max pool: input and output share their quantization
        setattr(mgraph.tensors[pool_out], attr, copy.deepcopy(getattr(mgraph.tensors[pool_in], attr)))
    for node in mgraph.nodes:  # biases follow their input's new scale
        if node.op in ("conv2d", "depthwise_conv2d") and len(node.inputs) > 2 and node.inputs[2]:
            x, bias = node.inputs[0], mgraph.tensors[node.inputs[2]]
            ratio = old_scales[x] / mgraph.tensors[x].qscale
            if ratio != 1.0:
                data = np.round(np.asarray(bias.data, dtype=np.float64) * ratio)
                bias.data = np.clip(data, -(2**31), 2**31 - 1).astype(np.int32)
                if bias.scale is not None:
                    bias.scale = (np.asarray(bias.scale, dtype=np.float64) / ratio).astype(np.float32)
    test = OutlierTest(tensor_of(graph, TEST_TENSOR_OP), lo, hi)
    return MixedPrecision(
        graph=mgraph, bits=bits, outlier_test=test, outlier_patch_fraction=0.0, mixed_lambda=0.5, search_seconds=0.0
    )


def prefix_of(graph: Graph, stage, tensor: str) -> list[str]:
    producer = graph.producer(tensor)
    return (
        stage.nodes[: stage.nodes.index(producer.name) + 1]
        if producer is not None and producer.name in stage.nodes
        else []
    )


def reference_outputs(graph: Graph, stage, mixed: MixedPrecision, x: np.ndarray) -> tuple[np.ndarray, list[bool]]:
    """The model output of a mixed build on int8 ``x`` (NHWC) and each patch's class (True: outlier)."""
    from edgec.reference.interpreter import INT_KERNELS, _load_kernels

    _load_kernels()
    env = {n: t.data for n, t in graph.tensors.items() if t.is_const}
    env[graph.inputs[0]] = x
    test = mixed.outlier_test
    prefix = set(prefix_of(graph, stage, test.tensor))
    split = np.zeros(graph.tensors[stage.split].shape, dtype=np.int8)
    classes = []
    for patch in stage.patches:
        buffers = {
            name: (env[name], Window(0, graph.tensors[name].shape[1], 0, graph.tensors[name].shape[2]))
            for name in stage.inputs
        }

        def read(name, win, buffers=buffers):
            array, region = buffers[name]
            rel = win.relative_to(region)
            return array[:, rel.h0 : rel.h1, rel.w0 : rel.w1, :]

        outlier = None
        for op in patch.ops:
            if outlier is None and op.node not in prefix:
                win = patch.regions.get(test.tensor)
                values = None if win is None or win.empty else read(test.tensor, win)
                outlier = bool(values is not None and values.size and ((values < test.lo) | (values > test.hi)).any())
            g = graph if op.node in prefix or outlier else mixed.graph
            node = g.node(op.node)
            buffers[node.outputs[0]] = (run_windowed_op(g, node, op, read).astype(np.int8), op.output)
        classes.append(bool(outlier))
        array, region = buffers[stage.split]
        rel = patch.output.relative_to(region)
        o = patch.output
        split[:, o.h0 : o.h1, o.w0 : o.w1, :] = array[:, rel.h0 : rel.h1, rel.w0 : rel.w1, :]
    env[stage.split] = split
    for node in graph.nodes:
        if node.name in stage.nodes:
            continue
        result = INT_KERNELS[node.op](graph, node, [env[i] if i else None for i in node.inputs])
        for name, value in zip(node.outputs, result if isinstance(result, (list, tuple)) else [result]):
            env[name] = np.asarray(value).astype(graph.tensors[name].dtype, copy=False)
    return env[graph.outputs[0]], classes
