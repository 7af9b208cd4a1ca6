"""The firmware glue of an NPU build: Vela's data as const arrays and one C function per segment.

Files added to the generated project (``src/``):

* ``edgec_npu_data.c`` — each segment's command stream and the read-only
  data (encoded weights) as 16-byte aligned ``const uint8_t`` arrays;
* ``edgec_npu.h``/``edgec_npu.c`` —
  ``edgec_npu_segment_<k>(inputs..., outputs..., npu_arena)``: copy the
  inputs to the offsets Vela fixed inside its arena (``npu_arena``, the
  scratch area Vela planned for all segments, which edgec's planner places
  in the CPU arena, live from the first segment to the last), reserve the driver, call
  ``ethosu_invoke_v3`` with the base addresses in TFLM's order
  ``[read_only, scratch, scratch_fast, inputs..., outputs...]``, release the
  driver, copy the outputs out;
* ``ethosu/ethosu_driver.h`` — the driver API header written by edgec.

``model.c`` calls the segment functions between the CPU kernels: the
``ethos_u`` node of the CPU graph is emitted by ``emit_segment_call``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edgec.codegen import op_emitters
from edgec.codegen.cwriter import CWriter
from edgec.reference.qparams import BUILDERS
from edgec.resources import RUNTIME_DIR

from .optimized import OptimizedModel
from .partition import NPU_OP, Partition

DRIVER_HEADER = RUNTIME_DIR / "ethosu" / "ethosu_driver.h"
GLUE_FILES = ("edgec_npu.h", "edgec_npu.c", "edgec_npu_data.c", "ethosu/ethosu_driver.h")


@op_emitters.emitter(NPU_OP)
def emit_segment_call(w: CWriter, names, weights, node, params, ident) -> str:
    """model.c's call of one NPU segment (an ``ethos_u`` node of the CPU graph)."""
    arena = node.attrs["arena"]  # Vela's arena: an output of the first segment's node, an input of the others
    ins = [t for t in node.inputs if t != arena]
    outs = [t for t in node.outputs if t != arena]
    args = [names.pointer(t) for t in ins + outs] + [f"(uint8_t *){names.pointer(arena)}"]
    w.line(f"edgec_npu_segment_{node.attrs['segment']}({', '.join(args)});")
    return f"edgec_npu_segment_{node.attrs['segment']}"


BUILDERS.setdefault(NPU_OP, lambda graph, node: {})  # no integer parameters: Vela's command stream holds them


def add_include(model_c: Path) -> None:
    """model.c declares the segment functions through edgec_npu.h."""
    text = model_c.read_text()
    anchor = '#include "weights.h"\n'
    model_c.write_text(text.replace(anchor, anchor + '#include "edgec_npu.h"\n', 1))


def _byte_rows(data: bytes, per_row: int = 16) -> list[str]:
    return [", ".join(f"0x{b:02x}" for b in data[i : i + per_row]) + "," for i in range(0, len(data), per_row)]


class GlueLayout:
    """Sizes and names the glue uses; also what the memory check counts."""

    def __init__(self, part: Partition, om: OptimizedModel):
        self.part = part
        self.om = om
        self.read_only = sorted({s.vela.read_only for s in part.segments})
        self.scratch = max((om.size(s.vela.scratch) for s in part.segments), default=0)
        separate = [s for s in part.segments if s.vela.scratch_fast != s.vela.scratch]
        self.fast_scratch = max((om.size(s.vela.scratch_fast) for s in separate), default=0)
        self.command_stream_bytes = sum(om.size(s.vela.command_stream) for s in part.segments)
        self.read_only_bytes = sum(om.size(r) for r in self.read_only)

    def read_only_name(self, tensor: int) -> str:
        return f"npu_read_only_{self.read_only.index(tensor)}"

    @property
    def sram_bytes(self) -> int:
        """SRAM the glue holds itself: the fast scratch; Vela's arena is inside edgec's arena."""
        return self.fast_scratch

    @property
    def const_bytes(self) -> int:
        return self.command_stream_bytes + self.read_only_bytes


def write_glue(src: Path, part: Partition, om: OptimizedModel, banner: str) -> GlueLayout:
    layout = GlueLayout(part, om)
    (src / "ethosu").mkdir(exist_ok=True)
    shutil.copy2(DRIVER_HEADER, src / "ethosu" / "ethosu_driver.h")
    (src / "edgec_npu_data.c").write_text(_data_c(layout, banner))
    (src / "edgec_npu.h").write_text(_header(layout, banner))
    (src / "edgec_npu.c").write_text(_source(layout, banner))
    return layout


def _data_c(layout: GlueLayout, banner: str) -> str:
    w = CWriter()
    w.comment(banner)
    w.comment("Vela's output: command streams (driver payloads, COP1) and encoded weights. Constant: flash/DDR.")
    w.lines(["#include <stdint.h>", "", '#include "edgec_npu.h"', ""])
    om = layout.om
    for seg in layout.part.segments:
        data = om.data(seg.vela.command_stream)
        w.line(f"const uint8_t npu_command_stream_{seg.index}[{len(data)}] __attribute__((aligned(16))) = {{")
        w.lines("    " + row for row in _byte_rows(data))
        w.lines(["};", ""])
    for tensor in layout.read_only:
        data = om.data(tensor)
        w.line(f"const uint8_t {layout.read_only_name(tensor)}[{max(len(data), 1)}] __attribute__((aligned(16))) = {{")
        w.lines("    " + row for row in (_byte_rows(data) or ["0,"]))
        w.lines(["};", ""])
    for seg in layout.part.segments:
        for tensor in _constant_inputs(om, seg):
            data = om.data(tensor)
            w.comment(f"{om.name(tensor)}: evaluated at build time (Vela left its computation on the CPU).")
            w.line(f"const uint8_t {_constant_name(seg, tensor)}[{len(data)}] __attribute__((aligned(16))) = {{")
            w.lines("    " + row for row in _byte_rows(data))
            w.lines(["};", ""])
    return w.text()


def _constant_inputs(om: OptimizedModel, seg) -> list[int]:
    return [t for t in seg.vela.inputs if om.model.tensors[t].data is not None]


def _constant_name(seg, tensor: int) -> str:
    return f"npu_segment_{seg.index}_constant_{tensor}"


def _header(layout: GlueLayout, banner: str) -> str:
    w = CWriter()
    w.comment(banner)
    w.lines(["#ifndef EDGEC_NPU_H", "#define EDGEC_NPU_H", "", "#include <stdint.h>", ""])
    om = layout.om
    for seg in layout.part.segments:
        w.line(f"extern const uint8_t npu_command_stream_{seg.index}[{om.size(seg.vela.command_stream)}];")
    for tensor in layout.read_only:
        w.line(f"extern const uint8_t {layout.read_only_name(tensor)}[{max(om.size(tensor), 1)}];")
    for seg in layout.part.segments:
        for tensor in _constant_inputs(om, seg):
            w.line(f"extern const uint8_t {_constant_name(seg, tensor)}[{om.size(tensor)}];")
    w.line()
    for seg in layout.part.segments:
        w.comment(f"NPU segment {seg.index}: {len(seg.nodes)} ops, {seg.macs:,} MACs.")
        w.line(f"void edgec_npu_segment_{seg.index}({_params(seg)});")
    w.line()
    w.comment("0 while every NPU segment ran; negative after a driver failure (-1 no driver, -2 invoke failed).")
    w.line("int edgec_npu_status(void);")
    w.lines(["", "#endif /* EDGEC_NPU_H */"])
    return w.text()


def _params(seg) -> str:
    ins = [f"const int8_t *in{i}" for i in range(len(seg.inputs))]
    outs = [f"int8_t *out{i}" for i in range(len(seg.outputs))]
    return ", ".join([*ins, *outs, "uint8_t *npu_arena"])


def _source(layout: GlueLayout, banner: str) -> str:
    w = CWriter()
    w.comment(banner)
    w.lines(
        [
            "#include <stddef.h>",
            "#include <stdint.h>",
            "#include <string.h>",
            "",
            '#include "ethosu/ethosu_driver.h"',
            '#include "edgec_npu.h"',
            "",
        ]
    )
    w.comment("Vela's arena (the segments' feature maps and scratch, at offsets Vela fixed; a segment may read")
    w.comment("what an earlier one left there) is passed in as npu_arena: edgec's planner places it in the CPU")
    w.comment("arena, 16-byte aligned, live from the first NPU segment to the last.")
    if layout.fast_scratch:
        w.comment("Vela's fast scratch (memory mode with a dedicated SRAM cache).")
        w.line(f"static uint8_t npu_fast_scratch[{layout.fast_scratch}] __attribute__((aligned(16)));")
    w.line("static int npu_status;")
    w.line()
    w.line("int edgec_npu_status(void)")
    with w.block():
        w.line("return npu_status;")
    w.line()
    w.comment("Run one command stream: claim the driver, invoke, give the driver back.")
    w.line("static void npu_run(const uint8_t *stream, int stream_bytes, uint64_t *base, const size_t *sizes, int count)")
    with w.block():
        w.line("struct ethosu_driver *drv = ethosu_reserve_driver();")
        w.line("if (drv == NULL)")
        with w.block():
            w.line("npu_status = -1;")
            w.line("return;")
        w.line("if (ethosu_invoke_v3(drv, stream, stream_bytes, base, sizes, count, NULL) != 0)")
        with w.block():
            w.line("npu_status = -2;")
        w.line("ethosu_release_driver(drv);")
    for seg in layout.part.segments:
        w.line()
        _segment_function(w, layout, seg)
    return w.text()


def _segment_function(w: CWriter, layout: GlueLayout, seg) -> None:
    om = layout.om
    v = seg.vela
    tensors = v.inputs + v.outputs
    count = 3 + len(tensors)
    fast = "npu_fast_scratch" if v.scratch_fast != v.scratch else "npu_arena"
    sizes = [om.size(v.read_only), om.size(v.scratch), om.size(v.scratch_fast)] + [om.size(t) for t in tensors]
    w.comment(f"NPU segment {seg.index}: {', '.join(seg.inputs)} -> {', '.join(seg.outputs)}; npu_arena: {om.size(v.scratch)} bytes.")
    w.line(f"void edgec_npu_segment_{seg.index}({_params(seg)})")
    with w.block():
        w.line(f"static const size_t sizes[{count}] = {{{', '.join(f'{s}u' for s in sizes)}}};")
        w.line(f"uint64_t base[{count}];")
        w.line()
        constants = set(_constant_inputs(om, seg))
        where = {}  # tensor -> its address expression for the base-address table
        activation = 0
        for t in v.inputs:
            source = _constant_name(seg, t) if t in constants else f"in{activation}"
            activation += t not in constants
            if t in om.offsets:  # Vela placed it in its arena: the command stream reads it there
                w.line(f"memcpy(npu_arena + {om.offsets[t]}, {source}, {om.size(t)});")
                where[t] = f"npu_arena + {om.offsets[t]}"
            elif t in constants:
                where[t] = _constant_name(seg, t)
            else:
                where[t] = f"npu_arena + {_offset(om, t)}"  # an activation without an offset: an error
        for t in v.outputs:
            where[t] = f"npu_arena + {_offset(om, t)}"
        w.line(f"base[0] = (uint64_t)(uintptr_t){layout.read_only_name(v.read_only)};")
        w.line("base[1] = (uint64_t)(uintptr_t)npu_arena;")
        w.line(f"base[2] = (uint64_t)(uintptr_t){fast};")
        for i, t in enumerate(tensors):
            w.line(f"base[{3 + i}] = (uint64_t)(uintptr_t)({where[t]});")
        w.line(f"npu_run(npu_command_stream_{seg.index}, (int)sizeof npu_command_stream_{seg.index}, base, sizes, {count});")
        for i, t in enumerate(v.outputs):
            w.line(f"memcpy(out{i}, npu_arena + {_offset(om, t)}, {om.size(t)});")


def _offset(om: OptimizedModel, tensor: int) -> int:
    from edgec.errors import BuildError

    if tensor not in om.offsets:
        raise BuildError(f"Vela placed no offset for segment tensor {om.name(tensor)!r}: report this model")
    return om.offsets[tensor]
