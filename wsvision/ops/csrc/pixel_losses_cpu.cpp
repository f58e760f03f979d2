// CPU kernels of the AGMM pixel losses (the arithmetic is in pixel_losses.h).
// The forward sums fixed blocks of pixels into their own partial sums, added
// up in order afterwards: the result does not depend on the number of threads.
#include <ATen/Parallel.h>

#include <algorithm>

#include "ops.h"
#include "pixel_losses.h"

namespace wsvision {
namespace {

constexpr int64_t kBlock = 2048;  // pixels per partial sum
constexpr int64_t kSums = 2 * pixel_losses::kTerms;

}  // namespace

at::Tensor agmm_pixel_forward_cpu(const at::Tensor& logits, const at::Tensor& labels,
                                  const at::Tensor& absent, const at::Tensor& resp,
                                  const at::Tensor& mask, const at::Tensor& slot_class,
                                  double eps) {
  const int64_t B = logits.size(0), P = logits.size(2) * logits.size(3);
  const int64_t N = B * P, blocks = (N + kBlock - 1) / kBlock;
  at::Tensor partial = at::zeros({blocks, kSums}, logits.options().dtype(at::kDouble));
  double* part = partial.mutable_data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "agmm_pixel_forward_cpu", [&] {
    const auto args =
        pixel_losses::make_args<scalar_t>(logits, labels, absent, resp, mask, slot_class, eps);
    at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t block = begin; block < end; ++block) {
        double* acc = part + block * kSums;
        for (int64_t i = block * kBlock; i < std::min(N, (block + 1) * kBlock); ++i) {
          pixel_losses::forward_pixel(args, i / P, i % P, acc);
        }
      }
    });
  });
  return partial.sum(0);
}

std::vector<at::Tensor> agmm_pixel_backward_cpu(const at::Tensor& grad_sums,
                                                const at::Tensor& logits,
                                                const at::Tensor& labels,
                                                const at::Tensor& absent, const at::Tensor& resp,
                                                const at::Tensor& mask,
                                                const at::Tensor& slot_class, double eps) {
  const int64_t B = logits.size(0), P = logits.size(2) * logits.size(3);
  at::Tensor grad_logits = at::empty_like(logits);
  at::Tensor grad_resp = at::empty_like(resp);
  AT_DISPATCH_FLOATING_TYPES(logits.scalar_type(), "agmm_pixel_backward_cpu", [&] {
    const auto args =
        pixel_losses::make_args<scalar_t>(logits, labels, absent, resp, mask, slot_class, eps);
    const at::Tensor g = grad_sums.to(at::kCPU).contiguous();
    const scalar_t* gs = g.const_data_ptr<scalar_t>();
    scalar_t* gz = grad_logits.mutable_data_ptr<scalar_t>();
    scalar_t* gr = grad_resp.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, B * P, kBlock, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        pixel_losses::backward_pixel(args, gs, i / P, i % P, gz, gr);
      }
    });
  });
  return {grad_logits, grad_resp};
}

}  // namespace wsvision
