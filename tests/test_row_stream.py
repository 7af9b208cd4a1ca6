"""Row-streamed segments: chains of ops run output row by output row through line buffers.

Checked against oracles written here, from the graph and the kernel geometry alone:

* ``find_chains``: a hand-built graph (breaks at two readers, graph outputs,
  external tensors, non-windowable ops, a reader that is not the next op) and
  random graphs against a brute-force chain finder;
* random int8 chains (convolutions 1/3/5/7, depthwise, stride 1/2, dilation,
  asymmetric padding, odd sizes, max/avg pooling, pad, relu-type ops, residual
  adds): ``run_segment`` and an independent line-buffer executor equal the
  reference layer by layer exactly; every row of every op is computed once
  (exactly the rows the next op reads: all ``H_out`` rows of the segment
  output), so no MAC is recomputed;
* line buffers are as small as the reader's row window allows;
* whole plans (``plan_arena(..., stream_rows=True)`` with in-place depthwise
  and streamed residuals) run inside ONE flat byte arena at the planned
  offsets, call by call, give the reference outputs; ``verify_plan`` accepts
  them and rejects corrupted ones;
* in-place segment outputs: refused where a source is read after the segment
  or a later call reads source bytes already overwritten (a forced in-place run
  then gives wrong numbers), accepted where safe;
* host C builds of IR graphs (random chains, a pad/dilation/stride/pool mix,
  an in-place strided segment) and of bundled TFLite models (mcunet,
  resnet8) record their row-streamed segments and are bit-exact with the
  reference on 3 seeded inputs; the models need a smaller arena than without
  segments, also when an op never reads the last input column (column
  windows in the generated C).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.ir.graph import Graph, Node
from edgec.ir.ops import conv_out_size, macs
from edgec.ir.tensor import Tensor
from edgec.reference import run
from edgec.reference.interpreter import FLOAT_KERNELS, INT_KERNELS, _load_kernels, is_integer_node
from edgec.runner import run_host_binary
from edgec.schedule import arena as arena_mod
from edgec.schedule.arena import PlanError, plan_arena, verify_plan
from edgec.schedule.patch import Window, windowed_node
from edgec.schedule.rows import RowSegment, _inplace_source, analyze_segment, find_chains, run_segment

REPO = Path(__file__).resolve().parents[1]
TFLITE_DIR = REPO / "models" / "tflite"

_load_kernels()

# -- int8 graph builders ---------------------------------------------------------------------------


class Net:
    """Builds an int8 graph op by op from ``cur``, with random quantization parameters.

    ``spread[t]`` estimates the standard deviation of ``q - zero_point`` of tensor ``t`` for uniform int8
    inputs; weight scales are chosen so that each conv output spreads over about +-40 steps (neither
    saturated nor stuck on a few values, so equal outputs mean something).
    """

    def __init__(self, rng: np.random.Generator, h: int, w: int, c: int, name: str = "rows") -> None:
        self.rng = rng
        self.g = Graph(name)
        self.count = 0
        self.spread = {"in": 74.0}
        self.act("in", (1, h, w, c))
        self.g.inputs = ["in"]
        self.cur = "in"

    def new_name(self, base: str = "t") -> str:
        self.count += 1
        return f"{base}{self.count}"

    def act(self, name: str, shape, scale: float | None = None, zp: int | None = None, like: str | None = None) -> str:
        if like is not None:
            scale, zp = self.g.tensors[like].qscale, self.g.tensors[like].qzero
        if scale is None:
            scale = float(self.rng.uniform(0.02, 0.1))
        if zp is None:
            zp = int(self.rng.integers(-16, 17))
        self.g.add_tensor(Tensor(name, tuple(shape), "int8", scale=scale, zero_point=zp))
        self.spread.setdefault(name, self.spread[like] if like is not None else 40.0)
        return name

    def shape_of(self, name: str | None = None) -> tuple[int, ...]:
        return self.g.tensors[name or self.cur].shape

    @property
    def shape(self) -> tuple[int, ...]:
        return self.shape_of()

    def conv(
        self,
        kind: str,
        k: int,
        s: int = 1,
        d: int = 1,
        pad=(0, 0, 0, 0),
        co: int | None = None,
        act=None,
        src: str | None = None,
        name: str | None = None,
        out: str | None = None,
    ) -> str:
        """``conv2d`` or ``depthwise_conv2d`` (k x k, stride s, dilation d, pad (top, left, bottom, right))."""
        x = src or self.cur
        _, h, w, c = self.shape_of(x)
        oh, ow = conv_out_size(h, k, s, d, pad[0], pad[2]), conv_out_size(w, k, s, d, pad[1], pad[3])
        if oh < 1 or ow < 1:  # too small for this kernel: a pointwise conv instead
            k, s, d, pad = 1, 1, 1, (0, 0, 0, 0)
            oh, ow = h, w
        rng = self.rng
        y = out or self.new_name()
        if kind == "conv2d":
            co = co or c
            wshape, axis, fan = (co, k, k, c), 0, k * k * c
        else:
            co = c
            wshape, axis, fan = (1, k, k, c), 3, k * k
        acc = self.spread[x] * 73 * math.sqrt(fan)  # accumulator spread, uniform int8 weights (std 73)
        ys = float(rng.uniform(0.02, 0.06))
        wscale = (40 * ys / (acc * self.g.tensors[x].qscale) * rng.uniform(0.7, 1.4, size=co)).astype(np.float32)
        wname = self.g.add_const(
            f"{y}_w", rng.integers(-127, 128, size=wshape).astype(np.int8), scale=wscale, zero_point=0, axis=axis
        ).name
        bias = (rng.uniform(-0.5, 0.5, size=co) * acc).astype(np.int32)
        bname = self.g.add_const(f"{y}_b", bias).name
        self.act(y, (1, oh, ow, co), scale=ys)
        self.spread[y] = 40.0 if act is None else 45.0  # rms of q - zp: a relu moves the mean up
        attrs = {"stride": (s, s), "dilation": (d, d), "pad": tuple(int(p) for p in pad)}
        if kind == "depthwise_conv2d":
            attrs["depth_multiplier"] = 1
        if act is not None:
            attrs["act"] = act
        self.g.add_node(kind, [x, wname, bname], [y], name=name, **attrs)
        self.cur = y
        return y

    def pool(self, kind: str, k: int, s: int, pad, name: str | None = None) -> str:
        x = self.cur
        _, h, w, c = self.shape
        oh, ow = conv_out_size(h, k, s, 1, pad[0], pad[2]), conv_out_size(w, k, s, 1, pad[1], pad[3])
        if oh < 1 or ow < 1:
            k, s, pad = 1, 1, (0, 0, 0, 0)
            oh, ow = h, w
        y = self.act(self.new_name(), (1, oh, ow, c), like=x)
        self.spread[y] = self.spread[x]
        self.g.add_node(kind, [x], [y], name=name, kernel=(k, k), stride=(s, s), pad=tuple(int(p) for p in pad))
        self.cur = y
        return y

    def pad(self, top: int, left: int, bottom: int, right: int, name: str | None = None) -> str:
        x = self.cur
        _, h, w, c = self.shape
        y = self.act(self.new_name(), (1, h + top + bottom, w + left + right, c), like=x)
        self.spread[y] = self.spread[x]
        value = float(self.rng.uniform(-1.0, 1.0))
        self.g.add_node("pad", [x], [y], name=name, pads=((0, 0), (top, bottom), (left, right), (0, 0)), value=value)
        self.cur = y
        return y

    def unary(self, op: str, name: str | None = None) -> str:
        x = self.cur
        ratio = float(self.rng.uniform(0.8, 1.25))
        y = self.act(self.new_name(), self.shape, scale=self.g.tensors[x].qscale * ratio)
        self.spread[y] = self.spread[x] / ratio * 0.7
        attrs = {"alpha": 0.1} if op == "leaky_relu" else {}
        self.g.add_node(op, [x], [y], name=name, **attrs)
        self.cur = y
        return y

    def binary(self, op: str, a: str, b: str, name: str | None = None, out: str | None = None) -> str:
        ta, tb = self.g.tensors[a], self.g.tensors[b]
        scale = max(ta.qscale, tb.qscale) * float(self.rng.uniform(1.0, 2.0))
        y = self.act(out or self.new_name(), self.shape_of(a), scale=scale)
        self.spread[y] = math.hypot(ta.qscale * self.spread[a], tb.qscale * self.spread[b]) / scale
        self.g.add_node(op, [a, b], [y], name=name)
        self.cur = y
        return y

    def head(self, classes: int = 5) -> str:
        """mean over H, W -> reshape -> fully_connected: ops that are not row-streamable."""
        c = self.shape[3]
        m = self.act(self.new_name(), (1, 1, 1, c), like=self.cur)
        self.g.add_node("mean", [self.cur], [m], axes=(1, 2), keepdims=True)
        f = self.act(self.new_name(), (1, c), like=m)
        self.g.add_node("reshape", [m], [f], shape=(1, c))
        ys = float(self.rng.uniform(0.02, 0.06))
        acc = max(self.spread[self.cur] / 2, 5.0) * 73 * math.sqrt(c)
        wscale = (40 * ys / (acc * self.g.tensors[f].qscale) * self.rng.uniform(0.7, 1.4, classes)).astype(np.float32)
        w = self.g.add_const(
            self.new_name("fc_w"), self.rng.integers(-127, 128, (classes, c)).astype(np.int8), scale=wscale, axis=0
        ).name
        out = self.act(self.new_name(), (1, classes), scale=ys)
        self.g.add_node("fully_connected", [f, w, ""], [out])
        self.cur = out
        return out

    def finish(self, outputs: list[str] | None = None) -> Graph:
        self.g.outputs = outputs or [self.cur]
        return self.g.verify()

    # random ops -------------------------------------------------------------------------------

    def _pads(self, span: int, same: bool):
        """(top, left, bottom, right) with each side in [0, span - 1]; ``same`` keeps H and W (asymmetric allowed)."""
        if same:
            top, left = (int(v) for v in self.rng.integers(0, span, size=2))
            return top, left, span - 1 - top, span - 1 - left
        return tuple(int(v) for v in self.rng.integers(0, span, size=4))

    def random_op(self, same: bool) -> None:
        """One random windowable op; ``same``: keep the shape (stride 1, 'same' padding, same channels)."""
        rng = self.rng
        kinds = [
            "conv2d",
            "conv2d",
            "depthwise_conv2d",
            "depthwise_conv2d",
            "max_pool2d",
            "avg_pool2d",
            "relu",
            "block",
        ]
        if not same:
            kinds.append("pad")
        kind = str(rng.choice(kinds))
        if kind in ("conv2d", "depthwise_conv2d"):
            k = int(rng.choice([1, 3, 5, 7]))
            d = int(rng.choice([1, 1, 2])) if k > 1 else 1
            s = 1 if same else int(rng.choice([1, 2]))
            co = None if same else int(rng.integers(1, 9))
            act = [None, (0.0, 6.0), (0.0, math.inf)][int(rng.integers(3))]
            self.conv(kind, k, s, d, self._pads((k - 1) * d + 1, same), co=co, act=act)
        elif kind in ("max_pool2d", "avg_pool2d"):
            k = int(rng.choice([2, 3]))
            s = 1 if same else int(rng.choice([1, 2]))
            self.pool(kind, k, s, self._pads(k, same))
        elif kind == "pad":
            self.pad(*(int(v) for v in rng.integers(0, 3, size=4)))
        elif kind == "relu":
            self.unary(str(rng.choice(["relu", "relu6", "leaky_relu"])))
        else:  # a residual block inside the chain: x -> conv kxk -> depthwise 3x3 -> x + that
            x = self.cur
            k = int(rng.choice([1, 3, 5]))
            self.conv("conv2d", k, pad=(k // 2,) * 4, co=self.shape[3] * 2)
            self.conv("depthwise_conv2d", 3, pad=(1, 1, 1, 1), act=(0.0, 6.0))
            self.conv("conv2d", 1, co=self.shape_of(x)[3])
            self.binary(str(rng.choice(["add", "sub"])), *(x, self.cur)[:: int(rng.choice([1, -1]))])


def random_chain_graph(seed: int) -> Graph:
    """in -> 1x1 conv -> r -> random windowable ops -> [r + that] -> a random tail.

    The tail: a 1x1 conv to the graph output (the chain runs on into it), a
    mean/reshape/fc head (not streamable), an op reading the last tensor twice,
    or nothing (the last tensor is the graph output).
    """
    rng = np.random.default_rng(seed)
    net = Net(rng, int(rng.choice([5, 7, 9, 11, 13])), int(rng.choice([5, 7, 9, 13])), int(rng.integers(1, 5)))
    r = net.conv("conv2d", 1, co=int(rng.integers(2, 7)))
    same = bool(rng.integers(2))
    for _ in range(int(rng.integers(2, 6))):
        net.random_op(same)
    if net.shape == net.shape_of(r) and rng.random() < 0.8:
        net.binary(str(rng.choice(["add", "sub"])), *(net.cur, r)[:: int(rng.choice([1, -1]))])
    tail = int(rng.integers(4))
    if tail == 0:
        net.conv("conv2d", 1, co=2)
    elif tail == 1:
        net.head()
    elif tail == 2:
        net.binary("add", net.cur, net.cur)
        net.conv("conv2d", 1, co=2)
    return net.finish()


def residual_chain_graph(seed: int) -> Graph:
    """in -> 1x1 conv -> r -> 1 to 3 random shape-keeping ops -> r + that -> a mean/fc head.

    The segment's output may go over r, which it reads at the start and again at the end: whether rows of r
    are still needed when the output overwrites them depends on the kernels' padding above and below.
    """
    rng = np.random.default_rng(seed)
    net = Net(rng, int(rng.choice([7, 9, 13])), int(rng.choice([5, 7, 9])), int(rng.integers(1, 4)), name="res_chain")
    r = net.conv("conv2d", 1, co=int(rng.integers(2, 6)))
    for _ in range(int(rng.integers(1, 4))):
        net.random_op(same=True)
    net.binary(str(rng.choice(["add", "sub"])), *(net.cur, r)[:: int(rng.choice([1, -1]))])
    net.head()
    return net.finish()


def residual_net(seed: int) -> Graph:
    """A stem conv, inverted residual blocks (1x1 expand, depthwise, 1x1 project, + input), a mean/fc head."""
    rng = np.random.default_rng(seed)
    net = Net(rng, int(rng.choice([8, 9, 12, 13])), int(rng.choice([8, 9, 11, 12])), 3, name="resnet")
    stem_pad = [(1, 1, 1, 1), (0, 0, 1, 1), (1, 0, 1, 2)][int(rng.integers(3))]
    net.conv("conv2d", 3, int(rng.choice([1, 2])), pad=stem_pad, co=int(rng.integers(3, 9)), act=(0.0, 6.0))
    for _ in range(int(rng.integers(2, 5))):
        x = net.cur
        c = net.shape[3]
        stride = int(rng.choice([1, 1, 1, 2]))
        k = int(rng.choice([3, 3, 5]))
        net.conv("conv2d", 1, co=c * int(rng.choice([2, 3, 4, 6])), act=(0.0, 6.0))
        net.conv("depthwise_conv2d", k, stride, pad=(k // 2,) * 4, act=(0.0, 6.0))
        co = c if stride == 1 and rng.random() < 0.8 else int(rng.integers(3, 9))
        net.conv("conv2d", 1, co=co)
        if stride == 1 and co == c:
            net.binary(str(rng.choice(["add", "sub"])), *(net.cur, x)[:: int(rng.choice([1, -1]))])
    if rng.random() < 0.7:
        net.head()
    else:
        net.conv("conv2d", 1, co=4)
    return net.finish()


def random_input(graph: Graph, seed: int) -> np.ndarray:
    shape = graph.tensors[graph.inputs[0]].shape
    return np.random.default_rng(seed).integers(-128, 128, size=shape, dtype=np.int8)


def reference(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    return run(graph, {graph.inputs[0]: x}, keep=True)


# -- independent oracles ---------------------------------------------------------------------------

WINDOWABLE = frozenset(
    {
        "conv2d",
        "depthwise_conv2d",
        "max_pool2d",
        "avg_pool2d",
        "pad",
        "add",
        "sub",
        "mul",
        "relu",
        "relu6",
        "leaky_relu",
    }
)


def expected_chains(graph: Graph, external=frozenset()) -> list[list[int]]:
    """Maximal runs (length >= 2) of consecutive windowable ops where op k's output is read by op k+1 alone, once."""

    def joined(k: int) -> bool:
        a, b = graph.nodes[k], graph.nodes[k + 1]
        t = a.outputs[0]
        readers = [n.name for n in graph.nodes for i in n.inputs if i == t]
        return (
            a.op in WINDOWABLE
            and b.op in WINDOWABLE
            and t not in graph.outputs
            and t not in external
            and readers == [b.name]
        )

    chains, run_ = [], [0]
    for k in range(len(graph.nodes) - 1):
        if joined(k):
            run_.append(k + 1)
        else:
            if len(run_) >= 2:
                chains.append(run_)
            run_ = [k + 1]
    if len(run_) >= 2:
        chains.append(run_)
    return chains


def _geometry(graph: Graph, node: Node) -> tuple[int, int, int, int]:
    """(kernel rows, stride, dilation, pad top) of the op along H; a row-to-row op is (1, 1, 1, shift)."""
    a = node.attrs
    if node.op in ("conv2d", "depthwise_conv2d"):
        return (
            graph.tensors[node.inputs[1]].shape[1],
            a.get("stride", (1, 1))[0],
            a.get("dilation", (1, 1))[0],
            a["pad"][0],
        )
    if node.op in ("max_pool2d", "avg_pool2d"):
        return a["kernel"][0], a["stride"][0], 1, a["pad"][0]
    if node.op == "pad":
        return 1, 1, 1, a["pads"][1][0]
    return 1, 1, 1, 0


def rows_read(graph: Graph, node: Node, row: int, height: int) -> range:
    """Rows of the op's first input that its output row ``row`` reads: the kernel's span, clipped to the tensor."""
    k, s, d, top = _geometry(graph, node)
    start = row * s - top
    return range(max(start, 0), min(start + (k - 1) * d + 1, height))


def needed_rows(graph: Graph, seg: RowSegment) -> dict[str, set[int]]:
    """Per op output: the rows the segment needs (all rows of Y; of a chain tensor, what its reader's rows read)."""
    nodes = [graph.node(n) for n in seg.nodes]
    y = graph.tensors[seg.output]
    need = {seg.output: set(range(y.shape[1]))}
    for node in reversed(nodes[1:]):
        rows = need[node.outputs[0]]
        (t,) = [i for i in node.inputs if i in seg.chain]
        height = graph.tensors[t].shape[1]
        if node.op in ("conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d", "pad"):
            assert node.inputs[0] == t
            need[t] = {i for r in rows for i in rows_read(graph, node, r, height)}
        else:
            need[t] = set(rows)
    return need


def min_line_rows(graph: Graph, reader: Node, rows=None) -> int:
    """Fewest full rows a line buffer of the reader's input can have: its largest row window
    (over the reader's output ``rows``, default all)."""
    height = graph.tensors[reader.inputs[0]].shape[1]
    rows = range(graph.tensors[reader.outputs[0]].shape[1]) if rows is None else rows
    return max(len(rows_read(graph, reader, r, height)) for r in rows)


# -- executing a segment call by call --------------------------------------------------------------


def kernel(graph: Graph, node: Node):
    return (INT_KERNELS if is_integer_node(graph, node) else FLOAT_KERNELS)[node.op]


def exec_segment(graph: Graph, seg: RowSegment, read_source, line_buffer, write_row) -> None:
    """Run ``seg.calls`` with our own line-buffer bookkeeping (independent of ``run_segment``).

    ``read_source(name, window)`` reads a source window at the time of the call,
    ``line_buffer(t)`` is the ``capacity x W x C`` storage of chain tensor ``t``,
    ``write_row(row, value)`` writes one row of the segment output.  Each call
    must append the next row after the kept ones, read only rows its buffers hold,
    and agree with the recorded drops and bases.
    """
    chain = set(seg.chain)
    lines = {t: line_buffer(t) for t in seg.chain}
    held = dict.fromkeys(seg.chain, 0)
    base = dict.fromkeys(seg.chain, 0)
    for n, call in enumerate(seg.calls):
        op = call.op
        node = graph.node(op.node)
        out = node.outputs[0]
        out_t = graph.tensors[out]
        row = op.output.h0
        assert op.output == Window(row, row + 1, 0, out_t.shape[2]), f"call {n}: not one full-width row"
        if out in chain:
            assert 0 <= call.drop <= held[out], f"call {n}: drops {call.drop} of {held[out]} rows"
            keep = held[out] - call.drop
            lines[out][:keep] = lines[out][call.drop : call.drop + keep].copy()  # memmove
            base[out] = base[out] + call.drop if keep else row
            held[out] = keep
            assert row == base[out] + keep, (
                f"call {n}: row {row} of {out} is not appended after rows {base[out]}+{keep}"
            )
            assert keep < seg.capacity[out], f"call {n}: line buffer of {out} overflows"
            assert call.bases[out] == base[out]
        else:
            assert out == seg.output and call.drop == 0
        args = []
        for name, win in zip(node.inputs, op.inputs):
            t = graph.tensors[name] if name else None
            if t is None:
                args.append(None)
            elif t.is_const:
                args.append(t.data)
            elif win.empty:
                args.append(np.zeros((1, max(win.height, 0), max(win.width, 0), t.shape[3]), t.dtype))
            elif name in chain:
                b = base[name]
                assert call.bases[name] == b
                assert b <= win.h0 and win.h1 <= b + held[name], (
                    f"call {n}: reads rows {win} of {name}, holds {b}+{held[name]}"
                )
                args.append(lines[name][None, win.h0 - b : win.h1 - b, win.w0 : win.w1].copy())
            else:
                args.append(read_source(name, win))
        value = np.asarray(kernel(graph, node)(graph, windowed_node(node, op), args)).astype(out_t.dtype)
        assert value.shape == (1, 1, out_t.shape[2], out_t.shape[3]), f"call {n}: {node.name} computed {value.shape}"
        if out in chain:
            lines[out][held[out]] = value[0, 0]
            held[out] += 1
        else:
            write_row(row, value)


def exec_segment_alone(graph: Graph, seg: RowSegment, env: dict[str, np.ndarray]) -> np.ndarray:
    """``exec_segment`` on separate numpy buffers (line buffers start as garbage)."""
    rng = np.random.default_rng(7)
    y_t = graph.tensors[seg.output]
    y = rng.integers(-128, 128, size=y_t.shape).astype(y_t.dtype)
    written = []

    def line_buffer(t: str) -> np.ndarray:
        _, _, w, c = graph.tensors[t].shape
        return rng.integers(-128, 128, size=(seg.capacity[t], w, c)).astype(graph.tensors[t].dtype)

    def write_row(row: int, value: np.ndarray) -> None:
        written.append(row)
        y[:, row : row + 1] = value

    exec_segment(graph, seg, lambda n, w: env[n][:, w.h0 : w.h1, w.w0 : w.w1].copy(), line_buffer, write_row)
    assert written == list(range(y_t.shape[1]))
    return y


def assert_rows_once(graph: Graph, seg: RowSegment) -> None:
    """Every op computes exactly the rows the segment needs, each once: all H rows of Y, no MAC twice."""
    counts = Counter((call.op.node, call.op.output.h0) for call in seg.calls)
    assert max(counts.values()) == 1, "a row is computed twice"
    need = needed_rows(graph, seg)
    for name in seg.nodes:
        node = graph.node(name)
        rows = {r for (n, r) in counts if n == name}
        assert rows == need[node.outputs[0]], f"{name}: computes rows {sorted(rows)}"
    y_rows = graph.tensors[seg.output].shape[1]
    assert sum(1 for c in seg.calls if c.op.node == seg.nodes[-1]) == y_rows
    per_row = {n: macs(graph, graph.node(n)) / graph.tensors[graph.node(n).outputs[0]].shape[1] for n in seg.nodes}
    assert sum(per_row[c.op.node] for c in seg.calls) <= sum(macs(graph, graph.node(n)) for n in seg.nodes) + 1e-6


# -- executing a whole plan in one flat arena ------------------------------------------------------


def run_plan_in_arena(graph: Graph, plan, feeds: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """Execute ``graph`` with every arena tensor at its planned bytes of ONE flat byte arena.

    The arena starts as garbage.  Ops outside segments run layer by layer (in-place
    depthwise ops trash their scratch bytes; streamed conv + add pairs run chunk by
    chunk); a row-streamed segment trashes its line buffers, then runs call by call
    with its line buffers, sources and output at their offsets, sources read at each
    call, so a line buffer or an output row that overwrites bytes still to be read
    changes the results.
    """
    rng = np.random.default_rng(seed)
    arena = rng.integers(0, 256, size=plan.size, dtype=np.uint8)
    external: dict[str, np.ndarray] = dict(feeds)

    def region(name: str) -> np.ndarray:
        off, size = plan.offsets[name], plan.sizes[name]
        assert 0 <= off and off + size <= plan.size, f"{name} outside the arena"
        return arena[off : off + size]

    def tensor_view(name: str) -> np.ndarray:
        t = graph.tensors[name]
        assert plan.sizes[name] == t.nbytes
        return region(name).view(t.dtype).reshape(t.shape)

    def read(name: str) -> np.ndarray:
        t = graph.tensors[name]
        if t.is_const:
            return t.data
        if name in plan.external:
            return external[name].copy()
        return tensor_view(name).copy()

    def write(name: str, value: np.ndarray) -> None:
        t = graph.tensors[name]
        value = np.asarray(value).astype(t.dtype).reshape(t.shape)
        if name in plan.external:
            external[name] = value
        else:
            tensor_view(name)[...] = value

    def flat(name: str) -> np.ndarray:
        if name in plan.external:
            return external[name].reshape(-1)
        return region(name).view(graph.tensors[name].dtype)

    segments = {seg.nodes[0]: seg for seg in plan.row_segments}
    in_segments = {n for seg in plan.row_segments for n in seg.nodes}
    streamed_adds = set(plan.streamed.values())
    for node in graph.nodes:
        if node.name in segments:
            seg = segments[node.name]
            y = seg.output
            if y in plan.external:
                external[y] = np.zeros(graph.tensors[y].shape, graph.tensors[y].dtype)
            for t in seg.chain:
                region(t)[:] = rng.integers(0, 256, size=plan.sizes[t], dtype=np.uint8)

            def line_buffer(t: str, seg=seg) -> np.ndarray:
                tt = graph.tensors[t]
                assert plan.sizes[t] == seg.capacity[t] * tt.shape[2] * tt.shape[3] * tt.itemsize
                return region(t).view(tt.dtype).reshape(seg.capacity[t], tt.shape[2], tt.shape[3])

            def read_source(name: str, win: Window) -> np.ndarray:
                whole = external[name] if name in plan.external else tensor_view(name)
                return whole[:, win.h0 : win.h1, win.w0 : win.w1].copy()

            def write_row(row: int, value: np.ndarray, y=y) -> None:
                whole = external[y] if y in plan.external else tensor_view(y)
                whole[:, row : row + 1] = value

            exec_segment(graph, seg, read_source, line_buffer, write_row)
            continue
        if node.name in in_segments or node.name in streamed_adds:
            continue
        if node.name in plan.streamed:
            add = graph.node(plan.streamed[node.name])
            x, t, y = node.inputs[0], node.outputs[0], add.outputs[0]
            _, h, w, co = graph.tensors[t].shape
            ci = graph.tensors[x].shape[3]
            n = plan.stream_pixels[node.name]
            if y in plan.external:
                external[y] = np.zeros(graph.tensors[y].shape, graph.tensors[y].dtype)
            for p in range(0, h * w, n):
                x_chunk = flat(x)[p * ci : (p + n) * ci].reshape(1, 1, n, ci).copy()
                args = [x_chunk] + [read(i) if i else None for i in node.inputs[1:]]
                flat(t)[:] = np.asarray(kernel(graph, node)(graph, node, args)).ravel()
                operands = [flat(t).copy() if i == t else flat(i)[p * co : (p + n) * co].copy() for i in add.inputs]
                result = kernel(graph, add)(graph, add, [o.reshape(1, 1, n, co) for o in operands])
                flat(y)[p * co : (p + n) * co] = np.asarray(result).ravel()
            continue
        args = [read(i) if i else None for i in node.inputs]
        if node.name in plan.inplace_depthwise:
            off, size = plan.scratch_offsets[node.name], plan.inplace_depthwise[node.name]
            assert off + size <= plan.size
            arena[off : off + size] = rng.integers(0, 256, size=size, dtype=np.uint8)
        write(node.outputs[0], kernel(graph, node)(graph, node, args))
    return {o: read(o) for o in graph.outputs}


def assert_plan_runs_exactly(graph: Graph, plan, seed: int) -> None:
    x = random_input(graph, seed)
    expect = run(graph, {graph.inputs[0]: x})
    got = run_plan_in_arena(graph, plan, {graph.inputs[0]: x}, seed=seed)
    for name in graph.outputs:
        assert np.array_equal(got[name], expect[name]), f"output {name} differs in the planned arena"


# -- find_chains -----------------------------------------------------------------------------------


def block_graph(variant: str = "") -> Graph:
    """pre -> r; expand, depthwise, project, + r -> y; conv 3x3; max pool; mean; reshape; fc.

    ``variant``: "side" puts an op reading the graph input between the depthwise and the project conv.
    """
    net = Net(np.random.default_rng(0), 8, 8, 4, name="block")
    r = net.conv("conv2d", 1, co=8, name="pre", out="r")
    net.conv("conv2d", 1, co=24, act=(0.0, 6.0), name="expand", out="e")
    net.conv("depthwise_conv2d", 3, pad=(1, 1, 1, 1), act=(0.0, 6.0), name="dw", out="d")
    if variant == "side":
        net.act("side_out", (1, 8, 8, 4))
        net.g.add_node("relu", ["in"], ["side_out"], name="side")
    net.conv("conv2d", 1, co=8, name="project", out="p")
    net.binary("add", "p", r, name="residual", out="y")
    net.conv("conv2d", 3, pad=(1, 1, 1, 1), co=6, name="conv3", out="z")
    net.pool("max_pool2d", 2, 2, (0, 0, 0, 0), name="pool")
    net.head()
    return net.finish([net.cur, "side_out"] if variant == "side" else None)


def chain_names(graph: Graph, chains: list[list[int]]) -> list[list[str]]:
    return [[graph.nodes[i].name for i in chain] for chain in chains]


def test_find_chains_breaks_at_shared_tensors_outputs_and_global_ops() -> None:
    g = block_graph()
    main = ["expand", "dw", "project", "residual", "conv3", "pool"]
    # pre's output r has two readers (expand, the residual add); pool feeds mean (not windowable);
    # mean, reshape and fully_connected are not streamable at all.
    assert chain_names(g, find_chains(g)) == [main]
    seg = analyze_segment(g, find_chains(g)[0])
    assert seg.nodes == main and seg.output == g.node("pool").outputs[0]
    assert seg.chain == ["e", "d", "p", "y", "z"] and seg.sources == ["r"]

    # a tensor in caller memory, or a graph output, ends a chain
    assert chain_names(g, find_chains(g, external={"d"})) == [
        ["expand", "dw"],
        ["project", "residual", "conv3", "pool"],
    ]
    g.outputs = [*g.outputs, "z"]
    assert chain_names(g, find_chains(g)) == [["expand", "dw", "project", "residual", "conv3"]]  # pool alone: dropped

    # the op after dw does not read d: the chain breaks there; side's output is a graph output
    g = block_graph("side")
    assert chain_names(g, find_chains(g)) == [["expand", "dw"], ["project", "residual", "conv3", "pool"]]
    assert find_chains(g) == expected_chains(g)


def test_find_chains_needs_two_ops_and_a_single_read() -> None:
    net = Net(np.random.default_rng(1), 7, 7, 2)
    net.conv("conv2d", 3, pad=(1, 1, 1, 1), name="a")
    a = net.cur
    net.binary("add", a, a, name="twice")  # reads a twice: a is not a chain tensor
    net.head()
    g = net.finish()
    assert find_chains(g) == []


@pytest.mark.parametrize("seed", range(20))
def test_find_chains_matches_brute_force_on_random_graphs(seed: int) -> None:
    for g in (random_chain_graph(seed), residual_net(seed)):
        chains = find_chains(g)
        assert chains == expected_chains(g), g.summary()
        external = set(g.inputs) | set(g.outputs) | {g.nodes[len(g.nodes) // 2].outputs[0]}
        assert find_chains(g, external) == expected_chains(g, external)


# -- random chains: exact, and every row once ------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_random_chains_run_row_by_row_exactly_without_recompute(seed: int) -> None:
    g = random_chain_graph(seed)
    env = reference(g, random_input(g, seed))
    chains = find_chains(g)
    assert chains, g.summary()
    rng = np.random.default_rng(seed)
    ranges = []
    for chain in chains:
        ranges.append(chain)
        if len(chain) > 2:  # any consecutive part of a chain is a segment too
            a = int(rng.integers(0, len(chain) - 1))
            b = int(rng.integers(a + 2, len(chain) + 1))
            ranges.append(chain[a:b])
    for indices in ranges:
        seg = analyze_segment(g, indices)
        nodes = [g.nodes[i] for i in indices]
        assert seg.nodes == [n.name for n in nodes] and seg.first_step == indices[0]
        assert seg.output == nodes[-1].outputs[0] and seg.chain == [n.outputs[0] for n in nodes[:-1]]
        want = env[seg.output]
        got = run_segment(g, seg, env)
        assert got.dtype == want.dtype and np.array_equal(got, want), (
            f"run_segment differs on {seg.nodes}\n{g.summary()}"
        )
        assert np.array_equal(exec_segment_alone(g, seg, env), want), f"call list differs on {seg.nodes}"
        assert_rows_once(g, seg)
        need = needed_rows(g, seg)
        for k, t in enumerate(seg.chain):
            reader = nodes[k + 1]
            assert seg.capacity[t] == min_line_rows(g, reader, need[reader.outputs[0]]), f"line buffer of {t}"


def test_every_row_of_every_op_once_when_all_rows_are_read() -> None:
    """Stride 1 and 'same' padding: each op of the segment has exactly H_out calls, one per output row."""
    net = Net(np.random.default_rng(5), 13, 7, 3)
    net.conv("conv2d", 1, co=12)
    net.conv("depthwise_conv2d", 5, pad=(1, 2, 3, 2))  # asymmetric 'same' padding
    net.pool("avg_pool2d", 3, 1, (2, 1, 0, 1))
    net.unary("relu6")
    net.conv("conv2d", 7, d=1, pad=(3, 3, 3, 3), co=4)
    g = net.finish()
    (chain,) = find_chains(g)
    assert len(chain) == len(g.nodes)
    seg = analyze_segment(g, chain)
    for node in g.nodes:
        rows = [c.op.output.h0 for c in seg.calls if c.op.node == node.name]
        assert rows == list(range(13)), node.name
    env = reference(g, random_input(g, 5))
    assert np.array_equal(run_segment(g, seg, env), env[seg.output])


# -- line buffers ----------------------------------------------------------------------------------

LINE_CASES = {
    # reader of the expanded tensor e: (op, kernel, stride, dilation, pad, H) -> rows of e it needs at once
    "dw3x3_s1": (("depthwise_conv2d", 3, 1, 1, (1, 1, 1, 1), 9), 3),
    "dw3x3_s2": (("depthwise_conv2d", 3, 2, 1, (1, 1, 1, 1), 9), 3),
    "conv5x5": (("conv2d", 5, 1, 1, (2, 2, 2, 2), 9), 5),
    "dw3x3_dilated": (("depthwise_conv2d", 3, 1, 2, (2, 2, 2, 2), 9), 5),
    "conv7x7_clipped": (("conv2d", 7, 1, 1, (3, 3, 3, 3), 5), 5),  # 7 rows, but the tensor has 5
    "conv3x3_asym": (("conv2d", 3, 1, 1, (0, 1, 2, 1), 7), 3),
    "conv3x3_top_only": (("conv2d", 3, 2, 1, (2, 0, 0, 0), 7), 3),
    "maxpool2_s2": (("max_pool2d", 2, 2, 1, (0, 0, 0, 0), 9), 2),
    "avgpool3_s2": (("avg_pool2d", 3, 2, 1, (1, 1, 1, 1), 9), 3),
    "conv1x1_s2": (("conv2d", 1, 2, 1, (0, 0, 0, 0), 9), 1),
    "relu": (("relu", 1, 1, 1, (0, 0, 0, 0), 9), 1),
    "pad": (("pad", 1, 1, 1, (2, 1, 1, 0), 9), 1),
}


@pytest.mark.parametrize("case", list(LINE_CASES))
def test_line_buffers_hold_only_the_rows_in_flight(case: str) -> None:
    """1x1 expand -> reader under test -> 1x1 conv: line buffers of [reader's window, 1] rows."""
    (op, k, s, d, pad, h), rows = LINE_CASES[case]
    net = Net(np.random.default_rng(2), h, 11, 4)
    net.conv("conv2d", 1, co=16, out="e")
    if op in ("conv2d", "depthwise_conv2d"):
        net.conv(op, k, s, d, pad, co=16)
    elif op.endswith("pool2d"):
        net.pool(op, k, s, pad)
    elif op == "pad":
        net.pad(*pad)
    else:
        net.unary(op)
    reader_out = net.cur
    net.conv("conv2d", 1, co=8)
    g = net.finish()
    seg = analyze_segment(g, find_chains(g)[0])
    assert seg.chain == ["e", reader_out]
    assert min_line_rows(g, g.nodes[1]) == rows  # the geometry oracle agrees with the hand count
    assert [seg.capacity[t] for t in seg.chain] == [rows, 1]
    env = reference(g, random_input(g, 2))
    assert np.array_equal(exec_segment_alone(g, seg, env), env[seg.output])

    plan = plan_arena(g, alignment=1, stream_rows=True)
    verify_plan(g, plan)
    assert len(plan.row_segments) == 1
    _, _, w_e, c_e = g.tensors["e"].shape
    _, _, w_r, c_r = g.tensors[reader_out].shape
    assert plan.sizes["e"] == rows * w_e * c_e and plan.sizes[reader_out] == w_r * c_r
    # the graph input and output are caller buffers: the arena is the two line buffers
    assert plan.size == rows * w_e * c_e + w_r * c_r
    assert plan.size < plan_arena(g, alignment=1).size
    assert_plan_runs_exactly(g, plan, seed=2)


# -- whole plans in one flat arena -----------------------------------------------------------------


def force_all_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``plan_arena`` keep every candidate segment, not only those that lower the arena."""

    def choose_all(graph, base, unfused, candidates, stream_residual, alignment):
        segments = arena_mod.row_segment_candidates(graph, base)
        return arena_mod._fuse_and_place(graph, base, segments, candidates, stream_residual, alignment)

    monkeypatch.setattr(arena_mod, "choose_row_segments", choose_all)


PLAN_OPTIONS = {
    "plain": {},
    "inplace_depthwise": {"inplace_depthwise": True},
    "stream_residual": {"stream_residual": True},
    "both": {"inplace_depthwise": True, "stream_residual": True},
}


@pytest.mark.parametrize("forced", [False, True], ids=["chosen", "forced"])
@pytest.mark.parametrize("seed", range(16))
def test_planned_arena_runs_segments_exactly(seed: int, forced: bool, monkeypatch) -> None:
    """Random chains and residual nets: the plan verifies and runs in its one flat arena with the reference results.

    ``forced``: every candidate segment is kept, not only those that lower the arena.  The planner options
    (in-place depthwise, streamed residuals) cycle with the seed.
    """
    if forced:
        force_all_segments(monkeypatch)
    options = list(PLAN_OPTIONS.values())[seed % len(PLAN_OPTIONS)]
    rng = np.random.default_rng(100 + seed)
    for g in (random_chain_graph(100 + seed), residual_chain_graph(100 + seed), residual_net(100 + seed)):
        alignment = int(rng.choice([1, 4, 16]))
        plan = plan_arena(g, alignment=alignment, stream_rows=True, **options)
        verify_plan(g, plan)
        unstreamed = plan_arena(g, alignment=alignment, stream_rows=False, **options)
        if not forced:
            assert plan.size <= unstreamed.size
            assert bool(plan.row_segments) == (plan.size < unstreamed.size)
        for seg in plan.row_segments:
            assert seg.meta["inplace"] == (plan.offsets.get(seg.output, -1) == plan.offsets.get(seg.inplace_source, -2))
            assert all(plan.sizes[t] == seg.buffer_bytes(g, t) for t in seg.chain)
        assert_plan_runs_exactly(g, plan, seed)


def test_planned_segments_cover_in_place_and_refused_cases(monkeypatch) -> None:
    """The random plans above do exercise segments written in place and segments refused in place."""
    stats = Counter()
    for seed in range(16):
        for g in (random_chain_graph(100 + seed), residual_chain_graph(100 + seed), residual_net(100 + seed)):
            for forced in (False, True):
                with monkeypatch.context() as m:
                    if forced:
                        force_all_segments(m)
                    plan = plan_arena(g, alignment=16, stream_rows=True)
                stats["plans"] += 1
                stats["with segments"] += bool(plan.row_segments)
                stats["in place"] += sum(seg.meta["inplace"] for seg in plan.row_segments)
                stats["unsafe in place"] += sum(seg.inplace_source is None for seg in plan.row_segments)
    assert stats["with segments"] >= stats["plans"] * 2 // 3, stats
    assert stats["in place"] >= 10 and stats["unsafe in place"] >= 5, stats


def mixed_graph(seed: int) -> Graph:
    """transpose -> x; depthwise x -> d; a residual block on d (a segment); two 1x1 convs + add (the second
    streamed into the add); a head.

    The depthwise reads a transpose (not streamable) and d has two readers, so it is in no chain; y has two
    readers (convB0, addB) and side ops sit between convB0, convB and addB, so these join no chain either.
    """
    rng = np.random.default_rng(seed)
    h, w = int(rng.choice([12, 13, 15])), int(rng.choice([8, 11]))
    net = Net(rng, w, h, 16, name="mixed")
    x = net.act("x", (1, h, w, 16), like="in")
    net.g.add_node("transpose", ["in"], [x], name="transpose", perm=(0, 2, 1, 3))
    net.cur = x
    d = net.conv("depthwise_conv2d", 3, pad=(1, 1, 1, 1), act=(0.0, 6.0), name="dwC")
    net.conv("conv2d", 1, co=32, act=(0.0, 6.0), name="expand")
    net.conv("depthwise_conv2d", 3, pad=(1, 1, 1, 1), act=(0.0, 6.0), name="dw")
    net.conv("conv2d", 1, co=16, name="project")
    y = net.binary("add", net.cur, d, name="addA")
    u = net.conv("conv2d", 1, co=4, name="convB0")
    net.act("side1", (1, 1, 1, 16), like="in")
    net.g.add_node("mean", ["in"], ["side1"], name="side1", axes=(1, 2), keepdims=True)
    t = net.conv("conv2d", 1, co=16, src=u, name="convB")
    net.act("side2", (1, 1, 1, 16))
    net.g.add_node("relu", ["side1"], ["side2"], name="side2")
    net.binary("add", t, y, name="addB")
    net.head()
    return net.finish([net.cur, "side2"])


@pytest.mark.parametrize("seed", range(3))
def test_segments_next_to_streamed_and_inplace_depthwise_ops(seed: int) -> None:
    g = mixed_graph(seed)
    assert chain_names(g, find_chains(g)) == [["expand", "dw", "project", "addA"]]
    plan = plan_arena(g, alignment=16, stream_rows=True, inplace_depthwise=True, stream_residual=True)
    verify_plan(g, plan)
    (seg,) = plan.row_segments
    assert seg.nodes == ["expand", "dw", "project", "addA"] and seg.meta["inplace"]
    assert plan.streamed == {"convB": "addB"} and set(plan.inplace_depthwise) == {"dwC"}
    assert_plan_runs_exactly(g, plan, seed)


# -- in place: refused where unsafe ----------------------------------------------------------------


def exec_forced_inplace(graph: Graph, seg: RowSegment, env: dict[str, np.ndarray], source: str) -> np.ndarray:
    """Run ``seg`` with its output written over ``source``'s bytes (one shared buffer), sources read per call."""
    s_t, y_t = graph.tensors[source], graph.tensors[seg.output]
    assert s_t.nbytes >= y_t.nbytes
    shared = np.ascontiguousarray(env[source]).view(np.uint8).reshape(-1).copy()
    s_view = shared.view(s_t.dtype).reshape(s_t.shape)
    y_view = shared[: y_t.nbytes].view(y_t.dtype).reshape(y_t.shape)
    rng = np.random.default_rng(3)

    def read_source(name: str, win: Window) -> np.ndarray:
        whole = s_view if name == source else env[name]
        return whole[:, win.h0 : win.h1, win.w0 : win.w1].copy()

    def line_buffer(t: str) -> np.ndarray:
        _, _, w, c = graph.tensors[t].shape
        return rng.integers(-128, 128, size=(seg.capacity[t], w, c)).astype(graph.tensors[t].dtype)

    def write_row(row: int, value: np.ndarray) -> None:
        y_view[:, row : row + 1] = value

    exec_segment(graph, seg, read_source, line_buffer, write_row)
    return y_view.copy()


def inplace_safe(graph: Graph, seg: RowSegment, source: str) -> bool:
    """Byte-level oracle: no call reads a byte of ``source`` that an earlier row of the output overwrote.

    The last op may read the element it writes (an element-wise op on same-shaped row i); any other read by
    the last op must also stay clear of the row it writes.
    """
    s_t, y_t = graph.tensors[source], graph.tensors[seg.output]
    if len(s_t.shape) != 4 or s_t.nbytes < y_t.nbytes:
        return False
    y_row = y_t.shape[2] * y_t.shape[3] * y_t.itemsize
    written = 0  # bytes of the output written before this call
    for call in seg.calls:
        node = graph.node(call.op.node)
        final = node.outputs[0] == seg.output
        for name, win in zip(node.inputs, call.op.inputs):
            if name != source or win is None or win.empty:
                continue
            first = (win.h0 * s_t.shape[2] + win.w0) * s_t.shape[3] * s_t.itemsize
            same_elements = node.op in ("add", "sub", "mul") and s_t.shape == y_t.shape and win == call.op.output
            limit = written + (y_row if final and not same_elements else 0)
            if first < limit:
                return False
        if final:
            written += y_row
    return True


@pytest.mark.parametrize("seed", range(40))
def test_inplace_source_is_safe_on_random_chains(seed: int) -> None:
    """The chosen in-place source passes the byte-level oracle and a forced in-place run is exact;
    a refused same-size source with full-width windows fails the oracle."""
    for g in (random_chain_graph(seed), residual_chain_graph(seed)):
        env = reference(g, random_input(g, seed))
        for chain in find_chains(g):
            seg = analyze_segment(g, chain)
            chosen = _inplace_source(g, seg)
            assert chosen == seg.inplace_source
            if chosen is not None:
                assert chosen in seg.sources and inplace_safe(g, seg, chosen)
                assert np.array_equal(exec_forced_inplace(g, seg, env, chosen), env[seg.output])
            full_width = all(w is None or w.empty or w.w0 == 0 for c in seg.calls for w in c.op.inputs)
            for s in seg.sources[: seg.sources.index(chosen) if chosen else None]:
                if full_width:
                    assert not inplace_safe(g, seg, s), f"{s} refused but safe"


def late_reader_graph(late_reader: bool) -> Graph:
    """pre -> r; expand x6, depthwise, project, + r -> y (a segment); [a 1x1 conv reading r again]; a head."""
    net = Net(np.random.default_rng(11), 9, 9, 4, name="late")
    r = net.conv("conv2d", 1, co=8, name="pre", out="r")
    net.conv("conv2d", 1, co=48, act=(0.0, 6.0), name="expand", out="e")
    net.conv("depthwise_conv2d", 3, pad=(1, 1, 1, 1), act=(0.0, 6.0), name="dw", out="d")
    net.conv("conv2d", 1, co=8, name="project", out="p")
    y = net.binary("add", "p", r, name="residual", out="y")
    if late_reader:
        q = net.conv("conv2d", 1, co=8, src=r, name="late")
        net.binary("add", y, q, name="join")
    net.head()
    return net.finish()


@pytest.mark.parametrize("late_reader", [False, True], ids=["dies", "read_later"])
def test_inplace_merge_only_when_the_source_dies_at_the_segment(late_reader: bool) -> None:
    g = late_reader_graph(late_reader)
    plan = plan_arena(g, alignment=16, stream_rows=True)
    verify_plan(g, plan)
    seg = next(s for s in plan.row_segments if s.nodes[0] == "expand")
    assert seg.nodes == ["expand", "dw", "project", "residual"]
    assert seg.inplace_source == "r"  # the rows are safe to overwrite ...
    # ... but r is read again after the segment: then y must not take its bytes
    assert seg.meta["inplace"] is (not late_reader)
    assert (plan.offsets["y"] == plan.offsets["r"]) is (not late_reader)
    assert_plan_runs_exactly(g, plan, seed=11)


def strided_source_graph(pad_top: int) -> Graph:
    """transpose -> S 10x10x8 -> depthwise 3x3 stride 2 (pad top ``pad_top``) -> 1x1 conv to 5x5x32 = S's bytes."""
    net = Net(np.random.default_rng(12), 10, 10, 8, name="strided")
    s = net.act("S", (1, 10, 10, 8), like="in")
    net.g.add_node("transpose", ["in"], [s], perm=(0, 2, 1, 3))
    net.cur = s
    net.conv("depthwise_conv2d", 3, 2, pad=(pad_top, 1, 1, 1), name="dw")
    net.conv("conv2d", 1, co=32, name="expand", out="Y")
    net.head()
    return net.finish()


@pytest.mark.parametrize("pad_top", [0, 1])
def test_inplace_refused_when_a_later_row_reads_overwritten_source_bytes(pad_top: int, monkeypatch) -> None:
    """Row i of Y (160 bytes) covers S rows 2i, 2i+1; the depthwise's row i reads S from row 2i - pad_top.

    With pad_top 1 it reads row 2i - 1, which row i - 1 of Y has overwritten: no in place (and forcing it
    gives wrong numbers).  With pad_top 0 in place is safe and the planner merges Y into S.
    """
    g = strided_source_graph(pad_top)
    assert g.tensors["S"].nbytes == g.tensors["Y"].nbytes
    (chain,) = find_chains(g)
    seg = analyze_segment(g, chain)
    assert seg.sources == ["S"] and seg.output == "Y"
    env = reference(g, random_input(g, 12))
    forced = exec_forced_inplace(g, seg, env, "S")
    assert inplace_safe(g, seg, "S") is (pad_top == 0)
    if pad_top:
        assert seg.inplace_source is None
        assert not np.array_equal(forced, env["Y"])  # what an unsafe merge would compute
    else:
        assert seg.inplace_source == "S"
        assert np.array_equal(forced, env["Y"])
    plan = plan_arena(g, alignment=16, stream_rows=True)
    assert bool(plan.row_segments) is (pad_top == 0)  # without in place the segment saves nothing here
    force_all_segments(monkeypatch)
    plan = plan_arena(g, alignment=16, stream_rows=True)
    verify_plan(g, plan)
    (planned,) = plan.row_segments
    assert planned.meta["inplace"] is (pad_top == 0)
    assert (plan.offsets["Y"] == plan.offsets["S"]) is (pad_top == 0)
    assert_plan_runs_exactly(g, plan, seed=12)


def test_inplace_refused_for_a_kernel_reading_rows_above(monkeypatch) -> None:
    """A 3x3 conv (pad 1) over a source, written back over it: row i reads source row i - 1, already overwritten."""
    net = Net(np.random.default_rng(13), 9, 9, 8, name="above")
    s = net.act("S", (1, 9, 9, 8), like="in")
    net.g.add_node("transpose", ["in"], [s], perm=(0, 2, 1, 3))
    net.cur = s
    net.conv("conv2d", 3, pad=(1, 1, 1, 1), co=8)
    net.conv("conv2d", 1, co=8, out="Y")
    net.head()
    g = net.finish()
    seg = analyze_segment(g, find_chains(g)[0])
    assert seg.sources == ["S"] and seg.inplace_source is None and not inplace_safe(g, seg, "S")
    env = reference(g, random_input(g, 13))
    assert not np.array_equal(exec_forced_inplace(g, seg, env, "S"), env["Y"])
    force_all_segments(monkeypatch)
    plan = plan_arena(g, alignment=16, stream_rows=True)
    verify_plan(g, plan)
    assert plan.row_segments and not plan.row_segments[0].meta["inplace"]
    assert plan.offsets["Y"] != plan.offsets["S"]
    assert_plan_runs_exactly(g, plan, seed=13)


# -- verify_plan rejects corrupted plans -----------------------------------------------------------


def block_plan():
    g = late_reader_graph(False)
    plan = plan_arena(g, alignment=16, stream_rows=True)
    verify_plan(g, plan)
    (seg,) = plan.row_segments
    assert seg.meta["inplace"] and seg.chain == ["e", "d", "p"]
    return g, plan, seg


def test_verify_rejects_a_line_buffer_on_a_live_source() -> None:
    g, plan, _ = block_plan()
    assert_plan_runs_exactly(g, plan, seed=1)
    plan.offsets["e"] = plan.offsets["r"]  # the expanded rows written over r, still to be read
    plan.size = max(plan.size, plan.offsets["e"] + plan.sizes["e"])
    with pytest.raises(PlanError, match="overlap"):
        verify_plan(g, plan)
    x = random_input(g, 1)
    got = run_plan_in_arena(g, plan, {"in": x}, seed=1)[g.outputs[0]]
    assert not np.array_equal(got, run(g, {"in": x})[g.outputs[0]])  # the executor sees the damage too


def test_verify_rejects_an_inplace_output_away_from_its_source() -> None:
    g, plan, _ = block_plan()
    plan.offsets["y"] = plan.offsets["r"] + 16
    with pytest.raises(PlanError, match="in place"):
        verify_plan(g, plan)


def test_verify_rejects_wrong_line_buffers_and_in_place_claims() -> None:
    g, plan, seg = block_plan()
    seg.capacity["e"] -= 1  # the depthwise window needs 3 rows of the expanded tensor
    with pytest.raises(PlanError, match="line buffers"):
        verify_plan(g, plan)

    g, plan, seg = block_plan()
    seg.inplace_source = None
    with pytest.raises(PlanError):
        verify_plan(g, plan)

    g, plan, seg = block_plan()
    plan.row_segments = []  # without the segment, the chain tensors need their whole bytes
    with pytest.raises(PlanError):
        verify_plan(g, plan)

    g, plan, seg = block_plan()
    seg.nodes = ["expand", "project", "dw", "residual"]
    with pytest.raises(PlanError, match="consecutive"):
        verify_plan(g, plan)


def test_verify_rejects_an_inplace_claim_over_a_source_read_later() -> None:
    g = late_reader_graph(True)
    plan = plan_arena(g, alignment=16, stream_rows=True)
    (seg,) = [s for s in plan.row_segments if s.nodes[0] == "expand"]
    off = 0
    for name in plan.offsets:  # every tensor in bytes of its own: a sound plan
        plan.offsets[name] = off
        off += -(-plan.sizes[name] // 16) * 16
    plan.size = off
    verify_plan(g, plan)
    seg.meta["inplace"] = True  # y over r, though "late" reads r after the segment
    plan.offsets["y"] = plan.offsets["r"]
    x = random_input(g, 1)
    got = run_plan_in_arena(g, plan, {"in": x}, seed=1)[g.outputs[0]]
    assert not np.array_equal(got, run(g, {"in": x})[g.outputs[0]])  # the plan is wrong ...
    with pytest.raises(PlanError):  # ... and verify_plan should say so
        verify_plan(g, plan)


# -- host C: bit-exact builds ----------------------------------------------------------------------


def features_graph() -> Graph:
    """Two blocks: one written in place over its residual source, one running on through a pad op, a dilated
    asymmetric conv, strided pools and depthwise, a leaky relu and a 1x1 conv to the graph output."""
    net = Net(np.random.default_rng(21), 13, 11, 3, name="features")
    r = net.conv("conv2d", 1, co=8)
    net.conv("conv2d", 1, co=24, act=(0.0, 6.0))
    net.conv("depthwise_conv2d", 5, pad=(1, 2, 3, 2), act=(0.0, 6.0))
    net.conv("conv2d", 1, co=8)
    y = net.binary("add", net.cur, r)
    net.conv("conv2d", 1, co=32, act=(0.0, 6.0))
    net.conv("depthwise_conv2d", 3, pad=(1, 1, 1, 1), act=(0.0, 6.0))
    net.conv("conv2d", 1, co=8)
    net.binary("sub", y, net.cur)
    net.pad(1, 0, 2, 1)
    net.conv("conv2d", 3, d=2, pad=(2, 1, 0, 3), co=12, act=(0.0, math.inf))
    net.pool("max_pool2d", 3, 2, (1, 1, 1, 1))
    net.unary("leaky_relu")
    net.conv("depthwise_conv2d", 3, 2, pad=(0, 0, 1, 1))
    net.pool("avg_pool2d", 2, 1, (0, 0, 1, 1))
    net.conv("conv2d", 1, co=4)
    return net.finish()


def strided_inplace_graph() -> Graph:
    """resize -> S 10x10x8 -> depthwise 3x3 stride 2 (pad top 0) -> 1x1 conv to 5x5x32, written over S; a head."""
    net = Net(np.random.default_rng(22), 5, 5, 8, name="strided")
    s = net.act("S", (1, 10, 10, 8), like="in")
    net.g.add_node("resize_nearest", ["in"], [s], size=(10, 10))
    net.cur = s
    net.conv("depthwise_conv2d", 3, 2, pad=(0, 1, 1, 1))
    net.conv("conv2d", 1, co=32, out="Y")
    net.head()
    return net.finish()


def build_graph(graph: Graph, out_dir: Path):
    """A host build of an IR graph (what ``build_model`` does after lowering a model file)."""
    from edgec.compiler import BUILD_FILE, _build_into
    from edgec.lowering import LoweredModel
    from edgec.progress import QUIET
    from edgec.targets import load_target

    out_dir.mkdir(parents=True)
    lowered = LoweredModel(graph, Path(f"{graph.name}.ir"), "0" * 64)
    summary = _build_into(out_dir, lowered, load_target("host"), BuildOptions(target="host", out_dir=out_dir), QUIET)
    (out_dir / BUILD_FILE).write_text(json.dumps(summary))
    return load_build(out_dir)


def assert_host_bit_exact(build, seeds=(0, 1, 2)) -> None:
    graph = build.graph
    for seed in seeds:
        x = random_input(graph, seed)
        got, _ = run_host_binary(build, x)
        expect = run(graph, {graph.inputs[0]: x})[graph.outputs[0]].reshape(got.shape)
        diff = np.count_nonzero(got.astype(np.int32) != expect.astype(np.int32))
        assert diff == 0, f"{graph.name} seed {seed}: {diff} elements differ"


def row_streamed_groups(build) -> list[list[dict]]:
    """The op records of each row-streamed segment, in order; checks each segment's ops are consecutive."""
    ops = build.summary["ops"]
    groups: dict[tuple, list[int]] = {}
    for k, op in enumerate(ops):
        if "row_streamed" in op:
            groups.setdefault(tuple(op["row_streamed"]["with"]), []).append(k)
    result = []
    for names, positions in groups.items():
        assert positions == list(range(positions[0], positions[0] + len(names)))
        assert [ops[k]["name"] for k in positions] == list(names)
        result.append([ops[k] for k in positions])
    return result


# graph, (segments, of which in place) when known by construction
IR_GRAPHS = {
    "features": (features_graph, (2, 1)),
    "strided_inplace": (strided_inplace_graph, (1, 1)),
    "random_chain_1": (lambda: random_chain_graph(1), None),
    "random_chain_2": (lambda: random_chain_graph(2), None),
    "residual_chain_3": (lambda: residual_chain_graph(3), None),
    "residual_net_2": (lambda: residual_net(2), None),
}


@pytest.mark.parametrize("name", list(IR_GRAPHS))
def test_host_ir_graph_with_segments_is_bit_exact(name: str, tmp_path: Path) -> None:
    make, expected = IR_GRAPHS[name]
    g = make()
    plan = plan_arena(g, alignment=16, inplace_depthwise=True, stream_residual=True, stream_rows=True)
    assert plan.row_segments
    if expected is not None:
        assert (len(plan.row_segments), sum(s.meta["inplace"] for s in plan.row_segments)) == expected
    build = build_graph(g, tmp_path / g.name)
    groups = row_streamed_groups(build)
    assert [[op["name"] for op in ops] for ops in groups] == [s.nodes for s in plan.row_segments]
    for seg, ops in zip(plan.row_segments, groups):
        for op in ops:
            assert op["row_streamed"]["calls"] == sum(1 for c in seg.calls if c.op.node == op["name"])
        assert ops[-1]["row_streamed"]["calls"] == ops[-1]["output_shape"][1]
    assert build.summary["totals"]["arena_bytes"] == plan.size
    assert "streamed row by row" in (build.path / "src" / "model.c").read_text()
    assert_host_bit_exact(build)


def unread_column_graph() -> Graph:
    """1x1 conv -> 2x2 max pool stride 2 on 9 columns (column 8 is never read) -> 1x1 conv."""
    net = Net(np.random.default_rng(23), 9, 9, 4, name="unread")
    net.conv("conv2d", 1, co=16)
    net.pool("max_pool2d", 2, 2, (0, 0, 0, 0))
    net.conv("conv2d", 1, co=4)
    return net.finish()


def test_host_build_of_a_segment_leaving_a_column_unread(tmp_path: Path) -> None:
    g = unread_column_graph()
    plan = plan_arena(g, alignment=16, stream_rows=True)
    (seg,) = plan.row_segments
    assert {c.op.inputs[0] for c in seg.calls if c.op.node == g.nodes[1].name} == {
        Window(2 * i, 2 * i + 2, 0, 8) for i in range(4)
    }
    assert_host_bit_exact(build_graph(g, tmp_path / "unread"))


def test_codegen_emits_every_planned_segment(tmp_path: Path, monkeypatch) -> None:
    """C generation (no compilation) accepts the segments planned for 60 seeds of each random graph family."""
    from edgec.codegen.c import emit_project
    from edgec.schedule.planning import ModelPlan
    from edgec.targets import load_target

    target = load_target("host")
    failures = []
    for seed in range(60):
        for make in (random_chain_graph, residual_chain_graph, residual_net):
            g = make(seed)
            plan = plan_arena(g, alignment=16, inplace_depthwise=True, stream_residual=True, stream_rows=True)
            model_plan = ModelPlan("layer", plan, plan.size, plan.size, plan.lower_bound)
            try:
                emit_project(g, model_plan, tmp_path / f"{make.__name__}-{seed}", target, "0" * 64)
            except AssertionError as e:
                failures.append(f"{make.__name__}({seed}): {e}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("kernels", "move"), [("auto", "edgec_move_rows("), ("portable", "memmove(")])
def test_line_buffer_moves_follow_the_kernel_mode(kernels: str, move: str, tmp_path: Path) -> None:
    """Kept rows move with edgec_move_rows (VLDM/VSTM blocks on FPU and Helium cores) unless the build asks
    for portable C only, which keeps memmove (C generation only, for the M55)."""
    from edgec.codegen.c import emit_project
    from edgec.schedule.planning import ModelPlan
    from edgec.targets import load_target

    g = features_graph()
    plan = plan_arena(g, alignment=16, inplace_depthwise=True, stream_residual=True, stream_rows=True)
    assert any(seg.chain for seg in plan.row_segments)
    model_plan = ModelPlan("layer", plan, plan.size, plan.size, plan.lower_bound)
    out = tmp_path / kernels
    emit_project(g, model_plan, out, load_target("qemu-cortex-m55"), "0" * 64, kernels=kernels)
    source = (out / "model.c").read_text()
    other = "memmove(" if move == "edgec_move_rows(" else "edgec_move_rows("
    assert move in source and other not in source


HOST_MODELS = ["mcunet", "resnet8"]


@pytest.fixture(scope="module")
def model_builds(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("row-stream-builds")
    builds = {}
    for name in HOST_MODELS:
        out = root / name
        build_model(TFLITE_DIR / f"{name}.tflite", BuildOptions(target="host", out_dir=out))
        builds[name] = load_build(out)
    return builds


@pytest.mark.parametrize("name", HOST_MODELS)
def test_bundled_model_streams_rows_bit_exactly_in_less_memory(name: str, model_builds) -> None:
    build = model_builds[name]
    groups = row_streamed_groups(build)
    assert groups, f"{name}: no row-streamed segment"
    for ops in groups:
        assert len(ops) >= 2
        for op in ops:  # no row skipped, none recomputed: one call per output row
            assert op["row_streamed"]["calls"] == op["output_shape"][1], op["name"]
    assert "streamed row by row" in (build.path / "src" / "model.c").read_text()

    g = build.graph
    options = {"alignment": 16, "inplace_depthwise": True, "stream_residual": True}
    plan = plan_arena(g, stream_rows=True, **options)
    verify_plan(g, plan)
    assert [s.nodes for s in plan.row_segments] == [[op["name"] for op in ops] for ops in groups]
    assert any(s.meta["inplace"] for s in plan.row_segments)
    assert build.summary["totals"]["arena_bytes"] == plan.size
    assert plan.size < plan_arena(g, stream_rows=False, **options).size
    assert_host_bit_exact(build)


def test_bundled_model_plan_runs_in_its_arena(model_builds) -> None:
    """resnet8's planned arena, executed in Python call by call, gives the reference output."""
    g = model_builds["resnet8"].graph
    plan = plan_arena(g, alignment=16, inplace_depthwise=True, stream_residual=True, stream_rows=True)
    assert plan.row_segments
    assert_plan_runs_exactly(g, plan, seed=4)
