"""An int8 graph and its arena plan -> a ``TvmProgram``: one PrimFunc per (fused) node, in order.

Fusion: a convolution, fully connected, pooling or mean node whose only
consumer is an element-wise op (requantize, relu, clip, leaky_relu, lookup
tables, hard_swish) runs in the same kernel as that consumer, when the tensor
between them is no graph output; the intermediate tensor then never reaches
memory.  One consumer per producer: every inlined fixed-point step repeats its
operand expression a few times, and longer chains (or an add's two rescalings)
made TVM's simplifier crawl.

Memory: activations live in one arena at the offsets of an ``ArenaPlan``
(``plan_for_tvm``: layer by layer, no in-place or streamed tricks, which TVM
kernels do not implement); the model input and output have arena space too.  Reshape-like ops (reshape, identity, dropout) are aliases in the
plan, or a ``copy`` call where they join two caller buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgec.codegen.tvm import te_ops
from edgec.codegen.tvm.reduce_init import apply_inits
from edgec.errors import BuildError
from edgec.ir.graph import Graph, Node
from edgec.schedule.arena import ArenaPlan, plan_arena

ALIAS_OPS = frozenset({"reshape", "identity", "dropout"})
FUSABLE_UNARY = frozenset({"quantize", "relu", "relu6", "clip", "leaky_relu", "logistic", "tanh", "rsqrt", "hard_swish"})
FUSABLE_BINARY = frozenset()  # add/sub/mul epilogues: two rescalings inlined into a conv make TVM's simplifier crawl
FUSABLE_PRODUCERS = frozenset(
    {"conv2d", "depthwise_conv2d", "fully_connected", "transpose_conv2d", "avg_pool2d", "max_pool2d", "mean"}
)
ARENA_ALIGNMENT = 64


@dataclass
class KernelCall:
    """One call of ``model.c``: a kernel (``func`` set) or a byte copy between buffers (``func`` None)."""

    nodes: list[str]  # the IR nodes it runs (several when fused), first the producer
    ops: list[str]
    func: str | None  # PrimFunc / symbol name (``__tvm_ffi_<func>`` in the object file)
    args: list[str]  # tensor or constant names, in argument order; the output last
    arg_shapes: list[tuple[int, ...]]  # the shape the kernel sees for each argument
    arg_dtypes: list[str]
    kind: str = ""  # schedule key: the op of the first node (e.g. "conv2d", "add")
    macs: int = 0

    @property
    def output(self) -> str:
        return self.args[-1]


@dataclass
class TvmProgram:
    graph: Graph
    arena: ArenaPlan
    calls: list[KernelCall] = field(default_factory=list)
    funcs: dict[str, object] = field(default_factory=dict)  # func name -> unscheduled tvm PrimFunc
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # weights, folded biases, tables

    @property
    def input(self) -> str:
        return self.graph.inputs[0]

    @property
    def output(self) -> str:
        return self.graph.outputs[0]

    def root(self, tensor: str) -> str:
        return self.arena.aliases.get(tensor, tensor)

    def location(self, tensor: str) -> tuple[str, int]:
        """Where ``tensor`` lives: ("input", 0), ("output", 0), ("arena", offset) or ("const", 0)."""
        if tensor in self.constants:
            return "const", 0
        root = self.root(tensor)
        if root in self.arena.offsets:
            return "arena", self.arena.offsets[root]
        if root in self.graph.inputs:
            return "input", 0
        if root in self.graph.outputs:
            return "output", 0
        raise BuildError(f"tensor {tensor!r} has no memory in the plan")


def plan_for_tvm(graph: Graph) -> ArenaPlan:
    """The arena plan TVM kernels follow: layer by layer, aliases shared, 64-byte aligned; the
    model input and output get arena space too (``model.c`` copies them in and out), so every
    kernel argument is aligned whatever buffers the caller passes."""
    return plan_arena(graph, alignment=ARENA_ALIGNMENT, inplace=False, external=set())


def unsupported_nodes(graph: Graph) -> list[str]:
    """Every node the TVM back end cannot lower, as ``name (op)``."""
    bad = []
    for node in graph.nodes:
        if node.op in ALIAS_OPS:
            continue
        if not te_ops.supported(graph, node):
            bad.append(f"{node.name!r} ({node.op})")
    return bad


def check_supported(graph: Graph) -> None:
    problems = [f"node {b}" for b in unsupported_nodes(graph)]
    for name in graph.inputs + graph.outputs:
        t = graph.tensors[name]
        if t.dtype != "int8":
            problems.append(f"boundary tensor {name!r} is {t.dtype}")
    if problems:
        raise BuildError("the TVM back end cannot compile " + "; ".join(problems) + ": rewrite these ops or use another target")


def _fuses_into(graph: Graph, producer: Node, consumer: Node, consumers: dict) -> bool:
    out = producer.outputs[0]
    if producer.op not in FUSABLE_PRODUCERS:
        return False
    if out in graph.outputs or len(consumers.get(out, [])) != 1 or len(producer.outputs) != 1:
        return False
    if consumer.op in FUSABLE_UNARY:
        return consumer.inputs[0] == out
    if consumer.op in FUSABLE_BINARY:
        shape = graph.tensors[consumer.outputs[0]].shape
        return graph.tensors[out].shape == shape and consumer.inputs.count(out) == 1
    return False


def fusion_groups(graph: Graph, fuse: bool = True) -> list[list[Node]]:
    """Nodes grouped into kernels, in execution order (alias ops alone)."""
    consumers = graph.consumer_map()
    groups: list[list[Node]] = []
    for node in graph.nodes:
        last = groups[-1] if groups else None
        if (
            fuse
            and last is not None
            and len(last) == 1
            and last[-1].op not in ALIAS_OPS
            and node.op not in ALIAS_OPS
            and _fuses_into(graph, last[-1], node, consumers)
        ):
            last.append(node)
        else:
            groups.append([node])
    return groups


def _func_name(index: int, op: str) -> str:
    return f"edgec_k{index}_{op}"


def lower_graph(graph: Graph, plan: ArenaPlan | None = None, fuse: bool = True, vnni: bool = False) -> TvmProgram:
    """Lower ``graph`` (final int8 IR) to TE kernels; ``plan`` defaults to ``plan_for_tvm(graph)``.

    ``vnni``: convolutions in the form x86 AVX-512 VNNI schedules tensorize (flipped uint8
    input, weights pre-laid-out; ``te_ops._conv2d_vnni``); pass ``uses_vnni(target)``.

    Raises ``BuildError`` naming every node the back end lacks, all at once.
    """
    from tvm import te

    check_supported(graph)
    arena = plan if plan is not None else plan_for_tvm(graph)
    arena = getattr(arena, "arena", arena)  # a ModelPlan: its layer plan
    if arena.inplace or arena.inplace_depthwise or arena.streamed or arena.row_segments:
        raise BuildError("the TVM back end follows plain layer-by-layer plans: plan with plan_for_tvm(graph)")
    program = TvmProgram(graph, arena)
    from edgec.ir import macs

    for group in fusion_groups(graph, fuse):
        first = group[0]
        if first.op in ALIAS_OPS:
            src, dst = first.inputs[0], first.outputs[0]
            if program.location(src) != program.location(dst) or program.root(src) != program.root(dst):
                t = graph.tensors[dst]
                program.calls.append(KernelCall([first.name], [first.op], None, [src, dst], [t.shape, t.shape], ["int8", "int8"], "copy"))
            continue
        fused: dict[str, te.Tensor] = {}
        args: list[tuple[str, te.Tensor]] = []
        out = None
        for node in group:
            kb, out = te_ops.lower_node(graph, node, fused, vnni=vnni)
            args += [(name, ph) for name, ph in kb.args if name not in fused]
            program.constants.update(kb.constants)
            fused[node.outputs[0]] = out
        name = _func_name(len(program.calls), first.op)
        tensors = [ph for _, ph in args] + [out]
        func = apply_inits(te.create_prim_func(tensors), tensors, out).with_attr("global_symbol", name)
        program.funcs[name] = func
        out_name = group[-1].outputs[0]
        program.calls.append(
            KernelCall(
                [n.name for n in group],
                [n.op for n in group],
                name,
                [a for a, _ in args] + [out_name],
                [tuple(int(d) for d in t.shape) for t in tensors],
                [str(t.dtype) for t in tensors],
                first.op,
                sum(macs(graph, n) for n in group),
            )
        )
    return program
