
// reforge_k0: out0=select in1=a in2=b
extern "C" __global__ void reforge_k0(long long* out0, const long long* in1, const long long* in2, long long begin, long long end) {
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (thread >= end - begin) return;
  const long long i0 = begin + thread;
  const long long v3 = in1[i0];
  const long long v4 = in2[i0];
  const bool v5 = v3 > v4;
  const long long v6 = reforge_floordiv<long long>(v3, v4);
  const long long v7 = reforge_floormod<long long>(v3, v4);
  const long long v8 = v5 ? v6 : v7;
  out0[i0] = v8;
}
#ifdef REFORGE_CUDA_ON_HOST
extern "C" const int reforge_host_buffers_reforge_k0 = 3;
extern "C" const long long reforge_host_threads_per_iteration_reforge_k0 = 1;
extern "C" void reforge_host_reforge_k0(void* const* buffers, long long begin, long long end) {
  const long long threads = end - begin;
  blockDim.x = 256;
  gridDim.x = (unsigned int)((threads + 256 - 1) / 256);
  for (unsigned int b = 0; b < gridDim.x; ++b) {
    for (unsigned int t = 0; t < blockDim.x; ++t) {
      blockIdx.x = b;
      threadIdx.x = t;
      reforge_k0((long long*)buffers[0], (const long long*)buffers[1], (const long long*)buffers[2], begin, end);
    }
  }
}
#endif

// reforge_k1: out0=logical_not in1=a in2=b
extern "C" __global__ void reforge_k1(unsigned char* out0, const long long* in1, const long long* in2, long long begin, long long end) {
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (thread >= end - begin) return;
  const long long i0 = begin + thread;
  const long long v3 = in1[i0];
  const long long v4 = in2[i0];
  const bool v5 = v3 == v4;
  const bool v6 = !v5;
  out0[i0] = (unsigned char)v6;
}
#ifdef REFORGE_CUDA_ON_HOST
extern "C" const int reforge_host_buffers_reforge_k1 = 3;
extern "C" const long long reforge_host_threads_per_iteration_reforge_k1 = 1;
extern "C" void reforge_host_reforge_k1(void* const* buffers, long long begin, long long end) {
  const long long threads = end - begin;
  blockDim.x = 256;
  gridDim.x = (unsigned int)((threads + 256 - 1) / 256);
  for (unsigned int b = 0; b < gridDim.x; ++b) {
    for (unsigned int t = 0; t < blockDim.x; ++t) {
      blockIdx.x = b;
      threadIdx.x = t;
      reforge_k1((unsigned char*)buffers[0], (const long long*)buffers[1], (const long long*)buffers[2], begin, end);
    }
  }
}
#endif
