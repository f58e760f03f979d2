"""The SSL terms on hand-made inputs (methods.md, section 5)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsvision.models.person_search import (ReIDBatch, SSLLoss, exemplar_inputs,
                                           keep_most_similar, retint,
                                           kmeans_box_scales, label_threshold,
                                           multi_label_loss,
                                           scale_invariant_loss,
                                           scene_prior_labels)


def walk_scene_prior(similarity, own_scene, scenes, threshold):
    """The paper's walk, literally: candidates from the most similar down;
    accepting one drops the other persons of its scene; the instance's own
    scene is excluded from the start."""
    labels = np.zeros(len(similarity), dtype=bool)
    excluded = scenes == own_scene
    for j in np.argsort(-similarity, kind='stable'):
        if similarity[j] < threshold or excluded[j]:
            continue
        labels[j] = True
        excluded |= scenes == scenes[j]
    return labels


def test_scene_prior_on_hand_made_similarity():
    # Entries 0, 1 share scene 0; 2, 3, 4 share scene 1; 5 is alone in scene 2.
    scenes = torch.tensor([0, 0, 1, 1, 1, 2])
    similarity = torch.tensor([
        [1.0, 0.9, 0.8, 0.85, 0.2, 0.7],    # instance 0 (scene 0)
        [0.9, 1.0, 0.3, 0.3, 0.3, 0.3],     # instance 1 (scene 0)
        [0.8, 0.3, 1.0, 0.95, 0.9, 0.75]])  # instance 2 (scene 1)
    own_scenes = torch.tensor([0, 0, 1])
    labels = scene_prior_labels(similarity, own_scenes, scenes, threshold=0.65)
    # Row 0: its scene-mate 1 is dropped although 0.9; of scene 1 only the
    # most similar (3, 0.85) survives; 5 is alone in its scene.
    assert labels[0].tolist() == [False, False, False, True, False, True]
    # Row 1: nothing above the threshold outside its own scene.
    assert labels[1].tolist() == [False] * 6
    # Row 2: 3 and 4 share its scene; 0 is the best of scene 0.
    assert labels[2].tolist() == [True, False, False, False, False, True]
    without_prior = scene_prior_labels(similarity, own_scenes, scenes,
                                       threshold=0.65, scene_prior=False)
    assert without_prior[0].tolist() == [True, True, True, True, False, True]
    # Equal to the paper's walk on random matrices.
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        scenes = torch.randint(0, 6, (15, ), generator=generator)
        sim = torch.rand(4, 15, generator=generator)
        own_scenes = torch.randint(0, 6, (4, ), generator=generator)
        labels = scene_prior_labels(sim, own_scenes, scenes, threshold=0.5)
        for row in range(4):
            expected = walk_scene_prior(sim[row].numpy(), int(own_scenes[row]),
                                        scenes.numpy(), 0.5)
            assert labels[row].numpy().tolist() == expected.tolist()


def test_scene_prior_ignores_unwritten_entries():
    labels = scene_prior_labels(torch.tensor([[1.0, 0.9, 0.9]]),
                                torch.tensor([5]), torch.tensor([0, 1, 2]), 0.6,
                                valid=torch.tensor([True, False, True]))
    assert labels[0].tolist() == [True, False, True]


def test_threshold_schedule():
    assert label_threshold(0) == pytest.approx(0.7)
    assert label_threshold(10) == pytest.approx(0.6 + 0.1 * math.exp(-0.5))
    values = [label_threshold(e) for e in range(0, 200, 10)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(0.6, abs=1e-4)


def test_triplet_mines_farthest_positive_and_closest_negative():
    # Persons 0 and 1 share image 0; person 2 is alone in image 1.
    instance = F.normalize(torch.tensor([[1.0, 0, 0], [0, 1.0, 0],
                                         [0, 0, 1.0]]), dim=1)
    exemplars = torch.stack([
        F.normalize(torch.tensor([[1.0, 0.1, 0], [1.0, 1.0, 0], [1.0, 0, 0.2]]), dim=1),
        F.normalize(torch.tensor([[0.1, 1.0, 0], [0.5, 1.0, 0], [0.9, 1.0, 0]]), dim=1),
        F.normalize(torch.tensor([[0, 0, 1.0], [0, 0.1, 1.0], [0.1, 0, 1.0]]), dim=1)])
    image = torch.tensor([0, 0, 1])
    margin, gamma = 0.3, 0.05
    loss = scale_invariant_loss(instance, exemplars, image, margin, gamma)
    dist = lambda a, b: float(torch.dist(a, b))  # noqa: E731
    triplets = []
    for anchor, other in ((0, 1), (1, 0)):
        positive = max(dist(instance[anchor], e) for e in exemplars[anchor])
        negative = min(dist(instance[anchor], e) for e in exemplars[other])
        triplets.append(max(positive - negative + margin, 0.0))
    # Anchor 2 has no other person in its image: no triplet term.
    original = np.mean([dist(instance[i], exemplars[i, 0]) for i in range(3)])
    expected = np.mean(triplets) + gamma * original
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert triplets[0] > 0  # the hard positive (1, 1, 0) is farther than 0.3

    # negatives='batch': the closest exemplar of any other person, so
    # anchor 2 gets a (here zero) triplet term too, which the mean counts.
    image_loss = float(loss)
    batch_triplets = []
    for anchor in range(3):
        positive = max(dist(instance[anchor], e) for e in exemplars[anchor])
        negative = min(dist(instance[anchor], e) for other in range(3)
                       if other != anchor for e in exemplars[other])
        batch_triplets.append(max(positive - negative + margin, 0.0))
    loss = scale_invariant_loss(instance, exemplars, image, margin, gamma,
                                negatives='batch')
    expected = np.mean(batch_triplets) + gamma * original
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert batch_triplets[2] == 0 and float(loss) < image_loss
    with pytest.raises(ValueError, match='triplet negatives must be one of'):
        scale_invariant_loss(instance, exemplars, image, negatives='scene')


def test_kmeans_scales_recover_three_box_sizes():
    rng = np.random.default_rng(0)
    centres = np.array([[10, 20], [30, 25], [50, 60]], dtype=float)
    boxes = np.concatenate([c + rng.normal(0, 1.0, (40, 2)) for c in centres[::-1]])
    scales = kmeans_box_scales(boxes, k=3)
    np.testing.assert_allclose(scales, centres, atol=0.6)
    assert np.array_equal(scales, kmeans_box_scales(boxes, k=3))
    with pytest.raises(ValueError, match='at least 3 boxes'):
        kmeans_box_scales(boxes[:2], k=3)


def test_exemplar_crops_mask_the_background_and_resize():
    inputs = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    boxes = [torch.tensor([[1.0, 2.0, 5.0, 4.0]]), torch.zeros(0, 4)]
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[0, 2:4, 1:3] = True  # the left half of the box is the person
    canvases, crop_boxes = exemplar_inputs(inputs, boxes, [mask, None],
                                           torch.tensor([[2.0, 1.0], [8.0, 4.0]]))
    assert canvases.shape == (3, 3, 32, 32)
    assert crop_boxes.tolist() == [[0, 0, 4, 2], [0, 0, 2, 1], [0, 0, 8, 4]]
    original = canvases[0, :, :2, :4]
    assert torch.equal(original[:, :, :2], inputs[0, :, 2:4, 1:3])
    assert (original[:, :, 2:] == 0).all()  # masked background
    assert (canvases[0, :, 2:] == 0).all() and (canvases[0, :, :, 4:] == 0).all()
    assert (canvases[2, :, :4, 5:8] == 0).all()  # resized keeps the mask
    assert (canvases[2, :, :4, :3] > 0).all()


def test_multi_label_loss_balances_positives_and_hard_negatives():
    logits = torch.tensor([[0.9, 0.5, -0.2, 0.1]])
    labels = torch.tensor([[True, True, False, False]])
    valid = torch.ones(4, dtype=torch.bool)
    loss = multi_label_loss(logits, labels, valid, balance=5.0,
                            hard_negative_ratio=0.25)
    # One hard negative of the 4 entries: 0.1, the most similar negative.
    expected = 5 * ((0.1 ** 2 + 0.5 ** 2) / 2) + 1.1 ** 2
    assert float(loss) == pytest.approx(expected)


def tiny_batch(with_exemplars: bool):
    generator = torch.Generator().manual_seed(0)
    gt = F.normalize(torch.randn(4, 128, generator=generator), dim=1)
    exemplars = F.normalize(gt[:, None] + 0.1 * torch.randn(
        4, 4, 128, generator=generator), dim=2)
    return ReIDBatch(roi_embeds=gt.repeat(2, 1), roi_gt=torch.arange(4).repeat(2),
                     gt_embeds=gt, gt_image=torch.tensor([0, 0, 1, 1]),
                     gt_instance_ids=torch.tensor([4, 5, 9, 10]),
                     exemplar_embeds=exemplars if with_exemplars else None)


def test_ssl_loss_switches():
    full = SSLLoss(128, scales=[[8, 8], [16, 16], [24, 24]])
    losses = full(tiny_batch(True))
    assert set(losses) == {'loss_scale', 'loss_dml'}
    # The first visit only pushes away (nothing is in the memory yet).
    assert float(losses['loss_dml']) == 0.0
    assert full.main_memory.filled.sum() == 4 and full.exemplar_memory.filled.sum() == 4
    # Scenes are named by their smallest instance id.
    assert full.main_memory.tags[[4, 5, 9, 10]].tolist() == [4, 4, 9, 9]
    baseline = SSLLoss(128, multi_label=False, exemplar_branch=False,
                       scale_invariant=False)
    assert set(baseline(tiny_batch(False))) == {'loss_dml'}
    assert len(baseline.exemplar_memory) == 0
    # On the second visit each instance is its own positive: the loss pulls
    # it to its memory entry (here its own feature: (1 - 1)^2 = 0) and
    # pushes off the hardest other entry.
    batch = tiny_batch(False)
    batch.roi_embeds.requires_grad_(True)
    second = baseline(batch)['loss_dml']
    second.backward()  # after the memory update of the same call
    assert batch.roi_embeds.grad.abs().sum() > 0
    memory = baseline.main_memory.features[[4, 5, 9, 10]]
    sim = tiny_batch(False).gt_embeds @ memory.T
    hardest = (sim - 3 * torch.eye(4)).max(dim=1).values
    assert float(second) == pytest.approx(float(((1 + hardest) ** 2).mean()),
                                          rel=1e-4)
    with pytest.raises(ValueError, match='needs exemplar_branch'):
        SSLLoss(128, exemplar_branch=False)
    with pytest.raises(ValueError, match="got 'scene'"):
        SSLLoss(128, triplet_negatives='scene')
    with pytest.raises(RuntimeError, match='no exemplar scales'):
        SSLLoss(128).exemplar_inputs(torch.zeros(1, 3, 8, 8),
                                     [torch.zeros(0, 4)], None)


def test_exemplar_retint_keeps_background_and_bounds_gains():
    mean = torch.tensor([100.0, 120.0, 140.0]).view(3, 1, 1)
    std = torch.tensor([50.0, 50.0, 50.0]).view(3, 1, 1)
    pixels = torch.full((3, 4, 4), 200.0)
    mask = torch.zeros(4, 4)
    mask[:2] = 1
    torch.manual_seed(0)
    out = retint((pixels - mean) / std * mask, mask, 0.5, mean, std)
    assert (out[:, 2:] == 0).all()
    gains = (out[:, :2] * std + mean) / 200.0
    assert ((gains > 0.5) & (gains < 1.5)).all()
    assert torch.allclose(gains, gains[:, :1, :1].expand_as(gains))  # per channel
    assert not torch.allclose(gains[0], gains[1])


def test_dml_warmup_keeps_instance_labels_until_its_epoch():
    batch = tiny_batch(False)
    # Instance 9 (scene 1) is nearly instance 4 (scene 0): a multi-label pair.
    gt = batch.gt_embeds.clone()
    gt[2] = F.normalize(gt[0] + 0.05 * gt[3], dim=0)
    batch = ReIDBatch(roi_embeds=gt.repeat(2, 1), roi_gt=batch.roi_gt,
                      gt_embeds=gt, gt_image=batch.gt_image,
                      gt_instance_ids=batch.gt_instance_ids)

    def second_visit(epoch, **kwargs):
        loss = SSLLoss(128, exemplar_branch=False, scale_invariant=False, **kwargs)
        loss.epoch = epoch
        loss(batch)
        return float(loss(batch)['loss_dml'])

    instance_only = second_visit(0.0, multi_label=False)
    multi_label = second_visit(0.0)
    assert multi_label != pytest.approx(instance_only)  # the pair matters
    assert second_visit(1.5, dml_warmup_epochs=2.0) == pytest.approx(instance_only)
    assert second_visit(2.0, dml_warmup_epochs=2.0) == pytest.approx(multi_label)


def test_keep_most_similar_caps_the_labels():
    labels = torch.tensor([[True, True, False, True], [False, True, False, False],
                           [False, False, False, False]])
    similarity = torch.tensor([[0.9, 0.7, 0.99, 0.8], [0.1, 0.5, 0.9, 0.9],
                               [1.0, 1.0, 1.0, 1.0]])
    kept = keep_most_similar(labels, similarity, 2)
    # Row 0 keeps its two most similar labels (0.9, 0.8), never the 0.99 it
    # did not have; row 1 has one label only; row 2 none.
    assert kept.tolist() == [[True, False, False, True], [False, True, False, False],
                             [False, False, False, False]]
    assert keep_most_similar(labels, similarity, 10).equal(labels)
    with pytest.raises(ValueError, match='k must be positive'):
        keep_most_similar(labels, similarity, 0)
    with pytest.raises(ValueError, match='max_positives'):
        SSLLoss(embed_dim=8, max_positives=0)


def test_fitted_scales_load_into_a_fresh_loss():
    trained = SSLLoss(128)
    trained.set_scales(torch.tensor([[8.0, 9.0], [16.0, 17.0], [24.0, 25.0]]))
    fresh = SSLLoss(128)
    fresh.load_state_dict(trained.state_dict())  # strict: nothing skipped
    assert torch.equal(fresh.scales, trained.scales)
    with pytest.raises(ValueError, match=r'scales must be \(2, 2\)'):
        SSLLoss(128, num_scales=2).load_state_dict(trained.state_dict())
