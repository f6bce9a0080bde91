#!/bin/bash
# `reforge compile --target=cuda` on a machine without a GPU: the artifact
# holds sm_90 code (cubin and PTX), and `reforge run` refuses it in one
# line saying why — no driver, a driver without a GPU, a GPU too old for
# the code, a plan larger than the GPU's free memory — before allocating
# anything. A stand-in driver (tests/runtime/fake_cuda_driver.cc) plays
# the GPU machine.
set -u
reforge="$1"
fake_driver="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# expect_refusal NAME PATTERN COMMAND...: exits 1 (2 for a usage error:
# EXPECTED_STATUS) with one error line matching PATTERN.
expect_refusal() {
  local name="$1" pattern="$2"
  shift 2
  "$@" > "$work/out.txt" 2> "$work/err.txt"
  local status=$?
  local lines
  lines=$(wc -l < "$work/err.txt")
  if [ $status -eq "${EXPECTED_STATUS:-1}" ] && [ "$lines" -eq 1 ] && grep -q -- "$pattern" "$work/err.txt"; then
    pass "$name: $(cat "$work/err.txt")"
  else
    fail "$name: exit $status, $lines lines: $(cat "$work/err.txt")"
  fi
}

"$reforge" compile duplication --target=cuda -o "$work/d.rfa" > "$work/compile.txt" 2>&1 ||
  fail "compile --target=cuda: $(cat "$work/compile.txt")"
grep -q "compiled duplication for CUDA sm_90" "$work/compile.txt" && pass "compile reports sm_90" ||
  fail "compile output: $(cat "$work/compile.txt")"
grep -aq ".target sm_90" "$work/d.rfa" && pass "the artifact holds PTX for sm_90" || fail "no sm_90 PTX in the artifact"
grep -aq "ELF" "$work/d.rfa" && pass "the artifact holds a cubin" || fail "no cubin in the artifact"

expect_refusal "no driver" "no NVIDIA driver on this machine" \
  env REFORGE_CUDA_DRIVER="$work/no-such-libcuda.so.1" "$reforge" run "$work/d.rfa" --steps=1
expect_refusal "driver without a GPU" "finds no GPU" \
  env REFORGE_CUDA_DRIVER="$fake_driver" FAKE_CUDA_DEVICES=0 "$reforge" run "$work/d.rfa" --steps=1
expect_refusal "GPU older than the code" "compiled for sm_90, but GPU 0 (Fake GPU) is sm_80" \
  env REFORGE_CUDA_DRIVER="$fake_driver" FAKE_CUDA_SM=80 "$reforge" run "$work/d.rfa" --steps=1
expect_refusal "plan larger than free GPU memory" "MiB of GPU memory, more than the 0.00 MiB free on GPU 0" \
  env REFORGE_CUDA_DRIVER="$fake_driver" FAKE_CUDA_FREE_MIB=0 "$reforge" run "$work/d.rfa" --steps=1
# Where the GPU could hold it, the run gets as far as loading the code:
# the stand-in runs only code built for the host (tests/runtime/
# cuda_model_test trains a CUDA artifact on it), so it refuses the cubin
# and the PTX as a GPU refuses a corrupt image.
expect_refusal "a GPU that could hold it" "loading the GPU code (the sm_90 cubin failed with CUDA_ERROR_INVALID_IMAGE; its PTX)" \
  env REFORGE_CUDA_DRIVER="$fake_driver" "$reforge" run "$work/d.rfa" --steps=1
EXPECTED_STATUS=2 expect_refusal "unknown target" "--target must be cpu or cuda" \
  "$reforge" compile duplication --target=tpu -o "$work/t.rfa"

# --print_kernels=cuda: the step's kernels as CUDA C++ and ptxas's report.
"$reforge" train duplication --n_layers=1 --steps=1 --threads=1 --show_config=false --print_kernels=cuda \
  > "$work/kernels.txt" 2>&1 || fail "--print_kernels=cuda: $(tail -3 "$work/kernels.txt")"
kernels=$(grep -c '^extern "C" __global__ void' "$work/kernels.txt")
reported=$(sed -n '/^== ptxas ==$/,$p' "$work/kernels.txt" | grep -c " registers, 0 bytes spilled")
[ "$kernels" -gt 10 ] && [ "$kernels" = "$reported" ] &&
  pass "--print_kernels=cuda: $kernels kernels, each with a ptxas line and no spills" ||
  fail "--print_kernels=cuda: $kernels kernels, $reported ptxas lines without spills"

# reforge plan --device=cuda: the plan of the GPU's memory.
"$reforge" plan duplication --device=cuda --compare=false > "$work/plan.txt" 2>&1 &&
  grep -q "the plan of the GPU's memory" "$work/plan.txt" && grep -q "peak" "$work/plan.txt" &&
  pass "plan --device=cuda" || fail "plan --device=cuda: $(head -5 "$work/plan.txt")"

# reforge train --device=cuda says which of the driver and the GPU is
# missing; where both are, it compiles for the GPU's architecture and
# loads the code (which the stand-in refuses, as above).
expect_refusal "train --device=cuda without a driver" "--device=cuda: no NVIDIA driver on this machine" \
  env REFORGE_CUDA_DRIVER="$work/no-such-libcuda.so.1" "$reforge" train duplication --device=cuda --steps=1
expect_refusal "train --device=cuda without a GPU" "--device=cuda: the NVIDIA driver is installed but finds no GPU" \
  env REFORGE_CUDA_DRIVER="$fake_driver" FAKE_CUDA_DEVICES=0 "$reforge" train duplication --device=cuda --steps=1
expect_refusal "train --device=cuda with a GPU" "loading the GPU code (the sm_90 cubin failed with CUDA_ERROR_INVALID_IMAGE; its PTX)" \
  env REFORGE_CUDA_DRIVER="$fake_driver" "$reforge" train duplication --device=cuda --steps=1
EXPECTED_STATUS=2 expect_refusal "train --device=tpu" "--device must be cpu or cuda, got 'tpu'" \
  "$reforge" train duplication --device=tpu --steps=1

# A CPU artifact still runs where no GPU is.
"$reforge" compile duplication -o "$work/c.rfa" > /dev/null 2>&1 &&
  "$reforge" run "$work/c.rfa" --steps=2 --threads=1 > "$work/run.txt" 2>&1 && pass "a CPU artifact runs" ||
  fail "CPU artifact: $(tail -3 "$work/run.txt")"

echo "$failures failed"
[ "$failures" -eq 0 ]
