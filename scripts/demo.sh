#!/usr/bin/env bash
# `make demo`: build a bundled model for the default emulated board (QEMU
# Cortex-M4), run it over the serial link and print the per-op profile.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EDGEC=.venv/bin/edgec
mkdir -p build/demo
$PY -m models.zoo ds_cnn -o build/demo/ds_cnn.onnx >/dev/null
$PY -c "import numpy as np; np.save('build/demo/input.npy', np.random.default_rng(0).standard_normal((1,1,49,10)).astype(np.float32))"
$PY -c "import numpy as np; np.save('build/demo/calib.npy', np.random.default_rng(1).standard_normal((16,1,49,10)).astype(np.float32))"
echo "== edgec build (default target) =="
EDGEC_PROGRESS=1 $EDGEC build build/demo/ds_cnn.onnx --calib build/demo/calib.npy -o build/demo/ds_cnn
echo
echo "== edgec run (QEMU, serial link) =="
EDGEC_PROGRESS=1 $EDGEC run build/demo/ds_cnn --input build/demo/input.npy --output build/demo/output.npy
echo
echo "== edgec profile =="
EDGEC_PROGRESS=1 $EDGEC profile build/demo/ds_cnn
