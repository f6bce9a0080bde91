#!/bin/bash
# The GPU check on the stand-in driver (every 8th op case): it runs, says
# which GPU and code it used, and passes; it links no LLVM, so it can be
# carried to a GPU machine (scripts/gpu_check.sh).
set -u
check="$1"
driver="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
cublas="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

out=$(REFORGE_CUDA_DRIVER="$driver" REFORGE_CUBLAS="$cublas" "$check" --host_code --every=8 2>&1)
status=$?
echo "$out" | tail -3
[ $status -eq 0 ] && pass "the check passes on the stand-in driver" || fail "exit $status: $(echo "$out" | grep FAIL | head -5)"
echo "$out" | grep -q "^GPU 0: Fake GPU (sm_90)" && pass "names the GPU" || fail "no GPU line"
echo "$out" | grep -q "^matrix products on cuBLAS" && pass "products on (the stand-in) cuBLAS" || fail "no cuBLAS line"
passed=$(echo "$out" | tail -1 | cut -d' ' -f1)
[ "${passed:-0}" -gt 30 ] && pass "$passed checks ran" || fail "only ${passed:-0} checks ran"
ldd "$check" | grep -qi llvm && fail "links LLVM: $(ldd "$check" | grep -i llvm)" || pass "links no LLVM"
REFORGE_CUDA_DRIVER=/nonexistent "$check" > /dev/null 2>&1
[ $? -eq 1 ] && pass "no driver: exit 1" || fail "no driver: wrong exit status"
"$check" --bogus > /dev/null 2>&1
[ $? -eq 2 ] && pass "bad flag: exit 2" || fail "bad flag: wrong exit status"

echo "$failures failed"
[ "$failures" -eq 0 ]
