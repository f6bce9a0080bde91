#!/usr/bin/env bash
# What the benchmarks need beyond the build: OpenBLAS (the GEMM reference).
# Idempotent, like scripts/install_deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
if ! dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q "install ok installed"; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libopenblas-dev
fi
