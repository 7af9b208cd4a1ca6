"""Model file -> optimised int8 graph: the front half of every build.

load (frontend) -> QDQ lifting -> graph passes -> post-training quantization
(float models, and the float islands QDQ lifting leaves) -> int8 boundary.  The result is what the reference
interpreter, the scheduler and the code generators all consume.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import ModelError
from edgec.ir.graph import Graph
from edgec.progress import QUIET, Progress


@dataclass
class LoweredModel:
    graph: Graph
    source: Path
    model_hash: str  # sha256 hex of the model file
    warnings: list[str] = field(default_factory=list)


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_source(path: Path, progress: Progress = QUIET, input_shapes: dict[str, tuple[int, ...]] | None = None) -> Graph:
    from edgec.frontends import load_model

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist: pass the path of an .onnx or .tflite file")
    with progress.step(f"loading {path.name}"):
        return load_model(path, input_shapes)


def lower_model(
    path: Path,
    calib: Path | None = None,
    observer: str = "minmax",
    progress: Progress = QUIET,
    quantize: bool = True,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
) -> LoweredModel:
    """Load and lower a model; float models are quantized to int8 unless ``quantize`` is False.

    ``input_shapes`` (``--input-shape``) fixes dynamic input dimensions.
    """
    from edgec.passes import optimize
    from edgec.passes.io_boundary import strip_io_quantization

    graph = load_source(path, progress, input_shapes)
    source_meta = {k: graph.meta[k] for k in ("batch", "input_shapes") if k in graph.meta}
    source_dtypes = (
        [graph.tensors[i].dtype for i in graph.inputs],
        [graph.tensors[o].dtype for o in graph.outputs],
    )
    layouts = graph.meta.get("layouts", {})
    source_layouts = ([layouts.get(i) for i in graph.inputs], [layouts.get(o) for o in graph.outputs])
    warnings: list[str] = []
    source = graph  # calibration data is given in the source model's terms (input names, layout)
    with progress.step("optimising graph"):
        if any(n.op in ("quantize", "dequantize") for n in graph.nodes) and graph.is_float():
            from edgec.passes.qdq import lift_qdq

            graph = lift_qdq(graph)  # float ops it cannot lift (float islands) are quantized below
        else:
            source = None
        graph = optimize(graph)
    if graph.is_float() and quantize:
        from edgec.calibration import load_calibration
        from edgec.passes.quantize import quantize as quantize_graph

        samples = load_calibration(calib, source or graph) if calib is not None else None
        with progress.step(f"quantizing to int8 ({len(samples) if samples else 'no'} calibration samples)"):
            graph, warnings = quantize_graph(graph, samples, observer=observer)
    elif calib is not None and not graph.is_float():
        warnings.append("--calib ignored: the model is already quantized")
    graph = strip_io_quantization(graph)
    _restore_io_meta(graph, source_dtypes, source_layouts)
    graph.meta.update(source_meta)
    graph.verify()
    return LoweredModel(graph, Path(path), file_hash(path), warnings)


def _restore_io_meta(graph: Graph, dtypes: tuple[list, list], layouts: tuple[list, list]) -> None:
    """Record, per final boundary tensor, the dtype and layout the user's arrays have."""
    io_dtypes = graph.meta.setdefault("io_dtypes", {})
    io_layouts = graph.meta.setdefault("layouts", {})
    for names, kinds, lays in ((graph.inputs, dtypes[0], layouts[0]), (graph.outputs, dtypes[1], layouts[1])):
        for name, dtype, layout in zip(names, kinds, lays):
            io_dtypes[name] = dtype
            if layout:
                io_layouts[name] = layout
