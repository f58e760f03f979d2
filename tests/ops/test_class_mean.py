"""masked_class_mean: per-image class centres of every implementation."""
import pytest
import torch

from wsvision.ops import masked_class_mean
from wsvision.structures import IGNORE_INDEX, UNLABELLED

from tests.ops.helpers import relative_error


def sparse_labels(B, h, w, K, seed=0):
    """Labels with classes 0..K-1 on about half the pixels, 254/255 elsewhere."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, K, (B, h, w), generator=gen)
    unlabelled = torch.rand(B, h, w, generator=gen) < 0.4
    padding = torch.rand(B, h, w, generator=gen) < 0.1
    labels[unlabelled] = UNLABELLED
    labels[padding] = IGNORE_INDEX
    return labels


def loop_class_mean(feat, labels, K):
    """The reference code's loops over images and classes."""
    B, C = feat.shape[:2]
    means = feat.new_zeros(B, K, C)
    counts = torch.zeros(B, K, dtype=torch.long)
    for b in range(B):
        for k in range(K):
            pixels = feat[b][:, labels[b] == k]  # (C, n)
            counts[b, k] = pixels.shape[1]
            if pixels.shape[1]:
                means[b, k] = pixels.mean(1)
    return means, counts


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_matches_loops_with_absent_classes_and_empty_image(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    K = 6
    feat = torch.randn(3, 4, 7, 9, dtype=torch.float64)
    labels = sparse_labels(3, 7, 9, K - 1)  # class K - 1 never occurs
    labels[2] = UNLABELLED                  # an image with no labelled pixel
    means, counts = masked_class_mean(feat, labels, K, impl=impl)
    expected_means, expected_counts = loop_class_mean(feat, labels, K)
    torch.testing.assert_close(means, expected_means)
    assert torch.equal(counts, expected_counts)
    assert (counts[:, K - 1] == 0).all() and (means[:, K - 1] == 0).all()
    assert (counts[2] == 0).all() and (means[2] == 0).all()


def test_unchecked_labels_skip_values_outside_the_classes():
    feat = torch.tensor([1.0, 2.0, 3.0, 5.0]).view(1, 1, 2, 2)
    labels = torch.tensor([[[0, 7], [0, -3]]])
    with pytest.raises(ValueError, match=r'\[-3, 7\]'):
        masked_class_mean(feat, labels, 2, impl='torch')
    means, counts = masked_class_mean(feat, labels, 2, impl='torch', check_labels=False)
    torch.testing.assert_close(means, torch.tensor([[[2.0], [0.0]]]))
    assert counts.tolist() == [[2, 0]]


def test_hand_computed():
    feat = torch.tensor([[1.0, 2.0], [3.0, 5.0]]).view(1, 1, 2, 2)
    labels = torch.tensor([[[0, 1], [0, 255]]])
    means, counts = masked_class_mean(feat, labels, 3, impl='torch')
    torch.testing.assert_close(means, torch.tensor([[[2.0], [2.0], [0.0]]]))
    assert counts.tolist() == [[2, 1, 0]]


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_gradcheck(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    feat = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    labels = sparse_labels(2, 4, 5, 3, seed=1)
    assert torch.autograd.gradcheck(
        lambda f: masked_class_mean(f, labels, 4, impl=impl)[0], (feat, ))


def test_cpp_matches_reference_float32(cpp_kernels):
    feat = torch.randn(4, 32, 21, 23, requires_grad=True)
    labels = sparse_labels(4, 21, 23, 21, seed=2)
    weights = torch.randn(4, 21, 32)
    results = {}
    for impl in ('torch', 'cpp'):
        means, counts = masked_class_mean(feat, labels, 21, impl=impl)
        grad, = torch.autograd.grad((means * weights).sum(), feat)
        results[impl] = (means, counts, grad)
    assert relative_error(results['cpp'][0], results['torch'][0]) <= 1e-5
    assert torch.equal(results['cpp'][1], results['torch'][1])
    assert relative_error(results['cpp'][2], results['torch'][2]) <= 1e-6


@pytest.mark.parametrize('impl', ['torch', 'cpp'])
def test_non_contiguous_features_and_custom_ignore(request, impl):
    if impl == 'cpp':
        request.getfixturevalue('cpp_kernels')
    feat = torch.randn(2, 6, 5, 3).permute(0, 3, 1, 2)  # (2, 3, 6, 5), channels-last storage
    labels = torch.randint(0, 4, (2, 6, 5))
    labels[0, :2] = 9
    means, counts = masked_class_mean(feat, labels, 3, ignore=(3, 9), impl=impl)
    expected_means, expected_counts = loop_class_mean(feat, labels, 3)
    torch.testing.assert_close(means, expected_means)
    assert torch.equal(counts, expected_counts)
    # A single int is one ignored value.
    means_int, _ = masked_class_mean(feat, labels.clamp(max=3), 3, ignore=3, impl=impl)
    torch.testing.assert_close(means_int, loop_class_mean(feat, labels.clamp(max=3), 3)[0])
    # An ignored value that is also a class id: that class counts no pixel.
    means_id, counts_id = masked_class_mean(feat, labels, 3, ignore=(1, 3, 9), impl=impl)
    without_1 = labels.masked_fill(labels == 1, 9)
    expected_means, expected_counts = loop_class_mean(feat, without_1, 3)
    assert counts_id[:, 1].eq(0).all() and torch.equal(counts_id, expected_counts)
    torch.testing.assert_close(means_id, expected_means)


def test_bad_inputs_raise_clear_errors():
    feat = torch.randn(2, 3, 4, 5)
    labels = torch.zeros(2, 4, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r'labels must have shape \(B, h, w\) = \(2, 4, 5\)'):
        masked_class_mean(feat, torch.zeros(2, 8, 10, dtype=torch.long), 3)
    with pytest.raises(ValueError, match='integer tensor'):
        masked_class_mean(feat, labels.float(), 3)
    labels[1, 0, 0] = 7
    with pytest.raises(ValueError, match=r'values \[7\] that are neither class ids in \[0, 3\)'):
        masked_class_mean(feat, labels, 3)
    with pytest.raises(ValueError, match='num_classes'):
        masked_class_mean(feat, labels, 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
@pytest.mark.parametrize('K', [3, 21, 600])
def test_cuda_matches_reference(cuda_kernels, K):
    feat = torch.randn(3, 40, 33, 35, device='cuda', requires_grad=True)
    labels = sparse_labels(3, 33, 35, K, seed=3).cuda()
    weights = torch.randn(3, K, 40, device='cuda')
    results = {}
    for impl in ('torch', 'cuda'):
        means, counts = masked_class_mean(feat, labels, K, impl=impl)
        grad, = torch.autograd.grad((means * weights).sum(), feat)
        results[impl] = (means, counts, grad)
    assert relative_error(results['cuda'][0], results['torch'][0]) <= 1e-5
    assert torch.equal(results['cuda'][1], results['torch'][1])
    assert relative_error(results['cuda'][2], results['torch'][2]) <= 1e-6
