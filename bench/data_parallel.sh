#!/usr/bin/env bash
# Data-parallel P1 (issue 21) on this machine: the same global batch of 2
# sequences trained by 1 rank x 1 thread, 2 ranks x 1 thread (mpirun, one
# row each) and 1 rank x 2 threads, at the lengths given (default 4096
# 16384). One table row per (setup, length): the median step time, the
# tokens per second, the speed-up over 1 rank x 1 thread, and for 2 ranks
# the time per step spent waiting on the other rank (--profile).
#   bench/data_parallel.sh [lengths...]
# Environment: STEPS (default 4; the first, which also compiles, is in the median's sample).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge >/dev/null 2>&1 || scripts/bazel.sh build -c opt //tools/cli:reforge
reforge=bazel-bin/tools/cli/reforge
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
p1=(--vocab_size=256 --d_model=256 --d_ff=1024 --n_layers=6 --n_heads=4 --d_head=64 --chunk_len=64 --n_hashes=4
    --attention=lsh --causal=true --reversible=true --ff_chunks=8 --batch=2 --show_config=false --log_every=1000)
steps=${STEPS:-4}
lengths=("$@")
((${#lengths[@]})) || lengths=(4096 16384)
printf "%-22s %6s %12s %10s %8s %14s\n" setup L "median step" "tokens/s" speed-up "comm wait"
for L in "${lengths[@]}"; do
  base=""
  for setup in "1 rank x 1 thread" "2 ranks x 1 thread" "1 rank x 2 threads"; do
    case "$setup" in
      "1 rank x 1 thread") run=("$reforge" train byte-lm --threads=1) ;;
      "2 ranks x 1 thread") run=(mpirun -np 2 --bind-to none "$reforge" train byte-lm --threads=1 --profile) ;;
      "1 rank x 2 threads") run=("$reforge" train byte-lm --threads=2) ;;
    esac
    out=$("${run[@]}" "${p1[@]}" --seq_len="$L" --steps="$steps" 2>&1)
    median=$(sed -n 's/^step time: median \([0-9.]*\)s.*/\1/p' <<< "$out")
    wait=$(sed -n 's/^communication: \([0-9.]*\) ms per step waiting.*/\1 ms/p' <<< "$out")
    [ -n "$base" ] || base=$median
    printf "%-22s %6s %11ss %10.0f %7.2fx %14s\n" "$setup" "$L" "$median" \
      "$(awk -v m="$median" -v l="$L" 'BEGIN { print 2 * l / m }')" \
      "$(awk -v b="$base" -v m="$median" 'BEGIN { print b / m }')" "${wait:--}"
  done
done
