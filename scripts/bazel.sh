#!/usr/bin/env bash
# Runs Bazel with the project's shared disk cache, so a fresh clone reuses
# what an earlier build on this machine compiled.
set -euo pipefail
# Bazel keeps its output base under $HOME too; make sure it is set.
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
cache="${REFORGE_BAZEL_CACHE:-$HOME/.cache/reforge-bazel-disk}"
mkdir -p "$cache"
command="$1"
shift
exec bazel "$command" --disk_cache="$cache" "$@"
