// CUDA kernels of the segment sum behind masked_class_mean (see
// segment_sum_cpu.cpp). A block sums a tile of channels of one image into
// shared memory, (K x channels), then writes the tile once. Shared-memory
// atomics make the summation order, and so the last bits, vary between runs.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>

#include "ops.h"

namespace wsvision {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxChanTile = 32;
constexpr int64_t kSharedBytes = 48 * 1024;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const T* __restrict__ feat, const int32_t* __restrict__ segment,
                   T* __restrict__ sums, int K, int C, int P, int chan_tile) {
  extern __shared__ unsigned char shared_bytes[];
  T* tile = reinterpret_cast<T*>(shared_bytes);  // tile[k * chan_tile + c]
  const int b = blockIdx.y;
  const int c0 = blockIdx.x * chan_tile;
  const int channels = min(chan_tile, C - c0);
  for (int i = threadIdx.x; i < K * chan_tile; i += blockDim.x) tile[i] = T(0);
  __syncthreads();
  const int32_t* seg = segment + static_cast<int64_t>(b) * P;
  const T* feat_tile = feat + (static_cast<int64_t>(b) * C + c0) * P;
  for (int p = threadIdx.x; p < P; p += blockDim.x) {
    const int k = seg[p];
    if (k < 0) continue;
    for (int c = 0; c < channels; ++c) {
      atomicAdd(&tile[k * chan_tile + c], feat_tile[static_cast<int64_t>(c) * P + p]);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < K * channels; i += blockDim.x) {
    const int k = i / channels, c = i % channels;
    sums[(static_cast<int64_t>(b) * K + k) * C + c0 + c] = tile[k * chan_tile + c];
  }
}

template <typename T>
__global__ void backward_kernel(const T* __restrict__ grad_sums,
                                const int32_t* __restrict__ segment, T* __restrict__ grad_feat,
                                int K, int C, int P, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = i % P, row = i / P;  // row = b * C + c
    const int64_t b = row / C, c = row % C;
    const int k = segment[b * P + p];
    grad_feat[i] = k >= 0 ? grad_sums[(b * K + k) * C + c] : T(0);
  }
}

}  // namespace

at::Tensor segment_sum_forward_cuda(const at::Tensor& feat, const at::Tensor& segment,
                                    int64_t num_segments) {
  const c10::cuda::CUDAGuard guard(feat.device());
  const int64_t B = feat.size(0), C = feat.size(1), P = feat.size(2) * feat.size(3);
  at::Tensor sums = at::empty({B, num_segments, C}, feat.options());
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "segment_sum_forward_cuda", [&] {
    // As many channels per block as fit (K x channels) in shared memory.
    const int64_t fit = kSharedBytes / (num_segments * static_cast<int64_t>(sizeof(scalar_t)));
    TORCH_CHECK(fit >= 1, "segment_sum: ", num_segments, " classes do not fit in shared memory");
    const int chan_tile = static_cast<int>(std::min<int64_t>({fit, kMaxChanTile, C}));
    const dim3 grid(static_cast<unsigned>((C + chan_tile - 1) / chan_tile),
                    static_cast<unsigned>(B));
    const size_t shared = num_segments * chan_tile * sizeof(scalar_t);
    forward_kernel<scalar_t><<<grid, kThreads, shared, c10::cuda::getCurrentCUDAStream()>>>(
        feat.const_data_ptr<scalar_t>(), segment.const_data_ptr<int32_t>(),
        sums.mutable_data_ptr<scalar_t>(), static_cast<int>(num_segments), static_cast<int>(C),
        static_cast<int>(P), chan_tile);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return sums;
}

at::Tensor segment_sum_backward_cuda(const at::Tensor& grad_sums, const at::Tensor& segment,
                                     int64_t channels) {
  const c10::cuda::CUDAGuard guard(grad_sums.device());
  const int64_t B = grad_sums.size(0), K = grad_sums.size(1), P = segment.size(1);
  at::Tensor grad_feat = at::empty({B, channels, P}, grad_sums.options());
  const int64_t total = grad_feat.numel();
  const int blocks = static_cast<int>(std::min<int64_t>((total + kThreads - 1) / kThreads, 65535));
  AT_DISPATCH_FLOATING_TYPES(grad_sums.scalar_type(), "segment_sum_backward_cuda", [&] {
    backward_kernel<scalar_t><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        grad_sums.const_data_ptr<scalar_t>(), segment.const_data_ptr<int32_t>(),
        grad_feat.mutable_data_ptr<scalar_t>(), static_cast<int>(K), static_cast<int>(channels),
        static_cast<int>(P), total);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad_feat;
}

}  // namespace wsvision
