// CUDA kernels of the segment sum behind masked_class_mean (see
// segment_sum_cpu.cpp). A block sums a tile of channels over a range of
// pixels of one image into shared memory, (K x channels), then adds the tile
// to the output. Atomics make the summation order, and so the last bits, vary
// between runs.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>

#include "ops.h"

namespace wsvision {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxChanTile = 32;
constexpr int kPixPerBlock = 1024;  // pixels per block of the forward
constexpr unsigned kMaxGridY = 65535;
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
  const int p_end = min(P, static_cast<int>(blockIdx.z + 1) * kPixPerBlock);
  for (int i = threadIdx.x; i < K * chan_tile; i += blockDim.x) tile[i] = T(0);
  __syncthreads();
  const int32_t* seg = segment + static_cast<int64_t>(b) * P;
  const T* feat_tile = feat + (static_cast<int64_t>(b) * C + c0) * P;
  for (int p = blockIdx.z * kPixPerBlock + threadIdx.x; p < p_end; p += blockDim.x) {
    const int k = seg[p];
    if (k < 0) continue;
    for (int c = 0; c < channels; ++c) {
      atomicAdd(&tile[k * chan_tile + c], feat_tile[static_cast<int64_t>(c) * P + p]);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < K * channels; i += blockDim.x) {
    const int k = i / channels, c = i % channels;
    const T value = tile[k * chan_tile + c];
    if (value != T(0)) atomicAdd(&sums[(static_cast<int64_t>(b) * K + k) * C + c0 + c], value);
  }
}

// One (image, channel) row per blockIdx.y step, its pixels along x: the
// class of a pixel is looked up once per row, with no 64-bit division.
template <typename T>
__global__ void backward_kernel(const T* __restrict__ grad_sums,
                                const int32_t* __restrict__ segment, T* __restrict__ grad_feat,
                                int K, int C, int P, int rows) {
  for (int row = blockIdx.y; row < rows; row += gridDim.y) {  // row = b * C + c
    const int b = row / C, c = row % C;
    const int32_t* seg = segment + static_cast<int64_t>(b) * P;
    const T* grad_row = grad_sums + static_cast<int64_t>(b) * K * C + c;
    T* out = grad_feat + static_cast<int64_t>(row) * P;
    for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < P; p += gridDim.x * blockDim.x) {
      const int k = seg[p];
      out[p] = k >= 0 ? grad_row[static_cast<int64_t>(k) * C] : T(0);
    }
  }
}

}  // namespace

at::Tensor segment_sum_forward_cuda(const at::Tensor& feat, const at::Tensor& segment,
                                    int64_t num_segments) {
  const c10::cuda::CUDAGuard guard(feat.device());
  const int64_t B = feat.size(0), C = feat.size(1), P = feat.size(2) * feat.size(3);
  at::Tensor sums = at::zeros({B, num_segments, C}, feat.options());
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "segment_sum_forward_cuda", [&] {
    // As many channels per block as fit (K x channels) in shared memory.
    const int64_t fit = kSharedBytes / (num_segments * static_cast<int64_t>(sizeof(scalar_t)));
    TORCH_CHECK(fit >= 1, "segment_sum: ", num_segments, " classes do not fit in shared memory");
    const int chan_tile = static_cast<int>(std::min<int64_t>({fit, kMaxChanTile, C}));
    const dim3 grid(static_cast<unsigned>((C + chan_tile - 1) / chan_tile),
                    static_cast<unsigned>(B),
                    static_cast<unsigned>((P + kPixPerBlock - 1) / kPixPerBlock));
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
  const int64_t rows = B * channels;
  const dim3 grid(static_cast<unsigned>((P + kThreads - 1) / kThreads),
                  static_cast<unsigned>(std::min<int64_t>(rows, kMaxGridY)));
  AT_DISPATCH_FLOATING_TYPES(grad_sums.scalar_type(), "segment_sum_backward_cuda", [&] {
    backward_kernel<scalar_t><<<grid, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        grad_sums.const_data_ptr<scalar_t>(), segment.const_data_ptr<int32_t>(),
        grad_feat.mutable_data_ptr<scalar_t>(), static_cast<int>(K), static_cast<int>(channels),
        static_cast<int>(P), static_cast<int>(rows));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad_feat;
}

}  // namespace wsvision
