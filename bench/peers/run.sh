#!/usr/bin/env bash
# P1 side by side: Reforge (compiled, this checkout) and reformer-pytorch
# 1.4.4, alternating at each length; writes bench/peers/results.jsonl and
# prints the table (render.py also draws docs/peers.svg).
#   bench/peers/run.sh [LENGTH ...]      (default: 1024 2048 4096 8192 16384)
set -euo pipefail
cd "$(dirname "$0")/../.."
lengths=("$@")
((${#lengths[@]})) || lengths=(1024 2048 4096 8192 16384)
python=$(bench/peers/install.sh | tail -1)
scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge
reforge="$(pwd)/$(ls -d bazel-out/k8-opt/bin/tools/cli/reforge)"
p1=(--vocab_size=256 --d_model=256 --d_ff=1024 --n_layers=6 --n_heads=4 --d_head=64 --chunk_len=64 --n_hashes=4
  --attention=lsh --causal=true --reversible=true --ff_chunks=8 --batch=1)
results=bench/peers/results.jsonl
: > "$results"
steps=4
for length in "${lengths[@]}"; do
  # Reforge: median of steps 2..N (step 1 warms caches); peak RSS of the process.
  out=$(mktemp)
  /usr/bin/time -f "%M" -o "$out.rss" "$reforge" train byte-lm "${p1[@]}" --seq_len="$length" --steps=$steps \
    --log_format=jsonl --eval_batches=1 --show_config=false > "$out"
  python3 - "$out" "$out.rss" "$length" >> "$results" << 'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"loss"' in l]
times = []
for a, b in zip(rows, rows[1:]):
    times.append(b["elapsed_seconds"] - a["elapsed_seconds"])
peak = int(open(sys.argv[2]).read().split()[-1]) * 1024
print(json.dumps({"system": "Reforge", "attention": "lsh", "length": int(sys.argv[3]),
                  "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "peak_bytes": peak}))
PY
  rm -f "$out" "$out.rss"
  tail -1 "$results"
  # reformer-pytorch: skipped where one step would take over 5 minutes.
  if ! timeout 1800 "$python" bench/peers/reformer_pytorch_p1.py --length="$length" --steps=$((steps - 1)) >> "$results"; then
    echo "{\"system\": \"reformer-pytorch 1.4.4\", \"attention\": \"lsh\", \"length\": $length, \"skipped\": \"did not finish in 30 minutes or ran out of memory\"}" >> "$results"
  fi
  tail -1 "$results"
done
python3 bench/peers/render.py "$results" docs/peers.svg
