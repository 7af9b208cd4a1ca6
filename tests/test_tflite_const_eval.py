"""Folding of TFLite shape subgraphs and constant ops (edgec/frontends/tflite/const_eval.py).

Small models are assembled from the reader's records, so each case shows
exactly which operators fold and which are left to the converters.  The
expected values are numpy's (and TFLite's documented) semantics, written out.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.frontends.tflite.const_eval import fold
from edgec.frontends.tflite.reader import TfliteModel, TfliteOperator, TfliteTensor
from edgec.frontends.tflite.translate import Translator


class Options:
    """Stands in for a flatbuffer options table: ``Options(Axis=1).Axis() == 1``."""

    def __init__(self, **values):
        self._values = values

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda: self._values.get(name, 0)


class ModelBuilder:
    def __init__(self):
        self.tensors: list[TfliteTensor] = []
        self.operators: list[TfliteOperator] = []

    def tensor(self, shape, type_name="INT32", data=None, signature=None, scale=None) -> int:
        index = len(self.tensors)
        if data is not None:
            data = np.asarray(data)
            shape = data.shape
        zero = None if scale is None else np.zeros(1, np.int64)
        scale = None if scale is None else np.asarray([scale], np.float32)
        self.tensors.append(TfliteTensor(index, f"t{index}", tuple(shape), signature, type_name, data, scale, zero, 0))
        return index

    def op(self, name, inputs, outputs, options=None) -> int:
        self.operators.append(TfliteOperator(len(self.operators), name, None, inputs, outputs, options))
        return outputs[0]

    def model(self, inputs, outputs) -> TfliteModel:
        return TfliteModel(self.tensors, self.operators, inputs, outputs, 1)


def fold_one(name, args, out_type="INT32", options=None):
    """Fold one op over constant ``args``; return the output's data (None: not folded)."""
    b = ModelBuilder()
    inputs = [b.tensor(None, "FLOAT16" if a.dtype == np.float16 else _type(a), a) for a in map(np.asarray, args)]
    out = b.tensor((), out_type)
    b.op(name, inputs, [out], options)
    m = b.model([], [out])
    return m.tensors[out].data if fold(m, m.operators[0]) else None


def _type(a: np.ndarray) -> str:
    return {"int32": "INT32", "int64": "INT64", "float32": "FLOAT32", "int8": "INT8"}[str(a.dtype)]


def i32(*values):
    return np.asarray(values, np.int32)


def test_strided_slice_masks_and_shrink():
    x = np.arange(24, dtype=np.int32).reshape(4, 6)
    got = fold_one("STRIDED_SLICE", [x, i32(1, 5), i32(3, 0), i32(1, -2)], options=Options(EndMask=0b10))
    np.testing.assert_array_equal(got, x[1:3, 5::-2])
    got = fold_one("STRIDED_SLICE", [i32(1, 12, 10, 2), i32(0), i32(1), i32(1)], options=Options(ShrinkAxisMask=1))
    assert got.shape == () and int(got) == 1
    assert fold_one("STRIDED_SLICE", [x, i32(0), i32(1), i32(1)], options=Options(EllipsisMask=1)) is None


def test_integer_arithmetic_follows_tflite():
    a, b = i32(7, -7, 9), i32(2, 2, -4)
    np.testing.assert_array_equal(fold_one("DIV", [a, b]), [3, -3, -2])  # C division truncates
    np.testing.assert_array_equal(fold_one("FLOOR_DIV", [a, b]), [3, -4, -3])
    np.testing.assert_array_equal(fold_one("FLOOR_MOD", [a, b]), [1, 1, -3])
    np.testing.assert_array_equal(fold_one("MUL", [a, i32(3)]), [21, -21, 27])
    assert fold_one("FLOOR_DIV", [a, i32(0, 1, 1)]) is None  # left for the converter to report


def test_pack_unpack_gather_concat_fill_cast_reduce():
    np.testing.assert_array_equal(fold_one("PACK", [i32(1), i32(-1)], options=Options(Axis=0)), [[1], [-1]])
    np.testing.assert_array_equal(fold_one("GATHER", [i32(1, 30, 8), i32(1, 2)], options=Options(Axis=0)), [30, 8])
    np.testing.assert_array_equal(fold_one("CONCATENATION", [i32(1), i32(30, 8)], options=Options(Axis=0)), [1, 30, 8])
    np.testing.assert_array_equal(fold_one("FILL", [i32(2, 3), np.asarray(5, np.int32)]), np.full((2, 3), 5))
    np.testing.assert_array_equal(fold_one("REDUCE_PROD", [i32(30, 8), i32(0)]), 240)
    cast = fold_one("CAST", [np.asarray([1.7, -2.2], np.float32)], out_type="INT32")
    assert cast.dtype == np.int32 and cast.tolist() == [1, -2]
    b = ModelBuilder()
    x = b.tensor(None, data=np.arange(6, dtype=np.int32).reshape(2, 3))
    outs = [b.tensor((), "INT32") for _ in range(3)]
    b.op("UNPACK", [x], outs, Options(Num=3, Axis=1))
    m = b.model([], outs)
    assert fold(m, m.operators[0])
    assert [m.tensors[o].data.tolist() for o in outs] == [[0, 3], [1, 4], [2, 5]]


def test_float16_dequantize_folds_but_int8_stays_quantized():
    w = np.asarray([[0.5, -1.25], [3.0, 0.0999]], np.float16)
    got = fold_one("DEQUANTIZE", [w], out_type="FLOAT32")
    assert got.dtype == np.float32 and np.array_equal(got, w.astype(np.float32))
    b = ModelBuilder()
    q = b.tensor(None, "INT8", np.asarray([1, 2], np.int8), scale=0.5)
    out = b.tensor((2,), "FLOAT32")
    b.op("DEQUANTIZE", [q], [out])
    m = b.model([], [out])
    assert not fold(m, m.operators[0])


def test_quantized_arithmetic_is_not_folded():
    b = ModelBuilder()
    x = b.tensor(None, "INT8", np.asarray([1, 2], np.int8), scale=0.5)
    y = b.tensor(None, "INT8", np.asarray([3, 4], np.int8), scale=0.5)
    out = b.tensor((2,), "INT8", scale=0.25)
    b.op("ADD", [x, y], [out], Options())
    m = b.model([], [out])
    assert not fold(m, m.operators[0])


def keras_flatten(activation_batch: bool) -> TfliteModel:
    """``SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE`` as Keras writes Flatten with a dynamic batch."""
    b = ModelBuilder()
    x = b.tensor((1, 6, 5, 8), "FLOAT32", signature=(-1, 6, 5, 8))
    shape = b.op("SHAPE", [x], [b.tensor((4,))])
    n = b.op(
        "STRIDED_SLICE",
        [shape, b.tensor(None, data=i32(0)), b.tensor(None, data=i32(1)), b.tensor(None, data=i32(1))],
        [b.tensor(())],
        Options(ShrinkAxisMask=1),
    )
    if activation_batch:  # an activation reaches PACK: nothing to fold
        n = b.op("RELU", [b.tensor((1,), "FLOAT32")], [b.tensor((1,), "FLOAT32")])
    spec = b.op("PACK", [n, b.tensor(None, data=np.asarray(240, np.int32))], [b.tensor((2,))], Options(Axis=0))
    y = b.op("RESHAPE", [x, spec], [b.tensor((1, 1), "FLOAT32", signature=(-1, -1))])
    return b.model([x], [y])


def test_keras_flatten_with_dynamic_batch_folds_to_one_reshape():
    tr = Translator(keras_flatten(activation_batch=False), "flatten")
    graph = tr.run()
    assert tr.problems == []
    assert [(n.op, n.attrs["shape"]) for n in graph.nodes] == [("reshape", (1, 240))]
    assert graph.tensors[graph.outputs[0]].shape == (1, 240)
    assert graph.meta["batch"] == {"dynamic": True, "built_for": 1}


def test_only_what_is_not_constant_is_reported():
    tr = Translator(keras_flatten(activation_batch=True), "flatten")
    tr.run()
    assert len(tr.problems) == 2, tr.problems
    assert "PACK" in tr.problems[0] and "not supported" in tr.problems[0]
    assert "RESHAPE" in tr.problems[1] and "not constant" in tr.problems[1]
    assert not any(p.startswith(("operator 0 ", "operator 1 ")) for p in tr.problems)  # SHAPE, STRIDED_SLICE folded


@pytest.mark.parametrize("given, needle", [({"t0": (1, 6, 5)}, "rank"), ({"t0": (1, 6, 4, 8)}, "contradicts")])
def test_input_shape_is_validated(given, needle):
    from edgec.errors import EdgecError

    with pytest.raises(EdgecError, match=needle):
        Translator(keras_flatten(activation_batch=False), "flatten", input_shapes=given).run()


def test_input_shape_resolution_rules():
    from edgec.errors import EdgecError
    from edgec.frontends.input_shapes import parse_input_shapes, resolve_input_shape

    assert parse_input_shapes(["a:0=1x49x10x1", "b=3"]) == {"a:0": (1, 49, 10, 1), "b": (3,)}
    assert resolve_input_shape("x", [None, 8], {}) == ((1, 8), True)
    assert resolve_input_shape("x", [1, 8], {}) == ((1, 8), False)
    assert resolve_input_shape("x", [None, None, 10], {"x": (1, 49, 10)}) == ((1, 49, 10), True)
    with pytest.raises(EdgecError, match="--input-shape v=N "):
        resolve_input_shape("v", [None], {})  # a vector's length is not a batch
    with pytest.raises(EdgecError, match="builds for batch 1"):
        resolve_input_shape("x", [None, None, 10], {"x": (2, 49, 10)})
    with pytest.raises(EdgecError, match="two shapes"):
        parse_input_shapes(["a=1x2", "a=1x3"])


def test_slice_range_and_reshapes_of_constants():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    np.testing.assert_array_equal(fold_one("SLICE", [x, i32(0, 1, 1), i32(-1, 2, 2)]), x[:, 1:3, 1:3])
    np.testing.assert_array_equal(fold_one("RANGE", [np.int32(2), np.int32(11), np.int32(3)]), [2, 5, 8])
    np.testing.assert_array_equal(fold_one("TRANSPOSE", [x, i32(2, 0, 1)]), x.transpose(2, 0, 1))
    assert fold_one("RESHAPE", [x, i32(4, -1)]).shape == (4, 6)
    assert fold_one("EXPAND_DIMS", [i32(1, 2), i32(-1)]).shape == (2, 1)
    assert fold_one("SQUEEZE", [x[:1, :, :1]], options=Options(SqueezeDimsLength=2, SqueezeDimsAsNumpy=(0, 2))).shape == (3,)
    np.testing.assert_array_equal(fold_one("MAXIMUM", [i32(1, 5), i32(3, 2)]), [3, 5])
