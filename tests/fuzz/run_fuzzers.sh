#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer (clang 19, ASan, UBSan) and runs
# each for SECONDS (default 30) on a copy of its seed corpus; prints the
# executions each reached. Exits non-zero if any finds a crash (the input
# is left in tests/fuzz/findings/).
#   tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(ir_parser_fuzz command_line_fuzz artifact_fuzz checkpoint_fuzz)

if ! command -v clang++-19 > /dev/null || ! { [ -x /usr/lib/llvm-19/bin/ld.lld ] || command -v ld.lld > /dev/null; } || [ ! -e /usr/lib/llvm-19/lib/clang/19/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq clang-19 libclang-rt-19-dev lld-19 > /dev/null
fi
scripts/bazel.sh build -c opt //tools/cli:reforge
reforge="$(pwd)/$(ls -d bazel-out/k8-opt/bin/tools/cli/reforge)"
scripts/bazel.sh build --config=fuzz $(printf '//tests/fuzz:%s ' "${targets[@]}")
bin="$(scripts/bazel.sh info --config=fuzz bazel-bin 2> /dev/null)/tests/fuzz"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tests/fuzz/make_seeds.sh "$reforge" "$work/made"
mkdir -p tests/fuzz/findings
status=0
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus"
  case "$t" in
    ir_parser_fuzz) cp tests/fuzz/corpus/ir/* "$corpus" ;;
    command_line_fuzz) cp tests/fuzz/corpus/command_line/* "$corpus" ;;
    artifact_fuzz) cp "$work"/made/artifact/* "$corpus" ;;
    checkpoint_fuzz) cp "$work"/made/checkpoint/* "$corpus" ;;
  esac
  if ASAN_OPTIONS=detect_leaks=0 "$bin/$t" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix=tests/fuzz/findings/ -print_final_stats=1 "$corpus" > "$work/$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$')
    echo "$t: $runs executions in ${seconds}s, no crash"
  else
    echo "$t: FOUND A CRASH (see tests/fuzz/findings/)"
    tail -30 "$work/$t.log"
    status=1
  fi
done
exit $status
