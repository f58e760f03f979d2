"""WSCoL's terms against hand-made inputs and direct formulas."""
import math

import pytest
import torch
import torch.nn.functional as F

from wsvision.models.detectors.wscol import (MappingNetwork, PrototypeMemory,
                                             adaptation_weight,
                                             gradient_discrepancy,
                                             nms_count_variance,
                                             prototype_clustering,
                                             supervised_contrastive_loss)


# ------------------------------------------------ background uncertainty
def clustered_proposals():
    """Three objects, each under a pile of 15 jittered boxes: NMS keeps more
    of a pile the looser its IoU threshold."""
    generator = torch.Generator().manual_seed(0)
    boxes = []
    for x, y in ((10, 10), (60, 15), (30, 60)):
        base = torch.tensor([x, y, x + 30, y + 30], dtype=torch.float32)
        pile = base + torch.randn(15, 4, generator=generator) * 8
        pile[:, 2:] = torch.maximum(pile[:, 2:], pile[:, :2] + 4)
        boxes.append(pile)
    boxes = torch.cat(boxes)
    return boxes, torch.linspace(0.99, 0.6, len(boxes))


def scattered_proposals():
    """20 disjoint boxes on a grid: every NMS keeps all of them."""
    boxes = torch.tensor([[x, y, x + 8, y + 8] for x in range(0, 100, 20)
                          for y in range(0, 80, 20)], dtype=torch.float32)
    return boxes, torch.linspace(0.99, 0.6, len(boxes))


def test_clustered_proposals_are_uncertain_scattered_ones_are_not():
    clustered = nms_count_variance(*clustered_proposals())
    scattered = nms_count_variance(*scattered_proposals())
    assert scattered == 0.0
    assert clustered > 20.0  # the threshold at which the contrast drops background


def test_uncertainty_is_the_variance_of_nms_keep_counts():
    from torchvision.ops import nms
    boxes, scores = clustered_proposals()
    scores[::3] = 0.3  # below the objectness threshold: not counted
    kept = scores > 0.5
    counts = torch.tensor([float(len(nms(boxes[kept], scores[kept], iou)))
                           for iou in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)])
    expected = ((counts - counts.mean()) ** 2).mean().item()
    assert nms_count_variance(boxes, scores) == pytest.approx(expected)
    assert counts[0] < counts[-1]


# --------------------------------------------------------- contrastive loss
def direct_supcon(feats, labels, temperature, hard):
    """Khosla et al. written anchor by anchor, positive by positive."""
    total, anchors = 0.0, 0
    for i in range(len(feats)):
        others = [a for a in range(len(feats)) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            continue
        sims = {a: float(feats[i] @ feats[a]) / temperature for a in others}
        log_denominator = math.log(sum(math.exp(s) for s in sims.values()))
        if hard:
            raw = [math.exp(-sims[p]) for p in positives]
            weights = [r / sum(raw) for r in raw]
        else:
            weights = [1 / len(positives)] * len(positives)
        total += -sum(w * (sims[p] - log_denominator)
                      for w, p in zip(weights, positives))
        anchors += 1
    return total / anchors


@pytest.mark.parametrize('hard', [False, True])
def test_contrastive_loss_matches_the_direct_formula(hard):
    generator = torch.Generator().manual_seed(1)
    feats = F.normalize(torch.randn(9, 5, generator=generator, dtype=torch.float64), dim=1)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 1, 2])  # class 3 has one member
    loss = supervised_contrastive_loss(feats, labels, 0.07, hard_positives=hard)
    assert loss.item() == pytest.approx(direct_supcon(feats, labels, 0.07, hard),
                                        rel=1e-9)


def test_contrastive_loss_prefers_grouped_classes_and_has_no_anchor_case():
    labels = torch.tensor([0, 0, 1, 1])
    grouped = F.normalize(torch.tensor([[1., 0.1], [1., -0.1], [-1., 0.1],
                                        [-1., -0.1]]), dim=1)
    mixed = grouped[[0, 2, 1, 3]]
    assert supervised_contrastive_loss(grouped, labels) < \
        supervised_contrastive_loss(mixed, labels)
    lonely = supervised_contrastive_loss(grouped, torch.arange(4))
    assert lonely.item() == 0.0


# ------------------------------------------------------- prototypes (EMA)
def test_prototypes_follow_the_memory_mean_by_ema():
    memory = PrototypeMemory(num_classes=3, dim=2, size=4, momentum=0.4)
    memory.update(torch.tensor([[1., 0.], [3., 0.]]), torch.tensor([0, 0]))
    assert torch.allclose(memory.prototypes[0], torch.tensor([2., 0.]))
    assert memory.initialised.tolist() == [True, False, False]
    memory.update(torch.tensor([[0., 6.]]), torch.tensor([0]))
    bank_mean = torch.tensor([4., 6.]) / 3
    expected = 0.4 * torch.tensor([2., 0.]) + 0.6 * bank_mean
    assert torch.allclose(memory.prototypes[0], expected)
    # A class that received nothing keeps a zero, uninitialised prototype.
    assert memory.prototypes[1:].abs().sum() == 0
    memory.update(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))
    expected = 0.4 * expected + 0.6 * bank_mean
    assert torch.allclose(memory.prototypes[0], expected)


def test_prototype_momentum_is_checked():
    with pytest.raises(ValueError, match='momentum'):
        PrototypeMemory(2, 4, 8, momentum=1.0)


# --------------------------------------------------------------- clustering
def test_prototype_seeded_clustering_recovers_separable_groups():
    generator = torch.Generator().manual_seed(2)
    centres = torch.eye(4)[:3] * 5
    feats = torch.cat([c + torch.randn(10, 4, generator=generator) * 0.5
                       for c in centres])
    feats = F.normalize(feats, dim=1)
    truth = torch.arange(3).repeat_interleave(10)
    # Seeds off-centre (but nearest to their own group), plus a class the
    # memory never saw: it must not take points.
    seeds = torch.cat([F.normalize(centres + 2.0, dim=1), torch.ones(1, 4)])
    valid = torch.tensor([True, True, True, False])
    similarity, moved = prototype_clustering(feats, seeds, valid, num_steps=4)
    assert torch.equal(similarity.argmax(1), truth)
    assert torch.isinf(similarity[:, 3]).all()
    for cls in range(3):  # the centres moved onto their groups' means
        group_mean = F.normalize(feats[truth == cls].mean(0), dim=0)
        assert torch.allclose(moved[cls], group_mean, atol=1e-6)
    with pytest.raises(ValueError, match='valid prototype'):
        prototype_clustering(feats, seeds, torch.zeros(4, dtype=torch.bool))


def test_adaptation_weight_grows_with_iterations():
    weights = [adaptation_weight(step, 100, 0.5) for step in (0, 50, 100, 400)]
    assert weights == [0.0, 0.25, 0.5, 0.5]


# ------------------------------------------------ mapping + gradient discrepancy
def test_mapping_network_embeds_on_the_unit_sphere():
    mapping = MappingNetwork(8, roi_size=7, conv_channels=4, fc_dim=16, out_dim=6)
    emb = mapping(torch.randn(5, 8, 7, 7))
    assert emb.shape == (5, 6)
    assert torch.allclose(emb.norm(dim=1), torch.ones(5), atol=1e-6)


def test_gradient_discrepancy_is_one_minus_gradient_cosine():
    weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    same = gradient_discrepancy((weight ** 2).sum(), (2 * weight ** 2).sum(), [weight])
    assert same.item() == pytest.approx(0.0, abs=1e-6)
    opposite = gradient_discrepancy(weight.sum(), -weight.sum(), [weight])
    assert opposite.item() == pytest.approx(2.0)
    # It is differentiable: the second-order term reaches the parameters.
    gradient_discrepancy((weight ** 2).sum(), (weight ** 3).sum(), [weight]).backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
