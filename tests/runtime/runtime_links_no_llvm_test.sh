#!/bin/bash
# Fails when LLVM is anywhere in the runtime's dependency graph, among the
# example binary's shared libraries, or in its symbols.
set -u
deps="$1" binary="$2"
status=0
if grep -i "llvm" "$deps"; then
  echo "FAIL: the runtime's dependency graph contains LLVM (above)"
  status=1
fi
if ! grep -q "//runtime:reforge_runtime" "$deps"; then
  echo "FAIL: the dependency list does not name the runtime; the query checked nothing"
  status=1
fi
needed=$(readelf -d "$binary" | grep NEEDED)
echo "$needed"
if echo "$needed" | grep -qi "llvm"; then
  echo "FAIL: the example binary needs an LLVM library"
  status=1
fi
symbols=$(nm -C "$binary" | grep -c "llvm::" || true)
if [ "$symbols" != "0" ]; then
  echo "FAIL: the example binary holds $symbols LLVM symbols"
  status=1
fi
[ $status = 0 ] && echo "PASS: no LLVM in the runtime or the example"
exit $status
