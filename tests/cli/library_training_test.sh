#!/bin/bash
# A program of its own (examples/train_with_library) trains with the
# training library exactly as `reforge train` does: the same final loss
# and accuracy for the same model, seed and steps, and a run directory
# with its checkpoint.
set -u
example="$1" reforge="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
"$example" "$work/run" > "$work/library.txt" 2>&1 || { cat "$work/library.txt"; echo "FAIL: the example did not run"; exit 1; }
"$reforge" train duplication --n_layers=1 --steps=60 --seed=3 > "$work/cli.txt" 2>&1 ||
  { cat "$work/cli.txt"; echo "FAIL: reforge train did not run"; exit 1; }
library=$(grep "final loss" "$work/library.txt")
cli=$(grep "final loss" "$work/cli.txt")
if [ -n "$library" ] && [ "$library" = "$cli" ]; then
  echo "PASS: the library's loop and reforge train end alike: $library"
else
  echo "FAIL: library '$library' vs reforge train '$cli'"
  status=1
fi
if ls "$work/run"/checkpoint-*.safetensors > /dev/null 2>&1; then
  echo "PASS: the example's run directory holds a checkpoint"
else
  echo "FAIL: no checkpoint in the example's run directory"
  status=1
fi
exit $status
