#!/usr/bin/env bash
# Installs the peer implementations for bench/peers/run.sh, idempotently:
# PyTorch from Debian (python3-torch 1.13) with OpenBLAS, and
# reformer-pytorch 1.4.4 from PyPI into a virtualenv that sees Debian's
# packages, with its dependencies pinned to versions of its time
# (--no-deps: nothing else is pulled in). Debian's torch calls whatever
# libblas.so.3 the system's alternatives name; with only the reference
# BLAS there (python3-torch's own dependency) P1 at 1K took 13.0 s a step
# instead of 2.3, so OpenBLAS is installed too, which the alternatives
# then prefer. trax has its own virtualenv: bench/peers/install_trax.sh.
set -euo pipefail
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
venv="$HOME/.cache/reforge/venv-peers"
installed() { dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q "install ok installed"; }
if ! installed python3-torch || ! installed libopenblas0-pthread; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-torch python3-venv libopenblas0-pthread \
    > /dev/null
fi
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
case "$blas" in
  *openblas*) ;;
  *) echo "install.sh: WARNING: libblas.so.3 is $blas, not OpenBLAS: reformer-pytorch will be slow" >&2 ;;
esac
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import reformer_pytorch" 2> /dev/null; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --no-deps reformer-pytorch==1.4.4 local-attention==1.4.4 einops==0.6.1 \
    product-key-memory==0.1.10 axial-positional-embedding==0.2.1
fi
echo "$venv/bin/python"
