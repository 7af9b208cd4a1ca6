"""Keras ``UpSampling2D`` (nearest) as the TFLite converter writes it -> the IR's ``resize_nearest``.

Keras 3 implements ``UpSampling2D(size=(kh, kw))`` with ``ops.repeat`` along H, then along W, and
the converter writes each repeat of NHWC axis ``a`` (1 = H, 2 = W) by ``k`` as

    EXPAND_DIMS(x, a + 1) -> TILE(multiples: k at a + 1, 1 elsewhere) -> RESHAPE(x.shape with [a] * k)

(with a dynamic batch the reshape target is computed by ``SHAPE -> STRIDED_SLICE -> CONCATENATION``,
folded before it is read; with a fixed batch the converter writes the EXPAND_DIMS as a RESHAPE and
folds the H repeat's merge and the W repeat's expansion into one RESHAPE).  That is a nearest upsample by an integer factor: element ``i`` along ``a`` copies source
``i // k``.  The IR's ``resize_nearest`` (TFLite ``RESIZE_NEAREST_NEIGHBOR`` without
align_corners/half_pixel_centers) copies source ``floor(i * float32(n / (k n)))``, which is ``i // k``
for the sizes of a real model (checked here for each pattern), and both copy int8 values with the
input's parameters, so the translation is exact in float and int8.  An H repeat feeding only a W
repeat becomes one ``resize_nearest`` to ``(kh H, kw W)``.

Anything else -- another expand axis, multiples on more than one axis, a reshape that does not
merge the repeated axis back, different quantization parameters along the chain, an intermediate
read by another op -- leaves TILE unsupported, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.frontends.tflite.reader import TfliteOperator
from edgec.ir.tensor import Tensor

ACTIVATION_AXES = (1, 2)  # NHWC H and W
SHAPE_READERS = ("SHAPE", "RANK")  # read only the shape of their input


@dataclass
class PendingRepeat:
    """A matched EXPAND_DIMS -> TILE, waiting for the RESHAPE that merges the axis back."""

    source: str  # IR name of the 4-D tensor being repeated
    axis: int  # NHWC axis repeated (1 or 2)
    factor: int
    expand_node: str  # the IR reshape node EXPAND_DIMS became (removed once the pattern completes)


def start_repeat(tr, op: TfliteOperator) -> None:
    """TILE: match the EXPAND_DIMS -> TILE half of the pattern, or report why TILE is unsupported."""
    match = _match_tile(tr, op)
    if isinstance(match, str):
        tr.problems.append(
            f"{tr.describe(op)} is not supported: {match} (edgec reads TILE only as the nearest "
            "upsampling of Keras UpSampling2D: EXPAND_DIMS -> TILE -> RESHAPE repeating H or W by an integer)"
        )
        return
    x_shape = tr.graph.tensors[match.source].shape
    # the file's shape is a placeholder in a dynamic-batch model; the RESHAPE's target is folded from it
    tr.model.tensors[op.outputs[0]].shape = x_shape[: match.axis + 1] + (match.factor,) + x_shape[match.axis + 1 :]
    tr.pending_repeats[op.outputs[0]] = match


def finish_repeat(tr, op: TfliteOperator, target: tuple[int, ...]) -> None:
    """The RESHAPE after a matched TILE: emit ``resize_nearest`` (merged with a preceding repeat).

    With a fixed batch the converter folds the merge and the next repeat's EXPAND_DIMS into this one
    RESHAPE (to the upsampled shape with a unit axis after W): the resize is then followed by that
    expansion, which the next TILE reads as its EXPAND_DIMS.
    """
    rep = tr.pending_repeats.pop(op.inputs[0])
    x = tr.graph.tensors[rep.source]
    repeated = list(x.shape)
    repeated[rep.axis] *= rep.factor
    repeated = tuple(repeated)
    target = tuple(int(d) for d in target)
    expands_again = target != repeated and _inserted_axis(repeated, target) is not None
    problem = None
    if target != repeated and not expands_again:
        problem = f"reshapes the tiled tensor to {list(target)}, not {list(repeated)} (a nearest upsample)"
    elif not _same_params(tr, [tr.tensor(op.inputs[0]), tr.tensor(op.outputs[0])]):
        problem = "changes the quantization parameters of the repeated tensor"
    if problem:
        tr.problems.append(f"{tr.describe(op)} after TILE {problem}")
        return
    tr.graph.nodes = [n for n in tr.graph.nodes if n.name != rep.expand_node]
    source, size = rep.source, (repeated[1], repeated[2])
    earlier = _merge_candidate(tr, source)
    if earlier is not None:  # an H repeat read only by this W repeat (or the reverse): one resize
        tr.graph.nodes.remove(earlier)
        source = earlier.inputs[0]
    if not _is_nearest_repeat(tr.graph.tensors[source].shape[1:3], size):
        tr.problems.append(f"{tr.describe(op)} after TILE repeats by a factor RESIZE_NEAREST_NEIGHBOR cannot copy exactly")
        return
    reshaped = tr.tensor(op.outputs[0])
    # nodes were removed before the new ones, so the translator's per-op shape pass would miss them
    tr.model.tensors[op.outputs[0]].shape = target
    if not expands_again:
        tr.add_node("resize_nearest", op, [source], [reshaped], size=size)
        tr.graph.tensors[reshaped].shape = target
        tr.repeat_outputs[reshaped] = False  # a model tensor: merged only if nothing else reads it
        return
    upsampled = tr.graph.unique_name(f"{reshaped}/upsampled")
    tr.graph.add_tensor(Tensor(upsampled, repeated, x.dtype, None, x.scale, x.zero_point))
    tr.add_node("resize_nearest", op, [source], [upsampled], size=size)
    tr.add_node("reshape", op, [upsampled], [reshaped], shape=target)
    tr.graph.tensors[reshaped].shape = target
    tr.repeat_outputs[upsampled] = True  # read only by the expansion the next TILE consumes


def _match_tile(tr, op: TfliteOperator) -> PendingRepeat | str:
    model = tr.model
    if len(op.inputs) < 2 or model.tensors[op.inputs[1]].data is None:
        return "its multiples are not constant"
    multiples = [int(m) for m in np.asarray(model.tensors[op.inputs[1]].data).reshape(-1)]
    tiled = tr.tensor(op.inputs[0])
    expand = next((n for n in tr.graph.nodes if n.outputs == [tiled]), None)
    if expand is None or expand.op != "reshape":
        return "its input is not an EXPAND_DIMS"
    source = expand.inputs[0]
    x_shape = tr.graph.tensors[source].shape
    axis = _inserted_axis(x_shape, tr.graph.tensors[tiled].shape)
    if axis not in ACTIVATION_AXES:
        return f"its input is not a 4-D NHWC tensor {list(x_shape)} with a unit axis after H or W"
    factor = multiples[axis + 1] if len(multiples) == 5 else 0
    if factor < 1 or any(m != 1 for i, m in enumerate(multiples) if i != axis + 1):
        return f"multiples {multiples} repeat more than the expanded axis {axis + 1}"
    if _readers(tr, op.inputs[0]) != [op.index] or op.inputs[0] in model.outputs:
        return "the expanded tensor is also read by other operators"
    readers = _readers(tr, op.outputs[0])
    if op.outputs[0] in model.outputs or len(readers) != 1 or model.operators[readers[0]].op_name != "RESHAPE":
        return "its output is not read by exactly one RESHAPE"
    if not _same_params(tr, [source, tiled, tr.tensor(op.outputs[0])]):
        return "its input and output quantization parameters differ"
    return PendingRepeat(source, axis, factor, expand.name)


def _inserted_axis(x_shape: tuple[int, ...], expanded: tuple[int, ...]) -> int | None:
    """The NHWC axis ``a`` when ``expanded`` is ``x_shape`` with a 1 inserted after it, else None."""
    if len(x_shape) != 4 or len(expanded) != 5:
        return None
    for a in ACTIVATION_AXES:
        if expanded == x_shape[: a + 1] + (1,) + x_shape[a + 1 :]:
            return a
    return None


def _readers(tr, tensor_index: int) -> list[int]:
    """Indices of the operators reading TFLite tensor ``tensor_index``, except shape-only readers."""
    return [
        o.index
        for o in tr.model.operators
        if tensor_index in o.inputs and o.op_name not in SHAPE_READERS
    ]


def _same_params(tr, names: list[str]) -> bool:
    """Whether IR tensors ``names`` share dtype and quantization parameters."""
    first = tr.graph.tensors[names[0]]
    for name in names[1:]:
        t = tr.graph.tensors[name]
        if t.dtype != first.dtype or (t.scale is None) != (first.scale is None):
            return False
        if t.scale is not None and not (
            np.array_equal(t.scale, first.scale) and np.array_equal(t.zero_point, first.zero_point)
        ):
            return False
    return True


def _merge_candidate(tr, source: str):
    """The ``resize_nearest`` an earlier repeat made ``source`` with, when nothing else reads it."""
    if source not in tr.repeat_outputs:
        return None
    if not tr.repeat_outputs[source]:  # a model tensor: its one reader must be this pattern's EXPAND_DIMS
        index = tr.indices.get(source)
        if index is None or index in tr.model.outputs or len(_readers(tr, index)) != 1:
            return None
    return next((n for n in tr.graph.nodes if n.outputs == [source] and n.op == "resize_nearest"), None)


def _is_nearest_repeat(in_hw: tuple[int, ...], out_hw: tuple[int, int]) -> bool:
    """Whether TFLite's nearest-neighbour source index (float32 scale, floor) is ``i // k`` on each axis."""
    for n, out in zip(in_hw, out_hw):
        if out % n:
            return False
        scale = np.float32(n) / np.float32(out)
        index = np.minimum(np.floor(np.arange(out, dtype=np.float32) * scale).astype(np.int64), n - 1)
        if not np.array_equal(index, np.arange(out) // (out // n)):
            return False
    return True
