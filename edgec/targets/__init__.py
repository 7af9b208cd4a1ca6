"""Deployment targets: one TOML file per target in ``edgec/targets/``.

A target says what the code runs on (kind, cpu, ISA features), how much
memory it has and where (used for the linker script and the fit check), how
to compile for it, which board support package (``runtime/boards/<bsp>``)
drives its UART and cycle counter, and for emulated boards which QEMU machine
runs it.

Linux-class targets (kind ``linux`` or ``jetson``) are compiled by the TVM back
end instead: their files carry the TVM target (``[tvm]``, dict form), the C
cross compiler for the runner (``[compiler]``) and how edgec runs a build
(``[run]``: ``local``, ``qemu-user`` or ``rpc-only``).

NPU targets (kind ``npu``: a Cortex-M core next to an Arm Ethos-U) add an
``[npu]`` table: the accelerator, its MACs per cycle and the Vela config file,
system config and memory mode passed to Vela (docs/ethosu.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgec.errors import EdgecError
from edgec.resources import TARGETS_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_TARGET = "qemu-cortex-m4"


KNOWN_KINDS = ("mcu", "host", "linux", "jetson", "npu", "mobile")
TVM_KINDS = ("linux", "jetson")  # compiled by the TVM back end (edgec/deploy/)
RUN_MODES = ("local", "qemu-user", "rpc-only")
COUNTER_UNITS = {"dwt": "cycles", "systick": "instructions"}


@dataclass(frozen=True)
class Target:
    """Everything edgec needs to know about one deployment target."""

    name: str
    kind: str
    cpu: str
    description: str = ""
    features: tuple[str, ...] = ()
    clock_hz: int = 0
    bsp: str = ""
    flash_base: int = 0
    flash_bytes: int = 0
    sram_base: int = 0
    sram_bytes: int = 0
    weights_base: int = 0  # a separate memory for the weights (0 bytes: they stay in flash)
    weights_bytes: int = 0
    stack_bytes: int = 0
    reserve_bytes: int = 0
    cflags: tuple[str, ...] = ()
    cc: str = ""
    ldflags: tuple[str, ...] = ()
    board: dict[str, Any] = field(default_factory=dict, hash=False)
    qemu_machine: str | None = None
    qemu_args: tuple[str, ...] = ()
    baud: int = 115200
    arch: str = ""  # linux/jetson: the runner's architecture (x86_64, aarch64)
    tvm_target: dict[str, Any] = field(default_factory=dict, hash=False)  # linux/jetson: TVM target, dict form
    run_mode: str = ""  # linux/jetson: local | qemu-user | rpc-only
    run_command: tuple[str, ...] = ()  # qemu-user: the emulator command the runner is prefixed with
    npu: dict[str, Any] = field(default_factory=dict, hash=False)  # kind npu: accelerator and Vela settings
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def emulated(self) -> bool:
        """True when the target runs in QEMU (system or user mode) rather than on real hardware."""
        return self.qemu_machine is not None or self.run_mode == "qemu-user"

    @property
    def uses_tvm(self) -> bool:
        """True for Linux-class targets, which the TVM back end compiles."""
        return self.kind in TVM_KINDS

    @property
    def runs_where(self) -> str:
        """How edgec runs a build, in words (`edgec targets`)."""
        if self.qemu_machine:
            return self.qemu_machine
        if self.run_mode == "qemu-user":
            return " ".join(self.run_command[:1]) + " (user mode)"
        if self.run_mode == "local" or self.kind == "host":
            return "this machine"
        if self.run_mode == "rpc-only":
            return "device via --rpc"
        if self.kind == "npu":
            return "compile-only (no Ethos-U emulator here)"
        return "hardware" if self.kind == "mcu" else "-"

    @property
    def has_dsp(self) -> bool:
        return "dsp" in self.features

    @property
    def has_fpu(self) -> bool:
        return "fpu" in self.features

    @property
    def has_mve(self) -> bool:
        return "mve" in self.features

    @property
    def has_weights_memory(self) -> bool:
        """True when the weights live in their own memory region rather than in flash with the code."""
        return self.weights_bytes > 0

    @property
    def counter(self) -> str:
        """Which on-chip counter the profiler reads: ``dwt`` or ``systick``."""
        return str(self.board.get("counter", "dwt"))

    @property
    def counter_unit(self) -> str:
        """What the profiler's counts mean: ``cycles`` or ``instructions``."""
        return COUNTER_UNITS.get(self.counter, "cycles")

    @property
    def arena_budget(self) -> int:
        """SRAM bytes left for the tensor arena (0 = unlimited)."""
        if self.sram_bytes == 0:
            return 0
        return max(0, self.sram_bytes - self.stack_bytes - self.reserve_bytes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary (used by ``edgec targets --json``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "cpu": self.cpu,
            "description": self.description,
            "features": list(self.features),
            "clock_hz": self.clock_hz,
            "flash_bytes": self.flash_bytes,
            "sram_bytes": self.sram_bytes,
            "weights_bytes": self.weights_bytes,
            "emulated": self.emulated,
            "qemu_machine": self.qemu_machine,
            "counter_unit": self.counter_unit if self.kind == "mcu" else None,
            "runs_on": self.runs_where,
            **({"arch": self.arch, "tvm_target": self.tvm_target, "run_mode": self.run_mode} if self.uses_tvm else {}),
            **({"npu": self.npu} if self.npu else {}),
        }


def _target_path(name: str) -> Path:
    return TARGETS_DIR / f"{name}.toml"


def list_targets() -> list[str]:
    """Names of all known targets, sorted."""
    return sorted(p.stem for p in TARGETS_DIR.glob("*.toml"))


def _int(section: dict[str, Any], key: str, default: int = 0) -> int:
    value = section.get(key, default)
    if not isinstance(value, int):
        raise EdgecError(f"target field {key} must be an integer, got {value!r} — fix the target file")
    return value


def target_from_dict(data: dict[str, Any], source: str = "target") -> Target:
    """Build a ``Target`` from parsed TOML (raises EdgecError on bad fields)."""
    try:
        name = str(data["name"])
        kind = str(data["kind"])
        cpu = str(data["cpu"])
    except KeyError as exc:
        raise EdgecError(f"{source} lacks the field {exc.args[0]!r} — add it to the target file") from None
    if kind not in KNOWN_KINDS:
        raise EdgecError(f"{source}: kind {kind!r} is not one of {', '.join(KNOWN_KINDS)} — fix the target file")
    memory = data.get("memory", {})
    compiler = data.get("compiler", {})
    emulator = data.get("emulator", {})
    serial = data.get("serial", {})
    run = data.get("run", {})
    tvm = data.get("tvm", {})
    if kind in TVM_KINDS:
        _check_tvm_fields(source, kind, compiler, run, tvm)
    elif "tvm" in data or "run" in data:
        raise EdgecError(f"{source}: [tvm] and [run] apply to kinds {' and '.join(TVM_KINDS)}, not {kind!r} — fix the target file")
    npu = data.get("npu", {})
    if kind == "npu":
        _check_npu_fields(source, npu)
    elif npu:
        raise EdgecError(f"{source}: [npu] applies to kind \"npu\", not {kind!r} — fix the target file")
    return Target(
        name=name,
        kind=kind,
        cpu=cpu,
        description=str(data.get("description", "")),
        features=tuple(str(f) for f in data.get("features", [])),
        clock_hz=_int(data, "clock_hz"),
        bsp=str(data.get("bsp", "")),
        flash_base=_int(memory, "flash_base"),
        flash_bytes=_int(memory, "flash_bytes"),
        sram_base=_int(memory, "sram_base"),
        sram_bytes=_int(memory, "sram_bytes"),
        weights_base=_int(memory, "weights_base"),
        weights_bytes=_int(memory, "weights_bytes"),
        stack_bytes=_int(memory, "stack_bytes"),
        reserve_bytes=_int(memory, "reserve_bytes"),
        cflags=tuple(str(f) for f in compiler.get("cflags", [])),
        cc=str(compiler.get("cc", "")),
        ldflags=tuple(str(f) for f in compiler.get("ldflags", [])),
        board=dict(data.get("board", {})),
        qemu_machine=str(emulator["machine"]) if "machine" in emulator else None,
        qemu_args=tuple(str(a) for a in emulator.get("args", [])),
        baud=_int(serial, "baud", 115200),
        arch=str(compiler.get("arch", "")),
        tvm_target=dict(tvm.get("target", {})),
        run_mode=str(run.get("mode", "")),
        run_command=tuple(str(a) for a in run.get("command", [])),
        npu=dict(npu),
        raw=data,
    )


def _check_tvm_fields(source: str, kind: str, compiler: dict, run: dict, tvm: dict) -> None:
    """A linux/jetson target needs a TVM target, a C compiler for its runner and a run mode."""
    target = tvm.get("target")
    if not isinstance(target, dict) or "kind" not in target:
        raise EdgecError(f"{source}: a {kind} target needs [tvm] target = {{kind = \"llvm\", ...}} — fix the target file")
    if kind == "jetson" and (target["kind"] != "cuda" or not isinstance(target.get("host"), dict)):
        raise EdgecError(f"{source}: a jetson target's [tvm] target is kind \"cuda\" with a host llvm target — fix the target file")
    if not compiler.get("cc") or compiler.get("arch") not in ("x86_64", "aarch64"):
        raise EdgecError(f"{source}: [compiler] needs cc and arch (x86_64 or aarch64) — fix the target file")
    mode = run.get("mode")
    if mode not in RUN_MODES:
        raise EdgecError(f"{source}: [run] mode {mode!r} is not one of {', '.join(RUN_MODES)} — fix the target file")
    if mode == "qemu-user" and not run.get("command"):
        raise EdgecError(f"{source}: [run] mode \"qemu-user\" needs command = [\"qemu-aarch64\", ...] — fix the target file")


NPU_FIELDS = ("accelerator", "macs_per_cycle", "config_file", "system_config", "memory_mode")


def _check_npu_fields(source: str, npu: dict) -> None:
    """An NPU target names its accelerator and every Vela setting explicitly (Vela's defaults differ per accelerator)."""
    missing = [k for k in NPU_FIELDS if k not in npu]
    if missing:
        raise EdgecError(f"{source}: [npu] lacks {', '.join(missing)} — add them to the target file")
    if not isinstance(npu["macs_per_cycle"], int) or npu["macs_per_cycle"] <= 0:
        raise EdgecError(f"{source}: [npu] macs_per_cycle must be a positive integer — fix the target file")


def load_target(name: str | Target) -> Target:
    """Load ``targets/<name>.toml``; unknown names raise EdgecError listing the known ones."""
    if isinstance(name, Target):
        return name
    path = _target_path(name)
    if "/" in name or not path.is_file():
        known = ", ".join(list_targets())
        raise EdgecError(f"unknown target {name!r} — choose one of: {known}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise EdgecError(f"target file {path} is not valid TOML ({exc}) — fix it") from None
    return target_from_dict(data, source=f"target file {path.name}")
