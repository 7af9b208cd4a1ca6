"""C for a mixed-precision patch stage (QuantMCU): two variants of the stage, chosen per patch.

With ``plan.mixed`` (an ``edgec.mixed.plan.MixedPrecision``) the patch loop runs,
at every patch:

1. the **shared prefix**: the stage ops up to and including the producer of the
   outlier-test tensor (int8 in both variants), as in an int8 stage;
2. the **classifier** (value-driven patch classification): the patch's region
   of the test tensor is scanned for a value outside ``[lo, hi]``
   (``edgec_has_outlier``); it is a profiler entry of its own;
3. the rest of the stage in the **int8 variant** (outlier patch) or in the
   **mixed variant** (``MixedPrecision.graph``: its own quantization
   parameters, feature maps of 4 or 2 bits stored packed per pixel).

When ``[lo, hi]`` is the whole int8 range (``MixedPrecision.int8_variant``
False) no patch can be an outlier: steps 2 and the int8 variant are left out
and every patch runs the mixed variant, possibly on a coarser grid whose
per-patch buffers are sized for the packed maps (``edgec/mixed/grid.py``;
then a packed output's int8 band is computed in the scratch, not in its own
buffer).

The mixed variant writes its packed maps into the per-patch buffers of the int8
variant (a packed region never takes more bytes than the int8 one), through
its own step tables whose offsets and strides are in bytes
(``pixel_bytes``).  An op with a packed operand runs a band of output rows at a
time (runtime/kernels/subbyte.h): the rows the band taps are unpacked into an
int8 scratch, the same int8 kernel variant as in the int8 stage computes the
band, and the band is packed.  The scratch is the largest stretch of the arena
that is free while the stage runs (the arena minus the per-patch buffers and
the split tensor), bands sized to fit it, when it has ``MIN_ARENA_SCRATCH``
bytes; else a static array of at most ``SCRATCH_BUDGET`` bytes (more only if
one row needs more).  Ops whose operands are all 8-bit run exactly like in
the int8 stage, with the mixed graph's parameters.
"""

from __future__ import annotations

import numpy as np

from edgec.codegen.cwriter import CWriter
from edgec.codegen.op_emitters import emit_node
from edgec.codegen.patch_stage import _buffer_window, _c_window, emit_step_table, op_record
from edgec.codegen.placement import PAD_FIELDS, PatchPlacement, shared_params
from edgec.errors import BuildError
from edgec.mixed.grid import min_scratch
from edgec.mixed.subbyte import pixel_bytes, qrange
from edgec.reference.qparams import kernel_params

WINDOWED_OPS = ("conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d")
ROW_OPS = ("add", "quantize")
PACKED_OPS = WINDOWED_OPS + ROW_OPS
SCRATCH = "edgec_subbyte_scratch"
SCRATCH_BUDGET = 2048  # bytes of int8 rows the packed ops may unpack/compute per kernel call (outside the arena)
MIN_ARENA_SCRATCH = 1024  # a free stretch of the arena at least this big holds the scratch instead

MIXED_TYPES = """\
/* A window of a buffer holding a packed (int4/int2) or int8 tensor; offsets and strides in bytes. */
static edgec_packed_view edgec_packed_window_view(int8_t *base, const edgec_window *win, int32_t channels, int32_t bits)
{
    edgec_packed_view v;
    v.data = (uint8_t *)base + win->offset;
    v.h = win->h;
    v.w = win->w;
    v.c = channels;
    v.row_stride = win->row_stride;
    v.pixel_stride = edgec_pixel_bytes(channels, bits);
    v.bits = bits;
    return v;
}
"""


def prefix_nodes(stage, graph, tensor: str) -> list[str]:
    """Stage ops up to and including the producer of ``tensor`` (none when it is a stage input)."""
    producer = graph.producer(tensor)
    if producer is None or producer.name not in stage.nodes:
        return []
    return stage.nodes[: stage.nodes.index(producer.name) + 1]


class MixedWeights:
    """The build's weight table seen from the mixed variant: a constant tensor is shared with the
    int8 variant when its data is identical (weights), else emitted again (e.g. a bias requantized
    for a new input scale)."""

    def __init__(self, base, graph8, mixed_graph):
        self.base = base
        self.names = base.names
        self.graph8 = graph8
        self.mixed_graph = mixed_graph
        self._own: dict[str, str] = {}

    def add(self, ident: str, data, ctype: str, comment: str = "") -> str:
        """A constant array; one the build already has (same type and values, e.g. a DSP weight layout
        of the int8 variant) is shared rather than emitted twice."""
        flat = np.asarray(data).reshape(-1)
        for have_ident, have_ctype, have_data, _ in self.base._arrays:
            if have_ctype == ctype and have_data.size == flat.size and np.array_equal(have_data, flat):
                return have_ident
        return self.base.add(ident, data, ctype, comment)

    def tensor(self, name: str, ident: str) -> str:
        t8, tm = self.graph8.tensors[name], self.mixed_graph.tensors[name]
        if t8.dtype == tm.dtype and np.array_equal(np.asarray(t8.data), np.asarray(tm.data)):
            return self.base.tensor(name, ident)
        if name not in self._own:
            shape = "x".join(map(str, tm.shape))
            self._own[name] = self.base.add(
                f"{ident}_mixed",
                np.asarray(tm.data),
                _ctype(tm.dtype),
                f"{name[:60]}: {tm.dtype} {shape} (mixed variant)",
            )
        return self._own[name]


def _ctype(dtype: str) -> str:
    from edgec.codegen.cwriter import c_type

    return c_type(dtype)


class MixedPlacement(PatchPlacement):
    """Patch windows of the mixed variant (step table ``s`` in bytes); sub-byte operands as packed views."""

    def __init__(self, names, node, globals_writer, packed: bool):
        super().__init__(names, node, globals_writer)
        self.packed = packed
        self.views: dict[str, str] = {}  # C variable -> tensor, in the order the emitter asked

    def view(self, tensor: str, var: str, const: bool = False, dims=None) -> str:
        t = self.names.graph.tensors[tensor]
        if not self.packed or t.is_const:
            if self.packed:
                raise BuildError(
                    f"node {self.node.name!r}: a constant operand next to a packed feature map has no sub-byte kernel"
                )
            return super().view(tensor, var, const, dims)
        self.views[var] = tensor
        window = "s->out" if tensor == self.node.outputs[0] else f"s->in[{self.node.inputs.index(tensor)}]"
        qual = "const " if const else ""
        return (
            f"{qual}edgec_packed_view {var}_p = edgec_packed_window_view({self.names.stage_pointer(tensor)}, "
            f"&{window}, {t.shape[-1]}, {t.bits});"
        )

    def params(self, w: CWriter, ctype: str, fields) -> None:
        shared_params(self, w, ctype, fields, "s", PAD_FIELDS, suffix="_mixed_params")


def _is_packed(graph, node) -> bool:
    return any(
        name and not graph.tensors[name].is_const and graph.tensors[name].bits < 8
        for name in [*node.inputs, *node.outputs]
    )


def _taps_h(graph, node) -> int:
    if node.op in ("max_pool2d", "avg_pool2d"):
        return int(node.attrs["kernel"][0])
    kh = graph.tensors[node.inputs[1]].shape[1]
    dh = node.attrs.get("dilation", (1, 1))[0]
    return (kh - 1) * dh + 1


def _max_width(stage, node, k: int | None) -> int:
    """Widest window of input ``k`` (None: the output) of ``node`` over the patches."""
    widths = [
        (op.output if k is None else op.inputs[k]).width
        for patch in stage.patches
        for op in patch.ops
        if op.node == node.name and (op.output if k is None else op.inputs[k]) is not None
    ]
    return max(widths, default=0)


def _aligned(n: int) -> int:
    return -(-n // 4) * 4


def _band_rows(fixed: int, per_row: int, most: int, budget: int) -> int:
    """Output rows per band: as many as fit ``budget`` bytes (scratch = fixed + rows * per_row), at least 1."""
    if per_row <= 0:
        return max(most, 1)
    return max(1, min(most, (budget - fixed) // per_row))


def free_arena_gap(names) -> tuple[int, int]:
    """(offset, bytes) of the largest free stretch of the arena while the patch stage runs: the arena
    minus the per-patch buffers and the split tensor ((0, 0) when a stage input lives in the arena)."""
    plan = names.plan
    if any(names.root(t) not in names.graph.inputs for t in plan.stage.inputs):
        return 0, 0
    split = plan.stage.split
    busy = sorted(
        [
            (plan.patch_base, plan.patch_base + plan.patch_plan.size),
            (
                plan.arena.offsets[names.root(split)],
                plan.arena.offsets[names.root(split)] + names.graph.tensors[split].nbytes,
            ),
        ]
    )
    best, start = (0, 0), 0
    for lo, hi in [*busy, (plan.arena_size, plan.arena_size)]:
        begin = -(-start // 4) * 4
        if lo - begin > best[1]:
            best = (begin, lo - begin)
        start = max(start, hi)
    return best


def _patch_buffer(names, tensor: str) -> tuple[int, int] | None:
    """[start, end) of ``tensor``'s per-patch buffer in the patch plan (None: a whole tensor)."""
    plan = names.plan.patch_plan
    root = plan.aliases.get(tensor, tensor)
    if names.is_whole_tensor(tensor) or root not in plan.offsets:
        return None
    return plan.offsets[root], plan.offsets[root] + plan.sizes[root]


def _overlaps(names, a: str, b: str) -> bool:
    ra, rb = _patch_buffer(names, a), _patch_buffer(names, b)
    return ra is not None and rb is not None and ra[0] < rb[1] and rb[0] < ra[1]


def _row_loop(names, stage, node, views: dict[str, str], call: str, budget: int) -> tuple[list[str], int]:
    """The band loop around the int8 kernel ``call`` of a packed op; returns (lines, scratch bytes).

    A packed output is computed as int8 in its own buffer (the int8 stage's window of it) and packed
    forward in place.  When an input shares memory with the output (an element-wise op the planner
    runs in place), the band is the whole window: every input row is unpacked before any is overwritten."""
    graph = names.graph
    out_var = next(v for v, t in views.items() if t == node.outputs[0])
    in_vars = [v for v, t in views.items() if t != node.outputs[0]]
    out_t = graph.tensors[node.outputs[0]]
    most = max((op.output.height for p in stage.patches for op in p.ops if op.node == node.name), default=1)
    if any(_overlaps(names, views[v], node.outputs[0]) for v in in_vars):
        budget = 1 << 30
    widen = _clamp_is_whole_range(graph, node)
    saturate = node.op == "quantize" or widen
    store = "edgec_packed_store_rows_saturated" if saturate else "edgec_packed_store_rows"
    ident = names.node_ids[node.name]
    in_buffer = out_t.bits < 8 and _holds_int8_window(names, stage, node)
    out_row = 0 if in_buffer or out_t.bits >= 8 else _max_width(stage, node, None) * out_t.shape[-1]
    head = []
    if in_buffer:
        pointer = names.stage_pointer(node.outputs[0])
        head = [
            f"const edgec_view {out_var}_int8 = edgec_window_view({pointer}, &{ident}_steps[patch].out, {out_t.shape[-1]});"
        ]
        out_rows = ["edgec_view {v} = edgec_view_rows(&{v}_int8, {y}, n);"]
    elif out_t.bits < 8:  # the packed buffer is too small for the int8 window: the band goes to the scratch
        out_rows = ["edgec_view {v};", "edgec_packed_output_rows(&{v}_p, {y}, n, {at}, &{v});"]
    else:
        out_rows = ["edgec_view {v};", "edgec_packed_output_rows(&{v}_p, {y}, n, NULL, &{v});"]
    if widen:
        head += [
            f"/* the clamp is the whole {out_t.bits}-bit range: computed as int8 (one SSAT), saturated when packed */",
            "params.act_min = -128;",
            "params.act_max = 127;",
        ]
    offset = 0
    place: dict[str, int] = {}

    def reserve(var: str, nbytes: int) -> None:
        nonlocal offset
        place[var] = offset
        offset += _aligned(nbytes)

    def at(var: str) -> str:
        return f"{SCRATCH} + {place[var]}" if place[var] else SCRATCH

    if node.op in WINDOWED_OPS:
        (in_var,) = in_vars
        x = graph.tensors[views[in_var]]
        taps = _taps_h(graph, node)
        stride = node.attrs.get("stride", (1, 1))[0]
        in_row = _max_width(stage, node, 0) * x.shape[-1] if x.bits < 8 else 0
        band = _band_rows((taps - stride) * in_row, stride * in_row + out_row, most, budget)
        reserve(in_var, ((band - 1) * stride + taps) * in_row)
        reserve(out_var, band * out_row)
        lines = [
            *head,
            "const int32_t pad_top = params.pad_top;",
            f"for (int32_t oy = 0; oy < {out_var}_p.h; oy += {band}) {{",
            f"    const int32_t n = {out_var}_p.h - oy < {band} ? {out_var}_p.h - oy : {band};",
            f"    edgec_view {in_var};",
            f"    params.pad_top = (int16_t)edgec_packed_input_rows(&{in_var}_p, oy * params.stride_h - pad_top,",
            f"                                                      (n - 1) * params.stride_h + {taps}, {at(in_var)}, &{in_var});",
            *("    " + r.format(v=out_var, y="oy", at=at(out_var)) for r in out_rows),
            f"    {call}",
            f"    {store}(&{out_var}_p, oy, &{out_var});",
            "}",
        ]
        return lines, offset
    rows = {}
    for var in in_vars:
        t = graph.tensors[views[var]]
        if tuple(t.shape) != tuple(out_t.shape):
            raise BuildError(
                f"node {node.name!r}: a broadcasting {node.op} has no sub-byte kernel; keep its operands at 8 bits"
            )
        rows[var] = _max_width(stage, node, node.inputs.index(views[var])) * t.shape[-1] if t.bits < 8 else 0
    band = _band_rows(0, sum(rows.values()) + out_row, most, budget)
    for var in in_vars:
        reserve(var, band * rows[var])
    reserve(out_var, band * out_row)
    lines = [
        *head,
        f"for (int32_t y = 0; y < {out_var}_p.h; y += {band}) {{",
        f"    const int32_t n = {out_var}_p.h - y < {band} ? {out_var}_p.h - y : {band};",
        f"    edgec_view {', '.join(in_vars)};",
    ]
    lines += [f"    edgec_packed_rows(&{v}_p, y, n, {at(v)}, &{v});" for v in in_vars]
    lines += [
        *("    " + r.format(v=out_var, y="y", at=at(out_var)) for r in out_rows),
        f"    {call}",
        f"    {store}(&{out_var}_p, y, &{out_var});",
        "}",
    ]
    return lines, offset


def _holds_int8_window(names, stage, node) -> bool:
    """Whether the buffer of ``node``'s packed output can take its int8 window (the int8 stage's
    buffers can; a mixed stage on its own grid has buffers sized for the packed maps)."""
    span = _patch_buffer(names, node.outputs[0])
    if span is None:
        return True
    out = names.graph.tensors[node.outputs[0]]
    need = max(
        (op.output.area * out.shape[-1] for p in stage.patches for op in p.ops if op.node == node.name), default=0
    )
    return span[1] - span[0] >= need


def _clamp_is_whole_range(graph, node) -> bool:
    """A conv with a sub-byte output whose clamp is the output width's whole range: the int8 kernel may
    clamp to int8 instead (the DSP conv's fast path is for that range only) and the packing saturate;
    min(max(v, -128), 127) saturated to [lo, hi] is min(max(v, lo), hi) for lo >= -128, hi <= 127."""
    out = graph.tensors[node.outputs[0]]
    if node.op != "conv2d" or out.bits >= 8:
        return False
    params = kernel_params(graph, node)
    return (params["act_min"], params["act_max"]) == qrange(out.bits)


def _direct_max_pool(names, node) -> bool:
    """A max pool whose input and output have the same sub-byte width and separate buffers runs on
    the packed lanes (edgec_max_pool2d_packed), without the unpack / int8 kernel / pack round trip."""
    if node.op != "max_pool2d":
        return False
    x, y = (names.graph.tensors[t] for t in (node.inputs[0], node.outputs[0]))
    return x.bits == y.bits < 8 and not _overlaps(names, node.inputs[0], node.outputs[0])


def _emit_mixed_op(body: CWriter, globals_w: CWriter, names, weights, stage, node, budget: int) -> tuple[str, int]:
    """One op of the mixed variant (``names.graph`` is the mixed graph); returns (kernel, scratch bytes)."""
    graph = names.graph
    step = f"const edgec_patch_step *s = &{names.node_ids[node.name]}_mixed_steps[patch];"
    packed = _is_packed(graph, node)
    if packed and node.op not in PACKED_OPS:
        raise BuildError(
            f"node {node.name!r} ({node.op}) has a {min(graph.tensors[t].bits for t in node.inputs + node.outputs if t and not graph.tensors[t].is_const)}-bit "
            f"feature map but sub-byte kernels exist for {', '.join(PACKED_OPS)} only: keep its operands at 8 bits"
        )
    place = MixedPlacement(names, node, globals_w, packed)
    if not packed:
        return emit_node(body, names, weights, node, place, prologue=(step,)), 0
    tmp = CWriter()
    kernel = emit_node(tmp, names, weights, node, place, prologue=(step,))
    lines = tmp.text().rstrip("\n").split("\n")
    call = lines[-2].strip()
    if not call.startswith(kernel + "("):
        raise BuildError(f"node {node.name!r}: unexpected kernel call {call!r} for the sub-byte row loop")
    widths = "/".join(f"{graph.tensors[t].bits}" for t in place.views.values())
    for line in lines[:-2]:
        body.line(line)
    if _direct_max_pool(names, node):
        out_var = next(v for v, t in place.views.items() if t == node.outputs[0])
        in_var = next(v for v, t in place.views.items() if t == node.inputs[0])
        body.line(f"    /* packed operands ({widths} bits): max pool on the packed lanes */")
        body.line(f"    edgec_max_pool2d_packed(&{in_var}_p, &{out_var}_p, &params);")
        body.line(lines[-1])
        return "edgec_max_pool2d_packed", 0
    loop, scratch = _row_loop(names, stage, node, place.views, call, budget)
    body.line(f"    /* packed operands ({widths} bits): bands of output rows through {kernel} */")
    for line in loop:
        body.line("    " + line)
    body.line(lines[-1])
    return f"{kernel}+packed", scratch


def _needs_int8_steps(names, stage, mgraph, name: str) -> bool:
    """Whether the mixed variant's code of ``name`` reads the int8 step table (the int8 window of a
    packed output computed in its own buffer)."""
    node = mgraph.node(name)
    if node.op not in PACKED_OPS or mgraph.tensors[node.outputs[0]].bits >= 8:
        return False
    graph = names.graph
    names.graph = mgraph  # _direct_max_pool reads the widths of the mixed variant
    try:
        direct = _direct_max_pool(names, node)
    finally:
        names.graph = graph
    return not direct and _holds_int8_window(names, stage, node)


def _weighted(record: dict, precision: str, share: float) -> dict:
    """An op record of one variant: its MACs weighted by the share of patches expected to take it
    (the calibration outlier fraction), so that the records of both variants add up to the stage's
    MACs; ``macs_all_patches`` keeps the unweighted count."""
    return record | {"precision": precision, "macs": round(record["macs"] * share), "macs_all_patches": record["macs"]}


def emit_mixed_patch_stage(
    body: CWriter, globals_w: CWriter, names, weights, stage, first_index: int, max_inputs: int, mixed
) -> list[dict]:
    """The two-variant patch stage: step tables and globals into ``globals_w``, the loop into ``body``."""
    graph8 = names.graph
    mgraph = mixed.graph
    test = mixed.outlier_test
    prefix = prefix_nodes(stage, graph8, test.tensor)
    suffix = [n for n in stage.nodes if n not in prefix]
    if (
        test.tensor not in graph8.tensors
        or graph8.tensors[test.tensor].bits != 8
        or mgraph.tensors[test.tensor].bits != 8
    ):
        raise BuildError(f"the outlier test tensor {test.tensor!r} must be an 8-bit tensor of the patch stage")
    count = len(stage.patches)
    both = mixed.int8_variant  # False: no value lies outside [lo, hi]; every patch runs the mixed variant
    for name in stage.nodes if both else [*prefix, *(n for n in suffix if _needs_int8_steps(names, stage, mgraph, n))]:
        emit_step_table(globals_w, names, graph8.node(name), stage, max_inputs, f"{names.node_ids[name]}_steps")
    names.graph = mgraph
    try:
        for name in suffix:
            emit_step_table(
                globals_w, names, mgraph.node(name), stage, max_inputs, f"{names.node_ids[name]}_mixed_steps",
                lambda t: pixel_bytes(mgraph.tensors[t].shape[-1], mgraph.tensors[t].bits),
            )  # fmt: skip
    finally:
        names.graph = graph8
    test_ident = f"vdpc_{names.tensor_ids[test.tensor]}_windows"
    if both:
        globals_w.comment(
            f"VDPC: each patch's region of {test.tensor[:40]}, scanned for values outside [{test.lo}, {test.hi}]."
        )
        globals_w.line(f"static const edgec_window {test_ident}[{count}] = {{")
        for patch in stage.patches:
            win = patch.regions.get(test.tensor)
            globals_w.line(f"    {_c_window(_buffer_window(names, test.tensor, win, patch))},")
        globals_w.line("};")
        globals_w.line()
    if any(_is_packed(mgraph, mgraph.node(name)) for name in suffix):  # int4 weights alone need no packed view
        globals_w.lines(MIXED_TYPES.splitlines())
        globals_w.line()

    split = graph8.tensors[stage.split]
    gh, gw = stage.grid
    if both:
        body.comment(
            f"Mixed-precision patch stage: {len(stage.nodes)} ops on a {gh}x{gw} grid over {stage.split[:40]} "
            f"({'x'.join(map(str, split.shape))}); {len(prefix)} shared int8 ops, then per patch the int8 variant "
            f"(outlier patch) or the mixed variant of {len(suffix)} ops."
        )
    else:
        body.comment(
            f"Mixed-precision patch stage: {len(stage.nodes)} ops on a {gh}x{gw} grid over {stage.split[:40]} "
            f"({'x'.join(map(str, split.shape))}); {len(prefix)} int8 ops, then the mixed variant of {len(suffix)} "
            f"ops on every patch (the outlier thresholds [{test.lo}, {test.hi}] are the whole int8 range: no patch "
            "is classified)."
        )
    fraction = min(max(float(mixed.outlier_patch_fraction), 0.0), 1.0)
    ops: list[dict] = []
    index = first_index
    scratch = 0
    gap_offset, gap = free_arena_gap(names)
    # the arena's free stretch when it is big enough, or holds bands of one row (what grid.py reserves)
    least = min_scratch(graph8, stage, mgraph)
    budget = gap if gap >= MIN_ARENA_SCRATCH or 0 < least <= gap else SCRATCH_BUDGET
    def emit_int8(name: str) -> str:
        """One op of the int8 variant (or the shared prefix) at the current patch; returns its kernel."""
        node = graph8.node(name)
        kernel = emit_node(
            body,
            names,
            weights,
            node,
            PatchPlacement(names, node, globals_w),
            prologue=(f"const edgec_patch_step *s = &{names.node_ids[name]}_steps[patch];",),
        )
        body.line(f"EDGEC_PROFILE_OP({index});")
        return kernel

    with body.block(f"for (int patch = 0; patch < {count}; patch++)"):
        for name in prefix:
            kernel = emit_int8(name)
            ops.append(op_record(graph8, stage, graph8.node(name), index, kernel) | {"precision": "shared"})
            index += 1
        if both:
            channels = graph8.tensors[test.tensor].shape[-1]
            body.comment(
                "Value-driven patch classification: an outlier patch runs the int8 variant, the others the mixed one."
            )
            body.line(
                f"const edgec_view vdpc_window = edgec_window_view({names.stage_pointer(test.tensor)}, &{test_ident}[patch], {channels});"
            )
            body.line(f"const int outlier = edgec_has_outlier(&vdpc_window, {test.lo}, {test.hi});")
            body.line(f"EDGEC_PROFILE_OP({index});")
            ops.append(
                {"index": index, "name": f"vdpc:{test.tensor}", "op": "vdpc_classify", "kernel": "edgec_has_outlier", "macs": 0,
                 "output_shape": [], "arena_offset": None, "patches": count, "precision": "shared"}
            )  # fmt: skip
            index += 1
            with body.block("if (outlier)"):
                for name in suffix:
                    kernel = emit_int8(name)
                    ops.append(_weighted(op_record(graph8, stage, graph8.node(name), index, kernel), "int8", fraction))
                    index += 1
        with body.block("else" if both else "/* the mixed variant */"):
            names.graph = mgraph
            mweights = MixedWeights(weights, graph8, mgraph)
            try:
                for name in suffix:
                    node = mgraph.node(name)
                    kernel, need = _emit_mixed_op(body, globals_w, names, mweights, stage, node, budget)
                    scratch = max(scratch, need)
                    body.line(f"EDGEC_PROFILE_OP({index});")
                    ops.append(_weighted(op_record(mgraph, stage, node, index, kernel), "mixed", 1.0 - fraction))
                    index += 1
            finally:
                names.graph = graph8
                names.weights = weights
    body.line()
    if scratch and scratch <= gap:
        globals_w.comment(
            f"Rows of packed feature maps unpacked for the int8 kernels (mixed patch stage): {scratch} bytes of the "
            "arena that are free while the stage runs."
        )
        globals_w.line(f"static int8_t *const {SCRATCH} = arena + {gap_offset};")
        globals_w.line()
    elif scratch:
        globals_w.comment(
            "Rows of packed feature maps unpacked for the int8 kernels (mixed variant of the patch stage)."
        )
        globals_w.line(f"static int8_t {SCRATCH}[{scratch}] __attribute__((aligned(4)));")
        globals_w.line()
    return ops
