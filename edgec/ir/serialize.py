"""Save and load a Graph as ``<stem>.json`` (structure) + ``<stem>.npz`` (constant data).

Build folders keep the final int8 graph this way so `edgec run/profile` can
compare a device's output against the reference without the source model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.ir.tensor import Tensor


def _jsonable(v):
    if isinstance(v, float) and math.isinf(v):
        return {"inf": 1 if v > 0 else -1}
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _from_json(v):
    if isinstance(v, dict) and set(v) == {"inf"}:
        return math.inf * v["inf"]
    if isinstance(v, list):
        return tuple(_from_json(x) for x in v)
    if isinstance(v, dict):
        return {k: _from_json(x) for k, x in v.items()}
    return v


def save_graph(graph: Graph, stem: Path) -> None:
    arrays = {}
    tensors = []
    for i, t in enumerate(graph.tensors.values()):
        entry = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "axis": t.axis}
        if t.scale is not None:
            entry["scale"] = t.scale.tolist()
            entry["zero_point"] = t.zero_point.tolist()
        if t.bits != 8:
            entry["bits"] = t.bits
        if t.data is not None:
            entry["data"] = f"t{i}"
            arrays[f"t{i}"] = t.data
        tensors.append(entry)
    doc = {
        "name": graph.name,
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "meta": _jsonable(graph.meta),
        "tensors": tensors,
        "nodes": [
            {"name": n.name, "op": n.op, "inputs": n.inputs, "outputs": n.outputs, "attrs": _jsonable(n.attrs)}
            for n in graph.nodes
        ],
    }
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    np.savez_compressed(stem.with_suffix(".npz"), **arrays)


def load_graph(stem: Path) -> Graph:
    doc = json.loads(stem.with_suffix(".json").read_text())
    with np.load(stem.with_suffix(".npz")) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    g = Graph(doc["name"], inputs=list(doc["inputs"]), outputs=list(doc["outputs"]), meta=_from_json(doc["meta"]))
    for e in doc["tensors"]:
        g.add_tensor(
            Tensor(
                e["name"],
                tuple(e["shape"]),
                e["dtype"],
                data.get(e.get("data", "")),
                e.get("scale"),
                e.get("zero_point"),
                e["axis"],
                bits=e.get("bits", 8),
            )
        )
    for n in doc["nodes"]:
        g.nodes.append(Node(n["name"], n["op"], list(n["inputs"]), list(n["outputs"]), dict(_from_json(n["attrs"]))))
    return g
