#!/bin/bash
# `reforge compile` writes an artifact; the example program (runtime only)
# loads it and trains, and its loss falls; then it generates, with
# Model::generate and step by step with Model::decode, the same text.
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
gen=$(grep "^generate: " "$dir/out.txt" | cut -c11-)
dec=$(grep "^decode:   " "$dir/out.txt" | cut -c11-)
[ ${#gen} -ge 64 ] || { echo "FAIL: generate wrote ${#gen} characters, fewer than 4 + 60"; exit 1; }
[ "$gen" = "$dec" ] || { echo "FAIL: Model::generate and Model::decode step by step differ"; exit 1; }
echo "generate and decode agree: $gen"
