"""Every bundled int8 TFLite model: edgec's reference interpreter is bit-exact with LiteRT BUILTIN_REF.

The oracle is LiteRT with ``OpResolverType.BUILTIN_REF`` (TFLite's reference
kernels).  Inputs are seeded random int8 tensors; every output element must be
equal, and so must every intermediate tensor LiteRT keeps under the same name
(a stronger check than the final scores alone).  On a mismatch the
message names the first op whose output differs and by how much.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from edgec.frontends.tflite import load_tflite
from edgec.ir.graph import Graph
from edgec.reference import run

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "tflite"
BUNDLED = sorted(MODEL_DIR.glob("*.tflite")) + sorted((MODEL_DIR / "ops").glob("*.tflite"))
INPUTS_PER_MODEL = 10
# The 224x224 MobileNetV2 (300M MACs) is slow in numpy: fewer inputs keep the suite short.
FEWER_INPUTS = {"mobilenet_v2_w1.0_r224": 5}


def reference_litert(path: Path) -> Interpreter:
    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    return interpreter


def invoke(interpreter: Interpreter, x: np.ndarray) -> np.ndarray:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def first_divergence(graph: Graph, env: dict[str, np.ndarray], interpreter: Interpreter) -> str | None:
    """Describe the first node whose output differs from LiteRT's tensor of the same name, or None."""
    by_name = {d["name"]: d["index"] for d in interpreter.get_tensor_details()}
    for node in graph.nodes:
        for out in node.outputs:
            if out not in by_name:
                continue
            expected, got = interpreter.get_tensor(by_name[out]), env[out]
            if got.shape != expected.shape:
                return f"node {node.name!r} ({node.op}): shape {got.shape} != {expected.shape}"
            if np.array_equal(got, expected):
                continue
            diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
            return (
                f"first differing node {node.name!r} ({node.op}, attrs {node.attrs}): "
                f"{int(np.count_nonzero(diff))}/{diff.size} elements differ, max |diff| {diff.max():g}"
            )
    return None


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bit_exact_with_litert_reference(path: Path):
    """Every intermediate tensor and the output equal LiteRT's, element for element."""
    graph = load_tflite(path)
    interpreter = reference_litert(path)
    (name,) = graph.inputs
    (output,) = graph.outputs
    spec = graph.tensors[name]
    rng = np.random.default_rng(2024)
    for i in range(FEWER_INPUTS.get(path.stem, INPUTS_PER_MODEL)):
        if spec.dtype == "int8":
            x = rng.integers(-128, 128, spec.shape, dtype=np.int8)
        else:  # float-I/O model: the graph quantizes the input itself
            x = rng.uniform(-1.5, 1.5, spec.shape).astype(np.float32)
        expected = invoke(interpreter, x)
        env = run(graph, x, keep=True)
        got = env[output]
        assert got.dtype == expected.dtype and got.shape == expected.shape
        if not np.array_equal(got, expected) or first_divergence(graph, env, interpreter):
            diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
            pytest.fail(
                f"{path.stem} input {i}: {int(np.count_nonzero(diff))}/{diff.size} output elements differ "
                f"(max |diff| {diff.max():g}); {first_divergence(graph, env, interpreter)}"
            )
