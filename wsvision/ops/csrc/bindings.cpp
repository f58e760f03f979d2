// Python bindings: each op dispatches on the device of its inputs.
#include <torch/extension.h>

#include "ops.h"

namespace wsvision {

void check_gmm_inputs(const at::Tensor& feat, const at::Tensor& means, const at::Tensor& scale) {
  TORCH_CHECK(feat.dim() == 4 && feat.is_contiguous(),
              "feat must be a contiguous (B, C, h, w) tensor");
  TORCH_CHECK(feat.numel() > 0 && means.numel() > 0, "feat and means must not be empty");
  TORCH_CHECK(means.dim() == 3 && means.is_contiguous() && scale.is_contiguous(),
              "means and scale must be contiguous (B, K, C) tensors");
  TORCH_CHECK(means.sizes() == scale.sizes(), "means and scale must have the same shape");
  TORCH_CHECK(means.size(0) == feat.size(0) && means.size(2) == feat.size(1),
              "means (B, K, C) does not match feat (B, C, h, w)");
  TORCH_CHECK(feat.scalar_type() == means.scalar_type() &&
                  feat.scalar_type() == scale.scalar_type(),
              "feat, means and scale must have the same dtype");
  TORCH_CHECK(feat.device() == means.device() && feat.device() == scale.device(),
              "feat, means and scale must be on the same device");
}

void check_segment_inputs(const at::Tensor& feat_or_grad, const at::Tensor& segment) {
  TORCH_CHECK(feat_or_grad.is_contiguous() && segment.is_contiguous(), "inputs must be contiguous");
  TORCH_CHECK(segment.dim() == 2 && segment.scalar_type() == at::kInt,
              "segment must be a (B, h * w) int32 tensor");
  TORCH_CHECK(feat_or_grad.size(0) == segment.size(0), "batch sizes differ");
  TORCH_CHECK(feat_or_grad.device() == segment.device(), "inputs must be on the same device");
}

void check_pixel_loss_inputs(const at::Tensor& logits, const at::Tensor& labels,
                             const at::Tensor& absent, const at::Tensor& resp,
                             const at::Tensor& mask, const at::Tensor& slot_class) {
  for (const at::Tensor* t : {&logits, &labels, &absent, &resp, &mask, &slot_class}) {
    TORCH_CHECK(t->is_contiguous(), "agmm pixel losses: inputs must be contiguous");
    TORCH_CHECK(t->device() == logits.device(), "agmm pixel losses: inputs on different devices");
  }
  TORCH_CHECK(logits.dim() == 4 && logits.size(1) > 0, "logits must be a (B, K, H, W) tensor");
  const int64_t B = logits.size(0), K = logits.size(1), H = logits.size(2), W = logits.size(3);
  TORCH_CHECK(labels.scalar_type() == at::kLong && labels.sizes() == at::IntArrayRef({B, H, W}),
              "labels must be a (B, H, W) int64 tensor");
  TORCH_CHECK(absent.scalar_type() == at::kBool && absent.sizes() == at::IntArrayRef({B, K}),
              "absent must be a (B, K) bool tensor");
  TORCH_CHECK(resp.dim() == 4 && resp.scalar_type() == logits.scalar_type(),
              "resp must be a (B, S, H, W) tensor of the logits' dtype");
  const int64_t S = resp.size(1);
  TORCH_CHECK(resp.sizes() == at::IntArrayRef({B, S, H, W}), "resp must be (B, S, H, W)");
  TORCH_CHECK(mask.scalar_type() == at::kBool && mask.sizes() == resp.sizes(),
              "mask must be a bool tensor of resp's shape");
  TORCH_CHECK(slot_class.scalar_type() == at::kLong &&
                  slot_class.sizes() == at::IntArrayRef({B, S}),
              "slot_class must be a (B, S) int64 tensor");
}

namespace {

#ifdef WITH_CUDA
constexpr bool kWithCuda = true;
#else
constexpr bool kWithCuda = false;
#endif

// True when the inputs live on a GPU (and the CUDA kernels exist for them).
bool on_cuda(const at::Tensor& t) {
  TORCH_CHECK(kWithCuda || !t.is_cuda(), "wsvision ops were compiled without CUDA kernels");
  return t.is_cuda();
}

// Calls name##_cuda for GPU inputs and name##_cpu otherwise.
#ifdef WITH_CUDA
#define WSV_DISPATCH(name, device_tensor, ...) \
  (on_cuda(device_tensor) ? name##_cuda(__VA_ARGS__) : name##_cpu(__VA_ARGS__))
#else
#define WSV_DISPATCH(name, device_tensor, ...) (on_cuda(device_tensor), name##_cpu(__VA_ARGS__))
#endif

at::Tensor gmm_distance_forward(const at::Tensor& feat, const at::Tensor& means,
                                const at::Tensor& scale, bool l1) {
  check_gmm_inputs(feat, means, scale);
  return WSV_DISPATCH(gmm_distance_forward, feat, feat, means, scale, l1);
}

std::vector<at::Tensor> gmm_distance_backward(const at::Tensor& grad, const at::Tensor& feat,
                                              const at::Tensor& means, const at::Tensor& scale,
                                              bool l1, bool need_means, bool need_scale) {
  check_gmm_inputs(feat, means, scale);
  TORCH_CHECK(grad.is_contiguous() && grad.dim() == 4 && grad.size(0) == feat.size(0) &&
                  grad.size(1) == means.size(1) && grad.size(2) == feat.size(2) &&
                  grad.size(3) == feat.size(3) && grad.scalar_type() == feat.scalar_type(),
              "grad must be a contiguous (B, K, h, w) tensor of feat's dtype");
  return WSV_DISPATCH(gmm_distance_backward, feat, grad, feat, means, scale, l1, need_means,
                      need_scale);
}

at::Tensor segment_sum_forward(const at::Tensor& feat, const at::Tensor& segment,
                               int64_t num_segments) {
  TORCH_CHECK(feat.dim() == 4 && segment.size(1) == feat.size(2) * feat.size(3),
              "segment (B, h * w) does not match feat (B, C, h, w)");
  check_segment_inputs(feat, segment);
  return WSV_DISPATCH(segment_sum_forward, feat, feat, segment, num_segments);
}

at::Tensor segment_sum_backward(const at::Tensor& grad_sums, const at::Tensor& segment,
                                int64_t channels) {
  TORCH_CHECK(grad_sums.dim() == 3 && grad_sums.size(2) == channels,
              "grad_sums must be a (B, K, C) tensor");
  check_segment_inputs(grad_sums, segment);
  return WSV_DISPATCH(segment_sum_backward, grad_sums, grad_sums, segment, channels);
}

at::Tensor agmm_pixel_forward(const at::Tensor& logits, const at::Tensor& labels,
                              const at::Tensor& absent, const at::Tensor& resp,
                              const at::Tensor& mask, const at::Tensor& slot_class, double eps) {
  check_pixel_loss_inputs(logits, labels, absent, resp, mask, slot_class);
  return WSV_DISPATCH(agmm_pixel_forward, logits, logits, labels, absent, resp, mask, slot_class,
                      eps);
}

std::vector<at::Tensor> agmm_pixel_backward(const at::Tensor& grad_sums, const at::Tensor& logits,
                                            const at::Tensor& labels, const at::Tensor& absent,
                                            const at::Tensor& resp, const at::Tensor& mask,
                                            const at::Tensor& slot_class, double eps) {
  check_pixel_loss_inputs(logits, labels, absent, resp, mask, slot_class);
  TORCH_CHECK(grad_sums.numel() == 4 && grad_sums.scalar_type() == logits.scalar_type(),
              "grad_sums must hold 4 values of the logits' dtype");
  return WSV_DISPATCH(agmm_pixel_backward, logits, grad_sums, logits, labels, absent, resp, mask,
                      slot_class, eps);
}

}  // namespace
}  // namespace wsvision

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "wsvision fused operators (C++ CPU kernels, and CUDA kernels when built with CUDA)";
  m.def("with_cuda", [] { return wsvision::kWithCuda; },
        "Whether the CUDA kernels were compiled in");
  m.def("gmm_distance_forward", &wsvision::gmm_distance_forward, "GMM distance (forward)");
  m.def("gmm_distance_backward", &wsvision::gmm_distance_backward, "GMM distance (backward)");
  m.def("segment_sum_forward", &wsvision::segment_sum_forward, "Segment sum (forward)");
  m.def("segment_sum_backward", &wsvision::segment_sum_backward, "Segment sum (backward)");
  m.def("agmm_pixel_forward", &wsvision::agmm_pixel_forward, "AGMM pixel losses (forward)");
  m.def("agmm_pixel_backward", &wsvision::agmm_pixel_backward, "AGMM pixel losses (backward)");
}
