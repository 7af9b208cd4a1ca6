"""C for a row-streamed segment: one loop over a table of row calls, a ``switch`` on the op.

The planner (``plan_arena(..., stream_rows=True)``, ``plan.row_segments``)
gives each segment its calls in order (``edgec.schedule.rows``): op ``k``
computes one full-width row of its output.  Each call's table entry holds
the op's windows (``edgec_patch_step``, as patch stages use) and how many
bytes its line buffer drops first: the kept rows move to the buffer's start
(``memmove``) and the new row is written after them.  Sources and the
segment output are whole tensors at their arena offsets (the output may share
its source's bytes, ``RowSegment.inplace_source``); chain tensors live in
line buffers of a few rows.  Same kernels, parameters and border padding as
layer by layer, so the numbers are bit-exact; every op keeps its profiler
entry (``EDGEC_PROFILE_OP`` accumulates over its calls).
"""

from __future__ import annotations

from edgec.codegen.cwriter import CWriter
from edgec.codegen.op_emitters import emit_node
from edgec.codegen.placement import PatchPlacement
from edgec.ir import macs
from edgec.schedule.patch import Window
from edgec.schedule.rows import RowSegment

CALL_TYPE = """\
/* One call of a row-streamed segment: op `op` computes one row of its output.  First its line
 * buffer drops `drop` bytes from the start and moves the `keep` bytes after them there. */
typedef struct {
    int16_t op;
    int32_t drop, keep;
    edgec_patch_step step;
} edgec_row_call;
"""


def _window(names, seg: RowSegment, tensor: str, win: Window | None, bases: dict[str, int]) -> str:
    if win is None or win.area <= 0:
        return "{0, 0, 0, 0}"
    t = names.graph.tensors[tensor]
    width, channels = t.shape[2], t.shape[3]
    top = win.h0 - bases[tensor] if tensor in seg.chain else win.h0
    return f"{{{(top * width + win.w0) * channels}, {win.height}, {win.width}, {width * channels}}}"


def _call_row(names, seg: RowSegment, call, position: dict[str, int], held: dict[str, int], max_inputs: int) -> str:
    graph = names.graph
    node = graph.node(call.op.node)
    out = node.outputs[0]
    drop = keep = 0
    if out in seg.chain:
        row = graph.tensors[out].shape[2] * graph.tensors[out].shape[3] * graph.tensors[out].itemsize
        kept_rows = held[out] - call.drop
        drop, keep = call.drop * row, kept_rows * row if call.drop else 0
        held[out] = kept_rows + 1
    ins = []
    for k in range(max_inputs):
        name = node.inputs[k] if k < len(node.inputs) else ""
        if not name or graph.tensors[name].is_const:
            ins.append("{0, 0, 0, 0}")
        else:
            ins.append(_window(names, seg, name, call.op.inputs[k], call.bases))
    step = "{{" + ", ".join(ins) + "}, " + _window(names, seg, out, call.op.output, call.bases)
    step += ", " + ", ".join(str(v) for v in call.op.pad) + "}"
    return f"{{{position[node.name]}, {drop}, {keep}, {step}}}"


def emit_row_segment(body: CWriter, globals_w: CWriter, names, weights, seg: RowSegment, first_index: int, max_inputs: int) -> list[dict]:
    """Emit the segment's call table (into ``globals_w``) and loop (into ``body``); return the op records."""
    graph = names.graph
    nodes = [graph.node(name) for name in seg.nodes]
    position = {n.name: k for k, n in enumerate(nodes)}
    table = f"{names.node_ids[nodes[0].name]}_row_calls"
    held = {t: 0 for t in seg.chain}
    globals_w.line(f"static const edgec_row_call {table}[{len(seg.calls)}] = {{")
    for call in seg.calls:
        globals_w.line(f"    {_call_row(names, seg, call, position, held, max_inputs)},")
    globals_w.line("};")
    globals_w.line()

    ids = [names.node_ids[n.name] for n in nodes]
    lines = ", ".join(f"{names.tensor_ids[t]} {seg.capacity[t]} row{'s' if seg.capacity[t] > 1 else ''}" for t in seg.chain)
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
        body.line("const edgec_patch_step *s = &c->step;")
        with body.block("switch (c->op)"):
            for k, node in enumerate(nodes):
                body.line(f"case {k}:")
                with body.indented():
                    out = node.outputs[0]
                    if out in seg.chain:
                        ptr = names.pointer(out)
                        with body.block("if (c->drop)"):
                            body.line(f"memmove({ptr}, {ptr} + c->drop, (size_t)c->keep);")
                    place = PatchPlacement(names, node, globals_w, pointer=names.pointer)
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
