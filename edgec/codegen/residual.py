"""C for a streamed residual projection: a 1x1 conv and the add after it, a chunk of pixels at a time.

The planner (``plan_arena(..., stream_residual=True)``, ``plan.streamed``)
fuses a pointwise ``conv2d`` C whose output T only feeds an ``add``/``sub``
A.  The generated code runs both at C's place, in one loop over chunks of
the flattened ``H*W`` pixels (one image row per step unless the plan asks for
fewer pixels, ``plan.stream_pixels``):

* C computes the chunk's pixels of T into T's one-chunk buffer;
* A adds them to the same pixels of its residual input R and writes the sum
  over R (A's output shares R's buffer; the add kernel allows ``out == b``).

A 1x1 convolution is per pixel, so each chunk is the ordinary kernel call on
smaller dense views, with the ordinary parameters: bit-exact with running C
and A one after the other.  Both ops keep their own comment and their own
entry in the profiler op list (``EDGEC_PROFILE_OP`` accumulates over steps).
"""

from __future__ import annotations

from edgec.codegen.cwriter import CWriter
from edgec.codegen.op_emitters import emit_node
from edgec.codegen.placement import LayerPlacement, struct_lines
from edgec.ir import Node, macs


class ChunkPlacement:
    """Inside the streamed loop: the current chunk of each operand as a dense ``1 x pixels x C`` view."""

    def __init__(self, names, chunk_tensor: str, pixels: int, offset_of):
        self.names = names
        self.chunk_tensor = chunk_tensor  # lives in a one-chunk buffer: always its start
        self.pixels = pixels
        self.offset_of = offset_of  # channels -> C expression of the chunk's first element

    def view(self, tensor: str, var: str, const: bool = False, dims: tuple[int, int, int] | None = None) -> str:
        t = self.names.graph.tensors[tensor]
        if t.is_const:
            return LayerPlacement(self.names).view(tensor, var, const, dims)
        channels = t.shape[-1]
        base = self.names.pointer(tensor)
        if tensor != self.chunk_tensor:
            base = f"{base} + {self.offset_of(channels)}"
        qual = "const " if const else ""
        return f"{qual}edgec_view {var} = edgec_dense_view({base}, 1, {self.pixels}, {channels});"

    def params(self, w: CWriter, ctype: str, fields: list[tuple[str, object]]) -> None:
        w.lines(struct_lines(ctype, "params", fields))


def emit_streamed(body: CWriter, names, weights, conv: Node, add: Node, first_index: int) -> list[dict]:
    """Emit the fused loop of ``conv`` and ``add`` into ``body``; return their op records (indices k, k + 1)."""
    graph = names.graph
    plan = names.plan.arena
    t = conv.outputs[0]
    _, h, w, co = graph.tensors[t].shape
    pixels = plan.stream_pixels[conv.name]
    conv_id, add_id = names.node_ids[conv.name], names.node_ids[add.name]
    residual = next(i for i in add.inputs if i != t)
    if pixels == w:
        head = f"for (int row = 0; row < {h}; row++)"
        step = f"{h} steps of one {w}-pixel row"

        def offset_of(channels: int) -> str:
            return f"row * {w * channels}"

    else:
        head = f"for (int px = 0; px < {h * w}; px += {pixels})"
        step = f"{h * w // pixels} steps of {pixels} pixels"

        def offset_of(channels: int) -> str:
            return f"px * {channels}"

    chunk = f"{names.tensor_ids[t]} ({pixels * co * graph.tensors[t].itemsize} bytes)"
    body.comment(
        f"{conv_id} + {add_id} streamed in {step}, bit-exact with the two ops in turn:\n"
        f"{conv_id} computes the step's pixels into {chunk}, "
        f"{add_id} adds them to {names.tensor_ids[names.root(residual)]} in place."
    )
    kernels = []
    with body.block(head):
        for k, node in enumerate((conv, add)):
            place = ChunkPlacement(names, t, pixels, offset_of)
            kernels.append(emit_node(body, names, weights, node, place))
            body.line(f"EDGEC_PROFILE_OP({first_index + k});")
    body.line()
    return [
        {
            "index": first_index + k,
            "name": node.name,
            "op": node.op,
            "kernel": kernel,
            "macs": macs(graph, node),
            "output_shape": list(graph.tensors[node.outputs[0]].shape),
            "arena_offset": plan.offsets.get(names.root(node.outputs[0])),
            "streamed": {"with": other.name, "pixels_per_step": pixels},
        }
        for k, (node, other, kernel) in enumerate(((conv, add, kernels[0]), (add, conv, kernels[1])))
    ]
