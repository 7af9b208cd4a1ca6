"""Loading calibration data for post-training quantization.

``load_calibration(path, graph)`` turns a user's calibration file into a list
of feed dicts (one per sample, ``{input_name: float32 array}`` shaped exactly
like the graph input, NHWC) that ``edgec.passes.quantize.quantize`` runs
through the float reference.

Accepted sources:

* ``.npz`` -- one array per graph input name (samples stacked along axis 0),
  or a single array of any name for a single-input graph;
* ``.npy`` -- one array: samples stacked along axis 0, or one sample;
* a folder of images (``.png``, ``.jpg``/``.jpeg``, ``.pgm``/``.ppm``/``.bmp``)
  for a single-input image model.  Pixels are scaled to ``[0, 1]``; grey
  images get a channel axis.  Images are never resized or cropped.

Layout: the IR is NHWC.  When the frontend recorded that an input was NCHW in
the original model (``graph.meta["layouts"][name] == "NCHW"``), samples may be
given in either layout; NCHW samples are transposed to NHWC.  When a shape is
valid in both layouts (e.g. ``[1, 8, 8, 8]``), it is read in the model's
original layout, since that is how the user's framework produced the data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.graph import Graph
from edgec.npyfile import NpyFileError, read_npy, read_npz

Sample = dict[str, np.ndarray]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".bmp")
MAX_IMAGE_PIXELS = 4096 * 4096  # far above any microcontroller model input


class CalibrationError(EdgecError):
    """The calibration data cannot be read or does not fit the model."""


def load_calibration(path: str | Path, graph: Graph) -> list[Sample]:
    """Read calibration samples for ``graph`` from ``path`` (see module docstring)."""
    path = Path(path)
    if not path.exists():
        raise CalibrationError(
            f"calibration data {str(path)!r} not found — pass an existing .npz, .npy or image folder"
        )
    inputs = _float_inputs(graph)
    if path.is_dir():
        arrays = {_single_input(inputs, "an image folder"): _read_image_folder(path)}
    elif path.suffix == ".npz":
        arrays = _read_npz(path, inputs)
    elif path.suffix == ".npy":
        arrays = {_single_input(inputs, "a .npy file"): _read_array(path)}
    else:
        raise CalibrationError(
            f"calibration data {str(path)!r} has unknown format {path.suffix!r} — use .npz, .npy or a folder of images"
        )
    per_input = {name: _split_samples(name, arr, graph) for name, arr in arrays.items()}
    counts = {name: len(s) for name, s in per_input.items()}
    if len(set(counts.values())) != 1:
        raise CalibrationError(
            f"calibration inputs have different sample counts {counts} — give every input the same N"
        )
    n = next(iter(counts.values()))
    return [{name: per_input[name][i] for name in inputs} for i in range(n)]


def samples_from_arrays(arrays: dict[str, np.ndarray], graph: Graph) -> list[Sample]:
    """Like ``load_calibration`` for arrays already in memory (``{input_name: stacked samples}``)."""
    inputs = _float_inputs(graph)
    missing = [n for n in inputs if n not in arrays]
    if missing:
        raise CalibrationError(f"calibration data lacks input(s) {missing}; got {sorted(arrays)}")
    per_input = {name: _split_samples(name, np.asarray(arrays[name]), graph) for name in inputs}
    n = min(len(s) for s in per_input.values())
    return [{name: per_input[name][i] for name in inputs} for i in range(n)]


# -- readers -----------------------------------------------------------------------------------------


def _float_inputs(graph: Graph) -> list[str]:
    names = [n for n in graph.inputs if not graph.tensors[n].is_const]
    if not names:
        raise CalibrationError(f"graph {graph.name!r} has no inputs to calibrate")
    return names


def _single_input(inputs: list[str], source: str) -> str:
    if len(inputs) != 1:
        raise CalibrationError(
            f"{source} feeds a single input but the model has {len(inputs)} ({', '.join(inputs)}) — use an .npz with one array per input"
        )
    return inputs[0]


def _read_array(path: Path) -> np.ndarray:
    try:
        return read_npy(path)
    except (OSError, NpyFileError) as e:
        raise CalibrationError(f"cannot read calibration array {str(path)!r}: {e}") from None


def _read_npz(path: Path, inputs: list[str]) -> dict[str, np.ndarray]:
    try:
        arrays = read_npz(path)
    except (OSError, NpyFileError) as e:
        raise CalibrationError(f"cannot read calibration archive {str(path)!r}: {e}") from None
    if all(name in arrays for name in inputs):
        return {name: arrays[name] for name in inputs}
    if len(arrays) == 1 and len(inputs) == 1:
        return {inputs[0]: next(iter(arrays.values()))}
    raise CalibrationError(
        f"calibration archive {str(path)!r} must hold one array per model input: expected {inputs}, got {sorted(arrays)}"
    )


def _image_reader() -> Callable[[Path], np.ndarray]:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        import matplotlib.image as mpimg

        def read_mpl(p: Path) -> np.ndarray:
            img = np.asarray(mpimg.imread(p))
            return img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)

        return read_mpl

    def read_pil(p: Path) -> np.ndarray:
        with Image.open(p) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:  # known from the header, before decoding pixels
                raise CalibrationError(
                    f"calibration image {str(p)!r} is {img.width}x{img.height}; images are not resized, "
                    "so they must match the model input"
                )
            if img.mode not in ("L", "RGB", "RGBA"):
                img = img.convert("RGB")
            return np.asarray(img, dtype=np.float32) / 255.0

    return read_pil


def _read_image_folder(folder: Path) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CalibrationError(f"calibration folder {str(folder)!r} has no images ({', '.join(IMAGE_SUFFIXES)})")
    read = _image_reader()
    images: list[np.ndarray] = []
    for p in files:
        try:
            img = read(p)
        except CalibrationError:
            raise
        except Exception as e:  # noqa: BLE001 - any decoder failure is the user's file
            raise CalibrationError(f"cannot read calibration image {str(p)!r}: {e}") from None
        if img.ndim == 2:
            img = img[:, :, None]
        if images and img.shape != images[0].shape:
            raise CalibrationError(
                f"calibration images differ in size: {files[0].name} is {list(images[0].shape)} (HWC), "
                f"{p.name} is {list(img.shape)} — resize them to the model input"
            )
        images.append(img)
    return np.stack(images)  # [N, H, W, C]


# -- shape and layout ------------------------------------------------------------------------------


def _nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    n, h, w, c = shape
    return (n, c, h, w)


def _split_samples(name: str, arr: np.ndarray, graph: Graph) -> list[np.ndarray]:
    """Split ``arr`` into samples shaped like input ``name`` (NHWC float32)."""
    t = graph.tensors[name]
    if not np.issubdtype(arr.dtype, np.floating):
        raise CalibrationError(
            f"calibration data for input {name!r} must be floating point, got {arr.dtype}: save it as float32 "
            "preprocessed exactly as the model's input (images usually scaled to [0, 1]), or pass a folder of images"
        )
    if arr.size == 0:
        raise CalibrationError(f"calibration data for input {name!r} is empty")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > np.finfo(np.float32).max):
        raise CalibrationError(f"calibration data for input {name!r} contains NaN, infinity or values beyond float32")
    nhwc = t.shape
    layouts = graph.meta.get("layouts", {}) if isinstance(graph.meta.get("layouts"), dict) else {}
    # Candidate sample shapes, preferred first, with the transpose that maps them to NHWC.
    candidates: list[tuple[tuple[int, ...], tuple[int, ...] | None]] = []
    if len(nhwc) == 4 and layouts.get(name) == "NCHW":
        candidates.append((_nchw(nhwc), (0, 2, 3, 1)))
    candidates.append((nhwc, None))
    batch = nhwc[0] if nhwc else 1
    for shape, perm in candidates:
        stacked = _as_stack(arr, shape, batch)
        if stacked is not None:
            samples = stacked if perm is None else stacked.transpose((0,) + tuple(p + 1 for p in perm))
            return [np.ascontiguousarray(s, dtype=np.float32) for s in samples]
    expected = " or ".join(f"[N, {', '.join(map(str, s[1:]))}]" for s, _ in candidates)
    raise CalibrationError(
        f"calibration data for input {name!r} has shape {list(arr.shape)}, expected {expected} (samples along axis 0)"
    )


def _as_stack(arr: np.ndarray, shape: tuple[int, ...], batch: int) -> np.ndarray | None:
    """View ``arr`` as [S, *shape] when it is one sample or samples stacked along axis 0."""
    if arr.shape == shape:
        return arr[None]
    if len(shape) >= 1 and arr.shape == shape[1:] and batch == 1:
        return arr[None, None]
    if arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
        return arr
    if len(shape) >= 1 and arr.ndim == len(shape) and arr.shape[1:] == shape[1:] and arr.shape[0] % batch == 0:
        return arr.reshape((arr.shape[0] // batch,) + shape)
    return None
