"""Helium (MVE) kernel variants (Cortex-M55): their rules and C emitters.

Registered into ``kernel_variants``; the kernels live in runtime/kernels/*_mve.c (compiled
only for targets with integer MVE).  They take the portable kernels' arguments and weight
layouts unchanged, so they add no flash for weights and
work on any view (patch stages, row-streamed segments): the emitters are the portable
ones with the MVE function names.

- conv2d (groups 1): ``edgec_conv2d_mve`` (1x1 stride 1 unpadded layers go to
  ``edgec_conv2d_1x1_mve`` inside it): VMLADAVA.S8 dot products along the input channels;
  fields of at most 32 bytes (a first layer on RGB) go to ``edgec_conv_first_mve``
  (conv_first_mve.c: input columns transposed on the stack, pixel pairs in assembly), else
  three kernel rows of at most 16 bytes are one predicated load each.
- depthwise_conv2d (depth multiplier 1): ``edgec_depthwise_conv2d_mve``; square 3x3/5x5/7x7
  kernels go to ``edgec_depthwise_pairs_ring_mve`` (depthwise_pairs_mve.c: sixteen channels per
  vector, two taps' int8 products added in int16, a block of sixteen channels at a time through
  a stack ring of padded rows) for rows of >= 4 outputs whose ring fits, else to
  ``edgec_depthwise_pairs_mve`` (the same arithmetic pixel by pixel), or, for rows of >= 48
  outputs of at most 16 channels, to ``edgec_depthwise_window_mve`` (depthwise_window_mve.c: a
  channel's K x K windows as consecutive bytes, VMLADAV.S8) or ``edgec_depthwise_ring_mve``;
  other shapes keep eight channels per vector in int16 lanes.  Where the arena plan runs the
  layer in place, ``edgec_depthwise_conv2d_inplace_mve``: square kernels through
  ``edgec_depthwise_pairs_ring_mve`` on the one buffer, or, where its ring does not fit or a
  weight is -128, ``edgec_depthwise_ring_mve`` (depthwise_ring_mve.c: a channel plane at a time
  in the planner's scratch, eight outputs of a row per step), others four outputs of a
  channel's row per vector.
- add / sub: ``edgec_add_mve``: four elements per step in runs as long as the views allow,
  the three requantizations in vectors, a loop per kind of input and output scaling (a
  multiplier of 2^30 is an exact halving; broadcasts other than a single value fall back to
  ``edgec_add`` inside it).
- mean over H and W: ``edgec_mean_mve`` (mean_mve.c): sixteen channels per block, int16 lane
  sums moved into int32 every 256 pixels, the requantization in vectors.
- fully connected (int8 [Co][K] weights): ``edgec_fully_connected_mve`` (fully_connected_mve.c):
  two output channels per pass of VMLADAVA.S8, the portable weight layout and double rescale.
"""

from __future__ import annotations

from edgec.codegen.dsp_elementwise import mean_applies
from edgec.codegen.dsp_emitters import fc_applies
from edgec.codegen.kernel_variants import VariantRule, register
from edgec.codegen.op_emitters import _broadcast_views, fc_call, mean_call
from edgec.ir import Graph, Node


def _int8_weights(graph: Graph, node: Node) -> bool:
    t = graph.tensors[node.inputs[1]]
    return t.is_const and t.dtype == "int8" and len(t.shape) == 4


def _conv_applies(graph: Graph, node: Node) -> bool:
    return _int8_weights(graph, node) and (node.attrs.get("groups", 1) or 1) == 1


def _depthwise_applies(graph: Graph, node: Node) -> bool:
    return _int8_weights(graph, node) and (node.attrs.get("depth_multiplier", 1) or 1) == 1


def _emit(w, names, weights, node, p, ident, fn: str) -> str:
    from edgec.codegen.op_emitters import _conv_fields, _per_channel, _weights_and_bias

    depthwise = node.op == "depthwise_conv2d"
    graph = names.graph
    wt = graph.tensors[node.inputs[1]]
    co = graph.tensors[node.outputs[0]].shape[-1]
    mult = _per_channel(weights, ident, p["out_mult"], co, "mult")
    shift = _per_channel(weights, ident, p["out_shift"], co, "shift")
    extra = ("depth_multiplier", p["depth_multiplier"]) if depthwise else ("groups", p["groups"])
    fields = _conv_fields(p, wt.shape[1], wt.shape[2], extra, mult, shift)
    w_ident, b_ident = _weights_and_bias(names, weights, node)
    if depthwise and node.name in names.place.inplace_depthwise:
        _, h, wd, c = graph.tensors[node.inputs[0]].shape
        _, oh, ow, _ = graph.tensors[node.outputs[0]].shape
        names.place.params(w, "edgec_depthwise_params", fields)
        w.comment("in place: output channel c overwrites input channel c, through a small ring of padded input rows")
        w.line(
            f"edgec_depthwise_conv2d_inplace_mve({names.pointer(node.inputs[0])}, {h}, {wd}, {c}, {oh}, {ow}, "
            f"{ident}_scratch, {w_ident}, {b_ident}, &params);"
        )
        return "edgec_depthwise_conv2d_inplace_mve"
    w.line(names.place.view(node.inputs[0], "in", const=True))
    w.line(names.place.view(node.outputs[0], "out"))
    names.place.params(w, "edgec_depthwise_params" if depthwise else "edgec_conv_params", fields)
    w.line(f"{fn}(&in, &out, {w_ident}, {b_ident}, &params);")
    return fn


def _emit_conv_mve(w, names, weights, node, p, ident):
    return _emit(w, names, weights, node, p, ident, "edgec_conv2d_mve")


def _emit_depthwise_mve(w, names, weights, node, p, ident):
    return _emit(w, names, weights, node, p, ident, "edgec_depthwise_conv2d_mve")


def _emit_add_mve(w, names, weights, node, p, ident):
    _broadcast_views(w, names, node)
    keys = ["a_offset", "a_mult", "a_shift", "b_offset", "b_mult", "b_shift", "left_shift"]
    keys += ["output_offset", "out_mult", "out_shift", "act_min", "act_max"]
    names.place.params(w, "edgec_add_params", [(k, p[k]) for k in keys])
    w.line("edgec_add_mve(&a, &b, &out, &params);")
    return "edgec_add_mve"


def _emit_mean_mve(w, names, weights, node, p, ident):
    return mean_call(w, names, node, p, "edgec_mean_mve")


def _emit_fc_mve(w, names, weights, node, p, ident):
    return fc_call(w, names, weights, node, p, ident, "edgec_fully_connected_mve")


def _always(graph: Graph, node: Node) -> bool:
    return True


register(VariantRule("add", "mve", "add_mve", _always, _emit_add_mve))
register(VariantRule("sub", "mve", "sub_mve", _always, _emit_add_mve))
register(VariantRule("conv2d", "mve", "conv2d_mve", _conv_applies, _emit_conv_mve))
register(VariantRule("depthwise_conv2d", "mve", "depthwise_mve", _depthwise_applies, _emit_depthwise_mve))
register(VariantRule("mean", "mve", "mean_mve", mean_applies, _emit_mean_mve))
register(VariantRule("fully_connected", "mve", "fully_connected_mve", fc_applies, _emit_fc_mve))
