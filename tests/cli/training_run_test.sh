#!/bin/bash
# Training a user would run, end to end through the `reforge` binary:
# exact resume, SIGKILL at random moments, validation and samples, JSON
# lines, generation, and every bad input named with a clear message.
set -u
reforge="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

small=(byte-lm --data=builtin --show_config=false --log_every=1000 --threads=1)

# The losses of a run, one "step loss" line per step, from its metrics log.
losses() { grep '"loss"' "$1/metrics.jsonl" | sed -E 's/.*"step": ([0-9]+), "loss": ([^,]+),.*/\1 \2/'; }

# --- an uninterrupted run: validation, checkpoints, samples -------------------
"$reforge" train "${small[@]}" --steps=40 --run_dir="$work/full" --checkpoint_every=10 --keep_checkpoints=2 \
  --eval_every=20 --samples=1 --sample_length=30 > "$work/full.txt" 2>&1 || { cat "$work/full.txt"; fail "full run"; }
grep -q "validation at step 20: [0-9.]* bits per byte (unigram baseline [0-9.]*)" "$work/full.txt" &&
  pass "validation every 20 steps beside the unigram baseline" || fail "no validation line: $(cat "$work/full.txt")"
[ "$(ls "$work/full"/checkpoint-*.safetensors | wc -l)" = 2 ] && pass "keeps the last 2 checkpoints" ||
  fail "checkpoints kept: $(ls "$work/full")"
[ -s "$work/full/samples.txt" ] && [ -s "$work/full/run.json" ] && [ -s "$work/full/plan.html" ] &&
  pass "run directory holds samples, run.json and plan.html" || fail "run directory: $(ls "$work/full")"
[ "$(losses "$work/full" | wc -l)" = 40 ] && pass "40 losses logged" || fail "losses logged: $(losses "$work/full" | wc -l)"

# --- resume: stop at 25 (checkpoint at 20), resume to 40: same losses, bit for bit
"$reforge" train "${small[@]}" --steps=25 --run_dir="$work/resumed" --checkpoint_every=10 > /dev/null 2>&1
rm "$work/resumed"/checkpoint-00000025.safetensors  # as if killed after step 25's work, before its checkpoint
"$reforge" train "${small[@]}" --steps=40 --resume="$work/resumed" > "$work/resume.txt" 2>&1 ||
  { cat "$work/resume.txt"; fail "resume"; }
grep -q "resumed .* at step 20" "$work/resume.txt" && pass "resumed at step 20" || fail "$(cat "$work/resume.txt")"
if diff <(losses "$work/full") <(losses "$work/resumed") > "$work/diff.txt"; then
  pass "resumed losses equal the uninterrupted run's, bit for bit"
else
  fail "resumed losses differ: $(head -5 "$work/diff.txt")"
fi

# --- SIGKILL at random moments: the newest checkpoint always loads ------------
kills=0
# Each kill waits until the run has written a new checkpoint (how long
# compiling takes depends on the machine and on sanitizers), then comes at
# a random moment within the next two seconds: mid-step or mid-write.
rounds=8
[ -n "${REFORGE_SANITIZED:-}" ] && rounds=3
newest() { ls "$work/killed"/checkpoint-*.safetensors 2> /dev/null | tail -1; }
for i in $(seq 1 $rounds); do
  before=$(newest)
  if [ -n "$before" ]; then run=(--resume="$work/killed"); else run=(--run_dir="$work/killed"); fi
  "$reforge" train "${small[@]}" --steps=4000 "${run[@]}" --checkpoint_every=1 > "$work/killed.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do  # at most 120 s
    [ "$(newest)" != "$before" ] && break
    kill -0 $pid 2> /dev/null || break
    sleep 0.1
  done
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", (r % 200) / 100 }')"
  kill -9 $pid 2> /dev/null && kills=$((kills + 1))
  wait $pid 2> /dev/null
done
"$reforge" generate "$work/killed" --length=5 > "$work/killed_gen.txt" 2>&1 &&
  pass "after $kills kills the newest checkpoint loads" || fail "after kills: $(cat "$work/killed_gen.txt")"
last=$(ls "$work/killed"/checkpoint-*.safetensors | tail -1 | sed -E 's/.*checkpoint-0*([0-9]+).*/\1/')
"$reforge" train "${small[@]}" --steps=$((last + 20)) --resume="$work/killed" > "$work/killed_final.txt" 2>&1 ||
  fail "resume after kills: $(tail -3 "$work/killed_final.txt")"
"$reforge" train "${small[@]}" --steps=$((last + 20)) --run_dir="$work/straight" > /dev/null 2>&1
if diff <(losses "$work/straight") <(losses "$work/killed") > "$work/diff.txt"; then
  pass "killed $kills times and resumed: every loss equals the uninterrupted run's"
else
  fail "losses after kills differ: $(head -5 "$work/diff.txt")"
fi
ls "$work/killed"/*.tmp > /dev/null 2>&1 && fail "temporary files left behind" || pass "no temporary files left"

# --- JSON lines: standard output is nothing but one object per line --------------
"$reforge" train "${small[@]}" --steps=3 --log_format=jsonl > "$work/jsonl.txt" 2> "$work/jsonl_messages.txt"
python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = [r["step"] for r in rows if "loss" in r]
assert steps == [1, 2, 3], steps
assert all({"loss", "bits", "tokens_per_second", "eta_seconds", "resident_bytes"} <= r.keys() for r in rows if "loss" in r)
assert any("validation_bits" in r for r in rows)
assert "final_loss" in rows[-1], rows[-1]
' "$work/jsonl.txt" && pass "--log_format=jsonl: stdout is one JSON object per line" ||
  fail "jsonl: $(head -5 "$work/jsonl.txt")"
grep -q "final loss" "$work/jsonl_messages.txt" && pass "the lines for people went to stderr" ||
  fail "no summary on stderr: $(cat "$work/jsonl_messages.txt")"

# --- generation --------------------------------------------------------------------
a=$("$reforge" generate "$work/full" --prompt="the runtime" --length=40 --seed=3 2> /dev/null)
b=$("$reforge" generate "$work/full" --prompt="the runtime" --length=40 --seed=3 2> /dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && pass "generation is reproducible from its seed: $a" || fail "generation: '$a' vs '$b'"
[[ "$a" == "the runtime"* ]] && pass "the sample continues the prompt" || fail "prompt not kept: $a"

# --- bad input: a clear message and exit code 1, nothing destroyed -----------------
expect_error() {  # expect_error NAME PATTERN COMMAND...
  local name="$1" pattern="$2"
  shift 2
  out=$("$@" 2>&1)
  status=$?
  if [ $status -ne 1 ]; then fail "$name: exit $status: $out"; return; fi
  echo "$out" | grep -q -- "$pattern" && pass "$name: $(echo "$out" | tail -1)" || fail "$name: '$out' lacks '$pattern'"
}
expect_error "missing corpus" "No such file" "$reforge" train byte-lm --data="$work/none.txt" --steps=1
: > "$work/empty.txt"
expect_error "empty corpus" "the text is empty" "$reforge" train byte-lm --data="$work/empty.txt" --steps=1
mkfifo "$work/fifo"
expect_error "unreadable corpus (a FIFO)" "not a regular file" "$reforge" train byte-lm --data="$work/fifo" --steps=1
expect_error "checkpoint of another configuration" "another configuration: --d_model: 32 here, 64 in the checkpoint" \
  "$reforge" train "${small[@]}" --d_model=32 --steps=50 --resume="$work/full"
cp -r "$work/full" "$work/corrupt"
newest=$(ls "$work/corrupt"/checkpoint-*.safetensors | tail -1)
printf '\x42' | dd of="$newest" bs=1 seek=$(($(stat -c %s "$newest") - 100)) conv=notrunc 2> /dev/null
expect_error "corrupt checkpoint" "corrupt checkpoint" "$reforge" train "${small[@]}" --steps=50 --resume="$work/corrupt"
cp -r "$work/full" "$work/truncated"
newest=$(ls "$work/truncated"/checkpoint-*.safetensors | tail -1)
truncate -s 5000 "$newest"
expect_error "truncated checkpoint" "not a valid safetensors file" \
  "$reforge" train "${small[@]}" --steps=50 --resume="$work/truncated"
expect_error "unwritable run directory" "cannot create the directory" \
  "$reforge" train "${small[@]}" --steps=2 --run_dir=/proc/version/run
expect_error "run directory of another run" "already holds a run" \
  "$reforge" train "${small[@]}" --steps=2 --run_dir="$work/full"
# A full disk, simulated with a file-size limit below one checkpoint.
cp -r "$work/full" "$work/full_disk"
before=$(md5sum "$work/full_disk"/checkpoint-*.safetensors)
expect_error "disk full while checkpointing" "cannot write checkpoint .*File too large" \
  bash -c "ulimit -f 600; exec '$reforge' train byte-lm --data=builtin --threads=1 --steps=50 --resume='$work/full_disk'"
[ "$before" = "$(md5sum "$work/full_disk"/checkpoint-*.safetensors)" ] &&
  pass "the existing checkpoints are untouched" || fail "existing checkpoints changed"
"$reforge" generate "$work/full_disk" --length=3 > /dev/null 2>&1 && pass "and the newest still loads" ||
  fail "newest checkpoint no longer loads"

echo "$failures failures"
[ $failures = 0 ]
