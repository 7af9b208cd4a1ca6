"""DSP-extension depthwise variants (runtime/kernels/depthwise_dsp.c): rule and C emitter.

One rule for ``depthwise_conv2d`` with depth_multiplier 1 and at most
``MAX_TAPS`` kernel taps: 3x3, 5x5 and 7x7 layers call the kernel
specialised for their size (``edgec_depthwise_conv2d_3x3_dsp`` ...), any other
size the generic ``edgec_depthwise_conv2d_dsp``; strides, dilation, padding,
patch windows and row-streamed views are runtime parameters of all of them.
The weights go to flash in the kernel's int16 layout
(``depthwise_layout``) instead of int8 (the flash growth is the rule's
``extra_bytes``), and ``fast_requant`` is set where the accumulator bound
proves ``rq_fast`` exact: 1, or 2 where also every shift is negative
(``dsp_emitters.requant_mode``), which selects the kernels' fast epilogue
(packed four-channel requantization and store).

A layer the memory plan runs in place (decided before the kernel choice)
calls ``edgec_depthwise_conv2d_inplace_dsp`` instead: the portable in-place
procedure with two outputs per SMLAD step on rows of a 3-wide, stride-1
kernel; it reads the int8 weights, so the layout counted in ``extra_bytes``
is not emitted for it (the selector's flash estimate errs high).
"""

from __future__ import annotations

from edgec.codegen import kernel_variants as kv
from edgec.codegen.depthwise_layout import (
    MAX_TAPS,
    depthwise_dsp_header,
    depthwise_dsp_layout,
    depthwise_dsp_layout_bytes,
)
from edgec.codegen.dsp_emitters import requant_mode
from edgec.codegen.op_emitters import _conv_fields, _per_channel, _weights_and_bias, shape_str, short_name
from edgec.reference.qparams import kernel_params

SPECIALISED = (3, 5, 7)  # square kernel sizes with their own entry point


def _weights(graph, node):
    return graph.tensors[node.inputs[1]]


def applies(graph, node) -> bool:
    wt = _weights(graph, node)
    if not wt.is_const or wt.data is None or len(wt.shape) != 4 or str(wt.dtype) != "int8":
        return False
    _, kh, kw, _ = wt.shape
    return kernel_params(graph, node)["depth_multiplier"] == 1 and kh * kw <= MAX_TAPS


def extra_bytes(graph, node) -> int:
    _, kh, kw, c = _weights(graph, node).shape
    return depthwise_dsp_layout_bytes(kh, kw, c, header=True) - kh * kw * c  # the headers: an upper bound


def kernel_name(kh: int, kw: int) -> str:
    if kh == kw and kh in SPECIALISED:
        return f"edgec_depthwise_conv2d_{kh}x{kw}_dsp"
    return "edgec_depthwise_conv2d_dsp"


def emit(w, names, weights, node, p, ident) -> str:
    graph = names.graph
    wt = _weights(graph, node)
    _, kh, kw, co = wt.shape
    bias_name = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else ""
    bias = graph.tensors[bias_name].data if bias_name else None
    bound = kv.accumulator_bound(wt.data, bias, p["input_offset"], channel_axis=3)
    fast = requant_mode(bound, p["out_shift"], p["output_offset"])  # 0, 1 or 2 (the fast epilogue)
    if node.name in getattr(names.place, "inplace_depthwise", {}):
        return _emit_inplace(w, names, weights, node, p, ident, fast)
    if fast == 2 and kernel_name(kh, kw) == "edgec_depthwise_conv2d_dsp":
        fast = 1  # the headered layout's interior path is unrolled for the specialised sizes only
    header = None
    if fast == 2:
        header = depthwise_dsp_header(wt.data, bias, p["input_offset"], p["out_mult"], p["out_shift"],
                                      p["output_offset"])  # fmt: skip
    layout = weights.add(
        f"{ident}_weights_dsp",
        depthwise_dsp_layout(wt.data, header),
        "int16_t",
        f"{short_name(wt.name)}: int8 {shape_str(wt.shape)} as the DSP depthwise layout (depthwise_layout.py)",
    )
    b_ident = weights.tensor(bias_name, f"{ident}_bias") if bias_name else "NULL"
    mult = _per_channel(weights, ident, p["out_mult"], co, "mult")
    shift = _per_channel(weights, ident, p["out_shift"], co, "shift")
    fields = _conv_fields(p, kh, kw, ("depth_multiplier", 1), mult, shift) + [("fast_requant", int(fast))]
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    names.place.params(w, "edgec_depthwise_params", fields)
    fn = kernel_name(kh, kw)
    w.line(f"{fn}(&in, &out, {layout}, {b_ident}, &params);")
    return fn


def _emit_inplace(w, names, weights, node, p, ident, fast: int) -> str:
    """The in-place layer (same arguments as the portable in-place kernel, int8 weights)."""
    graph = names.graph
    _, kh, kw, _ = _weights(graph, node).shape
    _, h, wd, c = graph.tensors[node.inputs[0]].shape
    _, oh, ow, _ = graph.tensors[node.outputs[0]].shape
    mult = _per_channel(weights, ident, p["out_mult"], c, "mult")
    shift = _per_channel(weights, ident, p["out_shift"], c, "shift")
    w_ident, b_ident = _weights_and_bias(names, weights, node)
    fields = _conv_fields(p, kh, kw, ("depth_multiplier", 1), mult, shift) + [("fast_requant", int(fast))]
    names.place.params(w, "edgec_depthwise_params", fields)
    w.comment("in place: output channel c overwrites input channel c, through a small ring of padded input rows")
    fn = "edgec_depthwise_conv2d_inplace_dsp"
    w.line(
        f"{fn}({names.pointer(node.inputs[0])}, {h}, {wd}, {c}, {oh}, {ow}, "
        f"{ident}_scratch, {w_ident}, {b_ident}, &params);"
    )
    return fn


RULE = kv.register(
    kv.VariantRule(
        op="depthwise_conv2d",
        variant="dsp",
        name="depthwise_dsp",
        applies=applies,
        emit=emit,
        extra_bytes=extra_bytes,
    )
)
