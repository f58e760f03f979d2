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
// S: (B, K, h, w). The backward returns {grad_feat, grad_means, grad_scale},
// a parameter gradient undefined (None in Python) unless need_means /
// need_scale asks for it.
at::Tensor gmm_distance_forward_cpu(const at::Tensor& feat, const at::Tensor& means,
                                    const at::Tensor& scale, bool l1);
std::vector<at::Tensor> gmm_distance_backward_cpu(const at::Tensor& grad, const at::Tensor& feat,
                                                  const at::Tensor& means,
                                                  const at::Tensor& scale, bool l1,
                                                  bool need_means, bool need_scale);

// Segment sum: sums[b, k, c] = sum over pixels p with segment[b, p] == k of
// feat[b, c, p]; pixels with segment -1 are skipped. feat: (B, C, h, w);
// segment: (B, h * w) int32; sums: (B, K, C). Its backward is a gather.
at::Tensor segment_sum_forward_cpu(const at::Tensor& feat, const at::Tensor& segment,
                                   int64_t num_segments);
at::Tensor segment_sum_backward_cpu(const at::Tensor& grad_sums, const at::Tensor& segment,
                                    int64_t channels);

// AGMM pixel losses (see pixel_losses.h): the four sums and four counts of
// (ce, absent, sbce, label) as one (8,) float64 tensor, and the gradients of
// grad_sums . sums w.r.t. logits (B, K, H, W) and resp (B, S, H, W). labels:
// (B, H, W) int64; absent: (B, K) bool; mask: (B, S, H, W) bool; slot_class:
// (B, S) int64.
at::Tensor agmm_pixel_forward_cpu(const at::Tensor& logits, const at::Tensor& labels,
                                  const at::Tensor& absent, const at::Tensor& resp,
                                  const at::Tensor& mask, const at::Tensor& slot_class,
                                  double eps);
std::vector<at::Tensor> agmm_pixel_backward_cpu(const at::Tensor& grad_sums,
                                                const at::Tensor& logits,
                                                const at::Tensor& labels,
                                                const at::Tensor& absent, const at::Tensor& resp,
                                                const at::Tensor& mask,
                                                const at::Tensor& slot_class, double eps);

#ifdef WITH_CUDA
at::Tensor gmm_distance_forward_cuda(const at::Tensor& feat, const at::Tensor& means,
                                     const at::Tensor& scale, bool l1);
std::vector<at::Tensor> gmm_distance_backward_cuda(const at::Tensor& grad, const at::Tensor& feat,
                                                   const at::Tensor& means,
                                                   const at::Tensor& scale, bool l1,
                                                   bool need_means, bool need_scale);
at::Tensor segment_sum_forward_cuda(const at::Tensor& feat, const at::Tensor& segment,
                                    int64_t num_segments);
at::Tensor segment_sum_backward_cuda(const at::Tensor& grad_sums, const at::Tensor& segment,
                                     int64_t channels);
at::Tensor agmm_pixel_forward_cuda(const at::Tensor& logits, const at::Tensor& labels,
                                   const at::Tensor& absent, const at::Tensor& resp,
                                   const at::Tensor& mask, const at::Tensor& slot_class,
                                   double eps);
std::vector<at::Tensor> agmm_pixel_backward_cuda(const at::Tensor& grad_sums,
                                                 const at::Tensor& logits,
                                                 const at::Tensor& labels,
                                                 const at::Tensor& absent,
                                                 const at::Tensor& resp, const at::Tensor& mask,
                                                 const at::Tensor& slot_class, double eps);
#endif

// Shape and layout checks shared by the CPU and CUDA entry points.
void check_gmm_inputs(const at::Tensor& feat, const at::Tensor& means, const at::Tensor& scale);
void check_segment_inputs(const at::Tensor& feat_or_grad, const at::Tensor& segment);
void check_pixel_loss_inputs(const at::Tensor& logits, const at::Tensor& labels,
                             const at::Tensor& absent, const at::Tensor& resp,
                             const at::Tensor& mask, const at::Tensor& slot_class);

}  // namespace wsvision
