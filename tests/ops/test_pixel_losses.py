"""agmm_pixel_losses: values, gradients and edge cases of every implementation."""
import math

import pytest
import torch

from wsvision.ops import agmm_pixel_losses, naive_agmm_pixel_losses
from wsvision.structures import IGNORE_INDEX, UNLABELLED

from tests.ops.helpers import relative_error

EPS = 1e-6
U, PAD = UNLABELLED, IGNORE_INDEX


def impls_for(device):
    return ('torch', 'cpp') if device == 'cpu' else ('torch', 'cuda')


def use_impl(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    if impl == 'cuda':
        request.getfixturevalue('cuda_kernels')


def pixel_inputs(B=2, K=5, S=3, H=4, W=6, dtype=torch.float64, device='cpu', seed=0):
    """Random (logits, labels, absent, resp, mask, slot_class): labelled,
    unlabelled and padding pixels, distinct slot classes, responses in (0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(B, K, H, W, generator=gen, dtype=dtype)
    labels = torch.randint(0, K, (B, H, W), generator=gen)
    roll = torch.rand(B, H, W, generator=gen)
    labels[roll < 0.5] = U
    labels[roll > 0.85] = PAD
    slot_class = torch.stack([torch.randperm(K, generator=gen)[:S] for _ in range(B)])
    absent = torch.rand(B, K, generator=gen) < 0.4
    resp = torch.rand(B, S, H, W, generator=gen, dtype=dtype).mul(0.98).add(0.01)
    mask = torch.rand(B, S, H, W, generator=gen) < 0.7
    return tuple(t.to(device) for t in (logits, labels, absent, resp, mask, slot_class))


def plain_sums(*inputs):
    return naive_agmm_pixel_losses(*inputs, eps=EPS)[0]


def test_hand_computed():
    # One image, K = 3, two pixels: pixel 0 labelled 0, pixel 1 unlabelled.
    prob = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]], dtype=torch.float64)
    logits = prob.log().T.reshape(1, 3, 1, 2)
    labels = torch.tensor([[[0, U]]])
    absent = torch.tensor([[False, False, True]])
    slot_class = torch.tensor([[0, 1]])
    resp = torch.tensor([[0.5, 0.9], [0.8, 0.5]], dtype=torch.float64).view(1, 2, 1, 2)
    mask = torch.tensor([[True, True], [False, True]]).view(1, 2, 1, 2)
    sums, counts = agmm_pixel_losses(logits, labels, absent, resp, mask, slot_class,
                                     impl='torch')

    def bce(x, t):
        return -(t * math.log(x) + (1 - t) * math.log(1 - x))

    assert sums[0].item() == pytest.approx(-math.log(0.7))
    assert sums[1].item() == pytest.approx(-math.log(0.9) - math.log(0.75))
    sbce = (bce(0.7, 0.5) + bce(0.5, 0.7)) + (bce(0.5, 0.9) + bce(0.9, 0.5)) \
        + (bce(0.25, 0.5) + bce(0.5, 0.25))
    assert sums[2].item() == pytest.approx(sbce)
    # Only pixel 0 is labelled, and only its slot 0 (class 0, the label) is masked in.
    assert sums[3].item() == pytest.approx(bce(0.5, 1.0))
    assert counts.tolist() == [1, 2, 3, 1]


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_matches_plain_autograd_with_clamps(request, impl):
    """Values and both gradients of the plain expression, the EPS clamps hit
    on either side (p ~ 1, p ~ 0, r = 0 and r = 1)."""
    use_impl(request, impl)
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(seed=1)
    logits[0, :, 0, 0] = torch.tensor([60.0, 0, 0, 0, -60.0], dtype=logits.dtype)
    resp[0, 0, 0, :2] = torch.tensor([0.0, 1.0], dtype=resp.dtype)
    weights = torch.tensor([0.7, -1.3, 0.4, 2.0], dtype=torch.float64)
    results = {}
    for name, fn in (('plain', plain_sums), ('fused', None)):
        x = logits.clone().requires_grad_(True), resp.clone().requires_grad_(True)
        if fn is None:
            sums, _ = agmm_pixel_losses(x[0], labels, absent, x[1], mask, slot_class, impl=impl)
        else:
            sums = fn(x[0], labels, absent, x[1], mask, slot_class)
        results[name] = (sums.detach(), *torch.autograd.grad((sums * weights).sum(), x))
    for got, expected in zip(results['fused'], results['plain']):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_gradcheck(request, impl):
    use_impl(request, impl)
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(B=2, K=4, S=2, H=3, W=3,
                                                                  seed=2)
    assert torch.autograd.gradcheck(
        lambda z, r: agmm_pixel_losses(z, labels, absent, r, mask, slot_class, impl=impl)[0],
        (logits.requires_grad_(True), resp.requires_grad_(True)))


def run_all(inputs, impl, weights):
    logits, labels, absent, resp, mask, slot_class = inputs
    x = logits.clone().requires_grad_(True), resp.clone().requires_grad_(True)
    sums, counts = agmm_pixel_losses(x[0], labels, absent, x[1], mask, slot_class, impl=impl)
    return (sums.detach(), counts, *torch.autograd.grad((sums * weights).sum(), x))


def test_cpp_matches_reference_float32(cpp_kernels):
    inputs = pixel_inputs(B=3, K=21, S=5, H=37, W=41, dtype=torch.float32, seed=3)
    weights = torch.tensor([1.0, 0.5, 2.0, 1.5])
    got, expected = (run_all(inputs, impl, weights) for impl in ('cpp', 'torch'))
    for a, b in zip(got, expected):
        assert relative_error(a, b) <= 1e-5


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_edge_cases(request, impl):
    """K = 1, no slots (S = 0), an all-padding image, an image without
    labels, an H * W = 1 image, non-contiguous inputs and a slot whose class
    is out of range."""
    use_impl(request, impl)
    weights = torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    # K = 1: p = 1 everywhere, so ce is 0 and an absent class costs -log(EPS).
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(K=1, S=1, seed=4)
    sums, counts = agmm_pixel_losses(logits, labels, absent | True, resp, mask, slot_class,
                                     impl=impl)
    assert sums[0].item() == pytest.approx(0, abs=1e-12)
    assert sums[1].item() == pytest.approx(-math.log(EPS) * counts[1].item())
    # S = 0, an all-padding image 0 and an unlabelled image 1.
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(S=0, seed=5)
    labels[0] = PAD
    labels[1] = U
    sums, counts, grad_logits, grad_resp = run_all(
        (logits, labels, absent, resp, mask, slot_class), impl, weights)
    assert counts.tolist() == [0, labels[1].numel(), 0, 0]
    assert sums[0] == 0 and sums[2] == 0 and sums[3] == 0
    assert (grad_logits[0] == 0).all() and grad_resp.shape == resp.shape
    # H * W = 1, and non-contiguous inputs.
    one = pixel_inputs(B=3, H=1, W=1, seed=6)
    assert torch.equal(run_all(one, impl, weights)[1], run_all(one, 'torch', weights)[1])
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(H=6, W=4, seed=7)
    strided = (logits.transpose(2, 3).contiguous().transpose(2, 3), labels,
               absent.T.contiguous().T, resp[..., ::1], mask, slot_class.T.contiguous().T)
    assert not strided[0].is_contiguous()
    for a, b in zip(run_all(strided, impl, weights),
                    run_all((logits, labels, absent, resp, mask, slot_class), 'torch', weights)):
        torch.testing.assert_close(a, b)
    # A slot class out of range counts nowhere (and reads no memory).
    bad_slot = slot_class.clone()
    bad_slot[0, 0] = 99
    masked = mask.clone()
    masked[0, 0] = False
    got = run_all((logits, labels, absent, resp, mask, bad_slot), impl, weights)
    expected = run_all((logits, labels, absent, resp, masked, slot_class), 'torch', weights)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def test_bad_inputs_name_the_argument():
    logits, labels, absent, resp, mask, slot_class = pixel_inputs()
    with pytest.raises(ValueError, match='labels must have shape'):
        agmm_pixel_losses(logits, labels[:, :2], absent, resp, mask, slot_class)
    with pytest.raises(ValueError, match='mask must be torch.bool'):
        agmm_pixel_losses(logits, labels, absent, resp, mask.float(), slot_class)
    with pytest.raises(ValueError, match='resp must be torch.float64'):
        agmm_pixel_losses(logits, labels, absent, resp.float(), mask, slot_class)
    with pytest.raises(ValueError, match='logits must be float32 or float64'):
        agmm_pixel_losses(logits.half(), labels, absent, resp, mask, slot_class)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
@pytest.mark.parametrize('sizes', [dict(B=4, K=21, S=5, H=65, W=67), dict(K=1, S=0)])
def test_cuda_matches_reference(cuda_kernels, sizes):
    inputs = pixel_inputs(dtype=torch.float32, device='cuda', seed=8, **sizes)
    weights = torch.tensor([1.0, 0.5, 2.0, 1.5], device='cuda')
    got, expected = (run_all(inputs, impl, weights) for impl in ('cuda', 'torch'))
    for a, b in zip(got, expected):
        if b.numel():
            assert relative_error(a, b) <= 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
def test_gradcheck_cuda(cuda_kernels):
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(K=4, S=2, H=3, W=3,
                                                                  device='cuda', seed=9)
    assert torch.autograd.gradcheck(
        lambda z, r: agmm_pixel_losses(z, labels, absent, r, mask, slot_class, impl='cuda')[0],
        (logits.requires_grad_(True), resp.requires_grad_(True)))
