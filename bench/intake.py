"""Intake of the conformance corpus: does each model, exported as users export it, build and match?

    python bench/intake.py [--json FILE] [--no-tflm]

One row per model of ``models/corpus/manifest.json`` (see
``models/export_corpus.py``), each built for ``host`` exactly as a user would
(``edgec build MODEL --target host [--calib NAME.calib.npz]``).  Columns:

* ``exporter`` / ``fmt`` / ``dtype`` -- how the model was made (the manifest);
* ``ops`` -- the number of distinct operators in the file (listed after the table);
* ``builds`` -- yes, or no (the one-line error is printed after the table, cut at
  240 characters; ``--json`` keeps it whole);
* ``check`` -- on 5 seeded inputs (random int8, or standard normal floats: the
  corpus's input distribution), through the host executable:
  int8 TFLite: ``exact k/5`` -- outputs equal to LiteRT's reference kernels
  (``BUILTIN_REF``) on k inputs; float models: ``cos X`` -- the smallest
  cosine similarity between the int8 build (calibrated with the model's
  ``.calib.npz``) and the float model run by LiteRT / onnxruntime; QDQ ONNX:
  ``cos X, N LSB`` -- against onnxruntime running the QDQ model, with the
  largest difference in output quantization steps;
* ``arena+I/O`` -- edgec's planned arena plus the input and output buffers, in
  bytes (the like-for-like figure: TFLM's arena holds the I/O tensors);
* ``TFLM`` -- (TFLite models) the smallest arena with which tflite-micro's
  Python interpreter loads and invokes the model (``bench/memory.py``'s
  bisection to 16 bytes); ``fails`` where TFLM cannot run the model at all
  (float16 weights).  TFLM runs float TFLite models in float32, edgec builds
  them in int8: for those rows the two arenas are not like for like.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgec.compiler import Build, BuildOptions, build_model, load_build
from edgec.errors import EdgecError
from edgec.runner import run_host_binary
from edgec.tensor_io import from_model_output, to_model_input

CORPUS = REPO / "models" / "corpus"
N_INPUTS = 5
ERROR_WIDTH = 240  # characters of each error shown after the table (--json keeps them whole)


@dataclass
class Row:
    model: str
    exporter: str
    format: str
    dtype: str
    ops: list[str]
    builds: bool = False
    error: str | None = None
    check: str | None = None  # "exact 5/5", "cos 0.9950", "cos 0.9990, 2 LSB"
    exact: int | None = None  # int8 TFLite: inputs with outputs equal to BUILTIN_REF
    cosine: float | None = None  # float and QDQ models: smallest cosine over the inputs
    max_lsb: float | None = None  # QDQ models: largest difference from onnxruntime, in output steps
    arena: int | None = None
    io_bytes: int | None = None
    tflm_arena: int | None = None
    tflm_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def arena_with_io(self) -> int | None:
        return None if self.arena is None else self.arena + (self.io_bytes or 0)

    def to_dict(self) -> dict:
        return {**asdict(self), "arena_with_io": self.arena_with_io}


def _bench_memory():
    """bench/memory.py as a module: its TFLM arena bisection (``smallest_tflm_arena``)."""
    spec = importlib.util.spec_from_file_location("edgec_bench_memory", REPO / "bench" / "memory.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def short_exporter(model: dict) -> str:
    e = model["exporter"]
    if e.startswith("tf.lite"):
        return "keras->tflite"
    if e.startswith("onnxruntime"):
        return "ort quantize_static"
    return "torch dynamo" if model["settings"].get("dynamo") else "torch torchscript"


def kind(model: dict) -> str:
    if model["format"] == "tflite":
        return "int8-tflite" if model["dtype"].startswith("int8") else "float"
    return "qdq" if "QDQ" in model["dtype"] else "float"


# -- references ---------------------------------------------------------------------------------------


def reference(model: dict):
    """``x -> output`` of the model's own framework: LiteRT BUILTIN_REF (TFLite) or onnxruntime (ONNX)."""
    path = CORPUS / model["file"]
    if model["format"] == "tflite":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        interpreter.allocate_tensors()
        (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()

        def run_litert(x: np.ndarray) -> np.ndarray:
            interpreter.set_tensor(inp["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(out["index"]).copy()

        return run_litert
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {model["input"]["name"]: x})[0]


def inputs_for(model: dict) -> list[np.ndarray]:
    shape = (1, *(int(d) for d in model["input"]["shape"][1:]))
    rng = np.random.default_rng(zlib.crc32(f"intake/{model['name']}".encode()))
    if model["input"]["dtype"] == "int8":
        return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(N_INPUTS)]
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(N_INPUTS)]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def run_build(build: Build, x: np.ndarray) -> np.ndarray:
    y, _ = run_host_binary(build, to_model_input(x, build.inputs[0]))
    return from_model_output(y, build.outputs[0])


def check(row: Row, model: dict, build: Build) -> None:
    ref = reference(model)
    pairs = [(run_build(build, x), ref(x)) for x in inputs_for(model)]
    which = kind(model)
    if which == "int8-tflite":
        row.exact = sum(got.shape == want.shape and np.array_equal(got, want) for got, want in pairs)
        row.check = f"exact {row.exact}/{len(pairs)}"
        return
    row.cosine = min(cosine(got, want) for got, want in pairs)
    row.check = f"cos {row.cosine:.4f}"
    if which == "qdq":
        scale = build.outputs[0].scale or 1.0
        row.max_lsb = max(float(np.max(np.abs(got.astype(np.float64) - want))) / scale for got, want in pairs)
        row.check += f", {row.max_lsb:.0f} LSB"


# -- one model ----------------------------------------------------------------------------------------------


def intake(model: dict, tmp: Path, memory) -> Row:
    row = Row(model["name"], short_exporter(model), model["format"], model["dtype"], list(model["ops"]))
    calib = CORPUS / model["calib"] if model["calib"] else None
    out = tmp / model["name"]
    try:
        build_model(CORPUS / model["file"], BuildOptions(target="host", out_dir=out, calib=calib))
        build = load_build(out)
        row.builds = True
        row.arena = build.summary["totals"]["arena_bytes"]
        row.io_bytes = sum(int(np.prod(s.shape)) for s in (*build.inputs, *build.outputs))  # int8 I/O
        check(row, model, build)
    except EdgecError as e:
        row.error = str(e)
    except Exception as e:  # noqa: BLE001 - anything but an EdgecError is a bug: report it, go on
        row.error = f"CRASH {type(e).__name__}: {e}".splitlines()[0]
    if memory is not None and model["format"] == "tflite":
        try:
            row.tflm_arena = memory.smallest_tflm_arena(CORPUS / model["file"])
        except RuntimeError as e:
            row.tflm_error = str(e)
    return row


def collect(tflm: bool) -> list[Row]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    memory = _bench_memory() if tflm else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgec-intake-") as tmp:
        for model in manifest["models"]:
            rows.append(intake(model, Path(tmp), memory))
            r = rows[-1]
            print(f"  {r.model}: {'builds' if r.builds else 'refused'}", file=sys.stderr, flush=True)
    return rows


# -- output -----------------------------------------------------------------------------------------------


def shorten(text: str, limit: int = ERROR_WIDTH) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_table(rows: list[Row]) -> str:
    head = (
        f"{'model':<36} {'exporter':<19} {'fmt':<6} {'dtype':<16} {'ops':>3} {'builds':<6} {'check':<18} "
        f"{'arena+I/O':>9} {'TFLM':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        arena = f"{r.arena_with_io:,}" if r.arena_with_io is not None else "-"
        tflm = f"{r.tflm_arena:,}" if r.tflm_arena else ("fails" if r.tflm_error else "-")
        lines.append(
            f"{r.model:<36} {r.exporter:<19} {r.format:<6} {r.dtype:<16} {len(r.ops):>3} "
            f"{'yes' if r.builds else 'no':<6} {r.check or '-':<18} {arena:>9} {tflm:>9}"
        )
    built = sum(r.builds for r in rows)
    lines.append(f"\n{built}/{len(rows)} models build")
    int8 = [r for r in rows if r.exact is not None]
    if int8:
        lines.append(f"int8 TFLite equal to BUILTIN_REF on every input: {sum(r.exact == N_INPUTS for r in int8)}/{len(int8)}")
    errors = [r for r in rows if r.error]
    if errors:
        lines.append("\nwhy not:")
        lines += [f"  {r.model}: {shorten(r.error)}" for r in errors]
    lines.append("\nops:")
    lines += [f"  {r.model}: {', '.join(r.ops)}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--no-tflm", action="store_true", help="skip the TFLite Micro arena search")
    args = parser.parse_args(argv)
    rows = collect(tflm=not args.no_tflm)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps([r.to_dict() for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
