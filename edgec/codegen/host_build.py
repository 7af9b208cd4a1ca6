"""Compile a generated C project for the host with CMake and the system cc."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from edgec.errors import BuildError

HOST_BINARY = "edgec_model"


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} not found: install it (make setup installs cmake)") from None
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise BuildError(f"{what} failed: " + " | ".join(tail))


def build_host(project_dir: Path, bin_dir: Path) -> Path:
    """Configure and build ``project_dir`` (has a CMakeLists.txt); return the executable's path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgec-cmake-") as tmp:
        _run(["cmake", "-S", str(project_dir), "-B", tmp, "-DCMAKE_BUILD_TYPE=Release"], "CMake configure")
        _run(["cmake", "--build", tmp, "--parallel", "2"], "host compilation")
        exe = Path(tmp) / HOST_BINARY
        if not exe.is_file():
            raise BuildError(f"host build produced no {HOST_BINARY}")
        target = bin_dir / HOST_BINARY
        shutil.copy2(exe, target)
    return target
