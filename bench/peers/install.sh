#!/usr/bin/env bash
# Installs the peer implementations for bench/peers/run.sh, idempotently:
# PyTorch from Debian (python3-torch 1.13) and reformer-pytorch 1.4.4 from
# PyPI into a virtualenv that sees Debian's packages, with its
# dependencies pinned to versions of its time (--no-deps: nothing else is
# pulled in). trax has its own virtualenv: bench/peers/install_trax.sh.
set -euo pipefail
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
venv="$HOME/.cache/reforge/venv-peers"
if ! dpkg-query -W -f='${Status}' python3-torch 2> /dev/null | grep -q "install ok installed"; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-torch python3-venv > /dev/null
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import reformer_pytorch" 2> /dev/null; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --no-deps reformer-pytorch==1.4.4 local-attention==1.4.4 einops==0.6.1 \
    product-key-memory==0.1.10 axial-positional-embedding==0.2.1
fi
echo "$venv/bin/python"
