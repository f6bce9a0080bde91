#!/usr/bin/env bash
# Installs what Reforge builds with, from Debian's packages. Idempotent:
# packages already present are left alone and apt is not touched at all.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java bazel-platforms
  g++ binutils python3
  libfmt-dev libgtest-dev libbenchmark-dev
  llvm-19-dev
  openmpi-bin libopenmpi-dev
  bible-kjv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "reforge: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

# The default training text: the King James Bible, written once from
# Debian's bible-kjv (4.4 MB of plain text).
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
corpus="${REFORGE_DATA_DIR:-$HOME/.cache/reforge/data}/kjv.txt"
if [ ! -s "$corpus" ]; then
  mkdir -p "$(dirname "$corpus")"
  bible -f "Gen1:1-Rev22:21" > "$corpus.tmp" && mv "$corpus.tmp" "$corpus"
  echo "reforge: wrote the default corpus $corpus ($(wc -c < "$corpus") bytes)"
fi
