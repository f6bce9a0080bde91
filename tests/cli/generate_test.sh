#!/bin/bash
# reforge generate: the cached one-token step writes the text the
# whole-window forward pass writes (--no_cache), 500 bytes greedy from a
# trained model, across many window edges; an artifact's decode step, run by the runtime with the run's
# checkpoint, writes it too; bad input is a one-line error.
set -u
reforge="$1"
work="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# A small byte LM, local attention then LSH (its cached step is exact),
# window 64, trained a little so its text is not all one byte.
small=(byte-lm --seq_len=64 --d_model=32 --d_ff=64 --n_layers=2 --n_heads=2 --d_head=16 --chunk_len=16
  --learning_rate=0.01)
"$reforge" train "${small[@]}" --show_config=false --steps=40 --run_dir="$work/run" > "$work/train.txt" 2>&1 ||
  { cat "$work/train.txt"; exit 1; }

"$reforge" generate "$work/run" --prompt="the " --length=500 --top_k=1 > "$work/cached.txt" 2> "$work/cached.err" ||
  fail "generate: $(cat "$work/cached.err")"
"$reforge" generate "$work/run" --prompt="the " --length=500 --top_k=1 --no_cache > "$work/uncached.txt" \
  2> "$work/uncached.err" || fail "generate --no_cache: $(cat "$work/uncached.err")"
cmp -s "$work/cached.txt" "$work/uncached.txt" || fail "cached and --no_cache differ:
$(cat "$work/cached.txt")
$(cat "$work/uncached.txt")"
grep -q "one-token steps with caches" "$work/cached.err" || fail "the cached run does not say it is cached"
grep -qE "^500 bytes in .* bytes/s, [0-9]+ one-token steps after [0-9]+ prefills" "$work/cached.err" ||
  fail "no rate: $(cat "$work/cached.err")"
grep -qE "^500 bytes in .* bytes/s, 500 forward passes" "$work/uncached.err" || fail "no rate: $(cat "$work/uncached.err")"
echo "cached = --no_cache over 500 bytes (window 64): $(head -c 60 "$work/cached.txt")"

# Sampling is reproducible from the seed, and the seed matters.
a=$("$reforge" generate "$work/run" --length=80 --seed=4 --top_p=0.9 2> /dev/null)
b=$("$reforge" generate "$work/run" --length=80 --seed=4 --top_p=0.9 2> /dev/null)
c=$("$reforge" generate "$work/run" --length=80 --seed=5 --top_p=0.9 2> /dev/null)
[ "$a" = "$b" ] || fail "the same seed gave different text"
[ "$a" != "$c" ] || fail "seeds 4 and 5 gave the same 80 bytes"

# The artifact's decode step, with the run's parameters.
"$reforge" compile "${small[@]}" -o "$work/small.rfa" > "$work/compile.txt" 2>&1 || fail "compile: $(tail -2 "$work/compile.txt")"
"$reforge" generate "$work/small.rfa" --checkpoint="$work/run" --prompt="the " --length=500 --top_k=1 \
  > "$work/artifact.txt" 2> "$work/artifact.err" || fail "generate from the artifact: $(cat "$work/artifact.err")"
cmp -s "$work/cached.txt" "$work/artifact.txt" || fail "the artifact's text differs from the JIT's:
$(cat "$work/artifact.txt")"
echo "artifact = JIT"

# Bad input: one line, status 1 or 2, naming what is wrong.
check() {
  local expected="$1"
  shift
  "$reforge" "$@" > "$work/out.txt" 2> "$work/err.txt"
  local status=$? lines
  lines=$(wc -l < "$work/err.txt")
  if [ $status -eq 0 ] || [ $status -gt 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$expected" "$work/err.txt"; then
    fail "reforge $* -> status $status, $lines lines: $(head -3 "$work/err.txt"); expected one line with: $expected"
  fi
}
long=$(printf 'x%.0s' $(seq 65))
check "--prompt is empty: give at least one byte" generate "$work/run" --prompt=
check "--prompt is 65 bytes, longer than the model's window of 64 (--seq_len)" generate "$work/run" --prompt="$long"
check "--temperature must be above 0 and at most 100" generate "$work/run" --temperature=0
check "--temperature must be a finite number, got 'inf'" generate "$work/run" --temperature=inf
check "--top_k must be 0 (all) or more, got -1" generate "$work/run" --top_k=-1
check "--top_k must be at most 256 (the vocabulary), got 300" generate "$work/run" --top_k=300
check "--top_p must be above 0 and at most 1, got 0" generate "$work/run" --top_p=0
check "--top_p must be above 0 and at most 1, got 1.5" generate "$work/run" --top_p=1.5
mkdir -p "$work/empty"
check "holds no checkpoint" generate "$work/empty"
check "--no_cache runs the forward pass of a run directory, not of an artifact" generate "$work/small.rfa" --no_cache
check "--checkpoint goes with an artifact" generate "$work/run" --checkpoint="$work/run"

[ $failures -eq 0 ] && echo "generate: all checks passed" || exit 1
