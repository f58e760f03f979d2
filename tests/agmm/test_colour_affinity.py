"""The pairwise colour-affinity loss against a direct per-pair formula."""
import math

import pytest
import torch

from wsvision.models.losses import ColourAffinityLoss
from wsvision.models.losses.colour_affinity import neighbours, similar_pairs
from wsvision.structures import PixelData, SegDataSample

P = 255  # padding

OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def sample(labels):
    data = SegDataSample()
    data.gt_weak_seg = PixelData(data=torch.as_tensor(labels)[None])
    return data


def test_neighbours_follow_the_offsets_and_pad_with_zeros():
    x = torch.arange(1, 1 + 2 * 5 * 6, dtype=torch.float64).view(1, 2, 5, 6)
    out = neighbours(x, dilation=2)
    for n, (dy, dx) in enumerate(OFFSETS):
        for y in range(5):
            for x0 in range(6):
                yy, xx = y + 2 * dy, x0 + 2 * dx
                inside = 0 <= yy < 5 and 0 <= xx < 6
                expected = x[0, :, yy, xx] if inside else torch.zeros(2, dtype=x.dtype)
                assert torch.equal(out[0, :, n, y, x0], expected)


def test_similar_pairs_stop_at_colour_edges_and_padding():
    image = torch.zeros(1, 3, 4, 6)
    image[:, :, :, 3:] = 1.0  # two flat halves, an edge between columns 2 and 3
    valid = torch.ones(1, 4, 6, dtype=torch.bool)
    valid[0, :, 5] = False  # the last column is padding
    pairs = similar_pairs(image, valid, dilation=1, sigma=0.1, threshold=0.3)
    right = OFFSETS.index((0, 1))
    assert pairs[0, right, :, 1].all()  # 1 -> 2: same colour
    assert not pairs[0, right, :, 2].any()  # 2 -> 3: across the edge
    assert pairs[0, right, :, 3].all()
    assert not pairs[0, right, :, 4].any()  # 4 -> 5: 5 is padding
    assert not pairs[0, :, :, 5].any()  # padding has no pairs
    assert not pairs[0, right, :, 5].any()


def test_loss_matches_the_direct_formula_on_random_inputs():
    torch.manual_seed(0)
    B, K, H, W = 2, 4, 5, 7
    logits = torch.randn(B, K, H, W, dtype=torch.float64)
    image = torch.rand(B, 3, H, W, dtype=torch.float64)
    labels = torch.zeros(B, H, W, dtype=torch.long)
    labels[1, -1] = P
    sigma, threshold, dilation = 0.3, 0.3, 2
    loss = ColourAffinityLoss(sigma=sigma, threshold=threshold, dilation=dilation,
                              loss_weight=2.0)
    value = loss(seg_logits=logits, data_samples=[sample(lab) for lab in labels],
                 inputs=image)['loss_affinity']
    p = logits.softmax(1)
    total, count = 0.0, 0
    for b in range(B):
        for y in range(H):
            for x in range(W):
                for dy, dx in OFFSETS:
                    yy, xx = y + dilation * dy, x + dilation * dx
                    if not (0 <= yy < H and 0 <= xx < W):
                        continue
                    if labels[b, y, x] == P or labels[b, yy, xx] == P:
                        continue
                    distance = float(((image[b, :, y, x] - image[b, :, yy, xx]) ** 2).sum())
                    if math.exp(-distance / (2 * sigma ** 2)) < threshold:
                        continue
                    total -= math.log(float((p[b, :, y, x] * p[b, :, yy, xx]).sum()))
                    count += 1
    assert count > 10
    assert float(value) == pytest.approx(2.0 * total / count, rel=1e-9)


def test_loss_is_zero_for_confident_agreement_and_log_k_for_uniform():
    image = torch.zeros(1, 3, 6, 6)
    data = [sample(torch.zeros(6, 6, dtype=torch.long))]
    confident = torch.full((1, 3, 6, 6), -30.0)
    confident[:, 1] = 30.0
    loss = ColourAffinityLoss()
    assert float(loss(seg_logits=confident, data_samples=data,
                      inputs=image)['loss_affinity']) == pytest.approx(0.0, abs=1e-6)
    uniform = torch.zeros(1, 3, 6, 6)
    assert float(loss(seg_logits=uniform, data_samples=data,
                      inputs=image)['loss_affinity']) == pytest.approx(math.log(3))


def test_gradcheck_float64():
    torch.manual_seed(1)
    logits = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    image = torch.rand(1, 3, 4, 5, dtype=torch.float64)
    data = [sample(torch.zeros(4, 5, dtype=torch.long))]
    loss = ColourAffinityLoss(sigma=0.5, threshold=0.1, dilation=1)
    assert torch.autograd.gradcheck(
        lambda z: loss(seg_logits=z, data_samples=data, inputs=image)['loss_affinity'],
        (logits,))


def test_without_similar_pairs_the_loss_is_a_connected_zero():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    data = [sample(torch.full((4, 4), P))]
    value = ColourAffinityLoss()(seg_logits=logits, data_samples=data,
                                 inputs=torch.zeros(1, 3, 4, 4))['loss_affinity']
    value.backward()
    assert value.item() == 0 and logits.grad is not None


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match='sigma > 0'):
        ColourAffinityLoss(sigma=0)
    data = [sample(torch.zeros(4, 4, dtype=torch.long))]
    with pytest.raises(ValueError, match='needs the network inputs'):
        ColourAffinityLoss()(seg_logits=torch.zeros(1, 3, 4, 4), data_samples=data)
    with pytest.raises(ValueError, match='differ in batch or size'):
        ColourAffinityLoss()(seg_logits=torch.zeros(1, 3, 4, 4), data_samples=data,
                             inputs=torch.zeros(1, 3, 8, 8))


def test_start_iter_holds_the_term_off_then_counts_it_and_survives_a_reload():
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 6, 6)
    image = torch.rand(2, 3, 6, 6)
    data = [sample(torch.zeros(6, 6, dtype=torch.long)) for _ in range(2)]
    always = ColourAffinityLoss(sigma=0.5, threshold=0.1)
    delayed = ColourAffinityLoss(sigma=0.5, threshold=0.1, start_iter=2)
    assert 'num_iters' not in always.state_dict()

    def value(loss):
        return loss(seg_logits=logits, data_samples=data, inputs=image)['loss_affinity']

    full = value(always)
    assert full > 0
    assert [value(delayed).item() for _ in range(2)] == [0.0, 0.0]
    # Evaluation calls do not count as training iterations.
    delayed.eval()
    assert value(delayed).item() == 0.0
    delayed.train()
    assert torch.allclose(value(delayed), full)
    # A resumed run goes on from the saved count.
    resumed = ColourAffinityLoss(sigma=0.5, threshold=0.1, start_iter=2)
    resumed.load_state_dict(delayed.state_dict())
    assert int(resumed.num_iters) == 3 and torch.allclose(value(resumed), full)
    with pytest.raises(ValueError, match='start_iter >= 0'):
        ColourAffinityLoss(start_iter=-1)
