"""Build device firmware: generated model + profiler server + board support.

``build_firmware`` renders the linker script from the target's memory map,
writes a small CMakeLists.txt, builds it with CMake and the Arm toolchain
file (runtime/cmake/arm-none-eabi.cmake), and reads the section sizes back with
``arm-none-eabi-size``.  A model that does not fit raises BuildError naming
the memory (SRAM, flash or the weights memory) and by how many bytes it is
short.  A target with a weights memory (``Target.has_weights_memory``) keeps
its code in flash and the generated weights.c's constants in that memory.
"""

from __future__ import annotations

import json
import re
import shutil
import string
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from edgec.errors import BuildError
from edgec.kernel_archive import KernelCompileError, kernel_archive
from edgec.resources import RUNTIME_DIR
from edgec.targets import Target, load_target

BOARDS_DIR = RUNTIME_DIR / "boards"
PROFILER_DIR = RUNTIME_DIR / "profiler"
TOOLCHAIN_FILE = RUNTIME_DIR / "cmake" / "arm-none-eabi.cmake"
LINKER_TEMPLATE = BOARDS_DIR / "link.ld.in"

FIRMWARE_NAME = "firmware"
FIRMWARE_JSON = "firmware.json"
BUILD_TIMEOUT_S = 300

# Sections in flash only, in SRAM with a flash copy, and SRAM only.
FLASH_SECTIONS = (".text", ".ARM.exidx", ".ARM.extab", ".rodata")
DATA_SECTIONS = (".data",)
BSS_SECTIONS = (".bss",)
STACK_SECTIONS = (".stack",)
WEIGHTS_SECTIONS = (".weights",)  # only on targets with a weights memory

# The linker-script pieces for a weights memory: weights.c's read-only data in region WEIGHTS.
_WEIGHTS_MEMORY = "    WEIGHTS (r) : ORIGIN = {base}, LENGTH = {size}\n"
_WEIGHTS_SECTION = """    /* The generated weights.c's constants, in the target's weights memory. */
    .weights :
    {{
        *weights.c.o*(.rodata .rodata.*)
        . = ALIGN(4);
    }} > WEIGHTS

"""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class FirmwareInfo:
    """What was built and how much memory it takes."""

    elf: Path
    bin: Path | None
    text: int  # flash-only bytes: code, constants, weights
    data: int  # initialised data: in flash and copied to SRAM
    bss: int  # zeroed SRAM, including the tensor arena
    stack: int  # reserved stack
    flash_used: int  # text + data
    sram_used: int  # data + bss + stack
    flash_bytes: int  # what the target has
    sram_bytes: int
    target: str
    model_hash: int | None
    weights: int = 0  # bytes in the weights memory (0 when the weights are in flash)
    weights_bytes: int = 0  # the weights memory the target has (0: none)

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["elf"] = str(self.elf)
        out["bin"] = str(self.bin) if self.bin else None
        return out


def read_model_hash(project_dir: Path) -> int | None:
    """EDGEC_MODEL_HASH from a generated project's model.h, if present."""
    header = Path(project_dir) / "model.h"
    if not header.is_file():
        return None
    match = re.search(r"#define\s+EDGEC_MODEL_HASH\s+\(?(0[xX][0-9a-fA-F]+)[uU]?", header.read_text())
    return int(match.group(1), 16) if match else None


def render_linker_script(target: Target) -> str:
    """The linker script for ``target`` from runtime/boards/link.ld.in."""
    template = string.Template(LINKER_TEMPLATE.read_text())
    weights_memory = weights_section = ""
    if target.has_weights_memory:
        weights_memory = _WEIGHTS_MEMORY.format(base=f"0x{target.weights_base:08X}", size=target.weights_bytes)
        weights_section = _WEIGHTS_SECTION.format()
    return template.substitute(
        target=target.name,
        flash_base=f"0x{target.flash_base:08X}",
        flash_bytes=str(target.flash_bytes),
        sram_base=f"0x{target.sram_base:08X}",
        sram_bytes=str(target.sram_bytes),
        stack_bytes=str(target.stack_bytes),
        weights_memory=weights_memory,
        weights_section=weights_section,
    )


def board_sources(target: Target) -> list[Path]:
    """Startup, counter and board driver sources for ``target``."""
    bsp_dir = BOARDS_DIR / target.bsp
    counter = BOARDS_DIR / "common" / f"counter_{target.counter}.c"
    if not bsp_dir.is_dir():
        raise BuildError(f"target {target.name} names board support {target.bsp!r}, which runtime/boards lacks")
    if not counter.is_file():
        raise BuildError(f"target {target.name} names counter {target.counter!r}, which runtime/boards/common lacks")
    return [BOARDS_DIR / "common" / "startup.c", counter, *sorted(bsp_dir.glob("*.c"))]


def model_sources(project_dir: Path) -> list[Path]:
    """model.c, weights.c and kernels/*.c of a generated project."""
    project_dir = Path(project_dir)
    if not (project_dir / "model.h").is_file() or not (project_dir / "model.c").is_file():
        raise BuildError(f"{project_dir} is not a generated edgec project (no model.h/model.c) — run edgec build first")
    sources = [project_dir / "model.c"]
    if (project_dir / "weights.c").is_file():
        sources.append(project_dir / "weights.c")
    sources += sorted((project_dir / "kernels").glob("*.c"))
    return sources


def compile_definitions(target: Target) -> list[str]:
    """Preprocessor definitions the board and profiler sources need."""
    defs = [
        "EDGEC_PROFILE",
        f'EDGEC_TARGET_NAME="{target.name}"',
        f"EDGEC_CLOCK_HZ={target.clock_hz}u",
        f"EDGEC_BAUD={target.baud}u",
    ]
    for key, value in sorted(target.board.items()):
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        defs.append(f"EDGEC_{key.upper()}=0x{value:X}u")
    return defs


def _cmake_list(items: list[str]) -> str:
    return "\n    ".join(_cmake_quote(i) for i in items)


def _cmake_quote(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


WARNING_FLAGS = ["-std=c99", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]


def kernel_flags(target: Target) -> list[str]:
    """What the kernels are compiled with: the CPU flags, the warnings and the definitions."""
    return [*target.cflags, *WARNING_FLAGS, *(f"-D{d}" for d in compile_definitions(target))]


def render_cmakelists(target: Target, project_dir: Path, linker_script: Path, kernels: Path | None = None) -> str:
    """A CMakeLists.txt that builds the firmware ELF and a raw binary.

    ``kernels``: a prebuilt archive of the project's kernels (``kernel_archive``)
    to link instead of compiling ``kernels/*.c``.
    """
    sources = [p for p in model_sources(project_dir) if kernels is None or p.parent.name != "kernels"]
    sources = [str(p) for p in sources + board_sources(target)]
    sources += [str(p) for p in sorted(PROFILER_DIR.glob("*.c"))]
    includes = [str(project_dir), str(project_dir / "kernels"), str(PROFILER_DIR), str(BOARDS_DIR / "common")]
    cpu_flags = list(target.cflags)
    link = [
        f"-T{linker_script}",
        "-nostartfiles",
        "--specs=nano.specs",
        "--specs=nosys.specs",
        "-Wl,--gc-sections",
        f"-Wl,-Map={FIRMWARE_NAME}.map",
    ]
    objcopy = f"COMMAND ${{CMAKE_OBJCOPY}} -O binary {FIRMWARE_NAME}.elf {FIRMWARE_NAME}.bin"
    if target.has_weights_memory:  # one image per memory: a single one would span the gap between them
        objcopy = (
            f"COMMAND ${{CMAKE_OBJCOPY}} -O binary -R .weights {FIRMWARE_NAME}.elf {FIRMWARE_NAME}.bin\n    "
            f"COMMAND ${{CMAKE_OBJCOPY}} -O binary -j .weights {FIRMWARE_NAME}.elf {FIRMWARE_NAME}-weights.bin"
        )
    link_kernels = ""
    if kernels is not None:
        link_kernels = f"target_link_libraries({FIRMWARE_NAME}.elf PRIVATE {_cmake_quote(str(kernels))})\n"
    return f"""# Generated by edgec/firmware.py for target {target.name}; do not edit.
cmake_minimum_required(VERSION 3.20)
project(edgec_firmware C)

add_executable({FIRMWARE_NAME}.elf
    {_cmake_list(sources)}
)
target_include_directories({FIRMWARE_NAME}.elf PRIVATE
    {_cmake_list(includes)}
)
target_compile_definitions({FIRMWARE_NAME}.elf PRIVATE
    {_cmake_list(compile_definitions(target))}
)
target_compile_options({FIRMWARE_NAME}.elf PRIVATE
    {_cmake_list(cpu_flags + WARNING_FLAGS)}
)
target_link_options({FIRMWARE_NAME}.elf PRIVATE
    {_cmake_list(cpu_flags + link)}
)
set_target_properties({FIRMWARE_NAME}.elf PROPERTIES LINK_DEPENDS {_cmake_quote(str(linker_script))})
{link_kernels}add_custom_command(TARGET {FIRMWARE_NAME}.elf POST_BUILD
    {objcopy}
    VERBATIM
)
"""


def _run(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} is not installed — install it (make system-deps) to {what}") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took longer than {BUILD_TIMEOUT_S} s — check the toolchain") from None


_OVERFLOW = re.compile(r"region [`'](FLASH|SRAM|WEIGHTS)' overflowed by (\d+) bytes")
_MEMORY_NAMES = {"SRAM": "SRAM", "FLASH": "flash", "WEIGHTS": "weights memory"}


def _memory_name(region: str) -> str:
    return _MEMORY_NAMES[region]


class MemoryOverflow(BuildError):
    """The image does not fit: ``overflows`` maps the linker region (FLASH, SRAM, WEIGHTS) to the missing bytes."""

    def __init__(self, message: str, overflows: dict[str, int]):
        super().__init__(message)
        self.overflows = overflows


def _raise_link_failure(log: str, target: Target, log_path: Path) -> None:
    overflows = {region: int(n) for region, n in _OVERFLOW.findall(log)}
    if overflows:
        parts = []
        for region, short in sorted(overflows.items(), key=lambda kv: kv[0] != "SRAM"):
            have = {"SRAM": target.sram_bytes, "FLASH": target.flash_bytes, "WEIGHTS": target.weights_bytes}[region]
            parts.append(
                f"model needs {short} bytes more {_memory_name(region)} than {target.name} has ({have + short} of {have})"
            )
        raise MemoryOverflow("; ".join(parts) + " — shrink the model or its arena, or pick a bigger target", overflows)
    first = _first_error(log)
    raise BuildError(f"firmware build for {target.name} failed: {first} (full log: {log_path})")


_ERROR_LINE = re.compile(r"(: (fatal )?error: |undefined reference to|ld: |ld\.bfd: )")


def _first_error(log: str) -> str:
    """The compiler's or linker's first error line, with paths shortened."""
    for line in log.splitlines():
        if _ERROR_LINE.search(line):
            text = line.strip()
            return re.sub(r"(/[^\s:]+/)+([^/\s:]+)", r"\2", text)
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def parse_size_output(output: str) -> dict[str, int]:
    """Section name -> size from ``arm-none-eabi-size -A -d``."""
    sizes: dict[str, int] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = sizes.get(parts[0], 0) + int(parts[1])
    return sizes


def _sum(sizes: dict[str, int], names: tuple[str, ...]) -> int:
    return sum(size for name, size in sizes.items() if any(name == n or name.startswith(n + ".") for n in names))


def check_fit(info: FirmwareInfo, target: Target) -> None:
    """BuildError if the firmware needs more SRAM or flash than the target has."""
    problems = []
    if target.sram_bytes and info.sram_used > target.sram_bytes:
        short = info.sram_used - target.sram_bytes
        problems.append(
            f"model needs {short} bytes more SRAM than {target.name} has ({info.sram_used} of {target.sram_bytes})"
        )
    if target.flash_bytes and info.flash_used > target.flash_bytes:
        short = info.flash_used - target.flash_bytes
        problems.append(
            f"model needs {short} bytes more flash than {target.name} has ({info.flash_used} of {target.flash_bytes})"
        )
    if target.weights_bytes and info.weights > target.weights_bytes:
        short = info.weights - target.weights_bytes
        problems.append(
            f"model needs {short} bytes more weights memory than {target.name} has "
            f"({info.weights} of {target.weights_bytes})"
        )
    if problems:
        raise BuildError("; ".join(problems) + " — shrink the model or its arena, or pick a bigger target")


def build_firmware(
    project_dir: Path | str,
    target: Target | str,
    out_dir: Path | str,
    progress: Progress | None = None,
) -> FirmwareInfo:
    """Compile a generated project into firmware for an MCU target.

    Writes ``out_dir/firmware.elf``, ``firmware.bin``, ``firmware.map`` and
    ``firmware.json`` (the FirmwareInfo); the CMake tree lives in
    ``out_dir/firmware-build``.
    """
    tgt = load_target(target)
    if tgt.kind != "mcu":
        raise BuildError(f"target {tgt.name} is a {tgt.kind} target, not an MCU — firmware is only built for MCUs")
    project = Path(project_dir).resolve()
    out = Path(out_dir).resolve()
    say = progress or (lambda _msg: None)
    work = out / "firmware-build"
    build = work / "build"
    work.mkdir(parents=True, exist_ok=True)

    linker_script = work / "link.ld"
    linker_script.write_text(render_linker_script(tgt))
    log_path = work / "build.log"
    try:
        kernels = kernel_archive(project / "kernels", "arm-none-eabi-gcc", "arm-none-eabi-ar", kernel_flags(tgt), say)
    except KernelCompileError as err:
        log_path.write_text(err.log)
        _raise_link_failure(err.log, tgt, log_path)
    (work / "CMakeLists.txt").write_text(render_cmakelists(tgt, project, linker_script, kernels))

    say(f"configuring firmware for {tgt.name}")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    configure = _run(
        ["cmake", "-S", str(work), "-B", str(build), *generator, f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN_FILE}"],
        work,
        "configure the firmware build",
    )
    if configure.returncode != 0:
        log_path.write_text(configure.stdout + configure.stderr)
        raise BuildError(f"configuring the firmware build failed (cmake); full log: {log_path}")

    say(f"compiling firmware for {tgt.name}")
    compiled = _run(["cmake", "--build", str(build), "-j", "2"], work, "build the firmware")
    log_path.write_text(compiled.stdout + compiled.stderr)
    if compiled.returncode != 0:
        _raise_link_failure(compiled.stdout + compiled.stderr, tgt, log_path)

    elf = out / f"{FIRMWARE_NAME}.elf"
    shutil.copyfile(build / f"{FIRMWARE_NAME}.elf", elf)
    binary: Path | None = None
    if (build / f"{FIRMWARE_NAME}.bin").is_file():
        binary = out / f"{FIRMWARE_NAME}.bin"
        shutil.copyfile(build / f"{FIRMWARE_NAME}.bin", binary)
    if (build / f"{FIRMWARE_NAME}-weights.bin").is_file():
        shutil.copyfile(build / f"{FIRMWARE_NAME}-weights.bin", out / f"{FIRMWARE_NAME}-weights.bin")
    if (build / f"{FIRMWARE_NAME}.map").is_file():
        shutil.copyfile(build / f"{FIRMWARE_NAME}.map", out / f"{FIRMWARE_NAME}.map")

    sized = _run(["arm-none-eabi-size", "-A", "-d", str(elf)], out, "measure the firmware")
    if sized.returncode != 0:
        raise BuildError(f"arm-none-eabi-size failed on {elf}: {sized.stderr.strip()}")
    sizes = parse_size_output(sized.stdout)
    text, data = _sum(sizes, FLASH_SECTIONS), _sum(sizes, DATA_SECTIONS)
    bss, stack = _sum(sizes, BSS_SECTIONS), _sum(sizes, STACK_SECTIONS)
    info = FirmwareInfo(
        elf=elf,
        bin=binary,
        text=text,
        data=data,
        bss=bss,
        stack=stack,
        flash_used=text + data,
        sram_used=data + bss + stack,
        flash_bytes=tgt.flash_bytes,
        sram_bytes=tgt.sram_bytes,
        target=tgt.name,
        model_hash=read_model_hash(project),
        weights=_sum(sizes, WEIGHTS_SECTIONS),
        weights_bytes=tgt.weights_bytes,
    )
    check_fit(info, tgt)
    (out / FIRMWARE_JSON).write_text(json.dumps(info.to_json(), indent=2) + "\n")
    weights = f", {info.weights} bytes weights memory" if tgt.has_weights_memory else ""
    say(f"firmware: {info.flash_used} bytes flash, {info.sram_used} bytes SRAM{weights}")
    return info


def load_firmware_info(build_dir: Path | str) -> FirmwareInfo | None:
    """The FirmwareInfo that build_firmware wrote into ``build_dir``, if any."""
    path = Path(build_dir) / FIRMWARE_JSON
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    raw["elf"] = Path(raw["elf"])
    raw["bin"] = Path(raw["bin"]) if raw.get("bin") else None
    return FirmwareInfo(**raw)
