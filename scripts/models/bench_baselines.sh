#!/usr/bin/env bash
# Measures the reference baselines that the model benchmark compares Porta with, on the CPU:
#   smollm2  llama.cpp's llama-bench on SmolLM2-135M-Instruct.Q4_1.gguf: prompt processing of 512
#            tokens (pp512) and generation of 128 tokens (tg128), tokens/s, mean of llama-bench's
#            5 repetitions; --repack 0 keeps llama.cpp on its plain CPU path, as in the goldens
#            (its AMX repacking stops with an illegal instruction on hosts that list AMX without
#            enabling it)
#   minilm   all-MiniLM-L6-v2 in PyTorch (transformers BertModel + mean pooling + L2 norm), one
#            batch of 32 sentences x 128 tokens (no padding), already tokenized, sentences/s from
#            the median of 5 timed runs after 2 warm-up runs
# It runs in the private reference environment (scripts/models/reference_env.sh makes it) and
# reads the models from ${PORTA_MODELS_DIR:-$HOME/.cache/porta/models}.
#
# Usage: scripts/models/bench_baselines.sh [--json] [--threads N] [--only smollm2|minilm]
#   --json     print only JSON lines, one per measurement (for other scripts to read)
#   --threads  CPU threads for both references (default 2)
set -euo pipefail

usage="usage: $0 [--json] [--threads N] [--only smollm2|minilm]"
json=0
threads=2
only=""
while (($# > 0)); do
  case "$1" in
    --json) json=1 ;;
    --threads)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || {
        echo "bench_baselines: --threads needs a positive integer" >&2
        exit 2
      }
      threads="$2"
      shift
      ;;
    --only)
      [[ $# -ge 2 && ("$2" == smollm2 || "$2" == minilm) ]] || {
        echo "bench_baselines: --only takes smollm2 or minilm" >&2
        exit 2
      }
      only="$2"
      shift
      ;;
    -h | --help)
      echo "$usage"
      exit 0
      ;;
    *)
      echo "bench_baselines: unknown argument '$1'" >&2
      echo "$usage" >&2
      exit 2
      ;;
  esac
  shift
done

env_dir="${PORTA_REFERENCE_ENV:-$HOME/.cache/porta/reference-env}"
models_dir="${PORTA_MODELS_DIR:-$HOME/.cache/porta/models}"
py="$env_dir/bin/python"
bench="$env_dir/llama.cpp-build/bin/llama-bench"
gguf="$models_dir/SmolLM2-135M-Instruct.Q4_1.gguf"
minilm="$models_dir/all-MiniLM-L6-v2"
[[ -x "$py" && -x "$bench" ]] ||
  {
    echo "bench_baselines: no reference environment in $env_dir; run scripts/models/reference_env.sh" >&2
    exit 1
  }

lines=()
if [[ -z "$only" || "$only" == smollm2 ]]; then
  [[ -f "$gguf" ]] || {
    echo "bench_baselines: $gguf is missing; run scripts/fetch_models.sh" >&2
    exit 1
  }
  raw=$(mktemp)
  trap 'rm -f "$raw"' EXIT
  "$bench" -m "$gguf" -p 512 -n 128 -t "$threads" -ngl 0 --repack 0 -r 5 -o json >"$raw" 2>/dev/null ||
    {
      echo "bench_baselines: llama-bench failed: $bench -m $gguf -p 512 -n 128 -t $threads --repack 0" >&2
      exit 1
    }
  mapfile -t -O "${#lines[@]}" lines < <(
    "$py" - "$threads" "$env_dir/porta-reference.json" "$raw" <<'EOF'
import json, sys
threads, info_path, raw_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
try:
    commit = json.load(open(info_path))["llama_cpp_commit"]
except (OSError, ValueError, KeyError):
    commit = "unknown"
for run in json.load(open(raw_path)):
    test = f"pp{run['n_prompt']}" if run["n_prompt"] else f"tg{run['n_gen']}"
    print(json.dumps({
        "baseline": "llama.cpp", "model": "SmolLM2-135M-Instruct.Q4_1", "test": test,
        "threads": threads, "tokens_per_s": round(run["avg_ts"], 2),
        "stddev_tokens_per_s": round(run["stddev_ts"], 2), "repetitions": len(run["samples_ts"]),
        "llama_cpp_commit": commit, "build": run.get("build_commit", ""),
        "cpu": run.get("cpu_info", ""),
    }))
EOF
  )
fi

if [[ -z "$only" || "$only" == minilm ]]; then
  [[ -d "$minilm" ]] || {
    echo "bench_baselines: $minilm is missing; run scripts/fetch_models.sh" >&2
    exit 1
  }
  mapfile -t -O "${#lines[@]}" lines < <(
    OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" HF_HUB_OFFLINE=1 \
      TRANSFORMERS_OFFLINE=1 TRANSFORMERS_VERBOSITY=error PYTHONWARNINGS=ignore::FutureWarning \
      "$py" - "$threads" "$minilm" <<'EOF'
import json, statistics, sys, time
import torch, transformers

threads, model_dir = int(sys.argv[1]), sys.argv[2]
torch.set_num_threads(threads)
batch, seq = 32, 128
tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
model = transformers.BertModel.from_pretrained(model_dir).eval()
# 32 different texts, each longer than 128 tokens, truncated to exactly 128 (no padding).
words = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing "
         "matches near the old river bank").split()
texts = [" ".join(words[(i + j) % len(words)] for j in range(160)) for i in range(batch)]
inputs = tokenizer(texts, truncation=True, max_length=seq, padding="max_length",
                   return_tensors="pt")
assert inputs["attention_mask"].sum().item() == batch * seq

def Encode():
    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

for _ in range(2):
    Encode()
times = []
for _ in range(5):
    start = time.perf_counter()
    Encode()
    times.append(time.perf_counter() - start)
median = statistics.median(times)
print(json.dumps({
    "baseline": "pytorch", "model": "all-MiniLM-L6-v2", "test": f"batch{batch}x{seq}",
    "threads": threads, "sentences_per_s": round(batch / median, 2),
    "median_ms": round(median * 1000, 2), "runs_ms": [round(t * 1000, 2) for t in times],
    "torch": torch.__version__, "transformers": transformers.__version__,
}))
EOF
  )
fi

if ((json)); then
  printf '%s\n' "${lines[@]}"
else
  "$py" - "${lines[@]}" <<'EOF'
import json, sys
for line in sys.argv[1:]:
    r = json.loads(line)
    if "tokens_per_s" in r:
        rate = f"{r['tokens_per_s']} tokens/s (+- {r['stddev_tokens_per_s']})"
    else:
        rate = f"{r['sentences_per_s']} sentences/s (median {r['median_ms']} ms per batch)"
    print(f"{r['baseline']:10} {r['model']:28} {r['test']:12} {r['threads']} threads  {rate}")
EOF
fi
