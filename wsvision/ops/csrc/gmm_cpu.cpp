// CPU kernels of the GMM distance
//   S[b, k, p] = sum_c scale[b, k, c] * phi(feat[b, c, p] - means[b, k, c]),
// phi(t) = |t| or t^2. feat keeps its (B, C, h * w) layout: the innermost loops
// run over a block of contiguous pixels, so they vectorise without reordering
// any floating-point sum, and a block of features stays in cache while every
// class visits it. No (B, K, C, h, w) tensor is ever formed.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "ops.h"

namespace wsvision {
namespace {

// Pixels per inner block: a (C x 64) block of features stays in L1/L2.
constexpr int64_t kBlock = 64;
// Pixels per work item of the backward. Each item owns partial sums of the
// parameter gradients; fixing the split (not the thread count) keeps the
// result identical whatever the number of threads.
constexpr int64_t kRange = 512;
// Fewest (pixel, class, channel) terms worth a thread: smaller ops run inline.
constexpr int64_t kMinTermsPerThread = 1 << 16;

// Grain size of at::parallel_for for work items of `terms` terms each.
inline int64_t grain_size(int64_t terms) {
  return std::max<int64_t>(1, kMinTermsPerThread / std::max<int64_t>(1, terms));
}

template <typename T, bool kL1>
inline T phi(T d) {
  return kL1 ? std::abs(d) : d * d;
}

// d phi / d t; the l1 subgradient at 0 is 0, as torch.abs uses.
template <typename T, bool kL1>
inline T phi_grad(T d) {
  return kL1 ? static_cast<T>((d > T(0)) - (d < T(0))) : T(2) * d;
}

template <typename T, bool kL1>
void forward_kernel(const T* feat, const T* means, const T* scale, T* out, int64_t B, int64_t K,
                    int64_t C, int64_t P) {
  const int64_t blocks_per_image = (P + kBlock - 1) / kBlock;
  const int64_t grain = grain_size(kBlock * K * C);
  at::parallel_for(0, B * blocks_per_image, grain, [&](int64_t begin, int64_t end) {
    T acc[kBlock];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / blocks_per_image;
      const int64_t p0 = (item % blocks_per_image) * kBlock;
      const int64_t n = std::min(kBlock, P - p0);
      const T* feat_block = feat + b * C * P + p0;
      for (int64_t k = 0; k < K; ++k) {
        const T* mu = means + (b * K + k) * C;
        const T* s = scale + (b * K + k) * C;
        std::fill(acc, acc + n, T(0));
        for (int64_t c = 0; c < C; ++c) {
          const T* __restrict__ f = feat_block + c * P;
          const T m = mu[c];
          const T w = s[c];
          for (int64_t j = 0; j < n; ++j) acc[j] += w * phi<T, kL1>(f[j] - m);
        }
        std::copy(acc, acc + n, out + (b * K + k) * P + p0);
      }
    }
  });
}

// grad_feat[b, c, p] = sum_k g[b, k, p] * scale[b, k, c] * phi'(d)
// grad_means[b, k, c] = -scale[b, k, c] * sum_p g[b, k, p] * phi'(d)
// grad_scale[b, k, c] = sum_p g[b, k, p] * phi(d),   d = feat[b, c, p] - means[b, k, c]
// The parameter gradients (kMeans, kScale: which of them) are summed per work
// item into part_means and part_scale, (B * ranges_per_image, K, C), and
// reduced by the caller.
template <typename T, bool kL1, bool kMeans, bool kScale>
void backward_kernel(const T* grad, const T* feat, const T* means, const T* scale, T* grad_feat,
                     T* part_means, T* part_scale, int64_t B, int64_t K, int64_t C, int64_t P) {
  const int64_t ranges_per_image = (P + kRange - 1) / kRange;
  const int64_t grain = grain_size(kRange * K * C);
  at::parallel_for(0, B * ranges_per_image, grain, [&](int64_t begin, int64_t end) {
    T grad_feat_row[kBlock];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / ranges_per_image;
      const int64_t range_begin = (item % ranges_per_image) * kRange;
      const int64_t range_end = std::min(P, range_begin + kRange);
      T* sum_grad = kMeans ? part_means + item * K * C : nullptr;  // scaled at the end
      T* sum_phi = kScale ? part_scale + item * K * C : nullptr;
      if (kMeans) std::fill(sum_grad, sum_grad + K * C, T(0));
      if (kScale) std::fill(sum_phi, sum_phi + K * C, T(0));
      for (int64_t p0 = range_begin; p0 < range_end; p0 += kBlock) {
        const int64_t n = std::min(kBlock, range_end - p0);
        for (int64_t c = 0; c < C; ++c) {
          const T* __restrict__ f = feat + (b * C + c) * P + p0;
          std::fill(grad_feat_row, grad_feat_row + n, T(0));
          for (int64_t k = 0; k < K; ++k) {
            const T* __restrict__ g = grad + (b * K + k) * P + p0;
            const T m = means[(b * K + k) * C + c];
            const T w = scale[(b * K + k) * C + c];
            T block_grad = 0;
            T block_phi = 0;
#pragma omp simd reduction(+ : block_grad, block_phi)
            for (int64_t j = 0; j < n; ++j) {
              const T d = f[j] - m;
              const T g_dphi = g[j] * phi_grad<T, kL1>(d);
              grad_feat_row[j] += w * g_dphi;
              if (kMeans) block_grad += g_dphi;
              if (kScale) block_phi += g[j] * phi<T, kL1>(d);
            }
            if (kMeans) sum_grad[k * C + c] += block_grad;
            if (kScale) sum_phi[k * C + c] += block_phi;
          }
          std::copy(grad_feat_row, grad_feat_row + n, grad_feat + (b * C + c) * P + p0);
        }
      }
      if (kMeans) {
        for (int64_t k = 0; k < K; ++k) {
          const T* s = scale + (b * K + k) * C;
          for (int64_t c = 0; c < C; ++c) sum_grad[k * C + c] *= -s[c];
        }
      }
    }
  });
}

// Calls body(std::integral_constant<bool, ...>) for each of the runtime flags.
template <typename Body>
void dispatch_bool(bool flag, Body&& body) {
  if (flag) {
    body(std::true_type{});
  } else {
    body(std::false_type{});
  }
}

}  // namespace

at::Tensor gmm_distance_forward_cpu(const at::Tensor& feat, const at::Tensor& means,
                                    const at::Tensor& scale, bool l1) {
  const int64_t B = feat.size(0), C = feat.size(1), K = means.size(1);
  const int64_t P = feat.size(2) * feat.size(3);
  at::Tensor out = at::empty({B, K, feat.size(2), feat.size(3)}, feat.options());
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "gmm_distance_forward_cpu", [&] {
    auto run = l1 ? forward_kernel<scalar_t, true> : forward_kernel<scalar_t, false>;
    run(feat.const_data_ptr<scalar_t>(), means.const_data_ptr<scalar_t>(),
        scale.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), B, K, C, P);
  });
  return out;
}

std::vector<at::Tensor> gmm_distance_backward_cpu(const at::Tensor& grad, const at::Tensor& feat,
                                                  const at::Tensor& means,
                                                  const at::Tensor& scale, bool l1,
                                                  bool need_means, bool need_scale) {
  const int64_t B = feat.size(0), C = feat.size(1), K = means.size(1);
  const int64_t P = feat.size(2) * feat.size(3);
  const int64_t items = B * ((P + kRange - 1) / kRange);
  at::Tensor grad_feat = at::empty_like(feat);
  at::Tensor part_means = at::empty({need_means ? items : 0, K, C}, feat.options());
  at::Tensor part_scale = at::empty({need_scale ? items : 0, K, C}, feat.options());
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "gmm_distance_backward_cpu", [&] {
    dispatch_bool(l1, [&](auto l1_flag) {
      dispatch_bool(need_means, [&](auto means_flag) {
        dispatch_bool(need_scale, [&](auto scale_flag) {
          backward_kernel<scalar_t, decltype(l1_flag)::value, decltype(means_flag)::value,
                          decltype(scale_flag)::value>(
              grad.const_data_ptr<scalar_t>(), feat.const_data_ptr<scalar_t>(),
              means.const_data_ptr<scalar_t>(), scale.const_data_ptr<scalar_t>(),
              grad_feat.mutable_data_ptr<scalar_t>(), part_means.mutable_data_ptr<scalar_t>(),
              part_scale.mutable_data_ptr<scalar_t>(), B, K, C, P);
        });
      });
    });
  });
  // Items of one image are consecutive: reduce over them per image.
  auto reduce = [&](bool needed, const at::Tensor& part) {
    return needed ? part.view({B, -1, K, C}).sum(1) : at::Tensor();
  };
  return {grad_feat, reduce(need_means, part_means), reduce(need_scale, part_scale)};
}

}  // namespace wsvision
