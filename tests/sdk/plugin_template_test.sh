#!/usr/bin/env bash
# The plugin SDK as a vendor uses it: installs Porta from BUILD_DIR into a temporary prefix,
# builds samples/plugin_template out of tree against it (find_package(Porta COMPONENTS sdk),
# -DCMAKE_PREFIX_PATH=<prefix>), and checks the plugin:
#   - its dynamic symbol table defines porta_backend_entry and nothing else (nm -D --defined-only,
#     weak C++ symbols included), its SONAME is its file name, and it does not link libporta;
#   - its unit test (the SDK's installed test scaffolding) passes;
#   - porta-cts --plugin <plugin>, with two acme devices (ACME_DEVICES=2, so the cross-device
#     tests run too), runs the api and ops suites with 0 failures and passes > 0 in each;
#   - porta-bench --plugin <plugin> measures the generic rows on an acme device (each above 0);
#   - installed with the template's own cmake --install, it lands in the prefix's system plugin
#     folder, and the installed porta-info loads it from there with no PORTA_PLUGIN_PATH.
# Usage: plugin_template_test.sh BUILD_DIR [SOURCE_DIR]. ctest runs it (tests/CMakeLists.txt).
set -euo pipefail

build_dir=$(cd "$1" && pwd)
source_dir=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
scratch=$(mktemp -d /tmp/porta-sdk.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
export -n PORTA_PLUGIN_PATH PORTA_DEVICES 2>/dev/null || true
unset PORTA_PLUGIN_PATH PORTA_DEVICES

fail() {
  echo "plugin_template_test: FAILED: $*" >&2
  exit 1
}

echo "== install Porta into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build_dir/CMakeCache.txt")
for file in include/porta/porta_backend.h include/porta/sdk/message.h \
            include/porta/sdk/backend_table.h "$libdir/libporta_backend_sdk.a" \
            share/porta/sdk/porta_plugin.map share/porta/sdk/kernel_conventions.md \
            share/porta/sdk/backend_sdk.md share/porta/sdk/plugin_template/CMakeLists.txt; do
  [[ -e "$prefix/$file" ]] || fail "the install lacks $file"
done
[[ -d "$prefix/$libdir/porta/plugins" ]] || fail "the install lacks the system plugin folder"

echo "== configure and build the template out of tree"
cmake -S "$source_dir/samples/plugin_template" -B "$scratch/acme-build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" \
  -DACME_WARNINGS_AS_ERRORS=ON >"$scratch/configure.log" ||
  { cat "$scratch/configure.log"; fail "configuring the template"; }
cmake --build "$scratch/acme-build" || fail "building the template"
plugin=$scratch/acme-build/libporta_acme.so
[[ -f "$plugin" ]] || fail "no $plugin"

echo "== exports: nm -D --defined-only libporta_acme.so"
nm -D --defined-only "$plugin" | tee "$scratch/exports.txt"
exports=$(awk 'NF >= 3 {print $3}' "$scratch/exports.txt" | sort -u)
[[ "$exports" == "porta_backend_entry" ]] ||
  fail "the plugin must export porta_backend_entry alone; it exports: $(echo $exports)"
soname=$(readelf -d "$plugin" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
echo "SONAME: $soname"
[[ "$soname" == "libporta_acme.so" ]] || fail "SONAME is '$soname', not libporta_acme.so"
if readelf -d "$plugin" | grep '(NEEDED)' | grep -q 'libporta\.so'; then
  fail "the plugin links libporta"
fi

echo "== the template's unit test"
[[ -x "$scratch/acme-build/acme_backend_test" ]] ||
  fail "the unit test was not built (Porta::backend_test_support missing from the install?)"
"$scratch/acme-build/acme_backend_test"

echo "== porta-cts --plugin libporta_acme.so"
set +e
ACME_DEVICES=2 "$prefix/bin/porta-cts" --plugin "$plugin" --gtest_brief=1 >"$scratch/cts.log" 2>&1
cts_status=$?
set -e
sed -n '/porta-cts summary/,$p' "$scratch/cts.log"
[[ $cts_status -eq 0 ]] || { tail -50 "$scratch/cts.log"; fail "porta-cts exited $cts_status"; }
grep -q '^acme_1 ' "$scratch/cts.log" || fail "the CTS did not run on the second acme device"
for group in api ops; do
  lines=$(grep -E "^  $group: passed [0-9]+, failed [0-9]+" "$scratch/cts.log" || true)
  [[ $(wc -l <<<"$lines") -eq 2 && -n "$lines" ]] || fail "no $group line per device in the summary"
  while read -r line; do
    passed=$(sed -E 's/.*passed ([0-9]+),.*/\1/' <<<"$line")
    failed=$(sed -E 's/.*failed ([0-9]+),.*/\1/' <<<"$line")
    [[ $failed -eq 0 ]] || fail "$group: $failed failed"
    [[ $passed -gt 0 ]] || fail "$group: nothing passed"
  done <<<"$lines"
done
grep -q '^Result: PASS$' "$scratch/cts.log" || fail "the CTS result is not PASS"

echo "== porta-bench --plugin libporta_acme.so (the generic rows on an acme device)"
ACME_DEVICES=1 "$prefix/bin/porta-bench" --plugin "$plugin" --devices acme --filter generic \
  --quick --json >"$scratch/bench.json" || fail "porta-bench on the template plugin"
python3 - "$scratch/bench.json" <<'PY' || fail "porta-bench did not measure the acme device"
import json, sys
report = json.load(open(sys.argv[1]))
rows = [r for r in report["rows"] if r["device"].startswith("acme:")]
for row in rows:
    print(f'{row["benchmark"]}: {row["porta"]} {row["unit"]}')
bad = [r["benchmark"] for r in rows if not r["porta"] > 0]
sys.exit(1 if len(rows) < 5 or bad else 0)
PY

echo "== installed into the system plugin folder, loaded by default"
cmake --install "$scratch/acme-build" >/dev/null
installed=$prefix/$libdir/porta/plugins/libporta_acme.so
[[ -f "$installed" ]] || fail "cmake --install did not put the plugin at $installed"
"$prefix/bin/porta-info" >"$scratch/info.txt" || { cat "$scratch/info.txt"; fail "porta-info"; }
grep -E "^  acme +loaded .*source $installed\$" "$scratch/info.txt" ||
  { head -20 "$scratch/info.txt"; fail "porta-info did not load acme from the system plugin folder"; }
grep "system plugin folder $prefix/$libdir/porta/plugins: 1 plugin(s)" "$scratch/info.txt" ||
  { cat "$scratch/info.txt"; fail "porta-info does not name the system plugin folder"; }
grep -q 'Acme host-memory device 0' "$scratch/info.txt" ||
  { cat "$scratch/info.txt"; fail "porta-info lists no acme device"; }
echo "plugin_template_test: OK"
