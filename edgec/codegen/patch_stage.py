"""C for a patch-based stage (MCUNetV2): a loop over patches, one step table per op.

Each stage op gets a table with one ``edgec_patch_step`` per patch: the
windows its inputs are read from and its output is written to (offsets and
row strides inside their buffers), and the padding to apply at that patch
(real zero-point padding only where the patch touches the tensor border).
Stage inputs are read in place from the model input; per-patch
intermediates live in small buffers of the arena; the last op writes its
window straight into the stage-output tensor, which the rest of the network
then consumes layer by layer.
"""

from __future__ import annotations

from edgec.codegen.cwriter import CWriter
from edgec.codegen.op_emitters import emit_node
from edgec.codegen.placement import PatchPlacement
from edgec.ir import macs
from edgec.schedule.patch import Window

STEP_TYPES = """\
/* A window of a buffer holding rows of an NHWC tensor (channels dense). */
typedef struct {{
    int32_t offset;     /* elements from the buffer start to the window's first element */
    int16_t h, w;       /* rows and columns in the window (0: nothing to do at this patch) */
    int32_t row_stride; /* elements from one row of the buffer to the next */
}} edgec_window;

/* One op at one patch: where it reads and writes, and the padding it applies. */
typedef struct {{
    edgec_window in[{inputs}];
    edgec_window out;
    int16_t pad_top, pad_left, pad_bottom, pad_right;
}} edgec_patch_step;

static edgec_view edgec_window_view(int8_t *base, const edgec_window *win, int32_t channels)
{{
    edgec_view v;
    v.data = base + win->offset;
    v.h = win->h;
    v.w = win->w;
    v.c = channels;
    v.row_stride = win->row_stride;
    v.col_stride = channels;
    return v;
}}
"""


def _buffer_window(names, tensor: str, win: Window | None, patch, pixel_bytes=None) -> tuple[int, int, int, int]:
    """(offset, h, w, row_stride) of ``win`` inside the buffer that holds ``tensor`` at ``patch``, in
    bytes: a pixel takes ``pixel_bytes`` bytes (default: the channel count, int8)."""
    if win is None or win.area <= 0:
        return (0, 0, 0, 0)
    t = names.graph.tensors[tensor]
    channels = t.shape[-1] if pixel_bytes is None else pixel_bytes
    if names.is_whole_tensor(tensor):
        width = t.shape[2]
        return ((win.h0 * width + win.w0) * channels, win.height, win.width, width * channels)
    region = patch.regions[tensor]
    offset = ((win.h0 - region.h0) * region.width + (win.w0 - region.w0)) * channels
    return (offset, win.height, win.width, region.width * channels)


def _c_window(values: tuple[int, int, int, int]) -> str:
    return "{" + ", ".join(str(v) for v in values) + "}"


def _step_row(names, node, op, patch, max_inputs: int, pixel_bytes=lambda name: None) -> str:
    ins = []
    for k in range(max_inputs):
        name = node.inputs[k] if k < len(node.inputs) else ""
        if op is None or not name or names.graph.tensors[name].is_const:
            ins.append("{0, 0, 0, 0}")
        else:
            ins.append(_c_window(_buffer_window(names, name, op.inputs[k], patch, pixel_bytes(name))))
    out_name = node.outputs[0]
    out = _c_window(_buffer_window(names, out_name, op.output, patch, pixel_bytes(out_name)) if op else (0, 0, 0, 0))
    pad = op.pad if op else (0, 0, 0, 0)
    return "{{" + ", ".join(ins) + "}, " + out + ", " + ", ".join(str(v) for v in pad) + "}"


def emit_step_table(globals_w: CWriter, names, node, stage, max_inputs: int, table: str, pixel_bytes=lambda name: None) -> None:
    """The static step table ``table`` of ``node``: one ``edgec_patch_step`` per patch."""
    globals_w.line(f"static const edgec_patch_step {table}[{len(stage.patches)}] = {{")
    for patch in stage.patches:
        op = next((o for o in patch.ops if o.node == node.name), None)
        globals_w.line(f"    {_step_row(names, node, op, patch, max_inputs, pixel_bytes)},")
    globals_w.line("};")
    globals_w.line()


def emit_patch_stage(body: CWriter, globals_w: CWriter, names, weights, stage, first_index: int, max_inputs: int) -> list[dict]:
    """Emit the stage's step tables (into ``globals_w``, after ``STEP_TYPES`` with ``in[max_inputs]``) and
    loop (into ``body``); return the op records.  A mixed-precision plan (``plan.mixed``) gets two
    variants of the stage and the per-patch classification (``mixed_stage.py``)."""
    if getattr(names.plan, "mixed", None) is not None:
        from edgec.codegen.mixed_stage import emit_mixed_patch_stage

        return emit_mixed_patch_stage(body, globals_w, names, weights, stage, first_index, max_inputs, names.plan.mixed)
    graph = names.graph
    nodes = [graph.node(name) for name in stage.nodes]
    count = len(stage.patches)
    for node in nodes:
        emit_step_table(globals_w, names, node, stage, max_inputs, f"{names.node_ids[node.name]}_steps")
    split = graph.tensors[stage.split]
    gh, gw = stage.grid
    body.comment(
        f"Patch stage: {len(nodes)} ops run patch by patch on a {gh}x{gw} grid over {stage.split[:40]} "
        f"({'x'.join(map(str, split.shape))}); halos are recomputed, the input is read in place."
    )
    ops = []
    with body.block(f"for (int patch = 0; patch < {count}; patch++)"):
        for k, node in enumerate(nodes):
            ident = names.node_ids[node.name]
            step = f"const edgec_patch_step *s = &{ident}_steps[patch];"
            kernel = emit_node(body, names, weights, node, PatchPlacement(names, node, globals_w), prologue=(step,))
            body.line(f"EDGEC_PROFILE_OP({first_index + k});")
            ops.append(op_record(graph, stage, node, first_index + k, kernel))
    body.line()
    return ops


def op_record(graph, stage, node, index: int, kernel: str) -> dict:
    """The build.json record of a stage op (MACs summed over every patch)."""
    per_patch = sum(macs_of_window(graph, node, op) for patch in stage.patches for op in patch.ops if op.node == node.name)
    return {
        "index": index,
        "name": node.name,
        "op": node.op,
        "kernel": kernel,
        "macs": per_patch,
        "layer_macs": macs(graph, node),
        "output_shape": list(graph.tensors[node.outputs[0]].shape),
        "arena_offset": None,
        "patches": len(stage.patches),
    }


def macs_of_window(graph, node, op) -> int:
    """MACs of ``node`` computing only ``op.output`` (same per-pixel cost as the whole op)."""
    out = graph.tensors[node.outputs[0]]
    pixels = out.shape[1] * out.shape[2]
    return macs(graph, node) * op.output.area // pixels if pixels else 0
