// CPU kernels of the segment sum behind masked_class_mean:
//   sums[b, k, c] = sum over pixels p with segment[b, p] == k of feat[b, c, p].
// One task per (image, channel) row: rows never write the same output, so the
// sum needs no atomics and is deterministic.
#include <ATen/Parallel.h>

#include <algorithm>

#include "ops.h"

namespace wsvision {
namespace {

// Fewest pixels worth a thread: smaller ops run inline.
constexpr int64_t kMinPixelsPerThread = 1 << 15;

template <typename T>
void forward_kernel(const T* feat, const int32_t* segment, T* sums, int64_t B, int64_t K, int64_t C,
                    int64_t P) {
  const int64_t grain = std::max<int64_t>(1, kMinPixelsPerThread / P);
  at::parallel_for(0, B * C, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / C, c = row % C;
      const T* f = feat + row * P;
      const int32_t* seg = segment + b * P;
      T* out = sums + b * K * C + c;  // out[k * C] is sums[b, k, c]
      for (int64_t p = 0; p < P; ++p) {
        if (seg[p] >= 0) out[seg[p] * C] += f[p];
      }
    }
  });
}

template <typename T>
void backward_kernel(const T* grad_sums, const int32_t* segment, T* grad_feat, int64_t B, int64_t K,
                     int64_t C, int64_t P) {
  const int64_t grain = std::max<int64_t>(1, kMinPixelsPerThread / P);
  at::parallel_for(0, B * C, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / C, c = row % C;
      const int32_t* seg = segment + b * P;
      const T* g = grad_sums + b * K * C + c;
      T* out = grad_feat + row * P;
      for (int64_t p = 0; p < P; ++p) out[p] = seg[p] >= 0 ? g[seg[p] * C] : T(0);
    }
  });
}

}  // namespace

at::Tensor segment_sum_forward_cpu(const at::Tensor& feat, const at::Tensor& segment,
                                   int64_t num_segments) {
  const int64_t B = feat.size(0), C = feat.size(1), P = feat.size(2) * feat.size(3);
  at::Tensor sums = at::zeros({B, num_segments, C}, feat.options());
  AT_DISPATCH_FLOATING_TYPES(feat.scalar_type(), "segment_sum_forward_cpu", [&] {
    forward_kernel(feat.const_data_ptr<scalar_t>(), segment.const_data_ptr<int32_t>(),
                   sums.mutable_data_ptr<scalar_t>(), B, num_segments, C, P);
  });
  return sums;
}

at::Tensor segment_sum_backward_cpu(const at::Tensor& grad_sums, const at::Tensor& segment,
                                    int64_t channels) {
  const int64_t B = grad_sums.size(0), K = grad_sums.size(1), P = segment.size(1);
  at::Tensor grad_feat = at::empty({B, channels, P}, grad_sums.options());
  AT_DISPATCH_FLOATING_TYPES(grad_sums.scalar_type(), "segment_sum_backward_cpu", [&] {
    backward_kernel(grad_sums.const_data_ptr<scalar_t>(), segment.const_data_ptr<int32_t>(),
                    grad_feat.mutable_data_ptr<scalar_t>(), B, K, channels, P);
  });
  return grad_feat;
}

}  // namespace wsvision
