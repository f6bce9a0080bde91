#!/usr/bin/env bash
# The P1 training step (byte vocabulary, d_model 256, d_ff 1024, 6 layers,
# 4 heads of 64, LSH with chunk 64 and 4 hashes, causal, reversible, ff
# chunks 8, batch 1, f32, Adam) on the compiled CPU backend and on the
# reference interpreter, at the sequence lengths given (default 1024 4096).
# Prints one table row per (backend, length): the median step time.
#   bench/p1_step.sh [lengths...]     e.g. bench/p1_step.sh 1024
# Environment: STEPS (compiled steps, default 5), INTERPRETER_STEPS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge >/dev/null 2>&1 || scripts/bazel.sh build -c opt //tools/cli:reforge
reforge=bazel-bin/tools/cli/reforge
p1=(--vocab_size=256 --d_model=256 --d_ff=1024 --n_layers=6 --n_heads=4 --d_head=64 --chunk_len=64 --n_hashes=4
    --attention=lsh --causal=true --reversible=true --ff_chunks=8 --batch=1 --show_config=false)
lengths=("$@")
((${#lengths[@]})) || lengths=(1024 4096)
printf "%-12s %8s %14s\n" backend L "median step"
for L in "${lengths[@]}"; do
  for backend in llvm interpreter; do
    steps=${STEPS:-5}
    [ "$backend" = interpreter ] && steps=${INTERPRETER_STEPS:-1}
    median=$("$reforge" train byte-lm "${p1[@]}" --seq_len="$L" --steps="$steps" --log_every=1000 --backend="$backend" |
      sed -n 's/^step time: median \([0-9.]*\)s.*/\1/p')
    printf "%-12s %8s %13ss\n" "$backend" "$L" "$median"
  done
done
