// CUDA kernels of the GMM distance
//   S[b, k, p] = sum_c scale[b, k, c] * phi(feat[b, c, p] - means[b, k, c]),
// phi(t) = |t| or t^2 (see gmm_cpu.cpp). Features are read in their
// (B, C, h * w) layout: neighbouring threads take neighbouring pixels, so every
// load of a channel is coalesced. No (B, K, C, h, w) tensor is ever formed.
//
// - forward and grad_feat: one thread per kPixPerThread pixels of one image,
//   holding KT classes in registers, with (mean, scale) tiles in shared memory;
//   grad_feat also splits the channels over blocks (blockIdx.z), kChanTile
//   each, so that enough blocks run at once.
// - grad_means and grad_scale: each block reduces a (class tile x kTileC) tile of
//   (class, channel) pairs over a range of pixels of one image; the per-range
//   partial sums are added up afterwards (deterministic, no atomics). The
//   kernel runs only when one of them is needed, and sums phi only for
//   grad_scale.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <type_traits>

#include "ops.h"

namespace wsvision {
namespace {

constexpr int kThreads = 128;
constexpr int kPixPerThread = 2;
constexpr int kChanTile = 32;

template <typename T>
struct Param {
  T mean;
  T scale;
};

template <typename T, bool kL1>
__device__ __forceinline__ T phi(T d) {
  return kL1 ? abs(d) : d * d;
}

// d phi / d t; the l1 subgradient at 0 is 0, as torch.abs uses.
template <typename T, bool kL1>
__device__ __forceinline__ T phi_grad(T d) {
  return kL1 ? static_cast<T>((d > T(0)) - (d < T(0))) : T(2) * d;
}

// Loads (mean, scale) of classes k0 .. k0 + KT and channels c0 .. c0 + kChanTile
// of image b into tile[c][k]. Entries past K or C get scale 0, so they add 0.
template <typename T, int KT>
__device__ void load_param_tile(Param<T> (*tile)[KT], const T* means, const T* scale, int b, int k0,
                                int c0, int K, int C) {
  for (int i = threadIdx.x; i < kChanTile * KT; i += blockDim.x) {
    const int kk = i / kChanTile, c = i % kChanTile;  // c fastest: coalesced reads
    Param<T> param{T(0), T(0)};
    if (k0 + kk < K && c0 + c < C) {
      const int64_t at = (static_cast<int64_t>(b) * K + k0 + kk) * C + c0 + c;
      param.mean = means[at];
      param.scale = scale[at];
    }
    tile[c][kk] = param;
  }
}

template <typename T, bool kL1, int KT>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const T* __restrict__ feat, const T* __restrict__ means,
                   const T* __restrict__ scale, T* __restrict__ out, int K, int C, int P) {
  __shared__ Param<T> tile[kChanTile][KT];
  const int b = blockIdx.y;
  const int p_first = blockIdx.x * kThreads * kPixPerThread + threadIdx.x;
  const T* feat_image = feat + static_cast<int64_t>(b) * C * P;
  for (int k0 = 0; k0 < K; k0 += KT) {
    T acc[KT][kPixPerThread] = {};
    for (int c0 = 0; c0 < C; c0 += kChanTile) {
      __syncthreads();
      load_param_tile<T, KT>(tile, means, scale, b, k0, c0, K, C);
      __syncthreads();
      const int channels = min(kChanTile, C - c0);
      for (int c = 0; c < channels; ++c) {
        T f[kPixPerThread];
#pragma unroll
        for (int r = 0; r < kPixPerThread; ++r) {
          const int p = p_first + r * kThreads;
          f[r] = p < P ? feat_image[static_cast<int64_t>(c0 + c) * P + p] : T(0);
        }
#pragma unroll
        for (int kk = 0; kk < KT; ++kk) {
          const Param<T> param = tile[c][kk];
#pragma unroll
          for (int r = 0; r < kPixPerThread; ++r)
            acc[kk][r] += param.scale * phi<T, kL1>(f[r] - param.mean);
        }
      }
    }
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
#pragma unroll
      for (int r = 0; r < kPixPerThread; ++r) {
        const int p = p_first + r * kThreads;
        if (k0 + kk < K && p < P) out[(static_cast<int64_t>(b) * K + k0 + kk) * P + p] = acc[kk][r];
      }
    }
  }
}

// grad_feat[b, c, p] = sum_k grad[b, k, p] * scale[b, k, c] * phi'(feat[b, c, p] - means[b, k, c])
template <typename T, bool kL1, int KT>
__global__ void __launch_bounds__(kThreads)
    grad_feat_kernel(const T* __restrict__ grad, const T* __restrict__ feat,
                     const T* __restrict__ means, const T* __restrict__ scale,
                     T* __restrict__ grad_feat, int K, int C, int P) {
  __shared__ Param<T> tile[kChanTile][KT];
  const int b = blockIdx.y;
  const int p_first = blockIdx.x * kThreads * kPixPerThread + threadIdx.x;
  const int64_t image_offset = static_cast<int64_t>(b) * C * P;
  for (int k0 = 0; k0 < K; k0 += KT) {
    T g[KT][kPixPerThread];
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
#pragma unroll
      for (int r = 0; r < kPixPerThread; ++r) {
        const int p = p_first + r * kThreads;
        g[kk][r] = (k0 + kk < K && p < P)
                       ? grad[(static_cast<int64_t>(b) * K + k0 + kk) * P + p]
                       : T(0);
      }
    }
    for (int c0 = blockIdx.z * kChanTile; c0 < C; c0 += gridDim.z * kChanTile) {
      __syncthreads();
      load_param_tile<T, KT>(tile, means, scale, b, k0, c0, K, C);
      __syncthreads();
      const int channels = min(kChanTile, C - c0);
      for (int c = 0; c < channels; ++c) {
        T f[kPixPerThread];
        T gf[kPixPerThread] = {};
#pragma unroll
        for (int r = 0; r < kPixPerThread; ++r) {
          const int p = p_first + r * kThreads;
          f[r] = p < P ? feat[image_offset + static_cast<int64_t>(c0 + c) * P + p] : T(0);
        }
#pragma unroll
        for (int kk = 0; kk < KT; ++kk) {
          const Param<T> param = tile[c][kk];
#pragma unroll
          for (int r = 0; r < kPixPerThread; ++r)
            gf[r] += g[kk][r] * param.scale * phi_grad<T, kL1>(f[r] - param.mean);
        }
#pragma unroll
        for (int r = 0; r < kPixPerThread; ++r) {
          const int p = p_first + r * kThreads;
          if (p >= P) continue;
          T* dst = grad_feat + image_offset + static_cast<int64_t>(c0 + c) * P + p;
          *dst = k0 == 0 ? gf[r] : *dst + gf[r];  // more than KT classes: accumulate
        }
      }
    }
  }
}

// Tiles of the parameter-gradient reduction: each of the 8 x 16 threads owns
// RK x kRegC (class, channel) pairs, strided so that the shared-memory reads
// of a warp hit distinct banks. A block covers RK * 8 classes (8 to 32: the
// smallest tile that holds K, so few padded classes are computed).
constexpr int kRegC = 4;
constexpr int kThreadsK = 8;
constexpr int kThreadsC = 16;
constexpr int kTileC = kRegC * kThreadsC;  // 64 channels
constexpr int kPixTile = 32;
constexpr int kPixRange = 256;

// part_means[r, b, k, c] = -scale * sum_p grad * phi'(d),
// part_scale[r, b, k, c] = sum_p grad * phi(d) (when kScale), over pixels p of
// range r.
template <typename T, bool kL1, int RK, bool kScale>
__global__ void __launch_bounds__(kThreadsK* kThreadsC)
    grad_param_kernel(const T* __restrict__ grad, const T* __restrict__ feat,
                      const T* __restrict__ means, const T* __restrict__ scale,
                      T* __restrict__ part_means, T* __restrict__ part_scale, int B, int K, int C,
                      int P) {
  constexpr int kTileK = RK * kThreadsK;
  __shared__ T feat_tile[kPixTile][kTileC + 1];
  __shared__ T grad_tile[kPixTile][kTileK + 1];
  const int range = blockIdx.x;
  const int k_tiles = (K + kTileK - 1) / kTileK;
  const int k0 = (blockIdx.y % k_tiles) * kTileK;
  const int c0 = (blockIdx.y / k_tiles) * kTileC;
  const int b = blockIdx.z;
  const int tk = threadIdx.x / kThreadsC;
  const int tc = threadIdx.x % kThreadsC;

  T mu[RK][kRegC];
  T sum_grad[RK][kRegC] = {};
  T sum_phi[RK][kRegC] = {};
#pragma unroll
  for (int i = 0; i < RK; ++i) {
#pragma unroll
    for (int j = 0; j < kRegC; ++j) {
      const int k = k0 + tk + i * kThreadsK, c = c0 + tc + j * kThreadsC;
      mu[i][j] = (k < K && c < C) ? means[(static_cast<int64_t>(b) * K + k) * C + c] : T(0);
    }
  }

  const int p_begin = range * kPixRange;
  const int p_end = min(P, p_begin + kPixRange);
  for (int p0 = p_begin; p0 < p_end; p0 += kPixTile) {
    __syncthreads();
    // Pixels fastest: coalesced global reads; padding gets grad 0, adding 0.
    for (int i = threadIdx.x; i < kPixTile * kTileC; i += blockDim.x) {
      const int c = i / kPixTile, p = i % kPixTile;
      feat_tile[p][c] = (p0 + p < p_end && c0 + c < C)
                            ? feat[(static_cast<int64_t>(b) * C + c0 + c) * P + p0 + p]
                            : T(0);
    }
    for (int i = threadIdx.x; i < kPixTile * kTileK; i += blockDim.x) {
      const int k = i / kPixTile, p = i % kPixTile;
      grad_tile[p][k] = (p0 + p < p_end && k0 + k < K)
                            ? grad[(static_cast<int64_t>(b) * K + k0 + k) * P + p0 + p]
                            : T(0);
    }
    __syncthreads();
    for (int p = 0; p < kPixTile; ++p) {
      T g[RK], f[kRegC];
#pragma unroll
      for (int i = 0; i < RK; ++i) g[i] = grad_tile[p][tk + i * kThreadsK];
#pragma unroll
      for (int j = 0; j < kRegC; ++j) f[j] = feat_tile[p][tc + j * kThreadsC];
#pragma unroll
      for (int i = 0; i < RK; ++i) {
#pragma unroll
        for (int j = 0; j < kRegC; ++j) {
          const T d = f[j] - mu[i][j];
          sum_grad[i][j] += g[i] * phi_grad<T, kL1>(d);
          if (kScale) sum_phi[i][j] += g[i] * phi<T, kL1>(d);
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < RK; ++i) {
#pragma unroll
    for (int j = 0; j < kRegC; ++j) {
      const int k = k0 + tk + i * kThreadsK, c = c0 + tc + j * kThreadsC;
      if (k >= K || c >= C) continue;
      const int64_t param = (static_cast<int64_t>(b) * K + k) * C + c;
      const int64_t part = static_cast<int64_t>(range) * B * K * C + param;
      part_means[part] = -scale[param] * sum_grad[i][j];
      if (kScale) part_scale[part] = sum_phi[i][j];
    }
  }
}

// Calls body(std::integral_constant<int, KT>) with the smallest class tile KT
// of 8, 16, 24 or 32 that holds K classes (K > 32 runs in chunks of 32).
template <typename Body>
void dispatch_class_tile(int64_t K, Body&& body) {
  if (K <= 8) {
    body(std::integral_constant<int, 8>{});
  } else if (K <= 16) {
    body(std::integral_constant<int, 16>{});
  } else if (K <= 24) {
    body(std::integral_constant<int, 24>{});
  } else {
    body(std::integral_constant<int, 32>{});
  }
}

// One block per kThreads * kPixPerThread pixels of one image (and per
// channel_blocks chunks of the channels).
dim3 pixel_grid(int64_t B, int64_t P, int64_t channel_blocks = 1) {
  constexpr int64_t kPixPerBlock = kThreads * kPixPerThread;
  return dim3(static_cast<unsigned>((P + kPixPerBlock - 1) / kPixPerBlock),
              static_cast<unsigned>(B), static_cast<unsigned>(channel_blocks));
}

}  // namespace

at::Tensor gmm_distance_forward_cuda(const at::Tensor& feat, const at::Tensor& means,
                                     const at::Tensor& scale, bool l1) {
  const c10::cuda::CUDAGuard guard(feat.device());
  const int64_t B = feat.size(0), C = feat.size(1), K = means.size(1);
  const int64_t P = feat.size(2) * feat.size(3);
  at::Tensor out = at::empty({B, K, feat.size(2), feat.size(3)}, feat.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "gmm_distance_forward_cuda", [&] {
    dispatch_class_tile(K, [&](auto class_tile) {
      constexpr int KT = decltype(class_tile)::value;
      auto kernel = l1 ? forward_kernel<scalar_t, true, KT> : forward_kernel<scalar_t, false, KT>;
      kernel<<<pixel_grid(B, P), kThreads, 0, stream>>>(
          feat.const_data_ptr<scalar_t>(), means.const_data_ptr<scalar_t>(),
          scale.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), K, C, P);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

std::vector<at::Tensor> gmm_distance_backward_cuda(const at::Tensor& grad, const at::Tensor& feat,
                                                   const at::Tensor& means,
                                                   const at::Tensor& scale, bool l1,
                                                   bool need_means, bool need_scale) {
  const c10::cuda::CUDAGuard guard(feat.device());
  const int64_t B = feat.size(0), C = feat.size(1), K = means.size(1);
  const int64_t P = feat.size(2) * feat.size(3);
  const bool need_params = need_means || need_scale;
  const int64_t ranges = need_params ? (P + kPixRange - 1) / kPixRange : 0;
  at::Tensor grad_feat = at::empty_like(feat);
  at::Tensor part_means = at::empty({ranges, B, K, C}, feat.options());
  at::Tensor part_scale = at::empty({need_scale ? ranges : 0, B, K, C}, feat.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "gmm_distance_backward_cuda", [&] {
    dispatch_class_tile(K, [&](auto class_tile) {
      constexpr int KT = decltype(class_tile)::value;
      auto kernel =
          l1 ? grad_feat_kernel<scalar_t, true, KT> : grad_feat_kernel<scalar_t, false, KT>;
      kernel<<<pixel_grid(B, P, std::min<int64_t>((C + kChanTile - 1) / kChanTile, 65535)),
               kThreads, 0, stream>>>(
          grad.const_data_ptr<scalar_t>(), feat.const_data_ptr<scalar_t>(),
          means.const_data_ptr<scalar_t>(), scale.const_data_ptr<scalar_t>(),
          grad_feat.mutable_data_ptr<scalar_t>(), K, C, P);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    if (!need_params) return;
    dispatch_class_tile(K, [&](auto class_tile) {
      constexpr int RK = decltype(class_tile)::value / kThreadsK;
      constexpr int kTileK = RK * kThreadsK;
      const int64_t tiles = ((K + kTileK - 1) / kTileK) * ((C + kTileC - 1) / kTileC);
      const dim3 grid(static_cast<unsigned>(ranges), static_cast<unsigned>(tiles),
                      static_cast<unsigned>(B));
      auto kernel = l1 ? (need_scale ? grad_param_kernel<scalar_t, true, RK, true>
                                     : grad_param_kernel<scalar_t, true, RK, false>)
                       : (need_scale ? grad_param_kernel<scalar_t, false, RK, true>
                                     : grad_param_kernel<scalar_t, false, RK, false>);
      kernel<<<grid, kThreadsK * kThreadsC, 0, stream>>>(
          grad.const_data_ptr<scalar_t>(), feat.const_data_ptr<scalar_t>(),
          means.const_data_ptr<scalar_t>(), scale.const_data_ptr<scalar_t>(),
          part_means.mutable_data_ptr<scalar_t>(), part_scale.mutable_data_ptr<scalar_t>(), B, K,
          C, P);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return {grad_feat, need_means ? part_means.sum(0) : at::Tensor(),
          need_scale ? part_scale.sum(0) : at::Tensor()};
}

}  // namespace wsvision
