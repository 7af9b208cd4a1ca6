"""Firmware builds: every MCU target compiles and links the stub model, sizes
are parsed, and a model that does not fit is a clear BuildError."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgec.errors import BuildError
from edgec.firmware import (
    build_firmware,
    load_firmware_info,
    parse_size_output,
    read_model_hash,
    render_cmakelists,
    render_linker_script,
)
from edgec.kernel_archive import ARCHIVE_NAME, kernel_archive
from edgec.targets import load_target

STUB = Path(__file__).parent / "fixtures" / "stub_model"
MCU_TARGETS = ["qemu-cortex-m4", "qemu-cortex-m7", "qemu-cortex-m55", "qemu-cortex-m3", "stm32f746g-disco",
               "nrf52840-dk"]

needs_toolchain = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("cmake") is None,
    reason="arm-none-eabi-gcc and cmake are needed to build firmware",
)


@needs_toolchain
@pytest.mark.parametrize("name", MCU_TARGETS)
def test_stub_firmware_builds_for_every_mcu_target(name, tmp_path):
    info = build_firmware(STUB, name, tmp_path)
    target = load_target(name)
    assert info.elf.is_file() and info.elf.read_bytes()[:4] == b"\x7fELF"
    assert info.bin is not None and info.bin.stat().st_size > 0
    assert info.text > 1000  # vector table, server, kernels
    assert info.bss >= 1536 + 768 + 768  # arena + input + output buffers
    assert info.stack >= target.stack_bytes
    assert info.flash_used == info.text + info.data
    assert info.sram_used == info.data + info.bss + info.stack
    assert info.sram_used <= target.sram_bytes and info.flash_used <= target.flash_bytes
    assert info.model_hash == 0x5AB1E5ED
    assert load_firmware_info(tmp_path) == info
    if target.has_weights_memory:  # the stub's weights.c holds 4 bytes of bias, in their own image
        assert info.weights == 4 and info.weights_bytes == target.weights_bytes
        assert (tmp_path / "firmware-weights.bin").stat().st_size == 4
    else:
        assert info.weights == 0 and not (tmp_path / "firmware-weights.bin").exists()


def _copy_stub(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(STUB, project)
    return project


@needs_toolchain
def test_arena_too_big_for_sram_names_sram_and_bytes(tmp_path):
    project = _copy_stub(tmp_path)
    header = project / "model.h"
    header.write_text(header.read_text().replace("#define EDGEC_ARENA_SIZE 1536", "#define EDGEC_ARENA_SIZE 5000000"))
    with pytest.raises(BuildError) as info:
        build_firmware(project, "qemu-cortex-m4", tmp_path / "out")
    message = str(info.value)
    assert "bytes more SRAM than qemu-cortex-m4 has" in message
    short = int(message.split("model needs ")[1].split(" ")[0])
    assert 5000000 - 4194304 < short < 5000000 - 4194304 + 64 * 1024  # arena overflow plus runtime
    assert f"({4194304 + short} of 4194304)" in message
    assert "\n" not in message


@needs_toolchain
def test_weights_too_big_for_flash_names_flash(tmp_path):
    project = _copy_stub(tmp_path)
    weights = project / "weights.c"
    weights.write_text(weights.read_text().replace("stub_bias[4]", "stub_bias[1200000]"))
    with pytest.raises(BuildError, match=r"bytes more flash than nrf52840-dk has \(\d+ of 1048576\)"):
        build_firmware(project, "nrf52840-dk", tmp_path / "out")


@needs_toolchain
def test_weights_memory_holds_weights_and_reports_overflow(tmp_path):
    """qemu-cortex-m55 keeps code in its 512 KiB ITCM and weights in the 8 MiB QSPI region."""
    project = _copy_stub(tmp_path)
    weights = project / "weights.c"
    weights.write_text(weights.read_text().replace("stub_bias[4]", "stub_bias[1200000]"))  # 1.2 MB: more than the ITCM
    info = build_firmware(project, "qemu-cortex-m55", tmp_path / "fits")
    assert info.weights == 1_200_000 and info.flash_used < 64 * 1024
    nm = subprocess.run(["arm-none-eabi-nm", str(info.elf)], capture_output=True, text=True, check=True).stdout
    address = int(next(line.split()[0] for line in nm.splitlines() if line.endswith(" stub_bias")), 16)
    assert 0x28000000 <= address < 0x28000000 + 8 * 1024 * 1024
    weights.write_text(weights.read_text().replace("stub_bias[1200000]", "stub_bias[9000000]"))  # 9 MB
    with pytest.raises(BuildError) as err:
        build_firmware(project, "qemu-cortex-m55", tmp_path / "nofit")
    message = str(err.value)
    assert "\n" not in message
    assert re.search(r"model needs \d+ bytes more weights memory than qemu-cortex-m55 has \(\d+ of 8388608\)", message)


@needs_toolchain
def test_compile_error_is_one_line_build_error(tmp_path):
    project = _copy_stub(tmp_path)
    (project / "kernels" / "broken.c").write_text("int broken(void) { return undefined_name; }\n")
    with pytest.raises(BuildError, match="firmware build for qemu-cortex-m4 failed: .*undefined_name") as info:
        build_firmware(project, "qemu-cortex-m4", tmp_path / "out")
    assert "\n" not in str(info.value)


def test_not_a_project_and_not_an_mcu(tmp_path):
    with pytest.raises(BuildError, match="not a generated edgec project"):
        build_firmware(tmp_path, "qemu-cortex-m4", tmp_path / "out")
    with pytest.raises(BuildError, match="not an MCU"):
        build_firmware(STUB, "host", tmp_path / "out")


def test_linker_script_uses_target_memory_map():
    script = render_linker_script(load_target("stm32f746g-disco"))
    assert "ORIGIN = 0x08000000, LENGTH = 1048576" in script
    assert "ORIGIN = 0x20000000, LENGTH = 327680" in script
    assert ". = . + 8192;" in script
    m55 = render_linker_script(load_target("qemu-cortex-m55"))
    assert "ORIGIN = 0x21000000, LENGTH = 4194304" in m55
    assert "WEIGHTS (r) : ORIGIN = 0x28000000, LENGTH = 8388608" in m55
    assert m55.index(".weights :") < m55.index(".text :")  # weights.c's .rodata is claimed before .text's
    assert "> WEIGHTS" not in script and "WEIGHTS (r)" not in script


def test_parse_size_output_and_model_hash():
    text = """firmware.elf  :
section             size        addr
.text               2416           0
.data                  8   536870912
.bss                4668   536870920
.stack             16388   536875592
.ARM.attributes       46           0
.comment              30           0
Total              23556
"""
    sizes = parse_size_output(text)
    assert sizes[".text"] == 2416 and sizes[".stack"] == 16388 and "Total" not in sizes
    assert read_model_hash(STUB) == 0x5AB1E5ED


@needs_toolchain
def test_kernels_compile_once_per_target_and_sources(tmp_path, monkeypatch):
    """The kernels are compiled into a cached archive; a second firmware links it, changed kernels get their own."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGEC_CACHE_DIR", str(cache))
    project = _copy_stub(tmp_path)
    said: list[str] = []
    first = build_firmware(project, "qemu-cortex-m4", tmp_path / "a", progress=said.append)
    (archive,) = (cache / "kernels").glob(f"*/{ARCHIVE_NAME}")
    stamp = archive.stat().st_mtime_ns
    assert sum("compiling the kernels" in m for m in said) == 1
    cmake = (tmp_path / "a" / "firmware-build" / "CMakeLists.txt").read_text()
    assert str(archive) in cmake and "stub_kernels.c" not in cmake
    assert (archive.parent / "kernels" / "stub_kernels.c").is_file()  # the objects' debug info points here

    said.clear()
    again = build_firmware(project, "qemu-cortex-m4", tmp_path / "b", progress=said.append)
    assert not any("compiling the kernels" in m for m in said) and archive.stat().st_mtime_ns == stamp
    assert (again.text, again.data, again.bss) == (first.text, first.data, first.bss)

    kernel = project / "kernels" / "stub_kernels.c"
    kernel.write_text(kernel.read_text() + "\n/* changed */\n")
    build_firmware(project, "qemu-cortex-m4", tmp_path / "c")
    assert len(list((cache / "kernels").glob(f"*/{ARCHIVE_NAME}"))) == 2


def test_kernel_cache_off_compiles_the_kernels_into_the_firmware(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEC_CACHE_DIR", "off")
    assert kernel_archive(STUB / "kernels", "arm-none-eabi-gcc", "arm-none-eabi-ar", []) is None
    cmake = render_cmakelists(load_target("qemu-cortex-m4"), STUB, tmp_path / "link.ld")
    assert "stub_kernels.c" in cmake and "target_link_libraries" not in cmake


def test_kernel_cache_drops_entries_unused_for_a_month(tmp_path, monkeypatch):
    """A hit marks its entry used; adding an entry removes month-old entries and day-old staging folders."""
    import os
    import time

    from edgec import kernel_archive as cache

    monkeypatch.setenv("EDGEC_CACHE_DIR", str(tmp_path))
    entries = tmp_path / "kernels"
    old, recent, staging = entries / "old", entries / "recent", entries / ".abc.tmp"
    for folder in (old, recent, staging):
        folder.mkdir(parents=True)
    now = time.time()
    os.utime(old, (now - 31 * 86400, now - 31 * 86400))
    os.utime(recent, (now - 29 * 86400, now - 29 * 86400))
    os.utime(staging, (now - 2 * 86400, now - 2 * 86400))
    archive = cache.kernel_archive(STUB / "kernels", "cc", "ar", ["-std=c99", "-O1"])
    assert archive is not None and archive.is_file()
    assert not old.exists() and not staging.exists() and recent.exists()
    os.utime(archive.parent, (now - 31 * 86400, now - 31 * 86400))
    assert cache.kernel_archive(STUB / "kernels", "cc", "ar", ["-std=c99", "-O1"]) == archive  # a hit
    assert now - archive.parent.stat().st_mtime < 3600  # ... marks it used


def test_unwritable_kernel_cache_compiles_the_kernels_into_the_build(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("EDGEC_CACHE_DIR", str(blocked / "cache"))
    assert kernel_archive(STUB / "kernels", "cc", "ar", ["-std=c99"]) is None


def test_cache_command_lists_and_clears_the_kernel_archives(tmp_path, monkeypatch):
    """`edgec cache info` shows the archives a build left; `edgec cache clear` removes them."""
    import json

    from click.testing import CliRunner

    from edgec.cli import main

    monkeypatch.setenv("EDGEC_CACHE_DIR", str(tmp_path / "cache"))
    archive = kernel_archive(STUB / "kernels", "cc", "ar", ["-std=c99", "-O1"])
    runner = CliRunner()
    info = json.loads(runner.invoke(main, ["cache", "info", "--json"]).output)
    assert info["enabled"] and [e["path"] for e in info["entries"]] == [str(archive.parent)]
    assert info["entries"][0]["bytes"] >= archive.stat().st_size > 0
    text = runner.invoke(main, ["cache", "info"]).output
    assert "1 archive(s)" in text and archive.parent.name in text
    size = archive.stat().st_size
    cleared = json.loads(runner.invoke(main, ["cache", "clear", "--json"]).output)
    assert cleared["freed_bytes"] >= size
    assert not archive.exists()
    assert json.loads(runner.invoke(main, ["cache", "info", "--json"]).output)["entries"] == []

    monkeypatch.setenv("EDGEC_CACHE_DIR", "off")
    assert "off" in runner.invoke(main, ["cache", "info"]).output
