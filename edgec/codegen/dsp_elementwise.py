"""DSP-extension variants of add/sub, max_pool2d and mean (runtime/kernels/elementwise_dsp.c): rules and C emitters.

``edgec_add_dsp`` requantizes with ``rq_fast`` (one SMMULR and a rounding
shift instead of TFLite's 64-bit double rounding); that is exact when
left_shift <= 20 and every shift is <= 0 (proof in elementwise_dsp.c), which
the rule checks at build time (the kernel checks again and falls back).  No
weights, so no flash growth.
"""

from __future__ import annotations

from edgec.codegen import kernel_variants as kv
from edgec.codegen.op_emitters import _broadcast_views, mean_call, pool_call
from edgec.reference.qparams import kernel_params

ADD_KEYS = [
    "a_offset", "a_mult", "a_shift", "b_offset", "b_mult", "b_shift", "left_shift",
    "output_offset", "out_mult", "out_shift", "act_min", "act_max",
]  # fmt: skip


def add_applies(graph, node) -> bool:
    p = kernel_params(graph, node)
    return 0 <= p["left_shift"] <= 20 and max(p["a_shift"], p["b_shift"], p["out_shift"]) <= 0


def emit_add(w, names, weights, node, p, ident) -> str:
    _broadcast_views(w, names, node)
    names.place.params(w, "edgec_add_params", [(k, p[k]) for k in ADD_KEYS])
    w.line("edgec_add_dsp(&a, &b, &out, &params);")
    return "edgec_add_dsp"


RULES = [
    kv.register(kv.VariantRule(op=op, variant="dsp", name=f"{op}_dsp", applies=add_applies, emit=emit_add))
    for op in ("add", "sub")
]


def max_pool_applies(graph, node) -> bool:
    return graph.tensors[node.inputs[0]].dtype == "int8"


def emit_max_pool(w, names, weights, node, p, ident) -> str:
    return pool_call(w, names, node, p, "edgec_max_pool2d_dsp")


MAX_POOL_RULE = kv.register(
    kv.VariantRule(op="max_pool2d", variant="dsp", name="max_pool2d_dsp", applies=max_pool_applies, emit=emit_max_pool)
)


def mean_applies(graph, node) -> bool:
    return graph.tensors[node.inputs[0]].dtype == "int8" and set(kernel_params(graph, node)["axes"]) == {1, 2}


def emit_mean(w, names, weights, node, p, ident) -> str:
    return mean_call(w, names, node, p, "edgec_mean_dsp")


MEAN_RULE = kv.register(kv.VariantRule(op="mean", variant="dsp", name="mean_dsp", applies=mean_applies, emit=emit_mean))
