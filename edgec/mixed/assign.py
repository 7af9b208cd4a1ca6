"""Which stage feature maps may go sub-byte, their sub-byte parameters, and the mixed variant graph.

**Eligible maps.**  A stage feature map (the output of a stage op other than
the split tensor) can be stored at 4 or 2 bits when its producer and every
consumer are ops with packed kernels (``SUB_BYTE_OPS``: conv2d,
depthwise_conv2d, add, max/avg pool), all its consumers are in the stage, and
it is not produced by the shared VDPC prefix (those maps stay 8-bit with the
int8 parameters, ``edgec/mixed/plan.py``).  Stage inputs and the split tensor
always keep int8.

**Tied maps.**  Pooling copies its input's quantization (``qparams._pool``):
its input and output form one *group* that takes one width and one set of
parameters (the union of both histograms).  A group with any ineligible
member stays at 8 bits.

**Sub-byte parameters.**  For width ``b`` the real range ``[r_lo, r_hi]``
(always containing 0) is cut into ``2**b - 1`` steps.  The range is the one
of a small candidate set (quantiles of the map's non-outlier histogram
clipping the tails) that minimises the squared quantization error of the
histogram's values, measured in real units; ties go to the wider range.
``subbyte_params`` returns ``(scale, zero_point)`` with the zero point in
``qrange(b)``.
"""

from __future__ import annotations

import numpy as np

from edgec.ir.graph import Graph
from edgec.mixed.subbyte import qrange
from edgec.passes.quantize import round_half_away
from edgec.schedule.patch import PatchStage

SUB_BYTE_OPS = frozenset({"conv2d", "depthwise_conv2d", "add", "max_pool2d", "avg_pool2d"})
TIED_OPS = frozenset({"max_pool2d", "avg_pool2d"})  # output keeps the input's quantization
CLIP_QUANTILES = (0.0, 1e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1)  # tail mass clipped off each side


def stage_maps(graph: Graph, stage: PatchStage) -> list[str]:
    """Stage feature maps in execution order: stage op outputs except the split tensor."""
    outs = [o for name in stage.nodes for o in graph.node(name).outputs]
    return [o for o in dict.fromkeys(outs) if o != stage.split]


def prefix_nodes(graph: Graph, stage: PatchStage, test_tensor: str) -> list[str]:
    """The stage ops up to and including ``test_tensor``'s producer (none when it is a stage input)."""
    producer = graph.producer(test_tensor)
    if producer is None or producer.name not in stage.nodes:
        return []
    return stage.nodes[: stage.nodes.index(producer.name) + 1]


def groups(graph: Graph, stage: PatchStage, test_tensor: str) -> list[list[str]]:
    """Groups of stage maps that share one width; groups that must stay 8-bit are left out."""
    maps = stage_maps(graph, stage)
    parent = {m: m for m in maps}

    def find(m: str) -> str:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    stage_set = set(stage.nodes)
    prefix = set(prefix_nodes(graph, stage, test_tensor))
    fixed: set[str] = set()
    for name in stage.nodes:
        node = graph.node(name)
        out = node.outputs[0]
        if node.op in TIED_OPS:
            src = node.inputs[0]
            if src in parent and out in parent:
                parent[find(src)] = find(out)
            else:  # tied to a stage input or the split tensor: both stay int8
                fixed.update(t for t in (src, out) if t in parent)
    for m in maps:
        producer = graph.producer(m)
        consumers = graph.consumers(m)
        if (
            producer.op not in SUB_BYTE_OPS
            or producer.name in prefix
            or m in graph.outputs
            or not consumers
            or any(c.name not in stage_set or c.op not in SUB_BYTE_OPS for c in consumers)
        ):
            fixed.add(m)
    members: dict[str, list[str]] = {}
    for m in maps:
        members.setdefault(find(m), []).append(m)
    return [g for g in members.values() if not any(m in fixed for m in g)]


def _real_levels(scale8: float, zp8: int) -> np.ndarray:
    return np.float64(scale8) * (np.arange(-128, 128, dtype=np.float64) - zp8)


def params_for_range(r_lo: float, r_hi: float, bits: int) -> tuple[float, int]:
    """Scale and zero point of a ``bits``-wide map covering ``[r_lo, r_hi]`` (widened to include 0)."""
    qmin, qmax = qrange(bits)
    r_lo, r_hi = min(r_lo, 0.0), max(r_hi, 0.0)
    if r_hi - r_lo <= 0:
        r_hi = r_lo + 1e-6
    scale = float(np.float32((r_hi - r_lo) / (qmax - qmin)))
    zp = int(np.clip(qmin - np.round(r_lo / scale), qmin, qmax))
    return scale, zp


def quantize_levels(hist_real: np.ndarray, scale: float, zp: int, bits: int) -> np.ndarray:
    """The ``bits``-wide integer each real value maps to (round half away, clamp)."""
    qmin, qmax = qrange(bits)
    v = hist_real / scale
    return np.clip(round_half_away(v) + zp, qmin, qmax).astype(np.int64)


def subbyte_params(hist: np.ndarray, scale8: float, zp8: int, bits: int) -> tuple[float, int]:
    """MSE-best clipped range of the int8 histogram ``hist`` at ``bits`` (see module docstring)."""
    return range_candidates(hist, scale8, zp8, bits, 1)[0]


def range_candidates(hist: np.ndarray, scale8: float, zp8: int, bits: int, count: int) -> list[tuple[float, int]]:
    """The ``count`` best distinct clipped ranges of ``hist`` at ``bits`` as (scale, zp), least squared
    error first (ties: the wider range, the fewer clipped)."""
    real = _real_levels(scale8, zp8)
    total = hist.sum()
    if total == 0:
        return [params_for_range(float(real[0]), float(real[-1]), bits)]
    cdf = np.cumsum(hist) / total
    ranked: dict[tuple[float, int], tuple] = {}
    for lo_q in CLIP_QUANTILES:
        lo = int(np.searchsorted(cdf, lo_q, side="right")) if lo_q > 0 else int(np.argmax(hist > 0))
        for hi_q in CLIP_QUANTILES:
            hi = (
                int(np.searchsorted(cdf, 1.0 - hi_q, side="left")) if hi_q > 0 else int(255 - np.argmax(hist[::-1] > 0))
            )
            hi = min(max(hi, lo), 255)
            scale, zp = params_for_range(float(real[lo]), float(real[hi]), bits)
            back = scale * (quantize_levels(real, scale, zp, bits) - zp)
            err = float(np.sum(hist * (real - back) ** 2))
            key = (err, -(real[hi] - real[lo]), lo_q + hi_q)
            if (scale, zp) not in ranked or key < ranked[(scale, zp)]:
                ranked[(scale, zp)] = key
    return sorted(ranked, key=ranked.__getitem__)[:count]


def mixed_graph(
    graph: Graph, params: dict[str, tuple[int, float, int]], weight_bits: dict[str, int] | None = None
) -> Graph:
    """A copy of ``graph`` where each map of ``params`` (name -> (bits, scale, zp)) gets that width and quantization,
    and each op of ``weight_bits`` (node name -> 4) int4 weight values (``edgec/mixed/weights.py``).

    Narrow weight values whose requantization would take a left shift (multiplier
    ``s_in s_w / s_out >= 1/2``, typical of int4 weights on a 4-bit input) are
    stored times ``2^k`` per channel (``_keep_right_shift``).

    A conv or depthwise conv accumulates in units of ``s_in x s_w``; when its
    input map is re-scaled or its weights requantized, its int32 bias is
    requantized to the new accumulator scale: ``round(bias x s_in8 s_w8 / (s_in s_w))``
    (half away from zero, per channel).  Every other constant is unchanged.
    """
    from edgec.mixed.weights import requantize

    weight_bits = {n: b for n, b in (weight_bits or {}).items() if b != 8}
    mixed = graph.copy()
    for name, (bits, scale, zp) in params.items():
        t = mixed.tensors[name]
        t.bits = int(bits)
        t.scale = np.atleast_1d(np.float32(scale))
        t.zero_point = np.atleast_1d(np.int64(zp))
    for node in mixed.nodes:
        if node.op not in ("conv2d", "depthwise_conv2d"):
            continue
        rescaled, requantized = node.inputs[0] in params, node.name in weight_bits
        if not (rescaled or requantized):
            continue
        ratio = np.float64(graph.tensors[node.inputs[0]].qscale) / np.float64(mixed.tensors[node.inputs[0]].qscale)
        if requantized:
            w = mixed.tensors[node.inputs[1]]
            if sum(node.inputs[1] in n.inputs for n in mixed.nodes) != 1:
                raise ValueError(f"weights {w.name!r} are shared by several ops; cannot requantize them for one")
            w.data, scales, _ = requantize(graph.tensors[node.inputs[1]], weight_bits[node.name])
            w.scale = scales
            _keep_right_shift(mixed, node, weight_bits[node.name])
            ratio = ratio * graph.tensors[node.inputs[1]].scale.astype(np.float64) / w.scale.astype(np.float64)
        if len(node.inputs) < 3 or not node.inputs[2]:
            continue
        bias = mixed.tensors[node.inputs[2]]
        users = [n for n in mixed.nodes if bias.name in n.inputs]
        if len(users) != 1:
            raise ValueError(f"bias {bias.name!r} is shared by {len(users)} ops; cannot requantize it for one")
        v = bias.data.astype(np.float64) * ratio
        bias.data = round_half_away(v).astype(bias.data.dtype)
        if bias.scale is not None:
            bias.scale = (bias.scale.astype(np.float64) / ratio).astype(np.float32)
    return mixed


def _keep_right_shift(mixed: Graph, node, bits: int) -> None:
    """Per output channel of ``node``'s ``bits``-wide weight values (in int8 storage): store ``q x 2^k``
    with scale ``s / 2^k`` (the same real weights), with the least ``k <= 8 - bits`` that makes the
    requantization shift negative.

    The real multiplier ``s_in s_w / s_out`` of int4 weights (scale about 18x the int8 one) on a
    4-bit input (about 17x) often reaches 1/2, i.e. a shift >= 0; the DSP conv's fast epilogue
    (``fast_requant`` 2, conv_dsp.c) needs a right shift, and without it the layer takes the
    general per-channel path (2.7x the instructions on fashion_mbv2's expansion conv).  With
    ``2^k`` the accumulator is ``2^k`` times larger and the multiplier ``2^k`` times smaller (same
    mantissa, exactly: powers of two); the values still take ``2^bits`` levels, so the op's
    BitOPs keep ``bits``-bit weights.  The result may differ from ``k = 0`` by the second
    rounding of the shift; the reference computes it the same way (the graph holds the values)."""
    from edgec.reference.qparams import kernel_params

    w = mixed.tensors[node.inputs[1]]
    axis = w.axis or 0
    top = 8 - bits
    for _ in range(top):
        shift = np.broadcast_to(np.asarray(kernel_params(mixed, node)["out_shift"]).reshape(-1), w.scale.shape)
        up = shift >= 0
        if not up.any():
            return
        values = np.moveaxis(np.asarray(w.data, dtype=np.int64), axis, -1)
        peak = np.abs(values).max(axis=tuple(range(values.ndim - 1)))
        up &= peak * 2 <= 128  # 2 * [-64, 63] still fits int8
        up &= np.moveaxis(values, -1, 0).reshape(values.shape[-1], -1).max(axis=1) * 2 <= 127
        if not up.any():
            return
        values = np.where(up, values * 2, values)
        w.data = np.moveaxis(values, -1, axis).astype(np.int8)
        w.scale = np.where(up, w.scale / np.float32(2), w.scale).astype(np.float32)
