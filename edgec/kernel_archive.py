"""The runtime kernels of a firmware, compiled once per target and kept in a cache.

Every firmware for a target compiles the same kernel sources (the generated
project's ``kernels/*.c``, copied from ``edgec/runtime/kernels``) with the same
flags; only ``model.c`` and ``weights.c`` change from model to model.
``kernel_archive`` compiles the kernels into a static archive,
``libedgec_kernels.a``, in a cache folder named by a hash of everything the
objects depend on: the compiler and its version, the flags and definitions, and
the name and bytes of every file in the kernels folder.  A later firmware build
with the same hash links that archive instead of compiling the kernels again
(most of the compile time of a small model's firmware).

The sources are copied next to the archive before they are compiled, so the
debug information of the objects points at files that stay.  Entries are
written under a temporary name and renamed into place, so concurrent builds
never see half an entry (two may compile the same one; the last rename wins,
with identical content).

Where: ``$EDGEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/edgec``, else
``~/.cache/edgec``; ``EDGEC_CACHE_DIR=off`` compiles the kernels into every
firmware as before (``kernel_archive`` returns None).

Size: an entry is a few MB (sources, objects with debug information, the
archive).  A build that uses an entry marks it used (its folder's mtime); a
build that adds one removes the entries unused for ``UNUSED_DAYS`` days, and
staging folders a crashed build left behind.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from edgec.errors import BuildError

ARCHIVE_NAME = "libedgec_kernels.a"
COMPILE_TIMEOUT_S = 300
UNUSED_DAYS = 30
STALE_STAGING_S = 24 * 3600


class KernelCompileError(BuildError):
    """A kernel did not compile; ``log`` holds the compiler's output."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


def cache_root() -> Path | None:
    """The cache folder, or None where ``EDGEC_CACHE_DIR=off``."""
    configured = os.environ.get("EDGEC_CACHE_DIR")
    if configured:
        return None if configured.lower() == "off" else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgec"


@functools.cache
def _compiler_version(cc: str) -> str:
    """``cc --version``, asked once per process (every build keys its kernels on it)."""
    try:
        proc = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise BuildError(f"{cc} is not installed — install it (make system-deps) to build firmware") from None
    return proc.stdout


def archive_key(cc: str, flags: list[str], kernels_dir: Path) -> str:
    """The hash naming a cache entry: compiler version, flags, and every kernel file's name and bytes."""
    digest = hashlib.sha256()
    for part in [shutil.which(cc) or cc, _compiler_version(cc), *flags]:
        digest.update(part.encode() + b"\0")
    for path in sorted(p for p in kernels_dir.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def kernel_archive(kernels_dir: Path, cc: str, ar: str, flags: list[str], progress=None) -> Path | None:
    """``libedgec_kernels.a`` of the sources in ``kernels_dir`` compiled with ``cc flags``, from the cache.

    Compiles and stores it on a miss.  Returns None where the cache is off or cannot be written
    (the caller then compiles the kernels itself).
    """
    root = cache_root()
    if root is None or not any(Path(kernels_dir).glob("*.c")):
        return None
    entry = root / "kernels" / archive_key(cc, flags, kernels_dir)
    archive = entry / ARCHIVE_NAME
    if archive.is_file():
        _mark_used(entry)
        return archive
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    except OSError:  # a cache folder we cannot write: compile the kernels into the build instead
        return None
    if progress:
        progress(f"compiling the kernels for this target once (cached in {entry})")
    try:
        sources_dir = staging / "kernels"
        shutil.copytree(kernels_dir, sources_dir)
        sources = sorted(sources_dir.glob("*.c"))
        with ThreadPoolExecutor(max_workers=2) as pool:
            objects = list(pool.map(lambda src: _compile(cc, flags, src, entry), sources))
        _run([ar, "rcs", str(staging / ARCHIVE_NAME), *map(str, objects)], staging, "archive the kernels")
        _publish(staging, entry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    prune_unused(entry.parent)
    return archive


def cache_entries() -> list[dict]:
    """The kernel archives in the cache: folder, size in bytes, last use (epoch seconds), newest first."""
    entries_dir = _entries_dir()
    if entries_dir is None:
        return []
    found = []
    for entry in entries_dir.iterdir():
        if entry.name.startswith(".") or not (entry / ARCHIVE_NAME).is_file():
            continue
        found.append({"path": str(entry), "bytes": _folder_bytes(entry), "last_used": entry.stat().st_mtime})
    return sorted(found, key=lambda e: -e["last_used"])


def clear_cache() -> int:
    """Remove every kernel archive (and staging folder) from the cache; returns the bytes freed."""
    entries_dir = _entries_dir()
    if entries_dir is None:
        return 0
    freed = _folder_bytes(entries_dir)
    shutil.rmtree(entries_dir, ignore_errors=True)
    return freed


def _entries_dir() -> Path | None:
    """The folder holding the cache's entries, or None where the cache is off or holds none yet."""
    root = cache_root()
    entries_dir = root / "kernels" if root else None
    return entries_dir if entries_dir is not None and entries_dir.is_dir() else None


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _mark_used(entry: Path) -> None:
    try:
        os.utime(entry)
    except OSError:  # a read-only cache still serves its entries
        pass


def prune_unused(entries_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the entries unused for ``UNUSED_DAYS`` days and stale staging folders; returns what went."""
    now = time.time() if now is None else now
    removed = []
    for path in entries_dir.iterdir():
        try:
            age = now - path.stat().st_mtime
        except OSError:  # removed by a concurrent build
            continue
        limit = STALE_STAGING_S if path.name.startswith(".") else UNUSED_DAYS * 24 * 3600
        if path.is_dir() and age > limit:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _compile(cc: str, flags: list[str], source: Path, entry: Path) -> Path:
    obj = source.with_suffix(".o")
    # Debug information names the sources where they will stay: the entry's own copy.
    prefix_map = f"-fdebug-prefix-map={source.parent.parent}={entry}"
    _run([cc, *flags, prefix_map, "-I", str(source.parent), "-c", str(source), "-o", str(obj)], source.parent, f"compile {source.name}")
    return obj


def _publish(staging: Path, entry: Path) -> None:
    """Move a finished entry into place atomically; a concurrent build may have published it first."""
    try:
        staging.rename(entry)
    except OSError:
        if not (entry / ARCHIVE_NAME).is_file():
            raise


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} is not installed — install it (make system-deps) to build firmware") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} took longer than {COMPILE_TIMEOUT_S} s — check the toolchain") from None
    if proc.returncode != 0:
        log = proc.stdout + proc.stderr
        raise KernelCompileError(f"{what} failed: " + " | ".join(log.strip().splitlines()[-15:]), log)
