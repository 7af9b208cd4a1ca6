"""Fuzz edgec's readers and decoders for a while and tabulate what was found.

    .venv/bin/python bench/fuzz.py                      # every harness, 60 s each, atheris
    .venv/bin/python bench/fuzz.py --seconds 10 --harness tflite --harness onnx
    .venv/bin/python bench/fuzz.py --engine mutate --seed 3 --json
    .venv/bin/python bench/fuzz.py --save-crashes       # add new crash inputs to tests/fuzz/regressions/
                                                        # (without it they are kept in a temporary folder)

Harnesses are in tests/fuzz/harnesses.py; the contract (success or a one-line
EdgecError), the engines and the regression corpus are described in
docs/fuzzing.md.  For each harness the table gives the executions, the unique
crashes found in this run (by exception type + location) and the past crashes
kept in the regression corpus that now replay clean ("fixed").
Exit status: 1 if this run found a crash, else 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fuzz.engine import check, mutation_run
from tests.fuzz.harnesses import HARNESSES

REGRESSIONS = ROOT / "tests" / "fuzz" / "regressions"


def _atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def run_atheris(name: str, seconds: int, seed: int) -> dict:
    """Run tests/fuzz/atheris_main.py in its own process (libFuzzer exits the process when done)."""
    with tempfile.TemporaryDirectory(prefix="edgec-fuzz-") as tmp:
        status = Path(tmp) / "status.json"
        artifacts = Path(tmp) / "artifacts"
        artifacts.mkdir()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        cmd = [sys.executable, "-m", "tests.fuzz.atheris_main", name, "--seconds", str(seconds), "--seed", str(seed),
               "--status", str(status)]
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False,
                                  errors="replace")
            log = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as e:
            log = f"{e.stdout or ''}{e.stderr or ''}\nERROR: libFuzzer: run did not stop"
        doc = json.loads(status.read_text()) if status.is_file() else {"executions": 0, "crashes": []}
        found = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
        if found:
            doc["executions"] = int(found.group(1))
        fatal = re.search(r"ERROR: libFuzzer: ([\w-]+)", log)
        if fatal:  # a hang or a hard crash ended the run early
            data = b"".join(p.read_bytes() for p in sorted(Path(tmp).glob("*-*")) if p.is_file())[:1 << 20]
            doc["crashes"].append({"kind": f"libFuzzer {fatal.group(1)}", "location": "(process)",
                                   "message": log.strip().splitlines()[-1][:200], "data": data.hex()})
        doc["engine"] = "atheris"
        return doc


def run_mutate(name: str, seconds: int, seed: int) -> dict:
    result = mutation_run(HARNESSES[name], seed=seed, seconds=seconds)
    crashes = [{"kind": c.kind, "location": c.location, "message": c.message, "data": c.data.hex()}
               for c in result.crashes.values()]
    return {"engine": "mutate", "executions": result.executions, "crashes": crashes}


def replay_regressions(name: str) -> tuple[int, int]:
    """(past crash inputs that now end cleanly, all past crash inputs) for harness ``name``."""
    files = sorted((REGRESSIONS / name).glob("*.bin"))
    clean = sum(check(HARNESSES[name], p.read_bytes()) is None for p in files)
    return clean, len(files)


def save_crashes(name: str, crashes: list[dict]) -> int:
    folder = REGRESSIONS / name
    index_path = folder / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    saved = 0
    for c in crashes:
        data = bytes.fromhex(c["data"])
        if not data:
            continue
        file = f"{hashlib.sha1(data).hexdigest()[:16]}.bin"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file).write_bytes(data)
        index[file] = {"kind": c["kind"], "location": c["location"], "message": c["message"][:200]}
        saved += 1
    if index:
        index_path.write_text(json.dumps(dict(sorted(index.items())), indent=1) + "\n")
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per harness (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=("atheris", "mutate"), default=None,
                        help="atheris (coverage-guided, default when installed) or mutate (seeded, deterministic)")
    parser.add_argument("--harness", action="append", choices=sorted(HARNESSES), help="repeatable; default all")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--save-crashes", action="store_true", help="add crash inputs to tests/fuzz/regressions/")
    args = parser.parse_args()
    engine = args.engine or ("atheris" if _atheris_available() else "mutate")
    if engine == "atheris" and not _atheris_available():
        parser.error("atheris is not installed: pip install atheris==3.0.0, or use --engine mutate")

    rows = []
    for name in args.harness or list(HARNESSES):
        doc = (run_atheris if engine == "atheris" else run_mutate)(name, args.seconds, args.seed)
        fixed, past = replay_regressions(name)
        row = {"harness": name, "engine": doc["engine"], "seconds": args.seconds, "executions": doc["executions"],
               "crashes": len(doc["crashes"]), "fixed": fixed, "regressions": past,
               "crash_list": [{k: v for k, v in c.items() if k != "data"} for c in doc["crashes"]]}
        if args.save_crashes and doc["crashes"]:
            row["saved"] = save_crashes(name, doc["crashes"])
        elif doc["crashes"]:  # keep the inputs so the crash can be replayed and debugged
            keep = Path(tempfile.mkdtemp(prefix=f"edgec-fuzz-crashes-{name}-"))
            for i, c in enumerate(doc["crashes"]):
                (keep / f"crash{i}.bin").write_bytes(bytes.fromhex(c["data"]))
                row["crash_list"][i]["input"] = str(keep / f"crash{i}.bin")
        rows.append(row)
        if not args.json:
            print(f"  {name}: {row['executions']} executions, {row['crashes']} crash(es)", file=sys.stderr, flush=True)

    if args.json:
        print(json.dumps({"engine": engine, "seed": args.seed, "harnesses": rows}, indent=2))
    else:
        print(f"\nfuzzing with {engine}, seed {args.seed}, {args.seconds} s per harness\n")
        print(f"{'harness':<10} {'executions':>11} {'exec/s':>8} {'crashes':>8} {'fixed (replayed clean)':>24}")
        for r in rows:
            print(f"{r['harness']:<10} {r['executions']:>11} {r['executions'] / max(r['seconds'], 1):>8.0f} "
                  f"{r['crashes']:>8} {str(r['fixed']) + ' / ' + str(r['regressions']):>24}")
        for r in rows:
            for c in r["crash_list"]:
                print(f"  {r['harness']}: {c['kind']} at {c['location']}: {c['message']}")
                if "input" in c:
                    print(f"      input: {c['input']}")
    return 1 if any(r["crashes"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
