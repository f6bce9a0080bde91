#!/usr/bin/env bash
# Installs trax 1.4.1 (the Reformer authors' implementation) for
# bench/peers/run.sh, idempotently, into a virtualenv of its own from PyPI,
# and prints its Python.
#   bench/peers/install_trax.sh [newest|oldest]   (default: newest)
# trax 1.4.1 names no versions, so each choice pins a whole set:
#   newest: what pip resolved for `trax==1.4.1 jax jaxlib` on 2026-12-07,
#           JAX/jaxlib 0.10.2, TensorFlow 2.21 and NumPy 2.4 (trax runs on
#           them as it is; a user installing trax today gets these);
#   oldest: the set trax was released against, the newest that still runs
#           it on Python 3.11 by the old API: JAX/jaxlib 0.4.13 (jax.config,
#           jax.lib.xla_bridge still there), TensorFlow 2.14 with the
#           matching text and datasets packages (trax imports them at
#           start-up), tensorflow-metadata 1.14, SciPy 1.11, NumPy 1.26.
set -euo pipefail
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
choice="${1:-newest}"
case "$choice" in
  newest)
    pins=("jax==0.10.2" "jaxlib==0.10.2" "tensorflow==2.21.0" "tensorflow-text==2.21.1"
      "tensorflow-datasets==4.9.10" "tensorflow-metadata==1.21.0" "keras==3.15.1" "protobuf==7.36.2"
      "numpy==2.4.6" "scipy==1.17.1" "gin-config==0.5.0")
    venv="$HOME/.cache/reforge/venv-trax-newest"
    ;;
  oldest)
    pins=("jax==0.4.13" "jaxlib==0.4.13" "tensorflow==2.14.1" "tensorflow-text==2.14.0" "tensorflow-datasets==4.9.3"
      "tensorflow-metadata==1.14.0" "numpy==1.26.4" "scipy==1.11.4")
    venv="$HOME/.cache/reforge/venv-trax"
    ;;
  *)
    echo "install_trax.sh: unknown choice '$choice' (newest or oldest)" >&2
    exit 2
    ;;
esac
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import trax" > /dev/null 2>&1; then
  if ! /usr/bin/python3 -m venv --help > /dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv > /dev/null
  fi
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q "trax==1.4.1" "${pins[@]}" > /dev/null
fi
echo "$venv/bin/python"
