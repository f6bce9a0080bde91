#!/bin/bash
# Writes the seeds that are made, not committed: a real artifact and a
# real checkpoint (and damaged copies of each), from the `reforge` binary.
#   make_seeds.sh REFORGE OUT_DIR
set -eu
reforge="$1" out="$2"
mkdir -p "$out/artifact" "$out/checkpoint"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$reforge" compile duplication --opt_level=0 -o "$out/artifact/duplication.rfa" > /dev/null
head -c 3000 "$out/artifact/duplication.rfa" > "$out/artifact/truncated.rfa"
"$reforge" train duplication --steps=1 --threads=1 --run_dir="$work/run" > /dev/null 2>&1
cp "$work/run"/checkpoint-*.safetensors "$out/checkpoint/duplication.safetensors"
head -c 2000 "$out/checkpoint/duplication.safetensors" > "$out/checkpoint/truncated.safetensors"
