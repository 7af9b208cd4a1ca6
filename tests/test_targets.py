"""Target files: all load, carry what the firmware build needs, errors list names."""

import pytest

from edgec.errors import EdgecError
from edgec.targets import DEFAULT_TARGET, Target, list_targets, load_target, target_from_dict

MCU_TARGETS = ["qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m55", "qemu-cortex-m3", "stm32f746g-disco",
               "nrf52840-dk"]


def test_required_targets_exist():
    names = list_targets()
    for name in ["host", *MCU_TARGETS]:
        assert name in names


@pytest.mark.parametrize("name", list_targets())
def test_every_target_loads(name):
    target = load_target(name)
    assert isinstance(target, Target)
    assert target.name == name


@pytest.mark.parametrize("name", MCU_TARGETS)
def test_mcu_targets_have_memory_map_and_board(name):
    t = load_target(name)
    assert t.kind == "mcu"
    assert t.flash_bytes > 0 and t.sram_bytes > 0 and t.stack_bytes > 0
    assert t.clock_hz > 0
    assert any(f.startswith("-mcpu=") for f in t.cflags)
    assert t.bsp
    assert 0 < t.arena_budget < t.sram_bytes


def test_default_target_is_emulated_cortex_m4():
    t = load_target(DEFAULT_TARGET)
    assert DEFAULT_TARGET == "qemu-cortex-m4"
    assert t.qemu_machine == "mps2-an386"
    assert t.has_dsp and t.has_fpu and not t.has_mve
    assert t.counter_unit == "instructions"
    assert t.board["uart_base"] == 0x40004000


def test_qemu_machines_and_features():
    assert load_target("qemu-cortex-m7").qemu_machine == "mps2-an500"
    m55 = load_target("qemu-cortex-m55")
    assert m55.qemu_machine == "mps3-an547" and m55.has_mve
    assert m55.board["uart_base"] == 0x49303000
    m3 = load_target("qemu-cortex-m3")
    assert m3.qemu_machine == "mps2-an385" and not m3.has_dsp and not m3.has_fpu


def test_real_boards_count_cycles_and_are_not_emulated():
    stm = load_target("stm32f746g-disco")
    assert stm.cpu == "cortex-m7" and stm.sram_bytes == 320 * 1024 and stm.flash_bytes == 1024 * 1024
    nrf = load_target("nrf52840-dk")
    assert nrf.cpu == "cortex-m4" and nrf.sram_bytes == 256 * 1024 and nrf.flash_bytes == 1024 * 1024
    for t in (stm, nrf):
        assert not t.emulated
        assert t.counter_unit == "cycles"


def test_unknown_target_lists_known_names():
    with pytest.raises(EdgecError) as info:
        load_target("cortex-m99")
    message = str(info.value)
    assert "cortex-m99" in message
    for name in MCU_TARGETS:
        assert name in message
    assert "\n" not in message


def test_bad_target_data_is_a_clear_error():
    with pytest.raises(EdgecError, match="lacks the field 'cpu'"):
        target_from_dict({"name": "x", "kind": "mcu"})
    with pytest.raises(EdgecError, match="kind"):
        target_from_dict({"name": "x", "kind": "toaster", "cpu": "y"})


def test_targets_are_hashable_values():
    assert len({load_target("qemu-cortex-m4"), load_target("qemu-cortex-m4")}) == 1
    assert load_target(load_target("nrf52840-dk")).name == "nrf52840-dk"


TVM_TARGETS = ["host-tvm", "qemu-aarch64", "raspberrypi-4", "android-arm64", "jetson-orin-nano", "jetson-agx-orin"]


@pytest.mark.parametrize("name", TVM_TARGETS)
def test_linux_targets_carry_a_tvm_target_compiler_and_run_mode(name):
    t = load_target(name)
    assert t.kind in ("linux", "jetson") and t.uses_tvm
    assert t.tvm_target["kind"] in ("llvm", "cuda")
    llvm = t.tvm_target.get("host", t.tvm_target)
    assert llvm["kind"] == "llvm"
    assert llvm["mtriple"].startswith(t.arch + "-")
    assert t.cc and t.run_mode in ("local", "qemu-user", "rpc-only")
    assert t.arena_budget == 0 and t.sram_bytes == 0  # no SRAM fit check on Linux devices
    assert t.to_json()["run_mode"] == t.run_mode


def test_jetson_targets_are_cuda_sm87_on_cortex_a78ae():
    for name in ("jetson-orin-nano", "jetson-agx-orin"):
        t = load_target(name)
        assert t.kind == "jetson"
        assert t.tvm_target["kind"] == "cuda" and t.tvm_target["arch"] == "sm_87"
        # TVM's nvidia/jetson-orin-nano tag says carmel (Xavier's core): ours names the Orin core
        assert t.tvm_target["host"]["mcpu"] == "cortex-a78ae"


def test_qemu_aarch64_runs_under_qemu_user_mode():
    t = load_target("qemu-aarch64")
    assert t.run_mode == "qemu-user" and t.emulated
    assert t.run_command == ("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu")
    assert t.tvm_target["mtriple"] == "aarch64-linux-gnu" and "+neon" in t.tvm_target["mattr"]
    assert t.cc == "aarch64-linux-gnu-gcc"
    host = load_target("host-tvm")
    assert host.run_mode == "local" and not host.emulated and host.arch == "x86_64"
    assert not load_target("raspberrypi-4").emulated


def test_mcu_and_host_targets_do_not_use_tvm():
    for name in ["host", *MCU_TARGETS]:
        assert not load_target(name).uses_tvm


def test_bad_linux_target_data_is_a_clear_error():
    base = {"name": "x", "kind": "linux", "cpu": "a53", "compiler": {"cc": "gcc", "arch": "aarch64"}, "run": {"mode": "local"}}
    with pytest.raises(EdgecError, match=r"needs \[tvm\] target"):
        target_from_dict(base)
    tvm = {"target": {"kind": "llvm", "mtriple": "aarch64-linux-gnu"}}
    assert target_from_dict({**base, "tvm": tvm}).uses_tvm
    with pytest.raises(EdgecError, match="mode 'ssh'"):
        target_from_dict({**base, "tvm": tvm, "run": {"mode": "ssh"}})
    with pytest.raises(EdgecError, match="needs command"):
        target_from_dict({**base, "tvm": tvm, "run": {"mode": "qemu-user"}})
    with pytest.raises(EdgecError, match="cc and arch"):
        target_from_dict({**base, "tvm": tvm, "compiler": {"cc": "gcc", "arch": "riscv64"}})
    with pytest.raises(EdgecError, match="jetson"):
        target_from_dict({**base, "kind": "jetson", "tvm": tvm})
    with pytest.raises(EdgecError, match=r"\[tvm\] and \[run\] apply"):
        target_from_dict({"name": "x", "kind": "mcu", "cpu": "cortex-m4", "tvm": tvm})
