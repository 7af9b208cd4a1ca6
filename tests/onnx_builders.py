"""Small helpers to build ONNX test graphs and compare edgec against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgec.ir.graph import Graph

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


def make_model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple],
    outputs: list[str],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 13,
    input_types: dict[str, int] | None = None,
) -> onnx.ModelProto:
    """A model from ``nodes``; inputs float32 (unless typed in ``input_types``), outputs of any shape."""
    types = input_types or {}
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(n, types.get(n, TensorProto.FLOAT), list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)


def rng_weights(seed: int, *shape: int, scale: float = 0.5) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def run_edgec(graph: Graph, feeds_nchw: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``graph`` on ONNX-layout feeds; return outputs in ONNX layout."""
    from edgec.reference import run

    layouts = graph.meta.get("layouts", {})
    feeds = {k: np.ascontiguousarray(v.transpose(NCHW_TO_NHWC)) if layouts.get(k) == "NCHW" else v for k, v in feeds_nchw.items()}
    outs = run(graph, feeds)
    return [outs[o].transpose(NHWC_TO_NCHW) if layouts.get(o) == "NCHW" else outs[o] for o in graph.outputs]


def random_feeds(model: onnx.ModelProto, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def max_error_vs_range(expected: np.ndarray, actual: np.ndarray) -> float:
    """max |expected - actual| divided by the range of ``expected`` (or 1 when the range is tiny)."""
    assert expected.shape == actual.shape, (expected.shape, actual.shape)
    spread = float(np.ptp(expected)) if expected.size > 1 else 0.0
    return float(np.max(np.abs(expected.astype(np.float64) - actual))) / (spread if spread > 1e-6 else 1.0)


def assert_matches_onnxruntime(model: onnx.ModelProto, graph: Graph, seeds=(0,), tol: float = 1e-4) -> None:
    for seed in seeds:
        feeds = random_feeds(model, seed)
        expected = run_onnxruntime(model, feeds)
        actual = run_edgec(graph, feeds)
        assert len(expected) == len(actual)
        for e, a in zip(expected, actual):
            err = max_error_vs_range(e, a)
            assert err <= tol, f"seed {seed}: max error {err:.3g} of output range exceeds {tol}"
