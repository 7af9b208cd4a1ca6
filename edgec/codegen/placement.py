"""Where an op's operands are, as C: whole tensors (layer by layer) or per-patch windows.

The op emitters ask a placement for each operand's ``edgec_view`` and for the
parameter struct; ``LayerPlacement`` answers with dense views of whole
tensors, ``PatchPlacement`` with windows taken from a per-patch step table,
so the same emitter serves both schedules.
"""

from __future__ import annotations

from edgec.codegen.cwriter import CWriter
from edgec.ir import Node

PAD_FIELDS = ("pad_top", "pad_left", "pad_bottom", "pad_right")


def struct_lines(ctype: str, var: str, fields: list[tuple[str, object]], static: bool = True) -> list[str]:
    lines = [f"{'static ' if static else ''}const {ctype} {var} = {{"]
    lines += [f"    .{key} = {value}," for key, value in fields]
    lines.append("};")
    return lines


class LayerPlacement:
    """Whole tensors: dense views at their arena offsets."""

    def __init__(self, names):
        self.names = names
        self.inplace_depthwise = names.plan.arena.inplace_depthwise

    def view(self, tensor: str, var: str, const: bool = False, dims: tuple[int, int, int] | None = None) -> str:
        from edgec.codegen.op_emitters import _dense_view

        return _dense_view(self.names, tensor, var, const, dims)

    def params(self, w: CWriter, ctype: str, fields: list[tuple[str, object]]) -> None:
        w.lines(struct_lines(ctype, "params", fields))


class PatchPlacement:
    """Inside the patch loop: windows of stage tensors from the step table ``s``."""

    def __init__(self, names, node: Node, globals_writer: CWriter):
        self.names = names
        self.node = node
        self.globals = globals_writer
        self.inplace_depthwise: dict[str, int] = {}  # patch stages never run depthwise in place

    def view(self, tensor: str, var: str, const: bool = False, dims: tuple[int, int, int] | None = None) -> str:
        graph = self.names.graph
        t = graph.tensors[tensor]
        if t.is_const:
            return LayerPlacement(self.names).view(tensor, var, const, dims)
        if tensor == self.node.outputs[0]:
            window = "s->out"
        else:
            window = f"s->in[{self.node.inputs.index(tensor)}]"
        qual = "const " if const else ""
        return f"{qual}edgec_view {var} = edgec_window_view({self.names.stage_pointer(tensor)}, &{window}, {t.shape[-1]});"

    def params(self, w: CWriter, ctype: str, fields: list[tuple[str, object]]) -> None:
        shared_params(self, w, ctype, fields, "s", PAD_FIELDS)


def shared_params(
    place, w: CWriter, ctype: str, fields: list[tuple[str, object]], source: str, pads, suffix: str = "_params"
) -> None:
    """The op's parameters as one ``static const`` struct (in ``place.globals``, named after the node
    plus ``suffix``), copied in the loop body with the padding fields ``pads`` taken from the current
    step or call ``source``."""
    shared = f"{place.names.node_ids[place.node.name]}{suffix}"
    place.globals.lines(struct_lines(ctype, shared, fields))
    place.globals.line()
    w.line(f"{ctype} params = {shared};")
    for name in pads:
        if any(key == name for key, _ in fields):
            w.line(f"params.{name} = {source}->{name};")
