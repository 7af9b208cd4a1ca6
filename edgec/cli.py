"""The `edgec` command line: parses arguments, calls the library, reports.

Every user error is an EdgecError: one line on stderr, exit code 2, no
traceback unless --debug.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from pathlib import Path

import click

from edgec.errors import EdgecError
from edgec.progress import terminal_progress


def _handle_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except EdgecError as e:
            if debug:
                traceback.print_exc()
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as e:
            if debug:
                raise
            click.echo(f"internal error: {e.__class__.__name__}: {e} (a bug in edgec; rerun with --debug and report it)", err=True)
            sys.exit(1)

    return wrapper


def _input_shapes(specs: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    from edgec.frontends.input_shapes import parse_input_shapes

    return parse_input_shapes(specs)


INPUT_SHAPE_HELP = (
    "Fix a model input's shape, in the model's layout: NAME=DxDxD (e.g. input=1x49x10x1). "
    "Repeat per input. Needed for dynamic dimensions other than the batch (built for 1)."
)


RPC_HELP = (
    "Linux-class builds: run on a device through its TVM RPC server (python -m tvm.exec.rpc_server), "
    "or a TVM RPC tracker with tracker:HOST:PORT:KEY."
)


def _emit_json(doc: object) -> None:
    click.echo(json.dumps(doc, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="edgec")
def main(debug: bool) -> None:
    """edgec: compile ONNX / TFLite models for microcontrollers and edge devices."""


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", "target_name", default=None, help="Target name (see `edgec targets`); default qemu-cortex-m4.")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), default=None, help="Build folder (default: build/<model>-<target>).")
@click.option("--calib", type=click.Path(path_type=Path), default=None, help="Calibration data: .npz, .npy or a folder of images.")
@click.option("--observer", type=click.Choice(["minmax", "percentile"]), default="minmax", show_default=True)
@click.option("--sram-budget", type=float, default=None, help="SRAM budget in KB for the schedule search (default: target SRAM minus stack/reserve).")
@click.option("--schedule", type=click.Choice(["layer", "patch", "auto"]), default=None, help="Execution schedule (default: auto on MCUs, layer on host).")
@click.option("--split", default=None, help="With --schedule patch: the op (or tensor) ending the patch stage.")
@click.option("--patches", type=int, default=None, help="With --schedule patch: patch grid N (N x N).")
@click.option(
    "--precision", type=click.Choice(["int8", "mixed"]), default="int8", show_default=True,
    help="mixed: 4/2-bit feature maps in the patch stage (QuantMCU; needs --calib and a patch stage).",
)  # fmt: skip
@click.option(
    "--mixed-lambda", type=float, default=None, metavar="L",
    help="With --precision mixed: accuracy weight of the bit-width search in [0, 1] (1: all 8-bit; default 0.955).",
)  # fmt: skip
@click.option("--input-shape", "input_shape", multiple=True, metavar="NAME=DxDxD", help=INPUT_SHAPE_HELP)
@click.option(
    "--kernels", type=click.Choice(["auto", "portable"]), default="auto", show_default=True,
    help="Kernel variants: auto picks DSP/MVE kernels from the target's features; portable uses plain C only.",
)  # fmt: skip
@click.option(
    "--npu-ops", "npu_ops", type=click.Choice(["auto", "none"]), default="auto", show_default=True,
    help="Ethos-U targets: auto gives Vela every op it supports; none runs everything on the CPU.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON.")
@_handle_errors
def build(
    model, target_name, out_dir, calib, observer, sram_budget, schedule, split, patches, precision, mixed_lambda, input_shape, kernels, npu_ops, as_json
):
    """Compile MODEL for a target into a build folder."""
    from edgec.compiler import BuildOptions, build_model, format_build_summary

    if mixed_lambda is not None and precision != "mixed":
        raise EdgecError("--mixed-lambda applies to --precision mixed: add --precision mixed or drop it")
    options = BuildOptions(
        target=target_name,
        out_dir=out_dir,
        calib=calib,
        observer=observer,
        sram_budget_kb=sram_budget,
        schedule=schedule,
        split=split,
        patches=patches,
        input_shapes=_input_shapes(input_shape),
        kernels=kernels,
        npu_ops=npu_ops,
        precision=precision,
        mixed_lambda=mixed_lambda,
    )
    summary = build_model(model, options, terminal_progress())
    if as_json:
        _emit_json(summary)
    else:
        click.echo(format_build_summary(summary))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--input", "input_path", type=click.Path(path_type=Path), required=True, help="Input .npy (model dtype, or float for int8 models).")
@click.option("--output", "output_path", type=click.Path(path_type=Path), default=None, help="Write the output .npy here.")
@click.option("--reference", is_flag=True, help="Run the numpy reference interpreter on a model file.")
@click.option("--calib", type=click.Path(path_type=Path), default=None, help="With --reference on a float model: run the int8-quantized graph.")
@click.option("--emulate", is_flag=True, help="Run an MCU build in QEMU (the default for emulated targets).")
@click.option("--port", default=None, help="Serial port of a real board (e.g. /dev/ttyACM0, socket://host:port).")
@click.option("--rpc", default=None, metavar="HOST:PORT", help=RPC_HELP)
@click.option("--input-shape", "input_shape", multiple=True, metavar="NAME=DxDxD", help="With --reference: " + INPUT_SHAPE_HELP)
@click.option("--json", "as_json", is_flag=True)
@_handle_errors
def run(path, input_path, output_path, reference, calib, emulate, port, rpc, input_shape, as_json):
    """Run a build folder (host binary, emulator or board), or a model file with --reference."""
    from edgec.runner import run_command

    shapes = _input_shapes(input_shape)
    result = run_command(
        path, input_path, output_path, reference=reference, calib=calib, port=port,
        progress=terminal_progress(quiet=as_json), input_shapes=shapes, rpc=rpc,
    )  # fmt: skip
    if as_json:
        _emit_json(result)
    else:
        click.echo(result["text"])


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--emulate", is_flag=True, help="Profile in QEMU (the default for emulated targets).")
@click.option("--port", default=None, help="Serial port of a real board.")
@click.option("--rpc", default=None, metavar="HOST:PORT", help=RPC_HELP)
@click.option("--runs", type=int, default=1, show_default=True, help="Inferences to run (seeded random inputs); counts are the median.")
@click.option("--input", "input_path", type=click.Path(path_type=Path), default=None, help="Profile on this input instead of seeded random ones.")
@click.option("--json", "as_json", is_flag=True)
@_handle_errors
def profile(out_dir, emulate, port, rpc, runs, input_path, as_json):
    """Run a build on its device and print per-op cycles, emulator instructions or (Linux) times."""
    from edgec.profiler import format_profile, profile_build

    report = profile_build(
        out_dir, runs=runs, port=port, input_path=input_path, progress=terminal_progress(quiet=as_json), rpc=rpc
    )
    if as_json:
        _emit_json(report)
    else:
        click.echo(format_profile(report))


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--data", "data_path", type=click.Path(path_type=Path), required=True, help="An .npz with x (N inputs, like `run --input`) and optional y (N labels).")
@click.option("--port", default=None, help="Serial port of a real board (MCU builds; default: QEMU for emulated targets).")
@click.option("--rpc", default=None, metavar="HOST:PORT", help=RPC_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (keys in docs/cli.md).")
@_handle_errors
def validate(out_dir, data_path, port, rpc, as_json):
    """Run a build on every sample of a data set: top-1, bit-exactness, agreement with the float model."""
    from edgec.validate import format_validation, validate_build

    report = validate_build(out_dir, data_path, port=port, rpc=rpc, progress=terminal_progress(quiet=as_json))
    if as_json:
        _emit_json(report)
    else:
        click.echo(format_validation(report))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None, help="Write a PNG of activation memory over the ops (build folders).")
@click.option("--input-shape", "input_shape", multiple=True, metavar="NAME=DxDxD", help="Model files: " + INPUT_SHAPE_HELP)
@_handle_errors
def inspect(path, as_json, plot_path, input_shape):
    """Per-layer table of a model file or a build folder."""
    from edgec.inspect import format_model_report, model_report

    shapes = _input_shapes(input_shape)
    if path.is_dir():
        if shapes:
            raise EdgecError("--input-shape applies to model files; a build folder's shapes were fixed by `edgec build`")
        from edgec.compiler import format_build_report, load_build

        b = load_build(path)
        if plot_path is not None:
            from edgec.compiler import plot_build_memory

            plot_build_memory(b, plot_path)
        if as_json:
            _emit_json(b.summary)
        else:
            click.echo(format_build_report(b))
            if plot_path is not None:
                click.echo(f"memory plot written to {plot_path}")
        return
    if plot_path is not None:
        raise EdgecError("--plot needs a build folder: run `edgec build` first, then `edgec inspect OUT --plot mem.png`")
    from edgec.frontends import load_model

    report = model_report(load_model(path, shapes))
    if as_json:
        _emit_json(report)
    else:
        click.echo(format_model_report(report))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--trials", type=int, default=64, show_default=True, help="Schedule candidates to build and time, over all kernels.")
@click.option("--json", "as_json", is_flag=True, help="Print the tuning summary as JSON.")
@_handle_errors
def tune(path, trials, as_json):
    """Tune a TVM build's kernels with MetaSchedule; records go to PATH/tuning/ for later builds."""
    from edgec.codegen.tvm.tuning import tune_build

    def progress(message: str) -> None:
        if not as_json:
            click.echo(message, err=True)

    summary = tune_build(path, trials, progress)
    if as_json:
        _emit_json(summary)
    else:
        click.echo(f"tuned {summary['tuned']}/{summary['kernels']} kernels of {path} ({summary['trials']} trials); records in {summary['records']}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@_handle_errors
def targets(as_json):
    """List the known targets."""
    from edgec.report import format_table
    from edgec.targets import DEFAULT_TARGET, list_targets, load_target

    docs = [load_target(name) for name in list_targets()]
    if as_json:
        _emit_json([t.to_json() for t in docs])
        return
    rows = []
    for t in docs:
        rows.append(
            (
                t.name + (" (default)" if t.name == DEFAULT_TARGET else ""),
                t.kind,
                t.cpu,
                ",".join(t.features) or "-",
                f"{t.sram_bytes // 1024} KB" if t.sram_bytes else "-",
                f"{t.flash_bytes // 1024} KB" if t.flash_bytes else "-",
                t.runs_where,
            )
        )
    click.echo(format_table(["target", "kind", "cpu", "features", "SRAM", "flash", "runs on"], rows))


@main.group()
def cache():
    """Show or clear the cache of compiled kernel archives (EDGEC_CACHE_DIR)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True)
@_handle_errors
def cache_info(as_json):
    """Where the cache is and what it holds."""
    import time

    from edgec.kernel_archive import UNUSED_DAYS, cache_entries, cache_root

    root = cache_root()
    entries = cache_entries()
    if as_json:
        _emit_json({"path": str(root) if root else None, "enabled": root is not None, "entries": entries})
        return
    if root is None:
        click.echo("kernel cache: off (EDGEC_CACHE_DIR=off); every build compiles its kernels")
        return
    total = sum(e["bytes"] for e in entries)
    click.echo(f"kernel cache: {root} — {len(entries)} archive(s), {total / 1e6:.1f} MB; unused ones go after {UNUSED_DAYS} days")
    for e in entries:
        days = (time.time() - e["last_used"]) / 86400
        click.echo(f"  {Path(e['path']).name}  {e['bytes'] / 1e6:6.1f} MB  last used {days:.1f} days ago")


@cache.command("clear")
@click.option("--json", "as_json", is_flag=True)
@_handle_errors
def cache_clear(as_json):
    """Remove every cached kernel archive (the next build of each target compiles its kernels again)."""
    from edgec.kernel_archive import cache_root, clear_cache

    root = cache_root()
    freed = clear_cache()
    if as_json:
        _emit_json({"path": str(root) if root else None, "freed_bytes": freed})
    else:
        click.echo(f"kernel cache: freed {freed / 1e6:.1f} MB" + (f" in {root}" if root else " (cache off)"))


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--port", default=None, help="Debug probe / board (pyocd target), optional.")
@_handle_errors
def flash(out_dir, port):
    """Flash an MCU build to a real board with pyocd."""
    from edgec.compiler import load_build
    from edgec.flashing import flash_build

    click.echo(flash_build(load_build(out_dir), port))


if __name__ == "__main__":
    main()
