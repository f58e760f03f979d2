// The per-pixel arithmetic of the AGMM pixel losses (see pixel_losses.py),
// written once for the C++ CPU kernel and the CUDA kernel.
//
// At pixel x of image b, with logits z_k, p = softmax(z), label y, responses r_s
// and masks m_s of the slots s (class slot_class[b, s]), the four sums are
//   ce     += -log p_y                                   if x is labelled
//   absent += sum_{k absent} -log(max(1 - p_k, eps))     if x is valid
//   sbce   += sum_{s: m_s} BCE(p_k, r_s) + BCE(r_s, p_k) if x is valid
//   label  += sum_{s: m_s} BCE(r_s, [y == k])            if x is labelled
// with every log clamped at eps (clog below) and the clamp's gradient rule:
// d/dx log(max(x, eps)) = 1/x where x >= eps, else 0. Padding (label 255)
// counts in no term; label 254 is unlabelled. A slot whose class is not in
// [0, K) counts nowhere. The four counts are the pixels
// (or pixel-slot pairs) each sum runs over.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define WSV_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define WSV_HOST_DEVICE inline
#endif

namespace wsvision {
namespace pixel_losses {

constexpr int kTerms = 4;  // ce, absent, sbce, label; then as many counts
constexpr int64_t kUnlabelled = 254;
constexpr int64_t kPadding = 255;

template <typename T>
struct Args {
  const T* logits;            // (B, K, P)
  const int64_t* labels;      // (B, P)
  const bool* absent;         // (B, K)
  const T* resp;              // (B, S, P)
  const bool* mask;           // (B, S, P)
  const int64_t* slot_class;  // (B, S)
  int64_t K, S, P;
  T eps;
};

// The kernels' view of the op's (checked, contiguous) tensors.
template <typename T>
inline Args<T> make_args(const at::Tensor& logits, const at::Tensor& labels,
                         const at::Tensor& absent, const at::Tensor& resp, const at::Tensor& mask,
                         const at::Tensor& slot_class, double eps) {
  return {logits.const_data_ptr<T>(),     labels.const_data_ptr<int64_t>(),
          absent.const_data_ptr<bool>(),  resp.const_data_ptr<T>(),
          mask.const_data_ptr<bool>(),    slot_class.const_data_ptr<int64_t>(),
          logits.size(1),                 resp.size(1),
          logits.size(2) * logits.size(3), static_cast<T>(eps)};
}

WSV_HOST_DEVICE float exp_(float x) { return expf(x); }
WSV_HOST_DEVICE double exp_(double x) { return exp(x); }
WSV_HOST_DEVICE float log_(float x) { return logf(x); }
WSV_HOST_DEVICE double log_(double x) { return log(x); }

template <typename T>
WSV_HOST_DEVICE T clog(T x, T eps) {
  return log_(x > eps ? x : eps);
}

template <typename T>
WSV_HOST_DEVICE T dclog(T x, T eps) {
  return x >= eps ? T(1) / x : T(0);
}

// log-sum-exp of the K logits at (b, p), which start at z (stride P).
template <typename T>
WSV_HOST_DEVICE T log_sum_exp(const T* z, int64_t K, int64_t P) {
  T top = z[0];
  for (int64_t k = 1; k < K; ++k) top = z[k * P] > top ? z[k * P] : top;
  T sum = T(0);
  for (int64_t k = 0; k < K; ++k) sum += exp_(z[k * P] - top);
  return top + log_(sum);
}

// Whether y is a class id (of a label or a slot).
WSV_HOST_DEVICE bool is_class_id(int64_t y, int64_t K) { return y >= 0 && y < K; }

// Adds the pixel's four sums and four counts to acc[0..7].
template <typename T, typename Acc>
WSV_HOST_DEVICE void forward_pixel(const Args<T>& a, int64_t b, int64_t p, Acc* acc) {
  const int64_t y = a.labels[b * a.P + p];
  if (y == kPadding) return;
  const bool labelled = is_class_id(y, a.K);
  const T* z = a.logits + b * a.K * a.P + p;
  const T lse = log_sum_exp(z, a.K, a.P);
  const T eps = a.eps;
  acc[5] += Acc(1);
  if (labelled) {
    acc[0] += Acc(lse - z[y * a.P]);
    acc[4] += Acc(1);
  }
  for (int64_t k = 0; k < a.K; ++k) {
    if (a.absent[b * a.K + k]) acc[1] -= Acc(clog(T(1) - exp_(z[k * a.P] - lse), eps));
  }
  for (int64_t s = 0; s < a.S; ++s) {
    const int64_t at = (b * a.S + s) * a.P + p;
    const int64_t k = a.slot_class[b * a.S + s];
    if (!a.mask[at] || !is_class_id(k, a.K)) continue;
    const T q = exp_(z[k * a.P] - lse), r = a.resp[at];
    const T log_r = clog(r, eps), log_s = clog(T(1) - r, eps);
    acc[2] -= Acc(r * clog(q, eps) + (T(1) - r) * clog(T(1) - q, eps) + q * log_r +
                  (T(1) - q) * log_s);
    acc[6] += Acc(1);
    if (labelled) {
      acc[3] -= Acc(y == k ? log_r : log_s);
      acc[7] += Acc(1);
    }
  }
}

// d(g[1] * absent)/d p_k at a pixel, p_k = q, for an absent class k.
template <typename T>
WSV_HOST_DEVICE T absent_grad_prob(const T* g, T q, T eps) {
  return g[1] * dclog(T(1) - q, eps);
}

// d(g[2] * sbce)/d p_k of one slot (class k, p_k = q, response r).
template <typename T>
WSV_HOST_DEVICE T sbce_grad_prob(const T* g, T q, T r, T eps) {
  return -g[2] * (r * dclog(q, eps) - (T(1) - r) * dclog(T(1) - q, eps) + clog(r, eps) -
                  clog(T(1) - r, eps));
}

// Gradients of g . (ce, absent, sbce, label) at one pixel: grad_logits
// (stride P, K entries) and grad_resp (stride P, S entries) from their (b, p).
// Through the softmax dL/dz_j = p_j (G_j - sum_k p_k G_k) with G = dL/dp,
// which is non-zero only for the absent classes and the slots' classes: the
// first two loops sum p_k G_k over those, the third writes every class's
// absent and cross-entropy parts, the last adds the slots' parts.
template <typename T>
WSV_HOST_DEVICE void backward_pixel(const Args<T>& a, const T* g, int64_t b, int64_t p,
                                    T* grad_logits, T* grad_resp) {
  T* gz = grad_logits + b * a.K * a.P + p;
  T* gr = grad_resp + b * a.S * a.P + p;
  const int64_t y = a.labels[b * a.P + p];
  if (y == kPadding) {
    for (int64_t k = 0; k < a.K; ++k) gz[k * a.P] = T(0);
    for (int64_t s = 0; s < a.S; ++s) gr[s * a.P] = T(0);
    return;
  }
  const bool labelled = is_class_id(y, a.K);
  const T* z = a.logits + b * a.K * a.P + p;
  const bool* absent = a.absent + b * a.K;
  const int64_t* slot_class = a.slot_class + b * a.S;
  const T lse = log_sum_exp(z, a.K, a.P);
  const T eps = a.eps;
  T mean_grad = T(0);
  for (int64_t k = 0; k < a.K; ++k) {
    if (!absent[k]) continue;
    const T q = exp_(z[k * a.P] - lse);
    mean_grad += q * absent_grad_prob(g, q, eps);
  }
  for (int64_t s = 0; s < a.S; ++s) {
    const int64_t k = slot_class[s], at = (b * a.S + s) * a.P + p;
    if (!a.mask[at] || !is_class_id(k, a.K)) continue;
    const T q = exp_(z[k * a.P] - lse);
    mean_grad += q * sbce_grad_prob(g, q, a.resp[at], eps);
  }
  for (int64_t k = 0; k < a.K; ++k) {
    const T q = exp_(z[k * a.P] - lse);
    T grad = q * ((absent[k] ? absent_grad_prob(g, q, eps) : T(0)) - mean_grad);
    if (labelled) grad += g[0] * (q - (k == y ? T(1) : T(0)));
    gz[k * a.P] = grad;
  }
  for (int64_t s = 0; s < a.S; ++s) {
    const int64_t k = slot_class[s], at = (b * a.S + s) * a.P + p;
    if (!a.mask[at] || !is_class_id(k, a.K)) {
      gr[s * a.P] = T(0);
      continue;
    }
    const T q = exp_(z[k * a.P] - lse), r = a.resp[at];
    gz[k * a.P] += q * sbce_grad_prob(g, q, r, eps);
    const T d_log_r = dclog(r, eps), d_log_s = -dclog(T(1) - r, eps);
    T grad = -g[2] * (clog(q, eps) - clog(T(1) - q, eps) + q * d_log_r + (T(1) - q) * d_log_s);
    if (labelled) grad -= g[3] * (y == k ? d_log_r : d_log_s);
    gr[s * a.P] = grad;
  }
}

}  // namespace pixel_losses
}  // namespace wsvision
