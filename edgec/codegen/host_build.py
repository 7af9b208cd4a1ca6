"""Compile a generated C project for the host with CMake and the system cc."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from edgec.errors import BuildError
from edgec.kernel_archive import KernelCompileError, kernel_archive

HOST_BINARY = "edgec_model"


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} not found: install it (make setup installs cmake)") from None
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise BuildError(f"{what} failed: " + " | ".join(tail))


# What the project's CMakeLists.txt compiles the kernels with in a Release build (CMake's -O3 -DNDEBUG,
# then the C99 standard and the target's own options, whose -O2 wins).
HOST_KERNEL_FLAGS = ["-O3", "-DNDEBUG", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]


def build_host(project_dir: Path, bin_dir: Path) -> Path:
    """Configure and build ``project_dir`` (has a CMakeLists.txt); return the executable's path.

    The kernels come from edgec's kernel cache (``kernel_archive``) where it is on.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    cc = shutil.which("cc") or "gcc"
    try:
        archive = kernel_archive(Path(project_dir) / "kernels", cc, "ar", HOST_KERNEL_FLAGS)
    except KernelCompileError as err:
        raise BuildError(f"host compilation failed: {err}") from None
    cached = [f"-DEDGEC_KERNELS_ARCHIVE={archive}"] if archive else []
    with tempfile.TemporaryDirectory(prefix="edgec-cmake-") as tmp:
        _run(["cmake", "-S", str(project_dir), "-B", tmp, "-DCMAKE_BUILD_TYPE=Release", *cached], "CMake configure")
        _run(["cmake", "--build", tmp, "--parallel", "2"], "host compilation")
        exe = Path(tmp) / HOST_BINARY
        if not exe.is_file():
            raise BuildError(f"host build produced no {HOST_BINARY}")
        target = bin_dir / HOST_BINARY
        shutil.copy2(exe, target)
    return target
