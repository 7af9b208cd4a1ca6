"""The build's schedule: which execution plan a build follows, and its memory.

``plan_model`` turns a lowered int8 graph, a target and the build options
into a ``ModelPlan`` that the C code generator follows literally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import EdgecError
from edgec.ir.graph import Graph
from edgec.progress import QUIET, Progress
from edgec.schedule.arena import ArenaPlan, plan_arena


@dataclass
class ModelPlan:
    kind: str  # "layer" or "patch"
    arena: ArenaPlan  # the layer-by-layer plan of the (rest of the) network
    layer_arena_size: int  # what plain layer-by-layer execution would need
    lower_bound: int  # layer-wise lower bound of the whole graph
    details: dict = field(default_factory=dict)

    @property
    def arena_size(self) -> int:
        return self.arena.size

    def describe(self) -> dict:
        return {"kind": self.kind, "arena_bytes": self.arena_size, "layer_arena_bytes": self.layer_arena_size, **self.details}


def plan_layers(graph: Graph) -> ArenaPlan:
    return plan_arena(graph, alignment=16, inplace=True)


def plan_model(graph: Graph, target, options, progress: Progress = QUIET) -> ModelPlan:
    schedule = options.schedule or ("layer" if target.kind == "host" else "auto")
    layer = plan_layers(graph)
    if schedule == "patch":
        raise EdgecError("--schedule patch is not available yet: use --schedule layer")
    return ModelPlan("layer", layer, layer.size, layer.lower_bound)


def plot_build(build, path: Path) -> None:
    from edgec.schedule.plot import plot_memory

    graph = build.graph
    plot_memory(graph, plan_layers(graph), None, None, path)
