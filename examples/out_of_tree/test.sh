#!/usr/bin/env bash
# Builds this workspace (Reforge as an external repository) and runs its
# program: passes when the variant trained below chance on the copy task
# (ln 7 = 1.95 nats per copied symbol) and a training step ran from the
# artifact file it wrote. scripts/test.sh counts it as one test.
set -uo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
# This workspace's Bazel server is not needed after the run.
trap 'rm -rf "$out"; bazel shutdown > /dev/null 2>&1 || true' EXIT
if ! ../../scripts/bazel.sh run //:train -- "$out" > "$out/log" 2>&1; then
  tail -n 30 "$out/log"
  echo "out-of-tree: FAILED (the build or the program failed)"
  exit 1
fi
final=$(sed -n 's/^final loss \([0-9.]*\) .*/\1/p' "$out/log")
artifact=$(grep -c '^artifact .*: a training step from it, loss [0-9.]*$' "$out/log")
grep -E '^(step|validation|final loss|artifact)' "$out/log"
if [ -z "$final" ] || ! python3 -c "import sys; sys.exit(0 if float('$final') < 1.0 else 1)" || [ "$artifact" != 1 ]; then
  echo "out-of-tree: FAILED (final loss '${final}', artifact step lines: ${artifact})"
  exit 1
fi
echo "out-of-tree: passed"
