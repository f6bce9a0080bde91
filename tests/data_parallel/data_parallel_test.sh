#!/bin/bash
# Data-parallel training through the `reforge` binary on 2 MPI ranks
# (issue 21): the same run as one process on the whole batch, to
# rounding; fixed-order sums repeat bit for bit; a killed rank stops the
# job and the run resumes on 1 or 2 ranks; and every refusal's message.
set -u
reforge="$1"
compare="python3 $2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Open MPI as root, in containers that forbid its shared-memory copies,
# one compute thread per rank on a machine of 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
ranks() { mpirun -np "$1" --bind-to none "${@:2}"; }

# A byte-level model small enough that each run takes seconds; batch 4 is
# the global batch (2 rows per rank on 2 ranks).
model=(byte-lm --seq_len=64 --chunk_len=16 --d_model=32 --d_head=16 --n_heads=2 --d_ff=64 --n_layers=2 --batch=4)
tiny=("${model[@]}" --data=builtin --show_config=false --log_every=1000 --threads=1)

# --- 2 ranks x 2 rows against 1 process x 4 rows, 5 steps ---------------------
# Dropout masks are drawn by global row, so they too are one process's.
for variant in "lsh true 0" "lsh false 0" "full true 0" "full false 0" "lsh true 0.1"; do
  read -r attention reversible dropout <<< "$variant"
  case="$attention, reversible=$reversible, dropout=$dropout"
  dir="$work/$attention-$reversible"
  [ "$dropout" = 0 ] || dir="$work/$attention-$reversible-dropout"
  flags=("${tiny[@]}" --attention=$attention --reversible=$reversible --dropout=$dropout
    --attention_dropout=$dropout --steps=5 --bucket_size=8KiB)
  "$reforge" train "${flags[@]}" --run_dir="$dir-one" > "$dir-one.txt" 2>&1 || fail "$case, one process: $(tail -3 "$dir-one.txt")"
  ranks 2 "$reforge" train "${flags[@]}" --run_dir="$dir-two" > "$dir-two.txt" 2>&1 ||
    fail "$case, two ranks: $(tail -5 "$dir-two.txt")"
  if $compare "$dir-one" "$dir-two" --loss_rtol=2e-6 --value_atol=1e-6 --value_rtol=1e-5 > "$dir.cmp" 2>&1; then
    pass "$case: 2 ranks x 2 rows equal 1 process x 4 rows to rounding ($(tr '\n' ';' < "$dir.cmp"))"
  else
    fail "$case: 2 ranks differ from one process: $(cat "$dir.cmp")"
  fi
done
grep -q "MPI, 2 ranks" "$work/lsh-true-two.txt" && pass "the summary names the ranks" ||
  fail "summary: $(tail -4 "$work/lsh-true-two.txt")"
[ "$(grep -c "final loss" "$work/lsh-true-two.txt")" = 1 ] && pass "only rank 0 prints" ||
  fail "$(grep -c "final loss" "$work/lsh-true-two.txt") ranks printed a summary"

# --- an artifact compiled for 2 ranks, run by `mpirun -np 2 reforge run` -------
"$reforge" compile "${model[@]}" --attention=lsh --reversible=true --bucket_size=8KiB --ranks=2 -o "$work/two.rfa" > "$work/compile.txt" 2>&1 ||
  fail "compile --ranks=2: $(tail -3 "$work/compile.txt")"
ranks 2 "$reforge" run "$work/two.rfa" --steps=5 --threads=1 --log_every=1000 --data=builtin \
  --run_dir="$work/artifact-two" > "$work/artifact-two.txt" 2>&1 || fail "run on two ranks: $(tail -5 "$work/artifact-two.txt")"
if $compare "$work/lsh-true-one" "$work/artifact-two" --loss_rtol=2e-6 --value_atol=1e-6 --value_rtol=1e-5 \
  > "$work/artifact.cmp" 2>&1; then
  pass "the artifact on 2 ranks equals reforge train in one process ($(tr '\n' ';' < "$work/artifact.cmp"))"
else
  fail "the artifact on 2 ranks differs: $(cat "$work/artifact.cmp")"
fi

# --- fixed-order sums: two 2-rank runs agree bit for bit ----------------------
for i in 1 2; do
  ranks 2 "$reforge" train "${tiny[@]}" --steps=5 --deterministic_reduce=true --bucket_size=8KiB \
    --run_dir="$work/fixed$i" > "$work/fixed$i.txt" 2>&1 || fail "fixed-order run $i: $(tail -3 "$work/fixed$i.txt")"
done
grep -q "fixed-order sums" "$work/fixed1.txt" && pass "--deterministic_reduce is named in the summary" ||
  fail "summary: $(tail -4 "$work/fixed1.txt")"
$compare "$work/fixed1" "$work/fixed2" --exact > "$work/fixed.cmp" 2>&1 &&
  pass "two 2-rank runs with --deterministic_reduce: equal bits" || fail "fixed-order runs differ: $(cat "$work/fixed.cmp")"

# --- a rank killed mid-run: the job stops, and resumes on 1 or on 2 ranks -----
mpirun -np 2 --bind-to none "$reforge" train "${tiny[@]}" --steps=100000 --checkpoint_every=1 \
  --run_dir="$work/killed" > "$work/killed.txt" 2>&1 &
launcher=$!
for _ in $(seq 1 1200); do  # at most 120 s for the third checkpoint
  [ "$(ls "$work/killed"/checkpoint-*.safetensors 2> /dev/null | wc -l)" -ge 3 ] && break
  sleep 0.1
done
victim=$(pgrep -P $launcher | tail -1)  # a rank: mpirun's child
kill -9 "$victim"
wait $launcher 2> /dev/null
status=$?
[ $status -ne 0 ] && pass "the job stops when a rank dies (mpirun's status $status)" || fail "the job went on"
grep -q "rank 1" "$work/killed.txt" && pass "the message names the rank: $(grep -m1 "rank 1" "$work/killed.txt")" ||
  fail "no rank named: $(tail -5 "$work/killed.txt")"
last=$(ls "$work/killed"/checkpoint-*.safetensors | tail -1 | sed -E 's/.*checkpoint-0*([0-9]+).*/\1/')
target=$((last + 4))
cp -r "$work/killed" "$work/killed-on-two"
"$reforge" train "${tiny[@]}" --steps=$target --resume="$work/killed" > "$work/resume1.txt" 2>&1 ||
  fail "resume on one process: $(tail -3 "$work/resume1.txt")"
ranks 2 "$reforge" train "${tiny[@]}" --steps=$target --resume="$work/killed-on-two" > "$work/resume2.txt" 2>&1 ||
  fail "resume on two ranks: $(tail -3 "$work/resume2.txt")"
"$reforge" train "${tiny[@]}" --steps=$target --run_dir="$work/straight" > /dev/null 2>&1
for resumed in killed killed-on-two; do
  if $compare "$work/straight" "$work/$resumed" --loss_rtol=1e-5 --value_atol=1e-6 --value_rtol=1e-4 > "$work/$resumed.cmp" 2>&1; then
    pass "killed at step $last, resumed ($resumed): equal to an uninterrupted run to rounding"
  else
    fail "$resumed: $(cat "$work/$resumed.cmp")"
  fi
done

# --- refusals ------------------------------------------------------------------
expect_refusal() {  # what, expected message, command...
  local what="$1" message="$2"
  shift 2
  if "$@" > "$work/refused.txt" 2>&1; then
    fail "$what was accepted"
  elif grep -q -- "$message" "$work/refused.txt"; then
    pass "$what: $(grep -m1 -- "$message" "$work/refused.txt")"
  else
    fail "$what: expected '$message', got: $(grep -v '^\s*$' "$work/refused.txt" | tail -4)"
  fi
}
expect_refusal "a global batch 2 ranks cannot share" "--batch=3 is the global batch, and 2 ranks" \
  ranks 2 "$reforge" train "${tiny[@]}" --steps=2 --batch=3
expect_refusal "an artifact for 2 ranks on 1" "was compiled for 2 ranks and runs on 1: launch it with mpirun -np 2" \
  "$reforge" run "$work/two.rfa" --steps=2 --data=builtin
expect_refusal "the interpreter on 2 ranks" "the interpreter trains in one process" \
  ranks 2 "$reforge" train "${tiny[@]}" --steps=2 --backend=interpreter
expect_refusal "ranks with different configurations" "disagree on the model and its configuration: rank 0 has '--d_ff=64', rank 1 has '--d_ff=128'" \
  mpirun --bind-to none -np 1 "$reforge" train "${tiny[@]}" --steps=2 : -np 1 "$reforge" train "${tiny[@]}" --steps=2 --d_ff=128
expect_refusal "ranks with different data" "the ranks disagree on the data" \
  mpirun --bind-to none -np 1 "$reforge" train "${tiny[@]}" --steps=2 : -np 1 "$reforge" train "${tiny[@]}" --steps=2 --data="$reforge"

echo "$failures failures"
[ $failures -eq 0 ]
