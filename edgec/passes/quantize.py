"""Post-training int8 quantization: float graph -> int8 graph.

``quantize(graph, samples)`` calibrates activation ranges by running the float
reference over ``samples`` (see ``calibrate.py``) and rewrites the graph to the
int8 conventions of ``edgec.ir.ops``:

* weights of conv2d / fully_connected / transpose_conv2d (axis 0) and
  depthwise_conv2d (axis 3):
  int8 symmetric per-channel, ``scale = max|w| / 127`` (1.0 for an all-zero
  channel), values in [-127, 127];
* biases: int32, ``scale = input_scale * weight_scale``, zero point 0;
* activations: int8 per-tensor asymmetric from the observed range (always
  including 0), zero point nudged to an integer as TFLite's
  ``ChooseQuantizationParams`` does;
* prelu's alpha: int8 per-tensor symmetric, ``scale = max|alpha| / 127``
  (what the TFLite converter writes for PRELU);
* other float constants (e.g. the operand of an ``add``): int8 per-tensor
  asymmetric from their own range;
* outputs whose parameters TFLite's int8 kernels fix: pools, reshape,
  transpose, pad, resize_nearest, resize_bilinear, depth_to_space,
  space_to_depth (and identity/dropout) share their input's
  parameters; logistic and softmax use scale 1/256 and zero point -128; tanh
  and l2_normalization 1/128 and 0;
* concat: the output takes the observed range of the concatenation (which
  covers every input); each input whose parameters differ is requantized to
  the output's with an int8 -> int8 ``quantize`` node inserted before the
  concat, so the int8 concat itself is a plain copy;
* maximum/minimum: like concat (observed output range, inputs requantized to
  it), because TFLite's int8 MAXIMUM/MINIMUM compare raw values under one
  shared quantization;
* slice, gather and reduce_max share their input's parameters.

Graph inputs and outputs become int8 tensors carrying their float parameters:
callers quantize float data with the input's scale/zero point and dequantize
results with the output's.  Graphs with QuantizeLinear/DequantizeLinear nodes
(QDQ models) are lifted with ``edgec.passes.qdq.lift_qdq`` instead; only the
float ops lifting leaves (float islands) are calibrated, by
``edgec.passes.float_islands``.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError, UnsupportedError
from edgec.ir.graph import Graph, Node
from edgec.ir.tensor import Tensor
from edgec.passes.calibrate import make_observer, observe_ranges

NO_CALIB_WARNING = "no calibration data: accuracy is unknown; pass --calib"

INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

WEIGHT_AXIS = {"conv2d": 0, "depthwise_conv2d": 3, "fully_connected": 0, "transpose_conv2d": 0}
SHARED_PARAM_OPS = frozenset(
    {"max_pool2d", "avg_pool2d", "reshape", "transpose", "pad", "resize_nearest", "identity", "dropout"}
    | {"resize_bilinear", "depth_to_space", "space_to_depth"}
)
FIXED_OUTPUT_PARAMS = {
    "logistic": (1.0 / 256.0, -128),
    "softmax": (1.0 / 256.0, -128),
    "tanh": (1.0 / 128.0, 0),
    "l2_normalization": (1.0 / 128.0, 0),
}
OBSERVED_PARAM_OPS = frozenset(
    {"add", "sub", "mul", "mean", "relu", "relu6", "clip", "leaky_relu", "hard_swish", "concat"}
    | {"prelu", "squared_difference", "rsqrt"}
)
SHARED_PARAM_OPS = SHARED_PARAM_OPS | {"slice", "reduce_max", "gather"}
REQUANTIZED_INPUT_OPS = frozenset({"concat", "maximum", "minimum"})  # inputs take the output's parameters
OBSERVED_PARAM_OPS = OBSERVED_PARAM_OPS | REQUANTIZED_INPUT_OPS
INT8_OPS = frozenset(WEIGHT_AXIS) | SHARED_PARAM_OPS | frozenset(FIXED_OUTPUT_PARAMS) | OBSERVED_PARAM_OPS

RANDOM_SAMPLES = 16
RANDOM_INPUT_RANGE = (-1.0, 1.0)


# -- parameter arithmetic --------------------------------------------------------------------------


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (C ``round``, as TFLite's quantizer uses)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def choose_activation_params(lo: float, hi: float) -> tuple[float, int]:
    """Per-tensor asymmetric int8 (scale, zero_point) covering [lo, hi] (widened to include 0), zero point nudged."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1e-6  # an all-zero tensor: any positive scale represents it exactly
    scale = float(np.float32((hi - lo) / (INT8_MAX - INT8_MIN)))
    # Nudge: pick the zero point candidate (from lo or from hi) with the smaller error, as TFLite does.
    zp_from_lo = INT8_MIN - lo / scale
    zp_from_hi = INT8_MAX - hi / scale
    err_lo = abs(INT8_MIN) + abs(lo / scale)
    err_hi = abs(INT8_MAX) + abs(hi / scale)
    zp = zp_from_lo if err_lo < err_hi else zp_from_hi
    zp = int(np.clip(round_half_away(np.float64(zp)), INT8_MIN, INT8_MAX))
    return scale, zp


def quantize_weights_per_channel(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per-channel along ``axis``: returns (int8 data, float32 scales)."""
    w = np.asarray(w, dtype=np.float32)
    other = tuple(a for a in range(w.ndim) if a != axis)
    max_abs = np.max(np.abs(w), axis=other) if other else np.abs(w)
    scale = np.where(max_abs > 0, max_abs / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = round_half_away(w.astype(np.float64) / scale.reshape(shape).astype(np.float64))
    return np.clip(q, -127, 127).astype(np.int8), scale


def quantize_bias(b: np.ndarray, input_scale: float, weight_scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int32 bias with scale ``input_scale * weight_scale`` (per channel): returns (int32 data, float32 scales)."""
    scale = (np.float64(input_scale) * weight_scale.astype(np.float64)).astype(np.float32)
    q = round_half_away(np.asarray(b, dtype=np.float64) / scale.astype(np.float64))
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32), scale


def quantize_values(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Affine int8 quantization of real values (round half away from zero, saturating)."""
    q = round_half_away(np.asarray(x, dtype=np.float64) / np.float64(np.float32(scale))) + zero_point
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize_values(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return ((np.asarray(q, dtype=np.int64) - zero_point) * np.float32(scale)).astype(np.float32)


# -- the pass --------------------------------------------------------------------------------------


def has_qdq_nodes(graph: Graph) -> bool:
    return any(n.op in ("quantize", "dequantize") for n in graph.nodes)


def int8_support_problems(graph: Graph, nodes: list[Node]) -> list[str]:
    """One line per node of ``nodes`` that cannot be quantized to int8."""
    problems = [f"node {n.name!r} ({n.op}) has no int8 kernel" for n in nodes if n.op not in INT8_OPS]
    for n in nodes:
        if n.op in WEIGHT_AXIS and not _constant_weights(graph, n.inputs[1]):
            problems.append(f"node {n.name!r} ({n.op}) has non-constant weights {n.inputs[1]!r}")
    return problems


def _constant_weights(graph: Graph, name: str) -> bool:
    """A constant, or (in a QDQ graph) the dequantization of one."""
    if graph.tensors[name].is_const:
        return True
    producer = graph.producer(name)
    return producer is not None and producer.op == "dequantize" and graph.tensors[producer.inputs[0]].is_const


def check_int8_support(graph: Graph) -> None:
    """Raise UnsupportedError listing every node whose op has no int8 path."""
    problems = int8_support_problems(graph, graph.nodes)
    if problems:
        raise UnsupportedError(problems, source=f"int8 quantization of {graph.name!r}")
    bad_inputs = [i for i in graph.inputs if graph.tensors[i].dtype != "float32"]
    if bad_inputs:
        raise EdgecError(f"cannot quantize: inputs {bad_inputs} are not float32 — only float inputs can be calibrated")


def random_samples(graph: Graph, count: int = RANDOM_SAMPLES, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Seeded uniform inputs in RANDOM_INPUT_RANGE, used when the user gives no calibration data."""
    rng = np.random.default_rng(seed)
    lo, hi = RANDOM_INPUT_RANGE
    names = [n for n in graph.inputs if not graph.tensors[n].is_const]
    return [
        {n: rng.uniform(lo, hi, size=graph.tensors[n].shape).astype(np.float32) for n in names} for _ in range(count)
    ]


def quantize(
    graph: Graph,
    samples: list[dict[str, np.ndarray]] | None,
    observer: str = "minmax",
    percentile: float = 99.99,
    seed: int = 0,
) -> tuple[Graph, list[str]]:
    """Post-training quantize a float graph to int8; returns (int8 graph, warnings)."""
    if has_qdq_nodes(graph):
        from edgec.passes.float_islands import quantize_float_islands
        from edgec.passes.qdq import lift_qdq

        return quantize_float_islands(lift_qdq(graph), samples, observer, percentile, seed)
    if not graph.is_float():
        return graph.copy(), []
    check_int8_support(graph)
    obs = make_observer(observer, percentile, seed)
    warnings: list[str] = []
    if not samples:
        samples = random_samples(graph, seed=seed)
        warnings.append(NO_CALIB_WARNING)
    ranges = observe_ranges(graph, samples, obs)
    qgraph = Int8Rewriter(graph, ranges).rewrite()
    io_dtypes = qgraph.meta.setdefault("io_dtypes", {})
    for name in qgraph.inputs + qgraph.outputs:
        io_dtypes.setdefault(name, "float32")  # the user-facing dtype (see passes/io_boundary.py)
    qgraph.meta["quantization"] = {
        "observer": observer,
        "percentile": percentile if observer == "percentile" else None,
        "samples": len(samples),
        "calibrated": not warnings,
    }
    return qgraph.verify(), warnings


class Int8Rewriter:
    """Rewrites one float graph to int8 given the observed activation ranges."""

    def __init__(self, graph: Graph, ranges: dict[str, tuple[float, float]]) -> None:
        self.src = graph
        self.ranges = ranges
        self.out = graph.copy()
        self.nodes: list[Node] = []
        self._const_versions: dict[tuple, str] = {}  # (source const, role) -> quantized tensor name

    def rewrite(self) -> Graph:
        for name in self.out.inputs:
            self._set_activation(name, *choose_activation_params(*self.ranges[name]))
        for node in self.out.nodes:
            self._rewrite_node(node)
        self.out.nodes = self.nodes
        return self.out.prune_tensors()

    # -- tensors -----------------------------------------------------------------------------------
    def _set_activation(self, name: str, scale: float, zero_point: int) -> None:
        t = self.out.tensors[name]
        t.dtype = "int8"
        t.scale = np.array([scale], dtype=np.float32)
        t.zero_point = np.array([zero_point], dtype=np.int64)
        t.axis = None

    def _params(self, name: str) -> tuple[float, int]:
        t = self.out.tensors[name]
        return t.qscale, t.qzero

    def _new_const(self, source: str, role: tuple, make) -> str:
        """The name of the quantized version of const ``source`` for ``role``; created by ``make(name)`` once."""
        key = (source, role)
        if key in self._const_versions:
            return self._const_versions[key]
        taken = set(self._const_versions.values())
        name = source if source not in taken else self.out.unique_name(f"{source}_q")
        tensor = make(name)
        self.out.tensors[name] = tensor
        self._const_versions[key] = name
        return name

    def _weight(self, source: str, axis: int) -> str:
        def make(name: str) -> Tensor:
            data, scale = quantize_weights_per_channel(self.src.tensors[source].data, axis)
            return Tensor(name, data.shape, "int8", data, scale, 0, axis)

        return self._new_const(source, ("weight", axis), make)

    def _bias(self, source: str, input_scale: float, weight_scale: np.ndarray) -> str:
        def make(name: str) -> Tensor:
            data, scale = quantize_bias(self.src.tensors[source].data, input_scale, weight_scale)
            return Tensor(name, data.shape, "int32", data, scale, 0, 0 if scale.size > 1 else None)

        role = ("bias", np.float32(input_scale).item(), weight_scale.tobytes())
        return self._new_const(source, role, make)

    def _operand(self, source: str) -> str:
        """A float constant used as an activation operand: int8 per-tensor from its own range."""

        def make(name: str) -> Tensor:
            data = self.src.tensors[source].data
            scale, zp = choose_activation_params(float(np.min(data)), float(np.max(data)))
            return Tensor(name, data.shape, "int8", quantize_values(data, scale, zp), scale, zp)

        return self._new_const(source, ("operand",), make)

    def _symmetric_operand(self, source: str) -> str:
        """A float constant quantized int8 per-tensor symmetric (zero point 0, ``scale = max|x| / 127``)."""

        def make(name: str) -> Tensor:
            data = self.src.tensors[source].data
            q, scale = quantize_weights_per_channel(np.asarray(data).reshape(1, -1), 0)
            return Tensor(name, data.shape, "int8", q.reshape(data.shape), scale, 0)

        return self._new_const(source, ("symmetric",), make)

    # -- nodes -------------------------------------------------------------------------------------
    def _rewrite_node(self, node: Node) -> None:
        src_tensors = self.src.tensors
        for i, name in enumerate(node.inputs):
            if not name or not src_tensors[name].is_const or src_tensors[name].dtype != "float32":
                continue
            if node.op in WEIGHT_AXIS and i == 1:
                node.inputs[i] = self._weight(name, WEIGHT_AXIS[node.op])
            elif node.op in WEIGHT_AXIS and i == 2:
                weight_scale = self.out.tensors[node.inputs[1]].scale
                node.inputs[i] = self._bias(name, self._params(node.inputs[0])[0], weight_scale)
            elif node.op == "prelu" and i == 1:
                node.inputs[i] = self._symmetric_operand(name)
            else:
                node.inputs[i] = self._operand(name)
        if node.op in REQUANTIZED_INPUT_OPS:
            self._requantize_concat_inputs(node)
        out = node.outputs[0]
        if node.op in SHARED_PARAM_OPS:
            self._set_activation(out, *self._params(node.inputs[0]))
        elif node.op in FIXED_OUTPUT_PARAMS:
            self._set_activation(out, *FIXED_OUTPUT_PARAMS[node.op])
        elif node.op not in REQUANTIZED_INPUT_OPS:
            self._set_activation(out, *choose_activation_params(*self.ranges[out]))
        self.nodes.append(node)

    def _requantize_concat_inputs(self, node: Node) -> None:
        out = node.outputs[0]
        params = choose_activation_params(*self.ranges[out])
        self._set_activation(out, *params)
        for i, name in enumerate(node.inputs):
            if self._params(name) == params:
                continue
            req = self.out.unique_name(f"{name}_requant")
            self.out.add_tensor(Tensor(req, self.out.tensors[name].shape, "int8"))
            self._set_activation(req, *params)
            self.nodes.append(Node(f"{node.name}_requant{i}", "quantize", [name], [req]))
            node.inputs[i] = req
