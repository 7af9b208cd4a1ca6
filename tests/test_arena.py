"""Arena planner: overlap-free plans, aliases, in-place, alignment, lower bound (brute force)."""

from __future__ import annotations

import numpy as np
import pytest
from float_compare import assert_close, range_error

from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor
from edgec.reference import float_ops  # registers the float kernels; used by the layout test
from edgec.reference.interpreter import FLOAT_KERNELS
from edgec.schedule.arena import PlanError, _depthwise_inplace_ok, plan_arena, verify_plan

# -- helpers ---------------------------------------------------------------------------------------


def run_float(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    env = {n: t.data for n, t in graph.tensors.items() if t.is_const} | dict(feeds)
    for node in graph.nodes:
        env[node.outputs[0]] = np.asarray(
            FLOAT_KERNELS[node.op](graph, node, [env[i] if i else None for i in node.inputs])
        )
    return env


def simulate_in_arena(graph: Graph, plan, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Execute node by node with every arena tensor stored at its planned bytes of one flat arena.

    A plan that lets a live tensor be overwritten makes a later read return the
    wrong values, so the outputs differ from the plain reference run.
    """
    arena = np.zeros(plan.size, dtype=np.uint8)
    external = dict(feeds)

    def read(name: str) -> np.ndarray:
        t = graph.tensors[name]
        if t.is_const:
            return t.data
        if name in plan.external:
            return (
                external[plan.aliases.get(name, name)] if plan.aliases.get(name, name) in external else external[name]
            )
        off = plan.offsets[name]
        return arena[off : off + t.nbytes].view(t.dtype).reshape(t.shape).copy()

    def write(name: str, value: np.ndarray) -> None:
        t = graph.tensors[name]
        value = np.ascontiguousarray(value, dtype=t.dtype).reshape(t.shape)
        if name in plan.external:
            external[plan.aliases.get(name, name)] = value
            external[name] = value
            return
        off = plan.offsets[name]
        arena[off : off + t.nbytes] = value.view(np.uint8).ravel()

    for node in graph.nodes:
        args = [read(i) if i else None for i in node.inputs]
        write(node.outputs[0], FLOAT_KERNELS[node.op](graph, node, args))
    return {o: read(o) for o in graph.outputs}


def brute_force_lower_bound(graph: Graph) -> int:
    """Max over ops of the bytes of distinct non-external buffers live there (aliases joined by union-find)."""
    external = set(graph.inputs) | set(graph.outputs)
    parent = {}

    def find(x):
        while x in parent:
            x = parent[x]
        return x

    for node in graph.nodes:
        if node.op in ("reshape", "identity", "dropout"):
            a, b = find(node.inputs[0]), find(node.outputs[0])
            if a != b and not (a in external and b in external):
                if b in external:
                    parent[a] = b
                else:
                    parent[b] = a
    best = 0
    for step in range(len(graph.nodes)):
        live = set()
        for name, t in graph.tensors.items():
            if t.is_const:
                continue
            writes = [i for i, n in enumerate(graph.nodes) if name in n.outputs]
            reads = [i for i, n in enumerate(graph.nodes) if name in n.inputs]
            if not writes and not reads:
                continue
            lo = writes[0] if writes else 0
            hi = max(reads + [lo])
            if lo <= step <= hi and find(name) not in external:
                live.add(find(name))
        best = max(best, sum(graph.tensors[r].nbytes for r in live))
    return best


def act(g: Graph, name: str, shape) -> str:
    g.add_tensor(Tensor(name, shape))
    return name


def conv(g: Graph, rng, x: str, y: str, co: int, k: int = 3, stride: int = 1) -> None:
    ci = g.tensors[x].shape[3]
    w = g.add_const(g.unique_name(f"{y}_w"), rng.standard_normal((co, k, k, ci)).astype(np.float32)).name
    p = k // 2
    _, h, wd, _ = g.tensors[x].shape
    oh, ow = (h + 2 * p - k) // stride + 1, (wd + 2 * p - k) // stride + 1
    act(g, y, (1, oh, ow, co))
    g.add_node("conv2d", [x, w, ""], [y], stride=(stride, stride), pad=(p, p, p, p))


def random_graph(rng: np.random.Generator, num_nodes: int) -> Graph:
    g = Graph("random")
    act(g, "in", (1, 6, 6, 4))
    g.inputs = ["in"]
    avail = ["in"]
    for i in range(num_nodes):
        x = avail[int(rng.integers(len(avail)))]
        shape = g.tensors[x].shape
        y = f"t{i}"
        kind = rng.choice(["conv", "relu", "add", "reshape", "dw", "pool", "concat"])
        same = [a for a in avail if g.tensors[a].shape == shape and a != x]
        if kind == "conv":
            conv(g, rng, x, y, int(rng.integers(1, 9)), k=int(rng.choice([1, 3])))
        elif kind == "relu":
            act(g, y, shape)
            g.add_node("relu", [x], [y])
        elif kind == "add" and same:
            act(g, y, shape)
            g.add_node("add", [x, same[int(rng.integers(len(same)))]], [y])
        elif kind == "reshape" and len(shape) == 4:
            new = (1, shape[2], shape[1], shape[3])
            act(g, y, new)
            g.add_node("reshape", [x], [y], shape=new)
        elif kind == "dw":
            w = g.add_const(f"{y}_w", rng.standard_normal((1, 3, 3, shape[3])).astype(np.float32)).name
            s = int(rng.choice([1, 2]))
            oh, ow = (shape[1] + 2 - 3) // s + 1, (shape[2] + 2 - 3) // s + 1
            act(g, y, (1, oh, ow, shape[3]))
            g.add_node("depthwise_conv2d", [x, w, ""], [y], stride=(s, s), pad=(1, 1, 1, 1))
        elif kind == "concat" and same:
            other = same[int(rng.integers(len(same)))]
            act(g, y, (*shape[:3], shape[3] * 2))
            g.add_node("concat", [x, other], [y], axis=3)
        else:
            act(g, y, (1, shape[1], shape[2], shape[3]))
            g.add_node("max_pool2d", [x], [y], kernel=(3, 3), stride=(1, 1), pad=(1, 1, 1, 1))
        avail.append(y)
    consumed = {i for n in g.nodes for i in n.inputs}
    g.outputs = [t for t in avail if t not in consumed and t != "in"][-2:] or [avail[-1]]
    # Dead ends that are not outputs still get planned (they are written, never read).
    return g.verify()


# -- tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("depthwise", [False, True])
def test_random_graphs_overlap_free_and_execute_correctly(seed: int, depthwise: bool) -> None:
    rng = np.random.default_rng(seed)
    g = random_graph(rng, int(rng.integers(3, 14)))
    plan = plan_arena(g, alignment=8, inplace_depthwise=depthwise)
    verify_plan(g, plan)
    assert plan.lower_bound == brute_force_lower_bound(g)
    if not plan.inplace and not plan.inplace_depthwise:
        assert plan.size >= plan.lower_bound
    assert all(off % 8 == 0 for off in plan.offsets.values())
    x = rng.standard_normal(g.tensors["in"].shape).astype(np.float32)
    expect = run_float(g, {"in": x})
    got = simulate_in_arena(g, plan, {"in": x})
    for name in g.outputs:
        assert_close(got[name], expect[name], 1e-4, name)


def test_verify_catches_overlap() -> None:
    rng = np.random.default_rng(0)
    g = Graph()
    act(g, "in", (1, 4, 4, 2))
    g.inputs = ["in"]
    conv(g, rng, "in", "a", 4)
    conv(g, rng, "a", "b", 4)
    conv(g, rng, "b", "c", 4)
    conv(g, rng, "c", "out", 2)
    g.outputs = ["out"]
    plan = plan_arena(g)
    verify_plan(g, plan)
    plan.offsets["b"] = plan.offsets["a"]
    with pytest.raises(PlanError):
        verify_plan(g, plan)


def test_alias_shares_offset_and_counts_once() -> None:
    rng = np.random.default_rng(1)
    g = Graph()
    act(g, "in", (1, 4, 4, 2))
    g.inputs = ["in"]
    conv(g, rng, "in", "a", 8)
    act(g, "a2", (1, 8, 2, 8))
    g.add_node("reshape", ["a"], ["a2"], shape=(1, 8, 2, 8))
    conv(g, rng, "a2", "out", 2, k=1)
    g.outputs = ["out"]
    plan = plan_arena(g.verify())
    verify_plan(g, plan)
    assert plan.aliases == {"a2": "a"}
    assert plan.offsets["a2"] == plan.offsets["a"]
    assert plan.lower_bound == 4 * 4 * 8 * 4  # one buffer, not two
    assert plan.size == plan.lower_bound


def test_reshape_of_graph_input_aliases_caller_buffer() -> None:
    g = Graph()
    act(g, "in", (1, 4, 4, 2))
    g.inputs = ["in"]
    act(g, "flat", (1, 32))
    g.add_node("reshape", ["in"], ["flat"], shape=(1, 32))
    act(g, "out", (1, 32))
    g.add_node("relu", ["flat"], ["out"])
    g.outputs = ["out"]
    plan = plan_arena(g.verify())
    assert plan.size == 0 and "flat" in plan.external and plan.aliases["flat"] == "in"


def _relu_peak_graph() -> Graph:
    """in -> conv(big a) -> relu(big b) -> conv(small out): the peak is a + b at the relu."""
    rng = np.random.default_rng(2)
    g = Graph()
    act(g, "in", (1, 8, 8, 1))
    g.inputs = ["in"]
    conv(g, rng, "in", "a", 16)
    act(g, "b", (1, 8, 8, 16))
    g.add_node("relu", ["a"], ["b"])
    conv(g, rng, "b", "out", 1)
    g.outputs = ["out"]
    return g.verify()


def test_inplace_elementwise_chosen_when_it_lowers_peak() -> None:
    g = _relu_peak_graph()
    big = 8 * 8 * 16 * 4
    plan = plan_arena(g)
    verify_plan(g, plan)
    assert plan.inplace == {"relu_1": "a"}
    assert plan.offsets["a"] == plan.offsets["b"]
    assert plan.size == big and plan.lower_bound == 2 * big
    no_inplace = plan_arena(g, inplace=False)
    assert no_inplace.inplace == {} and no_inplace.size == 2 * big


def test_inplace_refused_when_input_read_later() -> None:
    g = _relu_peak_graph()
    # Make "a" live past the relu: out = conv(b) + ... read a again with an add.
    g.outputs = []
    g.nodes.pop()
    g.tensors.pop("out")
    act(g, "s", (1, 8, 8, 16))
    g.add_node("add", ["a", "b"], ["s"])
    g.outputs = ["s"]
    plan = plan_arena(g.verify())
    verify_plan(g, plan)
    assert "relu_1" not in plan.inplace


@pytest.mark.parametrize("alignment", [1, 4, 16, 64])
def test_alignment_respected(alignment: int) -> None:
    rng = np.random.default_rng(3)
    g = Graph()
    act(g, "in", (1, 3, 3, 1))
    g.inputs = ["in"]
    prev = "in"
    for i, co in enumerate([3, 5, 7, 1, 9]):
        conv(g, rng, prev, f"t{i}", co)
        prev = f"t{i}"
    g.outputs = [prev]
    plan = plan_arena(g.verify(), alignment=alignment)
    verify_plan(g, plan)
    assert all(off % alignment == 0 for off in plan.offsets.values())


def test_greedy_fills_gaps() -> None:
    """A small tensor with a disjoint lifetime reuses the space of a big one."""
    rng = np.random.default_rng(4)
    g = Graph()
    act(g, "in", (1, 8, 8, 1))
    g.inputs = ["in"]
    conv(g, rng, "in", "big", 32)
    conv(g, rng, "big", "mid", 16)
    conv(g, rng, "mid", "small", 2)
    conv(g, rng, "small", "out", 1)
    g.outputs = ["out"]
    plan = plan_arena(g.verify())
    verify_plan(g, plan)
    assert plan.size == plan.lower_bound == (32 + 16) * 64 * 4


def _dw_graph(stride: int, pad=(1, 1, 1, 1)) -> Graph:
    rng = np.random.default_rng(5)
    g = Graph()
    act(g, "in", (1, 7, 9, 2))
    g.inputs = ["in"]
    conv(g, rng, "in", "a", 12, k=1)
    w = g.add_const("dw_w", rng.standard_normal((1, 3, 3, 12)).astype(np.float32)).name
    oh, ow = (7 + pad[0] + pad[2] - 3) // stride + 1, (9 + pad[1] + pad[3] - 3) // stride + 1
    act(g, "b", (1, oh, ow, 12))
    g.add_node("depthwise_conv2d", ["a", w, ""], ["b"], name="dw", stride=(stride, stride), pad=pad)
    conv(g, rng, "b", "out", 1, k=1)
    g.outputs = ["out"]
    return g.verify()


@pytest.mark.parametrize("stride", [1, 2])
def test_inplace_depthwise_recorded_with_scratch(stride: int) -> None:
    g = _dw_graph(stride)
    plan = plan_arena(g, inplace_depthwise=True, alignment=4)
    verify_plan(g, plan)
    assert plan.inplace_depthwise == {"dw": 3 * (9 + 2) * 4}  # a ring of KH = 3 padded rows, float32
    assert plan.offsets["a"] == plan.offsets["b"]
    assert plan.size < plan_arena(g, inplace_depthwise=False, alignment=4).size
    x = np.random.default_rng(6).standard_normal((1, 7, 9, 2)).astype(np.float32)
    assert_close(simulate_in_arena(g, plan, {"in": x})["out"], run_float(g, {"in": x})["out"], 1e-4)


def inplace_depthwise_channel_by_channel(buf: np.ndarray, shape, w: np.ndarray, stride, pad, dilation=1) -> None:
    """The documented in-place algorithm on a flat NHWC buffer, without its legality check: per channel
    and output row, gather the input rows tapped for the first time into a ring of padded rows, then
    write output row oy of channel c back over the buffer."""
    _, h, wd, c = shape
    top, left, bottom, right = pad
    kh, kw = w.shape[1:3]
    oh = (h + top + bottom - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + left + right - dilation * (kw - 1) - 1) // stride + 1
    ring_rows = (kh - 1) * dilation + 1
    ring = np.zeros((ring_rows, wd + left + right), dtype=buf.dtype)
    for ch in range(c):
        copied: set[int] = set()
        for oy in range(oh):
            rows = [oy * stride + k * dilation for k in range(kh)]
            for r in rows:
                if r not in copied:
                    copied.add(r)
                    iy = r - top
                    inside = 0 <= iy < h
                    ring[r % ring_rows, left : left + wd] = (
                        buf[iy * wd * c + ch : (iy + 1) * wd * c : c] if inside else 0
                    )
            for ox in range(ow):
                win = np.stack(
                    [ring[r % ring_rows, ox * stride : ox * stride + (kw - 1) * dilation + 1 : dilation] for r in rows]
                )
                buf[(oy * ow + ox) * c + ch] = np.sum(win * w[0, :, :, ch])


@pytest.mark.parametrize(
    "stride,pad,dilation",
    [
        (1, (1, 1, 1, 1), 1),
        (2, (1, 1, 1, 1), 1),
        (2, (0, 1, 1, 0), 1),
        (1, (0, 0, 0, 0), 1),
        (1, (2, 2, 2, 2), 2),
        (2, (2, 2, 2, 2), 2),
        (1, (2, 0, 0, 0), 1),
    ],
)
def test_inplace_depthwise_layout_argument(stride: int, pad, dilation: int) -> None:
    """Channel c of the output only overwrites channel c of the input, and no row is overwritten before
    its first use, so a ring of (KH-1)*dilation+1 padded rows suffices."""
    rng = np.random.default_rng(7)
    shape = (1, 7, 9, 5)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((1, 3, 3, 5)).astype(np.float32)
    buf = x.ravel().copy()
    inplace_depthwise_channel_by_channel(buf, shape, w, stride, pad, dilation)
    ref = float_ops.depthwise_conv2d_nhwc(x, w, None, (stride, stride), (dilation, dilation), pad)
    assert_close(buf[: ref.size].reshape(ref.shape), ref, 1e-5)


def _dw_node_graph(shape, k: int, stride: int, pad, dilation: int = 1) -> tuple[Graph, str]:
    g = Graph()
    act(g, "x", shape)
    _, h, wd, c = shape
    oh = (h + pad[0] + pad[2] - dilation * (k - 1) - 1) // stride + 1
    ow = (wd + pad[1] + pad[3] - dilation * (k - 1) - 1) // stride + 1
    act(g, "y", (1, oh, ow, c))
    g.add_const("w", np.ones((1, k, k, c), dtype=np.float32))
    node = g.add_node(
        "depthwise_conv2d",
        ["x", "w", ""],
        ["y"],
        name="dw",
        stride=(stride, stride),
        dilation=(dilation, dilation),
        pad=pad,
    )
    return g, node


@pytest.mark.parametrize(
    "shape,stride,pad,dilation",
    [
        ((1, 8, 8, 3), 1, (3, 0, 0, 0), 1),  # output row 0 is all padding and clobbers input row 0
        ((1, 9, 9, 3), 1, (1, 1, 1, 1), 2),  # row 0 first tapped by output row 1, after row 0 is written
    ],
)
def test_inplace_depthwise_refused_when_a_row_is_clobbered(shape, stride, pad, dilation) -> None:
    """Where an input row would be overwritten before its first use, the planner refuses in-place, and
    running the ring anyway gives a wrong result: the row condition is needed."""
    g, node = _dw_node_graph(shape, 3, stride, pad, dilation)
    oh, ow = g.tensors["y"].shape[1:3]
    assert oh * ow <= shape[1] * shape[2]  # the old conditions alone would allow it
    assert not _depthwise_inplace_ok(g, node)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((1, 3, 3, shape[3])).astype(np.float32)
    buf = x.ravel().copy()
    inplace_depthwise_channel_by_channel(buf, shape, w, stride, pad, dilation)
    ref = float_ops.depthwise_conv2d_nhwc(x, w, None, (stride, stride), (dilation, dilation), pad)
    assert range_error(buf[: ref.size].reshape(ref.shape), ref) > 1e-2


@pytest.mark.parametrize("pad,expected", [((3, 0, 0, 0), {}), ((1, 1, 1, 1), {"dw": 3 * (8 + 2) * 4})])
def test_inplace_depthwise_planner_skips_clobbering_layer(pad, expected) -> None:
    g, _ = _dw_node_graph((1, 8, 8, 3), 3, 1, pad)
    g.inputs, g.outputs = ["x"], ["y"]
    plan = plan_arena(g, inplace_depthwise=True, external=set(), alignment=4)
    assert plan.inplace_depthwise == expected
    verify_plan(g, plan)


# -- bundled models --------------------------------------------------------------------------------


def _bundled_graph(name: str) -> Graph:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    zoo = pytest.importorskip("models.zoo")
    frontends = pytest.importorskip("edgec.frontends")
    passes = pytest.importorskip("edgec.passes")
    return passes.optimize(frontends.load_model(zoo.onnx_path(name)))


def _bundled_names() -> list[str]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        from models.zoo import list_models
    except ImportError:
        return []
    return list_models()


def as_int8_activations(graph: Graph) -> Graph:
    """The same graph with 1-byte activations: what the planner sees for an int8 model."""
    g = graph.copy()
    for t in g.tensors.values():
        if not t.is_const:
            t.dtype = "int8"
    return g


@pytest.mark.parametrize("name", _bundled_names())
def test_bundled_models_arena_within_5_percent_of_lower_bound(name: str) -> None:
    graph = _bundled_graph(name)
    rows = []
    for kind, g in (("float32", graph), ("int8", as_int8_activations(graph))):
        plan = plan_arena(g, alignment=16)
        verify_plan(g, plan)
        if len(g.nodes) <= 40:  # the brute force is quadratic
            assert plan.lower_bound == brute_force_lower_bound(g)
        assert plan.size <= 1.05 * plan.lower_bound, plan.summary()
        rows.append(f"{name:<26} {kind:<8} {plan.size:>10} {plan.lower_bound:>10} {plan.size / plan.lower_bound:>6.3f}")
    print("\n" + "\n".join(rows))


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_with_streamed_residuals_verify(seed: int) -> None:
    """``stream_residual`` never breaks a plan (random graphs have 1x1 convs feeding same-shape adds)."""
    rng = np.random.default_rng(seed)
    g = random_graph(rng, int(rng.integers(3, 14)))
    plain = plan_arena(g, alignment=8, inplace_depthwise=True)
    plan = plan_arena(g, alignment=8, inplace_depthwise=True, stream_residual=True)
    verify_plan(g, plan)
    assert plan.size <= plain.size and plan.lower_bound == plain.lower_bound
    assert (plan.size < plain.size) == bool(plan.streamed)
    for conv_node, add_node in plan.streamed.items():
        t = g.node(conv_node).outputs[0]
        assert t in g.node(add_node).inputs and plan.sizes[t] < g.tensors[t].nbytes


@pytest.mark.parametrize("name", _bundled_names())
def test_bundled_models_streamed_residual_plans_verify(name: str) -> None:
    g = as_int8_activations(_bundled_graph(name))
    plain = plan_arena(g, alignment=16, inplace_depthwise=True)
    plan = plan_arena(g, alignment=16, inplace_depthwise=True, stream_residual=True)
    verify_plan(g, plan)
    assert plan.size <= plain.size and plan.lower_bound == plain.lower_bound
