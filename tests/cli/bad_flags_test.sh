#!/bin/bash
# A table of bad command lines: every one must exit with status 2 (usage)
# and print one line naming the flag, the value and what is allowed — never
# a crash, an internal error (status 3) or a run with the value ignored.
set -u
reforge="$1"
work="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
cases=0

# check "expected text" args...
check() {
  local expected="$1"
  shift
  cases=$((cases + 1))
  "$reforge" "$@" > "$work/out.txt" 2> "$work/err.txt"
  local status=$?
  local lines
  lines=$(wc -l < "$work/err.txt")
  if [ $status -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qF -- "$expected" "$work/err.txt"; then
    echo "FAIL: reforge $* -> status $status, $lines lines: $(head -3 "$work/err.txt")"
    echo "      expected status 2 and one line with: $expected"
    failures=$((failures + 1))
  fi
}

check "--device must be cpu or cuda, got 'tpu'" plan duplication --device=tpu
# Model sizes: out of range, non-numeric, overflowing, inconsistent.
for flag in vocab_size seq_len batch d_model n_heads d_head d_ff n_layers n_hashes chunk_len ff_chunks; do
  check "--$flag must be between 1 and" plan duplication --$flag=0
  check "--$flag must be between 1 and" plan duplication --$flag=-5
  check "--$flag must be an integer, got 'abc'" plan duplication --$flag=abc
  check "--$flag must be an integer, got '1.5'" plan duplication --$flag=1.5
  check "--$flag=99999999999999999999 does not fit in a 64-bit integer" plan duplication --$flag=99999999999999999999
  check "--$flag must be between" plan duplication --$flag=9223372036854775807
done
check "--seq_len must be between 1 and 16777216, got 1000000000000" plan duplication --seq_len=1000000000000
check "--chunk_len must be an integer, got '1e12'" plan duplication --chunk_len=1e12
check "--chunk_len must be between 1 and 16, got 32" plan duplication --seq_len=16 --chunk_len=32
check "--ff_chunks must be between 1 and 16, got 17" plan duplication --seq_len=16 --ff_chunks=17
check "is more than 2^40 elements in one tensor" plan byte-lm --seq_len=16777216 --batch=1048576
check "--n_buckets=1000000 is more buckets than the 16 positions of a sequence (--seq_len=16)" plan duplication --n_buckets=1000000
check "-o/--output needs a path, got an empty one" plan duplication -o ''
check "--checkpoint_every needs a run directory to keep checkpoints in: add --run_dir=DIR" train duplication --steps=2 --checkpoint_every=1
check "--keep_checkpoints needs a run directory to keep checkpoints in: add --run_dir=DIR" train duplication --steps=2 --keep_checkpoints=2
for flag in axial_rows axial_cols axial_row_width n_buckets; do
  check "--$flag must be between 0 and" plan duplication --$flag=-3
done
check "--n_buckets must be even" plan duplication --n_buckets=3
check "--d_model must be at least 2" plan duplication --d_model=1
check "--axial_row_width must be between 0 and 64, got 65" plan byte-lm --axial_row_width=65
for value in nan inf -inf 1e30 0 -0.1; do
  check "--learning_rate must be" plan duplication --learning_rate=$value
done
for value in nan inf -1 2 1e30; do
  check "--weight_decay must be" plan duplication --weight_decay=$value
  check "--dropout must be" plan duplication --dropout=$value
done
check "--dropout must be in [0, 1), got 1" plan duplication --dropout=1
check "--ff_activation must be gelu or relu, got 'tanh'" plan duplication --ff_activation=tanh
check "--reversible must be true or false, got 'maybe'" plan duplication --reversible=maybe
check "--attention" plan duplication --attention=sparse
check "--memory_budget=1e30GiB is more than 1 PiB" plan duplication --memory_budget=1e30GiB
check "is not a size" plan duplication --memory_budget=lots
check "is not a size" plan duplication --memory_budget=nan
check "--stored_blocks must be 0 or more, got -1" plan duplication --stored_blocks=-1
check "--stored_blocks=2: the model has 1 reversible block" train duplication --stored_blocks=2
check "--stored_blocks=1: the model has 0 reversible blocks" compile duplication --reversible=false --stored_blocks=1 -o "$work/x.rfa"
check "--stored_blocks chooses among rebuilt blocks" plan duplication --stored_blocks=1 --reversible_recompute=false
check "no plan fits --memory_budget=1024 bytes; the smallest peak is" plan duplication --memory_budget=1KiB

# Command flags.
check "--steps must be at least 1, got 0" train duplication --steps=0
check "--steps must be an integer, got 'ten'" train duplication --steps=ten
check "--log_every must be at least 1, got 0" train duplication --log_every=0
check "--log_every must be at least 1, got -1" train duplication --log_every=-1
check "--eval_every must be 0" train duplication --eval_every=-2
check "--eval_batches must be between 1 and 100000, got 0" train duplication --eval_batches=0
check "--keep_checkpoints must be at least 1, got 0" train duplication --keep_checkpoints=0
check "--checkpoint_every must be 0 or more" train duplication --checkpoint_every=-1
check "--samples must be 0..1000" train duplication --samples=-1
check "--samples generates text, byte by byte: duplication's vocabulary has 8 symbols, not 256" train duplication --steps=1 --samples=3
check "--seed must be 0 or more, got -1" train duplication --seed=-1
check "--threads must be between 0 (all cores) and 1024" train duplication --threads=5000
check "--log_format must be text or jsonl, got 'xml'" train duplication --log_format=xml
check "--backend must be llvm or interpreter, got 'gpu'" train duplication --backend=gpu
check "--eval must be true or false, got 'maybe'" run "$work/none.rfa" --eval=maybe
check "--data: model 'duplication' trains on generated copies" train duplication --data=README.md
check "unexpected argument 'false'" train duplication --reversible false
check "unexpected argument 'extra'" plan duplication extra
check "reforge train writes no file: -o is not one of its flags" train duplication -o x
check "unknown flag --n_layerz" plan duplication --n_layerz=3
check "unknown model 'no-such-model'" plan no-such-model
check "--format must be text, json or html, got 'pdf'" plan duplication --format=pdf
check "--opt_level must be 0..3, got 7" compile duplication -o "$work/x.rfa" --opt_level=7
check "needs the artifact's path" compile duplication
check "usage: reforge run MODEL.rfa" run
check "usage: reforge run MODEL.rfa" run a.rfa b.rfa
check "--length must be 1..1000000, got 0" generate "$work" --length=0
check "--temperature must be a finite number, got 'nan'" generate "$work" --temperature=nan
check "--temperature must be above 0 and at most 100 (--top_k=1 takes the most likely byte), got -1" generate "$work" --temperature=-1
check "--top_p must be above 0 and at most 1, got 2" generate "$work" --top_p=2
check "--top_k must be 0 (all) or more" generate "$work" --top_k=-1
check "usage: reforge report RUN_DIR" report
check "needs the page's path" report "$work"

# The usage of a command without its model lists the models (more lines).
"$reforge" plan > /dev/null 2> "$work/err.txt"
status=$?
cases=$((cases + 1))
if [ $status -ne 2 ] || ! grep -q "usage: reforge plan <model>" "$work/err.txt"; then
  echo "FAIL: reforge plan -> status $status: $(head -2 "$work/err.txt")"
  failures=$((failures + 1))
fi
# Output that cannot be written is a failure, not success.
cases=$((cases + 1))
if "$reforge" plan duplication > /dev/full 2> "$work/err.txt"; then
  echo "FAIL: writing to a full device exited 0"
  failures=$((failures + 1))
elif ! grep -q "cannot write to standard output" "$work/err.txt"; then
  echo "FAIL: a full standard output: $(cat "$work/err.txt")"
  failures=$((failures + 1))
fi
# -o onto something that is not a regular file is refused, and left alone.
mkfifo "$work/fifo"
ln -sf /dev/null "$work/link"
for target in "$work/fifo" "$work/link" /dev/null; do
  cases=$((cases + 1))
  "$reforge" plan duplication -o "$target" > /dev/null 2> "$work/err.txt"
  if [ $? -ne 1 ] || ! grep -q "refusing to replace it" "$work/err.txt"; then
    echo "FAIL: -o $target: $(cat "$work/err.txt")"
    failures=$((failures + 1))
  fi
done
[ -p "$work/fifo" ] && [ -L "$work/link" ] && [ -c /dev/null ] || { echo "FAIL: a special file was replaced"; failures=$((failures + 1)); }
cases=$((cases + 1))
"$reforge" plan duplication -o "$work/no/such/dir/plan.txt" > /dev/null 2> "$work/err.txt"
grep -q "its directory $work/no/such/dir does not exist" "$work/err.txt" ||
  { echo "FAIL: missing directory: $(cat "$work/err.txt")"; failures=$((failures + 1)); }

echo "$cases cases, $failures failures"
[ $failures = 0 ]
