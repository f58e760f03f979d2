"""gmm_log_likelihood: values, gradients and edge cases of every implementation."""
import math

import pytest
import torch

from wsvision.ops import gmm_log_likelihood, naive_gmm_log_likelihood

from tests.ops.helpers import gmm_inputs, relative_error

DISTS = ('sq_l2', 'l1_mean')


def test_hand_computed_single_pixel():
    # One pixel, C = 2: f = (1, 3), mu = (0, 1), sigma^2 = (4, 1), pi = 0.25.
    feat = torch.tensor([1.0, 3.0]).view(1, 2, 1, 1)
    means = torch.tensor([[[0.0, 1.0]]])
    log_var = torch.log(torch.tensor([[[4.0, 1.0]]]))
    log_pi = torch.log(torch.tensor([[0.25]]))
    sq = gmm_log_likelihood(feat, means, log_var, log_pi, dist='sq_l2', impl='torch')
    # z = (1/2, 2): -1/2 (1/4 + 4) - 1/2 log 4 + log 1/4
    assert sq.item() == pytest.approx(-2.125 - 0.5 * math.log(4) + math.log(0.25))
    l1 = gmm_log_likelihood(feat, means, log_var, log_pi, dist='l1_mean', impl='torch')
    # mean |z| = (1/2 + 2) / 2 = 1.25
    assert l1.item() == pytest.approx(-1.25 ** 2 + math.log(0.25))


def test_l1_mean_reproduces_cvpr_reference_and_eq7():
    feat, means, _, _, _ = gmm_inputs(dtype=torch.float32)
    # The reference code: r = exp(-(mean_c |f - mu|)^2), sigma fixed to 1.
    d = (feat[:, None] - means[..., None, None]).abs().mean(2)
    out = gmm_log_likelihood(feat, means, dist='l1_mean', impl='torch')
    torch.testing.assert_close(out.exp(), torch.exp(-d ** 2))
    # Eq. 7 with one sigma_k per class: log_var = log(2 sigma_k^2) on every channel.
    sigma = torch.tensor([0.5, 1.0, 2.0])
    log_var = torch.log(2 * sigma ** 2)[None, :, None].expand_as(means)
    out = gmm_log_likelihood(feat, means, log_var, dist='l1_mean', impl='torch')
    torch.testing.assert_close(out, -d ** 2 / (2 * sigma[None, :, None, None] ** 2))


def test_sq_l2_is_the_gaussian_log_density():
    feat, means, log_var, log_pi, _ = gmm_inputs(B=1, K=2, C=3, h=2, w=2)
    out = gmm_log_likelihood(feat, means, log_var, log_pi, impl='torch')
    for k in range(2):
        normal = torch.distributions.Normal(means[0, k], torch.exp(0.5 * log_var[0, k]))
        pixels = feat[0].flatten(1).T  # (h * w, C)
        expected = normal.log_prob(pixels).sum(1) + 1.5 * math.log(2 * math.pi) + log_pi[0, k]
        torch.testing.assert_close(out[0, k].flatten(), expected)


@pytest.mark.parametrize('dist', DISTS)
@pytest.mark.parametrize('with_params', [False, True])
def test_torch_matches_naive_values_and_grads(dist, with_params):
    feat, means, log_var, log_pi, mask = gmm_inputs()
    if not with_params:
        log_var = log_pi = mask = None
    inputs = [t for t in (feat, means, log_var, log_pi) if t is not None]
    for t in inputs:
        t.requires_grad_(True)
    fused = gmm_log_likelihood(feat, means, log_var, log_pi, dist, mask, impl='torch')
    naive = naive_gmm_log_likelihood(feat, means, log_var, log_pi, dist, mask)
    torch.testing.assert_close(fused, naive)
    weights = torch.randn_like(fused)
    grads_fused = torch.autograd.grad((fused * weights).sum(), inputs)
    grads_naive = torch.autograd.grad((naive * weights).sum(), inputs)
    for a, b in zip(grads_fused, grads_naive):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('dist', DISTS)
def test_cpp_matches_reference_float32(cpp_kernels, dist):
    # 600 pixels: more than one work item of the C++ backward.
    feat, means, log_var, log_pi, mask = gmm_inputs(B=3, K=6, C=24, h=24, w=25, seed=1,
                                                    dtype=torch.float32)
    inputs = (feat, means, log_var, log_pi)
    for t in inputs:
        t.requires_grad_(True)
    outs, grads = [], []
    for impl in ('torch', 'cpp'):
        out = gmm_log_likelihood(feat, means, log_var, log_pi, dist, mask, impl=impl)
        outs.append(out)
        grads.append(torch.autograd.grad((out * torch.cos(out)).sum(), inputs))
    assert relative_error(outs[1], outs[0]) <= 1e-5
    for g_cpp, g_ref in zip(grads[1], grads[0]):
        assert relative_error(g_cpp, g_ref) <= 1e-5


def _gradcheck(dist, impl, with_mask, shared_means=False, **sizes):
    sizes = {**dict(B=2, K=3, C=4, h=3, w=4), **sizes}
    feat, means, log_var, log_pi, mask = gmm_inputs(shared_means=shared_means, **sizes)
    inputs = tuple(t.requires_grad_(True) for t in (feat, means, log_var, log_pi))

    def fn(f, m, lv, lp):
        return gmm_log_likelihood(f, m, lv, lp, dist, mask if with_mask else None, impl=impl)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize('dist', DISTS)
@pytest.mark.parametrize('with_mask', [False, True])
def test_gradcheck_torch(dist, with_mask):
    _gradcheck(dist, 'torch', with_mask)


@pytest.mark.parametrize('dist', DISTS)
@pytest.mark.parametrize('with_mask', [False, True])
def test_gradcheck_cpp(cpp_kernels, dist, with_mask):
    _gradcheck(dist, 'cpp', with_mask)


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
@pytest.mark.parametrize('dist', DISTS)
@pytest.mark.parametrize('sizes', [
    dict(K=1),                      # one class
    dict(h=1, w=1),                 # a single pixel
    dict(B=1, K=2, C=2, h=9, w=8),  # more pixels than one CPU block
])
def test_edge_sizes_gradcheck(request, impl, dist, sizes):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    _gradcheck(dist, impl, with_mask=True, **sizes)


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
@pytest.mark.parametrize('dist', DISTS)
def test_broadcast_means_gradcheck(request, impl, dist):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    _gradcheck(dist, impl, with_mask=False, shared_means=True)


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_broadcast_means_equal_repeated_means(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    feat, means, log_var, log_pi, _ = gmm_inputs(shared_means=True)
    shared = gmm_log_likelihood(feat, means, log_var, log_pi, impl=impl)
    repeated = gmm_log_likelihood(feat, means.repeat(2, 1, 1), log_var.repeat(2, 1, 1),
                                  log_pi.repeat(2, 1), impl=impl)
    torch.testing.assert_close(shared, repeated)


@pytest.mark.parametrize('impl', ['torch', 'cpp', 'cuda'])
@pytest.mark.parametrize('dist', DISTS)
@pytest.mark.parametrize('need_means, need_scale', [(False, False), (True, False),
                                                   (False, True), (True, True)])
def test_backward_computes_only_the_needed_parameter_gradients(request, impl, dist, need_means,
                                                               need_scale):
    from wsvision.ops.backend import TorchKernels
    kernels = TorchKernels if impl == 'torch' else request.getfixturevalue(f'{impl}_kernels')
    device = 'cuda' if impl == 'cuda' else 'cpu'
    # 700 pixels: more than one work item of the C++ and CUDA parameter reductions.
    feat, means, log_var, _, _ = gmm_inputs(B=2, K=5, C=9, h=25, w=28, seed=3, device=device)
    scale = torch.exp(-log_var)
    grad = torch.randn(2, 5, 25, 28, dtype=feat.dtype, generator=torch.Generator().manual_seed(4))
    grad = grad.to(device)
    l1 = dist == 'l1_mean'
    full = TorchKernels.gmm_distance_backward(grad, feat, means, scale, l1, True, True)
    got = kernels.gmm_distance_backward(grad, feat, means, scale, l1, need_means, need_scale)
    torch.testing.assert_close(got[0], full[0])
    for needed, value, expected in ((need_means, got[1], full[1]), (need_scale, got[2], full[2])):
        if needed:
            torch.testing.assert_close(value, expected)
        else:
            assert value is None


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
@pytest.mark.parametrize('dist', DISTS)
def test_fixed_parameters_give_the_same_feature_gradient(request, impl, dist):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    feat, means, log_var, log_pi, mask = gmm_inputs(K=4, C=6, h=5, w=7, seed=5)
    feat.requires_grad_(True)
    out = gmm_log_likelihood(feat, means, log_var, log_pi, dist, mask, impl=impl)
    grad, = torch.autograd.grad((out * torch.sin(out)).sum(), feat)
    feat_naive = feat.detach().requires_grad_(True)
    out_naive = naive_gmm_log_likelihood(feat_naive, means, log_var, log_pi, dist, mask)
    expected, = torch.autograd.grad((out_naive * torch.sin(out_naive)).sum(), feat_naive)
    torch.testing.assert_close(out, out_naive)
    torch.testing.assert_close(grad, expected)


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
@pytest.mark.parametrize('dist', DISTS)
def test_non_contiguous_inputs(request, impl, dist):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    feat, means, log_var, log_pi, mask = gmm_inputs(K=4, C=5, h=6, w=7)
    # Channels-last storage seen as (B, C, h, w); every other class of a (B, 2K, C) tensor.
    feat_nc = feat.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    means_nc = torch.stack([means, torch.zeros_like(means)], 2).flatten(1, 2)[:, ::2]
    log_var_nc = log_var.transpose(1, 2).contiguous().transpose(1, 2)
    assert not (feat_nc.is_contiguous() or means_nc.is_contiguous()
                or log_var_nc.is_contiguous())
    expected = naive_gmm_log_likelihood(feat, means, log_var, log_pi, dist, mask)
    out = gmm_log_likelihood(feat_nc, means_nc, log_var_nc, log_pi, dist, mask, impl=impl)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_masked_pixels_are_zero_and_pass_no_gradient(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    feat, means, log_var, log_pi, mask = gmm_inputs()
    feat.requires_grad_(True)
    out = gmm_log_likelihood(feat, means, log_var, log_pi, 'l1_mean', mask, impl=impl)
    assert (out.permute(1, 0, 2, 3)[:, ~mask] == 0).all()
    assert (out.permute(1, 0, 2, 3)[:, mask] != 0).all()
    grad, = torch.autograd.grad(out.sum(), feat)
    assert (grad.permute(1, 0, 2, 3)[:, ~mask] == 0).all()
    assert grad.abs().sum() > 0


@pytest.mark.parametrize('kwargs, message', [
    (dict(feat=torch.zeros(2, 3, 4)), r'feat must be a \(B, C, h, w\) tensor, got \(2, 3, 4\)'),
    (dict(means=torch.zeros(2, 3, 4)), r'means must have shape \(2, 3, 5\) or \(1, 3, 5\)'),
    (dict(log_var=torch.zeros(3, 3, 5)), 'log_var must have shape'),
    (dict(log_pi=torch.zeros(2, 4)), r'log_pi must have shape \(2, 3\) or \(1, 3\)'),
    (dict(valid_mask=torch.ones(2, 4, 6)), 'valid_mask must be a bool tensor'),
    (dict(valid_mask=torch.ones(2, 6, 4, dtype=torch.bool)), 'valid_mask must have shape'),
    (dict(dist='l2'), 'dist must be one of'),
    (dict(feat=torch.zeros(2, 5, 4, 6, dtype=torch.float16)), 'float32 or float64'),
    (dict(means=torch.zeros(2, 3, 5, dtype=torch.float32)), 'means has dtype'),
])
def test_bad_inputs_raise_clear_errors(kwargs, message):
    args = dict(zip(('feat', 'means', 'log_var', 'log_pi', 'valid_mask'),
                    gmm_inputs(B=2, K=3, C=5, h=4, w=6)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        gmm_log_likelihood(**args, impl='torch')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
@pytest.mark.parametrize('dist', DISTS)
@pytest.mark.parametrize('sizes', [
    dict(B=3, K=6, C=24, h=13, w=17),
    dict(B=2, K=12, C=33, h=7, w=9),        # the 16-class tile
    dict(B=2, K=21, C=256, h=21, w=21),     # VOC's K and C (the 24-class tile)
    dict(B=2, K=40, C=70, h=5, w=5),        # classes in two chunks, ragged channel tiles
    dict(B=2, K=1, C=3, h=1, w=1),
])
def test_cuda_matches_reference(cuda_kernels, dist, sizes):
    feat, means, log_var, log_pi, mask = gmm_inputs(dtype=torch.float32, device='cuda', seed=2,
                                                    **sizes)
    inputs = (feat, means, log_var, log_pi)
    for t in inputs:
        t.requires_grad_(True)
    results = {}
    for impl in ('torch', 'cuda'):
        out = gmm_log_likelihood(feat, means, log_var, log_pi, dist, mask, impl=impl)
        results[impl] = (out, torch.autograd.grad((out * torch.cos(out)).sum(), inputs))
    assert relative_error(results['cuda'][0], results['torch'][0]) <= 1e-5
    for g_cuda, g_ref in zip(results['cuda'][1], results['torch'][1]):
        assert relative_error(g_cuda, g_ref) <= 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
@pytest.mark.parametrize('dist', DISTS)
def test_gradcheck_cuda(cuda_kernels, dist):
    feat, means, log_var, log_pi, mask = gmm_inputs(device='cuda', K=5, C=7)
    inputs = tuple(t.requires_grad_(True) for t in (feat, means, log_var, log_pi))
    assert torch.autograd.gradcheck(
        lambda f, m, lv, lp: gmm_log_likelihood(f, m, lv, lp, dist, mask, impl='cuda'),
        inputs, eps=1e-6, atol=1e-5)
