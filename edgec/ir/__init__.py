"""The edgec graph IR: tensors, nodes, graphs and the op registry."""

from edgec.ir.graph import Graph, GraphError, Node
from edgec.ir.ops import OPS, activation_bytes, infer_shapes, macs, param_bytes
from edgec.ir.tensor import Tensor

__all__ = ["OPS", "Graph", "GraphError", "Node", "Tensor", "activation_bytes", "infer_shapes", "macs", "param_bytes"]
