"""Linux-class targets end to end: build, deploy folder, run, profile, and the bad-input errors.

ds_cnn.tflite is built once for ``host-tvm`` (runs here) and once for
``qemu-aarch64`` (runs under qemu-aarch64 user mode).  The oracles are edgec's
numpy int8 reference on seeded inputs and, for the runner, LiteRT's reference
kernels (these builds stand in for ds_cnn in tests/test_tvm_models.py);
integers compare exactly.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_user_error, edgec

from edgec.compiler import BuildOptions, build_model, load_build
from edgec.errors import EdgecError
from edgec.reference import run as run_reference
from edgec.runner import run_linux_build

REPO = Path(__file__).resolve().parents[1]
DS_CNN = REPO / "models" / "tflite" / "ds_cnn.tflite"
QEMU_USER = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
# Runs the edgec CLI with TVM made unimportable (as if the extra were not installed).
WITHOUT_TVM = (
    "import sys; sys.modules['tvm'] = None; sys.modules['tvm_ffi'] = None\n"
    "from edgec.cli import main\n"
    "sys.argv = ['edgec', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    assert 'tvm' not in [m for m in sys.modules if sys.modules[m] is not None], 'tvm was imported'\n"
)


def seeded_inputs(build, count: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(12)
    return [rng.integers(-128, 128, size=build.inputs[0].shape, dtype=np.int8) for _ in range(count)]


def reference_outputs(build, inputs: list[np.ndarray]) -> list[np.ndarray]:
    g = build.graph
    return [run_reference(g, {g.inputs[0]: x})[g.outputs[0]] for x in inputs]


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tvm-deploy")
    out = {}
    for target in ("host-tvm", "qemu-aarch64"):
        out[target] = root / f"ds_cnn-{target}"
        build_model(DS_CNN, BuildOptions(target=target, out_dir=out[target]))
    return out


def litert_outputs(inputs: list[np.ndarray]) -> list[np.ndarray]:
    """LiteRT's reference kernels (BUILTIN_REF) on ds_cnn.tflite."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(DS_CNN), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    outputs = []
    for x in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy())
    return outputs


@pytest.mark.parametrize("target", ["host-tvm", "qemu-aarch64"])
def test_runner_is_bit_exact_on_five_inputs_in_one_run(builds, target):
    """Both oracles: the numpy reference and LiteRT's reference kernels (tests/test_tvm_models.py leaves ds_cnn here)."""
    build = load_build(builds[target])
    assert build.summary["target_kind"] == "linux" and build.summary["deploy"]["folder"] == "deploy"
    assert (build.path / "graph.json").read_bytes() == (builds["host-tvm"] / "graph.json").read_bytes()  # one graph
    inputs = seeded_inputs(build)
    result = run_linux_build(build, inputs)
    assert len(result.outputs) == 5
    for got, want, litert in zip(result.outputs, reference_outputs(build, inputs), litert_outputs(inputs), strict=True):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got.reshape(litert.shape), litert)
    assert result.emulated == (target == "qemu-aarch64")


def test_aarch64_runner_is_an_aarch64_executable(builds):
    build = load_build(builds["qemu-aarch64"])
    header = build.binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64


def _cmake_build(deploy: Path, tmp: Path, toolchain: bool) -> Path:
    src = tmp / "deploy"
    shutil.copytree(deploy, src)  # a clean copy: nothing of edgec's own build is reused
    cmd = ["cmake", "-S", str(src), "-B", str(tmp / "build")]
    if toolchain:
        cmd.append("-DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake")
    for step in (cmd, ["cmake", "--build", str(tmp / "build"), "--parallel", "2"]):
        proc = subprocess.run(step, capture_output=True, text=True, timeout=300, check=False, cwd=src)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp / "build" / "edgec_model"


@pytest.mark.parametrize("target", ["host-tvm", "qemu-aarch64"])
def test_deploy_folder_builds_with_cmake_alone(builds, target, tmp_path):
    build = load_build(builds[target])
    deploy = build.path / "deploy"
    assert {"model.h", "model.c", "runner.c", "CMakeLists.txt", "README.md"} <= {p.name for p in deploy.iterdir()}
    assert "edgec_model_run(const int8_t *input, int8_t *output)" in (deploy / "model.h").read_text()
    exe = _cmake_build(deploy, tmp_path, toolchain=target == "qemu-aarch64")
    inputs = seeded_inputs(build, 2)
    (tmp_path / "in.bin").write_bytes(b"".join(x.tobytes() for x in inputs))
    prefix = QEMU_USER if target == "qemu-aarch64" else []
    proc = subprocess.run([*prefix, str(exe), "in.bin", "out.bin"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), dtype=np.int8).reshape(2, -1)
    for row, want in zip(got, reference_outputs(build, inputs)):
        np.testing.assert_array_equal(row, want.reshape(-1))


def test_cli_run_matches_reference(builds, tmp_path):
    x = seeded_inputs(load_build(builds["qemu-aarch64"]), 1)[0]
    np.save(tmp_path / "x.npy", x)
    runs = [edgec("run", builds[t], "--input", tmp_path / "x.npy", "--json") for t in ("host-tvm", "qemu-aarch64")]
    ref = edgec("run", DS_CNN, "--reference", "--input", tmp_path / "x.npy", "--json")
    for proc in [*runs, ref]:
        assert proc.returncode == 0, proc.stderr
    outputs = [json.loads(p.stdout)["output"] for p in [*runs, ref]]
    assert outputs[0] == outputs[2] and outputs[1] == outputs[2]


def test_cli_profile_per_op_times_and_qemu_caveat(builds):
    host = edgec("profile", builds["host-tvm"], "--runs", "3", "--json")
    assert host.returncode == 0, host.stderr
    report = json.loads(host.stdout)
    ops = load_build(builds["host-tvm"]).summary["ops"]
    assert len(report["ops"]) == len(ops) and report["unit"] == "nanoseconds"
    assert all(r["count"] > 0 for r in report["ops"]) and report["check"]["bit_exact"]
    qemu = edgec("profile", builds["qemu-aarch64"])
    assert qemu.returncode == 0, qemu.stderr
    assert "QEMU" in qemu.stdout and "mean nothing" in qemu.stdout
    assert "bit-exact with the numpy reference" in qemu.stdout


# -- bad input -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rpc_refused_is_one_line(builds, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 49, 10, 1), np.int8))
    port = _free_port()  # nothing listens there
    assert_user_error(edgec("run", builds["host-tvm"], "--input", tmp_path / "x.npy", "--rpc", f"127.0.0.1:{port}"), "refused")
    assert_user_error(edgec("profile", builds["host-tvm"], "--rpc", "127.0.0.1"), "HOST:PORT")


def test_rpc_only_target_without_rpc_is_one_line(builds, tmp_path):
    fake = tmp_path / "pi"
    shutil.copytree(builds["qemu-aarch64"], fake)
    summary = json.loads((fake / "build.json").read_text())
    summary["target"] = "raspberrypi-4"
    (fake / "build.json").write_text(json.dumps(summary))
    assert_user_error(edgec("profile", fake), "--rpc HOST:PORT", "raspberrypi-4")
    assert_user_error(edgec("profile", fake, "--port", "/dev/ttyACM0"), "--rpc")


def test_tvm_target_without_tvm_installed_is_one_line(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_TVM, "build", str(DS_CNN), "--target", "qemu-aarch64", "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip
    assert_user_error(proc, "needs Apache TVM", "pip install 'edgec[tvm]'", out=out)


def test_mcu_build_never_imports_tvm(tmp_path):
    out = tmp_path / "mcu"
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_TVM, "build", str(DS_CNN), "--target", "qemu-cortex-m4", "-o", str(out)],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "bin" / "firmware.elf").is_file()


def test_rpc_unreachable_host_is_one_line(builds, monkeypatch):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737), never routed: the connect check fails, times out (3 s) or is
    # refused by a firewall, depending on the network
    proc = edgec("profile", builds["host-tvm"], "--rpc", "192.0.2.1:9090")
    line = assert_user_error(proc, "192.0.2.1:9090")
    assert any(s in line for s in ("did not answer", "cannot reach", "refused")), line

    from edgec.deploy import rpc
    from edgec.errors import DeviceError

    def silent(address, timeout):
        raise TimeoutError

    monkeypatch.setattr(rpc.socket, "create_connection", silent)
    with pytest.raises(DeviceError, match=r"did not answer within 3 s") as info:
        rpc.check_reachable(rpc.parse_rpc_address("10.1.2.3:9090"))
    assert "\n" not in str(info.value)
    for bad in ("host", "host:port", ":9090", "host:0", "tracker:h:9190", "tracker:h:x:key"):
        with pytest.raises(EdgecError, match="--rpc takes HOST:PORT"):
            rpc.parse_rpc_address(bad)
    assert rpc.parse_rpc_address("tracker:farm:9190:rpi4") == rpc.RpcAddress("farm", 9190, "rpi4")


# -- TVM RPC against a local server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def rpc_server():
    """``python -m tvm.exec.rpc_server`` on 127.0.0.1 at a free port, as on a device; yields HOST:PORT."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tvm.exec.rpc_server", "--host", "127.0.0.1", "--port", str(port), "--port-end", str(port + 1)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "the RPC server exited"
                assert time.monotonic() < deadline, "the RPC server did not start listening"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_rpc_run_and_profile_on_a_local_server(builds, rpc_server):
    build = load_build(builds["host-tvm"])
    assert build.summary["deploy"]["kernels"] == "tvm"
    inputs = seeded_inputs(build, 2)
    result = run_linux_build(build, inputs, rpc=rpc_server, profile=True)
    for got, want in zip(result.outputs, reference_outputs(build, inputs)):
        np.testing.assert_array_equal(got, want)
    kernels = [op for op in build.summary["ops"] if op["kernel"] != "memcpy"]
    assert len(result.op_ns) == len(build.summary["ops"])
    assert all(ns > 0 for ns, op in zip(result.op_ns, build.summary["ops"]) if op["kernel"] != "memcpy") and kernels
    proc = edgec("profile", builds["host-tvm"], "--rpc", rpc_server)
    assert proc.returncode == 0, proc.stderr
    assert "time_evaluator" in proc.stdout and "bit-exact with the numpy reference" in proc.stdout


def test_ops_the_back_end_lacks_are_listed_at_once(tmp_path, monkeypatch):
    """Two L2 normalizations with their TVM lowering taken away (every IR op has one today):
    one line names both, nothing is written."""
    import onnx
    from onnx import helper

    from edgec.codegen.tvm import te_ops
    from edgec.compiler import BuildOptions, build_model
    from edgec.errors import EdgecError

    monkeypatch.delitem(te_ops.LOWERINGS, "l2_normalization")
    nodes = [
        helper.make_node("LpNormalization", ["x"], ["n1"], name="first_l2norm", axis=-1, p=2),
        helper.make_node("Relu", ["n1"], ["r"]),
        helper.make_node("LpNormalization", ["r"], ["y"], name="second_l2norm", axis=-1, p=2),
    ]
    graph = helper.make_graph(
        nodes, "two_l2norms",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "two_l2norms.onnx"
    onnx.save(model, path)
    out = tmp_path / "out"
    with pytest.raises(EdgecError) as err:
        build_model(path, BuildOptions(target="host-tvm", out_dir=out))
    line = str(err.value)
    assert "\n" not in line and "cannot compile" in line, line
    assert "first_l2norm" in line and "second_l2norm" in line, line
    assert err.value.exit_code == 2
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_jetson_build_has_cpu_runner_and_cuda_kernels(tmp_path):
    """jetson-orin-nano: an aarch64 runner on the CPU kernels, CUDA source (and PTX where nvcc exists), an aarch64 RPC library."""
    import importlib.util

    import onnx
    from onnx import helper

    weights = helper.make_tensor("w", onnx.TensorProto.FLOAT, [4, 2, 1, 1], np.linspace(-1, 1, 8).tolist())
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(
        nodes, "tiny_conv",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4, 8, 8])],
        [weights],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "tiny_conv.onnx"
    onnx.save(model, path)
    np.save(tmp_path / "calib.npy", np.random.default_rng(3).uniform(-1, 1, (8, 2, 8, 8)).astype(np.float32))
    out = tmp_path / "jetson"
    proc = edgec("build", path, "--calib", tmp_path / "calib.npy", "--target", "jetson-orin-nano", "-o", out)
    if importlib.util.find_spec("edgec.codegen.tvm.cuda") is None:
        assert_user_error(proc, "no GPU schedules", out=out)
        return
    assert proc.returncode == 0, proc.stderr
    assert (out / "deploy" / "cuda" / "kernels.cu").is_file()
    assert "__global__" in (out / "deploy" / "cuda" / "kernels.cu").read_text()
    if shutil.which("nvcc") and shutil.which("ptxas"):
        assert (out / "deploy" / "cuda" / "kernels.ptx").is_file()
    for binary in (out / "bin" / "edgec_model", out / "rpc" / "kernels.so"):
        assert int.from_bytes(binary.read_bytes()[18:20], "little") == 183  # EM_AARCH64
