#!/usr/bin/env bash
# Generation with and without the cache: P1 (bench/p1_step.sh's model,
# one training step so a checkpoint exists) at the context lengths given
# (default 1024 4096 16384), `reforge generate` with its one-token cached
# step and with --no_cache (the whole window's forward pass per byte),
# greedy, from a 4-byte prompt. Prints bytes/s each way, the ratio, the
# time to read a prompt of L/2 bytes (a prefill: what the window's edge
# costs) and the caches' planned memory beside the process's resident
# memory.
#   bench/generation.sh [lengths...]
# Environment: CACHED_BYTES (default 200), UNCACHED_BYTES (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge >/dev/null 2>&1 || scripts/bazel.sh build -c opt //tools/cli:reforge
reforge=$(mktemp -d)/reforge
cp bazel-bin/tools/cli/reforge "$reforge"
p1=(--vocab_size=256 --d_model=256 --d_ff=1024 --n_layers=6 --n_heads=4 --d_head=64 --chunk_len=64 --n_hashes=4
    --attention=lsh --causal=true --reversible=true --ff_chunks=8 --batch=1 --show_config=false)
lengths=("$@")
((${#lengths[@]})) || lengths=(1024 4096 16384)
work=$(mktemp -d)
trap 'rm -rf "$work" "$(dirname "$reforge")"' EXIT
rate() { sed -n 's/^[0-9]* bytes in [0-9.]* s: \([0-9.]*\) bytes\/s.*/\1/p' "$1"; }
seconds() { sed -n 's/^[0-9]* bytes in \([0-9.]*\) s:.*/\1/p' "$1"; }
printf "%8s %16s %18s %8s %16s %12s %12s\n" L "cached bytes/s" "--no_cache bytes/s" ratio "prefill L/2 (s)" caches \
  resident
for L in "${lengths[@]}"; do
  "$reforge" train byte-lm "${p1[@]}" --seq_len="$L" --steps=1 --run_dir="$work/p1-$L" > /dev/null 2>&1
  "$reforge" generate "$work/p1-$L" --prompt="The " --length="${CACHED_BYTES:-200}" --top_k=1 \
    > /dev/null 2> "$work/cached.txt"
  "$reforge" generate "$work/p1-$L" --prompt="The " --length="${UNCACHED_BYTES:-4}" --top_k=1 --no_cache \
    > /dev/null 2> "$work/uncached.txt"
  head -c $((L / 2)) /dev/zero | tr '\0' 'a' > "$work/prompt.txt"
  "$reforge" generate "$work/p1-$L" --prompt="$(cat "$work/prompt.txt")" --length=1 --top_k=1 \
    > /dev/null 2> "$work/prefill.txt"
  cached=$(rate "$work/cached.txt") uncached=$(rate "$work/uncached.txt") prefill=$(seconds "$work/prefill.txt")
  memory=$(sed -n 's/^memory: caches \(.*\), the step.s arena .* (planned); resident \(.*\)$/\1|\2/p' "$work/cached.txt")
  printf "%8s %16s %18s %7.1fx %16s %12s %12s\n" "$L" "$cached" "$uncached" "$(awk -v a="$cached" -v b="$uncached" \
    'BEGIN { print a / b }')" "$prefill" "${memory%|*}" "${memory#*|}"
done
