"""C for a row-streamed segment: one loop over a table of row calls, a ``switch`` on the op.

The planner (``plan_arena(..., stream_rows=True)``, ``plan.row_segments``)
gives each segment its calls in order (``edgec.schedule.rows``): op ``k``
computes one full-width row of its output.  Each call's table entry holds
the rows the op reads and writes (a first row and a count; the columns an
op reads are the same in every call, so they are constants in its code),
its top and bottom padding, and how many rows its line buffer drops first:
the kept rows move to the buffer's start (``edgec_move_rows``; ``memmove`` in
a portable build) and the new row is written after them.  16 bytes per
call.  Sources and the
segment output are whole tensors at their arena offsets (the output may share
its source's bytes, ``RowSegment.inplace_source``); chain tensors live in
line buffers of a few rows.  Same kernels, parameters and border padding as
layer by layer, so the numbers are bit-exact; every op keeps its profiler
entry (``EDGEC_PROFILE_OP`` accumulates over its calls).
"""

from __future__ import annotations

from edgec.codegen.cwriter import CWriter
from edgec.codegen.op_emitters import emit_node
from edgec.codegen.placement import LayerPlacement, shared_params
from edgec.errors import BuildError
from edgec.ir import macs
from edgec.schedule.patch import Window
from edgec.schedule.rows import RowSegment

CALL_TYPE = """\
/* One call of a row-streamed segment: op `op` reads rows [in_row, in_row + in_rows) of its first
 * input (and from in2_row of its second), writes row out_row of its output, padding the top and
 * bottom as given.  Rows of a line buffer count from its start; first it drops drop_rows rows
 * and moves the keep_rows rows after them to its start. */
typedef struct {
    int16_t op;
    int16_t in_row, in_rows, in2_row, out_row;
    int8_t pad_top, pad_bottom;
    int16_t drop_rows, keep_rows;
} edgec_row_call;

static edgec_view edgec_rows_view(int8_t *base, int32_t row, int32_t rows, int32_t col, int32_t cols, int32_t width,
                                  int32_t channels)
{
    edgec_view v = edgec_dense_view(base + (row * width + col) * channels, rows, cols, channels);
    v.row_stride = width * channels;
    return v;
}
"""


class RowPlacement:
    """Inside a segment's loop: full-width rows of the op's operands, from the call ``c``."""

    def __init__(self, names, node, globals_writer: CWriter, columns: dict[str, tuple[int, int]]):
        self.names = names
        self.node = node
        self.globals = globals_writer
        self.columns = columns  # input tensor -> (first column, columns) every call of the op reads
        self.inplace_depthwise: dict[str, int] = {}
        graph = names.graph
        self.activations = [i for i in node.inputs if i and not graph.tensors[i].is_const]

    def view(self, tensor: str, var: str, const: bool = False, dims=None) -> str:
        t = self.names.graph.tensors[tensor]
        if t.is_const:
            return LayerPlacement(self.names).view(tensor, var, const, dims)
        if tensor == self.node.outputs[0]:
            row, rows = "c->out_row", "1"
        elif tensor == self.activations[0]:
            row, rows = "c->in_row", "c->in_rows"
        else:
            row, rows = "c->in2_row", "c->in_rows"
        col, cols = self.columns.get(tensor, (0, t.shape[2]))
        qual = "const " if const else ""
        ptr = self.names.pointer(tensor)
        return f"{qual}edgec_view {var} = edgec_rows_view({ptr}, {row}, {rows}, {col}, {cols}, {t.shape[2]}, {t.shape[3]});"

    def params(self, w: CWriter, ctype: str, fields: list[tuple[str, object]]) -> None:
        shared_params(self, w, ctype, fields, "c", ("pad_top", "pad_bottom"))


def _call_row(names, seg: RowSegment, call, position: dict[str, int], held: dict[str, int]) -> str:
    graph = names.graph
    node = graph.node(call.op.node)
    out = node.outputs[0]
    acts = [(name, win) for name, win in zip(node.inputs, call.op.inputs) if name and not graph.tensors[name].is_const]
    if len(acts) > 2 or any(win is None for _, win in acts):
        raise AssertionError(f"{node.name}: a row call reads other than windows of at most two inputs")

    def row(name: str, win: Window) -> int:
        if win.empty:  # the row reads only padding (a pad op's border rows): no input row at all
            return 0
        return win.h0 - call.bases[name] if name in seg.chain else win.h0

    in_row, in_rows = row(*acts[0]), max(acts[0][1].height, 0)
    in2_row = row(*acts[1]) if len(acts) > 1 else 0
    if len(acts) > 1 and max(acts[1][1].height, 0) != in_rows:
        raise AssertionError(f"{node.name}: its two inputs are read over different rows")
    drop = keep = 0
    if out in seg.chain:
        kept = held[out] - call.drop
        drop, keep = call.drop, kept if call.drop else 0
        held[out] = kept + 1
    top, _, bottom, _ = call.op.pad
    fields = (position[node.name], in_row, in_rows, in2_row, row(out, call.op.output), top, bottom, drop, keep)
    if not all(-32768 <= v <= 32767 for v in fields) or not (-128 <= top <= 127 and -128 <= bottom <= 127):
        raise BuildError(f"{node.name}: its rows or padding do not fit a row-call table (int16 rows, int8 padding)")
    return "{" + ", ".join(str(v) for v in fields) + "}"


def _input_columns(graph, seg: RowSegment, node) -> dict[str, tuple[int, int]]:
    """(first column, columns) of each activation input of ``node``: the same in every call (full-width output rows)."""
    seen: dict[str, set[tuple[int, int]]] = {}
    for call in seg.calls:
        if call.op.node != node.name:
            continue
        for name, win in zip(node.inputs, call.op.inputs):
            if name and win is not None and not win.empty:
                seen.setdefault(name, set()).add((win.w0, win.w1 - win.w0))
    if any(len(cols) != 1 for cols in seen.values()):
        raise AssertionError(f"{node.name}: row calls read different columns")
    return {name: next(iter(cols)) for name, cols in seen.items()}


def _move_kept_rows(names, ptr: str, row_bytes: int) -> str:
    """The C that moves a line buffer's kept rows to its start: ``edgec_move_rows`` (VLDM/VSTM blocks
    on Cortex-M cores with an FPU or Helium), or plain ``memmove`` in a ``--kernels portable`` build."""
    src, size = f"{ptr} + c->drop_rows * {row_bytes}", f"c->keep_rows * {row_bytes}"
    if names.kernels is not None and names.kernels.mode == "portable":
        return f"memmove({ptr}, {src}, (size_t)({size}));"
    return f"edgec_move_rows({ptr}, {src}, {size});"


def emit_row_segment(
    body: CWriter, globals_w: CWriter, names, weights, seg: RowSegment, first_index: int
) -> list[dict]:
    """Emit the segment's call table (into ``globals_w``) and loop (into ``body``); return the op records."""
    graph = names.graph
    nodes = [graph.node(name) for name in seg.nodes]
    position = {n.name: k for k, n in enumerate(nodes)}
    table = f"{names.node_ids[nodes[0].name]}_row_calls"
    held = {t: 0 for t in seg.chain}
    globals_w.line(f"static const edgec_row_call {table}[{len(seg.calls)}] = {{")
    for call in seg.calls:
        globals_w.line(f"    {_call_row(names, seg, call, position, held)},")
    globals_w.line("};")
    globals_w.line()

    ids = [names.node_ids[n.name] for n in nodes]
    lines = ", ".join(
        f"{names.tensor_ids[t]} {seg.capacity[t]} row{'s' if seg.capacity[t] > 1 else ''}" for t in seg.chain
    )
    y = names.tensor_ids[names.root(seg.output)]
    where = (
        f"over its source {names.tensor_ids[names.root(seg.inplace_source)]}"
        if seg.meta.get("inplace") and seg.inplace_source
        else "whole"
    )
    body.comment(
        f"{' -> '.join(ids)} streamed row by row in {len(seg.calls)} calls, bit-exact with the ops in turn and\n"
        f"no recomputation: line buffers {lines}; {y} is written {where}."
    )
    kernels: dict[str, str] = {}
    with body.block(f"for (int call = 0; call < {len(seg.calls)}; call++)"):
        body.line(f"const edgec_row_call *c = &{table}[call];")
        with body.block("switch (c->op)"):
            for k, node in enumerate(nodes):
                body.line(f"case {k}:")
                with body.indented():
                    out = node.outputs[0]
                    if out in seg.chain:
                        ptr = names.pointer(out)
                        row_bytes = graph.tensors[out].shape[2] * graph.tensors[out].shape[3]
                        with body.block("if (c->drop_rows)"):
                            body.line(_move_kept_rows(names, ptr, row_bytes))
                    place = RowPlacement(names, node, globals_w, _input_columns(graph, seg, node))
                    kernels[node.name] = emit_node(body, names, weights, node, place)
                    body.line(f"EDGEC_PROFILE_OP({first_index + k});")
                    body.line("break;")
            body.line("default:")
            body.line("    break;")
    body.line()
    records = []
    for k, node in enumerate(nodes):
        records.append(
            {
                "index": first_index + k,
                "name": node.name,
                "op": node.op,
                "kernel": kernels[node.name],
                "macs": macs(graph, node),
                "output_shape": list(graph.tensors[node.outputs[0]].shape),
                "arena_offset": names.plan.arena.offsets.get(names.root(node.outputs[0])),
                "row_streamed": {"with": seg.nodes, "calls": sum(1 for c in seg.calls if c.op.node == node.name)},
            }
        )
    return records
