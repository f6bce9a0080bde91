#!/usr/bin/env bash
# The Reformer paper's Table 2 (duplication task) on this machine: trains
# a 1-layer model four times — full attention (shared queries and keys),
# LSH with 4, 2 and 1 hashes — and evaluates each with full attention and
# with LSH-8, -4, -2 and -1 (`reforge eval`), then writes docs/PAPER.md:
# the measured table beside the paper's, the settings, the training
# curves and the time it took. Interrupted, it resumes where it stopped
# (each run continues from its newest checkpoint; finished evaluations
# are kept).
#
#   bench/paper/table2.sh [--length=L] [--steps=N] [--threads=T] [--out=DIR]
#
# The paper: sequences 0w0w of length 1024 (|w| = 511), symbols 1..127,
# d_model = d_ff = 256, 4 heads, 150K steps. Here the length and steps
# default to what a CPU affords in a few hours (--length=256 --steps=6000);
# "full attention" is LSH with one hash and a single chunk (every position
# attends to every earlier one, with queries as keys, as in the paper).
set -euo pipefail
cd "$(dirname "$0")/../.."
length=256 steps=6000 threads=0 out=runs/table2
for arg in "$@"; do
  case "$arg" in
    --length=*) length=${arg#*=} ;;
    --steps=*) steps=${arg#*=} ;;
    --threads=*) threads=${arg#*=} ;;
    --out=*) out=${arg#*=} ;;
    *) echo "usage: bench/paper/table2.sh [--length=L] [--steps=N] [--threads=T] [--out=DIR]" >&2; exit 2 ;;
  esac
done
scripts/install_deps.sh
scripts/bazel.sh build -c opt //tools/cli:reforge >/dev/null 2>&1 || scripts/bazel.sh build -c opt //tools/cli:reforge
reforge=bazel-bin/tools/cli/reforge
chunk=$((length / 16 > 4 ? length / 16 : 4))  # the paper's 16 chunks a sequence
model=(duplication --seq_len=$length --vocab_size=128 --n_layers=1 --d_model=256 --d_ff=256 --n_heads=4 --d_head=64
  --attention=lsh --threads=$threads)
mkdir -p "$out"
started=$(date +%s)

# Rows: the attention a model trains with. Columns: the attention it is evaluated with.
declare -A row_flags=([full]="--n_hashes=1 --chunk_len=$length" [lsh4]="--n_hashes=4 --chunk_len=$chunk"
  [lsh2]="--n_hashes=2 --chunk_len=$chunk" [lsh1]="--n_hashes=1 --chunk_len=$chunk")
declare -A column_flags=([full]="--n_hashes=1 --chunk_len=$length" [lsh8]="--n_hashes=8 --chunk_len=$chunk"
  [lsh4]="--n_hashes=4 --chunk_len=$chunk" [lsh2]="--n_hashes=2 --chunk_len=$chunk" [lsh1]="--n_hashes=1 --chunk_len=$chunk")
for row in full lsh4 lsh2 lsh1; do
  dir="$out/$row"
  newest=$(ls "$dir"/checkpoint-*.safetensors 2> /dev/null | tail -1 || true)
  if [ -n "$newest" ] && [ "$(sed -E 's/.*checkpoint-0*([0-9]+).*/\1/' <<< "$newest")" = "$steps" ]; then
    echo "== $row: trained ($steps steps)"
  else
    echo "== $row: training $steps steps"
    resume=(--run_dir="$dir")
    [ -z "$newest" ] || resume=(--resume="$dir")
    # shellcheck disable=SC2086
    "$reforge" train "${model[@]}" ${row_flags[$row]} --steps=$steps "${resume[@]}" --checkpoint_every=500 \
      --eval_every=500 --log_every=500 --show_config=false
  fi
  for column in full lsh8 lsh4 lsh2 lsh1; do
    result="$dir/eval-$column.json"
    [ -s "$result" ] && continue
    # shellcheck disable=SC2086
    "$reforge" eval "$dir" ${column_flags[$column]} --eval_batches=32 --threads=$threads --log_format=json > "$result.tmp"
    mv "$result.tmp" "$result"
    echo "   evaluated with $column: $(cat "$result")"
  done
done
echo "$(($(date +%s) - started))" >> "$out/seconds"
python3 bench/paper/table2_report.py "$out" --length=$length --steps=$steps --chunk=$chunk > docs/PAPER.md
echo "wrote docs/PAPER.md"
