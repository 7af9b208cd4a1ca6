"""Row-streamed segments: a chain of ops run output row by output row through line buffers.

Layer by layer, an inverted-residual block materialises its expanded
tensors whole (``H x W x 6C`` bytes and more); MCUNetV2's patches cut that
but recompute their halos.  A *row-streamed segment* keeps only the rows in
flight instead, and recomputes nothing (the line-buffer schedule of fused-layer
accelerators, Alwani et al., MICRO 2016):

* a segment is a run of consecutive nodes ``N_1 .. N_m`` in which the output
  of each ``N_k`` (k < m) is read by ``N_{k+1}`` alone: a *chain tensor*;
* every other activation a segment node reads (its *sources*: the chain's
  input, a residual) is a whole tensor produced before the segment; the last
  node's output ``Y`` is written whole;
* the segment runs as a list of calls, each computing one full-width row of
  one op (``analyze_segment``), demand-driven: each row of ``Y`` asks its op
  for the input rows it reads (``backward_op`` of ``edgec.schedule.patch``
  on a row window gives the rows and the border padding); rows of a chain
  tensor not computed yet are produced first by its producer, row by row,
  depth first;
* chain tensor ``t`` lives in a line buffer of ``capacity[t]`` full-width
  rows.  When its producer appends a row, the buffer first drops the rows
  below the window its reader asked for (``memmove`` of the kept rows to the
  buffer's start); the new row goes after the kept ones.  Windows of
  increasing output rows start and end at non-decreasing rows, so a dropped
  row is never read again.

Every output row a later op reads is computed exactly once (rows nothing
reads, such as the last row under a stride-2 reader, not at all), with the
op's own kernel, parameters and padding on the tensor border, so the segment
is bit-exact with the ops run one after the other, at no more MACs.

``Y`` may be written over a source ``S`` (``RowSegment.inplace_source``)
when ``S`` dies at the segment, ``Y`` is no larger, and no call reads bytes
of ``S`` that earlier rows of ``Y`` have overwritten: with rows ``[0, i)`` of
``Y`` written, every read of ``S`` by another op starts at or after byte
``i * row_bytes(Y)``; the final op may read row ``i`` of ``S`` element-wise
while it writes row ``i`` of ``Y`` over it (same row size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.schedule.lifetimes import ALIAS_OPS
from edgec.schedule.patch import (
    EMPTY,
    SAME_WINDOW,
    NotPatchable,
    PatchOp,
    Window,
    backward_op,
    check_patchable,
    run_windowed_op,
)

ELEMENTWISE_FINAL = SAME_WINDOW - ALIAS_OPS


@dataclass
class RowCall:
    """One kernel call of a segment: ``op.node`` computes ``op.output`` (one full-width row).

    Before the call, ``drop`` rows leave the start of the output's line buffer
    (chain outputs only); ``bases`` gives, per chain tensor the call touches,
    the tensor row held at the start of its line buffer during the call.
    """

    op: PatchOp  # windows in tensor coordinates
    drop: int
    bases: dict[str, int]


@dataclass
class RowSegment:
    nodes: list[str]  # consecutive in node order
    first_step: int  # index of nodes[0] in graph.nodes
    output: str  # Y, written whole, one row per call of the last node
    chain: list[str]  # chain tensors, in node order (outputs of nodes[:-1])
    sources: list[str]  # whole activations read by segment nodes (not chain tensors)
    capacity: dict[str, int]  # chain tensor -> rows of its line buffer
    calls: list[RowCall]
    inplace_source: str | None = None  # a source Y may overwrite (module docstring), if any
    meta: dict = field(default_factory=dict)

    @property
    def last_step(self) -> int:
        return self.first_step + len(self.nodes) - 1

    def buffer_bytes(self, graph: Graph, tensor: str) -> int:
        t = graph.tensors[tensor]
        return self.capacity[tensor] * t.shape[2] * t.shape[3] * t.itemsize


def row_bytes(graph: Graph, tensor: str) -> int:
    t = graph.tensors[tensor]
    return t.shape[2] * t.shape[3] * t.itemsize


def _rowable(graph: Graph, node: Node) -> bool:
    if node.op in ALIAS_OPS or len(node.outputs) != 1:
        return False
    try:
        check_patchable(graph, [node])
    except NotPatchable:
        return False
    out = graph.tensors[node.outputs[0]]
    acts = [graph.tensors[i] for i in node.inputs if i and not graph.tensors[i].is_const]
    return 1 <= len(acts) <= 2 and all(len(t.shape) == 4 and t.shape[0] == 1 for t in acts) and out.shape[1] >= 1


def find_chains(graph: Graph, external: set[str] = frozenset()) -> list[list[int]]:
    """Maximal runs of consecutive row-streamable nodes joined by single-reader tensors (length >= 2)."""
    consumers = graph.consumer_map()
    nodes = graph.nodes
    chains: list[list[int]] = []
    k = 0
    while k < len(nodes):
        if not _rowable(graph, nodes[k]):
            k += 1
            continue
        chain = [k]
        while chain[-1] + 1 < len(nodes):
            node, nxt = nodes[chain[-1]], nodes[chain[-1] + 1]
            t = node.outputs[0]
            readers = consumers.get(t, [])
            if (
                t in graph.outputs
                or t in external
                or len(readers) != 1
                or readers[0].name != nxt.name
                or nxt.inputs.count(t) != 1
                or not _rowable(graph, nxt)
            ):
                break
            chain.append(chain[-1] + 1)
        if len(chain) >= 2:
            chains.append(chain)
        k = chain[-1] + 1
    return chains


def analyze_segment(graph: Graph, indices: list[int]) -> RowSegment:
    """The call list of the segment ``graph.nodes[i] for i in indices`` (consecutive), demand-driven:
    each row of ``Y`` asks its node for the input rows it reads, which asks its producer for the
    rows not yet computed, one row per call, depth first; a line buffer drops the rows below the
    window its reader asked for when it appends a row."""
    nodes = [graph.nodes[i] for i in indices]
    producer = {n.outputs[0]: n for n in nodes}
    chain = [n.outputs[0] for n in nodes[:-1]]
    chain_set = set(chain)
    y = nodes[-1].outputs[0]
    sources = list(
        dict.fromkeys(i for n in nodes for i in n.inputs if i and not graph.tensors[i].is_const and i not in chain_set)
    )
    held = {t: EMPTY for t in chain}  # rows in each line buffer
    capacity = {t: 0 for t in chain}
    calls: list[RowCall] = []

    def run_row(node: Node, row: int, keep_from: int | None) -> None:
        out_name = node.outputs[0]
        width = graph.tensors[out_name].shape[2]
        op = backward_op(graph, node, Window(row, row + 1, 0, width))
        for name, win in zip(node.inputs, op.inputs):
            if name in chain_set and win is not None and not win.empty:
                ensure(name, win)
        drop = 0
        if out_name in chain_set:
            old = held[out_name]
            lo = row if old.empty else max(old.h0, min(keep_from, row))
            drop = 0 if old.empty else min(lo, old.h1) - old.h0
            held[out_name] = Window(lo, row + 1, 0, width)
            capacity[out_name] = max(capacity[out_name], row + 1 - lo)
        bases = {name: held[name].h0 for name in [*node.inputs, out_name] if name in chain_set}
        calls.append(RowCall(op, drop, bases))

    def ensure(name: str, win: Window) -> None:
        have = held[name]
        if not have.empty and win.h0 < have.h0:
            raise AssertionError(f"rows {win.h0}.. of {name!r} were dropped before their last read")
        for row in range(win.h0 if have.empty else max(have.h1, win.h0), win.h1):
            run_row(producer[name], row, win.h0)

    for row in range(graph.tensors[y].shape[1]):
        run_row(nodes[-1], row, None)
    segment = RowSegment([n.name for n in nodes], indices[0], y, chain, sources, capacity, calls)
    segment.inplace_source = _inplace_source(graph, segment)
    return segment


def _inplace_source(graph: Graph, segment: RowSegment) -> str | None:
    """A source ``Y`` may overwrite under the module docstring's condition (checked call by call)."""
    y = segment.output
    y_row = row_bytes(graph, y)
    for s in segment.sources:
        t = graph.tensors[s]
        if t.nbytes < graph.tensors[y].nbytes or len(t.shape) != 4:
            continue
        s_row = row_bytes(graph, s)
        written = 0  # rows of Y written so far
        ok = True
        for call in segment.calls:
            node = graph.node(call.op.node)
            final = node.outputs[0] == y
            for name, win in zip(node.inputs, call.op.inputs):
                if name != s or win is None or win.empty:
                    continue
                if final and node.op in ELEMENTWISE_FINAL and s_row == y_row and win.h0 == written and win.h1 == written + 1:
                    continue  # row i read element by element while row i of Y is written over it
                if win.h0 * s_row < (written + (1 if final else 0)) * y_row:
                    ok = False
            if final:
                written += 1
        if ok:
            return s
    return None


# -- the reference semantics of generated code -----------------------------------------------------


def run_segment(graph: Graph, segment: RowSegment, tensors: dict[str, np.ndarray]) -> np.ndarray:
    """Run ``segment`` call by call with the reference kernels and line buffers of ``capacity`` rows.

    ``tensors`` holds the whole sources; returns ``Y``.  Line buffers shift
    exactly as the generated C does (``drop`` rows before a call writes), so a
    wrong drop, base or window shows up as a wrong value, not just a wrong shape.
    """
    from edgec.reference.interpreter import _load_kernels

    _load_kernels()
    y_t = graph.tensors[segment.output]
    result = np.zeros(y_t.shape, dtype=y_t.dtype)
    lines = {}
    rows_held = {}
    for t in segment.chain:
        shape = graph.tensors[t].shape
        lines[t] = np.zeros((1, segment.capacity[t], shape[2], shape[3]), graph.tensors[t].dtype)
        rows_held[t] = 0
    for call in segment.calls:
        op = call.op
        node = graph.node(op.node)
        out = node.outputs[0]
        if out in lines and call.drop:
            keep = rows_held[out] - call.drop
            lines[out][:, :keep] = lines[out][:, call.drop : call.drop + keep].copy()
            rows_held[out] = keep

        def read(name: str, win: Window, call=call) -> np.ndarray:
            if name in lines:
                base = call.bases[name]
                return lines[name][:, win.h0 - base : win.h1 - base, win.w0 : win.w1]
            return np.asarray(tensors[name])[:, win.h0 : win.h1, win.w0 : win.w1]

        value = run_windowed_op(graph, node, op, read)
        if out == segment.output:
            result[:, op.output.h0 : op.output.h1] = value
        else:
            at = op.output.h0 - call.bases[out]
            if at != rows_held[out]:
                raise AssertionError(f"{node.name}: row {op.output.h0} lands at buffer row {at}, not after the kept rows")
            lines[out][:, at : at + 1] = value
            rows_held[out] = at + 1
    return result
