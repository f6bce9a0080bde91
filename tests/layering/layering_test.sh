#!/bin/bash
# Fails when the runtime or the base layer depends on a layer above it
# (docs/ARCHITECTURE.md, "Layers"), naming the dependency.
set -u
runtime_deps="$1" base_deps="$2"
status=0
if grep -E '^//(compiler|ops|models|tools)[/:]' "$runtime_deps"; then
  echo "FAIL: the runtime or the base layer depends on the compiler, ops, models or tools (above)"
  status=1
fi
if grep -E '^//' "$base_deps" | grep -vE '^//base[/:]'; then
  echo "FAIL: the base layer depends on something of Reforge's outside base/ (above)"
  status=1
fi
for must in //runtime:reforge_runtime //runtime:artifact //base:types; do
  if ! grep -qx "$must" "$runtime_deps"; then
    echo "FAIL: the dependency list does not name $must; the query checked nothing"
    status=1
  fi
done
[ $status = 0 ] && echo "PASS: base <- runtime <- compiler, ops, models, tools"
exit $status
