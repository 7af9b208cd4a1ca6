"""Tests for edgec.calibration.load_calibration: formats, layouts and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgec.calibration import load_calibration, samples_from_arrays
from edgec.errors import EdgecError
from edgec.ir.graph import Graph
from edgec.ir.tensor import Tensor


def image_graph(shape=(1, 4, 5, 3), layout: str | None = "NCHW") -> Graph:
    g = Graph("img")
    g.add_tensor(Tensor("x", shape))
    g.add_tensor(Tensor("y", shape))
    g.add_node("relu", ["x"], ["y"])
    g.inputs, g.outputs = ["x"], ["y"]
    if layout:
        g.meta["layouts"] = {"x": layout}
    return g


def two_input_graph() -> Graph:
    g = Graph("two")
    g.add_tensor(Tensor("a", (1, 3)))
    g.add_tensor(Tensor("b", (1, 3)))
    g.add_tensor(Tensor("y", (1, 3)))
    g.add_node("add", ["a", "b"], ["y"])
    g.inputs, g.outputs = ["a", "b"], ["y"]
    return g


def test_npy_nchw_stack_is_transposed_to_nhwc(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(6, 3, 4, 5)).astype(np.float32)
    np.save(tmp_path / "c.npy", data)
    samples = load_calibration(tmp_path / "c.npy", image_graph())
    assert len(samples) == 6
    assert samples[2]["x"].shape == (1, 4, 5, 3)
    np.testing.assert_array_equal(samples[2]["x"][0], data[2].transpose(1, 2, 0))


def test_npy_nhwc_stack_accepted_as_is(tmp_path: Path) -> None:
    data = np.random.default_rng(1).normal(size=(4, 4, 5, 3)).astype(np.float64)
    np.save(tmp_path / "c.npy", data)
    samples = load_calibration(tmp_path / "c.npy", image_graph())
    assert len(samples) == 4 and samples[0]["x"].dtype == np.float32
    np.testing.assert_allclose(samples[3]["x"][0], data[3], rtol=1e-6)


def test_npy_single_sample_with_and_without_batch(tmp_path: Path) -> None:
    one = np.ones((1, 3, 4, 5), np.float32)
    np.save(tmp_path / "one.npy", one)
    assert len(load_calibration(tmp_path / "one.npy", image_graph())) == 1
    np.save(tmp_path / "nobatch.npy", np.ones((4, 5, 3), np.float32))
    assert len(load_calibration(tmp_path / "nobatch.npy", image_graph())) == 1


def test_npz_named_arrays_for_each_input(tmp_path: Path) -> None:
    a = np.arange(15, dtype=np.float32).reshape(5, 3)
    np.savez(tmp_path / "c.npz", a=a, b=-a)
    samples = load_calibration(tmp_path / "c.npz", two_input_graph())
    assert len(samples) == 5
    np.testing.assert_array_equal(samples[1]["a"], a[1:2])
    np.testing.assert_array_equal(samples[1]["b"], -a[1:2])


def test_npz_single_array_any_name(tmp_path: Path) -> None:
    np.savez(tmp_path / "c.npz", whatever=np.zeros((3, 3, 4, 5), np.float32))
    assert len(load_calibration(tmp_path / "c.npz", image_graph())) == 3


def test_npz_wrong_names_error_lists_expected(tmp_path: Path) -> None:
    np.savez(tmp_path / "c.npz", a=np.zeros((2, 3), np.float32), c=np.zeros((2, 3), np.float32))
    with pytest.raises(EdgecError, match=r"expected \['a', 'b'\], got \['a', 'c'\]"):
        load_calibration(tmp_path / "c.npz", two_input_graph())


def test_npz_unequal_counts_error(tmp_path: Path) -> None:
    np.savez(tmp_path / "c.npz", a=np.zeros((2, 3), np.float32), b=np.zeros((3, 3), np.float32))
    with pytest.raises(EdgecError, match="different sample counts"):
        load_calibration(tmp_path / "c.npz", two_input_graph())


def test_missing_file_error(tmp_path: Path) -> None:
    with pytest.raises(EdgecError, match="not found"):
        load_calibration(tmp_path / "nope.npz", image_graph())


def test_wrong_shape_error_names_expected_and_got(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(EdgecError) as err:
        load_calibration(tmp_path / "c.npy", image_graph())
    msg = str(err.value)
    assert "[2, 3, 4, 4]" in msg and "[N, 3, 4, 5]" in msg and "[N, 4, 5, 3]" in msg
    assert "\n" not in msg


def test_wrong_dtype_error(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(EdgecError, match="must be floating point, got uint8"):
        load_calibration(tmp_path / "c.npy", image_graph())


def test_nan_error(tmp_path: Path) -> None:
    data = np.zeros((2, 3, 4, 5), np.float32)
    data[1, 0, 0, 0] = np.nan
    np.save(tmp_path / "c.npy", data)
    with pytest.raises(EdgecError, match="NaN"):
        load_calibration(tmp_path / "c.npy", image_graph())


def test_unknown_suffix_error(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("1,2\n")
    with pytest.raises(EdgecError, match="unknown format '.csv'"):
        load_calibration(tmp_path / "c.csv", image_graph())


def test_npy_for_multi_input_model_error(tmp_path: Path) -> None:
    np.save(tmp_path / "c.npy", np.zeros((2, 3), np.float32))
    with pytest.raises(EdgecError, match="single input but the model has 2"):
        load_calibration(tmp_path / "c.npy", two_input_graph())


def _write_images(folder: Path, images: list[np.ndarray]) -> None:
    from PIL import Image

    folder.mkdir()
    for i, img in enumerate(images):
        suffix = ".png" if i % 2 == 0 else ".pgm"
        Image.fromarray(img).save(folder / f"img{i}{suffix}")


def test_image_folder_grey(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, size=(4, 5), dtype=np.uint8) for _ in range(3)]
    _write_images(tmp_path / "imgs", images)
    samples = load_calibration(tmp_path / "imgs", image_graph((1, 4, 5, 1)))
    assert len(samples) == 3
    np.testing.assert_allclose(samples[1]["x"][0, :, :, 0], images[1] / 255.0, rtol=1e-6)


def test_image_folder_rgb_png(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    img = np.random.default_rng(3).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "imgs" / "a.png")
    samples = load_calibration(tmp_path / "imgs", image_graph())
    np.testing.assert_allclose(samples[0]["x"][0], img / 255.0, rtol=1e-6)


def test_image_folder_size_mismatch_errors(tmp_path: Path) -> None:
    _write_images(tmp_path / "imgs", [np.zeros((4, 5), np.uint8), np.zeros((6, 5), np.uint8)])
    with pytest.raises(EdgecError, match="differ in size"):
        load_calibration(tmp_path / "imgs", image_graph((1, 4, 5, 1)))


def test_image_folder_wrong_model_size_errors(tmp_path: Path) -> None:
    _write_images(tmp_path / "imgs", [np.zeros((6, 6), np.uint8)])
    with pytest.raises(EdgecError, match="expected"):
        load_calibration(tmp_path / "imgs", image_graph((1, 4, 5, 1)))


def test_empty_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgecError, match="has no images"):
        load_calibration(tmp_path / "empty", image_graph())


def test_samples_from_arrays() -> None:
    x = np.zeros((2, 3, 4, 5), np.float32)
    samples = samples_from_arrays({"x": x}, image_graph())
    assert len(samples) == 2 and samples[0]["x"].shape == (1, 4, 5, 3)
