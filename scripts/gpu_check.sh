#!/usr/bin/env bash
# The GPU check (tests/gpu/gpu_check.cc): the CUDA back end against the
# interpreter on a real GPU — every op case the GPU library covers, the
# exact cases, and local/full-attention training steps — ending with
# "N passed, M failed". In two halves:
#
#   scripts/gpu_check.sh             here: builds the check (optimised, the
#                                    project's libraries linked in, no LLVM)
#                                    into gpu_check_bundle/ with the shared
#                                    libraries a GPU machine may lack
#   gpu_check_bundle/run.sh [flags]  there: runs it on GPU 0 with that
#                                    machine's driver and NVRTC
#
# The bundle needs the GPU machine's C library to be as new as this one's
# (Debian 12: glibc 2.36), its NVIDIA driver, and NVRTC from a CUDA 12 or
# 13 toolkit (libnvrtc.so.13 in /usr/local/cuda/lib64, or $REFORGE_NVRTC).
# With the `device` tool: carry gpu_check_bundle and run
# gpu_check_bundle/run.sh (about a minute on a GPU). Without a GPU,
# `REFORGE_CUDA_DRIVER=bazel-bin/tests/runtime/libfake_cuda_driver.so
# gpu_check_bundle/run.sh --host_code` runs it on the stand-in driver.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/bazel.sh build -c opt //tests/gpu:gpu_check //tests/runtime:libfake_cuda_driver.so
bundle=gpu_check_bundle
rm -rf "$bundle"
mkdir -p "$bundle/lib"
cp bazel-bin/tests/gpu/gpu_check "$bundle/"
# The C++ runtime and fmt as built against here; the C library and the
# dynamic loader stay the machine's.
ldd bazel-bin/tests/gpu/gpu_check | awk '/=> \// { print $3 }' |
  grep -E 'libfmt|libstdc\+\+|libgcc_s' | xargs -r cp -L -t "$bundle/lib/"
cat > "$bundle/run.sh" << 'RUN'
#!/usr/bin/env bash
# Runs the GPU check on GPU 0 (flags: --host_code, --every=N).
here="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/gpu_check" "$@"
RUN
chmod +x "$bundle/run.sh"
echo "wrote $bundle/ ($(du -sh "$bundle" | cut -f1)): carry it to a GPU machine and run $bundle/run.sh"
