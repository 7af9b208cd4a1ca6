"""The C back end: an int8 graph and its plan -> a self-contained C project.

The project (``model.h``, ``model.c``, ``weights.h``, ``weights.c``,
``kernels/``, ``CMakeLists.txt``, ``host/main.c``) compiles with
``-std=c99 -Wall -Wextra -Werror`` for the host or, with the firmware
builder, for an MCU.  ``model.c`` is one kernel call per op, in plan order,
each preceded by a comment naming the source op and its shapes (a patch
stage is one loop over patches, ``patch_stage.py``; a streamed projection
conv and its residual add one loop over rows, ``residual.py``; a row-streamed
segment one loop over a table of row calls, ``row_segment.py``); activations
live at constant offsets in one static arena, weights are ``const`` (flash).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edgec import __version__
from edgec.codegen import op_emitters
from edgec.codegen.cwriter import CWriter, c_float, c_identifier, c_list
from edgec.codegen.kernel_variants import KernelSelector
from edgec.codegen.patch_stage import STEP_TYPES, emit_patch_stage
from edgec.codegen.residual import emit_streamed
from edgec.codegen.row_segment import CALL_TYPE, emit_row_segment
from edgec.errors import BuildError
from edgec.ir import Graph, Node, macs
from edgec.resources import RUNTIME_DIR

ALIAS_OPS = frozenset({"reshape", "identity", "dropout"})
SHORT_OPS = {
    "conv2d": "conv",
    "depthwise_conv2d": "dwconv",
    "fully_connected": "fc",
    "max_pool2d": "maxpool",
    "avg_pool2d": "avgpool",
    "quantize": "requant",
    "resize_nearest": "upsample",
}


@dataclass
class Project:
    path: Path
    ops: list[dict] = field(default_factory=list)
    kernels: KernelSelector | None = None  # the per-layer kernel variants


class TensorNames:
    """C names for tensors and nodes, and where each activation lives."""

    def __init__(self, graph: Graph, plan):
        self.graph = graph
        self.plan = plan
        self._used: set[str] = {"input", "output", "arena", "params", "in", "out", "a", "b", "ins", "patch", "row", "px"}
        self.node_ids = {n.name: c_identifier(f"{SHORT_OPS.get(n.op, n.op)}_{i}", self._used) for i, n in enumerate(graph.nodes)}
        self.tensor_ids: dict[str, str] = {}
        for n in graph.nodes:
            for k, o in enumerate(n.outputs):
                self.tensor_ids[o] = c_identifier(f"{self.node_ids[n.name]}_out{k or ''}", self._used)
        for name in graph.tensors:
            self.tensor_ids.setdefault(name, c_identifier(name[-24:], self._used))

        self.stage = getattr(plan, "stage", None)
        self.patch_ids: dict[str, str] = {}
        if self.stage is not None:
            for name in plan.patch_plan.offsets:
                self.patch_ids[name] = c_identifier(f"patch_{self.tensor_ids[name]}", self._used)

    def is_whole_tensor(self, tensor: str) -> bool:
        """Inside a patch stage: is ``tensor`` stored whole (model input, stage output) rather than per patch?"""
        return self.root(tensor) in self.graph.inputs or tensor == self.stage.split

    def stage_pointer(self, tensor: str) -> str:
        if self.root(tensor) in self.graph.inputs or tensor == self.stage.split:
            return self.pointer(tensor)
        return self.patch_ids[tensor]

    def root(self, tensor: str) -> str:
        return self.plan.arena.aliases.get(tensor, tensor)

    def pointer(self, tensor: str) -> str:
        """A C expression of type ``int8_t *`` for an activation tensor."""
        root = self.root(tensor)
        if root in self.graph.inputs:
            return "(int8_t *)input"
        if root in self.graph.outputs:
            return "output"
        if tensor in self.plan.arena.offsets:
            return self.tensor_ids[root]
        raise BuildError(f"tensor {tensor!r} has no memory in the plan")


def _unsupported(graph: Graph) -> list[str]:
    problems = []
    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            continue
        if node.op not in op_emitters.EMITTERS:
            problems.append(f"node {node.name!r} ({node.op})")
        elif any(graph.tensors[t].dtype not in ("int8", "int32") for t in node.inputs + node.outputs if t):
            problems.append(f"node {node.name!r} ({node.op}) has non-int8 tensors")
    for name in graph.inputs + graph.outputs:
        t = graph.tensors[name]
        if t.dtype != "int8":
            problems.append(f"boundary tensor {name!r} is {t.dtype}")
        elif t.shape and t.shape[0] != 1:
            problems.append(f"boundary tensor {name!r} has batch {t.shape[0]}")
    return problems


def emit_project(
    graph: Graph, plan, out_dir: Path, target, model_hash: str, kernels: str = "auto", max_layout_bytes: int | None = None
) -> Project:
    """Emit the C project; ``kernels`` is the kernel-variant mode (``kernel_variants.KERNEL_MODES``),
    ``max_layout_bytes`` caps the flash the variants' weight layouts may add."""
    problems = _unsupported(graph)
    if problems:
        raise BuildError("the C back end cannot compile " + "; ".join(problems) + ": rewrite these ops or use another target")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise BuildError(f"the C back end needs exactly one input and one output, the model has {len(graph.inputs)} and {len(graph.outputs)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    names = TensorNames(graph, plan)
    names.kernels = KernelSelector(graph, target, kernels, max_layout_bytes)
    weights = op_emitters.WeightTable(names)
    body = CWriter()
    globals_w = CWriter()
    ops: list[dict] = []
    stage_nodes = set(plan.stage.nodes) if plan.stage is not None else set()
    streamed = plan.arena.streamed  # conv -> add, run together at the conv (residual.py)
    streamed_adds = set(streamed.values())
    segments = {seg.nodes[0]: seg for seg in plan.arena.row_segments}  # run at their first op (row_segment.py)
    in_segments = {name for seg in plan.arena.row_segments for name in seg.nodes}
    max_inputs = max((len(graph.node(n).inputs) for n in stage_nodes), default=0)
    if stage_nodes:
        globals_w.lines(STEP_TYPES.format(inputs=max_inputs).splitlines())
        globals_w.line()
    if segments:
        globals_w.lines(CALL_TYPE.splitlines())
        globals_w.line()
    for node in graph.nodes:
        if node.name in stage_nodes:
            if node.name == plan.stage.nodes[0]:
                ops += emit_patch_stage(body, globals_w, names, weights, plan.stage, len(ops), max_inputs)
            continue
        if node.name in segments:
            ops += emit_row_segment(body, globals_w, names, weights, segments[node.name], len(ops))
            continue
        if node.name in in_segments:
            continue
        if node.name in streamed:
            ops += emit_streamed(body, names, weights, node, graph.node(streamed[node.name]), len(ops))
            continue
        if node.name in streamed_adds:
            continue
        if node.op in ALIAS_OPS:
            _emit_alias(body, names, node)
            continue
        emitted = op_emitters.emit_node(body, names, weights, node)
        body.line(f"EDGEC_PROFILE_OP({len(ops)});")
        body.line()
        out = graph.tensors[node.outputs[0]]
        ops.append(
            {
                "index": len(ops),
                "name": node.name,
                "op": node.op,
                "kernel": emitted,
                "macs": macs(graph, node),
                "output_shape": list(out.shape),
                "arena_offset": plan.arena.offsets.get(names.root(node.outputs[0])),
            }
        )
    for op in ops:
        op["variant"] = names.kernels.variant_of(op["name"])
    header = (
        f"Generated by edgec {__version__} for target {target.name}.\n"
        f"Model sha256 {model_hash}. Do not edit: rebuild with `edgec build`."
    )
    x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    (out_dir / "model.h").write_text(model_header(x, y, max(plan.arena_size, 16), len(ops), model_hash, header))
    (out_dir / "model.c").write_text(_model_c(graph, names, body, globals_w, header))
    (out_dir / "weights.h").write_text(weights.header(header))
    (out_dir / "weights.c").write_text(weights.source(header))
    _copy_runtime(out_dir, {op["variant"] for op in ops})
    return Project(out_dir, ops, names.kernels)


def _emit_alias(w: CWriter, names: TensorNames, node: Node) -> None:
    """A reshape is free when input and output share memory; otherwise it is a copy."""
    src, dst = names.pointer(node.inputs[0]), names.pointer(node.outputs[0])
    if src != dst:
        size = names.graph.tensors[node.outputs[0]].nbytes
        w.comment(f"{node.name}: {node.op} copies {size} bytes between buffers")
        w.line(f"memcpy({dst}, {src}, {size});")
        w.line()


def model_header(x, y, arena_bytes: int, op_count: int, model_hash: str, header: str) -> str:
    """model.h: the API every build exports (MCU, host and the TVM back end's driver alike) for
    input tensor ``x`` and output tensor ``y``."""
    w = CWriter()
    w.comment(header)
    w.lines(["#ifndef EDGEC_MODEL_H", "#define EDGEC_MODEL_H", "", "#include <stdint.h>", ""])
    w.comment(f"Input {x.name}: int8 {'x'.join(map(str, x.shape))}; output {y.name}: int8 {'x'.join(map(str, y.shape))}.")
    rows = [
        ("EDGEC_INPUT_SIZE", str(x.nbytes)),
        ("EDGEC_OUTPUT_SIZE", str(y.nbytes)),
        ("EDGEC_ARENA_SIZE", str(arena_bytes)),
        ("EDGEC_OP_COUNT", str(op_count)),
        ("EDGEC_MODEL_HASH", f"0x{model_hash[:8]}u"),
        ("EDGEC_INPUT_RANK", str(len(x.shape))),
        ("EDGEC_INPUT_SHAPE", c_list(x.shape)),
        ("EDGEC_OUTPUT_RANK", str(len(y.shape))),
        ("EDGEC_OUTPUT_SHAPE", c_list(y.shape)),
        ("EDGEC_INPUT_SCALE", c_float(x.qscale)),
        ("EDGEC_INPUT_ZERO_POINT", f"({x.qzero})"),
        ("EDGEC_OUTPUT_SCALE", c_float(y.qscale)),
        ("EDGEC_OUTPUT_ZERO_POINT", f"({y.qzero})"),
    ]
    width = max(len(k) for k, _ in rows)
    w.lines(f"#define {k.ljust(width)} {v}" for k, v in rows)
    w.line()
    w.comment("Runs one inference: reads EDGEC_INPUT_SIZE bytes, writes EDGEC_OUTPUT_SIZE bytes.")
    w.line("void edgec_model_run(const int8_t *input, int8_t *output);")
    w.lines(["", "#endif /* EDGEC_MODEL_H */"])
    return w.text()


def _model_c(graph: Graph, names: TensorNames, body: CWriter, globals_w: CWriter, header: str) -> str:
    w = CWriter()
    w.comment(header)
    w.lines(
        [
            "#include <stdint.h>",
            "#include <string.h>",
            "",
            '#include "edgec_kernels.h"',
            *(['#include "subbyte.h"'] if getattr(names.plan, "mixed", None) is not None and names.stage is not None else []),
            '#include "model.h"',
            '#include "edgec_profile.h"',
            '#include "weights.h"',
            "",
        ]
    )
    plan = names.plan.arena
    placed = sorted({names.root(t) for t in plan.offsets}, key=lambda t: (plan.offsets[t], t))
    if placed or plan.scratch_offsets or names.stage is not None:
        w.comment("All activations live in one arena, at offsets fixed by the memory plan.")
        w.line("static int8_t arena[EDGEC_ARENA_SIZE] __attribute__((aligned(16)));")
    else:
        w.comment("Every tensor is a model input or output: the model needs no arena.")
    w.line()
    chunks = {graph.node(conv).outputs[0]: pixels for conv, pixels in plan.stream_pixels.items()}
    lines = {t: seg.capacity[t] for seg in plan.row_segments for t in seg.chain}
    for tensor in placed:
        t = graph.tensors[tensor]
        ident = names.tensor_ids[tensor]
        shape = "x".join(map(str, t.shape))
        if tensor in chunks:
            what = f"{chunks[tensor]} pixels of {shape} (streamed), {plan.sizes[tensor]} bytes"
        elif tensor in lines:
            what = f"{lines[tensor]} rows of {shape} (line buffer), {plan.sizes[tensor]} bytes"
        else:
            what = f"{shape}, {t.nbytes} bytes"
        w.line(f"static int8_t *const {ident} = arena + {plan.offsets[tensor]}; /* {what} */")
    for node_name, offset in sorted(plan.scratch_offsets.items()):
        w.line(f"static int8_t *const {names.node_ids[node_name]}_scratch = arena + {offset};")
    w.line()
    if names.stage is not None:
        w.comment("Per-patch buffers of the patch stage (one patch's region of each tensor, dense).")
        base = names.plan.patch_base
        for tensor, ident in names.patch_ids.items():
            w.line(f"static int8_t *const {ident} = arena + {base + names.plan.patch_plan.offsets[tensor]};")
        w.line()
    w.lines(globals_w.text().rstrip("\n").splitlines())
    w.line()
    uses_input = any(names.root(i) in graph.inputs for n in graph.nodes for i in n.inputs if i)
    w.line("void edgec_model_run(const int8_t *input, int8_t *output)")
    with w.block():
        if not uses_input:
            w.line("(void)input;")
        w.line("EDGEC_PROFILE_BEGIN();")
        w.line()
        for line in body.text().rstrip("\n").splitlines():
            w.line(line)
    return w.text()


VARIANT_SOURCE_SUFFIXES = ("_dsp", "_mve")  # conv_dsp.c, depthwise_mve.c, ...: one kernel variant each


def _copy_runtime(out_dir: Path, variants: set[str]) -> None:
    """The kernel library (portable kernels, plus the source files of the variants ``variants``
    the model uses: the others would only cost compile time), the profiler hook and the host runner."""
    kernels = out_dir / "kernels"
    kernels.mkdir(exist_ok=True)
    for f in sorted((RUNTIME_DIR / "kernels").iterdir()):
        unused = f.stem.endswith(VARIANT_SOURCE_SUFFIXES) and f.stem.rsplit("_", 1)[1] not in variants
        if f.suffix == ".h" or (f.suffix == ".c" and not unused):
            shutil.copy2(f, kernels / f.name)
    shutil.copy2(RUNTIME_DIR / "profiler" / "edgec_profile.h", out_dir / "edgec_profile.h")
    (out_dir / "host").mkdir(exist_ok=True)
    shutil.copy2(RUNTIME_DIR / "host" / "main.c", out_dir / "host" / "main.c")
    (out_dir / "CMakeLists.txt").write_text(CMAKE_PROJECT)


CMAKE_PROJECT = """\
# Generated by edgec: builds the model library and, on the host, the runner.
cmake_minimum_required(VERSION 3.13)
project(edgec_model C)

set(CMAKE_C_STANDARD 99)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)

# edgec's own host builds pass EDGEC_KERNELS_ARCHIVE: these kernels, compiled once and cached
# (edgec/kernel_archive.py).  Without it the kernels compile here.
if(EDGEC_KERNELS_ARCHIVE)
  add_library(edgec_model_lib STATIC model.c weights.c)
  target_link_libraries(edgec_model_lib PUBLIC ${EDGEC_KERNELS_ARCHIVE})
else()
  file(GLOB KERNEL_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kernels/*.c)
  add_library(edgec_model_lib STATIC model.c weights.c ${KERNEL_SOURCES})
endif()
target_include_directories(edgec_model_lib PUBLIC ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/kernels)
target_compile_options(edgec_model_lib PRIVATE -Wall -Wextra -Werror -O2)

if(NOT CMAKE_CROSSCOMPILING)
  add_executable(edgec_model host/main.c)
  target_compile_options(edgec_model PRIVATE -Wall -Wextra -Werror -O2)
  target_link_libraries(edgec_model edgec_model_lib)
endif()
"""
