"""Per-layer statistics of a graph: what `edgec inspect MODEL` prints."""

from __future__ import annotations

from edgec.ir import Graph, activation_bytes, macs, param_bytes


def layer_rows(graph: Graph) -> list[dict]:
    rows = []
    for node in graph.nodes:
        acts = [i for i in node.inputs if i and not graph.tensors[i].is_const]
        rows.append(
            {
                "name": node.name,
                "op": node.op,
                "inputs": [list(graph.tensors[i].shape) for i in acts],
                "output": [list(graph.tensors[o].shape) for o in node.outputs],
                "macs": macs(graph, node),
                "param_bytes": param_bytes(graph, node),
                "activation_bytes": activation_bytes(graph, node),
            }
        )
    return rows


def model_report(graph: Graph) -> dict:
    rows = layer_rows(graph)
    params = sum(t.size for t in graph.tensors.values() if t.is_const)
    return {
        "model": graph.name,
        "dtype": "float32" if graph.is_float() else "int8",
        "inputs": {i: {"shape": list(graph.tensors[i].shape), "dtype": graph.tensors[i].dtype} for i in graph.inputs},
        "outputs": {o: {"shape": list(graph.tensors[o].shape), "dtype": graph.tensors[o].dtype} for o in graph.outputs},
        "batch": graph.meta.get("batch", {"dynamic": False, "built_for": _first_dim(graph)}),
        "layers": rows,
        "totals": {
            "ops": len(rows),
            "macs": sum(r["macs"] for r in rows),
            "parameters": params,
            "param_bytes": sum(t.nbytes for t in graph.tensors.values() if t.is_const),
            "peak_activation_bytes": max((r["activation_bytes"] for r in rows), default=0),
        },
    }


def _first_dim(graph: Graph) -> int:
    shapes = [graph.tensors[i].shape for i in graph.inputs if graph.tensors[i].shape]
    return shapes[0][0] if shapes else 1


def format_model_report(report: dict) -> str:
    from edgec.report import format_table, shorten

    def shapes(ss: list) -> str:
        return " ".join("x".join(map(str, s)) for s in ss)

    table = format_table(
        ["#", "layer", "op", "input", "output", "MACs", "params B", "act B"],
        [
            (i, shorten(r["name"]), r["op"], shapes(r["inputs"]), shapes(r["output"]), r["macs"], r["param_bytes"], r["activation_bytes"])
            for i, r in enumerate(report["layers"])
        ],
        right=(0, 5, 6, 7),
    )
    t = report["totals"]
    batch = report.get("batch", {})
    dynamic = f", batch: dynamic, built for {batch['built_for']}" if batch.get("dynamic") else ""
    return (
        f"{report['model']} ({report['dtype']}{dynamic})\n{table}\n"
        f"total: {t['ops']} ops, {t['macs']:,} MACs, {t['parameters']:,} parameters "
        f"({t['param_bytes']:,} bytes), largest layer activations {t['peak_activation_bytes']:,} bytes"
    )
