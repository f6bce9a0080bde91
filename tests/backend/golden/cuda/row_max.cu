
// reforge_k0: out0=reduce_max in1=x
extern "C" __global__ void reforge_k0(float* out0, const float* in1, long long begin, long long end) {
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (thread >= end - begin) return;
  const long long i0 = begin + thread;
  float acc0;
  acc0 = reforge_f32(0xff800000u);
  for (long long i1 = 0; i1 < 5LL; ++i1) {
    const long long v6 = i0 * 5LL;
    const long long v7 = v6 + i1;
    const float v8 = in1[v7];
    const bool v10 = acc0 < v8;
    const float v11 = v10 ? v8 : acc0;
    acc0 = v11;
  }
  out0[i0] = acc0;
}
#ifdef REFORGE_CUDA_ON_HOST
extern "C" const int reforge_host_buffers_reforge_k0 = 2;
extern "C" const long long reforge_host_threads_per_iteration_reforge_k0 = 1;
extern "C" void reforge_host_reforge_k0(void* const* buffers, long long begin, long long end) {
  const long long threads = end - begin;
  blockDim.x = 256;
  gridDim.x = (unsigned int)((threads + 256 - 1) / 256);
  for (unsigned int b = 0; b < gridDim.x; ++b) {
    for (unsigned int t = 0; t < blockDim.x; ++t) {
      blockIdx.x = b;
      threadIdx.x = t;
      reforge_k0((float*)buffers[0], (const float*)buffers[1], begin, end);
    }
  }
}
#endif
