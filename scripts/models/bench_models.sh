#!/usr/bin/env bash
# The model benchmark: Porta's figures for SmolLM2-135M-Instruct (Q4_1; prompt processing of 512
# tokens and generation of 128, tokens/s) and all-MiniLM-L6-v2 (one batch of 32 sentences x 128
# tokens, sentences/s) on every device Porta finds, each beside its baseline measured in the same
# run on the same machine's CPU: llama.cpp's llama-bench (same Q4_1 file) and PyTorch
# (transformers BertModel), both with as many threads as Porta's CPU device uses (one per
# hardware thread, nproc); the CPU device's SmolLM2 figures also with --quantize-activations
# (8-bit activations in the quantized products, as llama.cpp). Prints one table; the ratio is
# Porta / baseline (above 1: Porta is faster). Also prints the device memory the models held
# (their buffers and the operator library's workspace).
#
# Needs a built tree (build/tools/porta-run), the models (scripts/fetch_models.sh) and the
# reference environment (scripts/models/reference_env.sh builds llama.cpp and installs PyTorch;
# it takes a while, once).
#
# Usage: scripts/models/bench_models.sh [--devices FILTER] [--repetitions N]
set -euo pipefail
cd "$(dirname "$0")/../.."

threads=$(nproc)
devices=""
repetitions=3
while (($# > 0)); do
  case "$1" in
    --devices | --repetitions)
      [[ $# -ge 2 ]] || {
        echo "bench_models: $1 needs a value" >&2
        exit 2
      }
      case "$1" in
        --devices) devices=$2 ;;
        --repetitions) repetitions=$2 ;;
      esac
      shift
      ;;
    -h | --help)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bench_models: unknown argument '$1'" >&2
      exit 2
      ;;
  esac
  shift
done

run=build/tools/porta-run
[[ -x "$run" ]] || {
  echo "bench_models: $run is missing; build first (cmake --preset default && cmake --build --preset default)" >&2
  exit 1
}
scripts/fetch_models.sh --quiet >/dev/null

# The device filters to measure: the one given, or one per device porta-info lists.
if [[ -n "$devices" ]]; then
  filters=("$devices")
else
  mapfile -t filters < <(env -u PORTA_DEVICES build/tools/porta-info --json | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    print("%s:%s" % (d["backend"], d["backend_device_index"]))')
  if [[ ${#filters[@]} -eq 0 ]]; then
    echo "bench_models: porta-info listed no device" >&2
    exit 1
  fi
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for filter in "${filters[@]}"; do
  echo "bench_models: porta-run bench on $filter" >&2
  if ! "$run" bench --devices "$filter" --repetitions "$repetitions" \
    --json >>"$results"; then
    echo "{\"device\": \"$filter\", \"error\": \"porta-run bench failed\"}" >>"$results"
  fi
  # The CPU device also with its activations rounded to 8-bit blocks in the quantized products,
  # as llama.cpp's CPU backend computes them.
  if [[ "$filter" == cpu* ]]; then
    "$run" bench --devices "$filter" --repetitions "$repetitions" --no-embed \
      --quantize-activations --json >>"$results" ||
      echo "{\"device\": \"$filter\", \"error\": \"porta-run bench --quantize-activations failed\"}" >>"$results"
  fi
done
echo "bench_models: baselines (llama-bench, PyTorch) with $threads threads" >&2
scripts/models/bench_baselines.sh --json --threads "$threads" >>"$results"

python3 - "$results" <<'PY'
import json, sys
porta, base = [], {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    row = json.loads(line)
    if "baseline" in row:
        base[(row["baseline"], row["test"])] = row
    else:
        porta.append(row)

def Rate(key, field):
    row = base.get(key)
    return row[field] if row else None

print(f"{'model / test':34} {'device':44} {'porta':>10} {'baseline':>22} {'ratio':>6} {'peak MiB':>9}")
for row in porta:
    device = row.get("device", "?")
    if "error" in row:
        print(f"{'':34} {device:44} {row['error']}")
        continue
    cases = []
    if "llm" in row:
        llm = row["llm"]
        q8 = " (q8 act.)" if llm.get("quantize_activations") else ""
        cases.append((f"SmolLM2 pp{llm['prompt_tokens']} tok/s{q8}", llm["prompt_tokens_per_s"],
                      ("llama.cpp", f"pp{llm['prompt_tokens']}"), "tokens_per_s", llm["peak_device_mib"]))
        cases.append((f"SmolLM2 tg{llm['generate_tokens']} tok/s{q8}", llm["generate_tokens_per_s"],
                      ("llama.cpp", f"tg{llm['generate_tokens']}"), "tokens_per_s", llm["peak_device_mib"]))
    if "embed" in row:
        embed = row["embed"]
        cases.append((f"MiniLM {embed['batch']}x{embed['sentence_tokens']} sent/s",
                      embed["sentences_per_s"],
                      ("pytorch", f"batch{embed['batch']}x{embed['sentence_tokens']}"),
                      "sentences_per_s", embed["peak_device_mib"]))
    for name, value, key, field, peak in cases:
        baseline = Rate(key, field)
        ratio = f"{value / baseline:6.2f}" if baseline else "     -"
        shown = f"{key[0]} {baseline:.1f}" if baseline else "none"
        print(f"{name:34} {device[:44]:44} {value:10.1f} {shown:>22} {ratio} {peak:9.1f}")
PY
