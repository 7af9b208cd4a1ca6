"""Apache TVM, imported only when a Linux-class target needs it.

TVM is an optional extra (``pip install 'edgec[tvm]'``): MCU and host builds
never import it, and a TVM target without it fails with one line naming the
extra.
"""

from __future__ import annotations

from typing import Any

from edgec.errors import EdgecError

EXTRA_HINT = "pip install 'edgec[tvm]'"


def require_tvm(why: str):
    """Import and return the ``tvm`` package, or raise a one-line EdgecError saying how to install it."""
    try:
        import tvm
    except ImportError as exc:
        raise EdgecError(f"{why} needs Apache TVM, which is not installed ({exc.msg}): {EXTRA_HINT}") from None
    return tvm


def resolve_target_dict(spec: dict[str, Any]) -> dict[str, Any]:
    """A target file's TVM target with ``mcpu = "native"`` replaced by the CPU LLVM detects here."""
    spec = dict(spec)
    if "host" in spec:
        spec["host"] = resolve_target_dict(spec["host"])
    if spec.get("mcpu") == "native":
        tvm = require_tvm("a native TVM target")
        spec["mcpu"] = str(tvm.target.codegen.llvm_get_system_cpu())
    return spec


def tvm_target(target) -> Any:
    """The ``tvm.target.Target`` of an edgec Linux-class target."""
    tvm = require_tvm(f"target {target.name}")
    spec = resolve_target_dict(target.tvm_target)
    try:
        return tvm.target.Target(spec)
    except (ValueError, TypeError, RuntimeError) as exc:  # how TVM reports a bad target dict
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise EdgecError(f"target {target.name}: TVM rejects its [tvm] target ({first}) — fix the target file") from None
