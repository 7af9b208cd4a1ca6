"""Lift QDQ models (QuantizeLinear/DequantizeLinear around float ops) to int8 ops.

The ONNX frontend translates QuantizeLinear into ``quantize`` (float -> int8)
and DequantizeLinear into ``dequantize`` (int -> float), including the
dequantization of constant int8 weights and int32 biases.  ``lift_qdq``
rewrites each pattern

    dequantize(x_q) -> op(..., dequantize(w_q), dequantize(b_q)) [-> relu/clip] -> quantize -> y_q

into one int8 ``op(x_q, w_q, b_q) -> y_q`` following the IR's int8
conventions:

* weights keep their int8 data and per-channel scales when they are already
  symmetric int8 along the axis the op wants (a per-tensor scale is repeated
  per channel); otherwise they are requantized from their real values;
* biases keep their int32 data when their scale is ``input_scale *
  weight_scale``; otherwise (or for a float bias) they are quantized to that
  scale;
* a relu/relu6/clip directly after an op with a fused ``act`` is folded into it;
* ops whose int8 kernel fixes the output parameters (pools, reshape, ... share
  the input's; logistic/softmax/tanh fixed) produce those and the model's
  ``quantize`` becomes an int8 -> int8 requantization when it differs;
* concat (and maximum/minimum) inputs with other parameters than the output
  are requantized.

uint8 activations (onnxruntime's default) become int8 with ``zero_point - 128``.
Nodes that cannot be lifted stay float between their ``dequantize`` and
``quantize`` (a mixed graph the reference still runs).  Finally the float
boundary is stripped so the graph takes and returns int8 like ``quantize``'s
output (``graph.meta["io_dtypes"]`` records the float interface).
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.ir.tensor import Tensor
from edgec.passes.io_boundary import strip_io_quantization
from edgec.passes.quantize import (
    FIXED_OUTPUT_PARAMS,
    INT8_OPS,
    REQUANTIZED_INPUT_OPS,
    SHARED_PARAM_OPS,
    WEIGHT_AXIS,
    choose_activation_params,
    quantize_bias,
    quantize_values,
    quantize_weights_per_channel,
)
from edgec.reference.float_ops import dequantize_array

ACT_OPS = frozenset(
    {"conv2d", "depthwise_conv2d", "fully_connected", "add", "sub", "mul", "max_pool2d", "avg_pool2d", "concat"}
    | {"transpose_conv2d"}
)
ACTIVATIONS = frozenset({"relu", "relu6", "clip"})
VALUE_PRESERVING_OPS = frozenset({"reshape", "transpose", "identity", "dropout"})
BIAS_SCALE_RTOL = 1e-4


def lift_qdq(graph: Graph) -> Graph:
    """Rewrite QDQ patterns of ``graph`` into int8 ops; returns a new graph."""
    g = graph.copy()
    _uint8_activations_to_int8(g)
    _Lifter(g).lift()
    _remove_dead_qdq(g)
    g = strip_io_quantization(g.prune_tensors())
    _alias_identity_requantize(g)
    return g.prune_tensors().verify()


def _act_of(node: Node) -> tuple[float, float]:
    if node.op == "relu":
        return (0.0, float("inf"))
    if node.op == "relu6":
        return (0.0, 6.0)
    return (float(node.attrs["min"]), float(node.attrs["max"]))


def _uint8_activations_to_int8(g: Graph) -> None:
    for t in g.tensors.values():
        if t.dtype == "uint8" and not t.is_const and t.is_quantized:
            t.dtype = "int8"
            t.zero_point = t.zero_point - 128


def quantize_reader_params(
    g: Graph, consumers: dict[str, list[Node]], float_out: str
) -> tuple[float, int] | None:
    """The parameters of the int8 ``quantize`` reading ``float_out`` (looking through reshape/transpose)."""
    users = consumers.get(float_out, [])
    for user in users:
        if user.op == "quantize":
            t = g.tensors[user.outputs[0]]
            if t.dtype == "int8" and not t.per_channel:
                return t.qscale, t.qzero
    if len(users) == 1 and users[0].op in VALUE_PRESERVING_OPS and float_out not in g.outputs:
        return quantize_reader_params(g, consumers, users[0].outputs[0])
    return None


class _Lifter:
    def __init__(self, g: Graph) -> None:
        self.g = g
        self.producers = g.producers()
        self.consumers = g.consumer_map()
        self.equiv: dict[str, str] = {}  # float activation -> int8 tensor holding it
        self.qconst: dict[str, str] = {}  # float tensor -> quantized constant it dequantizes
        self.skip: set[str] = set()  # nodes folded into a lifted node
        self.nodes: list[Node] = []

    def lift(self) -> None:
        for node in self.g.nodes:
            if node.name in self.skip:
                continue
            if node.op == "dequantize":
                self._note_dequantize(node)
                self.nodes.append(node)
            elif node.op == "quantize":
                src = node.inputs[0]
                if src in self.equiv:
                    node.inputs[0] = self.equiv[src]
                self.nodes.append(node)
            elif node.op in INT8_OPS and self._try_lift(node):
                continue
            else:
                self.nodes.append(node)
        self.g.nodes = self.nodes

    def _note_dequantize(self, node: Node) -> None:
        src = self.g.tensors[node.inputs[0]]
        if src.is_const:
            self.qconst[node.outputs[0]] = src.name
        elif src.dtype == "int8":
            self.equiv[node.outputs[0]] = src.name

    # -- one node ----------------------------------------------------------------------------------
    def _activation_input(self, name: str) -> str | None:
        if name in self.equiv:
            return self.equiv[name]
        t = self.g.tensors[name]
        if name in self.qconst:
            q = self.g.tensors[self.qconst[name]]
            if q.dtype == "int8" and not q.per_channel:
                return q.name
            return self._const_operand(name, dequantize_array(q.data, q.scale, q.zero_point, q.axis))
        if t.is_const and t.dtype == "float32":
            return self._const_operand(name, t.data)
        return None

    def _const_operand(self, name: str, real: np.ndarray) -> str:
        scale, zp = choose_activation_params(float(np.min(real)), float(np.max(real)))
        q_name = self.g.unique_name(f"{name}_q")
        self.g.add_tensor(Tensor(q_name, real.shape, "int8", quantize_values(real, scale, zp), scale, zp))
        return q_name

    def _real_const(self, name: str) -> np.ndarray | None:
        if name in self.qconst:
            q = self.g.tensors[self.qconst[name]]
            return dequantize_array(q.data, q.scale, q.zero_point, q.axis)
        t = self.g.tensors[name]
        return t.data if t.is_const and t.dtype == "float32" else None

    def _weight(self, name: str, axis: int) -> str | None:
        if name in self.qconst:
            q = self.g.tensors[self.qconst[name]]
            symmetric = q.dtype == "int8" and not np.any(q.zero_point)
            if symmetric and q.per_channel and q.axis == axis:
                return q.name
            if symmetric and not q.per_channel:
                channels = q.shape[axis]
                scale = np.repeat(q.scale, channels).astype(np.float32)
                w_name = self.g.unique_name(f"{q.name}_pc")
                self.g.add_tensor(Tensor(w_name, q.shape, "int8", q.data, scale, 0, axis))
                return w_name
        real = self._real_const(name)
        if real is None:
            return None
        data, scale = quantize_weights_per_channel(real, axis)
        w_name = self.g.unique_name(f"{name}_q")
        self.g.add_tensor(Tensor(w_name, data.shape, "int8", data, scale, 0, axis))
        return w_name

    def _bias(self, name: str, input_scale: float, weight_scale: np.ndarray) -> str | None:
        want = (np.float64(input_scale) * weight_scale.astype(np.float64)).astype(np.float32)
        if name in self.qconst:
            q = self.g.tensors[self.qconst[name]]
            scale = np.broadcast_to(q.scale, want.shape)
            if (
                q.dtype == "int32"
                and not np.any(q.zero_point)
                and np.allclose(scale, want, rtol=BIAS_SCALE_RTOL, atol=0)
            ):
                b_name = self.g.unique_name(f"{q.name}_b")
                self.g.add_tensor(Tensor(b_name, q.shape, "int32", q.data, want, 0, 0 if want.size > 1 else None))
                return b_name
        real = self._real_const(name)
        if real is None:
            return None
        data, scale = quantize_bias(real, input_scale, weight_scale)
        b_name = self.g.unique_name(f"{name}_q")
        self.g.add_tensor(Tensor(b_name, data.shape, "int32", data, scale, 0, 0 if scale.size > 1 else None))
        return b_name

    def _fused_activation(self, node: Node) -> Node | None:
        """The relu/relu6/clip that alone reads ``node``'s output, when it can be fused."""
        if node.op not in ACT_OPS or node.attrs.get("act") is not None:
            return None
        users = self.consumers.get(node.outputs[0], [])
        if len(users) == 1 and users[0].op in ACTIVATIONS and node.outputs[0] not in self.g.outputs:
            return users[0]
        return None

    def _try_lift(self, node: Node) -> bool:
        inputs = list(node.inputs)
        weighted = node.op in WEIGHT_AXIS
        if inputs[0] not in self.equiv:
            return False  # the data input must come from a dequantized activation
        first = self.equiv[inputs[0]]
        new_inputs = [first]
        if weighted:
            w = self._weight(inputs[1], WEIGHT_AXIS[node.op])
            if w is None:
                return False
            new_inputs.append(w)
            if len(inputs) > 2:
                if inputs[2]:
                    b = self._bias(inputs[2], self.g.tensors[first].qscale, self.g.tensors[w].scale)
                    if b is None:
                        return False
                    new_inputs.append(b)
                else:
                    new_inputs.append("")
        else:
            for name in inputs[1:]:
                q = self._activation_input(name) if name else ""
                if q is None:
                    return False
                new_inputs.append(q)
        act_node = self._fused_activation(node)
        float_out = (act_node or node).outputs[0]
        params = self._op_output_params(node, new_inputs[0], float_out)
        if params is None:
            return False
        lifted = node.copy()
        lifted.inputs = new_inputs
        if act_node is not None:
            lifted.attrs["act"] = _act_of(act_node)
            self.skip.add(act_node.name)
        q_out = self.g.unique_name(f"{float_out}_int8")
        self.g.add_tensor(Tensor(q_out, self.g.tensors[float_out].shape, "int8", scale=params[0], zero_point=params[1]))
        if node.op in REQUANTIZED_INPUT_OPS:
            self._requantize_inputs(lifted, params)
        lifted.outputs = [q_out]
        self.nodes.append(lifted)
        self.equiv[float_out] = q_out
        # Float readers (if any remain) get the value back through a dequantize; dead ones are removed later.
        self.nodes.append(Node(self._node_name(f"{float_out}/dequantize"), "dequantize", [q_out], [float_out]))
        return True

    def _op_output_params(self, node: Node, first_input: str, float_out: str) -> tuple[float, int] | None:
        if node.op in SHARED_PARAM_OPS:
            t = self.g.tensors[first_input]
            return t.qscale, t.qzero
        if node.op in FIXED_OUTPUT_PARAMS:
            return FIXED_OUTPUT_PARAMS[node.op]
        users = self.consumers.get(float_out, [])
        if node.op in ("maximum", "minimum") and len(users) == 1 and users[0].op == node.op and float_out not in self.g.outputs:
            # one step of a variadic Max/Min: saturation and requantization are monotone, so they
            # commute with max/min and the last step's parameters serve every step exactly
            return self._op_output_params(users[0], first_input, users[0].outputs[0])
        return quantize_reader_params(self.g, self.consumers, float_out)

    def _requantize_inputs(self, node: Node, params: tuple[float, int]) -> None:
        for i, name in enumerate(node.inputs):
            t = self.g.tensors[name]
            if (t.qscale, t.qzero) == params:
                continue
            req = self.g.unique_name(f"{name}_requant")
            self.g.add_tensor(Tensor(req, t.shape, "int8", scale=params[0], zero_point=params[1]))
            self.nodes.append(Node(self._node_name(f"{node.name}/requant{i}"), "quantize", [name], [req]))
            node.inputs[i] = req

    def _node_name(self, base: str) -> str:
        taken = {n.name for n in self.g.nodes} | {n.name for n in self.nodes}
        name, i = base, 1
        while name in taken:
            name = f"{base}_{i}"
            i += 1
        return name


def _remove_dead_qdq(g: Graph) -> None:
    """Drop quantize/dequantize nodes whose outputs nobody reads (repeat until stable)."""
    while True:
        used = {i for n in g.nodes for i in n.inputs if i} | set(g.outputs)
        keep = [n for n in g.nodes if n.op not in ("quantize", "dequantize") or any(o in used for o in n.outputs)]
        if len(keep) == len(g.nodes):
            return
        g.nodes = keep


def _alias_identity_requantize(g: Graph) -> None:
    """Remove int8 -> int8 ``quantize`` nodes that keep the parameters: readers use the source directly.

    The surviving tensor takes the removed node's output name when the source is a tensor this
    pass created (``*_int8``), so model tensor names are kept where possible.
    """
    for node in list(g.nodes):
        if node.op != "quantize":
            continue
        src, dst = g.tensors[node.inputs[0]], g.tensors[node.outputs[0]]
        if src.dtype != "int8" or dst.dtype != "int8" or src.is_const:
            continue
        if src.qscale != dst.qscale or src.qzero != dst.qzero:
            continue
        g.nodes.remove(node)
        if src.name in g.inputs or src.name in g.outputs:
            _rename_uses(g, dst.name, src.name)
        else:
            _rename_uses(g, src.name, dst.name)


def _rename_uses(g: Graph, old: str, new: str) -> None:
    for n in g.nodes:
        n.inputs = [new if i == old else i for i in n.inputs]
        n.outputs = [new if o == old else o for o in n.outputs]
    g.inputs = [new if i == old else i for i in g.inputs]
    g.outputs = [new if o == old else o for o in g.outputs]
    for key in ("io_dtypes", "layouts"):
        table = g.meta.get(key)
        if isinstance(table, dict) and old in table:
            table[new] = table.pop(old)
