#!/bin/bash
# `reforge compile` writes an artifact; the example program (runtime only)
# loads it and trains, and its loss falls.
set -eu
reforge="$1" example="$2"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$reforge" compile byte-lm --seq_len=64 --d_model=32 --d_ff=64 --n_layers=2 --n_heads=2 --d_head=16 \
  --chunk_len=16 --learning_rate=0.01 -o "$dir/small.rfa"
test -s "$dir/small.rfa"
"$example" "$dir/small.rfa" "" 30 > "$dir/out.txt" || { cat "$dir/out.txt"; exit 1; }
cat "$dir/out.txt"
first=$(grep "^step 1 " "$dir/out.txt" | awk '{print $4}')
last=$(grep "^step 30 " "$dir/out.txt" | awk '{print $4}')
echo "loss $first -> $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.5) }' || { echo "FAIL: the loss did not fall"; exit 1; }
