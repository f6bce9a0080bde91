#!/usr/bin/env bash
# What the test suite needs beyond the build (idempotent): headless
# Chromium to render the report page, and Python's safetensors package
# (pinned, in a virtualenv of its own) to read checkpoints as Hugging Face
# tools do. Tests that need them are told where they are through
# --test_env (see scripts/test.sh); without them those checks are skipped.
set -euo pipefail
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"

if ! command -v chromium > /dev/null; then
  echo "reforge: installing chromium (to check the report page)"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium > /dev/null
fi

venv="$HOME/.cache/reforge/venv-interop"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import safetensors, numpy" 2> /dev/null; then
  echo "reforge: installing safetensors 0.4.5 and numpy 1.26.4 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q safetensors==0.4.5 numpy==1.26.4
fi
