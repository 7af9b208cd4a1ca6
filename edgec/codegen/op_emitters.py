"""One emitter per IR op: the C call (views, a const parameter struct, the kernel).

Integer parameters come from ``edgec.reference.qparams.kernel_params`` — the
same numbers the numpy reference uses — so generated code and reference
cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from edgec.codegen.cwriter import CWriter, c_type
from edgec.errors import BuildError
from edgec.ir import Graph, Node, macs
from edgec.reference.qparams import kernel_params
from edgec.report import shorten


class WeightTable:
    """Constant arrays (weights, biases, multipliers, tables) destined for flash."""

    def __init__(self, names):
        self.names = names
        self._arrays: list[tuple[str, str, np.ndarray, str]] = []  # (ident, ctype, data, comment)
        self._by_tensor: dict[str, str] = {}
        self._used: set[str] = set()

    def add(self, ident: str, data: np.ndarray, ctype: str, comment: str = "") -> str:
        base, i = ident, 1
        while ident in self._used:
            ident = f"{base}_{i}"
            i += 1
        self._used.add(ident)
        self._arrays.append((ident, ctype, np.asarray(data).reshape(-1), comment))
        return ident

    def tensor(self, name: str, ident: str) -> str:
        """The C array holding constant tensor ``name`` (emitted once, named ``ident``)."""
        if name not in self._by_tensor:
            t = self.names.graph.tensors[name]
            shape = "x".join(map(str, t.shape))
            self._by_tensor[name] = self.add(ident, t.data, c_type(t.dtype), f"{short_name(t.name)}: {t.dtype} {shape}")
        return self._by_tensor[name]

    def header(self, banner: str) -> str:
        w = CWriter()
        w.comment(banner)
        w.lines(["#ifndef EDGEC_WEIGHTS_H", "#define EDGEC_WEIGHTS_H", "", "#include <stdint.h>", ""])
        for ident, ctype, data, _ in self._arrays:
            w.line(f"extern const {ctype} {ident}[{data.size}];")
        w.lines(["", "#endif /* EDGEC_WEIGHTS_H */"])
        return w.text()

    def source(self, banner: str) -> str:
        w = CWriter()
        w.comment(banner)
        w.comment("Constant data: stays in flash on MCUs.")
        w.lines(["#include <stdint.h>", "", '#include "weights.h"', ""])
        for ident, ctype, data, comment in self._arrays:
            if comment:
                w.comment(comment)
            w.array(f"const {ctype} {ident}[{data.size}] __attribute__((aligned(4)))", data)
            w.line()
        return w.text()


# -- helpers -------------------------------------------------------------------------------------


def hwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(h, w, c) of a batch-1 activation of any rank, right-aligned into NHWC."""
    dims = list(shape[1:]) if len(shape) >= 2 else list(shape)
    while len(dims) > 3:
        if dims[0] != 1:
            raise BuildError(f"tensor of shape {shape} has more than 3 non-batch dimensions")
        dims.pop(0)
    dims = [1] * (3 - len(dims)) + dims
    return dims[0], dims[1], dims[2]


def short_name(name: str) -> str:
    """A model name shortened for a C comment."""
    return shorten(name, 60, keep_end=False)


def shape_str(shape) -> str:
    return "x".join(str(d) for d in shape)


def _dense_view(names, tensor: str, var: str, const: bool = False, dims: tuple[int, int, int] | None = None) -> str:
    graph: Graph = names.graph
    t = graph.tensors[tensor]
    h, w, c = dims or hwc(t.shape)
    qual = "const " if const else ""
    return f"{qual}edgec_view {var} = edgec_dense_view({_pointer(names, tensor, var)}, {h}, {w}, {c});"


def _pointer(names, tensor: str, role: str = "const") -> str:
    t = names.graph.tensors[tensor]
    if t.is_const:
        return f"(int8_t *){names.weights.tensor(tensor, f'{names.current}_{role}')}"
    return names.pointer(tensor)


def _describe(graph: Graph, node: Node) -> str:
    ins = [shape_str(graph.tensors[i].shape) for i in node.inputs if i and not graph.tensors[i].is_const]
    out = shape_str(graph.tensors[node.outputs[0]].shape)
    extra = []
    a = node.attrs
    if "kernel" in a:
        extra.append(f"kernel {a['kernel'][0]}x{a['kernel'][1]}")
    elif node.op in ("conv2d", "depthwise_conv2d"):
        kh, kw = graph.tensors[node.inputs[1]].shape[1:3]
        extra.append(f"kernel {kh}x{kw}")
    if tuple(a.get("stride", (1, 1))) != (1, 1):
        extra.append(f"stride {a['stride'][0]}x{a['stride'][1]}")
    if any(a.get("pad", (0, 0, 0, 0))):
        extra.append("pad " + ",".join(map(str, a["pad"])))
    if a.get("act") is not None:
        lo, hi = a["act"]
        extra.append("relu" if (lo, hi) == (0.0, math.inf) else "relu6" if (lo, hi) == (0.0, 6.0) else f"clamp {lo:g}..{hi:g}")
    mac = macs(graph, node)
    text = f"{short_name(node.name)}: {node.op} {' + '.join(ins)} -> {out}"
    if extra:
        text += ", " + ", ".join(extra)
    if mac:
        text += f"; {mac:,} MACs"
    return text


def _per_channel(weights: WeightTable, ident: str, values, count: int, suffix: str) -> str:
    arr = np.broadcast_to(np.asarray(values, dtype=np.int64).reshape(-1), (count,)).astype(np.int32)
    return weights.add(f"{ident}_{suffix}", arr, "int32_t")


# -- emitters ------------------------------------------------------------------------------------

Emitter = Callable[[CWriter, object, WeightTable, Node, dict, str], str]
EMITTERS: dict[str, Emitter] = {}


def emitter(*ops: str):
    def deco(fn: Emitter) -> Emitter:
        for op in ops:
            EMITTERS[op] = fn
        return fn

    return deco


def emit_node(w: CWriter, names, weights: WeightTable, node: Node, place=None, prologue: tuple[str, ...] = ()) -> str:
    """Emit ``node``'s kernel call (comment, block, views, params); return the kernel's C name.

    The kernel variant comes from ``names.kernels`` (a ``KernelSelector``; portable when absent)."""
    from edgec.codegen.placement import LayerPlacement

    names.weights = weights
    names.place = place or LayerPlacement(names)
    names.current = names.node_ids[node.name]
    params = kernel_params(names.graph, node)
    ident = names.node_ids[node.name]
    selector = getattr(names, "kernels", None)
    choice = selector.choice(node) if selector is not None else None
    emit = choice.rule.emit if choice is not None and choice.rule is not None else EMITTERS[node.op]
    w.comment(_describe(names.graph, node))
    with w.block():
        w.lines(prologue)
        kernel = emit(w, names, weights, node, params, ident)
    return kernel


def _conv_fields(p: dict, kh: int, kw: int, extra: tuple[str, int], mult: str, shift: str) -> list[tuple[str, object]]:
    pt, pl, pb, pr = p["pad"]
    return [
        ("kernel_h", kh),
        ("kernel_w", kw),
        ("stride_h", p["stride"][0]),
        ("stride_w", p["stride"][1]),
        ("dilation_h", p["dilation"][0]),
        ("dilation_w", p["dilation"][1]),
        ("pad_top", pt),
        ("pad_left", pl),
        ("pad_bottom", pb),
        ("pad_right", pr),
        extra,
        ("input_offset", p["input_offset"]),
        ("output_offset", p["output_offset"]),
        ("out_mult", mult),
        ("out_shift", shift),
        ("act_min", p["act_min"]),
        ("act_max", p["act_max"]),
    ]


def _weights_and_bias(names, weights: WeightTable, node: Node) -> tuple[str, str]:
    ident = names.node_ids[node.name]
    w_ident = weights.tensor(node.inputs[1], f"{ident}_weights")
    bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    return w_ident, (weights.tensor(bias, f"{ident}_bias") if bias else "NULL")


@emitter("conv2d", "depthwise_conv2d")
def _emit_conv(w, names, weights, node, p, ident):
    graph = names.graph
    wt = graph.tensors[node.inputs[1]]
    co = graph.tensors[node.outputs[0]].shape[-1]
    kh, kw = wt.shape[1], wt.shape[2]
    mult = _per_channel(weights, ident, p["out_mult"], co, "mult")
    shift = _per_channel(weights, ident, p["out_shift"], co, "shift")
    depthwise = node.op == "depthwise_conv2d"
    extra = ("depth_multiplier", p["depth_multiplier"]) if depthwise else ("groups", p["groups"])
    fields = _conv_fields(p, kh, kw, extra, mult, shift)
    w_ident, b_ident = _weights_and_bias(names, weights, node)
    ctype = "edgec_depthwise_params" if depthwise else "edgec_conv_params"
    if depthwise and node.name in names.place.inplace_depthwise:
        _, h, wd, c = graph.tensors[node.inputs[0]].shape
        _, oh, ow, _ = graph.tensors[node.outputs[0]].shape
        names.place.params(w, ctype, fields)
        w.comment("in place: output channel c overwrites input channel c, through a small ring of padded input rows")
        w.line(
            f"edgec_depthwise_conv2d_inplace({names.pointer(node.inputs[0])}, {h}, {wd}, {c}, {oh}, {ow}, "
            f"{ident}_scratch, {w_ident}, {b_ident}, &params);"
        )
        return "edgec_depthwise_conv2d_inplace"
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    names.place.params(w, ctype, fields)
    fn = "edgec_depthwise_conv2d" if depthwise else "edgec_conv2d"
    w.line(f"{fn}(&in, &out, {w_ident}, {b_ident}, &params);")
    return fn


def fc_fields(p: dict, in_features: int, out_features: int, scale: str) -> list[tuple[str, object]]:
    """The ``edgec_fc_params`` fields of a fully connected layer (portable and DSP kernels alike)."""
    return [
        ("in_features", in_features),
        ("out_features", out_features),
        ("input_offset", p["input_offset"]),
        ("output_offset", p["output_offset"]),
        ("out_scale", scale),
        ("act_min", p["act_min"]),
        ("act_max", p["act_max"]),
    ]


@emitter("fully_connected")
def _emit_fc(w, names, weights, node, p, ident):
    return fc_call(w, names, weights, node, p, ident, "edgec_fully_connected")


def fc_call(w, names, weights, node, p, ident, fn: str) -> str:
    """The double rescale table, the edgec_fc_params and the call of fully connected kernel ``fn``
    (portable or a variant that reads the same [Co][K] int8 weights)."""
    graph = names.graph
    co, k = graph.tensors[node.inputs[1]].shape
    batches = graph.tensors[node.inputs[0]].size // k
    scales = np.broadcast_to(np.asarray(p["out_scale"], dtype=np.float64).reshape(-1), (co,))
    scale = weights.add(f"{ident}_scale", scales, "double", "output rescale per channel (double, as TFLite's reference FC)")
    w_ident, b_ident = _weights_and_bias(names, weights, node)
    names.place.params(w, "edgec_fc_params", fc_fields(p, k, co, scale))
    src, dst = _pointer(names, node.inputs[0]), _pointer(names, node.outputs[0])
    w.line(f"{fn}({src}, {dst}, {batches}, {w_ident}, {b_ident}, &params);")
    return fn


def _broadcast_views(w, names, node, first: str = "a", second: str = "b") -> None:
    """Views of a binary op's two inputs and its output; an input of lower rank is aligned on the
    right (numpy broadcasting) before it is mapped to (h, w, c)."""
    rank = len(names.graph.tensors[node.outputs[0]].shape)
    for name, var in ((node.inputs[0], first), (node.inputs[1], second)):
        shape = tuple(names.graph.tensors[name].shape)
        w.line(names.place.view(name, var, const=True, dims=hwc((1,) * (rank - len(shape)) + shape)))
    w.line(names.place.view(node.outputs[0], "out"))


@emitter("add", "sub")
def _emit_add(w, names, weights, node, p, ident):
    _broadcast_views(w, names, node)
    keys = ["a_offset", "a_mult", "a_shift", "b_offset", "b_mult", "b_shift", "left_shift", "output_offset", "out_mult", "out_shift", "act_min", "act_max"]
    names.place.params(w, "edgec_add_params", [(k, p[k]) for k in keys])
    w.line("edgec_add(&a, &b, &out, &params);")
    return "edgec_add"


@emitter("mul")
def _emit_mul(w, names, weights, node, p, ident):
    _broadcast_views(w, names, node)
    keys = ["a_offset", "b_offset", "output_offset", "out_mult", "out_shift", "act_min", "act_max"]
    names.place.params(w, "edgec_mul_params", [(k, p[k]) for k in keys])
    w.line("edgec_mul(&a, &b, &out, &params);")
    return "edgec_mul"


@emitter("max_pool2d", "avg_pool2d")
def _emit_pool(w, names, weights, node, p, ident):
    return pool_call(w, names, node, p, f"edgec_{node.op}")


def pool_call(w, names, node, p, fn: str) -> str:
    """The views, the edgec_pool_params and the call of pooling kernel ``fn`` (portable or a variant)."""
    pt, pl, pb, pr = p["pad"]
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    fields = [
        ("kernel_h", p["kernel"][0]),
        ("kernel_w", p["kernel"][1]),
        ("stride_h", p["stride"][0]),
        ("stride_w", p["stride"][1]),
        ("pad_top", pt),
        ("pad_left", pl),
        ("pad_bottom", pb),
        ("pad_right", pr),
        ("act_min", p["act_min"]),
        ("act_max", p["act_max"]),
    ]
    names.place.params(w, "edgec_pool_params", fields)
    w.line(f"{fn}(&in, &out, &params);")
    return fn


def _reduction_views(w, names, node, p) -> list[tuple[str, int]]:
    """Views of a reduction over H, W and/or C of a 4-D tensor (the output view keeps reduced
    axes as 1); returns the ``reduce_h/w/c`` parameter fields."""
    x = names.graph.tensors[node.inputs[0]]
    if len(x.shape) != 4 or 0 in p["axes"]:
        raise BuildError(f"{node.op} node {node.name!r}: the C back end reduces H, W and/or C of a 4-D tensor only")
    reduced = [int(axis in p["axes"]) for axis in (1, 2, 3)]
    out_dims = tuple(1 if r else d for r, d in zip(reduced, hwc(x.shape)))
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out", dims=out_dims))
    return [(f"reduce_{a}", r) for a, r in zip("hwc", reduced)]


@emitter("mean")
def _emit_mean(w, names, weights, node, p, ident):
    return mean_call(w, names, node, p, "edgec_mean")


def mean_call(w, names, node, p, fn: str) -> str:
    """The views, the edgec_mean_params and the call of mean kernel ``fn`` (portable or a variant)."""
    fields = [
        *_reduction_views(w, names, node, p),
        ("input_offset", p["input_offset"]),
        ("output_offset", p["output_offset"]),
        ("mult", p["mult"]),
        ("shift", p["shift"]),
    ]
    names.place.params(w, "edgec_mean_params", fields)
    w.line(f"{fn}(&in, &out, &params);")
    return fn


def _flat_views(w, names, node):
    graph = names.graph
    size = graph.tensors[node.outputs[0]].size
    w.line(names.place.view(node.inputs[0], "in", const=True, dims=(1, 1, size)))
    w.line(names.place.view(node.outputs[0], "out", dims=(1, 1, size)))


@emitter("quantize")
def _emit_requantize(w, names, weights, node, p, ident):
    if "mult" not in p:
        raise BuildError(f"node {node.name!r} quantizes float data: the C back end runs int8 only")
    _flat_views(w, names, node)
    names.place.params(w, "edgec_requantize_params", [(k, p[k]) for k in ("input_offset", "output_offset", "mult", "shift")])
    w.line("edgec_requantize(&in, &out, &params);")
    return "edgec_requantize"


@emitter("relu", "relu6", "clip")
def _emit_relu(w, names, weights, node, p, ident):
    _flat_views(w, names, node)
    keys = ["input_offset", "output_offset", "out_mult", "out_shift", "act_min", "act_max"]
    names.place.params(w, "edgec_relu_params", [(k, p[k]) for k in keys])
    w.line("edgec_relu(&in, &out, &params);")
    return "edgec_relu"


@emitter("leaky_relu")
def _emit_leaky(w, names, weights, node, p, ident):
    _flat_views(w, names, node)
    keys = ["input_offset", "output_offset", "identity_mult", "identity_shift", "alpha_mult", "alpha_shift"]
    names.place.params(w, "edgec_leaky_relu_params", [(k, p[k]) for k in keys])
    w.line("edgec_leaky_relu(&in, &out, &params);")
    return "edgec_leaky_relu"


@emitter("logistic", "tanh")
def _emit_table(w, names, weights, node, p, ident):
    table = weights.add(f"{ident}_table", np.asarray(p["table"], dtype=np.int8), "int8_t", f"{node.op} lookup table, indexed by x + 128")
    _flat_views(w, names, node)
    w.line(f"edgec_{node.op}(&in, &out, {table});")
    return f"edgec_{node.op}"


@emitter("hard_swish")
def _emit_hard_swish(w, names, weights, node, p, ident):
    _flat_views(w, names, node)
    names.place.params(w, "edgec_hard_swish_params", list(p.items()))
    w.line("edgec_hard_swish(&in, &out, &params);")
    return "edgec_hard_swish"


@emitter("softmax")
def _emit_softmax(w, names, weights, node, p, ident):
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    names.place.params(w, "edgec_softmax_params", [(k, p[k]) for k in ("input_beta_multiplier", "input_beta_left_shift", "diff_min")])
    w.line("edgec_softmax(&in, &out, &params);")
    return "edgec_softmax"


@emitter("pad")
def _emit_pad(w, names, weights, node, p, ident):
    pads = list(p["pads"])
    if len(pads) > 4 or (len(pads) == 4 and any(pads[0])):
        raise BuildError(f"pad node {node.name!r}: the C back end pads H, W and C only")
    pads = [(0, 0)] * (4 - len(pads)) + pads
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    fields = [
        ("pad_top", pads[1][0]),
        ("pad_left", pads[2][0]),
        ("pad_bottom", pads[1][1]),
        ("pad_right", pads[2][1]),
        ("pad_c_before", pads[3][0]),
        ("pad_c_after", pads[3][1]),
        ("value", p["value"]),
    ]
    names.place.params(w, "edgec_pad_params", fields)
    w.line("edgec_pad(&in, &out, &params);")
    return "edgec_pad"


@emitter("concat")
def _emit_concat(w, names, weights, node, p, ident):
    rank = len(names.graph.tensors[node.outputs[0]].shape)
    axis = p["axis"] - (rank - 3)  # right-aligned into (h, w, c)
    if axis < 0:
        raise BuildError(f"concat node {node.name!r}: the C back end concatenates along H, W or C only")
    for i, name in enumerate(node.inputs):
        w.line(names.place.view(name, f"in{i}", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    w.line(f"const edgec_view *const ins[{len(node.inputs)}] = {{{', '.join(f'&in{i}' for i in range(len(node.inputs)))}}};")
    w.line(f"edgec_concat(ins, {len(node.inputs)}, {axis}, &out);")
    return "edgec_concat"


@emitter("resize_nearest")
def _emit_resize(w, names, weights, node, p, ident):
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    w.line("edgec_resize_nearest(&in, &out);")
    return "edgec_resize_nearest"


def slice_geometry(in_shape, p: dict) -> tuple[tuple[int, int, int], tuple[int, int, int], list[tuple[str, int]]]:
    """(input h/w/c, output h/w/c, parameter fields) of a slice: size-1 input dims dropped, the rest right-aligned."""
    keep = [i for i, d in enumerate(in_shape) if d != 1]
    if len(keep) > 3:
        raise BuildError(f"slice of a {in_shape} tensor: the C back end slices at most 3 dimensions larger than 1")
    pad = 3 - len(keep)
    in_dims = (1,) * pad + tuple(in_shape[i] for i in keep)
    out_dims = (1,) * pad + tuple(p["size"][i] for i in keep)
    begin = (0,) * pad + tuple(p["begin"][i] for i in keep)
    strides = (1,) * pad + tuple(p["strides"][i] for i in keep)
    fields = [(f"begin_{a}", b) for a, b in zip("hwc", begin)] + [(f"stride_{a}", s) for a, s in zip("hwc", strides)]
    return in_dims, out_dims, fields


@emitter("slice")
def _emit_slice(w, names, weights, node, p, ident):
    in_dims, out_dims, fields = slice_geometry(names.graph.tensors[node.inputs[0]].shape, p)
    w.line(names.place.view(node.inputs[0], "in", const=True, dims=in_dims))
    w.line(names.place.view(node.outputs[0], "out", dims=out_dims))
    names.place.params(w, "edgec_slice_params", fields)
    w.line("edgec_strided_slice(&in, &out, &params);")
    return "edgec_strided_slice"


@emitter("maximum", "minimum")
def _emit_maximum_minimum(w, names, weights, node, p, ident):
    _broadcast_views(w, names, node)
    w.line(f"edgec_{node.op}(&a, &b, &out);")
    return f"edgec_{node.op}"


@emitter("reduce_max")
def _emit_reduce_max(w, names, weights, node, p, ident):
    names.place.params(w, "edgec_reduce_max_params", _reduction_views(w, names, node, p))
    w.line("edgec_reduce_max(&in, &out, &params);")
    return "edgec_reduce_max"


@emitter("gather")
def _emit_gather(w, names, weights, node, p, ident):
    rank = len(names.graph.tensors[node.inputs[0]].shape)
    axis = p["axis"] + 3 - rank  # position in the right-aligned (h, w, c) view
    if p["axis"] == 0 or axis < 0:
        raise BuildError(f"gather node {node.name!r}: the C back end gathers along H, W or C only")
    indices = weights.add(f"{ident}_indices", np.asarray(p["indices"], dtype=np.int32), "int32_t", "gather indices")
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    w.line(f"edgec_gather(&in, &out, {axis}, {indices});")
    return "edgec_gather"


@emitter("transpose_conv2d")
def _emit_transpose_conv(w, names, weights, node, p, ident):
    graph = names.graph
    kh, kw = graph.tensors[node.inputs[1]].shape[1:3]
    co = graph.tensors[node.outputs[0]].shape[-1]
    mult = _per_channel(weights, ident, p["out_mult"], co, "mult")
    shift = _per_channel(weights, ident, p["out_shift"], co, "shift")
    fields = [
        ("kernel_h", kh),
        ("kernel_w", kw),
        ("stride_h", p["stride"][0]),
        ("stride_w", p["stride"][1]),
        ("dilation_h", p["dilation"][0]),
        ("dilation_w", p["dilation"][1]),
        ("pad_top", p["pad"][0]),
        ("pad_left", p["pad"][1]),
        ("input_offset", p["input_offset"]),
        ("output_offset", p["output_offset"]),
        ("out_mult", mult),
        ("out_shift", shift),
        ("act_min", p["act_min"]),
        ("act_max", p["act_max"]),
    ]
    w_ident, b_ident = _weights_and_bias(names, weights, node)
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    names.place.params(w, "edgec_transpose_conv_params", fields)
    w.line(f"edgec_transpose_conv2d(&in, &out, {w_ident}, {b_ident}, &params);")
    return "edgec_transpose_conv2d"


@emitter("prelu")
def _emit_prelu(w, names, weights, node, p, ident):
    _broadcast_views(w, names, node, "in", "alpha")
    keys = ["input_offset", "alpha_offset", "output_offset", "identity_mult", "identity_shift", "alpha_mult", "alpha_shift"]
    names.place.params(w, "edgec_prelu_params", [(k, p[k]) for k in keys])
    w.line("edgec_prelu(&in, &alpha, &out, &params);")
    return "edgec_prelu"


@emitter("resize_bilinear")
def _emit_resize_bilinear(w, names, weights, node, p, ident):
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    fields = [("align_corners", int(p["align_corners"])), ("half_pixel_centers", int(p["half_pixel_centers"]))]
    names.place.params(w, "edgec_resize_bilinear_params", fields)
    w.line("edgec_resize_bilinear(&in, &out, &params);")
    return "edgec_resize_bilinear"


@emitter("depth_to_space")
def _emit_depth_to_space(w, names, weights, node, p, ident):
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    order = "CRD: channel c * B * B + sub-pixel" if p["crd"] else "DCR: sub-pixel * C + channel c"
    w.comment(f"block {p['block_size']}, {order}")
    w.line(f"edgec_depth_to_space(&in, &out, {p['block_size']}, {int(p['crd'])});")
    return "edgec_depth_to_space"


@emitter("space_to_depth")
def _emit_space_to_depth(w, names, weights, node, p, ident):
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    w.line(f"edgec_space_to_depth(&in, &out, {p['block_size']});")
    return "edgec_space_to_depth"


@emitter("squared_difference")
def _emit_squared_difference(w, names, weights, node, p, ident):
    _broadcast_views(w, names, node)
    keys = ["a_offset", "a_mult", "a_shift", "b_offset", "b_mult", "b_shift", "left_shift", "output_offset", "out_mult", "out_shift"]
    names.place.params(w, "edgec_squared_difference_params", [(k, p[k]) for k in keys])
    w.line("edgec_squared_difference(&a, &b, &out, &params);")
    return "edgec_squared_difference"


@emitter("rsqrt")
def _emit_rsqrt(w, names, weights, node, p, ident):
    table = weights.add(f"{ident}_table", np.asarray(p["table"], dtype=np.int8), "int8_t", "rsqrt lookup table, indexed by x + 128")
    _flat_views(w, names, node)
    w.line(f"edgec_rsqrt(&in, &out, {table});")
    return "edgec_rsqrt"


@emitter("l2_normalization")
def _emit_l2_normalization(w, names, weights, node, p, ident):
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    w.line(f"edgec_l2_normalization(&in, &out, {p['input_zero_point']});")
    return "edgec_l2_normalization"
