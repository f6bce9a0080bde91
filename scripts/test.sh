#!/usr/bin/env bash
# The whole test suite: installs prerequisites, builds, runs every test,
# and ends with one line "N passed, M failed" (test cases, not targets).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh || exit 1
scripts/install_test_deps.sh || echo "reforge: WARNING: test extras missing; the report and safetensors checks skip"
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"

scripts/bazel.sh test //... --test_output=errors \
  --test_env=REFORGE_CHROMIUM="$(command -v chromium || true)" \
  --test_env=REFORGE_INTEROP_PYTHON="$HOME/.cache/reforge/venv-interop/bin/python" "$@"
status=$?

bazel query 'tests(//...)' 2>/dev/null | python3 scripts/count_tests.py bazel-testlogs
count_status=$?
if [ $status -ne 0 ] || [ $count_status -ne 0 ]; then
  exit 1
fi
