"""Patch-based stages (MCUNetV2): receptive-field analysis of a graph prefix.

A *stage* is the prefix of the graph that computes a *split tensor*: the
ancestors of that tensor, in node order.  Instead of running the stage layer
by layer, the split tensor's H x W plane is cut into an ``n_h x n_w`` grid
and each patch is computed on its own, from the stage inputs, through small
per-patch buffers.  Overlapping receptive fields make neighbouring patches
recompute some values; the gain is that only one patch's intermediate
tensors are alive at a time.

``analyze_patches`` walks back from each output patch through the stage
(reverse node order) and gives, for every patch:

* ``regions[t]`` - the rows/columns of stage tensor ``t`` that must be
  computed (or, for a stage input, read), in ``t``'s coordinates, clipped to
  the tensor: the bounding box of what all of ``t``'s consumers in the stage
  read;
  A window is contiguous: with dilation it spans the rows between taps too,
  so a kernel can slide over it with the node's own stride and dilation;
* per node, a ``PatchOp``: the window of each input it reads, the window of
  its output (= the output tensor's region) and the padding to apply at this
  patch.  Padding is the node's real padding only where the window touches
  the tensor border; inside, the neighbouring rows are real data, so 0.

Calling the op's kernel on the input windows with ``PatchOp.pad`` (for
``pad`` nodes: those H/W pads, the channel pads unchanged) produces exactly
the output window; ``run_patch_stage`` does this with the reference kernels.

Grids: ``split_extents(size, n)`` cuts ``size`` into ``n`` parts whose
lengths differ by at most one; the first ``size % n`` parts get the extra row
(or column).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgec.ir.graph import Graph, Node
from edgec.ir.ops import OPS, macs

CONV_LIKE = frozenset({"conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d"})
SAME_WINDOW = frozenset({"add", "sub", "mul", "concat", "identity", "dropout", "reshape"})

Pad4 = tuple[int, int, int, int]


@dataclass(frozen=True)
class Window:
    """Rows ``[h0, h1)`` and columns ``[w0, w1)`` of a tensor's H x W plane."""

    h0: int
    h1: int
    w0: int
    w1: int

    @property
    def height(self) -> int:
        return self.h1 - self.h0

    @property
    def width(self) -> int:
        return self.w1 - self.w0

    @property
    def area(self) -> int:
        return max(self.height, 0) * max(self.width, 0)

    @property
    def empty(self) -> bool:
        return self.height <= 0 or self.width <= 0

    def union(self, other: Window) -> Window:
        if self.empty:
            return other
        if other.empty:
            return self
        return Window(min(self.h0, other.h0), max(self.h1, other.h1), min(self.w0, other.w0), max(self.w1, other.w1))

    def contains(self, other: Window) -> bool:
        return other.empty or (
            self.h0 <= other.h0 and other.h1 <= self.h1 and self.w0 <= other.w0 and other.w1 <= self.w1
        )

    def relative_to(self, outer: Window) -> Window:
        """This window in the coordinates of a buffer that holds ``outer``."""
        return Window(self.h0 - outer.h0, self.h1 - outer.h0, self.w0 - outer.w0, self.w1 - outer.w0)


EMPTY = Window(0, 0, 0, 0)


@dataclass
class PatchOp:
    """One node at one patch: what to read, what to write, how to pad."""

    node: str
    inputs: list[Window | None]  # per node input: window read (None: constant or absent)
    output: Window  # window of the output tensor computed
    pad: Pad4 = (0, 0, 0, 0)  # (top, left, bottom, right) to apply at this patch

    @property
    def output_empty(self) -> bool:
        return self.output.empty


@dataclass
class Patch:
    index: tuple[int, int]  # (row, column) in the grid
    output: Window  # the part of the split tensor this patch fills
    regions: dict[str, Window]  # stage tensor -> region computed (or read, for stage inputs)
    ops: list[PatchOp]  # in stage order; nodes with an empty output at this patch are left out
    macs: int


@dataclass
class PatchStage:
    split: str
    nodes: list[str]  # stage nodes in execution order
    inputs: list[str]  # non-constant tensors the stage reads but does not produce
    grid: tuple[int, int]
    patches: list[Patch]
    layer_macs: int  # MACs of the stage run layer by layer
    meta: dict = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.patches)

    def region_bytes(self, graph: Graph, tensor: str) -> int:
        """Bytes of the largest region of ``tensor`` over all patches (its per-patch buffer size)."""
        t = graph.tensors[tensor]
        per_pixel = t.shape[3] * t.itemsize
        return max((p.regions[tensor].area for p in self.patches if tensor in p.regions), default=0) * per_pixel


class NotPatchable(ValueError):
    """The prefix contains an op or shape that patch-based execution cannot window."""


# -- grids -----------------------------------------------------------------------------------------


def split_extents(size: int, parts: int) -> list[tuple[int, int]]:
    """``[start, end)`` of ``parts`` near-equal pieces of ``size``; the first ``size % parts`` are one longer."""
    if not 1 <= parts <= size:
        raise ValueError(f"cannot cut {size} into {parts} non-empty parts")
    base, extra = divmod(size, parts)
    bounds, start = [], 0
    for i in range(parts):
        end = start + base + (1 if i < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def grid_windows(height: int, width: int, grid: tuple[int, int]) -> list[tuple[tuple[int, int], Window]]:
    rows, cols = split_extents(height, grid[0]), split_extents(width, grid[1])
    return [((i, j), Window(h0, h1, w0, w1)) for i, (h0, h1) in enumerate(rows) for j, (w0, w1) in enumerate(cols)]


# -- the stage -------------------------------------------------------------------------------------


def stage_nodes(graph: Graph, split: str) -> list[Node]:
    """The ancestors of ``split`` in node order."""
    producers = graph.producers()
    needed = {split}
    chosen: set[str] = set()
    for node in reversed(graph.nodes):
        if any(o in needed for o in node.outputs):
            chosen.add(node.name)
            needed.update(i for i in node.inputs if i and not graph.tensors[i].is_const)
    if split not in producers:
        raise NotPatchable(f"split tensor {split!r} is not produced by any node")
    return [n for n in graph.nodes if n.name in chosen]


def _kernel_geometry(graph: Graph, node: Node) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], Pad4]:
    """(kernel, stride, dilation, pad) of a conv-like node."""
    if node.op in ("conv2d", "depthwise_conv2d"):
        kernel = tuple(graph.tensors[node.inputs[1]].shape[1:3])
        dilation = tuple(node.attrs.get("dilation", (1, 1)))
    else:
        kernel = tuple(node.attrs["kernel"])
        dilation = (1, 1)
    return kernel, tuple(node.attrs.get("stride", (1, 1))), dilation, tuple(node.attrs.get("pad", (0, 0, 0, 0)))


def _spatial_pads(node: Node) -> Pad4:
    _, (hb, ha), (wb, wa) = (tuple(p) for p in node.attrs["pads"][:3])
    return hb, wb, ha, wa


def check_patchable(graph: Graph, nodes: list[Node]) -> None:
    """Raise ``NotPatchable`` naming the first node that cannot run on windows."""
    for node in nodes:
        outs = [graph.tensors[o] for o in node.outputs]
        if len(outs) != 1 or len(outs[0].shape) != 4 or outs[0].shape[0] != 1:
            raise NotPatchable(f"{node.name} ({node.op}): output is not one [1,H,W,C] tensor")
        out_shape = outs[0].shape
        act_inputs = [graph.tensors[i] for i in node.inputs if i and not graph.tensors[i].is_const]
        if node.op in CONV_LIKE:
            continue
        if node.op == "pad":
            pads = node.attrs["pads"]
            if len(pads) != 4 or tuple(pads[0]) != (0, 0) or any(v < 0 for p in pads for v in p):
                raise NotPatchable(f"{node.name} (pad): only non-negative H/W/C padding is windowable")
            continue
        if node.op == "concat":
            if node.attrs["axis"] % 4 != 3:
                raise NotPatchable(f"{node.name} (concat): only channel concatenation is windowable")
            continue
        if node.op == "reshape" and act_inputs and act_inputs[0].shape != out_shape:
            raise NotPatchable(f"{node.name} (reshape): changes the shape")
        if node.op in SAME_WINDOW or (OPS.get(node.op) is not None and OPS[node.op].elementwise):
            for t in act_inputs:
                if len(t.shape) != 4 or t.shape[1:3] != out_shape[1:3]:
                    raise NotPatchable(f"{node.name} ({node.op}): input {t.name} is broadcast over H/W")
            for name in node.inputs:
                shape = graph.tensors[name].shape if name else ()
                if name and graph.tensors[name].is_const and len(shape) >= 3 and any(d != 1 for d in shape[-3:-1]):
                    raise NotPatchable(f"{node.name} ({node.op}): constant {name} varies over H/W")
            continue
        raise NotPatchable(f"{node.name} ({node.op}): op cannot be computed on a spatial window")


def _back_axis(
    o0: int, o1: int, size: int, kernel: int, stride: int, dilation: int, pad_lo: int
) -> tuple[int, int, int, int]:
    """Input rows ``[a, b)`` and per-patch pads ``(lo, hi)`` for output rows ``[o0, o1)``."""
    start = o0 * stride - pad_lo
    end = (o1 - 1) * stride - pad_lo + dilation * (kernel - 1) + 1
    a, b = min(max(start, 0), size), min(max(end, 0), size)
    if b <= a:  # the window reads only padding
        a = b = min(max(start, 0), size)
        return a, a, end - start, 0
    return a, b, a - start, end - b


def backward_op(graph: Graph, node: Node, out: Window) -> PatchOp:
    """Input windows and per-patch padding needed to compute ``out`` of ``node``'s output."""
    x = node.inputs[0]
    windows: list[Window | None] = [None] * len(node.inputs)
    if node.op in CONV_LIKE or node.op == "pad":
        _, h, w, _ = graph.tensors[x].shape
        if node.op == "pad":
            (kh, kw), (sh, sw), (dh, dw), pad = (1, 1), (1, 1), (1, 1), _spatial_pads(node)
        else:
            (kh, kw), (sh, sw), (dh, dw), pad = _kernel_geometry(graph, node)
        h0, h1, top, bottom = _back_axis(out.h0, out.h1, h, kh, sh, dh, pad[0])
        w0, w1, left, right = _back_axis(out.w0, out.w1, w, kw, sw, dw, pad[1])
        windows[0] = Window(h0, h1, w0, w1)
        return PatchOp(node.name, windows, out, (top, left, bottom, right))
    for k, name in enumerate(node.inputs):
        if name and not graph.tensors[name].is_const:
            windows[k] = out
    return PatchOp(node.name, windows, out)


def analyze_patches(graph: Graph, split: str, grid: tuple[int, int]) -> PatchStage:
    """Receptive-field analysis of the stage ending at ``split`` for an ``n_h x n_w`` grid."""
    nodes = stage_nodes(graph, split)
    check_patchable(graph, nodes)
    _, height, width, _ = graph.tensors[split].shape
    produced = {o for n in nodes for o in n.outputs}
    stage_inputs = list(
        dict.fromkeys(i for n in nodes for i in n.inputs if i and not graph.tensors[i].is_const and i not in produced)
    )
    patches = []
    for index, out_window in grid_windows(height, width, grid):
        regions: dict[str, Window] = {split: out_window}
        ops: list[PatchOp] = []
        for node in reversed(nodes):
            out = regions.get(node.outputs[0], EMPTY)
            if out.empty:
                continue
            op = backward_op(graph, node, out)
            ops.append(op)
            for name, win in zip(node.inputs, op.inputs):
                if win is not None and not win.empty:
                    regions[name] = regions.get(name, EMPTY).union(win)
        ops.reverse()
        patch_macs = 0
        for op in ops:
            node = graph.node(op.node)
            _, oh, ow, _ = graph.tensors[node.outputs[0]].shape
            patch_macs += macs(graph, node) * op.output.area // (oh * ow)
        patches.append(Patch(index, out_window, regions, ops, patch_macs))
    layer_macs = sum(macs(graph, n) for n in nodes)
    return PatchStage(split, [n.name for n in nodes], stage_inputs, tuple(grid), patches, layer_macs)


# -- running a stage patch by patch (the reference semantics for generated code) ------------------


def windowed_node(node: Node, op: PatchOp) -> Node:
    """``node`` with the padding attributes of patch op ``op``."""
    windowed = node.copy()
    if node.op == "pad":
        top, left, bottom, right = op.pad
        pads = [tuple(p) for p in node.attrs["pads"]]
        windowed.attrs["pads"] = (pads[0], (top, bottom), (left, right), pads[3])
    elif node.op in CONV_LIKE:
        windowed.attrs["pad"] = op.pad
    return windowed


def run_windowed_op(graph: Graph, node: Node, op: PatchOp, read) -> np.ndarray:
    """``node`` computed on ``op``'s windows, with ``op``'s padding, by the reference kernels (loaded).

    ``read(name, window)`` gives activation ``name`` at a non-empty window;
    windows that read only padding get an empty array.  Returns the output
    window, checked against ``op.output``'s shape.
    """
    from edgec.reference.interpreter import FLOAT_KERNELS, INT_KERNELS, is_integer_node

    args = []
    for name, win in zip(node.inputs, op.inputs):
        if not name:
            args.append(None)
        elif win is None:
            args.append(graph.tensors[name].data)
        elif win.empty:  # only padding is read here
            t = graph.tensors[name]
            args.append(np.zeros((1, max(win.height, 0), max(win.width, 0), t.shape[3]), dtype=t.dtype))
        else:
            args.append(read(name, win))
    table = INT_KERNELS if is_integer_node(graph, node) else FLOAT_KERNELS
    value = np.asarray(table[node.op](graph, windowed_node(node, op), args))
    expect = (1, op.output.height, op.output.width, graph.tensors[node.outputs[0]].shape[3])
    if value.shape != expect:
        raise AssertionError(f"{node.name} on {op.output}: computed {value.shape}, expected {expect}")
    return value


def run_patch_stage(graph: Graph, stage: PatchStage, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """Compute the split tensor patch by patch with the reference kernels, then stitch the patches."""
    from edgec.reference.interpreter import _load_kernels

    try:
        _load_kernels()
    except ImportError:  # integer kernels not available: float graphs still run
        from edgec.reference import float_ops  # noqa: F401

    split = graph.tensors[stage.split]
    result = np.zeros(split.shape, dtype=split.dtype)
    for patch in stage.patches:
        buffers: dict[str, tuple[np.ndarray, Window]] = {}
        for name in stage.inputs:
            _, h, w, _ = graph.tensors[name].shape
            buffers[name] = (np.asarray(feeds[name]), Window(0, h, 0, w))

        def read(name: str, win: Window, buffers=buffers) -> np.ndarray:
            array, region = buffers[name]
            rel = win.relative_to(region)
            return array[:, rel.h0 : rel.h1, rel.w0 : rel.w1, :]

        for op in patch.ops:
            node = graph.node(op.node)
            value = run_windowed_op(graph, node, op, read)
            buffers[node.outputs[0]] = (value.astype(graph.tensors[node.outputs[0]].dtype, copy=False), op.output)
        array, region = buffers[stage.split]
        out = patch.output.relative_to(region)
        result[:, patch.output.h0 : patch.output.h1, patch.output.w0 : patch.output.w1, :] = array[
            :, out.h0 : out.h1, out.w0 : out.w1, :
        ]
    return result
