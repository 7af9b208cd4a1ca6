"""Which kernel variant runs each layer, and the weight layout it needs.

Every op has a portable C kernel (``op_emitters``): the readable
specification, and the only choice on targets without ISA extensions
(Cortex-M3, the host).  An ISA variant is a ``VariantRule`` registered here
by its module (``dsp_emitters`` for the Armv7E-M DSP extension, the MVE
module for Helium): which op it serves, which target feature it needs, which
layer shapes it handles, how many flash bytes its weight layout adds, and
its emitter (same signature as the portable emitters, same placements, so
it works in patch stages and row-streamed segments too).

``KernelSelector`` picks, per layer, the first applicable rule among the
allowed variants (MVE before DSP before portable).  If the weight layouts
would not leave room in the target's flash (estimated before compiling: the
weights memory, or flash minus ``CODE_RESERVE_BYTES``; and if the link still
overflows, the compiler rebuilds with the growth capped below what was
missing), layers fall back to their compact layout (the next applicable rule
without extra bytes -- for conv and fully connected on the DSP extension, the
kernels on int8 weights -- else the portable kernel), largest growth first; the
build summary says so.

The chosen variant is recorded per op in build.json (``"kernel"``, the C
function, and ``"variant"``), with ``totals.layout_extra_bytes``.

Helpers for variant emitters: ``accumulator_bound`` (build-time bound of a
layer's int32 accumulators) and ``fast_requant_ok`` (when ``rq_fast`` in
runtime/kernels/requant_fast.h is exact), ``folded_bias``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgec.errors import EdgecError
from edgec.ir import Graph, Node

KERNEL_MODES = ("auto", "portable")  # `edgec build --kernels`
FORCED_MODES = ("dsp", "mve")  # library/test use: this variant wherever it applies, on any target
VARIANTS = ("portable", "dsp", "mve")
PREFERENCE = ("mve", "dsp")  # tried in this order

# Flash kept free for code, data and the runtime when deciding whether weight layouts fit
# (targets whose weights live in a memory of their own check that memory instead).
CODE_RESERVE_BYTES = 128 * 1024

# Modules that register variant rules (imported on first use).
VARIANT_MODULES = [
    "edgec.codegen.dsp_emitters",
    "edgec.codegen.dsp_depthwise",
    "edgec.codegen.dsp_elementwise",
    "edgec.codegen.mve_emitters",
]

Emitter = Callable[..., str]  # (w, names, weights, node, params, ident) -> C function name


@dataclass(frozen=True)
class VariantRule:
    """One ISA-specific kernel for one op, for the layer shapes ``applies`` accepts."""

    op: str
    variant: str  # "dsp" or "mve"
    name: str  # short rule name (docs, errors)
    applies: Callable[[Graph, Node], bool]
    emit: Emitter
    extra_bytes: Callable[[Graph, Node], int] = lambda graph, node: 0


@dataclass(frozen=True)
class Choice:
    """The variant chosen for one layer (``rule`` None: the portable emitter)."""

    variant: str = "portable"
    rule: VariantRule | None = None
    extra_bytes: int = 0


PORTABLE = Choice()
RULES: list[VariantRule] = []
_loaded = False


def register(rule: VariantRule) -> VariantRule:
    if rule.variant not in VARIANTS[1:]:
        raise ValueError(f"unknown kernel variant {rule.variant!r}")
    RULES.append(rule)
    return rule


def _load_rules() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in VARIANT_MODULES:
            importlib.import_module(module)


def allowed_variants(target, mode: str) -> tuple[str, ...]:
    """The ISA variants a build may use: by target features for ``auto``, none for ``portable``."""
    if mode == "portable":
        return ()
    if mode in FORCED_MODES:
        return (mode,)
    if mode != "auto":
        raise EdgecError(f"unknown --kernels {mode!r}: use one of {', '.join(KERNEL_MODES)}")
    if getattr(target, "kind", "mcu") not in ("mcu", "npu"):  # npu: the Cortex-M beside an Ethos-U
        return ()
    features = set(getattr(target, "features", ()))
    return tuple(v for v in PREFERENCE if v in features)


@dataclass
class KernelSelector:
    """Per-layer kernel choice for one build."""

    graph: Graph
    target: object
    mode: str = "auto"
    max_extra_bytes: int | None = None  # a cap on layout growth (from a link that did not fit)
    choices: dict[str, Choice] = field(default_factory=dict)
    compact_fallback: list[str] = field(default_factory=list)  # layers demoted to fit flash

    def __post_init__(self):
        _load_rules()
        allowed = allowed_variants(self.target, self.mode)
        for node in self.graph.nodes:
            self.choices[node.name] = self._first(node, allowed, compact=False)
        self._fit_flash(allowed)

    def _first(self, node: Node, allowed: tuple[str, ...], compact: bool) -> Choice:
        for variant in PREFERENCE:
            if variant not in allowed:
                continue
            for rule in RULES:
                if rule.op != node.op or rule.variant != variant or not rule.applies(self.graph, node):
                    continue
                extra = int(rule.extra_bytes(self.graph, node))
                if compact and extra > 0:
                    continue
                return Choice(variant, rule, extra)
        return PORTABLE

    def _weight_room(self) -> int | None:
        """Bytes left for weight-layout growth: in the target's weights memory when it has one
        (the constants go there, qemu-cortex-m55), else in flash beside the code; None: unlimited."""
        weights = sum(t.nbytes for t in self.graph.tensors.values() if t.is_const)
        separate = int(getattr(self.target, "weights_bytes", 0) or 0)
        if separate:
            return separate - weights
        flash = int(getattr(self.target, "flash_bytes", 0) or 0)
        return flash - CODE_RESERVE_BYTES - weights if flash else None

    def _fit_flash(self, allowed: tuple[str, ...]) -> None:
        room = self._weight_room()
        if self.max_extra_bytes is not None:
            room = self.max_extra_bytes if room is None else min(room, self.max_extra_bytes)
        if room is None:
            return
        by_growth = sorted(self.choices.items(), key=lambda kv: (-kv[1].extra_bytes, kv[0]))
        for name, choice in by_growth:
            if self.layout_extra_bytes <= room or choice.extra_bytes == 0:
                break
            self.choices[name] = self._first(self.graph.node(name), allowed, compact=True)
            self.compact_fallback.append(name)

    def choice(self, node: Node) -> Choice:
        return self.choices.get(node.name, PORTABLE)

    def variant_of(self, name: str) -> str:
        return self.choices.get(name, PORTABLE).variant

    @property
    def layout_extra_bytes(self) -> int:
        return sum(c.extra_bytes for c in self.choices.values())

    def describe(self) -> dict:
        """The build.json record of the kernel choice."""
        counts: dict[str, int] = {}
        for c in self.choices.values():
            counts[c.variant] = counts.get(c.variant, 0) + 1
        return {"mode": self.mode, "variants": counts, "compact_fallback": list(self.compact_fallback)}


# -- helpers for variant emitters ---------------------------------------------------------------


def max_abs_input(input_offset: int) -> int:
    """max |x + input_offset| over int8 x."""
    return max(abs(-128 + input_offset), abs(127 + input_offset))


def accumulator_bound(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, channel_axis: int) -> np.ndarray:
    """Per output channel, a bound on |acc| = |bias + sum w * (x + input_offset)| over all int8 inputs
    and any subset of taps (borders, patches): sum |w| * max|x + input_offset| + |bias|."""
    w = np.abs(np.moveaxis(np.asarray(weights, dtype=np.int64), channel_axis, 0)).reshape(
        np.asarray(weights).shape[channel_axis], -1
    )
    bound = w.sum(axis=1) * max_abs_input(input_offset)
    if bias is not None:
        bound = bound + np.abs(np.asarray(bias, dtype=np.int64).reshape(-1))
    return bound


def fast_requant_ok(bound: np.ndarray, shift) -> bool:
    """True when rq_fast (runtime/kernels/requant_fast.h) equals TFLite's MultiplyByQuantizedMultiplier
    for every channel: |acc| * 2^(max(shift, 0) + 1) < 2^31."""
    bound = np.asarray(bound, dtype=np.int64).reshape(-1)
    shift = np.broadcast_to(np.asarray(shift, dtype=np.int64).reshape(-1), bound.shape)
    left = np.maximum(shift, 0) + 1
    return bool(np.all(bound < (np.int64(1) << (31 - left))))


def folded_bias(weights: np.ndarray, bias: np.ndarray | None, input_offset: int, channel_axis: int) -> np.ndarray:
    """bias + input_offset * sum(w) per output channel (int32): the input zero-point term folded offline.
    Exact only where every tap the sum covers is computed with x = input zero point at padding."""
    w = np.moveaxis(np.asarray(weights, dtype=np.int64), channel_axis, 0)
    total = w.reshape(w.shape[0], -1).sum(axis=1) * int(input_offset)
    if bias is not None:
        total = total + np.asarray(bias, dtype=np.int64).reshape(-1)
    if np.any(np.abs(total) >= 2**31):
        raise EdgecError("a folded bias overflows int32: build with --kernels portable")
    return total.astype(np.int32)
