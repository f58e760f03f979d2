// CUDA kernels of the AGMM pixel losses (the arithmetic is in pixel_losses.h).
// One thread per pixel (grid-stride): neighbouring threads read neighbouring
// pixels of each class plane, so every load is coalesced. The forward reduces
// each block's sums in shared memory into one partial row per block; the grid
// has a fixed size for a given number of pixels, so the sums are reproducible.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>

#include "ops.h"
#include "pixel_losses.h"

namespace wsvision {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1024;
constexpr int kSums = 2 * pixel_losses::kTerms;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(pixel_losses::Args<T> args, int64_t N, double* __restrict__ partial) {
  __shared__ double shared[kSums][kThreads];
  double acc[kSums] = {};
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < N;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    pixel_losses::forward_pixel(args, i / args.P, i % args.P, acc);
  }
#pragma unroll
  for (int j = 0; j < kSums; ++j) shared[j][threadIdx.x] = acc[j];
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
#pragma unroll
      for (int j = 0; j < kSums; ++j) shared[j][threadIdx.x] += shared[j][threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x < kSums) partial[blockIdx.x * kSums + threadIdx.x] = shared[threadIdx.x][0];
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(pixel_losses::Args<T> args, int64_t N, const T* __restrict__ grad_sums,
                    T* __restrict__ grad_logits, T* __restrict__ grad_resp) {
  T g[pixel_losses::kTerms];
#pragma unroll
  for (int j = 0; j < pixel_losses::kTerms; ++j) g[j] = grad_sums[j];
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < N;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    pixel_losses::backward_pixel(args, g, i / args.P, i % args.P, grad_logits, grad_resp);
  }
}

int64_t num_blocks(int64_t N) {
  return std::max<int64_t>(1, std::min(kMaxBlocks, (N + kThreads - 1) / kThreads));
}

}  // namespace

at::Tensor agmm_pixel_forward_cuda(const at::Tensor& logits, const at::Tensor& labels,
                                   const at::Tensor& absent, const at::Tensor& resp,
                                   const at::Tensor& mask, const at::Tensor& slot_class,
                                   double eps) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const int64_t N = logits.size(0) * logits.size(2) * logits.size(3);
  const int64_t blocks = num_blocks(N);
  at::Tensor partial = at::empty({blocks, kSums}, logits.options().dtype(at::kDouble));
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "agmm_pixel_forward_cuda", [&] {
    forward_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        pixel_losses::make_args<scalar_t>(logits, labels, absent, resp, mask, slot_class, eps), N,
        partial.mutable_data_ptr<double>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return partial.sum(0);
}

std::vector<at::Tensor> agmm_pixel_backward_cuda(const at::Tensor& grad_sums,
                                                 const at::Tensor& logits,
                                                 const at::Tensor& labels,
                                                 const at::Tensor& absent,
                                                 const at::Tensor& resp, const at::Tensor& mask,
                                                 const at::Tensor& slot_class, double eps) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const int64_t N = logits.size(0) * logits.size(2) * logits.size(3);
  at::Tensor grad_logits = at::empty_like(logits);
  at::Tensor grad_resp = at::empty_like(resp);
  const at::Tensor g = grad_sums.to(logits.device()).contiguous();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "agmm_pixel_backward_cuda", [&] {
    backward_kernel<scalar_t><<<num_blocks(N) * 4, kThreads, 0, stream>>>(
        pixel_losses::make_args<scalar_t>(logits, labels, absent, resp, mask, slot_class, eps), N,
        g.const_data_ptr<scalar_t>(), grad_logits.mutable_data_ptr<scalar_t>(),
        grad_resp.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {grad_logits, grad_resp};
}

}  // namespace wsvision
