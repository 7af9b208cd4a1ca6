#!/usr/bin/env bash
# Create the fixture-making environment: the real exporters (TensorFlow's
# TFLite converter, torch.onnx) that build the committed test models.
# It is never a dependency of edgec or of its tests; only the scripts that
# (re)make fixtures run in it:
#
#   scripts/fixture-env.sh [DIR]          # default: .fixture-venv
#   DIR/bin/python models/export_corpus.py
#   DIR/bin/python tests/fixtures/make_op_models.py
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.fixture-venv}"
python3 -m venv "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check \
    tensorflow-cpu==2.21.0 torch==2.13.0 onnx==1.23.2 onnxruntime==1.32.0 onnxscript==0.7.2
echo "fixture environment ready: $dir/bin/python"
