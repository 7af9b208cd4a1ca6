"""Patch-based stages: receptive fields vs brute force, patch-by-patch execution vs layer by layer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from float_compare import assert_close

from edgec.ir.graph import Graph
from edgec.ir.ops import conv_out_size
from edgec.ir.tensor import Tensor
from edgec.reference import float_ops  # noqa: F401  (registers the float kernels)
from edgec.reference.interpreter import FLOAT_KERNELS
from edgec.schedule.patch import NotPatchable, Window, analyze_patches, run_patch_stage, split_extents

# -- helpers ---------------------------------------------------------------------------------------


def run_float(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    env = {n: t.data for n, t in graph.tensors.items() if t.is_const} | dict(feeds)
    for node in graph.nodes:
        env[node.outputs[0]] = np.asarray(
            FLOAT_KERNELS[node.op](graph, node, [env[i] if i else None for i in node.inputs])
        )
    return env


def small_ints(rng, shape) -> np.ndarray:
    """Small integer-valued floats: every sum is exact in float32, so any summation order gives equal results."""
    return rng.integers(-2, 3, size=shape).astype(np.float32)


class StageBuilder:
    def __init__(self, rng: np.random.Generator, h: int, w: int, c: int):
        self.rng = rng
        self.g = Graph("stage")
        self.g.add_tensor(Tensor("in", (1, h, w, c)))
        self.g.inputs = ["in"]
        self.cur = "in"
        self.count = 0

    def new(self, shape) -> str:
        self.count += 1
        name = f"t{self.count}"
        self.g.add_tensor(Tensor(name, shape))
        return name

    @property
    def shape(self):
        return self.g.tensors[self.cur].shape

    def conv(self, kind: str, k: int, s: int, d: int, pad, co: int | None = None) -> None:
        _, h, w, c = self.shape
        oh = conv_out_size(h, k, s, d, pad[0], pad[2])
        ow = conv_out_size(w, k, s, d, pad[1], pad[3])
        if oh < 1 or ow < 1:
            k, s, d, pad = 1, 1, 1, (0, 0, 0, 0)
            oh, ow = h, w
        name = f"w{self.count}"
        if kind == "conv2d":
            co = co or int(self.rng.integers(1, 5))
            self.g.add_const(name, small_ints(self.rng, (co, k, k, c)))
            attrs = {"stride": (s, s), "dilation": (d, d), "pad": tuple(pad)}
        elif kind == "depthwise_conv2d":
            co = c
            self.g.add_const(name, small_ints(self.rng, (1, k, k, c)))
            attrs = {"stride": (s, s), "dilation": (d, d), "pad": tuple(pad), "depth_multiplier": 1}
        else:
            co = c
            attrs = {"kernel": (k, k), "stride": (s, s), "pad": tuple(pad)}
        y = self.new((1, oh, ow, co))
        inputs = [self.cur, name, ""] if kind in ("conv2d", "depthwise_conv2d") else [self.cur]
        self.g.add_node(kind, inputs, [y], **attrs)
        self.cur = y

    def random_pad(self, k: int, d: int):
        return tuple(int(self.rng.integers(0, d * (k - 1) + 1)) for _ in range(4))

    def step(self) -> None:
        rng = self.rng
        kind = rng.choice(
            ["conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d", "pad", "residual", "relu", "concat"]
        )
        if kind in ("conv2d", "depthwise_conv2d"):
            k = int(rng.choice([1, 3, 5, 7]))
            d = int(rng.choice([1, 2])) if k > 1 else 1
            self.conv(kind, k, int(rng.choice([1, 2])), d, self.random_pad(k, d))
        elif kind in ("max_pool2d", "avg_pool2d"):
            k = int(rng.choice([2, 3]))
            self.conv(kind, k, int(rng.choice([1, 2])), 1, self.random_pad(k, 1))
        elif kind == "pad":
            t, lft, b, r = (int(v) for v in rng.integers(0, 3, size=4))
            cpad = int(rng.integers(0, 2))
            _, h, w, c = self.shape
            y = self.new((1, h + t + b, w + lft + r, c + cpad))
            self.g.add_node(
                "pad", [self.cur], [y], pads=((0, 0), (t, b), (lft, r), (0, cpad)), value=float(rng.integers(-1, 2))
            )
            self.cur = y
        elif kind == "residual":
            x = self.cur
            c = self.shape[3]
            k = int(rng.choice([3, 5]))
            self.conv("conv2d", k, 1, 1, (k // 2,) * 4, co=c)
            self.conv("depthwise_conv2d", 3, 1, 1, (1, 1, 1, 1))
            y = self.new(self.shape)
            self.g.add_node("add", [x, self.cur], [y])
            self.cur = y
        elif kind == "relu":
            y = self.new(self.shape)
            self.g.add_node("relu", [self.cur], [y])
            self.cur = y
        else:
            x = self.cur
            self.conv("conv2d", 3, 1, 1, (1, 1, 1, 1))
            y = self.new((*self.shape[:3], self.shape[3] + self.g.tensors[x].shape[3]))
            self.g.add_node("concat", [self.cur, x], [y], axis=3)
            self.cur = y


def random_stage(seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    b = StageBuilder(rng, int(rng.integers(7, 24)), int(rng.integers(7, 24)), int(rng.integers(1, 4)))
    for _ in range(int(rng.integers(2, 7))):
        b.step()
    b.g.outputs = [b.cur]
    return b.g.verify()


def brute_force_regions(graph: Graph, split: str, window: Window) -> dict[str, Window]:
    """Bounding boxes of the dependency masks, found pixel by pixel (kernel spans, not only taps)."""
    masks: dict[str, np.ndarray] = {}
    shape = graph.tensors[split].shape
    masks[split] = np.zeros(shape[1:3], dtype=bool)
    masks[split][window.h0 : window.h1, window.w0 : window.w1] = True
    for node in reversed(graph.nodes):
        out = masks.get(node.outputs[0])
        if out is None:
            continue
        for name in node.inputs:
            if not name or graph.tensors[name].is_const:
                continue
            h, w = graph.tensors[name].shape[1:3]
            need = masks.setdefault(name, np.zeros((h, w), dtype=bool))
            for oy, ox in zip(*np.nonzero(out)):
                if node.op in ("conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d"):
                    if node.op in ("conv2d", "depthwise_conv2d"):
                        kh, kw = graph.tensors[node.inputs[1]].shape[1:3]
                        dh, dw = node.attrs.get("dilation", (1, 1))
                    else:
                        (kh, kw), (dh, dw) = node.attrs["kernel"], (1, 1)
                    sh, sw = node.attrs["stride"]
                    pt, pl = node.attrs["pad"][:2]
                    # The span a window kernel slides over: with dilation, rows between taps are read too.
                    span_h, span_w = range((kh - 1) * dh + 1), range((kw - 1) * dw + 1)
                    taps = [(oy * sh - pt + i, ox * sw - pl + j) for i in span_h for j in span_w]
                elif node.op == "pad":
                    taps = [(oy - node.attrs["pads"][1][0], ox - node.attrs["pads"][2][0])]
                else:
                    taps = [(oy, ox)]
                for iy, ix in taps:
                    if 0 <= iy < h and 0 <= ix < w:
                        need[iy, ix] = True
    boxes = {}
    for name, mask in masks.items():
        if mask.any():
            rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
            boxes[name] = Window(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    return boxes


# -- tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size,parts", [(10, 3), (7, 7), (224, 8), (5, 1), (9, 4)])
def test_split_extents_cover_evenly(size: int, parts: int) -> None:
    bounds = split_extents(size, parts)
    assert bounds[0][0] == 0 and bounds[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    lengths = [e - s for s, e in bounds]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


@pytest.mark.parametrize("seed", range(60))
def test_patchwise_execution_matches_layer_by_layer(seed: int) -> None:
    g = random_stage(seed)
    split = g.outputs[0]
    rng = np.random.default_rng(1000 + seed)
    x = small_ints(rng, g.tensors["in"].shape)
    expect = run_float(g, {"in": x})[split]
    _, h, w, _ = g.tensors[split].shape
    grids = {(1, 1), (min(2, h), min(3, w)), (min(h, int(rng.integers(1, 8))), min(w, int(rng.integers(1, 8)))), (h, w)}
    for grid in grids:
        stage = analyze_patches(g, split, grid)
        assert len(stage.patches) == grid[0] * grid[1]
        got = run_patch_stage(g, stage, {"in": x})
        if any(n.op == "avg_pool2d" for n in g.nodes):
            # Averages are not integers, so later sums depend on the summation order (BLAS, CPU).
            assert_close(got, expect, 1e-4, f"grid {grid}\n{g.summary()}")
        else:
            np.testing.assert_array_equal(got, expect, err_msg=f"grid {grid}\n{g.summary()}")


@pytest.mark.parametrize("seed", range(25))
def test_regions_are_exact_bounding_boxes(seed: int) -> None:
    g = random_stage(seed)
    split = g.outputs[0]
    _, h, w, _ = g.tensors[split].shape
    stage = analyze_patches(g, split, (min(3, h), min(2, w)))
    for patch in stage.patches:
        expect = brute_force_regions(g, split, patch.output)
        got = {name: win for name, win in patch.regions.items() if not win.empty}
        assert got == expect, f"patch {patch.index}"


def test_pads_only_at_tensor_borders() -> None:
    b = StageBuilder(np.random.default_rng(0), 9, 9, 1)
    b.conv("conv2d", 3, 2, 1, (1, 1, 1, 1), co=2)  # 9x9 -> 5x5
    b.g.outputs = [b.cur]
    stage = analyze_patches(b.g.verify(), b.cur, (2, 2))  # rows [0,3) and [3,5)
    ops = {p.index: p.ops[0] for p in stage.patches}
    assert ops[(0, 0)].pad == (1, 1, 0, 0) and ops[(0, 0)].inputs[0] == Window(0, 6, 0, 6)
    assert ops[(1, 1)].pad == (0, 0, 1, 1) and ops[(1, 1)].inputs[0] == Window(5, 9, 5, 9)
    assert ops[(0, 1)].pad == (1, 0, 0, 1)


def test_recompute_macs_exceed_layer_macs() -> None:
    b = StageBuilder(np.random.default_rng(1), 16, 16, 3)
    b.conv("conv2d", 3, 1, 1, (1, 1, 1, 1), co=8)
    b.conv("conv2d", 3, 1, 1, (1, 1, 1, 1), co=8)
    b.g.outputs = [b.cur]
    g = b.g.verify()
    assert analyze_patches(g, b.cur, (1, 1)).macs == analyze_patches(g, b.cur, (1, 1)).layer_macs
    stage = analyze_patches(g, b.cur, (4, 4))
    # Second conv: exact; first conv: each interior patch computes a (4+2)x(4+2) region instead of 4x4.
    first = sum(p.regions["t1"].area for p in stage.patches) * 8 * 9 * 3
    assert stage.macs == first + 16 * 16 * 8 * 9 * 8
    assert stage.macs > stage.layer_macs


def test_global_ops_are_not_patchable() -> None:
    g = Graph()
    g.add_tensor(Tensor("in", (1, 4, 4, 2)))
    g.add_tensor(Tensor("m", (1, 1, 1, 2)))
    g.add_node("mean", ["in"], ["m"], axes=(1, 2), keepdims=True)
    g.inputs, g.outputs = ["in"], ["m"]
    with pytest.raises(NotPatchable):
        analyze_patches(g.verify(), "m", (1, 1))


def test_every_split_pixel_written_once() -> None:
    g = random_stage(3)
    split = g.outputs[0]
    _, h, w, _ = g.tensors[split].shape
    for grid in itertools.product(range(1, min(h, 4) + 1), range(1, min(w, 4) + 1)):
        cover = np.zeros((h, w), dtype=int)
        for p in analyze_patches(g, split, grid).patches:
            cover[p.output.h0 : p.output.h1, p.output.w0 : p.output.w1] += 1
        assert (cover == 1).all()


# -- split search ----------------------------------------------------------------------------------


def mobilenet_v2_like(size: int = 64, width: int = 16, dtype: str = "int8", seed: int = 0) -> Graph:
    """Stem conv, inverted residual blocks (expand 1x1, depthwise 3x3, project 1x1, residual), pool, fc."""
    rng = np.random.default_rng(seed)
    g = Graph("mbv2_like")
    g.add_tensor(Tensor("in", (1, size, size, 3), "float32"))
    g.inputs = ["in"]
    counter = itertools.count()

    def tensor(shape) -> str:
        name = f"x{next(counter)}"
        g.add_tensor(Tensor(name, shape, "float32"))
        return name

    def conv(x: str, co: int, k: int, s: int, depthwise: bool = False, act=(0.0, 6.0)) -> str:
        _, h, w, c = g.tensors[x].shape
        p = k // 2
        oh, ow = conv_out_size(h, k, s, 1, p, p), conv_out_size(w, k, s, 1, p, p)
        y = tensor((1, oh, ow, co))
        shape = (1, k, k, c) if depthwise else (co, k, k, c)
        wname = g.add_const(f"w_{y}", (rng.standard_normal(shape) * 0.3).astype(np.float32)).name
        op = "depthwise_conv2d" if depthwise else "conv2d"
        g.add_node(op, [x, wname, ""], [y], stride=(s, s), pad=(p, p, p, p), act=act)
        return y

    x = conv("in", width, 3, 2)
    for co, s, expand in [(width, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (48, 2, 6), (64, 1, 6)]:
        c = g.tensors[x].shape[3]
        h = conv(x, c * expand, 1, 1) if expand > 1 else x
        h = conv(h, c * expand, 3, s, depthwise=True)
        h = conv(h, co, 1, 1, act=None)
        if s == 1 and co == c:
            y = tensor(g.tensors[h].shape)
            g.add_node("add", [x, h], [y])
            h = y
        x = h
    c = g.tensors[x].shape[3]
    pooled = tensor((1, 1, 1, c))
    g.add_node("mean", [x], [pooled], axes=(1, 2), keepdims=True)
    flat = tensor((1, c))
    g.add_node("reshape", [pooled], [flat], shape=(1, c))
    out = tensor((1, 10))
    g.add_const("fc_w", rng.standard_normal((10, c)).astype(np.float32))
    g.add_node("fully_connected", [flat, "fc_w", ""], [out])
    g.outputs = [out]
    g.verify()
    if dtype != "float32":  # same shapes, smaller activations: the planner only looks at bytes
        for t in g.tensors.values():
            if not t.is_const:
                t.dtype = dtype
    return g


def test_split_search_reduces_peak_more_than_2x() -> None:
    from edgec.schedule.split_search import choose_schedule, format_candidates, pareto, search_schedules

    g = mobilenet_v2_like(size=96, width=16)
    candidates = search_schedules(g, alignment=16, stream_rows=False)  # patches against whole-tensor layers
    layer = candidates[0]
    assert not layer.is_patch
    best = min(candidates, key=lambda c: c.peak)
    print()
    print(format_candidates(pareto(candidates)))
    assert layer.peak / best.peak > 2.0
    assert all(c.macs >= layer.macs for c in candidates)
    front = pareto(candidates)
    assert all(a.peak <= b.peak and a.macs > b.macs for a, b in itertools.pairwise(front))
    assert choose_schedule(candidates, layer.peak) is layer
    assert choose_schedule(candidates, None) is best or choose_schedule(candidates, None).peak == best.peak
    budget = (best.peak + layer.peak) // 2
    chosen = choose_schedule(candidates, budget)
    assert chosen.is_patch and chosen.peak <= budget
    assert all(c.macs >= chosen.macs for c in candidates if c.peak <= budget)


def test_choose_schedule_raises_when_nothing_fits() -> None:
    from edgec.errors import BuildError
    from edgec.schedule.split_search import choose_schedule, search_schedules

    candidates = search_schedules(mobilenet_v2_like(size=32, width=8), grids=(2, 4))
    smallest = min(c.peak for c in candidates)
    with pytest.raises(BuildError, match=str(smallest)):
        choose_schedule(candidates, smallest - 1)


def test_falls_back_to_layer_by_layer_without_gain() -> None:
    from edgec.schedule.split_search import choose_schedule, search_schedules

    # A network whose largest tensors come late: patching the prefix cannot lower the peak.
    b = StageBuilder(np.random.default_rng(0), 8, 8, 1)
    b.conv("conv2d", 3, 1, 1, (1, 1, 1, 1), co=2)
    b.conv("conv2d", 3, 1, 1, (1, 1, 1, 1), co=2)
    b.conv("conv2d", 1, 1, 1, (0, 0, 0, 0), co=64)
    b.conv("conv2d", 1, 1, 1, (0, 0, 0, 0), co=64)
    b.conv("conv2d", 1, 1, 1, (0, 0, 0, 0), co=1)
    b.g.outputs = [b.cur]
    candidates = search_schedules(b.g.verify(), max_prefix_fraction=0.5)
    assert len(candidates) > 1
    assert not choose_schedule(candidates, None).is_patch


def simulate_schedule(graph: Graph, cand, x: np.ndarray) -> np.ndarray:
    """Run a patch candidate with every tensor at its planned bytes of one flat arena of ``cand.peak`` bytes."""
    from edgec.schedule.patch import windowed_node

    arena = np.zeros(cand.peak, dtype=np.uint8)
    stage, pplan, rplan = cand.stage, cand.patch_plan, cand.rest_plan

    def view(offset: int, shape, dtype) -> np.ndarray:
        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        assert 0 <= offset and offset + n <= arena.size, "outside the arena"
        return arena[offset : offset + n].view(dtype).reshape(shape)

    split = graph.tensors[stage.split]
    split_buf = view(rplan.offsets[stage.split], split.shape, split.dtype)
    for patch in stage.patches:
        for op in patch.ops:
            node = graph.node(op.node)
            args = []
            for name, win in zip(node.inputs, op.inputs):
                if not name:
                    args.append(None)
                elif win is None:
                    args.append(graph.tensors[name].data)
                elif name == "in":
                    args.append(x[:, win.h0 : win.h1, win.w0 : win.w1, :])
                else:
                    t, reg = graph.tensors[name], patch.regions[name]
                    buf = view(cand.patch_base + pplan.offsets[name], (1, reg.height, reg.width, t.shape[3]), t.dtype)
                    rel = win.relative_to(reg)
                    args.append(buf[:, rel.h0 : rel.h1, rel.w0 : rel.w1, :].copy())
            value = FLOAT_KERNELS[node.op](graph, windowed_node(node, op), args)
            out, t = op.output, graph.tensors[node.outputs[0]]
            if node.outputs[0] == stage.split:
                split_buf[:, out.h0 : out.h1, out.w0 : out.w1, :] = value
            else:
                buf = view(cand.patch_base + pplan.offsets[t.name], (1, out.height, out.width, t.shape[3]), t.dtype)
                buf[...] = value
    env = {}
    rest_nodes = [n for n in graph.nodes if n.name not in set(stage.nodes)]
    for node in rest_nodes:
        args = []
        for name in node.inputs:
            t = graph.tensors[name] if name else None
            args.append(
                None if t is None else t.data if t.is_const else view(rplan.offsets[name], t.shape, t.dtype).copy()
            )
        value = np.asarray(FLOAT_KERNELS[node.op](graph, node, args))
        name = node.outputs[0]
        if name in graph.outputs:
            env[name] = value
        else:
            view(rplan.offsets[name], graph.tensors[name].shape, graph.tensors[name].dtype)[...] = value
    return env[graph.outputs[0]]


def test_patch_schedule_runs_correctly_in_its_arena() -> None:
    """Per-patch buffers, the split tensor and the rest all share one arena of the candidate's peak."""
    from edgec.schedule.split_search import search_schedules

    g = mobilenet_v2_like(size=40, width=8, dtype="float32", seed=3)
    x = np.random.default_rng(0).standard_normal(g.tensors["in"].shape).astype(np.float32)
    expect = run_float(g, {"in": x})[g.outputs[0]]
    # The rest runs op by op on whole tensors here; row-streamed rests: tests/test_row_stream.py.
    candidates = [c for c in search_schedules(g, grids=(2, 3, 5), stream_rows=False) if c.is_patch]
    assert candidates
    for cand in candidates[:: max(1, len(candidates) // 6)]:
        got = simulate_schedule(g, cand, x)
        assert_close(got, expect, 1e-4, cand.describe())


def test_plot_memory_writes_png(tmp_path) -> None:
    from edgec.schedule.arena import plan_arena
    from edgec.schedule.plot import plot_memory, schedule_live_bytes
    from edgec.schedule.split_search import choose_schedule, search_schedules

    g = mobilenet_v2_like(size=64, width=16)
    candidates = search_schedules(g, grids=(2, 4))
    budget = (candidates[0].peak + min(c.peak for c in candidates)) // 2
    chosen = choose_schedule(candidates, budget)
    live = schedule_live_bytes(g, chosen)
    assert len(live) == len(g.nodes) and max(live) <= chosen.peak
    path = plot_memory(g, plan_arena(g), chosen, budget, tmp_path / "memory.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_memory_without_schedule(tmp_path) -> None:
    from edgec.schedule.arena import plan_arena
    from edgec.schedule.plot import plot_memory

    g = mobilenet_v2_like(size=32, width=8)
    assert plot_memory(g, plan_arena(g), None, None, tmp_path / "layer.png").stat().st_size > 0
