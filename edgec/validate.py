"""`edgec validate`: run a build on a whole data set and measure it.

The data file is an ``.npz`` with ``x`` (N inputs stacked on axis 0, in the
source model's dtype and layout, as `edgec run --input` takes one) and
optionally ``y`` (N integer labels).  All N inputs run in one process (host
binary, Linux runner) or one device session (QEMU or a board over serial).

The report (``--json`` keys, stable):

* ``samples``: N.
* ``top1`` / ``correct`` (with labels): the build's top-1 accuracy against ``y``.
* ``exact``: how many outputs are bit-exact with the build's own numpy
  reference (the graph in the build folder, run as `edgec profile` checks it);
  ``max_abs_diff``: the largest integer difference over all outputs.
* ``float`` (when the build came from a float model whose file is still
  there, unchanged): ``agreement`` (fraction of samples whose top-1 class
  matches the float model's), ``cosine`` / ``cosine_min`` (mean and smallest
  cosine similarity of the dequantized outputs to the float outputs) and
  ``top1`` (the float model's accuracy, with labels); otherwise ``null`` and
  ``float_note`` says why.
* ``model``, ``target``, ``where`` (where it ran), ``data`` (the file).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from edgec.compiler import Build, load_build
from edgec.errors import EdgecError
from edgec.lowering import file_hash
from edgec.progress import QUIET, Progress
from edgec.tensor_io import IOSpec, from_model_output, io_specs, to_model_input

DATA_HINT = "an .npz with x (N inputs) and optional y (N labels), e.g. numpy.savez(FILE, x=x, y=y)"
PROGRESS_EVERY = 100  # samples between progress notes in per-sample loops


def load_data(path: Path, spec: IOSpec) -> tuple[np.ndarray, np.ndarray | None]:
    """The data file's samples (axis 0, each shaped like one model input) and labels; EdgecError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise EdgecError(f"data file {path} does not exist: pass {DATA_HINT}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise EdgecError(f"cannot read {path} ({e.__class__.__name__}): pass {DATA_HINT}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise EdgecError(f"{path} is a single .npy array, not an .npz archive: pass {DATA_HINT}")
    with archive:
        if "x" not in archive.files:
            raise EdgecError(f"{path} has no array 'x' (it has {', '.join(archive.files) or 'none'}): pass {DATA_HINT}")
        try:
            x = archive["x"]
            y = archive["y"] if "y" in archive.files else None
        except (ValueError, OSError, zipfile.BadZipFile) as e:
            raise EdgecError(f"cannot read the arrays of {path} ({e}): pass {DATA_HINT}") from None
    return _samples(x, spec, path), _labels(y, len(x), path)


def _samples(x: np.ndarray, spec: IOSpec, path: Path) -> np.ndarray:
    """``x`` as [N, *one input's shape] (the source layout or the IR's), dtype checked."""
    if not (np.issubdtype(x.dtype, np.floating) or str(x.dtype) == spec.dtype):
        raise EdgecError(f"{path}: x has dtype {x.dtype}, the model takes float32 or {spec.dtype}: convert x (e.g. x.astype(np.float32))")
    shapes = {tuple(spec.user_shape), tuple(spec.shape)}
    if x.ndim >= 1 and tuple(x.shape[1:]) in shapes:
        samples = x
    elif spec.shape and spec.shape[0] == 1 and tuple(x.shape[1:]) in {s[1:] for s in shapes}:
        samples = x[:, None]  # N inputs of batch 1 stacked without their batch axis
    else:
        want = " or ".join(sorted(f"[N, {', '.join(map(str, s[1:]))}]" for s in shapes))
        raise EdgecError(f"{path}: x has shape {list(x.shape)}, expected {want} for input {spec.name!r}: reshape x")
    if len(samples) == 0:
        raise EdgecError(f"{path}: x holds no samples: pass at least one input")
    return samples


def _labels(y: np.ndarray | None, count: int, path: Path) -> np.ndarray | None:
    if y is None:
        return None
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise EdgecError(f"{path}: y must be a 1-D array of integer class labels, got {y.dtype}{list(y.shape)}: pass y as N integers")
    if len(y) != count:
        raise EdgecError(f"{path}: y has {len(y)} labels for {count} samples in x: pass one label per sample")
    return y.astype(np.int64)


def counted(items, what: str, progress: Progress):
    """Iterate ``items``, noting ``what: i/N samples`` every PROGRESS_EVERY samples and at the end."""
    total = len(items)
    progress.note(f"{what}: {total} samples")
    for i, item in enumerate(items):
        yield item
        if (i + 1) % PROGRESS_EVERY == 0 or i + 1 == total:
            progress.note(f"{what}: {i + 1}/{total} samples done")


def run_all(build: Build, inputs: list[np.ndarray], port: str | None, rpc: str | None, progress: Progress) -> list[np.ndarray]:
    """Every int8 input through the build, in one process or one device session; int8 outputs in order."""
    from edgec.runner import run_inputs, where_it_runs

    where = where_it_runs(build, port, rpc)
    with progress.step(f"running {len(inputs)} samples on {where}"):
        return run_inputs(build, inputs, port, rpc, track=lambda xs: counted(xs, f"running on {where} (one session)", progress))


def reference_outputs(build: Build, inputs: list[np.ndarray], progress: Progress) -> list[np.ndarray]:
    """The build's own numpy reference on every input, as `edgec profile` checks it (`run_mixed` for mixed builds)."""
    out = build.graph.outputs[0]
    return [build.reference_outputs(x)[out] for x in counted(inputs, "the numpy reference", progress)]


def source_float_graph(build: Build):
    """(float graph of the source model, None) or (None, why there is none)."""
    from edgec.lowering import lower_model

    path_text = build.summary.get("model_path")
    if not path_text:
        return None, "build.json does not record the source model's path (built by an older edgec): rebuild to compare with the float model"
    path = Path(path_text)
    if not path.is_file():
        return None, f"the source model {path} is gone: no float comparison"
    if file_hash(path) != build.summary.get("model_hash"):
        return None, f"the source model {path} changed since the build: no float comparison"
    shapes = {name: tuple(shape) for name, shape in build.summary.get("input_shapes", {}).items()}
    graph = lower_model(path, quantize=False, input_shapes=shapes or None).graph
    if not graph.is_float():
        return None, f"the source model {path.name} is not a float model: no float comparison"
    return graph, None


def float_outputs(graph, samples: np.ndarray, in_spec: IOSpec, progress: Progress) -> list[np.ndarray]:
    """The float model's outputs (flattened) on every sample; int8 samples are dequantized first."""
    from edgec.reference import run as run_reference

    spec = io_specs(graph, graph.inputs)[0]
    out_spec = io_specs(graph, graph.outputs)[0]
    outputs = []
    for s in counted(samples, "the float model", progress):
        if not np.issubdtype(s.dtype, np.floating):
            s = ((s.astype(np.int32) - (in_spec.zero_point or 0)) * np.float32(in_spec.scale)).astype(np.float32)
        x = to_model_input(s, spec)
        y = run_reference(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        outputs.append(from_model_output(y, out_spec).reshape(-1).astype(np.float64))
    return outputs


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(np.dot(a, b) / norm)


def validate_build(
    out_dir: Path,
    data_path: Path,
    port: str | None = None,
    rpc: str | None = None,
    progress: Progress = QUIET,
) -> dict:
    build = load_build(out_dir)
    in_spec, out_spec = build.inputs[0], build.outputs[0]
    samples, labels = load_data(data_path, in_spec)
    inputs = [to_model_input(s, in_spec) for s in samples]
    outputs = run_all(build, inputs, port, rpc, progress)
    reference = reference_outputs(build, inputs, progress)
    diffs = [int(np.max(np.abs(o.astype(np.int32) - r.astype(np.int32)), initial=0)) for o, r in zip(outputs, reference)]
    predicted = np.array([int(np.argmax(o.reshape(-1))) for o in outputs])
    report: dict = {
        "model": build.summary["model"],
        "target": build.summary["target"],
        "where": _where(build, port, rpc),
        "data": str(data_path),
        "samples": len(inputs),
        "exact": sum(d == 0 for d in diffs),
        "max_abs_diff": max(diffs),
    }
    if labels is not None:
        report["correct"] = int(np.sum(predicted == labels))
        report["top1"] = report["correct"] / len(labels)
    graph, why = source_float_graph(build)
    report["float"] = None
    if graph is None:
        report["float_note"] = why
        return report
    expected = float_outputs(graph, samples, in_spec, progress)
    dequantized = [from_model_output(o, out_spec).reshape(-1).astype(np.float64) for o in outputs]
    cosines = [cosine(d, f) for d, f in zip(dequantized, expected)]
    float_predicted = np.array([int(np.argmax(f)) for f in expected])
    report["float"] = {
        "agreement": float(np.mean(float_predicted == predicted)),
        "cosine": float(np.mean(cosines)),
        "cosine_min": float(np.min(cosines)),
    }
    if labels is not None:
        report["float"]["top1"] = float(np.mean(float_predicted == labels))
    return report


def _where(build: Build, port: str | None, rpc: str | None) -> str:
    from edgec.runner import where_it_runs

    return where_it_runs(build, port, rpc)


def format_validation(report: dict) -> str:
    n = report["samples"]
    lines = [f"{report['model']} on {report['target']} ({report['where']}): {n} samples from {report['data']}"]
    if "top1" in report:
        lines.append(f"  top-1          {100 * report['top1']:.2f}% ({report['correct']}/{n} correct)")
    verdict = "" if report["exact"] == n else f", max |diff| {report['max_abs_diff']}"
    lines.append(f"  bit-exact      {report['exact']}/{n} outputs equal the numpy reference{verdict}")
    f = report["float"]
    if f is None:
        lines.append(f"  float model    {report['float_note']}")
    else:
        if "top1" in f:
            lines.append(f"  float top-1    {100 * f['top1']:.2f}%")
        lines.append(f"  vs float       top-1 agreement {100 * f['agreement']:.2f}%, cosine {f['cosine']:.4f} (min {f['cosine_min']:.4f})")
    return "\n".join(lines)
