#!/usr/bin/env bash
# Installs trax 1.4.1 (the Reformer authors' implementation) for
# bench/peers/run.sh, idempotently, into its own virtualenv from PyPI, and
# prints its Python. trax 1.4.1 names no versions; these pins are the
# newest that still run it on Python 3.11: JAX/jaxlib 0.4.13 (jax.config,
# jax.lib.xla_bridge still there), TensorFlow 2.14 with the matching text
# and datasets packages (trax imports them at start-up), protobuf-era
# tensorflow-metadata 1.14, SciPy 1.11 and NumPy 1.26.
set -euo pipefail
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
venv="$HOME/.cache/reforge/venv-trax"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import trax" > /dev/null 2>&1; then
  if ! /usr/bin/python3 -m venv --help > /dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv > /dev/null
  fi
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "trax==1.4.1" "jax==0.4.13" "jaxlib==0.4.13" "tensorflow==2.14.1" \
    "tensorflow-text==2.14.0" "tensorflow-datasets==4.9.3" "tensorflow-metadata==1.14.0" "numpy==1.26.4" \
    "scipy==1.11.4" > /dev/null
fi
echo "$venv/bin/python"
