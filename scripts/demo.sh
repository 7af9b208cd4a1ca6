#!/usr/bin/env bash
# `make demo`: build the bundled, trained digits CNN for the default emulated
# board (QEMU Cortex-M4), run a held-out digit through it over the serial
# link, and print the per-op profile.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EDGEC=.venv/bin/edgec
export EDGEC_PROGRESS=1
mkdir -p build/demo
$PY - <<'PY'
import numpy as np
held = np.load("models/digits/heldout.npz")
np.save("build/demo/digit.npy", held["x"][:1])
print(f"input: held-out digit #0, true label {int(held['y'][0])}")
PY
echo
echo "== edgec build models/digits/digits_cnn.onnx (default target) =="
$EDGEC build models/digits/digits_cnn.onnx --calib models/digits/calib.npz -o build/demo/digits
echo
echo "== edgec run (firmware in QEMU, over the serial link) =="
$EDGEC run build/demo/digits --input build/demo/digit.npy --output build/demo/logits.npy
echo
echo "== edgec profile =="
$EDGEC profile build/demo/digits --runs 3
