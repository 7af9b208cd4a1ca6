"""The mixed-precision numpy reference: the oracle for mixed builds' C code.

``run_mixed(graph8, stage, mixed, feeds)`` computes the split tensor patch by
patch as ``edgec/mixed/plan.py`` defines it: per patch, the shared prefix
(stage ops up to and including the producer of ``mixed.outlier_test.tensor``)
runs on the int8 graph; the patch's region of the test tensor
(``Patch.regions``) is scanned, and a value outside ``[lo, hi]`` makes the
patch an outlier patch; the remaining stage ops then run on the int8 graph
(outlier) or on the mixed graph (``mixed.graph``).  A patch that reads no
window of the test tensor is not an outlier.  The rest of the network runs
layer by layer on the int8 graph.  Sub-byte values are held unpacked in
int8 arrays (packing is storage only, ``edgec/mixed/subbyte.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.graph import Graph, Node
from edgec.mixed.assign import prefix_nodes
from edgec.mixed.plan import MixedPrecision, OutlierTest
from edgec.schedule.patch import Patch, PatchStage, Window, run_windowed_op


def run_nodes(graph: Graph, nodes: list[Node], env: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``nodes`` (in order) on whole tensors with the reference kernels; ``env`` gains their outputs."""
    from edgec.reference.interpreter import FLOAT_KERNELS, INT_KERNELS, _load_kernels, is_integer_node

    _load_kernels()
    for name, t in graph.tensors.items():
        if t.is_const and name not in env:
            env[name] = t.data
    for node in nodes:
        table = INT_KERNELS if is_integer_node(graph, node) else FLOAT_KERNELS
        result = table[node.op](graph, node, [env[i] if i else None for i in node.inputs])
        results = result if isinstance(result, (list, tuple)) else [result]
        for name, value in zip(node.outputs, results):
            t = graph.tensors[name]
            env[name] = np.asarray(value).reshape(t.shape).astype(t.dtype, copy=False)
    return env


@dataclass
class MixedRun:
    outputs: dict[str, np.ndarray]
    outliers: list[bool]  # per patch of the stage, in grid order: True = ran the int8 variant


def is_outlier(values: np.ndarray | None, test: OutlierTest) -> bool:
    return values is not None and values.size > 0 and bool(values.min() < test.lo or values.max() > test.hi)


def _run_patch(
    graph8: Graph, mixed: MixedPrecision, patch: Patch, prefix: set[str], feeds: dict, split: str
) -> tuple[np.ndarray, Window, bool]:
    buffers: dict[str, tuple[np.ndarray, Window]] = {}
    for name, array in feeds.items():
        _, h, w, _ = graph8.tensors[name].shape
        buffers[name] = (np.asarray(array), Window(0, h, 0, w))

    def read(name: str, win: Window) -> np.ndarray:
        array, region = buffers[name]
        rel = win.relative_to(region)
        return array[:, rel.h0 : rel.h1, rel.w0 : rel.w1, :]

    test = mixed.outlier_test
    outlier: bool | None = None
    for op in patch.ops:
        if outlier is None and op.node not in prefix:
            win = patch.regions.get(test.tensor)
            outlier = is_outlier(None if win is None or win.empty else read(test.tensor, win), test)
        graph = graph8 if op.node in prefix or outlier else mixed.graph
        node = graph.node(op.node)
        value = run_windowed_op(graph, node, op, read)
        buffers[node.outputs[0]] = (value.astype(np.int8, copy=False), op.output)
    if outlier is None:  # every stage op is in the prefix: the variants coincide
        outlier = True
    array, region = buffers[split]
    return array, region, outlier


def run_mixed_stage(
    graph8: Graph, stage: PatchStage, mixed: MixedPrecision, feeds: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[bool]]:
    """The split tensor computed patch by patch with VDPC, and each patch's class."""
    prefix = set(prefix_nodes(graph8, stage, mixed.outlier_test.tensor))
    split = graph8.tensors[stage.split]
    result = np.zeros(split.shape, dtype=np.int8)
    outliers = []
    stage_feeds = {name: feeds[name] for name in stage.inputs}
    for patch in stage.patches:
        array, region, outlier = _run_patch(graph8, mixed, patch, prefix, stage_feeds, stage.split)
        outliers.append(outlier)
        out = patch.output.relative_to(region)
        o = patch.output
        result[:, o.h0 : o.h1, o.w0 : o.w1, :] = array[:, out.h0 : out.h1, out.w0 : out.w1, :]
    return result, outliers


def run_mixed_detailed(graph8: Graph, stage: PatchStage, mixed: MixedPrecision, x) -> MixedRun:
    """``run_mixed`` plus the per-patch classification."""
    from edgec.reference.interpreter import _load_kernels

    _load_kernels()  # the stage runs windowed ops before run_nodes would load the kernel tables
    feeds = x if isinstance(x, dict) else {graph8.inputs[0]: np.asarray(x)}
    for name in graph8.inputs:
        t = graph8.tensors[name]
        if name not in feeds:
            raise EdgecError(f"missing input {name!r} of shape {t.shape}")
        if feeds[name].shape != t.shape or str(feeds[name].dtype) != t.dtype:
            raise EdgecError(
                f"input {name!r} must be {t.dtype}{list(t.shape)}, got {feeds[name].dtype}{list(feeds[name].shape)}"
            )
    split, outliers = run_mixed_stage(graph8, stage, mixed, feeds)
    env = {name: np.asarray(v) for name, v in feeds.items()}
    env[stage.split] = split
    in_stage = set(stage.nodes)
    run_nodes(graph8, [n for n in graph8.nodes if n.name not in in_stage], env)
    return MixedRun({o: env[o] for o in graph8.outputs}, outliers)


def run_mixed(graph8: Graph, plan, mixed: MixedPrecision, x) -> dict[str, np.ndarray]:
    """Outputs of a mixed build for input ``x`` (an array for the first input, or a feed dict).

    ``plan`` is the build's ``ModelPlan`` (its ``stage``) or the ``PatchStage`` itself.
    """
    stage = getattr(plan, "stage", plan)
    return run_mixed_detailed(graph8, stage, mixed, x).outputs
