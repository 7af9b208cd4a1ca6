"""Partition edgec's int8 graph along the cut Vela made: NPU segments and CPU ops.

Vela was handed the original TFLite model; its optimized model names, for
each ``ethos-u`` segment and each operator it left on the CPU, the tensors
going in and out. Those are the model's own tensor names, which edgec's
graph keeps, so each Vela step maps onto the edgec nodes that lie between its
inputs and outputs (walking back from the outputs, stopping at the step's
inputs, the model inputs and constants). Every edgec node must land in
exactly one step; otherwise the build stops with a one-line error.

The result is the CPU graph that edgec's C back end compiles: the CPU steps'
nodes as they were, and each NPU segment as one ``ethos_u`` node from its
inputs to its outputs, run by the glue (``glue.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgec.errors import BuildError
from edgec.ir import Graph, Node, macs
from edgec.ir.ops import OPS, register
from edgec.ir.tensor import Tensor

from .optimized import CpuOp, NpuSegment, OptimizedModel
from .vela_runner import Fallback

NPU_OP = "ethos_u"


def _infer_segment(g: Graph, n: Node) -> list[tuple[int, ...]]:
    return [g.tensors[o].shape for o in n.outputs]


def _segment_macs(g: Graph, n: Node) -> int:
    return int(n.attrs.get("macs", 0))


if NPU_OP not in OPS:
    register(NPU_OP, _infer_segment, _segment_macs)


@dataclass
class Segment:
    """One NPU segment in edgec's terms."""

    index: int  # 0, 1, ... in execution order
    vela: NpuSegment
    nodes: list[str]  # the edgec nodes Vela runs on the NPU
    inputs: list[str]
    outputs: list[str]
    macs: int
    arena: str = ""  # the CPU graph tensor standing for Vela's arena (scratch)
    carried: list[str] = field(default_factory=list)  # read from an earlier segment's output kept in Vela's arena


@dataclass
class Partition:
    graph: Graph  # the CPU graph: CPU nodes and one ethos_u node per segment
    segments: list[Segment]
    cpu_nodes: list[str]  # the edgec nodes left on the CPU
    target_of: dict[str, str]  # edgec node -> "npu" | "cpu"
    segment_of: dict[str, int] = field(default_factory=dict)  # edgec node -> segment index
    fallbacks: list[dict] = field(default_factory=list)  # CPU nodes with Vela's reason
    io_conversions: list[dict] = field(default_factory=list)  # Vela's float QUANTIZE/DEQUANTIZE at the model's I/O
    folded: list[dict] = field(default_factory=list)  # Vela's CPU shape plumbing, evaluated at build time


def all_on_cpu(graph: Graph) -> Partition:
    """``--npu-ops none``: every node on the CPU."""
    names = [n.name for n in graph.nodes]
    return Partition(graph, [], names, {n: "cpu" for n in names})


def partition(graph: Graph, om: OptimizedModel, fallbacks: list[Fallback]) -> Partition:
    producers = graph.producers()
    owner: dict[str, int] = {}  # edgec node -> step index
    members: list[list[str]] = []
    folded = fold_constant_steps(om)
    steps = [s for s in om.steps if not _io_conversion(graph, om, s) and s.index not in folded]
    for k, step in enumerate(steps):
        ins = [om.name(i) for i in _activation_inputs(step, om)]
        outs = [om.name(o) for o in step.outputs]
        for name in ins + outs:
            if name not in graph.tensors:
                raise BuildError(
                    f"Vela's tensor {name!r} has no counterpart in edgec's graph: "
                    "build this model with --npu-ops none (everything on the CPU)"
                )
        nodes = _between(graph, producers, set(ins) | set(graph.inputs), outs, owner)
        for n in nodes:
            if n in owner:
                raise BuildError(f"node {n!r} falls in two of Vela's steps: build this model with --npu-ops none")
            owner[n] = k
        members.append(nodes)
    missing = [n.name for n in graph.nodes if n.name not in owner]
    if missing:
        raise BuildError(
            f"{len(missing)} node(s) of edgec's graph (first {missing[0]!r}) are in none of Vela's steps: "
            "build this model with --npu-ops none"
        )
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    cpu = Graph(name=graph.name, tensors=dict(graph.tensors), inputs=list(graph.inputs), outputs=list(graph.outputs), meta=dict(graph.meta))
    segments: list[Segment] = []
    target_of: dict[str, str] = {}
    segment_of: dict[str, int] = {}
    cpu_nodes: list[str] = []
    for k, step in enumerate(steps):
        nodes = sorted(members[k], key=order.__getitem__)
        if isinstance(step, CpuOp):
            for n in nodes:
                cpu.nodes.append(graph.node(n).copy())
                target_of[n] = "cpu"
                cpu_nodes.append(n)
            continue
        seg = Segment(
            index=len(segments),
            vela=step,
            nodes=nodes,
            inputs=[om.name(i) for i in _activation_inputs(step, om)],
            outputs=[om.name(o) for o in step.outputs],
            macs=sum(macs(graph, graph.node(n)) for n in nodes),
        )
        _check_boundary(graph, om, step)
        seg.carried = _carried(graph, nodes, seg.inputs, target_of)
        # Vela plans one arena (the scratch tensor) for all segments; a segment may read what an
        # earlier one left there. In the CPU graph it is an output of the first segment's node and an
        # input of each later one: edgec's planner keeps it live from the first segment to the last
        # and places it in the CPU arena over tensors dead before or after.
        first = not segments
        seg.arena = segments[0].arena if segments else cpu.unique_name("npu_arena")
        if first:
            cpu.add_tensor(Tensor(seg.arena, (max(om.size(step.scratch), 16),), "int8"))
        elif om.size(step.scratch) > cpu.tensors[seg.arena].shape[0]:
            raise BuildError("Vela gave NPU segments different arenas: report this model")
        cpu.add_node(
            NPU_OP, seg.inputs + ([] if first else [seg.arena]), seg.outputs + ([seg.arena] if first else []),
            name=f"npu_segment_{seg.index}", segment=seg.index, macs=seg.macs, nodes=len(nodes), arena=seg.arena,
        )  # fmt: skip
        for n in nodes:
            target_of[n] = "npu"
            segment_of[n] = seg.index
        segments.append(seg)
    cpu.prune_tensors()
    conversions = [
        {"tflite_op": s.op_name, "tensor": om.name(s.outputs[0]), "handled_by": "edgec's int8 model boundary (the caller converts float I/O)"}
        for s in om.steps if s not in steps and s.index not in folded
    ]  # fmt: skip
    evaluated = [{"tflite_op": s.op_name, "tensor": om.name(s.outputs[0])} for s in om.steps if s.index in folded]
    rows = _fallback_rows(graph, cpu_nodes, fallbacks)
    return Partition(cpu, segments, cpu_nodes, target_of, segment_of, rows, conversions, evaluated)


def fold_constant_steps(om: OptimizedModel) -> set[int]:
    """Vela's CPU operators that compute constants (SHAPE -> STRIDED_SLICE -> PACK feeding a transpose
    conv's output shape, ...): evaluated here, as edgec's TFLite frontend folds them at import; their
    outputs get constant data in ``om`` (an NPU segment reading one gets it from a const array)."""
    from edgec.frontends.tflite.const_eval import fold

    done = set()
    for step in om.steps:
        if isinstance(step, CpuOp) and fold(om.model, om.model.operators[step.index]):
            done.add(step.index)
    return done


def _io_conversion(graph: Graph, om: OptimizedModel, step: NpuSegment | CpuOp) -> bool:
    """A float QUANTIZE into a model input or DEQUANTIZE out of a model output that Vela left on the
    CPU: edgec's int8 boundary pass already removed it (its graph starts and ends at the int8 tensors)."""
    if not isinstance(step, CpuOp) or step.op_name not in ("QUANTIZE", "DEQUANTIZE"):
        return False
    ins = [om.name(i) for i in step.inputs]
    outs = [om.name(o) for o in step.outputs]
    if step.op_name == "QUANTIZE":
        return all(o in graph.inputs for o in outs) and not any(i in graph.tensors for i in ins)
    return all(i in graph.outputs for i in ins) and not any(o in graph.tensors for o in outs)


def _activation_inputs(step: NpuSegment | CpuOp, om: OptimizedModel) -> list[int]:
    return [i for i in step.inputs if om.model.tensors[i].data is None]


def _between(graph: Graph, producers: dict[str, Node], stops: set[str], outputs: list[str], owner: dict[str, int]) -> list[str]:
    """The nodes computing ``outputs`` from the tensors in ``stops`` (and constants, and tensors that
    earlier steps computed)."""
    found: dict[str, None] = {}
    todo = [t for t in outputs if t not in stops]
    seen: set[str] = set()
    while todo:
        t = todo.pop()
        if t in seen or t in stops or not t:
            continue
        seen.add(t)
        node = producers.get(t)
        if node is None:
            if graph.tensors[t].is_const:
                continue
            raise BuildError(f"tensor {t!r} has no producer in edgec's graph: build this model with --npu-ops none")
        if node.name in owner:
            continue
        found[node.name] = None
        todo += [i for i in node.inputs if i]
    return list(found)


def _carried(graph: Graph, nodes: list[str], inputs: list[str], target_of: dict[str, str]) -> list[str]:
    """Tensors a segment reads that Vela did not pass as inputs: an earlier NPU segment's results,
    kept in Vela's arena (a CPU result would have been passed)."""
    inside = set(nodes)
    produced = {o for n in nodes for o in graph.node(n).outputs}
    carried = []
    for n in nodes:
        for t in graph.node(n).inputs:
            if not t or t in produced or t in inputs or graph.tensors[t].is_const or t in carried:
                continue
            producer = graph.producer(t)
            if producer is None or producer.name in inside or target_of.get(producer.name) != "npu":
                raise BuildError(f"NPU segment reads {t!r}, which Vela neither passes nor keeps in its arena: build this model with --npu-ops none")
            carried.append(t)
    return carried


def _check_boundary(graph: Graph, om: OptimizedModel, step: NpuSegment) -> None:
    """A segment's inputs and outputs are int8 tensors of the same size in both graphs."""
    for i in _activation_inputs(step, om) + step.outputs:
        t = graph.tensors[om.name(i)]
        if t.dtype != "int8" or t.nbytes != om.size(i):
            raise BuildError(
                f"NPU segment tensor {t.name!r} is {t.dtype} {t.nbytes} bytes in edgec's graph, "
                f"{om.size(i)} bytes in Vela's: build this model with --npu-ops none"
            )


def _fallback_rows(graph: Graph, cpu_nodes: list[str], fallbacks: list[Fallback]) -> list[dict]:
    """Every CPU node with the reason Vela gave for its TFLite operator (matched by output tensor)."""
    by_tensor = {f.tensor: f for f in fallbacks}
    rows = []
    for name in cpu_nodes:
        node = graph.node(name)
        hit = next((by_tensor[o] for o in node.outputs if o in by_tensor), None)
        rows.append(
            {
                "node": name,
                "op": node.op,
                "tflite_op": hit.op if hit else None,
                "reason": hit.reason if hit else "part of a CPU operator of Vela's output (no separate reason)",
            }
        )
    return rows
