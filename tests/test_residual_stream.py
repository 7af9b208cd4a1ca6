"""Streamed residual projections: a 1x1 conv run chunk by chunk straight into the residual add after it.

Planner (``plan_arena(..., stream_residual=True)``): the pattern is found on a
small hand-made graph, the arena shrinks, ``verify_plan`` accepts the plan
and a chunk-by-chunk execution inside the planned arena gives the reference
results; the fusion is refused when the residual is read after the add, when
the conv output has a second reader or when the conv is not pointwise.

End to end (host C): MobileNetV2 w0.35 r96 (TFLite) and the ONNX MobileNetV2
w0.35 r144 layer by layer are bit-exact with the numpy reference on 3 seeded
inputs; a build forced to 4-pixel chunks too.  Their ``--schedule auto``
builds, and MobileNetV2 w1.0 r224's (which must fit its streamed arena), are
checked in tests/test_patch_e2e.py on the builds that module makes anyway
(``test_auto_schedules_stream_mobilenet_v2_residual_projections``,
``test_mobilenet_v2_r224_auto_streamed_arena``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from float_compare import assert_close

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor
from edgec.reference import float_ops, run  # noqa: F401  (float_ops registers the float kernels)
from edgec.reference.interpreter import FLOAT_KERNELS
from edgec.runner import run_host_binary
from edgec.schedule import arena as arena_mod
from edgec.schedule.arena import PlanError, plan_arena, verify_plan
from edgec.tensor_io import to_model_input
from models import zoo

REPO = Path(__file__).resolve().parents[1]
TFLITE_DIR = REPO / "models" / "tflite"

# -- a small residual block ------------------------------------------------------------------------


def _act(g: Graph, name: str, shape) -> str:
    g.add_tensor(Tensor(name, shape))
    return name


def _conv1x1(g: Graph, rng, x: str, y: str, co: int, name: str | None = None) -> None:
    ci = g.tensors[x].shape[3]
    w = g.add_const(g.unique_name(f"{y}_w"), rng.standard_normal((co, 1, 1, ci)).astype(np.float32)).name
    _act(g, y, (*g.tensors[x].shape[:3], co))
    g.add_node("conv2d", [x, w, ""], [y], name=name or f"conv_{y}", stride=(1, 1), pad=(0, 0, 0, 0))


def residual_block(extra_reader: str | None = None) -> Graph:
    """in -> r (1x1) -> e (1x1 expand x4) -> t (1x1 project) -> y = t + r -> out (1x1).

    ``extra_reader``: "residual" reads r again after the add, "conv_output" reads t a second time.
    """
    rng = np.random.default_rng(3)
    g = Graph("residual")
    _act(g, "in", (1, 8, 8, 4))
    g.inputs = ["in"]
    _conv1x1(g, rng, "in", "r", 8)
    _conv1x1(g, rng, "r", "e", 32)
    _conv1x1(g, rng, "e", "t", 8, name="project")
    _act(g, "y", (1, 8, 8, 8))
    g.add_node("add", ["t", "r"], ["y"], name="residual_add")
    last = "y"
    if extra_reader == "residual":
        _act(g, "y2", (1, 8, 8, 8))
        g.add_node("add", ["y", "r"], ["y2"])
        last = "y2"
    elif extra_reader == "conv_output":
        _act(g, "y2", (1, 8, 8, 8))
        g.add_node("add", ["y", "t"], ["y2"])
        last = "y2"
    _conv1x1(g, rng, last, "out", 4)
    g.outputs = ["out"]
    return g.verify()


def run_streamed_in_arena(graph: Graph, plan, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Execute in one flat arena at the planned offsets, streamed pairs chunk by chunk at the conv's place.

    Every chunk reads its operands from the arena right before using them, so a
    plan that lets the chunk buffer or the add's output clobber an input still
    to be read changes the results.
    """
    arena = np.zeros(plan.size, dtype=np.uint8)
    external = dict(feeds)

    def view(name: str) -> np.ndarray:
        t = graph.tensors[name]
        off = plan.offsets[name]
        return arena[off : off + plan.sizes[name]].view(t.dtype)

    def read(name: str) -> np.ndarray:
        t = graph.tensors[name]
        if t.is_const:
            return t.data
        if name in plan.external:
            return external[name]
        return view(name).reshape(t.shape).copy()

    def write(name: str, value: np.ndarray) -> None:
        t = graph.tensors[name]
        value = np.ascontiguousarray(value, dtype=t.dtype).reshape(t.shape)
        if name in plan.external:
            external[name] = value
        else:
            view(name)[:] = value.ravel()

    adds = {a: c for c, a in plan.streamed.items()}
    for node in graph.nodes:
        if node.name in adds:
            continue
        if node.name not in plan.streamed:
            write(node.outputs[0], FLOAT_KERNELS[node.op](graph, node, [read(i) if i else None for i in node.inputs]))
            continue
        add = graph.node(plan.streamed[node.name])
        x, t, y = node.inputs[0], node.outputs[0], add.outputs[0]
        _, h, w, co = graph.tensors[t].shape
        n = plan.stream_pixels[node.name]
        for p in range(0, h * w, n):
            ci = graph.tensors[x].shape[3]
            x_chunk = view(x)[p * ci : (p + n) * ci].reshape(1, 1, n, ci).copy()
            args = [x_chunk] + [read(i) if i else None for i in node.inputs[1:]]
            view(t)[:] = np.asarray(FLOAT_KERNELS["conv2d"](graph, node, args), dtype=np.float32).ravel()
            operands = [view(t).copy() if i == t else view(i)[p * co : (p + n) * co].copy() for i in add.inputs]
            result = FLOAT_KERNELS[add.op](graph, add, [o.reshape(1, 1, n, co) for o in operands])
            view(y)[p * co : (p + n) * co] = np.asarray(result, dtype=np.float32).ravel()
    return {o: read(o) for o in graph.outputs}


def run_float(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    env = {n: t.data for n, t in graph.tensors.items() if t.is_const} | dict(feeds)
    for node in graph.nodes:
        env[node.outputs[0]] = np.asarray(
            FLOAT_KERNELS[node.op](graph, node, [env[i] if i else None for i in node.inputs])
        )
    return {o: env[o] for o in graph.outputs}


# -- planner ---------------------------------------------------------------------------------------


def test_stream_found_lowers_arena_and_runs_correctly() -> None:
    g = residual_block()
    plain = plan_arena(g, alignment=4)
    plan = plan_arena(g, alignment=4, stream_residual=True)
    verify_plan(g, plan)
    assert plan.streamed == {"project": "residual_add"}
    assert plan.offsets["y"] == plan.offsets["r"]
    pixels = plan.stream_pixels["project"]
    assert 64 % pixels == 0 and pixels <= 8
    assert plan.sizes["t"] == pixels * 8 * 4
    # e + r + one chunk of t, instead of e + r + t; the lower bound stays that of the unfused graph
    assert plan.size == 8 * 8 * (32 + 8) * 4 + pixels * 8 * 4 < plain.size == 8 * 8 * (32 + 8 + 8) * 4
    assert plan.lower_bound == plain.lower_bound
    assert plan_arena(g, alignment=4).streamed == {}  # off by default
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 4)).astype(np.float32)
    got, want = run_streamed_in_arena(g, plan, {"in": x})["out"], run_float(g, {"in": x})["out"]
    assert_close(got, want, 1e-4)


@pytest.mark.parametrize("reader", ["residual", "conv_output"])
def test_stream_refused_when_residual_or_conv_output_read_again(reader: str) -> None:
    g = residual_block(extra_reader=reader)
    plan = plan_arena(g, alignment=4, stream_residual=True)
    verify_plan(g, plan)
    assert plan.streamed == {}


def test_stream_refused_for_non_pointwise_conv() -> None:
    g = residual_block()
    project = g.node("project")
    w = g.tensors[project.inputs[1]]
    g.tensors[project.inputs[1]] = Tensor(w.name, (8, 3, 3, 32), data=np.zeros((8, 3, 3, 32), np.float32))
    project.attrs["pad"] = (1, 1, 1, 1)
    plan = plan_arena(g.verify(), alignment=4, stream_residual=True)
    assert plan.streamed == {}


def test_verify_rejects_a_streamed_add_not_over_its_residual() -> None:
    g = residual_block()
    plan = plan_arena(g, alignment=4, stream_residual=True)
    plan.offsets["y"] = plan.offsets["e"]  # y written during the conv over its input
    with pytest.raises(PlanError):
        verify_plan(g, plan)
    plan = plan_arena(g, alignment=4, stream_residual=True)
    plan.stream_pixels["project"] = 64  # the chunk buffer is too small for a whole image
    with pytest.raises(PlanError):
        verify_plan(g, plan)


@pytest.mark.parametrize("seed", range(30))
def test_random_residual_chains_plan_soundly(seed: int) -> None:
    """Chains of residual blocks with random widths: every streamed plan verifies and executes correctly."""
    rng = np.random.default_rng(seed)
    g = Graph("chain")
    hw = int(rng.choice([4, 6, 8]))
    c = int(rng.integers(2, 6))
    _act(g, "in", (1, hw, hw, c))
    g.inputs = ["in"]
    _conv1x1(g, rng, "in", "r0", c)
    cur = "r0"
    for i in range(int(rng.integers(1, 4))):
        _conv1x1(g, rng, cur, f"e{i}", c * int(rng.integers(2, 7)))
        _conv1x1(g, rng, f"e{i}", f"t{i}", c, name=f"project{i}")
        _act(g, f"y{i}", (1, hw, hw, c))
        ins = [f"t{i}", cur] if rng.integers(2) else [cur, f"t{i}"]
        g.add_node(str(rng.choice(["add", "sub"])), ins, [f"y{i}"], name=f"join{i}")
        cur = f"y{i}"
    _conv1x1(g, rng, cur, "out", 2)
    g.outputs = ["out"]
    g.verify()
    plan = plan_arena(g, alignment=int(rng.choice([1, 4, 16])), stream_residual=True, inplace_depthwise=True)
    verify_plan(g, plan)
    assert plan.size <= plan_arena(g, alignment=plan.alignment, inplace_depthwise=True).size
    x = rng.standard_normal((1, hw, hw, c)).astype(np.float32)
    assert_close(run_streamed_in_arena(g, plan, {"in": x})["out"], run_float(g, {"in": x})["out"], 1e-4)


# -- end to end: host C, bit-exact with the reference ----------------------------------------------


CALIBRATION_SAMPLES = 8  # as tests/test_patch_e2e.py


def _float_samples(shape: list[int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(np.float32)


def _onnx_input_shape(path: Path) -> list[int]:
    model = onnx.load(path, load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    (value,) = [v for v in model.graph.input if v.name not in inits]
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def _calibration(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}-calib.npy"
    shape = _onnx_input_shape(zoo.onnx_path(name))
    np.save(path, _float_samples([CALIBRATION_SAMPLES, *shape[1:]], seed=1000))
    return path


def _inputs(build, kind: str, name: str, seeds) -> list[np.ndarray]:
    spec = build.inputs[0]
    xs = []
    for seed in seeds:
        if kind == "onnx":
            xs.append(to_model_input(_float_samples(list(spec.user_shape), seed), spec))
        else:
            xs.append(np.random.default_rng(seed).integers(-128, 128, size=spec.shape, dtype=np.int8))
    return xs


def _build(tmp: Path, kind: str, name: str, schedule: str):
    path = TFLITE_DIR / f"{name}.tflite" if kind == "tflite" else zoo.onnx_path(name)
    calib = _calibration(tmp, name) if kind == "onnx" else None
    out = tmp / f"{kind}-{name}-{schedule}"
    build_model(path, BuildOptions(target="host", out_dir=out, schedule=schedule, calib=calib))
    return load_build(out)


def _assert_bit_exact(build, kind: str, name: str, seeds=(0, 1, 2)) -> None:
    graph = build.graph
    for seed, x in zip(seeds, _inputs(build, kind, name, seeds)):
        got, _ = run_host_binary(build, x)
        expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]].reshape(got.shape)
        diff = np.abs(got.astype(np.int32) - expected.astype(np.int32))
        assert not diff.any(), f"{kind} {name} seed {seed}: {np.count_nonzero(diff)} elements differ"


def _streamed_ops(build) -> list[dict]:
    return [op for op in build.summary["ops"] if "streamed" in op]


E2E = [("tflite", "mobilenet_v2_w0.35_r96"), ("onnx", "mobilenet_v2_w0.35_r144")]


@pytest.mark.parametrize("kind,name", E2E, ids=[f"{k}-{n}" for k, n in E2E])
def test_layer_schedule_builds_are_bit_exact(tmp_path: Path, kind: str, name: str) -> None:
    build = _build(tmp_path, kind, name, "layer")
    streamed = _streamed_ops(build)
    assert len(streamed) % 2 == 0 and len(build.summary["ops"]) == len(build.graph.nodes) - sum(
        n.op in ("reshape", "identity", "dropout") for n in build.graph.nodes
    )
    _assert_bit_exact(build, kind, name)


def test_small_chunks_are_bit_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of fewer pixels than a row (the ``px`` loop) on the r96 model."""
    monkeypatch.setattr(arena_mod, "STREAM_CHUNK_LIMITS", (4,))
    build = _build(tmp_path, "tflite", "mobilenet_v2_w0.35_r96", "auto")
    streamed = _streamed_ops(build)
    assert streamed and all(op["streamed"]["pixels_per_step"] == 4 for op in streamed)
    assert "px += 4" in (build.path / "src" / "model.c").read_text()
    _assert_bit_exact(build, "tflite", "mobilenet_v2_w0.35_r96")
