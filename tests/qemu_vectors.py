"""Build the kernel-vector harness for a Cortex-M target and run it in QEMU.

The host harness tests/kernels/run_vectors.c is compiled with the target's
CPU flags (targets/*.toml) together with every kernel source, the board's
reset handler (runtime/boards/common/startup.c) and tests/kernels/qemu_main.c,
and linked against newlib with semihosting (``--specs=rdimon.specs``): QEMU's
``-semihosting`` gives it fopen on the host's vectors file and its stdout.
The memory map comes from the target's linker script (edgec/firmware.py),
with the SRAM left over after data and .bss given to the heap and stack
(the harness allocates every case's tensors).

One QEMU run checks every vector: ``run_harness`` returns the result lines
by op, as the host harness prints them.

On a target with Helium (``mve`` in its features) the harness is built with
``-DEDGEC_VECTORS_MVE``: tests/kernels/vectors_mve.h routes its kernel calls
to the MVE variants and its requantization primitives to mve_requant.h.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

from edgec.firmware import BOARDS_DIR, render_linker_script
from edgec.targets import Target, load_target

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "edgec" / "runtime" / "kernels"
HARNESS = ROOT / "tests" / "kernels" / "run_vectors.c"
QEMU_MAIN = ROOT / "tests" / "kernels" / "qemu_main.c"
MVE_WRAPPERS = ROOT / "tests" / "kernels" / "vectors_mve.c"
VECTORS_NAME = "vectors.txt"  # the file qemu_main.c opens, relative to QEMU's working directory
HEAP_RESERVE = 64 * 1024  # SRAM kept for .data/.bss; the rest is heap and stack
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]
_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def tools_missing() -> str | None:
    """Why the harness cannot be built and run here, or None."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH"
    return None


def kernel_sources() -> list[Path]:
    return sorted(KERNELS.glob("*.c"))


def harness_variant(target: Target | str) -> str:
    """The kernel variant the harness checks on ``target``: "mve" on Helium targets, else "portable"."""
    return "mve" if load_target(target).has_mve else "portable"


def build_harness(target: Target | str, out_dir: Path, defines: tuple[str, ...] = ()) -> Path:
    """Compile the harness for ``target`` into ``out_dir``; returns the ELF. Raises RuntimeError on failure."""
    tgt = load_target(target)
    extra: list[Path] = []
    if harness_variant(tgt) == "mve":
        defines = (*defines, "EDGEC_VECTORS_MVE")
        extra.append(MVE_WRAPPERS)
    out_dir.mkdir(parents=True, exist_ok=True)
    script = out_dir / "link.ld"
    roomy = dataclasses.replace(tgt, stack_bytes=tgt.sram_bytes - HEAP_RESERVE)
    script.write_text(render_linker_script(roomy))
    elf = out_dir / "run_vectors.elf"
    common = [*tgt.cflags, *CFLAGS, "-I", str(KERNELS), "-I", str(BOARDS_DIR / "common"), "-I", str(HARNESS.parent)]
    common += [f"-D{d}" for d in defines]
    harness_obj = out_dir / "run_vectors.o"
    steps = [
        ["arm-none-eabi-gcc", *common, "-Dmain=run_vectors_main", "-c", str(HARNESS), "-o", str(harness_obj)],
        [
            "arm-none-eabi-gcc",
            *common,
            *(str(p) for p in kernel_sources()),
            str(QEMU_MAIN),
            *(str(p) for p in extra),
            str(BOARDS_DIR / "common" / "startup.c"),
            str(harness_obj),
            f"-T{script}",
            "-nostartfiles",
            "--specs=rdimon.specs",
            "-Wl,--gc-sections",
            "-o",
            str(elf),
        ],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"harness build for {tgt.name} failed:\n{done.stderr[-4000:]}")
    return elf


def run_harness(elf: Path, target: Target | str, vectors: Path, timeout: float = 300) -> dict[str, list[str]]:
    """Run ``elf`` in QEMU on ``vectors``: {op: result lines}, plus "__summary__": [summary, exit code]."""
    tgt = load_target(target)
    if tgt.qemu_machine is None:
        raise RuntimeError(f"target {tgt.name} is not emulated by QEMU")
    workdir = elf.parent
    link = workdir / VECTORS_NAME
    if link.resolve() != vectors.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(vectors.resolve())
    cmd = [
        "qemu-system-arm",
        "-machine", tgt.qemu_machine,
        "-nographic",
        "-monitor", "none",
        "-serial", "none",
        "-semihosting-config", "enable=on,target=native",
        *tgt.qemu_args,
        "-kernel", str(elf),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        tail = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        tail = tail[-2000:]
        raise RuntimeError(
            f"harness on {tgt.name} did not finish in {timeout} s (a fault?); last output:\n{tail}"
        ) from None
    lines = done.stdout.splitlines()
    if not lines or not _SUMMARY.match(lines[-1]):
        raise RuntimeError(f"harness on {tgt.name} crashed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    by_op: dict[str, list[str]] = defaultdict(list)
    for line in lines[:-1]:
        status, _case_id, op = line.split()[:3]
        if status not in ("PASS", "FAIL"):
            raise RuntimeError(f"harness on {tgt.name} printed an unexpected line: {line}")
        by_op[op.rstrip(":")].append(line)
    by_op["__summary__"] = [lines[-1], str(done.returncode)]
    return by_op
