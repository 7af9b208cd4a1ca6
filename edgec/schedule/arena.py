"""Static arena planning for layer-by-layer execution.

``plan_arena`` gives every activation tensor that is not external (by
default the graph inputs and outputs, which live in the caller's buffers:
``edgec_model_run(const int8_t *in, int8_t *out)``) a byte offset in one
arena:

1. tensors joined by alias ops share one buffer (``lifetimes.build_buffers``);
2. optionally, an op writes its output over an input that dies there
   (element-wise ops; depthwise convolutions with a small ring of padded rows
   as scratch, see ``inplace_depthwise``), kept only where that lowers the arena size;
3. buffers are placed greedily, largest first, each at the lowest aligned
   offset that overlaps no placed buffer with an overlapping lifetime (gap
   filling, as TFLite Micro's greedy planner does).

In-place depthwise convolution (``inplace_depthwise=True``): a
``depthwise_conv2d`` with ``depth_multiplier == 1`` whose input dies at it
and whose output is no larger (``OH*OW <= H*W``) writes its output into the
input's buffer.  In NHWC the output element ``(p, c)`` (``p = oy*OW+ox``)
sits at byte ``(p*C + c)*itemsize``, which holds input element ``(p, c)``:
channel ``c`` only overwrites channel ``c``.  The kernel
(``runtime/kernels/depthwise_inplace.c``) runs channel by channel and, within
a channel, output row by output row: the input rows ``iy = oy*stride_h -
pad_top + k*dilation_h`` that output row ``oy`` taps are copied into a ring
of ``R = (KH - 1)*dilation_h + 1`` zero-padded rows (padded row ``r`` in slot
``r mod R``; border columns and out-of-range rows hold the input zero point)
the first time they are tapped, then output row ``oy`` is computed from the
ring into the shared buffer.  The ring always holds the rows the current
output row taps (they lie in a window of ``R`` consecutive padded rows).  An
input row must still be intact when it is first copied: per channel, the
outputs written before output row ``oy0`` occupy element positions
``< oy0*OW`` and input row ``iy`` starts at ``iy*W``, so in-place needs
``iy*W >= oy0*OW`` for every tapped row ``iy`` with first use ``oy0``
(``_depthwise_inplace_ok`` iterates the rows).  With dilation 1,
``pad_top <= KH - 1`` and ``OW <= W`` it always holds, for any stride: the
first use is ``oy0 = max(0, ceil((iy + pad_top - KH + 1) / stride_h)) <= iy``.  The scratch ring is ``R * (W + pad_left + pad_right) * itemsize``
bytes, so the inner loop needs no border checks; ``plan.inplace_depthwise[node]``
records that size and ``plan.scratch_offsets[node]`` its offset.

Streamed residual projection (``stream_residual=True``): a pointwise
``conv2d`` C (1x1 kernel, stride 1, no padding, groups 1) whose output T is
read only by an ``add``/``sub`` A whose other input R has T's shape and dies
at A.  Codegen then runs C and A together, a few pixels at a time, at C's
place in the node order: C computes ``chunk`` pixels of T into a small buffer,
A adds them to the same pixels of R and writes the result over R (A's output
shares R's buffer).  A 1x1 convolution is per pixel, so any run of pixels of
the flattened ``H*W`` image is a valid chunk, and the numbers are exactly
those of the unfused pair (T is still requantized with its own parameters,
then added as before).  T then needs ``chunk * Co`` bytes instead of
``H*W*Co``; ``plan.streamed[C] = A`` records the fusion and
``plan.stream_pixels[C]`` the chunk.  The chunk is one image row unless a
smaller one (16, 8 or 4 pixels, ``STREAM_CHUNK_LIMITS``) lowers the arena.  Fusions are kept only where they lower the
arena; the layer-wise lower bound stays that of the unfused graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edgec.ir.graph import Graph, Node
from edgec.ir.ops import OPS
from edgec.schedule.lifetimes import Buffer, Lifetime, build_buffers, default_external, live_bytes_per_op
from edgec.schedule.rows import RowSegment, analyze_segment, find_chains

BROADCAST_OPS = frozenset({"add", "sub", "mul"})

InplaceFilter = Callable[[Node, str], bool]


@dataclass
class ArenaPlan:
    """Where every arena tensor lives, and why."""

    offsets: dict[str, int]  # tensor -> byte offset in the arena (aliases share their root's offset)
    sizes: dict[str, int]  # tensor -> bytes it occupies (a streamed conv output: one chunk)
    lifetimes: dict[str, Lifetime]  # tensor -> [first writing op, last reading op] of its own
    aliases: dict[str, str]  # tensor -> root tensor whose memory it shares (roots omitted)
    size: int  # arena bytes
    lower_bound: int  # max over ops of the bytes live there (no in-place, aliases counted once)
    per_op_live_bytes: list[int]  # bytes live at each op under this plan (in-place and scratch included)
    alignment: int = 16
    external: set[str] = field(default_factory=set)  # tensors in caller buffers (incl. their aliases)
    inplace: dict[str, str] = field(default_factory=dict)  # element-wise node -> input it overwrites
    inplace_depthwise: dict[str, int] = field(default_factory=dict)  # depthwise node -> scratch bytes
    scratch_offsets: dict[str, int] = field(default_factory=dict)  # depthwise node -> scratch offset
    buffers: list[Buffer] = field(default_factory=list)  # the placed buffers (after in-place merges)
    streamed: dict[str, str] = field(default_factory=dict)  # pointwise conv node -> add/sub node it streams into
    stream_pixels: dict[str, int] = field(default_factory=dict)  # streamed conv node -> pixels per step
    row_segments: list[RowSegment] = field(default_factory=list)  # chains run row by row (``edgec.schedule.rows``)

    @property
    def planned_peak(self) -> int:
        """The lower bound for this plan's buffers (in-place merges included)."""
        return max(self.per_op_live_bytes, default=0)

    def summary(self) -> str:
        ratio = self.size / self.lower_bound if self.lower_bound else 1.0
        return (
            f"arena {self.size} B, layer-wise lower bound {self.lower_bound} B ({ratio:.3f}x), "
            f"{len(self.inplace)} in-place element-wise, {len(self.inplace_depthwise)} in-place depthwise, "
            f"{len(self.streamed)} streamed residual projections, {len(self.row_segments)} row-streamed segments"
        )


def align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def place_greedy(buffers: list[Buffer], alignment: int) -> dict[str, int]:
    """Offsets of ``buffers``: largest first, lowest aligned gap free during its lifetime."""
    placed: list[tuple[int, int, Buffer]] = []
    offsets: dict[str, int] = {}
    for buf in sorted(buffers, key=lambda b: (-b.size, b.start, b.name)):
        busy = sorted((lo, hi) for lo, hi, other in placed if other.overlaps_in_time(buf))
        offset = 0
        for lo, hi in busy:
            if offset + buf.size <= lo:
                break
            offset = max(offset, align_up(hi, alignment))
        placed.append((offset, offset + buf.size, buf))
        offsets[buf.name] = offset
    return offsets


def arena_size(buffers: list[Buffer], offsets: dict[str, int]) -> int:
    return max((offsets[b.name] + b.size for b in buffers), default=0)


# -- in-place candidates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """Node ``node`` (at ``step``) writes output ``output`` over input ``source``."""

    step: int
    node: str
    source: str
    output: str
    scratch: int = 0  # > 0: in-place depthwise with this many scratch bytes


def _elementwise_sources(graph: Graph, node: Node) -> list[str]:
    """Inputs an element-wise node could overwrite with its output (same shape and bytes)."""
    op = OPS.get(node.op)
    if op is None or len(node.outputs) != 1 or not (op.elementwise or node.op in BROADCAST_OPS):
        return []
    out = graph.tensors[node.outputs[0]]
    sources = []
    for name in node.inputs:
        if not name or graph.tensors[name].is_const:
            continue
        t = graph.tensors[name]
        if t.shape == out.shape and t.nbytes == out.nbytes:
            sources.append(name)
    return sources


def depthwise_scratch_bytes(graph: Graph, node: Node) -> int:
    """Bytes of the ring of zero-padded input rows an in-place depthwise kernel needs (module docstring):
    ``((KH - 1) * dilation_h + 1) * (W + pad_left + pad_right) * itemsize``, all of which it writes."""
    x = graph.tensors[node.inputs[0]]
    kh = graph.tensors[node.inputs[1]].shape[1]
    dh = node.attrs.get("dilation", (1, 1))[0]
    _, left, _, right = node.attrs.get("pad", (0, 0, 0, 0))
    return ((kh - 1) * dh + 1) * (x.shape[2] + left + right) * x.itemsize


def _depthwise_inplace_ok(graph: Graph, node: Node) -> bool:
    """Whether ``node`` may run in place (module docstring): depth multiplier 1, ``OH*OW <= H*W``, and
    no input row overwritten before its first use copies it into the row ring."""
    if node.op != "depthwise_conv2d" or node.attrs.get("depth_multiplier", 1) != 1:
        return False
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1 or x.shape[3] != y.shape[3]:
        return False
    _, h, w, _ = x.shape
    _, oh, ow, _ = y.shape
    if x.itemsize != y.itemsize or oh * ow > h * w:
        return False
    kh = graph.tensors[node.inputs[1]].shape[1]
    sh = node.attrs.get("stride", (1, 1))[0]
    dh = node.attrs.get("dilation", (1, 1))[0]
    top = node.attrs.get("pad", (0, 0, 0, 0))[0]
    # Per channel, outputs written before output row oy0 occupy element positions < oy0*OW; input row
    # iy occupies [iy*W, iy*W + W).  Each row must still be intact at its first use.
    first_use: set[int] = set()
    for oy in range(oh):
        for k in range(kh):
            iy = oy * sh + k * dh - top
            if 0 <= iy < h and iy not in first_use:
                first_use.add(iy)
                if iy * w < oy * ow:
                    return False
    return True


def candidate_merges(graph: Graph, depthwise: bool, allow: InplaceFilter | None) -> list[Merge]:
    merges = []
    for step, node in enumerate(graph.nodes):
        if depthwise and _depthwise_inplace_ok(graph, node) and (allow is None or allow(node, node.inputs[0])):
            merges.append(Merge(step, node.name, node.inputs[0], node.outputs[0], depthwise_scratch_bytes(graph, node)))
            continue
        for src in _elementwise_sources(graph, node):
            if allow is None or allow(node, src):
                merges.append(Merge(step, node.name, src, node.outputs[0]))
    return merges


def _copy_buffers(base: list[Buffer]) -> tuple[dict[str, Buffer], dict[str, str]]:
    """Independent copies of ``base`` by name, and the buffer owning each member tensor."""
    buffers = {b.name: Buffer(b.name, list(b.members), b.size, b.start, b.end, b.external, dict(b.meta)) for b in base}
    return buffers, {m: b.name for b in buffers.values() for m in b.members}


def _absorb(buffers: dict[str, Buffer], owner: dict[str, str], keep: Buffer, gone: Buffer) -> None:
    """Make ``gone``'s tensors share ``keep``'s memory (``keep`` grows to cover both)."""
    keep.members += gone.members
    keep.size = max(keep.size, gone.size)
    keep.end = max(keep.end, gone.end)
    for m in gone.members:
        owner[m] = keep.name
    del buffers[gone.name]


def apply_merges(base: list[Buffer], merges: list[Merge]) -> tuple[list[Buffer], list[Merge]]:
    """Merge buffers for each still-legal merge; return the buffers (plus scratch) and the merges done."""
    buffers, owner = _copy_buffers(base)
    done: list[Merge] = []
    scratch: list[Buffer] = []
    taken_outputs: set[str] = set()
    for merge in sorted(merges, key=lambda m: m.step):
        if merge.output in taken_outputs:
            continue
        src, dst = buffers[owner[merge.source]], buffers[owner[merge.output]]
        if src is dst or src.external or dst.external or src.end != merge.step or dst.start != merge.step:
            continue
        if merge.scratch == 0 and src.size != dst.size:
            continue
        _absorb(buffers, owner, src, dst)
        taken_outputs.add(merge.output)
        done.append(merge)
        if merge.scratch:
            scratch.append(
                Buffer(
                    f"{merge.node}.scratch", [], merge.scratch, merge.step, merge.step, meta={"scratch_of": merge.node}
                )
            )
    return list(buffers.values()) + scratch, done


def _place(buffers: list[Buffer], alignment: int) -> tuple[int, dict[str, int]]:
    internal = [b for b in buffers if not b.external]
    offsets = place_greedy(internal, alignment)
    return arena_size(internal, offsets), offsets


def choose_merges(base: list[Buffer], candidates: list[Merge], alignment: int) -> list[Merge]:
    """The in-place merges worth doing: all legal ones, then drop each one whose removal costs nothing."""
    if not candidates:
        return []
    none_size, _ = _place(base, alignment)
    merged, chosen = apply_merges(base, candidates)
    all_size, _ = _place(merged, alignment)
    if all_size >= none_size:
        return []
    best = all_size
    for merge in list(chosen):
        trial = [m for m in chosen if m != merge]
        size, _ = _place(apply_merges(base, trial)[0], alignment)
        if size <= best:
            chosen, best = trial, size
    return chosen


# -- streamed residual projections ---------------------------------------------------------------

STREAM_ADD_OPS = frozenset({"add", "sub"})
# Pixels per streamed step, coarse to fine: one image row, then at most 16, 8 and 4 pixels (no fewer:
# the 1x1 kernel works on 4 pixels at a time).
STREAM_CHUNK_LIMITS = (None, 16, 8, 4)
MIN_STREAM_CHUNK = 4


@dataclass(frozen=True)
class Stream:
    """Pointwise conv ``conv`` (output ``tensor``) streamed into ``add``, which writes ``output`` over ``residual``."""

    conv_step: int
    conv: str
    add_step: int
    add: str
    tensor: str
    residual: str
    output: str
    height: int
    width: int
    pixel_bytes: int  # bytes of one pixel of ``tensor`` (Co * itemsize)

    def merge(self) -> Merge:
        return Merge(self.add_step, self.add, self.residual, self.output)

    def chunk(self, limit: int | None) -> int:
        """Pixels per step: one row (``limit`` None), else the largest divisor of H*W up to ``limit`` and one row.

        Chunks below ``MIN_STREAM_CHUNK`` pixels are not used (one row instead).
        """
        if limit is None:
            return self.width
        pixels = self.height * self.width
        cap = min(limit, self.width)
        fits = [d for d in range(MIN_STREAM_CHUNK, cap + 1) if pixels % d == 0]
        return max(fits) if fits else self.width


def is_pointwise_conv(graph: Graph, node: Node) -> bool:
    """A batch-1 ``conv2d`` with a 1x1 kernel, stride 1, no padding and groups 1 (a per-pixel matmul)."""
    if node.op != "conv2d" or len(node.outputs) != 1 or len(node.inputs) < 2:
        return False
    a = node.attrs
    if tuple(a.get("stride", (1, 1))) != (1, 1) or any(a.get("pad", (0, 0, 0, 0))) or a.get("groups", 1) != 1:
        return False
    w = graph.tensors[node.inputs[1]]
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    if len(w.shape) != 4 or tuple(w.shape[1:3]) != (1, 1) or len(x.shape) != 4 or len(y.shape) != 4:
        return False
    return x.shape[0] == 1 and tuple(x.shape[:3]) == tuple(y.shape[:3])


def stream_partner(graph: Graph, conv: Node) -> tuple[Node, str] | None:
    """``(add node, residual input)`` when ``conv``'s output is read by one add/sub only, next to a same-shape tensor."""
    if not is_pointwise_conv(graph, conv):
        return None
    t = conv.outputs[0]
    users = [n for n in graph.nodes if t in n.inputs]
    if len(users) != 1 or users[0].op not in STREAM_ADD_OPS or len(users[0].inputs) != 2:
        return None
    add = users[0]
    if add.inputs.count(t) != 1 or len(add.outputs) != 1:
        return None
    r = add.inputs[1 - add.inputs.index(t)]
    if not r or graph.tensors[r].is_const or r == conv.inputs[0]:
        return None
    tt, rt, yt = graph.tensors[t], graph.tensors[r], graph.tensors[add.outputs[0]]
    if not (tt.shape == rt.shape == yt.shape) or not (tt.nbytes == rt.nbytes == yt.nbytes):
        return None
    return add, r


def stream_candidates(graph: Graph, base: list[Buffer]) -> list[Stream]:
    """Every pointwise conv + add/sub pair that can run streamed (module docstring) under ``base``'s buffers."""
    owner = {m: b for b in base for m in b.members}
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    streams: list[Stream] = []
    for c_step, conv in enumerate(graph.nodes):
        partner = stream_partner(graph, conv)
        if partner is None or any(s.add == partner[0].name for s in streams):
            continue
        add, r = partner
        t, y, x = conv.outputs[0], add.outputs[0], conv.inputs[0]
        a_step = index[add.name]
        tb, rb, yb = owner.get(t), owner.get(r), owner.get(y)
        if tb is None or rb is None or yb is None or tb.external or rb.external or yb.external:
            continue
        # T alone in its buffer, R dies at A and exists before C, A's output starts at A, C does not read R's memory.
        if tb.members != [t] or rb.end != a_step or rb.start >= c_step or yb.start != a_step or x in rb.members:
            continue
        touched = {*rb.members, t}
        if any(name in touched for n in graph.nodes[c_step + 1 : a_step] for name in [*n.inputs, *n.outputs]):
            continue
        _, h, w, _ = graph.tensors[t].shape
        streams.append(Stream(c_step, conv.name, a_step, add.name, t, r, y, h, w, graph.tensors[t].nbytes // (h * w)))
    return streams


def streamed_buffers(base: list[Buffer], streams: list[Stream], limit: int | None) -> tuple[list[Buffer], list[Stream]]:
    """``base`` with A's output merged into R's buffer and the conv output shrunk to one chunk, per stream.

    Returns the buffers and the streams whose merge was legal (only those are shrunk).
    """
    merged, done = apply_merges(base, [s.merge() for s in streams])
    done_adds = {m.node for m in done}
    kept = [s for s in streams if s.add in done_adds]
    by_tensor = {s.tensor: s for s in kept}
    buffers = []
    for b in merged:
        s = by_tensor.get(b.name)
        if s is not None:
            b.size = s.chunk(limit) * s.pixel_bytes
            b.meta["streamed_by"] = s.conv
        buffers.append(b)
    return buffers, kept


def choose_streams(
    base: list[Buffer], streams: list[Stream], candidates: list[Merge], alignment: int
) -> tuple[list[Stream], int | None]:
    """The streams worth doing and the chunk limit: like ``choose_merges``, the other merges all applied."""
    if not streams:
        return [], None

    def size(selected: list[Stream], limit: int | None) -> int:
        buffers, done = streamed_buffers(base, selected, limit)
        fused = {s.add for s in done}
        return _place(apply_merges(buffers, [m for m in candidates if m.node not in fused])[0], alignment)[0]

    none_size = size([], None)
    sizes = {limit: size(streams, limit) for limit in STREAM_CHUNK_LIMITS}
    best = min(sizes.values())
    limit = next(lim for lim in STREAM_CHUNK_LIMITS if sizes[lim] == best)  # the coarsest chunk that reaches it
    if best >= none_size:
        return [], None
    chosen = list(streams)
    for stream in list(chosen):
        trial = [s for s in chosen if s != stream]
        trial_size = size(trial, limit)
        if trial_size <= best:
            chosen, best = trial, trial_size
    return chosen, limit


# -- row-streamed segments -------------------------------------------------------------------------


def row_segment_candidates(graph: Graph, base: list[Buffer]) -> list[RowSegment]:
    """Every maximal chain (``rows.find_chains``) whose chain tensors are plain arena buffers."""
    owner = {m: b for b in base for m in b.members}
    external = {m for b in base if b.external for m in b.members}
    segments = []
    for indices in find_chains(graph, external):
        seg = analyze_segment(graph, indices)
        if all(owner[t].members == [t] and not owner[t].external for t in seg.chain):
            segments.append(seg)
    return segments


def segment_buffers(graph: Graph, base: list[Buffer], segments: list[RowSegment]) -> tuple[list[Buffer], set[str]]:
    """``base`` with each segment's lifetimes: line buffers and ``Y`` live over the whole segment, sources
    until its end, and ``Y`` merged into its in-place source (module docstring of ``rows``) where that
    source dies there.  Also returns the first op of each segment whose ``Y`` was merged."""
    buffers, owner = _copy_buffers(base)
    inplace: set[str] = set()
    for seg in segments:
        first, last = seg.first_step, seg.last_step
        for t in seg.chain:
            b = buffers[owner[t]]
            b.size, b.start, b.end = seg.buffer_bytes(graph, t), first, last
            b.meta["line_buffer_of"] = seg.nodes[0]
        for name in seg.sources:
            b = buffers[owner[name]]
            b.end = max(b.end, last)
        y = buffers[owner[seg.output]]
        y.start = min(y.start, first)
        src = buffers[owner[seg.inplace_source]] if seg.inplace_source else None
        if src is not None and src is not y and not src.external and not y.external and src.end == last:
            _absorb(buffers, owner, src, y)
            inplace.add(seg.nodes[0])
    return list(buffers.values()), inplace


@dataclass
class Fused:
    """One choice of fusions, its buffers and their placement."""

    segments: list[RowSegment]
    merges: list[Merge]
    streams: list[Stream]
    limit: int | None
    buffers: list[Buffer]
    size: int
    offsets: dict[str, int]
    inplace_segments: set[str] = field(default_factory=set)  # first ops of segments writing Y over a source


def _fuse_and_place(
    graph: Graph,
    base: list[Buffer],
    segments: list[RowSegment],
    candidates: list[Merge],
    stream_residual: bool,
    alignment: int,
) -> Fused:
    """Row segments as given, then the in-place merges and streamed projections worth doing outside them."""
    seg_nodes = {n for seg in segments for n in seg.nodes}
    seg_base, inplace = segment_buffers(graph, base, segments) if segments else (base, set())
    candidates = [m for m in candidates if m.node not in seg_nodes]
    buffers, merges = apply_merges(seg_base, choose_merges(seg_base, candidates, alignment))
    size, offsets = _place(buffers, alignment)
    if stream_residual:
        options = [s for s in stream_candidates(graph, seg_base) if s.conv not in seg_nodes and s.add not in seg_nodes]
        wanted, limit = choose_streams(seg_base, options, candidates, alignment)
        if wanted:
            s_base, wanted = streamed_buffers(seg_base, wanted, limit)
            fused = {s.add for s in wanted}
            s_merges = choose_merges(s_base, [m for m in candidates if m.node not in fused], alignment)
            s_buffers, s_done = apply_merges(s_base, s_merges)
            s_size, s_offsets = _place(s_buffers, alignment)
            if s_size < size:  # keep the fusions only where they lower the arena
                return Fused(segments, s_done, wanted, limit, s_buffers, s_size, s_offsets, inplace)
    return Fused(segments, merges, [], None, buffers, size, offsets, inplace)


def choose_row_segments(
    graph: Graph, base: list[Buffer], unfused: Fused, candidates: list[Merge], stream_residual: bool, alignment: int
) -> Fused:
    """All candidate segments if they lower the arena below ``unfused``, then drop each one whose removal costs nothing."""
    segments = row_segment_candidates(graph, base)
    if not segments:
        return unfused
    best = _fuse_and_place(graph, base, segments, candidates, stream_residual, alignment)
    if best.size >= unfused.size:
        return unfused
    for seg in list(best.segments):
        trial = _fuse_and_place(graph, base, [s for s in best.segments if s is not seg], candidates, stream_residual, alignment)
        if trial.size <= best.size:
            best = trial
    return best


# -- the planner -----------------------------------------------------------------------------------


def plan_arena(
    graph: Graph,
    alignment: int = 16,
    inplace: bool = True,
    external: set[str] | list[str] | None = None,
    inplace_depthwise: bool = False,
    inplace_filter: InplaceFilter | None = None,
    stream_residual: bool = False,
    stream_rows: bool = False,
) -> ArenaPlan:
    """Plan the activation arena for running ``graph`` node by node.

    ``external``: tensors in caller-owned memory (default: graph inputs and
    outputs).  ``inplace``: let element-wise ops overwrite a dying input when
    that lowers the arena size; ``inplace_depthwise``: the same for depthwise
    convolutions; ``stream_residual``: stream pointwise convolutions into the
    residual add that follows them (module docstring); ``stream_rows``: run
    chains of ops row by row through line buffers (``edgec.schedule.rows``).
    ``inplace_filter(node, input)`` may veto individual in-place candidates.
    """
    if alignment < 1:
        raise ValueError("alignment must be >= 1")
    external = default_external(graph) if external is None else set(external)
    base, aliases, lifetimes = build_buffers(graph, external)
    num_ops = len(graph.nodes)
    lower_bound = max(live_bytes_per_op(base, num_ops), default=0)

    candidates: list[Merge] = []
    if inplace or inplace_depthwise:
        candidates = candidate_merges(graph, inplace_depthwise, inplace_filter)
        if not inplace:
            candidates = [m for m in candidates if m.scratch]
    fused = _fuse_and_place(graph, base, [], candidates, stream_residual, alignment)
    if stream_rows:
        fused = choose_row_segments(graph, base, fused, candidates, stream_residual, alignment)
    for seg in fused.segments:
        seg.meta["inplace"] = seg.nodes[0] in fused.inplace_segments
    buffers, merges, size, buffer_offsets = fused.buffers, fused.merges, fused.size, fused.offsets
    streams, limit = fused.streams, fused.limit

    offsets: dict[str, int] = {}
    external_tensors: set[str] = set()
    for buf in buffers:
        for member in buf.members:
            if buf.external:
                external_tensors.add(member)
            else:
                offsets[member] = buffer_offsets[buf.name]
    sizes = {name: graph.tensors[name].nbytes for name in lifetimes}
    for s in streams:
        sizes[s.tensor] = s.chunk(limit) * s.pixel_bytes
    for seg in fused.segments:
        for t in seg.chain:
            sizes[t] = seg.buffer_bytes(graph, t)
    return ArenaPlan(
        offsets=offsets,
        sizes=sizes,
        lifetimes=lifetimes,
        aliases=dict(aliases),
        size=size,
        lower_bound=lower_bound,
        per_op_live_bytes=live_bytes_per_op(buffers, num_ops),
        alignment=alignment,
        external=external_tensors,
        inplace={m.node: m.source for m in merges if not m.scratch},
        inplace_depthwise={m.node: m.scratch for m in merges if m.scratch},
        scratch_offsets={b.meta["scratch_of"]: buffer_offsets[b.name] for b in buffers if "scratch_of" in b.meta},
        buffers=buffers,
        streamed={s.conv: s.add for s in streams},
        stream_pixels={s.conv: s.chunk(limit) for s in streams},
        row_segments=list(fused.segments),
    )


# -- independent check -----------------------------------------------------------------------------


class PlanError(AssertionError):
    """A plan lets two simultaneously live tensors share bytes."""


def _check_streams(
    graph: Graph, plan: ArenaPlan, lifetime: dict[str, list[int]]
) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """Check each recorded streamed conv + add pair from the graph alone.

    Returns the arena bytes of the streamed conv outputs (one chunk), the
    (residual, add output) pairs that share memory by design, and problems.
    The add's output is written during the conv's step, so its lifetime is
    moved there (in ``lifetime``).
    """
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    chunk_bytes: dict[str, int] = {}
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    for conv_name, add_name in plan.streamed.items():
        conv, add = graph.node(conv_name), graph.node(add_name)
        partner = stream_partner(graph, conv)
        if partner is None or partner[0].name != add_name:
            problems.append(f"streamed {conv_name!r} -> {add_name!r} is not a pointwise conv feeding only that add")
            continue
        r, t, y = partner[1], conv.outputs[0], add.outputs[0]
        c_step, a_step = index[conv_name], index[add_name]
        _, h, w, _ = graph.tensors[t].shape
        pixels = plan.stream_pixels.get(conv_name, 0)
        if pixels < 1 or (h * w) % pixels:
            problems.append(f"streamed {conv_name!r}: {pixels} pixels per step do not divide {h}x{w}")
            continue
        if {t, r, y} & plan.external:
            problems.append(f"streamed {conv_name!r} -> {add_name!r} touches a caller-owned tensor")
            continue
        if not (lifetime[r][0] < c_step and lifetime[r][1] == a_step):
            problems.append(f"streamed {add_name!r}: residual {r!r} must exist before {conv_name!r} and die at the add")
        between = graph.nodes[c_step + 1 : a_step]
        if any(name in (r, t) for n in between for name in [*n.inputs, *n.outputs]):
            problems.append(f"an op between {conv_name!r} and {add_name!r} reads or writes {r!r} or {t!r}")
        if plan.offsets.get(r) != plan.offsets.get(y):
            problems.append(f"streamed {add_name!r} must write its output over its residual input {r!r}")
        chunk_bytes[t] = pixels * graph.tensors[t].nbytes // (h * w)
        lifetime[y][0] = c_step
        pairs.append((r, y))
    return chunk_bytes, pairs, problems


def _check_segments(
    graph: Graph, plan: ArenaPlan, lifetime: dict[str, list[int]]
) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """Check each recorded row-streamed segment against one re-derived from the graph alone.

    Returns the line-buffer bytes of the chain tensors, the (source, output)
    pairs that share memory by design, and problems.  Lifetimes (in
    ``lifetime``) span the segment: chain tensors and the output from its
    first op, sources to its last.
    """
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    line_bytes: dict[str, int] = {}
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    chains = [set(c) for c in find_chains(graph)] if plan.row_segments else []
    for seg in plan.row_segments:
        steps = [index.get(n, -1) for n in seg.nodes]
        if steps != list(range(steps[0], steps[0] + len(steps))) or steps[0] < 0:
            problems.append(f"row segment {seg.nodes[0]!r}: its ops are not consecutive graph ops")
            continue
        fresh = analyze_segment(graph, steps)
        if not any(set(steps) <= c for c in chains):
            problems.append(f"row segment {seg.nodes[0]!r}: not a chain of single-reader row-streamable ops")
        if fresh.capacity != seg.capacity or fresh.output != seg.output or fresh.inplace_source != seg.inplace_source:
            problems.append(f"row segment {seg.nodes[0]!r}: recorded line buffers or in-place source differ from the graph's")
            continue
        first, last = steps[0], steps[-1]
        for t in seg.chain:
            line_bytes[t] = seg.buffer_bytes(graph, t)
            lifetime[t] = [first, last]
        for name in seg.sources:
            lifetime[name][1] = max(lifetime[name][1], last)
        lifetime[seg.output][0] = min(lifetime[seg.output][0], first)
        if seg.meta.get("inplace"):
            if lifetime[seg.inplace_source][1] > last or seg.inplace_source in plan.external:
                problems.append(f"row segment {seg.nodes[0]!r} writes over {seg.inplace_source!r}, which is read after it")
            if plan.offsets.get(seg.inplace_source) != plan.offsets.get(seg.output):
                problems.append(f"row segment {seg.nodes[0]!r} writes its output in place but not at its source's offset")
            pairs.append((seg.inplace_source, seg.output))
    return line_bytes, pairs, problems


def verify_plan(graph: Graph, plan: ArenaPlan) -> None:
    """Check from the graph alone that no two simultaneously live tensors overlap in memory.

    Overlap is allowed only between alias-op partners (same offset, same
    bytes), at the one op where it happens between a recorded in-place op's
    input and output, between a streamed add's residual input and its
    output (same offset; the add's output counts as live from the streamed
    conv's step, the conv's output as one chunk), and between a row-streamed
    segment's in-place source and its output (lifetimes spanning the segment,
    line buffers at their size: ``_check_segments``).  Scratch planes must not
    overlap anything live at their op.  Offsets must be aligned and inside the arena.
    """
    producer: dict[str, tuple[int, Node]] = {}
    lifetime: dict[str, list[int]] = {}
    for step, node in enumerate(graph.nodes):
        for name in node.outputs:
            producer[name] = (step, node)
            lifetime.setdefault(name, [step, step])
        for name in node.inputs:
            if name and not graph.tensors[name].is_const:
                lifetime.setdefault(name, [0, step])[1] = step
    chunk_bytes, streamed_pairs, problems = _check_streams(graph, plan, lifetime)
    line_bytes, segment_pairs, segment_problems = _check_segments(graph, plan, lifetime)
    problems += segment_problems
    streamed_pairs += segment_pairs
    chunk_bytes.update(line_bytes)

    def nbytes(name: str) -> int:
        return chunk_bytes.get(name, graph.tensors[name].nbytes)

    for name, (lo, _) in lifetime.items():
        if name in plan.external:
            continue
        if name not in plan.offsets:
            problems.append(f"tensor {name!r} has no offset")
            continue
        off = plan.offsets[name]
        if off % plan.alignment:
            problems.append(f"tensor {name!r} offset {off} not aligned to {plan.alignment}")
        if off < 0 or off + nbytes(name) > plan.size:
            problems.append(f"tensor {name!r} [{off}, {off + nbytes(name)}) outside arena {plan.size}")

    def alias_partners(a: str, b: str) -> bool:
        for x, y in ((a, b), (b, a)):
            entry = producer.get(y)
            if entry and entry[1].op in {"reshape", "identity", "dropout"} and entry[1].inputs[0] == x:
                return plan.offsets[x] == plan.offsets[y]
        return plan.aliases.get(a, a) == plan.aliases.get(b, b) and plan.offsets[a] == plan.offsets[b]

    def inplace_pair(a: str, b: str, shared: tuple[int, int]) -> bool:
        if shared[0] != shared[1]:
            return False
        for x, y in ((a, b), (b, a)):
            entry = producer.get(y)
            if entry is None or entry[0] != shared[0]:
                continue
            node = entry[1]
            same_base = plan.offsets[x] == plan.offsets[y]  # in-place kernels write from the input's first byte
            if node.name in plan.inplace_depthwise and node.inputs[0] == x:
                return same_base
            src = plan.inplace.get(node.name)
            if src is not None and (src == x or plan.aliases.get(src, src) == plan.aliases.get(x, x)):
                return same_base
        return False

    def streamed_pair(a: str, b: str) -> bool:
        return ((a, b) in streamed_pairs or (b, a) in streamed_pairs) and plan.offsets[a] == plan.offsets[b]

    names = [n for n in lifetime if n in plan.offsets]
    for i, a in enumerate(names):
        a_lo, a_hi = plan.offsets[a], plan.offsets[a] + nbytes(a)
        for b in names[i + 1 :]:
            b_lo, b_hi = plan.offsets[b], plan.offsets[b] + nbytes(b)
            if a_hi <= b_lo or b_hi <= a_lo:
                continue
            shared = (max(lifetime[a][0], lifetime[b][0]), min(lifetime[a][1], lifetime[b][1]))
            if shared[0] > shared[1] or alias_partners(a, b) or inplace_pair(a, b, shared) or streamed_pair(a, b):
                continue
            problems.append(f"tensors {a!r} and {b!r} overlap in memory while both live at ops {shared}")
    for node_name, scratch in plan.inplace_depthwise.items():
        step = next(s for s, n in enumerate(graph.nodes) if n.name == node_name)
        s_lo = plan.scratch_offsets[node_name]
        s_hi = s_lo + scratch
        if s_hi > plan.size:
            problems.append(f"scratch of {node_name!r} outside the arena")
        for name in names:
            lo, hi = lifetime[name]
            t_lo = plan.offsets[name]
            if lo <= step <= hi and not (t_lo + nbytes(name) <= s_lo or s_hi <= t_lo):
                problems.append(f"scratch of {node_name!r} overlaps live tensor {name!r}")
    if problems:
        raise PlanError("; ".join(problems))
