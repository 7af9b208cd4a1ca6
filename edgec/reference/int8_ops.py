"""Integer (int8) kernels of the reference interpreter: TFLite reference semantics.

Each registered kernel derives its integer parameters with
``qparams.kernel_params`` (the same function the C code generator uses) and
runs the matching numpy twin from ``int8_kernels``.  Pure data movement
(reshape, transpose, identity) needs no parameters.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import ModelError
from edgec.ir.graph import Graph, Node
from edgec.reference import int8_kernels as K
from edgec.reference.interpreter import int_kernel
from edgec.reference.qparams import kernel_name, kernel_params


def _out_shape(g: Graph, n: Node) -> tuple[int, ...]:
    return g.tensors[n.outputs[0]].shape


def _run(g: Graph, n: Node, *args) -> np.ndarray:
    fn = getattr(K, kernel_name(g, n))
    return fn(*args, **kernel_params(g, n))


@int_kernel("conv2d", "depthwise_conv2d")
def _conv(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    return _run(g, n, x, w, b)


@int_kernel("fully_connected")
def _fc(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    return _run(g, n, x, w, b).reshape(_out_shape(g, n))


@int_kernel("add", "sub", "mul")
def _binary(g: Graph, n: Node, args: list) -> np.ndarray:
    y = _run(g, n, args[0], args[1])
    shape = np.broadcast_shapes(np.shape(args[0]), np.shape(args[1]))
    out = _out_shape(g, n)
    if int(np.prod(shape)) == int(np.prod(out)):
        return np.broadcast_to(y, out)
    return np.broadcast_to(y, shape)  # a window of the output (patch stages, row-streamed segments)


@int_kernel(
    "max_pool2d",
    "avg_pool2d",
    "softmax",
    "logistic",
    "tanh",
    "hard_swish",
    "relu",
    "relu6",
    "clip",
    "leaky_relu",
    "pad",
    "resize_nearest",
)
def _unary(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])


@int_kernel("mean")
def _mean(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0]).reshape(_out_shape(g, n))


@int_kernel("quantize", "dequantize")
def _quantize(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])


@int_kernel("concat")
def _concat(g: Graph, n: Node, args: list) -> np.ndarray:
    return K.concat(args, **kernel_params(g, n))


@int_kernel("reshape")
def _reshape(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.asarray(args[0]).reshape(_out_shape(g, n))


@int_kernel("transpose")
def _transpose(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.transpose(args[0], n.attrs["perm"])


@int_kernel("identity", "dropout")
def _identity(g: Graph, n: Node, args: list) -> np.ndarray:
    x, y = g.tensors[n.inputs[0]], g.tensors[n.outputs[0]]
    if x.is_quantized and y.is_quantized and (x.qscale != y.qscale or x.qzero != y.qzero):
        raise ModelError(f"int8 {n.op} node {n.name!r} changes quantization; use quantize instead")
    return np.asarray(args[0])


@int_kernel("slice")
def _slice(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])


@int_kernel("maximum", "minimum")
def _maximum_minimum(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0], args[1])


@int_kernel("reduce_max")
def _reduce(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0]).reshape(_out_shape(g, n))


@int_kernel("gather")
def _gather(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])


@int_kernel("transpose_conv2d")
def _transpose_conv(g: Graph, n: Node, args: list) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    return _run(g, n, x, w, b)


@int_kernel("prelu")
def _prelu(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0], args[1])


@int_kernel("resize_bilinear")
def _resize_bilinear(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])


@int_kernel("depth_to_space", "space_to_depth")
def _space_depth(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])


@int_kernel("squared_difference")
def _squared_difference(g: Graph, n: Node, args: list) -> np.ndarray:
    return np.broadcast_to(_run(g, n, args[0], args[1]), _out_shape(g, n))


@int_kernel("rsqrt", "l2_normalization")
def _rsqrt_l2(g: Graph, n: Node, args: list) -> np.ndarray:
    return _run(g, n, args[0])
