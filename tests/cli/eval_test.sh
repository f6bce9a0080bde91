#!/bin/bash
# `reforge eval RUN_DIR`: with the training settings it gives the run's
# own last validation loss; with more hashes a trained duplication model
# does not get worse (the paper's Table 2 pattern); settings that would
# need other parameters, and other bad input, are refused in one line.
set -u
reforge="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
field() { sed -E "s/.*\"$1\": ([^,}]+).*/\1/"; }

"$reforge" train duplication --steps=300 --seed=3 --threads=1 --run_dir="$work/lsh" --show_config=false \
  --log_every=1000 > "$work/train.txt" 2>&1 || fail "training: $(tail -3 "$work/train.txt")"
trained=$(grep validation_bits "$work/lsh/metrics.jsonl" | tail -1 | field validation_bits)
evaluated=$("$reforge" eval "$work/lsh" --log_format=json --threads=1 | field validation_bits)
[ -n "$trained" ] && [ "$trained" = "$evaluated" ] && pass "eval gives the run's last validation: $evaluated bits" ||
  fail "eval gives '$evaluated' bits, the run's last validation '$trained'"

# More hashes at evaluation: the accuracy never falls.
previous=0
for hashes in 1 2 4 8; do
  accuracy=$("$reforge" eval "$work/lsh" --n_hashes=$hashes --log_format=json --threads=1 | field accuracy)
  if awk -v a="$accuracy" -v p="$previous" 'BEGIN { exit !(a >= p) }'; then
    pass "$hashes hashes: accuracy $accuracy"
  else
    fail "$hashes hashes: accuracy $accuracy, below $previous with fewer"
  fi
  previous=$accuracy
done
awk -v a="$previous" 'BEGIN { exit !(a >= 0.99) }' && pass "8 hashes copy the sequence ($previous)" ||
  fail "8 hashes: accuracy $previous"

# Kinds with the same weights evaluate each other: full <-> local.
"$reforge" train duplication --attention=full --steps=20 --threads=1 --run_dir="$work/full" --log_every=1000 \
  > /dev/null 2>&1 || fail "training with full attention"
"$reforge" eval "$work/full" --attention=local --threads=1 > "$work/local.txt" 2>&1 &&
  grep -q "evaluated with local, chunk [0-9]* (trained with full)" "$work/local.txt" &&
  pass "a full-attention run evaluated with local attention" || fail "full as local: $(cat "$work/local.txt")"

expect_refusal() {  # what, expected message, arguments...
  local what="$1" message="$2"
  shift 2
  if "$reforge" eval "$@" > "$work/refused.txt" 2>&1; then
    fail "$what was accepted"
  elif [ "$(wc -l < "$work/refused.txt")" = 1 ] && grep -q -- "$message" "$work/refused.txt"; then
    pass "$what: $(cat "$work/refused.txt")"
  else
    fail "$what: expected one line with '$message', got: $(cat "$work/refused.txt")"
  fi
}
expect_refusal "a run directory without a checkpoint" "holds no checkpoint" "$work/none"
expect_refusal "full attention on an LSH-trained run (shared QK: no w_k)" \
  "--attention=full changes the model's parameters: it needs a parameter 'layer0.attn.w_k'" "$work/lsh" --attention=full
expect_refusal "LSH on a full-attention run (its w_k would be left out)" \
  "--attention=lsh changes the model's parameters: the run's parameter 'layer0.attn.w_k' would not be used" \
  "$work/full" --attention=lsh
expect_refusal "no hashes" "--n_hashes must be between 1 and 256, got 0" "$work/lsh" --n_hashes=0
expect_refusal "no run directory" "usage: reforge eval RUN_DIR"

echo "$failures failures"
[ $failures -eq 0 ]
