#!/usr/bin/env bash
# The GPU check (tests/gpu/gpu_check.cc): the CUDA back end against the
# interpreter on a real GPU — every op case the GPU library covers, the
# exact cases, and LSH/local/full-attention training steps — then P1's
# CUDA artifact against its CPU artifact through runtime::Model, and P1's
# step times and GPU memory at 1K to 64K; ending with "N passed, M
# failed". In two halves:
#
#   scripts/gpu_check.sh             here: builds the check (optimised, the
#                                    project's libraries linked in, no LLVM)
#                                    into gpu_check_bundle/ with the shared
#                                    libraries a GPU machine may lack
#   gpu_check_bundle/run.sh [flags]  there: runs it on GPU 0 with that
#                                    machine's driver and NVRTC
#
# The bundle needs the GPU machine's C library to be as new as this one's
# (Debian 12: glibc 2.36), its NVIDIA driver, and NVRTC and cuBLAS from a
# CUDA 13 toolkit (in /usr/local/cuda/lib64, or $REFORGE_NVRTC and
# $REFORGE_CUBLAS; without cuBLAS the products run on the library's kernel).
# With the `device` tool: carry gpu_check_bundle and run
# gpu_check_bundle/run.sh (about a minute on a GPU). Without a GPU,
# `REFORGE_CUDA_DRIVER=bazel-bin/tests/runtime/libfake_cuda_driver.so
# gpu_check_bundle/run.sh --host_code` runs it on the stand-in driver.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/bazel.sh build -c opt //tests/gpu:gpu_check //tests/runtime:libfake_cuda_driver.so //tools/cli:reforge
bundle=gpu_check_bundle
rm -rf "$bundle"
mkdir -p "$bundle/lib" "$bundle/artifacts"
# P1 (docs/BENCHMARKS.md): its CPU artifact at 1K for a CPU of the GPU
# machine's age or newer, and its CUDA artifacts (sm_90) at each length
# (about 5 MiB each, the bundle stays well under the 64 MiB a command
# carries).
p1=(byte-lm --vocab_size=256 --d_model=256 --d_ff=1024 --n_layers=6 --n_heads=4 --d_head=64 --chunk_len=64
    --n_hashes=4 --attention=lsh --causal=true --reversible=true --ff_chunks=8 --batch=1)
bazel-bin/tools/cli/reforge compile "${p1[@]}" --seq_len=1024 --cpu=x86-64-v3 -o "$bundle/artifacts/p1_cpu.rfa" > /dev/null
for L in ${GPU_CHECK_LENGTHS:-1024 4096 16384 65536}; do
  bazel-bin/tools/cli/reforge compile "${p1[@]}" --seq_len="$L" --target=cuda -o "$bundle/artifacts/p1_cuda_$L.rfa" > /dev/null
done
cp bazel-bin/tests/gpu/gpu_check "$bundle/"
# The C++ runtime and fmt as built against here; the C library and the
# dynamic loader stay the machine's.
ldd bazel-bin/tests/gpu/gpu_check | awk '/=> \// { print $3 }' |
  grep -E 'libfmt|libstdc\+\+|libgcc_s' | xargs -r cp -L -t "$bundle/lib/"
cat > "$bundle/run.sh" << 'RUN'
#!/usr/bin/env bash
# Runs the GPU check on GPU 0 with P1's artifacts (flags: --host_code,
# --every=N; --host_code skips the artifacts, which hold GPU code).
here="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$here/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
artifacts=("--artifacts=$here/artifacts")
for flag in "$@"; do [ "$flag" = --host_code ] && artifacts=(); done
exec "$here/gpu_check" "${artifacts[@]}" "$@"
RUN
chmod +x "$bundle/run.sh"
echo "wrote $bundle/ ($(du -sh "$bundle" | cut -f1)): carry it to a GPU machine and run $bundle/run.sh"
