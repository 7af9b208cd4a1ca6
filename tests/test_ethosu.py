"""Arm Ethos-U targets through Vela (edgec/codegen/ethosu/, docs/ethosu.md).

Oracles: Vela's own optimized model and reports (which ops it took, its
fallback reasons), the Ethos-U driver payload format (COP1 header, the CONFIG
word's MAC count), the numpy int8 reference of the whole model, and QEMU
running the CPU step's firmware. No NPU execution is possible here: NPU
segments run on the numpy reference as a labelled stand-in.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgec.compiler import BUILD_FILE, BuildOptions, build_model
from edgec.errors import EdgecError
from edgec.targets import load_target, target_from_dict

pytest.importorskip("ethosu.vela", reason="ethos-u-vela (edgec[ethosu]) is not installed")

from edgec.codegen.ethosu.check import STAND_IN, qemu_cpu_runner, run_partitioned
from edgec.codegen.ethosu.command_stream import parse_header
from edgec.codegen.ethosu.glue import write_glue
from edgec.codegen.ethosu.optimized import read_optimized
from edgec.codegen.ethosu.partition import partition
from edgec.codegen.ethosu.vela_runner import run_vela

REPO = Path(__file__).resolve().parents[1]
EDGEC = Path(sys.executable).with_name("edgec")
TFLITE = REPO / "models" / "tflite"
OP_ZOO = TFLITE / "ops" / "op_zoo.tflite"  # its 10x12 resize of a 6x6 map is no 2/4/8x scale: U55 leaves it on the CPU
NPU_TARGETS = ("corstone-300-u55-128", "corstone-300-u55-256", "corstone-320-u85-256")
TOOLS = shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")


def edgec(*args, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EDGEC), *map(str, args)], capture_output=True, text=True, timeout=300, check=False, **kwargs)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def small_target(name: str, **memory) -> object:
    raw = dict(load_target("corstone-300-u55-128").raw)
    raw["memory"] = {**raw["memory"], **memory}
    raw["name"] = name
    return target_from_dict(raw)


@pytest.fixture(scope="module")
def opzoo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """op_zoo built for the Ethos-U55-128: two NPU segments around a CPU resize."""
    out = tmp_path_factory.mktemp("ethosu") / "op_zoo-u55"
    build_model(OP_ZOO, BuildOptions(target="corstone-300-u55-128", out_dir=out))
    return out, json.loads((out / BUILD_FILE).read_text())


@pytest.fixture(scope="module")
def opzoo_parts():
    from edgec.lowering import lower_model

    graph = lower_model(OP_ZOO, None, "minmax").graph
    vela = run_vela(OP_ZOO.read_bytes(), OP_ZOO.stem, load_target("corstone-300-u55-128").npu)
    om = read_optimized(vela.tflite)
    return graph, vela, om, partition(graph, om, vela.fallbacks)


# -- targets and Vela settings -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NPU_TARGETS)
def test_targets_pass_every_vela_setting_explicitly(name: str) -> None:
    target = load_target(name)
    assert target.kind == "npu" and target.has_mve
    import ethosu.vela

    ini = (Path(ethosu.vela.__file__).parent.parent / "config_files" / target.npu["config_file"]).read_text()
    assert f"[System_Config.{target.npu['system_config']}]" in ini
    assert f"[Memory_Mode.{target.npu['memory_mode']}]" in ini
    args = run_vela((TFLITE / "resnet8.tflite").read_bytes(), "resnet8", target.npu).args
    for flag in ("--accelerator-config", "--config", "--system-config", "--memory-mode"):
        assert flag in args


@pytest.mark.parametrize("name", NPU_TARGETS)
def test_command_stream_header_names_the_accelerator(name: str) -> None:
    npu = load_target(name).npu
    om = read_optimized(run_vela((TFLITE / "resnet8.tflite").read_bytes(), "resnet8", npu).tflite)
    (segment,) = om.segments  # resnet8 runs whole on every Ethos-U
    payload = om.data(segment.command_stream)
    header = parse_header(payload)
    assert payload[:4] == b"COP1"
    assert header.macs_per_cycle == npu["macs_per_cycle"]
    assert header.product == ("Ethos-U85" if "u85" in npu["accelerator"] else "Ethos-U55")
    assert header.header_bytes % 16 == 0 and header.header_bytes + 4 * header.command_words == len(payload)


def test_vela_and_glue_are_deterministic(opzoo_parts, tmp_path: Path) -> None:
    graph, vela, om, _part = opzoo_parts
    again = run_vela(OP_ZOO.read_bytes(), OP_ZOO.stem, load_target("corstone-300-u55-128").npu)
    assert again.tflite == vela.tflite
    texts = []
    for k in range(2):
        (tmp_path / str(k)).mkdir()
        write_glue(tmp_path / str(k), partition(graph, read_optimized(again.tflite), again.fallbacks), om, "banner")
        texts.append([(tmp_path / str(k) / f).read_text() for f in ("edgec_npu.c", "edgec_npu.h", "edgec_npu_data.c")])
    assert texts[0] == texts[1]


# -- partition and fallbacks --------------------------------------------------------------------------


def test_partition_puts_the_refused_resize_on_the_cpu(opzoo_parts) -> None:
    graph, _vela, om, part = opzoo_parts
    (resize,) = [n.name for n in graph.nodes if n.op == "resize_nearest"]
    assert part.cpu_nodes == [resize]
    assert {part.target_of[n.name] for n in graph.nodes if n.name != resize} == {"npu"}
    assert len(part.segments) == len(om.segments) == 2
    first, second = part.segments
    assert first.outputs == graph.node(resize).inputs and second.inputs == graph.node(resize).outputs
    assert sorted(first.nodes + second.nodes + [resize]) == sorted(n.name for n in graph.nodes)
    assert [n.op for n in part.graph.nodes] == ["ethos_u", "resize_nearest", "ethos_u"]


def test_float_io_conversions_are_left_to_the_int8_boundary() -> None:
    """Vela keeps a float model I/O's QUANTIZE/DEQUANTIZE on the CPU; edgec's graph already ends at the int8 tensors."""
    from edgec.lowering import lower_model

    path = TFLITE / "ops" / "op_zoo_float_io.tflite"
    graph = lower_model(path, None, "minmax").graph
    vela = run_vela(path.read_bytes(), path.stem, load_target("corstone-300-u55-128").npu)
    assert {f.op for f in vela.fallbacks} == {"QUANTIZE", "DEQUANTIZE", "RESIZE_NEAREST_NEIGHBOR"}
    part = partition(graph, read_optimized(vela.tflite), vela.fallbacks)
    assert [c["tflite_op"] for c in part.io_conversions] == ["QUANTIZE", "DEQUANTIZE"]
    assert [n.op for n in part.graph.nodes] == ["ethos_u", "resize_nearest", "ethos_u"]
    assert part.segments[0].inputs == graph.inputs and part.segments[-1].outputs == graph.outputs


def test_segments_share_velas_arena_and_folded_shape_plumbing() -> None:
    """keras_decoder_int8: Vela runs SHAPE -> STRIDED_SLICE -> PACK (a transpose conv's output shape) on the
    CPU between two segments, and the second segment reads a skip tensor the first left in Vela's arena."""
    from edgec.codegen.ethosu.check import reference_runner
    from edgec.lowering import lower_model
    from edgec.reference import run

    path = REPO / "models" / "corpus" / "keras_decoder_int8.tflite"
    graph = lower_model(path, None, "minmax").graph
    vela = run_vela(path.read_bytes(), path.stem, load_target("corstone-300-u55-128").npu)
    om = read_optimized(vela.tflite)
    part = partition(graph, om, vela.fallbacks)
    assert [f["tflite_op"] for f in part.folded] == ["SHAPE", "STRIDED_SLICE", "PACK"]
    assert part.cpu_nodes == [] and len(part.segments) == 2
    (skip,) = part.segments[1].carried
    assert graph.producer(skip).name in part.segments[0].nodes and skip not in part.segments[0].outputs
    (tconv,) = [n for n in graph.nodes if n.op == "transpose_conv2d"]
    folded_shape = om.model.tensors[part.segments[1].vela.inputs[0]].data.tolist()
    assert folded_shape == list(graph.tensors[tconv.outputs[0]].shape)  # what edgec's own frontend inferred
    x = np.random.default_rng(5).integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    np.testing.assert_array_equal(run_partitioned(graph, part, x, reference_runner), expected)


def test_fallback_is_listed_with_velas_reason(opzoo: tuple[Path, dict]) -> None:
    _out, summary = opzoo
    (fallback,) = summary["npu"]["fallbacks"]
    assert fallback["op"] == "resize_nearest" and fallback["tflite_op"] == "RESIZE_NEAREST_NEIGHBOR"
    assert "scale-factor" in fallback["reason"]
    cpu = [op for op in summary["ops"] if op["target"] == "cpu"]
    assert [op["name"] for op in cpu] == [fallback["node"]]
    assert summary["npu"]["npu_layers"] + summary["npu"]["cpu_layers"] == len(summary["ops"])


def test_build_json_reports_vela_estimate(opzoo: tuple[Path, dict]) -> None:
    _out, summary = opzoo
    vela = summary["vela"]
    assert vela["version"] == "5.2.0"
    assert (vela["system_config"], vela["memory_mode"]) == ("Ethos_U55_High_End_Embedded", "Shared_Sram")
    assert vela["label"] == "Vela 5.2.0 estimate (system config Ethos_U55_High_End_Embedded, memory mode Shared_Sram)"
    assert vela["estimated_cycles"] > 0
    assert vela["estimated_ms"] == pytest.approx(1000 * vela["estimated_cycles"] / vela["clock_hz"], rel=1e-3)
    assert all(op["target"] in ("npu", "cpu") for op in summary["ops"])
    assert any("vela_cycles" in op for op in summary["ops"] if op["target"] == "npu")
    mem = summary["memory"]
    assert mem["npu_arena"] == summary["npu"]["scratch_bytes"] > 0
    assert mem["bss"] >= mem["cpu_arena"] >= mem["npu_arena"]  # Vela's arena is placed inside edgec's arena
    assert summary["linked"] is False


def test_glue_calls_the_driver_in_tflm_order(opzoo: tuple[Path, dict], opzoo_parts) -> None:
    out, _summary = opzoo
    _graph, _vela, om, part = opzoo_parts
    glue = (out / "src" / "edgec_npu.c").read_text()
    assert glue.count("ethosu_invoke_v3(") == 1 and "ethosu_reserve_driver()" in glue and "ethosu_release_driver(drv)" in glue
    for seg in part.segments:
        v = seg.vela
        body = glue.split(f"void edgec_npu_segment_{seg.index}(")[1].split("\n}\n")[0]
        assert "base[0] = (uint64_t)(uintptr_t)npu_read_only_0;" in body
        assert "base[1] = (uint64_t)(uintptr_t)npu_arena;" in body
        for k, t in enumerate(v.inputs + v.outputs):
            assert f"base[{3 + k}] = (uint64_t)(uintptr_t)(npu_arena + {om.offsets[t]});" in body
    model_c = (out / "src" / "model.c").read_text()
    arenas = {re.search(rf"edgec_npu_segment_{s.index}\(.*\(uint8_t \*\)(\w+)\);", model_c).group(1) for s in part.segments}
    (arena,) = arenas  # one Vela arena for every segment, placed by edgec's planner, 16-byte aligned
    assert int(re.search(rf"static int8_t \*const {arena} = arena \+ (\d+);", model_c).group(1)) % 16 == 0
    assert model_c.index("edgec_npu_segment_0(") < model_c.index("edgec_resize_nearest(") < model_c.index("edgec_npu_segment_1(")
    for obj in ("edgec_npu.o", "edgec_npu_data.o", "model.o"):  # compiled with -Werror by the build
        assert (out / "obj" / obj).is_file()


def test_glue_compiles_with_werror_for_the_m85(tmp_path: Path, opzoo: tuple[Path, dict]) -> None:
    out, _summary = opzoo
    target = load_target("corstone-320-u85-256")
    src = out / "src"
    cmd = ["arm-none-eabi-gcc", *target.cflags, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{src}", f"-I{src / 'ethosu'}"]
    proc = subprocess.run([*cmd, "-c", str(src / "edgec_npu.c"), "-o", str(tmp_path / "g.o")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    broken = tmp_path / "broken.c"  # the flags do reject what -Werror should reject
    broken.write_text('#include "ethosu/ethosu_driver.h"\nint f(void) { int unused; return ethosu_invoke_v3(0, 0, 0, 0, 0, 0, 0); }\n')
    proc = subprocess.run([*cmd, "-c", str(broken), "-o", str(tmp_path / "b.o")], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "unused" in proc.stderr


def test_inspect_shows_where_layers_run(opzoo: tuple[Path, dict]) -> None:
    out, _summary = opzoo
    proc = edgec("inspect", out)
    assert proc.returncode == 0, proc.stderr
    assert "runs on" in proc.stdout and " npu " in proc.stdout and " cpu " in proc.stdout
    assert "Vela 5.2.0 estimate (system config Ethos_U55_High_End_Embedded, memory mode Shared_Sram)" in proc.stdout
    assert "CPU fallback" in proc.stdout and "not linked" in proc.stdout


# -- numerics: the composition against the whole-model reference ---------------------------------------


@pytest.mark.skipif(not TOOLS, reason="needs arm-none-eabi-gcc and qemu-system-arm for the CPU step")
def test_composition_matches_whole_model_reference(opzoo_parts, tmp_path: Path) -> None:
    """NPU segments on the numpy reference (a stand-in), the CPU resize as qemu-cortex-m55 firmware."""
    from edgec.reference import run

    graph, _vela, _om, part = opzoo_parts
    assert "stand-in" in STAND_IN
    x = np.random.default_rng(13).integers(-128, 128, graph.tensors[graph.inputs[0]].shape).astype(np.int8)
    expected = run(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    got = run_partitioned(graph, part, x, qemu_cpu_runner(tmp_path))
    np.testing.assert_array_equal(got, expected)
    assert (tmp_path / "cpu_step_0" / BUILD_FILE).is_file()  # the resize really ran as firmware


# -- --npu-ops none and bad input ---------------------------------------------------------------------


def test_npu_ops_none_runs_everything_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "ds_cnn-cpu"
    summary = build_model(TFLITE / "ds_cnn.tflite", BuildOptions(target="corstone-300-u55-256", out_dir=out, npu_ops="none"))
    assert {op["target"] for op in summary["ops"]} == {"cpu"} and summary["vela"] is None
    assert not (out / "src" / "edgec_npu.c").exists() and (out / "obj" / "model.o").is_file()
    assert "mve" in summary["kernels"]["variants"]  # the M55's fastest kernels on the CPU


def test_missing_vela_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "no-vela"
    script = "import sys; sys.modules['ethosu'] = None; from edgec.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", script, "build", str(TFLITE / "resnet8.tflite"), "--target", "corstone-300-u55-128", "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    line = one_error_line(proc)
    assert "pip install 'edgec[ethosu]'" in line and "ethos-u-vela==5.2.0" in line
    assert not out.exists()


def test_onnx_model_on_npu_target_is_one_line(tmp_path: Path) -> None:
    onnx_model = REPO / "models" / "corpus" / "torch_upsample_dynamo.onnx"
    line = one_error_line(edgec("build", onnx_model, "--target", "corstone-300-u55-128", "-o", tmp_path / "x"))
    assert "int8 TFLite" in line and "--npu-ops none" in line
    assert not (tmp_path / "x").exists()


def test_vela_failure_is_one_line(tmp_path: Path) -> None:
    raw = dict(load_target("corstone-300-u55-128").raw)
    raw["npu"] = {**raw["npu"], "system_config": "No_Such_System"}
    out = tmp_path / "bad-vela"
    with pytest.raises(EdgecError) as info:
        build_model(TFLITE / "resnet8.tflite", BuildOptions(target=target_from_dict(raw), out_dir=out))
    message = str(info.value)
    assert message.startswith("Vela 5.2.0 failed") and "No_Such_System" in message and "\n" not in message
    assert not out.exists() and not list(tmp_path.iterdir())


def test_model_too_big_for_sram_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "too-big"
    with pytest.raises(EdgecError) as info:
        build_model(TFLITE / "ds_cnn.tflite", BuildOptions(target=small_target("tiny-u55", sram_bytes=32 * 1024), out_dir=out))
    message = str(info.value)
    assert "bytes of SRAM" in message and "Vela's arena" in message and "tiny-u55 has 32,768" in message
    assert "\n" not in message and not out.exists() and not list(tmp_path.iterdir())


def test_run_refuses_an_npu_build(opzoo: tuple[Path, dict], tmp_path: Path) -> None:
    out, _summary = opzoo
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 16, 16, 3), dtype=np.float32))
    line = one_error_line(edgec("run", out, "--input", x))
    assert "not linked" in line and "--reference" in line
