"""Fuzz targets: one function per reader or decoder, taking raw bytes, plus its seed corpus.

The contract every target checks is the one of the command line: any input
ends either in success or in an ``EdgecError`` with a one-line message (the
CLI prints it and exits 2).  Anything else that escapes a target -- an
IndexError, struct.error, numpy error, RecursionError, MemoryError, a hang --
is a crash, reported by ``tests/fuzz/engine.py`` with its type and location.

Targets read the bytes the way a user's file reaches edgec: written to a file
and passed to the same loader the CLI calls (``load_tflite``, ``load_onnx``,
``load_array`` + ``to_model_input``, ``load_calibration``), or fed to the
device link's frame decoder and reply parsers as bytes from a serial port.
"""

from __future__ import annotations

import atexit
import io
import shutil
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError, ModelError

ROOT = Path(__file__).resolve().parents[2]
SEED_MODEL_LIMIT = 128 * 1024  # bigger bundled models are slow to mutate and add little


@dataclass(frozen=True)
class Harness:
    name: str
    target: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    doc: str


class ContractViolation(AssertionError):
    """A target's output broke an invariant other than 'raise only EdgecError'."""


@cache
def _scratch() -> Path:
    path = Path(tempfile.mkdtemp(prefix="edgec-fuzz-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _write(name: str, data: bytes) -> Path:
    path = _scratch() / name
    path.write_bytes(data)
    return path


# -- (a) TFLite: read and translate ---------------------------------------------------------------


def tflite_target(data: bytes) -> None:
    from edgec.frontends.tflite import load_tflite, reader

    try:
        load_tflite(_write("model.tflite", data))
    except ModelError as e:
        # load_tflite reports any exception of the reader or translator as a ModelError naming the
        # file; only the reader's own MalformedModel is meant to get there, anything else is a bug.
        cause = e.__cause__
        if cause is not None and not isinstance(cause, (EdgecError, OSError, reader.MalformedModel)):
            raise cause
        raise


def tflite_seeds() -> list[bytes]:
    return [f.read_bytes() for f in _bundled("*.tflite")]


def _bundled(pattern: str) -> list[Path]:
    """Bundled files matching ``pattern`` (test fixtures, models, the conformance corpus), small ones only."""
    files: list[Path] = []
    for folder in ("tests/fixtures", "models/tflite", "models/digits", "models/corpus"):
        files += sorted((ROOT / folder).rglob(pattern))
    return [f for f in files if f.stat().st_size <= SEED_MODEL_LIMIT]


# -- (b) ONNX: read and translate -----------------------------------------------------------------


def onnx_target(data: bytes) -> None:
    from edgec.frontends.onnx import load_onnx

    load_onnx(_write("model.onnx", data))


def onnx_seeds() -> list[bytes]:
    seeds = [f.read_bytes() for f in _bundled("*.onnx")]
    seeds += _built_onnx_seeds()
    return seeds


def _built_onnx_seeds() -> list[bytes]:
    """A small conv -> dense -> softmax model built with onnx.helper."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, (4, 3, 3, 3), rng.standard_normal(108).astype(np.float32))
    b = helper.make_tensor("b", TensorProto.FLOAT, (4,), np.zeros(4, np.float32))
    shape = helper.make_tensor("shape", TensorProto.INT64, (2,), np.array([1, -1], np.int64))
    fc = helper.make_tensor("fc", TensorProto.FLOAT, (64, 10), rng.standard_normal(640).astype(np.float32))
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["m"]),
        helper.make_node("Softmax", ["m"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "fuzz_seed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, 8, 8))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 10))],
        [w, b, shape, fc],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return [model.SerializeToString()]


# -- (c) --input and --calib loaders --------------------------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _npz(arrays: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


@cache
def _input_specs():
    from edgec.tensor_io import IOSpec

    return (
        IOSpec("image", [1, 4, 4, 3], "int8", 0.02, -3, "float32", "NCHW"),
        IOSpec("features", [1, 10], "float32", None, None, "float32", None),
        IOSpec("raw", [1, 6], "int8", None, None, "int8", None),
    )


def input_target(data: bytes) -> None:
    from edgec.tensor_io import load_array, to_model_input

    x = load_array(_write("input.npy", data))
    for spec in _input_specs():
        try:
            y = to_model_input(x, spec)
        except EdgecError:
            continue
        if tuple(y.shape) != tuple(spec.shape) or str(y.dtype) != spec.dtype:
            raise ContractViolation(f"to_model_input gave {y.shape} {y.dtype} for spec {spec.shape} {spec.dtype}")


def input_seeds() -> list[bytes]:
    rng = np.random.default_rng(1)
    return [
        _npy(rng.standard_normal((1, 3, 4, 4)).astype(np.float32)),
        _npy(rng.standard_normal((1, 4, 4, 3)).astype(np.float64)),
        _npy(rng.integers(-128, 127, (1, 6), dtype=np.int8)),
        _npy(rng.standard_normal((1, 10)).astype(np.float16)),
        _npy(np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0], np.float32).reshape(1, 6)),
        _npy(np.zeros((2, 3), dtype=">i4")),
        _npy(np.asfortranarray(rng.standard_normal((1, 10)))),
    ]


@cache
def _calibration_graphs():
    from edgec.ir.graph import Graph
    from edgec.ir.tensor import Tensor

    image = Graph("image")
    image.add_tensor(Tensor("x", (1, 4, 4, 3)))
    image.add_tensor(Tensor("y", (1, 4, 4, 3)))
    image.add_node("relu", ["x"], ["y"])
    image.inputs, image.outputs = ["x"], ["y"]
    image.meta["layouts"] = {"x": "NCHW"}
    two = Graph("two")
    for name in ("a", "b", "s"):
        two.add_tensor(Tensor(name, (1, 3)))
    two.add_node("add", ["a", "b"], ["s"])
    two.inputs, two.outputs = ["a", "b"], ["s"]
    return image, two


CALIB_FORMATS = ("npy", "npz", "npz2", "image")


def calibration_target(data: bytes) -> None:
    """First byte: the kind of --calib source (.npy, .npz for one or two inputs, image folder); then its bytes."""
    from edgec.calibration import load_calibration

    if not data:
        return
    kind, body = CALIB_FORMATS[data[0] % len(CALIB_FORMATS)], data[1:]
    image, two = _calibration_graphs()
    if kind == "image":
        folder = _scratch() / "images"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        # The body holds one or two images separated by a marker, to reach the "sizes differ" check.
        for i, part in enumerate(body.split(b"--next--")[:3]):
            suffix = ".pgm" if part.startswith(b"P") else ".png"
            (folder / f"{i}{suffix}").write_bytes(part)
        samples = load_calibration(folder, image)
        graph = image
    else:
        graph = two if kind == "npz2" else image
        samples = load_calibration(_write("calib." + kind[:3], body), graph)
    for sample in samples:
        for name in graph.inputs:
            x = sample[name]
            if tuple(x.shape) != tuple(graph.tensors[name].shape) or x.dtype != np.float32:
                raise ContractViolation(f"calibration sample for {name} is {x.shape} {x.dtype}")


def calibration_seeds() -> list[bytes]:
    rng = np.random.default_rng(2)
    x_nchw = rng.random((5, 3, 4, 4), dtype=np.float32)
    x_nhwc = rng.random((2, 4, 4, 3)).astype(np.float64)
    seeds = [
        b"\x00" + _npy(x_nchw),
        b"\x00" + _npy(x_nhwc[0]),
        b"\x01" + _npz({"x": x_nhwc}),
        b"\x01" + _npz({"calib": x_nchw}, compressed=True),
        b"\x02" + _npz({"a": rng.random((4, 3), dtype=np.float32), "b": rng.random((4, 1, 3), dtype=np.float32)}),
        b"\x03" + _pgm(4, 4) + b"--next--" + _pgm(4, 4),
        b"\x03" + _png(4, 4, 3),
    ]
    seeds += [b"\x01" + f.read_bytes() for f in _bundled("*.npz")[:6]]
    return seeds


def _pgm(h: int, w: int) -> bytes:
    return f"P5 {w} {h} 255\n".encode() + bytes(range(h * w))


def _png(h: int, w: int, c: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    pixels = (np.arange(h * w * c) % 256).astype(np.uint8).reshape(h, w, c)
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


# -- (d) device link: frames and reply bodies -----------------------------------------------------


def frames_target(data: bytes) -> None:
    """A byte stream from the serial port: split into frames, each a Frame or a FrameError."""
    from edgec.device.framing import MAX_BODY, Frame, FrameDecoder, FrameError, decode_frame

    decoder = FrameDecoder()
    # Feed in two pieces so frames that straddle reads are exercised.
    cut = data[0] % (len(data) + 1) if data else 0
    items = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
    for item in items:
        if isinstance(item, Frame):
            if len(item.body) > MAX_BODY:
                raise ContractViolation(f"decoder returned an invalid frame {item}")
        elif not isinstance(item, FrameError):
            raise ContractViolation(f"decoder returned {type(item).__name__}")
    for chunk in data.split(b"\x00"):
        try:
            frame = decode_frame(chunk)
        except FrameError:
            continue
        if decode_frame(frame.encode()[:-1]) != frame:
            raise ContractViolation(f"frame {frame} does not survive a re-encode")


def frames_seeds() -> list[bytes]:
    from edgec.device.framing import Frame

    frames = [
        Frame(0x81, 1, b"EDGC\x01\x00\x02"),
        Frame(0x83, 7, b""),
        Frame(0xFF, 3, b"\x01"),
        Frame(0x85, 255, struct.pack("<I", 0) + bytes(range(256))),
        Frame(0x04, 2, bytes(300)),
    ]
    stream = b"".join(b"\x00" + f.encode() for f in frames)
    return [f.encode() for f in frames] + [stream, b"\x00\x00garbage\x00" + frames[0].encode()]


PROTOCOL_PARSERS = ("hello", "info", "counts")


def protocol_target(data: bytes) -> None:
    """First byte: which reply to parse (HELLO, INFO, INVOKE/READ_COUNTS); then the reply body."""
    from edgec.device import protocol

    if not data:
        return
    kind, body = PROTOCOL_PARSERS[data[0] % len(PROTOCOL_PARSERS)], data[1:]
    if kind == "hello":
        protocol.parse_hello(body)
    elif kind == "info":
        info = protocol.parse_info(body)
        if protocol.parse_info(protocol.pack_info(info)) != info:
            raise ContractViolation("an INFO body does not survive pack_info/parse_info")
    else:
        protocol.parse_counts(body)


def protocol_seeds() -> list[bytes]:
    from edgec.device import protocol

    info = protocol.DeviceInfo(
        protocol_version=1, counter_unit="cycles", op_count=12, model_hash=0xDEADBEEF, arena_size=20480,
        input_size=3072, output_size=10, clock_hz=80_000_000, counter_resolution=1, input_scale=0.5,
        input_zero_point=-1, output_scale=0.0039, output_zero_point=-128, input_shape=(1, 32, 32, 3),
        output_shape=(1, 10), board="nucleo-l4r5zi",
    )
    return [
        b"\x00" + protocol.MAGIC + b"\x01" + struct.pack("<H", 512),
        b"\x01" + protocol.pack_info(info),
        b"\x02" + protocol.pack_counts(123456, list(range(200)), 0),
        b"\x02" + protocol.pack_counts(9, [1, 2, 3], 2),
    ]


HARNESSES: dict[str, Harness] = {
    h.name: h
    for h in (
        Harness("tflite", tflite_target, tflite_seeds, "TFLite file -> load_tflite (read + translate)"),
        Harness("onnx", onnx_target, onnx_seeds, "ONNX file -> load_onnx (parse + translate)"),
        Harness("input", input_target, input_seeds, "--input .npy -> load_array + to_model_input"),
        Harness("calib", calibration_target, calibration_seeds, "--calib .npy/.npz/image folder -> load_calibration"),
        Harness("frames", frames_target, frames_seeds, "serial bytes -> FrameDecoder / decode_frame"),
        Harness("protocol", protocol_target, protocol_seeds, "reply bodies -> parse_hello/parse_info/parse_counts"),
    )
}

