#!/usr/bin/env bash
# P1 side by side, one length at a time, the systems alternating: Reforge
# (this checkout, compiled to an artifact and trained from it), reformer-pytorch 1.4.4, and trax 1.4.1 with its
# reversible (memory-efficient) trainer and its default one, on the newest
# JAX (and with TRAX_JAX="newest oldest" also on the oldest that runs it:
# bench/peers/install_trax.sh); then Reforge
# with full attention at the short lengths, for the crossover. Writes
# bench/peers/results.jsonl and prints the table (render.py also draws
# docs/peers.svg).
#   bench/peers/run.sh [LENGTH ...]   (default: 1024 2048 4096 8192 16384 32768 65536)
# Environment: FULL_LENGTHS (default "512 1024 2048 4096"): where Reforge
# also runs full attention (and LSH, for the ratio, at lengths not above).
set -euo pipefail
cd "$(dirname "$0")/../.."
lengths=("$@")
((${#lengths[@]})) || lengths=(1024 2048 4096 8192 16384 32768 65536)
read -r -a full_lengths <<< "${FULL_LENGTHS:-512 1024 2048 4096}"
torch_python=$(bench/peers/install.sh | tail -1)
read -r -a trax_jax <<< "${TRAX_JAX:-newest}"
declare -A trax_python trax_jax_version  # by install_trax.sh's choice
for jax in "${trax_jax[@]}"; do
  trax_python[$jax]=$(bench/peers/install_trax.sh "$jax" | tail -1)
  trax_jax_version[$jax]=$("${trax_python[$jax]}" -c "import jax; print(jax.__version__)")
done
scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge
reforge="$(pwd)/$(ls -d bazel-out/k8-opt/bin/tools/cli/reforge)"
# P1 as Reforge is used: the feed-forward chunk count (8 in the peers'
# P1) and which reversible blocks store their activations are left to the
# memory budget at its default (what the compiler chooses for this
# machine; the plan line in docs/BENCHMARKS.md says what it chose). The
# arithmetic is the same either way: chunking and storing only trade
# memory for time.
p1=(--vocab_size=256 --d_model=256 --d_ff=1024 --n_layers=6 --n_heads=4 --d_head=64 --chunk_len=64 --n_hashes=4
  --causal=true --reversible=true --batch=1)
results=bench/peers/results.jsonl
: > "$results"

# Runs a command under /usr/bin/time and prints the last JSON line it
# wrote with "cpu_use" added: user + system time over wall time for the
# whole process (2.0: both cores busy throughout; 1.0: one core), so a
# system that runs on one core is visible beside its time. Fails when the
# command fails.
with_cpu_use() {  # command...
  local timing out
  timing=$(mktemp)
  out=$(/usr/bin/time -f "%e %U %S" -o "$timing" "$@" 2> /dev/null | grep '^{' | tail -1) || { rm -f "$timing"; return 1; }
  python3 - "$out" "$timing" << 'PY'
import json, sys
row = json.loads(sys.argv[1])
wall, user, system = (float(x) for x in open(sys.argv[2]).read().split()[-3:])
row["cpu_use"] = round((user + system) / wall, 2) if wall > 0 else None
print(json.dumps(row))
PY
  rm -f "$timing"
}

# A peer that does not finish (a step over 5 minutes, or out of memory)
# is recorded as skipped.
skipped() {
  echo "{\"system\": \"$1\", \"attention\": \"$2\", \"length\": $3, \"skipped\": \"$4\"}" >> "$results"
}

# Reforge as it is deployed: compiled ahead of time into an artifact
# (reforge compile), then trained from it (reforge run: no compiling in the
# process). Median of steps 2..N (step 1 warms caches); peak RSS of the
# training process.
run_reforge() {  # attention length steps
  local out
  out=$(mktemp)
  "$reforge" compile byte-lm "${p1[@]}" --attention="$1" --seq_len="$2" -o "$out.rfa" | grep '^memory budget' \
    > "$out.plan" || true
  /usr/bin/time -f "%M %e %U %S" -o "$out.rss" "$reforge" run "$out.rfa" --steps="$3" --log_format=jsonl \
    --eval_batches=1 > "$out"
  python3 - "$out" "$out.rss" "$1" "$2" "$out.plan" >> "$results" << 'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{") and '"loss"' in l]
times = [b["elapsed_seconds"] - a["elapsed_seconds"] for a, b in zip(rows, rows[1:])]
rss, wall, user, kernel = open(sys.argv[2]).read().split()[-4:]
peak = int(rss) * 1024
system = "Reforge" if sys.argv[3] == "lsh" else "Reforge (full attention)"
print(json.dumps({"system": system, "attention": sys.argv[3], "length": int(sys.argv[4]),
                  "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "peak_bytes": peak,
                  "cpu_use": round((float(user) + float(kernel)) / float(wall), 2),
                  # what the memory budget chose: "6 of 6 reversible blocks store ...; 1 feed-forward chunk (...)"
                  "plan": open(sys.argv[5]).read().strip().split("): ", 1)[-1]}))
PY
  rm -f "$out" "$out.rss" "$out.rfa" "$out.plan"
  tail -1 "$results"
}

for length in "${lengths[@]}"; do
  # Three timed steps up to 16K, two beyond (a peer's step there takes minutes).
  steps=3
  ((length <= 16384)) || steps=2
  # Reforge's steps are short: more of them (about 10 s of steps) keep its
  # median off a single slow moment of this shared machine.
  reforge_steps=$steps
  ((length > 4096)) || reforge_steps=20
  ((length != 8192 && length != 16384)) || reforge_steps=6
  run_reforge lsh "$length" $((reforge_steps + 1))
  with_cpu_use timeout 1800 "$torch_python" bench/peers/reformer_pytorch_p1.py --length="$length" --steps=$steps \
    >> "$results" || skipped "reformer-pytorch 1.4.4" lsh "$length" "did not finish in 30 minutes or ran out of memory"
  tail -1 "$results"
  for jax in "${trax_jax[@]}"; do
    for trainer in memory_efficient default; do
      # (the name trax_p1.py gives its rows, so a skipped length joins them)
      name="trax 1.4.1 on JAX ${trax_jax_version[$jax]} (reversible trainer)"
      [ "$trainer" = default ] && name="trax 1.4.1 on JAX ${trax_jax_version[$jax]} (default trainer)"
      # (trax prints notes on stdout too: keep the JSON line.)
      if line=$(with_cpu_use timeout 1800 "${trax_python[$jax]}" bench/peers/trax_p1.py --length="$length" \
        --steps=$steps --trainer=$trainer); then
        echo "$line" >> "$results"
      else
        skipped "$name" lsh "$length" "did not finish in 30 minutes or ran out of memory"
      fi
      tail -1 "$results"
    done
  done
done
for length in "${full_lengths[@]}"; do
  printf '%s\n' "${lengths[@]}" | grep -qx "$length" || run_reforge lsh "$length" 4
  run_reforge full "$length" 4
done
python3 bench/peers/render.py "$results" docs/peers.svg
