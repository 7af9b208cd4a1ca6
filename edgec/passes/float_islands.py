"""Quantize the float islands that QDQ lifting leaves, post-training, as float models are.

onnxruntime's static quantizer wraps only the ops it has a QDQ rule for.  An
op without one (HardSwish, ReduceMean, ...) stays float between a
DequantizeLinear and a QuantizeLinear, and onnxruntime runs it in float.  After
``lift_qdq`` such a *float island* is still float, e.g.

    x_q -> dequantize -> hard_swish -> mean -> reshape -> quantize -> y_q

edgec's kernels are int8 only, so ``quantize_float_islands`` quantizes each
island with the calibration machinery float models use
(``edgec.passes.calibrate``):

1. run the mixed graph (int8 ops on the int8 reference, island ops on the float
   reference) over the calibration samples and observe the range of every
   island tensor;
2. give every island tensor whose int8 parameters are free (the output of a
   weighted op or of an ``OBSERVED_PARAM_OPS`` op) a quantize -> dequantize pair
   with parameters chosen from its observed range (``choose_activation_params``)
   -- unless a model ``quantize`` already reads it (directly or through
   reshape/transpose): that tensor keeps the parameters the QDQ model fixed;
3. lift the graph again (``lift_qdq``): every island op now sits between a
   dequantize and a quantize and becomes an int8 op under the same rules as the
   rest of the model (weights keep their int8 data, shared/fixed output
   parameters for pools, reshape, logistic, ...).

The island boundary keeps the QDQ model's parameters: its inputs are the int8
tensors its dequantize nodes read, and its outputs take the parameters of the
model's quantize nodes.  Without calibration data the island is calibrated on
seeded random inputs -- uniform int8 codes for an int8 input, i.e. uniform over
the real range the QDQ model's own calibration gave it -- and
``NO_CALIB_WARNING`` says so.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError, UnsupportedError
from edgec.ir.graph import Graph, Node
from edgec.ir.tensor import Tensor
from edgec.passes.calibrate import make_observer, observe_ranges
from edgec.passes.qdq import lift_qdq, quantize_reader_params
from edgec.passes.quantize import (
    NO_CALIB_WARNING,
    OBSERVED_PARAM_OPS,
    WEIGHT_AXIS,
    choose_activation_params,
    int8_support_problems,
    quantize_values,
    random_samples,
)

QDQ_OPS = ("quantize", "dequantize")
FREE_PARAM_OPS = frozenset(WEIGHT_AXIS) | OBSERVED_PARAM_OPS  # int8 output parameters come from the range


def float_island_nodes(graph: Graph) -> list[Node]:
    """The nodes (other than quantize/dequantize) that compute in float."""
    return [
        n
        for n in graph.nodes
        if n.op not in QDQ_OPS and any(graph.tensors[o].dtype == "float32" for o in n.outputs)
    ]


def quantize_float_islands(
    graph: Graph,
    samples: list[dict[str, np.ndarray]] | None,
    observer: str = "minmax",
    percentile: float = 99.99,
    seed: int = 0,
) -> tuple[Graph, list[str]]:
    """Quantize the float islands of a lifted QDQ graph; returns (int8 graph, warnings).

    ``samples`` hold float arrays, one per graph input; when they are keyed by
    other names (the source model's, which lifting renames) they are matched
    to the inputs by position.
    """
    island = float_island_nodes(graph)
    if not island:
        return graph, []
    problems = int8_support_problems(graph, island)
    if problems:
        raise UnsupportedError(problems, source=f"int8 quantization of the float ops of {graph.name!r}")
    warnings: list[str] = []
    if samples:
        feeds = [_feed(graph, s) for s in samples]
    else:
        feeds = _random_feeds(graph, seed)
        warnings.append(NO_CALIB_WARNING)
    ranges = observe_ranges(graph, feeds, make_observer(observer, percentile, seed))
    g = graph.copy()
    pairs = _insert_qdq_pairs(g, island, ranges)
    lifted = lift_qdq(g)
    left = float_island_nodes(lifted)
    if left:
        raise UnsupportedError(
            [f"node {n.name!r} ({n.op}) cannot be made int8" for n in left],
            source=f"int8 quantization of the float ops of {graph.name!r}",
        )
    lifted.meta["quantization"] = {
        "observer": observer,
        "percentile": percentile if observer == "percentile" else None,
        "samples": len(feeds),
        "calibrated": not warnings,
        "float_island_ops": len(island),
        "island_tensors_calibrated": pairs,
    }
    return lifted.verify(), warnings


def _feed(graph: Graph, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One calibration sample as the graph takes it: int8 inputs quantized with their parameters."""
    names = list(graph.inputs)
    if set(sample) != set(names):
        if len(sample) != len(names):
            raise EdgecError(
                f"calibration sample has {len(sample)} input(s) {sorted(sample)}, the model {len(names)}: {names}"
            )
        sample = dict(zip(names, sample.values()))  # source-model names, in input order
    feed = {}
    for name in names:
        t = graph.tensors[name]
        x = np.asarray(sample[name], dtype=np.float32).reshape(t.shape)
        feed[name] = quantize_values(x, t.qscale, t.qzero) if t.dtype == "int8" else x
    return feed


def _random_feeds(graph: Graph, seed: int) -> list[dict[str, np.ndarray]]:
    """Seeded stand-in samples: uniform int8 codes for int8 inputs (the range the QDQ model's own
    calibration fixed), uniform ``random_samples`` values for float inputs (as float models get)."""
    rng = np.random.default_rng(seed)
    feeds = random_samples(graph, seed=seed)
    for feed in feeds:
        for name in graph.inputs:
            if graph.tensors[name].dtype == "int8":
                feed[name] = rng.integers(-128, 128, size=graph.tensors[name].shape, dtype=np.int8)
    return feeds


def _insert_qdq_pairs(g: Graph, island: list[Node], ranges: dict[str, tuple[float, float]]) -> int:
    """Add quantize -> dequantize after each free-parameter island tensor no model quantize reads."""
    consumers = g.consumer_map()
    todo = [o for n in island if n.op in FREE_PARAM_OPS for o in n.outputs]
    todo += [i for i in g.inputs if g.tensors[i].dtype == "float32" and consumers.get(i)]
    pairs = 0
    for name in todo:
        if quantize_reader_params(g, consumers, name) is not None:
            continue
        _insert_pair(g, name, choose_activation_params(*ranges[name]))
        pairs += 1
    return pairs


def _insert_pair(g: Graph, name: str, params: tuple[float, int]) -> None:
    t = g.tensors[name]
    q_name, dq_name = g.unique_name(f"{name}_island_q"), g.unique_name(f"{name}_island_dq")
    g.add_tensor(Tensor(q_name, t.shape, "int8", scale=params[0], zero_point=params[1]))
    g.add_tensor(Tensor(dq_name, t.shape, "float32"))
    for node in g.nodes:
        node.inputs = [dq_name if i == name else i for i in node.inputs]
    g.outputs = [dq_name if o == name else o for o in g.outputs]
    quant = Node(_free_node_name(g, f"{name}/island_quantize"), "quantize", [name], [q_name])
    dequant = Node(_free_node_name(g, f"{name}/island_dequantize"), "dequantize", [q_name], [dq_name])
    producer = g.producer(name)
    at = g.nodes.index(producer) + 1 if producer is not None else 0
    g.nodes[at:at] = [quant, dequant]


def _free_node_name(g: Graph, base: str) -> str:
    taken = {n.name for n in g.nodes}
    name, i = base, 1
    while name in taken:
        name = f"{base}_{i}"
        i += 1
    return name

