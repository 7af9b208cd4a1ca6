"""VDQS: the value-driven bit-width search of the patch stage's maps and weights.

Items: each group of stage maps that may go sub-byte (``assign.groups``;
widths 8, 4, 2) and each conv/depthwise conv after the VDPC prefix (weight
widths 8, 4: ``weights.py``).  For every item and narrower width ``b``:

* ``Omega(k, b)``: the output divergence of that choice applied alone, the
  mean KL divergence of the model's output from the int8 output over the
  first calibration samples (``sensitivity.OutputDivergence``).  QuantMCU's
  entropy change (``entropy.entropy_loss``, on the calibration non-outlier
  patches) is still computed and reported per map, but no longer scored: it
  says how coarse a map becomes, not how much the network cares
  (docs/mixed_precision.md);
* ``Phi(k, b)``: the stage BitOPs the choice saves **given the widths already
  fixed** (``bitops``; an int4 weight saves less once its input map is 4-bit).

Both are normalised by their largest value over all candidates (``Phi``
from the all-int8 stage) and scored ``S = -lambda x Omega' + (1 - lambda) x
Phi'``; 8 bits scores 0, and a choice that saves no BitOPs (a map only an add
reads) scores 0 without being measured.  The search fixes one item per step:
the unfixed item whose best width has the highest score (ties: the earlier
item, maps before weights; for an item, the wider width) gets that width,
until every item is fixed (then each sub-byte group's range is re-picked,
of its ``RANGE_CANDIDATES`` least-error ones, by the divergence of the whole
mixed variant: ``refine_ranges``).  Every step checks the memory budget: the mixed
variant's per-patch buffers (packed per pixel) may not exceed the int8
variant's, which the schedule already fits (sub-byte maps only shrink them,
so this never rejects a width today).  lambda = 1 keeps everything at 8
bits; lambda = 0 takes the narrowest width wherever that saves BitOPs.
"""

from __future__ import annotations

import time

import numpy as np

from edgec.ir.graph import Graph
from edgec.mixed import assign, bitops, vdpc
from edgec.mixed.entropy import entropy_loss
from edgec.mixed.plan import MixedPrecision, OutlierTest
from edgec.mixed.sensitivity import OutputDivergence
from edgec.mixed.stats import StageStats, collect_stats
from edgec.mixed.subbyte import pixel_bytes
from edgec.mixed.weights import CANDIDATE_WEIGHT_BITS, WEIGHT_OPS
from edgec.schedule.patch import PatchStage

DEFAULT_LAMBDA = 0.955  # picked on unused training images, not the held-out set (docs/mixed_precision.md)
CANDIDATE_BITS = (4, 2)
MAX_SAMPLES = 64  # calibration samples the statistics use (the first ones)
RANGE_CANDIDATES = 6  # clipped ranges per chosen sub-byte group compared by output divergence (1: MSE-best only)


def patch_buffer_bytes(graph: Graph, stage: PatchStage, bits: dict[str, int]) -> int:
    """Sum over stage maps of their largest per-patch region, packed at ``bits`` (8 when absent)."""
    total = 0
    for name in assign.stage_maps(graph, stage):
        area = max((p.regions[name].area for p in stage.patches if name in p.regions), default=0)
        total += area * pixel_bytes(graph.tensors[name].shape[3], bits.get(name, 8))
    return total


def weight_candidates(graph: Graph, stage: PatchStage, test_tensor: str) -> list[str]:
    """Stage ops after the VDPC prefix whose per-channel int8 weights may take int4 values."""
    prefix = set(assign.prefix_nodes(graph, stage, test_tensor))
    found = []
    for name in stage.nodes:
        node = graph.node(name)
        if node.op not in WEIGHT_OPS or name in prefix or len(node.inputs) < 2:
            continue
        w = graph.tensors[node.inputs[1]]
        if w.is_const and w.scale is not None and w.scale.size == w.shape[w.axis or 0]:
            found.append(name)
    return found


def search_bits(
    graph: Graph,
    stage: PatchStage,
    stats: StageStats,
    test: OutlierTest,
    fraction: float,
    lam: float,
    divergence: OutputDivergence,
    weight_widths: tuple[int, ...] = CANDIDATE_WEIGHT_BITS,
) -> tuple[dict[str, int], dict[str, tuple[int, float, int]], dict[str, int], list[dict]]:
    """Widths per stage map, the sub-byte maps' (bits, scale, zp), weight widths per op, and the score table."""
    mask = vdpc.outlier_mask(stats, test)
    hists = stats.histograms(~mask) if (~mask).any() else stats.histograms()
    groups = assign.groups(graph, stage, test.tensor)
    wops = weight_candidates(graph, stage, test.tensor) if weight_widths else []
    op_macs = bitops.stage_op_macs(graph, stage)
    # items: ("maps", group index) or ("weights", op name)
    items: list[tuple[str, object]] = [("maps", g) for g in range(len(groups))] + [("weights", n) for n in wops]
    params: dict[tuple[int, int], tuple[float, int]] = {}  # (group, bits) -> sub-byte (scale, zp)
    omega: dict[tuple[int, int], float] = {}  # (group, bits) -> entropy lost (reported)
    for g, members in enumerate(groups):
        t0 = graph.tensors[members[0]]
        s8, z8 = t0.qscale, t0.qzero
        union = sum(hists[m] for m in members)
        for b in CANDIDATE_BITS:
            scale, zp = assign.subbyte_params(union, s8, z8, b)
            params[(g, b)] = (scale, zp)
            omega[(g, b)] = sum(entropy_loss(hists[m], s8, z8, scale, zp, b) for m in members)

    def widths_of(k: int) -> tuple[int, ...]:
        return CANDIDATE_BITS if items[k][0] == "maps" else weight_widths

    def apply(state: tuple[dict, dict], k: int, b: int) -> tuple[dict, dict]:
        bits, wbits = state
        kind, what = items[k]
        if kind == "maps":
            return {**bits, **{m: b for m in groups[what]}}, wbits
        return bits, {**wbits, what: b}

    def cost(state: tuple[dict, dict]) -> float:
        return bitops.stage_bitops(graph, stage, state[0], fraction, state[1], op_macs)

    def alone(k: int, b: int) -> float:
        """Omega(k, b): the output divergence of this one choice (``sensitivity.py``)."""
        kind, what = items[k]
        if kind == "maps":
            scale, zp = params[(what, b)]
            mixed = assign.mixed_graph(graph, {m: (b, scale, zp) for m in groups[what]})
            return divergence(mixed, [graph.producer(m).name for m in groups[what]])
        return divergence(assign.mixed_graph(graph, {}, {what: b}), [what])

    start: tuple[dict, dict] = ({m: 8 for m in assign.stage_maps(graph, stage)}, {})
    base = cost(start)
    saved = {(k, b): base - cost(apply(start, k, b)) for k in range(len(items)) for b in widths_of(k)}
    # a choice that saves no BitOPs (a map only an add reads) scores 0 without being measured
    noise = {kb: alone(*kb) if phi > 0 else 0.0 for kb, phi in saved.items()}
    max_noise = max(noise.values(), default=0.0) or 1.0
    max_phi = max(saved.values(), default=0.0) or 1.0

    def score(state: tuple[dict, dict], k: int, b: int) -> float:
        if b == 8:
            return 0.0
        phi = cost(state) - cost(apply(state, k, b))
        return -lam * noise[(k, b)] / max_noise + (1 - lam) * phi / max_phi

    limit = patch_buffer_bytes(graph, stage, {})
    state = start
    table: list[dict] = []
    remaining = list(range(len(items)))
    while remaining:
        best = None
        for k in remaining:
            for b in (8, *widths_of(k)):  # wider first: ties keep the wider width
                trial = apply(state, k, b)
                if patch_buffer_bytes(graph, stage, trial[0]) > limit:
                    continue
                key = (score(state, k, b), -remaining.index(k))
                if best is None or key > best[0]:
                    best = (key, k, b)
        _, k, b = best
        kind, what = items[k]
        row = {"maps": groups[what]} if kind == "maps" else {"weights": what}
        row.update(
            {
                "bits": b,
                **({f"omega{w}": round(omega[(what, w)], 4) for w in widths_of(k)} if kind == "maps" else {}),
                **{f"kl{w}": round(noise[(k, w)], 5) for w in widths_of(k)},
                **{f"score{w}": round(score(state, k, w), 4) for w in widths_of(k)},
            }
        )
        table.append(row)
        remaining.remove(k)
        state = apply(state, k, b)
    bits, wbits = state
    chosen = {}
    for g, members in enumerate(groups):
        if bits[members[0]] != 8:
            scale, zp = params[(g, bits[members[0]])]
            chosen.update({m: (bits[m], scale, zp) for m in members})
    wbits = {n: b for n, b in wbits.items() if b != 8}
    if RANGE_CANDIDATES > 1:
        chosen = refine_ranges(graph, groups, hists, chosen, wbits, divergence, table)
    return bits, chosen, wbits, table


def refine_ranges(graph, groups, hists, chosen, wbits, divergence, table) -> dict[str, tuple[int, float, int]]:
    """With every width fixed, each sub-byte group in turn takes, of its ``RANGE_CANDIDATES`` least-error
    clipped ranges, the one whose whole mixed variant diverges least from int8 on the calibration
    samples (ties: the least-error range); recorded in ``table`` as ``range_kl``."""
    changed = sorted({graph.producer(m).name for m in chosen} | set(wbits), key=[n.name for n in graph.nodes].index)
    for members in groups:
        if members[0] not in chosen:
            continue
        b = chosen[members[0]][0]
        t0 = graph.tensors[members[0]]
        union = sum(hists[m] for m in members)
        trials = []
        for scale, zp in assign.range_candidates(union, t0.qscale, t0.qzero, b, RANGE_CANDIDATES):
            trial = {**chosen, **{m: (b, scale, zp) for m in members}}
            trials.append((divergence(assign.mixed_graph(graph, trial, wbits), changed), scale, zp))
        _, scale, zp = min(trials, key=lambda v: v[0])  # min keeps the first (least-error) of equal ones
        chosen = {**chosen, **{m: (b, scale, zp) for m in members}}
        table.append({"maps": members, "bits": b, "range_kl": [round(v[0], 5) for v in trials], "range": [scale, zp]})
    return chosen


def samples_to_int8(graph: Graph, samples: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Float calibration samples (``load_calibration``) as the int8 graph's inputs."""
    from edgec.tensor_io import io_specs, to_model_input

    specs = {s.name: s for s in io_specs(graph, graph.inputs)}
    return [{name: to_model_input(x[name], specs[name]) for name in graph.inputs} for x in samples]


def search_mixed(
    graph: Graph,
    stage: PatchStage,
    samples: list[dict[str, np.ndarray]],
    lam: float = DEFAULT_LAMBDA,
    outlier_fraction: float = vdpc.DEFAULT_OUTLIER_FRACTION,
    test: str = "auto",
    weight_widths: tuple[int, ...] = CANDIDATE_WEIGHT_BITS,
) -> MixedPrecision:
    """VDPC thresholds + VDQS widths for ``graph``'s patch stage from int8 input ``samples``."""
    start = time.perf_counter()
    samples = samples[:MAX_SAMPLES]
    names = {t: vdpc.test_tensor(graph, stage, t) for t in ("input", "first")}
    if test not in ("auto", *names):
        names[test] = vdpc.test_tensor(graph, stage, test)
    stats = collect_stats(
        graph, stage, samples, list(dict.fromkeys([*names.values(), *vdpc.test_candidates(graph, stage)]))
    )
    outlier_test = vdpc.pick_test(graph, stage, stats, names, outlier_fraction, test)
    fraction = float(vdpc.outlier_mask(stats, outlier_test).mean())
    divergence = OutputDivergence(graph, samples)
    bits, params, weight_bits, table = search_bits(
        graph, stage, stats, outlier_test, fraction, lam, divergence, weight_widths
    )
    mixed = assign.mixed_graph(graph, params, weight_bits)
    seconds = time.perf_counter() - start
    report = {
        "mode": "mixed",
        **bitops.report(graph, stage, bits, fraction, weight_bits),
        "outlier_patch_fraction": fraction,
        "bits": bits,
        "weight_bits": weight_bits,
        "weight_storage": "int8",
        "mixed_lambda": lam,
        "search_seconds": round(seconds, 3),
        "outlier_test": {"tensor": outlier_test.tensor, "lo": outlier_test.lo, "hi": outlier_test.hi},
        "calibration_samples": len(samples),
        "search": table,
    }
    return MixedPrecision(mixed, bits, outlier_test, fraction, lam, seconds, report, weight_bits)
