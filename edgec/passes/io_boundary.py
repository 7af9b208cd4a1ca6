"""Make an int8 graph's boundary int8: drop float QUANTIZE/DEQUANTIZE at its edges.

TFLite models converted with float input/output start with a QUANTIZE node
and end with a DEQUANTIZE node.  Compiled code takes and returns int8, so the
int8 tensor next to the boundary becomes the graph input/output, and the
float dtype the user sees is remembered in ``graph.meta["io_dtypes"]`` so the
CLI can quantize float input and dequantize output for the user.
"""

from __future__ import annotations

from edgec.ir.graph import Graph


def strip_io_quantization(graph: Graph) -> Graph:
    g = graph.copy()
    io_dtypes = g.meta.setdefault("io_dtypes", {})
    new_inputs = []
    for name in g.inputs:
        users = g.consumers(name)
        t = g.tensors[name]
        if t.dtype == "float32" and len(users) == 1 and users[0].op == "quantize" and name not in g.outputs:
            q = users[0]
            g.nodes.remove(q)
            new_inputs.append(q.outputs[0])
            io_dtypes[q.outputs[0]] = "float32"
            _rename_layout(g, name, q.outputs[0])
        else:
            new_inputs.append(name)
    g.inputs = new_inputs
    new_outputs = []
    for name in g.outputs:
        node = g.producer(name)
        if node is not None and node.op == "dequantize" and len(g.consumers(node.inputs[0])) == 1:
            g.nodes.remove(node)
            new_outputs.append(node.inputs[0])
            io_dtypes[node.inputs[0]] = "float32"
            _rename_layout(g, name, node.inputs[0])
        else:
            new_outputs.append(name)
    g.outputs = new_outputs
    return g.prune_tensors()


def _rename_layout(g: Graph, old: str, new: str) -> None:
    layouts = g.meta.get("layouts", {})
    if old in layouts:
        layouts[new] = layouts.pop(old)
