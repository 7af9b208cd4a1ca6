"""The numerics check possible without an NPU: run a partitioned model piece by piece.

No Ethos-U can execute here (no emulator, no driver), so the NPU segments run
on edgec's numpy int8 reference — a STAND-IN for the NPU, which checks the
partition's plumbing (segment boundaries, tensors handed between NPU and CPU,
order), not Vela's command streams. The CPU steps run either on the same
reference or, with ``qemu_cpu_runner``, as firmware built by edgec's C back
end for ``qemu-cortex-m55`` and run in QEMU, so that the CPU kernels are
checked bit-exact against the reference. The composition is then compared
with the int8 reference of the whole model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgec.ir import Graph

from .partition import NPU_OP, Partition

STAND_IN = "NPU segments ran on edgec's numpy int8 reference: a stand-in, no Ethos-U execution is possible here"

StepRunner = Callable[[Graph, dict[str, np.ndarray]], dict[str, np.ndarray]]


def sub_graph(graph: Graph, nodes: list[str], inputs: list[str], outputs: list[str], name: str) -> Graph:
    """The nodes ``nodes`` of ``graph`` as a graph of their own, from ``inputs`` to ``outputs``."""
    picked = [graph.node(n).copy() for n in nodes]
    used = set(inputs) | set(outputs)
    for n in picked:
        used.update(t for t in n.inputs + n.outputs if t)
    tensors = {k: t for k, t in graph.tensors.items() if k in used}
    return Graph(name=name, tensors=tensors, nodes=picked, inputs=list(inputs), outputs=list(outputs))


def reference_runner(sub: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from edgec.reference import run

    values = run(sub, dict(feeds))
    return {o: values[o] for o in sub.outputs}


def cpu_steps(part: Partition) -> list[tuple[list[str], list[str], list[str]]]:
    """The CPU graph's runs of consecutive CPU nodes: (nodes, inputs from outside, outputs used outside)."""
    steps: list[list[str]] = []
    current: list[str] = []
    for node in part.graph.nodes:
        if node.op == NPU_OP:
            if current:
                steps.append(current)
            current = []
        else:
            current.append(node.name)
    if current:
        steps.append(current)
    g = part.graph
    result = []
    for names in steps:
        inside = set(names)
        produced = {o for n in names for o in g.node(n).outputs}
        ins = list(dict.fromkeys(t for n in names for t in g.node(n).inputs if t and t not in produced and not g.tensors[t].is_const))
        used_outside = {t for node in g.nodes if node.name not in inside for t in node.inputs}
        outs = [t for t in produced if t in used_outside or t in g.outputs]
        result.append((names, ins, outs))
    return result


def run_partitioned(graph: Graph, part: Partition, x: np.ndarray, cpu_runner: StepRunner = reference_runner) -> np.ndarray:
    """The model's int8 output computed step by step: NPU segments on the reference (stand-in), CPU
    steps on ``cpu_runner``."""
    from edgec.reference import run

    values = {graph.inputs[0]: x}
    steps = {names[0]: (names, ins, outs) for names, ins, outs in cpu_steps(part)}
    for node in part.graph.nodes:
        if node.op == NPU_OP:
            seg = part.segments[node.attrs["segment"]]
            ins = seg.inputs + seg.carried  # carried: earlier segments' results kept in Vela's arena
            sub = sub_graph(graph, seg.nodes, ins, seg.outputs, f"npu_segment_{seg.index}")
            # every tensor the segment computes: later segments may read them from Vela's arena
            values.update(run(sub, {t: values[t] for t in ins}, keep=True))
        elif node.name in steps:
            names, ins, outs = steps[node.name]
            sub = sub_graph(graph, names, ins, outs, f"cpu_step_{len(values)}")
            values.update(cpu_runner(sub, {t: values[t] for t in ins}))
    return values[graph.outputs[0]]


def qemu_cpu_runner(work_dir: Path, target_name: str = "qemu-cortex-m55") -> StepRunner:
    """A CPU-step runner that builds the step with edgec's C back end for an emulated Cortex-M and
    runs it in QEMU (one input and one output per step, as the C back end requires)."""
    from edgec.compiler import BUILD_FILE, BuildOptions, _build_into, load_build
    from edgec.lowering import LoweredModel
    from edgec.runner import run_build
    from edgec.targets import load_target

    target = load_target(target_name)
    counter = iter(range(1_000_000))

    def run(sub: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        folder = Path(work_dir) / f"cpu_step_{next(counter)}"
        lowered = LoweredModel(sub, Path(f"{sub.name}.tflite"), "0" * 64)
        summary = _build_into(folder, lowered, target, BuildOptions(target=target_name, schedule="layer"), _quiet())
        (folder / BUILD_FILE).write_text(json.dumps(summary))
        y = run_build(load_build(folder), feeds[sub.inputs[0]])
        return {sub.outputs[0]: np.asarray(y, dtype=np.int8).reshape(sub.tensors[sub.outputs[0]].shape)}

    return run


def _quiet():
    from edgec.progress import QUIET

    return QUIET
