// Declarations of wsvision's fused operators. The Python wrappers in
// wsvision/ops validate user input; the checks here guard internal invariants.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace wsvision {

// GMM distance, the part of the GMM log-likelihood that touches every
// (pixel, class, channel) triple:
//   S[b, k, p] = sum_c scale[b, k, c] * phi(feat[b, c, p] - means[b, k, c])
// with phi(t) = |t| (l1) or t^2. feat: (B, C, h, w); means, scale: (B, K, C);
// S: (B, K, h, w). The backward returns {grad_feat, grad_means, grad_scale}.
at::Tensor gmm_distance_forward_cpu(const at::Tensor& feat, const at::Tensor& means,
                                    const at::Tensor& scale, bool l1);
std::vector<at::Tensor> gmm_distance_backward_cpu(const at::Tensor& grad, const at::Tensor& feat,
                                                  const at::Tensor& means,
                                                  const at::Tensor& scale, bool l1);

// Segment sum: sums[b, k, c] = sum over pixels p with segment[b, p] == k of
// feat[b, c, p]; pixels with segment -1 are skipped. feat: (B, C, h, w);
// segment: (B, h * w) int32; sums: (B, K, C). Its backward is a gather.
at::Tensor segment_sum_forward_cpu(const at::Tensor& feat, const at::Tensor& segment,
                                   int64_t num_segments);
at::Tensor segment_sum_backward_cpu(const at::Tensor& grad_sums, const at::Tensor& segment,
                                    int64_t channels);

#ifdef WITH_CUDA
at::Tensor gmm_distance_forward_cuda(const at::Tensor& feat, const at::Tensor& means,
                                     const at::Tensor& scale, bool l1);
std::vector<at::Tensor> gmm_distance_backward_cuda(const at::Tensor& grad, const at::Tensor& feat,
                                                   const at::Tensor& means,
                                                   const at::Tensor& scale, bool l1);
at::Tensor segment_sum_forward_cuda(const at::Tensor& feat, const at::Tensor& segment,
                                    int64_t num_segments);
at::Tensor segment_sum_backward_cuda(const at::Tensor& grad_sums, const at::Tensor& segment,
                                     int64_t channels);
#endif

// Shape and layout checks shared by the CPU and CUDA entry points.
void check_gmm_inputs(const at::Tensor& feat, const at::Tensor& means, const at::Tensor& scale);
void check_segment_inputs(const at::Tensor& feat_or_grad, const at::Tensor& segment);

}  // namespace wsvision
