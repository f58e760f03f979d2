"""Per-pixel Gaussian-mixture log-likelihoods (AGMM, AGMM++), fused.

The AGMM reference code broadcasts features (B, 1, C, h, w) against class
centres (B, K, C, 1, 1): a (B, K, C, h, w) tensor, 8.6 GB at the VOC setting
(B=16, K=21, C=256, h=w=81). :func:`gmm_log_likelihood` reads the features and
writes the (B, K, h, w) responses without ever forming it; every
implementation (PyTorch reference, C++, CUDA; see :mod:`wsvision.ops.backend`)
computes only the weighted distance

    S[b, k, x] = sum_c scale[b, k, c] * phi(f[b, c, x] - mu[b, k, c])

in a kernel, with phi(t) = t^2 or |t|, and the O(B K h w) rest in PyTorch.
:func:`naive_gmm_log_likelihood` is the broadcast formulation, kept for the
benchmark and as an independent check in the tests.
"""
import torch

from .backend import get_kernels
from .validation import check_features, check_like

DISTS = ('sq_l2', 'l1_mean')


class _GMMDistance(torch.autograd.Function):
    """S = sum_c scale * phi(feat - means) with the kernels' own backward."""

    @staticmethod
    def forward(ctx, feat, means, scale, l1, kernels):
        feat, means, scale = feat.contiguous(), means.contiguous(), scale.contiguous()
        ctx.save_for_backward(feat, means, scale)
        ctx.l1 = l1
        ctx.kernels = kernels
        return kernels.gmm_distance_forward(feat, means, scale, l1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        feat, means, scale = ctx.saved_tensors
        # The parameter gradients are a reduction over every pixel: skip
        # those that nothing needs (a fixed variance, running centres).
        _, need_means, need_scale = ctx.needs_input_grad[:3]
        grad_feat, grad_means, grad_scale = ctx.kernels.gmm_distance_backward(
            grad.contiguous(), feat, means, scale, ctx.l1, need_means, need_scale)
        return grad_feat, grad_means, grad_scale, None, None


def _check_gmm_inputs(feat, means, log_var, log_pi, dist, valid_mask):
    check_features(feat)
    B, C, h, w = feat.shape
    if not isinstance(means, torch.Tensor) or means.dim() != 3:
        got = tuple(means.shape) if isinstance(means, torch.Tensor) else type(means).__name__
        raise ValueError(f'means must be a (B, K, C) or (1, K, C) tensor, got {got}')
    K = means.shape[1]
    if K == 0:
        raise ValueError(f'means must hold at least one class, got shape {tuple(means.shape)}')
    param_shapes = [(B, K, C), (1, K, C)]
    check_like(means, 'means', param_shapes, feat)
    if log_var is not None:
        check_like(log_var, 'log_var', param_shapes, feat)
    if log_pi is not None:
        check_like(log_pi, 'log_pi', [(B, K), (1, K)], feat)
    if valid_mask is not None:
        if not isinstance(valid_mask, torch.Tensor) or valid_mask.dtype != torch.bool:
            got = valid_mask.dtype if isinstance(valid_mask, torch.Tensor) else type(valid_mask)
            raise ValueError(f'valid_mask must be a bool tensor, got {got}')
        check_like(valid_mask, 'valid_mask', [(B, h, w)], feat)
    if dist not in DISTS:
        raise ValueError(f'dist must be one of {DISTS}, got {dist!r}')


def gmm_log_likelihood(feat, means, log_var=None, log_pi=None, dist='sq_l2',
                       valid_mask=None, impl=None):
    """Log-likelihood of every pixel under every class's diagonal Gaussian.

    With sigma_kc^2 = exp(log_var[b, k, c]) (1 when ``log_var`` is None),
    log_pi_k = log_pi[b, k] (0 when None) and the standardised difference
    z_kc(x) = (f_c(x) - mu_kc) / sigma_kc, the output at pixel x is:

    - ``dist='sq_l2'``, the Gaussian of AGMM++::

          out_k(x) = log_pi_k - 1/2 sum_c z_kc(x)^2 - 1/2 sum_c log_var_kc

      i.e. log pi_k + log N(f(x); mu_k, diag(sigma_k^2)) without the
      constant -C/2 log(2 pi), which changes neither the responsibilities
      nor any gradient.
    - ``dist='l1_mean'``, the response of AGMM (CVPR 2023)::

          out_k(x) = log_pi_k - (1/C sum_c |z_kc(x)|)^2

      With ``log_var=None`` this is log r_k of the reference code,
      r_k = exp(-d(f, mu_k)^2) with d the channel-mean L1 distance. The
      paper's Eq. 7, r_k = exp(-d^2 / (2 sigma_k^2)) with one sigma_k per
      class, is ``log_var[:, k, :] = log(2 sigma_k^2)`` on every channel.
      No normalising term: this is a response, not a density.

    Pixels where ``valid_mask`` is False get 0 and pass no gradient. The
    (B, K, C, h, w) broadcast is never formed: memory is O(B K h w + B C h w).

    Args:
        feat (Tensor): (B, C, h, w) float32 or float64 features.
        means (Tensor): (B, K, C) class centres, or (1, K, C) shared by all
            images.
        log_var (Tensor | None): (B, K, C) or (1, K, C) log-variances.
        log_pi (Tensor | None): (B, K) or (1, K) log mixture weights.
        dist (str): 'sq_l2' or 'l1_mean'.
        valid_mask (Tensor | None): (B, h, w) bool, True where the pixel
            counts (e.g. not crop padding).
        impl (str | None): 'auto', 'torch', 'cpp' or 'cuda' (None: the
            ``WSV_OPS_IMPL`` environment variable, default 'auto').

    Returns:
        Tensor: (B, K, h, w) log-likelihoods, differentiable w.r.t. feat,
        means, log_var and log_pi.
    """
    _check_gmm_inputs(feat, means, log_var, log_pi, dist, valid_mask)
    B, C = feat.shape[:2]
    K = means.shape[1]
    l1 = dist == 'l1_mean'
    if log_var is None:
        scale = feat.new_ones(()).expand(B, K, C)
    else:
        # phi(z) = sigma^-2 (f - mu)^2 for sq_l2, sigma^-1 |f - mu| for l1_mean.
        scale = torch.exp(-0.5 * log_var if l1 else -log_var).expand(B, K, C)
    kernels = get_kernels(feat.device, impl)
    distance = _GMMDistance.apply(feat, means.expand(B, K, C), scale, l1, kernels)
    if l1:
        out = -(distance / C).square()
    else:
        out = -0.5 * distance
        if log_var is not None:
            out = out - 0.5 * log_var.sum(2)[..., None, None]
    if log_pi is not None:
        out = out + log_pi[..., None, None]
    if valid_mask is not None:
        out = torch.where(valid_mask[:, None], out, out.new_zeros(()))
    return out


def naive_gmm_log_likelihood(feat, means, log_var=None, log_pi=None, dist='sq_l2',
                             valid_mask=None):
    """:func:`gmm_log_likelihood` by broadcasting, as the reference code does.

    Forms the (B, K, C, h, w) difference tensor (8.6 GB at the VOC setting);
    it exists for the benchmark and as an independent check in the tests.
    Arguments and result as :func:`gmm_log_likelihood`.
    """
    _check_gmm_inputs(feat, means, log_var, log_pi, dist, valid_mask)
    diff = feat[:, None] - means[..., None, None]  # (B, K, C, h, w)
    sigma = None if log_var is None else torch.exp(0.5 * log_var)[..., None, None]
    z = diff if sigma is None else diff / sigma
    if dist == 'l1_mean':
        out = -z.abs().mean(2).square()
    else:
        out = -0.5 * z.square().sum(2)
        if log_var is not None:
            out = out - 0.5 * log_var.sum(2)[..., None, None]
    if log_pi is not None:
        out = out + log_pi[..., None, None]
    if valid_mask is not None:
        out = out * valid_mask[:, None]
    return out
