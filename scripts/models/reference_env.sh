#!/usr/bin/env bash
# Creates, or checks and completes, the private reference environment that
# scripts/models/reference_outputs.py and scripts/models/bench_baselines.sh run in. It is not part
# of the build or of CI: it is only needed to regenerate tests/models/golden/*.json or to measure
# the benchmark baselines.
#
# What it makes in ${PORTA_REFERENCE_ENV:-$HOME/.cache/porta/reference-env}:
#   bin/python            a venv over Debian's python3 with --system-site-packages, so it sees
#                         Debian's python3-torch (PyTorch 1.13, built against Debian's numpy)
#   src/                  the llama-cpp-python sdist (pinned version and sha256) and its unpacked
#                         tree, whose vendor/llama.cpp is the llama.cpp both tools run
#   llama.cpp-build/      the CMake build tree of that sdist (Release, CPU only); it also holds
#                         bin/llama-bench, built from the same tree with the same flags
#   porta-reference.json  the versions in use (llama.cpp commit, pip freeze)
# and prints the environment's folder as the last line of stdout.
#
# Every step is skipped when its result is already there, so a second run is quick and offline.
# The first run compiles llama.cpp once, through pip (about 20 minutes on 2 cores); llama-bench
# then reuses those objects and compiles only its own two files. JOBS sets the build parallelism
# (default 2).
#
# Usage: scripts/models/reference_env.sh
set -euo pipefail

ENV_DIR="${PORTA_REFERENCE_ENV:-$HOME/.cache/porta/reference-env}"
JOBS="${JOBS:-2}"

LLAMA_CPP_PYTHON_VERSION=0.3.36
LLAMA_CPP_PYTHON_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
# ggml-org/llama.cpp commit that llama-cpp-python 0.3.36 vendors (its CHANGELOG says so; the sdist
# carries no git metadata). Checked against the unpacked CHANGELOG below.
LLAMA_CPP_COMMIT=0c1e57098

# Everything pip installs into the venv, pinned (pip freeze --local of the environment the goldens
# were made in). numpy stays at Debian 12's version, which python3-torch is built against; the
# remaining dependencies (requests, PyYAML, Pillow, ...) come from Debian's python3 packages.
PINS=(
  numpy==1.24.2
  # llama-cpp-python's dependencies
  diskcache==5.6.3 Jinja2==3.1.6 MarkupSafe==3.0.4 typing_extensions==4.15.0
  # the NumPy reference reads and dequantizes the GGUF with gguf
  gguf==0.19.0 tqdm==4.70.1
  # transformers 4.44 still supports PyTorch 1.13
  transformers==4.44.2 tokenizers==0.19.1 safetensors==0.4.5 huggingface-hub==0.24.7
  filelock==4.3.1 fsspec==2026.9.0 packaging==26.4 regex==2026.11.19
  # sentence-transformers only cross-checks the pooling; scipy and scikit-learn at versions that
  # take numpy 1.24
  sentence-transformers==2.7.0 scipy==1.11.4 scikit-learn==1.3.2 joblib==1.6.0
  threadpoolctl==3.8.0 cloudpickle==3.1.3
)
DEBIAN_PACKAGES=(python3 python3-venv python3-torch python3-requests python3-yaml python3-pil
  build-essential cmake ninja-build)

say() { echo "reference_env: $*" >&2; }
fail() {
  echo "reference_env: error: $*" >&2
  exit 1
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    fail "missing Debian packages: ${missing[*]} (sudo apt-get install -y ${missing[*]})"
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

py="$ENV_DIR/bin/python"
if [[ ! -x "$py" ]]; then
  say "creating the venv in $ENV_DIR"
  mkdir -p "$ENV_DIR"
  /usr/bin/python3 -m venv --system-site-packages "$ENV_DIR"
fi

src_dir="$ENV_DIR/src"
sdist="$src_dir/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
tree="$src_dir/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
build_dir="$ENV_DIR/llama.cpp-build"
mkdir -p "$src_dir"
if [[ ! -f "$sdist" ]]; then
  say "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist"
  # Straight from the package index: pip download --no-binary :all: would first build the sdist's
  # build dependencies (scikit-build-core, cmake, ...) from source as well.
  "$py" - "$LLAMA_CPP_PYTHON_VERSION" "$sdist" <<'PY'
import os, re, sys, urllib.request
version, target = sys.argv[1], sys.argv[2]
index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
name = f"llama_cpp_python-{version}.tar.gz"
page = urllib.request.urlopen(f"{index}/llama-cpp-python/").read().decode()
found = re.search(r'href="([^"#]*/' + re.escape(name) + r')[#"]', page)
if not found:
    sys.exit(f"reference_env: error: {name} is not listed at {index}/llama-cpp-python/")
url = urllib.parse.urljoin(f"{index}/llama-cpp-python/", found.group(1))
urllib.request.urlretrieve(url, target + ".part")
os.replace(target + ".part", target)
PY
fi
echo "$LLAMA_CPP_PYTHON_SHA256  $sdist" | sha256sum --check --quiet ||
  fail "$sdist does not have the pinned sha256 $LLAMA_CPP_PYTHON_SHA256; delete it and rerun"
if [[ ! -d "$tree" ]]; then
  tar -xzf "$sdist" -C "$src_dir"
fi
grep -q "llama.cpp@$LLAMA_CPP_COMMIT" "$tree/CHANGELOG.md" ||
  fail "$tree/CHANGELOG.md does not name llama.cpp commit $LLAMA_CPP_COMMIT"

# Built from the unpacked tree (pip builds local folders in place) into a build folder that
# outlives pip, so llama-bench can reuse the objects.
if ! "$py" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_PYTHON_VERSION')" \
  2>/dev/null; then
  say "building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (llama.cpp $LLAMA_CPP_COMMIT); this takes a while"
  # A fresh tree: the llama-bench step below reconfigures it with options pip does not pass.
  rm -rf "$build_dir"
  CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" \
    CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_OPENCL=OFF" \
    nice -n 10 "$py" -m pip install --quiet --no-cache-dir \
    --config-settings="build-dir=$build_dir" "$tree" "${PINS[@]}"
fi

pins_stamp="$ENV_DIR/.pins"
if [[ ! -f "$pins_stamp" ]] || [[ "$(cat "$pins_stamp")" != "${PINS[*]}" ]]; then
  say "installing the pinned Python packages"
  "$py" -m pip install --quiet "${PINS[@]}"
  echo "${PINS[*]}" >"$pins_stamp"
fi

bench="$build_dir/bin/llama-bench"
if [[ ! -x "$bench" ]]; then
  say "building llama-bench from the same tree"
  # llama-cpp-python adds llama.cpp's tools/mtmd folder itself unless LLAVA_BUILD is off, and
  # LLAMA_BUILD_TOOLS would add it a second time. The compile flags stay the same, so only
  # llama-bench's own two files are compiled.
  cmake -Wno-dev -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=ON "$build_dir" >/dev/null
  nice -n 10 cmake --build "$build_dir" --target llama-bench -j "$JOBS" >&2
fi

"$py" - "$ENV_DIR/porta-reference.json" "$LLAMA_CPP_COMMIT" "$tree" <<'EOF'
import json, re, subprocess, sys
from pathlib import Path

out, commit, tree = sys.argv[1], sys.argv[2], Path(sys.argv[3])
ggml = tree / "vendor" / "llama.cpp" / "ggml" / "CMakeLists.txt"
parts = dict(re.findall(r"set\(GGML_VERSION_(MAJOR|MINOR|PATCH) (\d+)\)", ggml.read_text()))
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], check=True,
                        capture_output=True, text=True).stdout.split()
import llama_cpp, torch
info = {
    "llama_cpp_python": llama_cpp.__version__,
    "llama_cpp_commit": commit,
    "ggml_version": ".".join(parts[k] for k in ("MAJOR", "MINOR", "PATCH")),
    "torch": torch.__version__,
    "python": sys.version.split()[0],
    "pip_freeze": freeze,
}
Path(out).write_text(json.dumps(info, indent=1) + "\n")
EOF
echo "$ENV_DIR"
