"""``reduce_init.apply_inits``: a reduction that starts from a tensor keeps its start in the PrimFunc."""

from __future__ import annotations

import numpy as np
import pytest

tvm = pytest.importorskip("tvm", reason="TVM is not installed (pip install edgec[tvm])")
from tvm import te

from edgec.codegen.tvm.reduce_init import apply_inits, reduction_inits


def _sum_from_bias():
    a = te.placeholder((3, 4, 16), "int32", name="a")
    bias = te.placeholder((16,), "int32", name="bias")
    r = te.reduce_axis((0, 4), "r")
    acc = te.compute((3, 16), lambda y, o: te.sum(a[y, r, o], axis=[r], init=bias[o]), name="acc")
    out = te.compute((3, 16), lambda y, o: acc[y, o] * 2, name="out")
    return [a, bias, out], out


def _run(func, *arrays):
    lib = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    args = [tvm.runtime.tensor(x) for x in arrays] + [tvm.runtime.empty((3, 16), "int32")]
    lib["main"](*args)
    return args[-1].numpy()


def test_reduction_starts_from_its_init_tensor():
    tensors, out = _sum_from_bias()
    assert list(reduction_inits(out)) == ["acc"]
    rng = np.random.default_rng(0)
    a = rng.integers(-1000, 1000, (3, 4, 16), dtype=np.int32)
    bias = rng.integers(-(2**31), 2**31 - 1, 16, dtype=np.int64).astype(np.int32)
    expected = ((a.astype(np.int64).sum(axis=1) + bias) * 2).astype(np.int32)  # int32 wrap-around, as C
    fixed = apply_inits(te.create_prim_func(tensors), tensors, out)
    assert np.array_equal(_run(fixed, a, bias), expected)
    # without it TVM starts the sum from 0: the test can fail
    assert not np.array_equal(_run(te.create_prim_func(tensors), a, bias), expected)


def test_no_init_leaves_the_function_alone():
    a = te.placeholder((4, 16), "int32", name="a")
    r = te.reduce_axis((0, 4), "r")
    out = te.compute((16,), lambda o: te.sum(a[r, o], axis=[r]), name="acc")
    func = te.create_prim_func([a, out])
    assert apply_inits(func, [a, out], out).same_as(func)
