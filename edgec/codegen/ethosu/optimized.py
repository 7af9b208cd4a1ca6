"""Read Vela's optimized .tflite: which ops became NPU segments, which stayed on the CPU.

Each NPU segment is one ``CUSTOM "ethos-u"`` operator whose inputs are
``[command_stream, read_only, scratch, scratch_fast, IFMs...]`` and whose
outputs are its OFMs. The command stream and read-only data (encoded weights)
are constant buffers; the scratch tensors have no data: their size is the
area Vela plans for the segment's feature maps. Vela also writes an
``OfflineMemoryAllocation`` metadata buffer (``[version, subgraphs, tensor
count, offset per tensor]``, -1 = not placed) that fixes where the IFMs and
OFMs sit inside the scratch area: the command stream addresses them there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.errors import BuildError
from edgec.frontends.tflite.reader import TfliteModel, read_model

ETHOSU_CODE = "ethos-u"


@dataclass
class NpuSegment:
    """One ``ethos-u`` custom op of the optimized model."""

    index: int  # position among the optimized model's operators
    command_stream: int  # tensor indices into OptimizedModel.tensors
    read_only: int
    scratch: int
    scratch_fast: int
    inputs: list[int]
    outputs: list[int]


@dataclass
class CpuOp:
    """An operator Vela left for the CPU."""

    index: int
    op_name: str
    inputs: list[int]
    outputs: list[int]


@dataclass
class OptimizedModel:
    model: TfliteModel
    steps: list[NpuSegment | CpuOp]  # in execution order
    offsets: dict[int, int]  # tensor index -> offset in the scratch area (OfflineMemoryAllocation)

    @property
    def segments(self) -> list[NpuSegment]:
        return [s for s in self.steps if isinstance(s, NpuSegment)]

    @property
    def cpu_ops(self) -> list[CpuOp]:
        return [s for s in self.steps if isinstance(s, CpuOp)]

    def name(self, index: int) -> str:
        return self.model.tensors[index].name

    def data(self, index: int) -> bytes:
        t = self.model.tensors[index]
        if t.data is None:
            raise BuildError(f"Vela's optimized model has no data for {t.name!r}: rebuild")
        return np.ascontiguousarray(t.data).tobytes()

    def size(self, index: int) -> int:
        """Bytes of a tensor (the scratch tensors are 1-D uint8 of the area's size)."""
        t = self.model.tensors[index]
        return int(np.prod(t.shape)) * (np.dtype(t.dtype).itemsize if t.dtype else 1)


def read_optimized(raw: bytes) -> OptimizedModel:
    model = read_model(raw)
    if model.subgraph_count != 1:
        raise BuildError(f"Vela's optimized model has {model.subgraph_count} subgraphs, edgec reads one: report this model")
    steps: list[NpuSegment | CpuOp] = []
    for op in model.operators:
        if op.op_name == "CUSTOM" and op.custom_code == ETHOSU_CODE:
            if len(op.inputs) < 5:
                raise BuildError(f"Vela's ethos-u operator {op.index} has {len(op.inputs)} inputs, expected at least 5")
            cms, ro, scratch, fast, *ifms = op.inputs
            steps.append(NpuSegment(op.index, cms, ro, scratch, fast, list(ifms), list(op.outputs)))
        else:
            steps.append(CpuOp(op.index, op.op_name, [i for i in op.inputs if i >= 0], list(op.outputs)))
    return OptimizedModel(model, steps, _offline_offsets(raw, len(model.tensors)))


def _offline_offsets(raw: bytes, tensor_count: int) -> dict[int, int]:
    import tflite

    m = tflite.Model.GetRootAsModel(raw, 0)
    for i in range(m.MetadataLength()):
        meta = m.Metadata(i)
        if meta.Name() != b"OfflineMemoryAllocation":
            continue
        words = np.frombuffer(m.Buffers(meta.Buffer()).DataAsNumpy().tobytes(), dtype="<i4")
        if len(words) != 3 + tensor_count or words[1] != 1:
            raise BuildError("Vela's OfflineMemoryAllocation metadata does not match its tensors: report this model")
        return {k: int(v) for k, v in enumerate(words[3:]) if v >= 0}
    raise BuildError("Vela's optimized model lacks OfflineMemoryAllocation metadata: check the ethos-u-vela version")
