"""The TFLite frontend against LiteRT's own reading of the bundled models, and its error reporting."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from edgec.errors import EdgecError, ModelError, UnsupportedError
from edgec.frontends.tflite import load_tflite
from edgec.frontends.tflite.translate import same_padding

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "tflite"
BAD_DIR = MODEL_DIR / "bad"
BUNDLED = sorted(MODEL_DIR.glob("*.tflite"))
OP_MODELS = sorted((MODEL_DIR / "ops").glob("*.tflite"))
EXPECTED_MODELS = {
    "mobilenet_v2_w0.35_r96",
    "mobilenet_v2_w1.0_r224",
    "mobilenet_v1_w0.25_r96",
    "ds_cnn",
    "resnet8",
    "mcunet",
}

# TFLite builtin -> IR op (the frontend translates one to one for these models).
IR_OP = {
    "CONV_2D": "conv2d",
    "DEPTHWISE_CONV_2D": "depthwise_conv2d",
    "FULLY_CONNECTED": "fully_connected",
    "ADD": "add",
    "SUB": "sub",
    "MUL": "mul",
    "AVERAGE_POOL_2D": "avg_pool2d",
    "MAX_POOL_2D": "max_pool2d",
    "MEAN": "mean",
    "RESHAPE": "reshape",
    "SOFTMAX": "softmax",
    "PAD": "pad",
    "PADV2": "pad",
    "CONCATENATION": "concat",
    "QUANTIZE": "quantize",
    "DEQUANTIZE": "dequantize",
    "LOGISTIC": "logistic",
    "HARD_SWISH": "hard_swish",
    "RELU": "relu",
    "RELU6": "relu6",
    "TANH": "tanh",
    "LEAKY_RELU": "leaky_relu",
    "RESIZE_NEAREST_NEIGHBOR": "resize_nearest",
}


def litert(path: Path) -> Interpreter:
    interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    return interpreter


def test_all_bundled_models_present():
    assert EXPECTED_MODELS <= {p.stem for p in BUNDLED}
    assert {"op_zoo", "op_zoo_float_io"} <= {p.stem for p in OP_MODELS}
    assert sum(p.stat().st_size for p in BUNDLED) < 10 * 1024 * 1024


@pytest.mark.parametrize("path", BUNDLED + OP_MODELS, ids=lambda p: p.stem)
def test_bundled_model_matches_litert(path: Path):
    graph = load_tflite(path).verify()
    interpreter = litert(path)
    ops = interpreter._get_ops_details()
    details = {d["index"]: d for d in interpreter.get_tensor_details()}

    producers = graph.producers()
    kept_dims = 0  # FULLY_CONNECTED with keep_num_dims: the IR's 2-D fc, then a reshape to TFLite's shape
    for op in ops:
        out = details[int(op["outputs"][0])]
        node = producers[out["name"]]
        if op["op_name"] == "FULLY_CONNECTED" and node.op == "reshape":
            kept_dims += 1
            assert node.attrs["shape"] == tuple(out["shape"])
            node = producers[node.inputs[0]]
            rows = int(np.prod(out["shape"])) // out["shape"][-1]
            assert graph.tensors[node.outputs[0]].shape == (rows, out["shape"][-1])
        else:
            assert graph.tensors[node.outputs[0]].shape == tuple(out["shape"])
        assert node.op == IR_OP[op["op_name"]]
        assert graph.tensors[out["name"]].dtype == np.dtype(out["dtype"]).name
        for name, index in zip(node.inputs, op["inputs"]):
            if index < 0:
                assert name == ""
                continue
            d = details[int(index)]
            tensor = graph.tensors[name]
            assert tensor.shape == tuple(d["shape"]), name
            q = d["quantization_parameters"]
            if len(q["scales"]):
                np.testing.assert_array_equal(tensor.scale, q["scales"])
                np.testing.assert_array_equal(tensor.zero_point, q["zero_points"])
                assert tensor.axis == (q["quantized_dimension"] if len(q["scales"]) > 1 else None)
            if tensor.is_const:
                np.testing.assert_array_equal(tensor.data, interpreter.get_tensor(int(index)))

    assert len(graph.nodes) == len(ops) + kept_dims
    assert Counter(n.op for n in graph.nodes) == Counter(IR_OP[op["op_name"]] for op in ops) + Counter(
        {"reshape": kept_dims}
    )
    assert [graph.tensors[i].shape for i in graph.inputs] == [
        tuple(d["shape"]) for d in interpreter.get_input_details()
    ]
    assert [graph.tensors[o].shape for o in graph.outputs] == [
        tuple(d["shape"]) for d in interpreter.get_output_details()
    ]
    for name, d in zip(
        graph.inputs + graph.outputs, interpreter.get_input_details() + interpreter.get_output_details()
    ):
        t = graph.tensors[name]
        assert t.dtype == np.dtype(d["dtype"]).name
        if t.dtype == "int8":
            assert (t.qscale, t.qzero) == (pytest.approx(d["quantization"][0]), d["quantization"][1])


def test_conv_attributes_of_ds_cnn():
    """DS-CNN's first conv: 10x4 kernel, stride 2, SAME on 49x10 (odd extra row of padding at the bottom)."""
    graph = load_tflite(MODEL_DIR / "ds_cnn.tflite")
    first = graph.nodes[0]
    assert first.op == "conv2d"
    assert first.attrs["stride"] == (2, 2)
    # TF SAME: out = ceil(49/2) = 25 rows, total pad = 24*2 + 10 - 49 = 9 -> 4 top, 5 bottom;
    # out = ceil(10/2) = 5 cols, total pad = 4*2 + 4 - 10 = 2 -> 1 left, 1 right.
    assert first.attrs["pad"] == (4, 1, 5, 1)
    assert first.attrs["act"] == (0.0, float("inf"))
    assert graph.nodes[-1].op == "softmax" and graph.nodes[-1].attrs["beta"] == 1.0


def test_attribute_inputs_of_op_zoo():
    """Pads, pad value, resize size and mean axes come from constant inputs (values set in make_tflite.py)."""
    graph = load_tflite(MODEL_DIR / "ops" / "op_zoo.tflite")
    pads = [n for n in graph.nodes if n.op == "pad"]
    assert [p.attrs["pads"] for p in pads] == [((0, 0), (1, 0), (0, 1), (0, 0)), ((0, 0), (1, 1), (2, 0), (0, 0))]
    assert pads[0].attrs["value"] == 0.0
    assert pads[1].attrs["value"] == pytest.approx(0.5, abs=graph.tensors[pads[1].inputs[0]].qscale)
    (resize,) = [n for n in graph.nodes if n.op == "resize_nearest"]
    assert resize.attrs["size"] == (10, 12)
    (mean,) = [n for n in graph.nodes if n.op == "mean"]
    assert mean.attrs == {"axes": (1, 2), "keepdims": True}
    (leaky,) = [n for n in graph.nodes if n.op == "leaky_relu"]
    assert leaky.attrs["alpha"] == pytest.approx(0.2)
    (dw,) = [n for n in graph.nodes if n.op == "depthwise_conv2d"]
    assert dw.attrs["depth_multiplier"] == 2 and dw.attrs["pad"] == (2, 2, 2, 2)
    # attribute tensors (paddings, pad value, size, axes) become attributes, not node inputs
    assert all(len(n.inputs) == 1 for n in pads + [resize, mean])


@pytest.mark.parametrize(
    "size, kernel, stride, dilation, expected",
    [
        (96, 3, 2, 1, (0, 1)),  # out 48: 47*2 + 3 - 96 = 1, extra pixel after
        (7, 3, 1, 1, (1, 1)),
        (10, 1, 2, 1, (0, 0)),
        (5, 3, 1, 2, (2, 2)),  # dilated 3x3 spans 5
        (4, 2, 3, 1, (0, 1)),  # out 2: 1*3 + 2 - 4 = 1
        (3, 5, 1, 1, (2, 2)),  # kernel wider than the input
        (8, 1, 3, 1, (0, 0)),  # out 3: 2*3 + 1 - 8 < 0 -> no padding
    ],
)
def test_same_padding(size, kernel, stride, dilation, expected):
    assert same_padding(size, kernel, stride, dilation) == expected


# -- errors ---------------------------------------------------------------------


def assert_one_line(error: EdgecError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_unsupported_ops_are_all_named():
    with pytest.raises(UnsupportedError) as info:
        load_tflite(BAD_DIR / "unsupported_ops.tflite")
    message = assert_one_line(info.value)
    for op in ("CUMSUM", "ARG_MAX", "CAST"):
        assert op in message
    assert len(info.value.problems) == 3


def test_uint8_model_is_rejected():
    with pytest.raises(UnsupportedError) as info:
        load_tflite(BAD_DIR / "uint8_io.tflite")
    assert "UINT8" in assert_one_line(info.value)


def test_dynamic_batch_is_built_for_batch_1():
    graph = load_tflite(BAD_DIR / "dynamic_batch.tflite")
    assert graph.meta["batch"] == {"dynamic": True, "built_for": 1}
    assert all(graph.tensors[name].shape[0] == 1 for name in graph.inputs + graph.outputs)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path: Path, fraction: float):
    raw = (MODEL_DIR / "ds_cnn.tflite").read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(ModelError) as info:
        load_tflite(path)
    assert "truncated.tflite" in assert_one_line(info.value)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path: Path, seed: int):
    path = tmp_path / "random.tflite"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelError) as info:
        load_tflite(path)
    assert_one_line(info.value)


def test_random_bytes_with_identifier(tmp_path: Path):
    """Garbage that carries the 'TFL3' identifier must still fail cleanly."""
    rng = np.random.default_rng(7)
    for i in range(20):
        body = rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
        path = tmp_path / f"fake{i}.tflite"
        path.write_bytes(body[:4] + b"TFL3" + body[8:])
        with pytest.raises(ModelError) as info:
            load_tflite(path)
        assert_one_line(info.value)


def test_missing_and_empty_files(tmp_path: Path):
    with pytest.raises(ModelError):
        load_tflite(tmp_path / "absent.tflite")
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ModelError):
        load_tflite(tmp_path / "empty.tflite")


# -- hand-built flatbuffers for constructs the converter will not write ------------


def _schema(name: str):
    # ``tflite.<Name>`` is the class (star-imported); the builder functions live in the module.
    return importlib.import_module(f"tflite.{name}")


def build_flatbuffer(input_shape: list[int], ops: list[tuple[int, str | None]]) -> bytes:
    """A float32 model chaining ``ops`` (builtin code, custom name) through tensors t0 -> t1 -> ..."""
    fb = flatbuffers.Builder(1024)
    m, sg, op_m, code_m, t_m, buf_m = (
        _schema(n) for n in ("Model", "SubGraph", "Operator", "OperatorCode", "Tensor", "Buffer")
    )

    def int_vector(start, values):
        start(fb, len(values))
        for v in reversed(values):
            fb.PrependInt32(v)
        return fb.EndVector()

    tensors = []
    for i in range(len(ops) + 1):
        name = fb.CreateString(f"t{i}")
        shape = int_vector(t_m.StartShapeVector, input_shape)
        t_m.Start(fb)
        t_m.AddShape(fb, shape)
        t_m.AddType(fb, tflite.TensorType.FLOAT32)
        t_m.AddName(fb, name)
        t_m.AddBuffer(fb, 0)
        tensors.append(t_m.End(fb))
    codes = []
    for builtin, custom in ops:
        custom_name = fb.CreateString(custom) if custom else None
        code_m.Start(fb)
        code_m.AddBuiltinCode(fb, builtin)
        code_m.AddDeprecatedBuiltinCode(fb, min(builtin, 127))
        if custom_name is not None:
            code_m.AddCustomCode(fb, custom_name)
        codes.append(code_m.End(fb))
    operators = []
    for i in range(len(ops)):
        ins, outs = int_vector(op_m.StartInputsVector, [i]), int_vector(op_m.StartOutputsVector, [i + 1])
        op_m.Start(fb)
        op_m.AddOpcodeIndex(fb, i)
        op_m.AddInputs(fb, ins)
        op_m.AddOutputs(fb, outs)
        operators.append(op_m.End(fb))

    def table_vector(start, items):
        start(fb, len(items))
        for item in reversed(items):
            fb.PrependUOffsetTRelative(item)
        return fb.EndVector()

    tensor_vec = table_vector(sg.StartTensorsVector, tensors)
    op_vec = table_vector(sg.StartOperatorsVector, operators)
    inputs, outputs = int_vector(sg.StartInputsVector, [0]), int_vector(sg.StartOutputsVector, [len(ops)])
    sg.Start(fb)
    sg.AddTensors(fb, tensor_vec)
    sg.AddOperators(fb, op_vec)
    sg.AddInputs(fb, inputs)
    sg.AddOutputs(fb, outputs)
    subgraph = sg.End(fb)
    buf_m.Start(fb)
    empty_buffer = buf_m.End(fb)
    code_vec = table_vector(m.StartOperatorCodesVector, codes)
    subgraph_vec = table_vector(m.StartSubgraphsVector, [subgraph])
    buffer_vec = table_vector(m.StartBuffersVector, [empty_buffer])
    m.Start(fb)
    m.AddVersion(fb, 3)
    m.AddOperatorCodes(fb, code_vec)
    m.AddSubgraphs(fb, subgraph_vec)
    m.AddBuffers(fb, buffer_vec)
    fb.Finish(m.End(fb), file_identifier=b"TFL3")
    return bytes(fb.Output())


def test_hand_built_model_loads(tmp_path: Path):
    """The builder itself is sound: a RELU -> LOGISTIC chain loads, and LiteRT agrees on its shape."""
    path = tmp_path / "ok.tflite"
    path.write_bytes(
        build_flatbuffer([1, 4], [(tflite.BuiltinOperator.RELU, None), (tflite.BuiltinOperator.LOGISTIC, None)])
    )
    graph = load_tflite(path).verify()
    assert [n.op for n in graph.nodes] == ["relu", "logistic"]
    assert litert(path).get_output_details()[0]["shape"].tolist() == [1, 4]


def test_custom_op_batch_and_unknown_builtin_reported_together(tmp_path: Path):
    path = tmp_path / "bad.tflite"
    ops = [
        (tflite.BuiltinOperator.CUSTOM, "MyFancyOp"),
        (tflite.BuiltinOperator.ABS, None),
        (tflite.BuiltinOperator.RELU, None),
    ]
    path.write_bytes(build_flatbuffer([3, 4], ops))
    with pytest.raises(UnsupportedError) as info:
        load_tflite(path)
    message = assert_one_line(info.value)
    assert "MyFancyOp" in message and "ABS" in message and "batch 3" in message
    assert len(info.value.problems) == 3
