"""The ops as torch.library operators: schema, fake tensors, autograd and
torch.compile (opcheck), for the PyTorch reference and the compiled kernels."""
import pytest
import torch

from wsvision.ops import agmm_pixel_losses, gmm_log_likelihood, masked_class_mean

from tests.ops.helpers import gmm_inputs
from tests.ops.test_pixel_losses import pixel_inputs

IMPLS = ['torch', 'cpp']


def use_impl(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')


@pytest.mark.parametrize('impl', IMPLS)
@pytest.mark.parametrize('l1', [False, True])
def test_gmm_distance_operators(request, impl, l1):
    use_impl(request, impl)
    feat, means, log_var, _, _ = gmm_inputs(B=2, K=3, C=4, h=3, w=5)
    scale = torch.exp(-log_var)
    for t in (feat, means, scale):
        t.requires_grad_(True)
    torch.library.opcheck(torch.ops.wsvision.gmm_distance.default,
                          (feat, means, scale, l1, impl))
    grad = torch.randn(2, 3, 3, 5, dtype=feat.dtype)
    for need_means, need_scale in ((True, True), (False, False)):
        torch.library.opcheck(torch.ops.wsvision.gmm_distance_backward.default,
                              (grad, feat.detach(), means.detach(), scale.detach(), l1,
                               need_means, need_scale, impl))


@pytest.mark.parametrize('impl', IMPLS)
def test_segment_sum_operators(request, impl):
    use_impl(request, impl)
    feat = torch.randn(2, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    segment = torch.randint(-1, 3, (2, 15), dtype=torch.int32)
    torch.library.opcheck(torch.ops.wsvision.segment_sum.default, (feat, segment, 3, impl))
    torch.library.opcheck(torch.ops.wsvision.segment_sum_backward.default,
                          (torch.randn(2, 3, 4, dtype=torch.float64), segment, 4, impl))


@pytest.mark.parametrize('impl', IMPLS)
def test_pixel_loss_operators(request, impl):
    use_impl(request, impl)
    logits, labels, absent, resp, mask, slot_class = pixel_inputs(K=4, S=2, H=3, W=4)
    logits.requires_grad_(True)
    resp.requires_grad_(True)
    args = (logits, labels, absent, resp, mask, slot_class, 1e-6, impl)
    torch.library.opcheck(torch.ops.wsvision.agmm_pixel_losses.default, args)
    grad = torch.randn(4, dtype=torch.float64)
    torch.library.opcheck(torch.ops.wsvision.agmm_pixel_losses_backward.default,
                          (grad, *(t.detach() for t in args[:6]), 1e-6, impl))


@pytest.mark.parametrize('impl', IMPLS)
def test_ops_compile_without_graph_breaks(request, impl):
    """One graph for centres, responses and pixel losses, forward and backward,
    equal to the eager result."""
    use_impl(request, impl)
    feat = torch.randn(2, 6, 5, 5, dtype=torch.float64, requires_grad=True)
    cell_labels = torch.randint(0, 3, (2, 5, 5))
    logits = torch.randn(2, 3, 10, 10, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (2, 10, 10))
    absent = torch.tensor([[False, False, True], [True, False, False]])

    def loss(feat, logits):
        means, _ = masked_class_mean(feat, cell_labels, 3, impl=impl, check_labels=False)
        resp = gmm_log_likelihood(feat, means, dist='l1_mean', impl=impl).exp()
        resp = torch.nn.functional.interpolate(resp, size=(10, 10), mode='bilinear')
        mask = torch.ones_like(resp, dtype=torch.bool)
        slots = torch.arange(3).expand(2, 3)
        sums, counts = agmm_pixel_losses(logits, labels, absent, resp, mask, slots, impl=impl)
        return (sums / counts.clamp(min=1)).sum()

    explained = torch._dynamo.explain(loss)(feat, logits)
    assert explained.graph_count == 1 and explained.graph_break_count == 0, \
        explained.break_reasons
    torch._dynamo.reset()
    expected = loss(feat, logits)
    expected_grads = torch.autograd.grad(expected, (feat, logits))
    compiled = torch.compile(loss, backend='aot_eager', fullgraph=True)
    got = compiled(feat, logits)
    torch.testing.assert_close(got, expected)
    for a, b in zip(torch.autograd.grad(got, (feat, logits)), expected_grads):
        torch.testing.assert_close(a, b)
