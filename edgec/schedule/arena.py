"""Static arena planning for layer-by-layer execution.

``plan_arena`` gives every activation tensor that is not external (by
default the graph inputs and outputs, which live in the caller's buffers:
``edgec_model_run(const int8_t *in, int8_t *out)``) a byte offset in one
arena:

1. tensors joined by alias ops share one buffer (``lifetimes.build_buffers``);
2. optionally, an op writes its output over an input that dies there
   (element-wise ops; depthwise convolutions with a one-plane scratch buffer,
   see ``inplace_depthwise``), kept only where that lowers the arena size;
3. buffers are placed greedily, largest first, each at the lowest aligned
   offset that overlaps no placed buffer with an overlapping lifetime (gap
   filling, as TFLite Micro's greedy planner does).

In-place depthwise convolution (``inplace_depthwise=True``): a
``depthwise_conv2d`` with ``depth_multiplier == 1`` whose input dies at it
and whose output is no larger (``OH*OW <= H*W``) writes its output into the
input's buffer.  In NHWC the output element ``(p, c)`` (``p = oy*OW+ox``)
sits at byte ``(p*C + c)*itemsize``, which holds input element ``(p, c)``:
channel ``c`` only overwrites channel ``c``.  The kernel therefore copies
input channel ``c`` into a scratch plane, then computes output channel ``c``
from the scratch plane into the shared buffer, channel by channel.  The
scratch plane is the *zero-padded* input plane,
``(H + pad_top + pad_bottom) * (W + pad_left + pad_right) * itemsize`` bytes,
so the inner loop needs no border checks; ``plan.inplace_depthwise[node]``
records that size and ``plan.scratch_offsets[node]`` its offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edgec.ir.graph import Graph, Node
from edgec.ir.ops import OPS
from edgec.schedule.lifetimes import Buffer, Lifetime, build_buffers, default_external, live_bytes_per_op

BROADCAST_OPS = frozenset({"add", "sub", "mul"})

InplaceFilter = Callable[[Node, str], bool]


@dataclass
class ArenaPlan:
    """Where every arena tensor lives, and why."""

    offsets: dict[str, int]  # tensor -> byte offset in the arena (aliases share their root's offset)
    sizes: dict[str, int]  # tensor -> bytes
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

    @property
    def planned_peak(self) -> int:
        """The lower bound for this plan's buffers (in-place merges included)."""
        return max(self.per_op_live_bytes, default=0)

    def summary(self) -> str:
        ratio = self.size / self.lower_bound if self.lower_bound else 1.0
        return (
            f"arena {self.size} B, layer-wise lower bound {self.lower_bound} B ({ratio:.3f}x), "
            f"{len(self.inplace)} in-place element-wise, {len(self.inplace_depthwise)} in-place depthwise"
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
    """Bytes of the zero-padded input plane an in-place depthwise kernel needs (module docstring)."""
    _, h, w, _ = graph.tensors[node.inputs[0]].shape
    top, left, bottom, right = node.attrs.get("pad", (0, 0, 0, 0))
    return (h + top + bottom) * (w + left + right) * graph.tensors[node.inputs[0]].itemsize


def _depthwise_inplace_ok(graph: Graph, node: Node) -> bool:
    if node.op != "depthwise_conv2d" or node.attrs.get("depth_multiplier", 1) != 1:
        return False
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.outputs[0]]
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1 or x.shape[3] != y.shape[3]:
        return False
    return x.itemsize == y.itemsize and y.shape[1] * y.shape[2] <= x.shape[1] * x.shape[2]


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


def apply_merges(base: list[Buffer], merges: list[Merge]) -> tuple[list[Buffer], list[Merge]]:
    """Merge buffers for each still-legal merge; return the buffers (plus scratch) and the merges done."""
    buffers = {b.name: Buffer(b.name, list(b.members), b.size, b.start, b.end, b.external) for b in base}
    owner = {m: b.name for b in buffers.values() for m in b.members}
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
        src.members += dst.members
        src.size = max(src.size, dst.size)
        src.end = max(src.end, dst.end)
        for m in dst.members:
            owner[m] = src.name
        del buffers[dst.name]
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


# -- the planner -----------------------------------------------------------------------------------


def plan_arena(
    graph: Graph,
    alignment: int = 16,
    inplace: bool = True,
    external: set[str] | list[str] | None = None,
    inplace_depthwise: bool = False,
    inplace_filter: InplaceFilter | None = None,
) -> ArenaPlan:
    """Plan the activation arena for running ``graph`` node by node.

    ``external``: tensors in caller-owned memory (default: graph inputs and
    outputs).  ``inplace``: let element-wise ops overwrite a dying input when
    that lowers the arena size; ``inplace_depthwise``: the same for depthwise
    convolutions (module docstring).  ``inplace_filter(node, input)`` may veto
    individual in-place candidates.
    """
    if alignment < 1:
        raise ValueError("alignment must be >= 1")
    external = default_external(graph) if external is None else set(external)
    base, aliases, lifetimes = build_buffers(graph, external)
    num_ops = len(graph.nodes)
    lower_bound = max(live_bytes_per_op(base, num_ops), default=0)

    merges: list[Merge] = []
    if inplace or inplace_depthwise:
        candidates = candidate_merges(graph, inplace_depthwise, inplace_filter)
        if not inplace:
            candidates = [m for m in candidates if m.scratch]
        merges = choose_merges(base, candidates, alignment)
    buffers, merges = apply_merges(base, merges)
    size, buffer_offsets = _place(buffers, alignment)

    offsets: dict[str, int] = {}
    external_tensors: set[str] = set()
    for buf in buffers:
        for member in buf.members:
            if buf.external:
                external_tensors.add(member)
            else:
                offsets[member] = buffer_offsets[buf.name]
    return ArenaPlan(
        offsets=offsets,
        sizes={name: graph.tensors[name].nbytes for name in lifetimes},
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
    )


# -- independent check -----------------------------------------------------------------------------


class PlanError(AssertionError):
    """A plan lets two simultaneously live tensors share bytes."""


def verify_plan(graph: Graph, plan: ArenaPlan) -> None:
    """Check from the graph alone that no two simultaneously live tensors overlap in memory.

    Overlap is allowed only between alias-op partners (same offset, same
    bytes) and, at the one op where it happens, between a recorded in-place
    op's input and output.  Scratch planes must not overlap anything live at
    their op.  Offsets must be aligned and inside the arena.
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
    problems: list[str] = []
    for name, (lo, _) in lifetime.items():
        if name in plan.external:
            continue
        if name not in plan.offsets:
            problems.append(f"tensor {name!r} has no offset")
            continue
        off = plan.offsets[name]
        if off % plan.alignment:
            problems.append(f"tensor {name!r} offset {off} not aligned to {plan.alignment}")
        if off < 0 or off + graph.tensors[name].nbytes > plan.size:
            problems.append(f"tensor {name!r} [{off}, {off + graph.tensors[name].nbytes}) outside arena {plan.size}")

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

    names = [n for n in lifetime if n in plan.offsets]
    for i, a in enumerate(names):
        a_lo, a_hi = plan.offsets[a], plan.offsets[a] + graph.tensors[a].nbytes
        for b in names[i + 1 :]:
            b_lo, b_hi = plan.offsets[b], plan.offsets[b] + graph.tensors[b].nbytes
            if a_hi <= b_lo or b_hi <= a_lo:
                continue
            shared = (max(lifetime[a][0], lifetime[b][0]), min(lifetime[a][1], lifetime[b][1]))
            if shared[0] > shared[1] or alias_partners(a, b) or inplace_pair(a, b, shared):
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
            if lo <= step <= hi and not (t_lo + graph.tensors[name].nbytes <= s_lo or s_hi <= t_lo):
                problems.append(f"scratch of {node_name!r} overlaps live tensor {name!r}")
    if problems:
        raise PlanError("; ".join(problems))
