"""Each AGMM / AGMM++ term against a small example computed by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from wsvision.models.losses.agmm import (AGMMLoss, ClassSlots, OnlineGaussianMixture,
                                         Regions, box_candidates, box_regions, feature_labels,
                                         fill_assignment, image_class_loss, separation_loss)
from wsvision.structures import InstanceData, PixelData, SegDataSample

U, P = 254, 255  # unlabelled, padding


def sample(labels, tags=None, boxes=None, box_labels=None):
    """A SegDataSample with a (H, W) weak label map, optional tags and boxes."""
    data = SegDataSample()
    data.gt_weak_seg = PixelData(data=torch.as_tensor(labels)[None])
    if tags is not None:
        data.gt_tags = torch.as_tensor(tags, dtype=torch.float32)
    if boxes is not None:
        data.gt_instances = InstanceData(bboxes=torch.as_tensor(boxes, dtype=torch.float32),
                                         labels=torch.as_tensor(box_labels))
    return data


def test_feature_labels_keep_single_clicks_and_padding_apart():
    labels = torch.tensor([[[0, U, 1, 1],
                            [U, U, 2, 1],
                            [U, U, P, P],
                            [P, P, P, P]]])
    # Cells: a lone click survives; majority vote; unlabelled; all padding.
    assert feature_labels(labels, (2, 2), 3).tolist() == [[[0, 1], [U, P]]]


@pytest.mark.parametrize('value', [7, -3, 300])
def test_feature_labels_reject_unknown_values(value):
    with pytest.raises(ValueError, match=rf'\[{value}\]'):
        feature_labels(torch.tensor([[[0, value, U, P]]]), (1, 1), 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
def test_feature_labels_on_the_gpu_match_the_cpu():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 21, (4, 321, 321), generator=gen)
    labels[torch.rand(labels.shape, generator=gen) < 0.9] = U
    labels[:, :, 250:] = P
    for size in ((81, 81), (41, 41), (7, 7)):
        expected = feature_labels(labels, size, 21)
        assert torch.equal(feature_labels(labels.cuda(), size, 21).cpu(), expected)


def test_separation_loss_pairs_of_present_classes():
    means = torch.tensor([[[0., 0.], [1., 0.], [2., 2.]]])
    # d(mu0, mu1) = mean(|1|, |0|) = 0.5; d(mu0, mu2) = 2; d(mu1, mu2) = 1.5.
    only_01 = separation_loss(means, torch.tensor([[True, True, False]]))
    assert only_01.item() == pytest.approx(math.exp(-0.25), rel=1e-6)
    all_pairs = separation_loss(means, torch.tensor([[True, True, True]]))
    expected = (math.exp(-0.25) + math.exp(-4) + math.exp(-2.25)) / 3
    assert all_pairs.item() == pytest.approx(expected, rel=1e-6)
    assert separation_loss(means, torch.tensor([[True, False, False]])).item() == 0


def test_image_class_loss_pools_logits_over_valid_pixels():
    logits = torch.tensor([[2., 0., 9.], [-1., -3., 9.]]).view(1, 2, 1, 3)
    valid = torch.tensor([[[True, True, False]]])
    # Scores: class 0 mean(2, 0) = 1 (positive), class 1 mean(-1, -3) = -2 (negative).
    loss = image_class_loss(logits, torch.tensor([[True, False]]), torch.tensor([[False, True]]),
                            valid)
    expected = (math.log1p(math.exp(-1)) + math.log1p(math.exp(-2))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # A class in neither set (tagged, but maybe cropped out) is not supervised.
    only_pos = image_class_loss(logits, torch.tensor([[True, False]]),
                                torch.tensor([[False, False]]), valid)
    assert only_pos.item() == pytest.approx(math.log1p(math.exp(-1)), rel=1e-6)


def test_image_class_loss_top_k_pooling():
    logits = torch.tensor([[2., 0., 9., 5.], [-1., -3., 9., -5.]]).view(1, 2, 1, 4)
    valid = torch.tensor([[[True, True, False, True]]])
    # ceil(0.5 * 3 valid pixels) = 2 per class: class 0 mean(5, 2) = 3.5,
    # class 1 mean(-1, -3) = -2; the padded 9s never count.
    loss = image_class_loss(logits, torch.tensor([[True, False]]), torch.tensor([[False, True]]),
                            valid, pool_ratio=0.5)
    expected = (math.log1p(math.exp(-3.5)) + math.log1p(math.exp(-2))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # A tiny ratio still takes one pixel: the largest.
    tiny = image_class_loss(logits, torch.tensor([[True, False]]),
                            torch.tensor([[False, False]]), valid, pool_ratio=1e-3)
    assert tiny.item() == pytest.approx(math.log1p(math.exp(-5)), rel=1e-6)
    # An all-padding image scores 0 (BCE log 2), as with average pooling.
    none_valid = torch.zeros_like(valid)
    for ratio in (0.5, 1.0):
        padded = image_class_loss(logits, torch.tensor([[True, False]]),
                                  torch.tensor([[False, True]]), none_valid, pool_ratio=ratio)
        assert padded.item() == pytest.approx(math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match='pool_ratio'):
        image_class_loss(logits, torch.tensor([[True, False]]), torch.tensor([[False, True]]),
                         valid, pool_ratio=0)


def test_box_candidates_on_feature_cells():
    # 8 x 8 input, 2 x 2 feature cells of 4 x 4 pixels; x2, y2 exclusive.
    boxed_sample = sample(torch.zeros(8, 8, dtype=torch.long),
                          boxes=[[0, 0, 3, 3], [5, 5, 8, 8], [3, 0, 5, 2]], box_labels=[1, 2, 1])
    plain_sample = sample(torch.zeros(8, 8, dtype=torch.long))
    regions = box_regions([boxed_sample, plain_sample], 4, (2, 2), (8, 8), 0.5, 'cpu')
    assert regions.image.tolist() == [0, 0, 0] and regions.label.tolist() == [1, 2, 1]
    assert regions.cells[2].tolist() == [[True, True], [False, False]]
    assert regions.fill.tolist() == [0.5] * 3
    candidates, boxed = box_candidates(regions, 2, 4, 0)
    assert candidates[0, 0].all()  # background is a candidate everywhere
    assert candidates[0, 1].tolist() == [[True, True], [False, False]]
    assert candidates[0, 2].tolist() == [[False, False], [False, True]]
    assert not candidates[0, 3].any()
    assert candidates[1].all()  # no boxes: no restriction
    assert boxed.tolist() == [[False, True, True, False], [False] * 4]


def cvpr_example():
    """1 x 6 image, K = 2, C = 1 feature at the label resolution.

    labels 0 0 1 1 U P with features 0 1 2 3 1.5 9: centres mu0 = 0.5, mu1 = 2.5.
    """
    labels = torch.tensor([[0, 0, 1, 1, U, P]])
    feat = torch.tensor([0., 1., 2., 3., 1.5, 9.]).view(1, 1, 1, 6)
    logits = torch.zeros(1, 2, 1, 6)  # p = 0.5 for both classes
    return logits, feat, [sample(labels)]


def test_reference_mode_terms_by_hand():
    logits, feat, samples = cvpr_example()
    terms = AGMMLoss(num_classes=2, feat_channels=1, reference_mode=True)(
        seg_logits=logits, feat=feat, data_samples=samples)
    assert set(terms) == {'loss_ce', 'loss_sep', 'loss_sbce', 'loss_label', 'loss_absent'}
    assert terms['loss_ce'].item() == pytest.approx(math.log(2), rel=1e-6)
    # r_k = exp(-d^2): d^2 to (mu0, mu1) per valid pixel is
    # (.25, 6.25), (.25, 2.25), (2.25, .25), (6.25, .25), (1, 1); padding is left out.
    sq_dists = [.25, 6.25, .25, 2.25, 2.25, .25, 6.25, .25, 1, 1]

    def bce_pair(sq_dist):  # BCE(p=0.5, r) + BCE(r, p=0.5)
        return math.log(2) + 0.5 * sq_dist - 0.5 * math.log(1 - math.exp(-sq_dist))
    expected_sbce = sum(bce_pair(d) for d in sq_dists) / 10
    assert terms['loss_sbce'].item() == pytest.approx(expected_sbce, rel=1e-5)
    # Labelled pixels only: -log r for the label, -log(1 - r) for the other class.
    labelled = [(.25, 6.25), (.25, 2.25), (.25, 2.25), (.25, 6.25)]
    expected_label = sum(own - math.log(1 - math.exp(-other))
                         for own, other in labelled) / 8
    assert terms['loss_label'].item() == pytest.approx(expected_label, rel=1e-5)
    assert terms['loss_sep'].item() == pytest.approx(math.exp(-4), rel=1e-5)
    assert terms['loss_absent'].item() == 0  # no tags: the crop's classes, none absent


def test_loss_weights_scale_terms_and_unknown_terms_fail():
    logits, feat, samples = cvpr_example()
    loss = AGMMLoss(2, 1, reference_mode=True, loss_weights=dict(loss_ce=3.0))
    terms = loss(seg_logits=logits, feat=feat, data_samples=samples)
    assert terms['loss_ce'].item() == pytest.approx(3 * math.log(2), rel=1e-6)
    with pytest.raises(ValueError, match='loss_max'):
        AGMMLoss(2, 1, reference_mode=True, loss_weights=dict(loss_max=1.0))


def test_terms_of_weight_zero_are_skipped_and_others_unchanged():
    logits, feat, samples = cvpr_example()
    full = AGMMLoss(2, 1, reference_mode=True)(seg_logits=logits, feat=feat,
                                               data_samples=samples)
    loss = AGMMLoss(2, 1, reference_mode=True, loss_weights=dict(loss_sbce=0.0, loss_sep=0.0))
    terms = loss(seg_logits=logits, feat=feat, data_samples=samples)
    assert terms['loss_sbce'].item() == 0 and terms['loss_sep'].item() == 0
    assert terms['loss_label'].item() == pytest.approx(full['loss_label'].item())


def test_feature_width_mismatch_names_the_setting():
    logits, feat, samples = cvpr_example()
    with pytest.raises(ValueError, match='feat_channels'):
        AGMMLoss(2, 8)(seg_logits=logits, feat=feat, data_samples=samples)


def test_online_mixture_ema_by_hand():
    mixture = OnlineGaussianMixture(num_classes=2, channels=1, momentum=0.5, min_var=0.01)
    feat = torch.tensor([1., 3., 5., 7.]).view(1, 1, 1, 4)
    mixture.update(feat, torch.tensor([[[0, 0, 1, U]]]))
    # First sighting takes the batch estimate: class 0 {1, 3}, class 1 {5}.
    assert mixture.mean[:, 0].tolist() == pytest.approx([2, 5])
    assert mixture.var[:, 0].tolist() == pytest.approx([1, 0.01])  # 0 floored
    assert mixture.weight.tolist() == pytest.approx([0.5 * 0.5 + 0.5 * 2 / 3,
                                                     0.5 * 0.5 + 0.5 * 1 / 3])
    mixture.update(torch.tensor([6., 100.]).view(1, 1, 1, 2), torch.tensor([[[0, P]]]))
    # EMA for class 0 (batch {6}: mean 6, var 0 -> 0.01); class 1 unseen, kept.
    assert mixture.mean[:, 0].tolist() == pytest.approx([4, 5])
    assert mixture.var[:, 0].tolist() == pytest.approx([0.505, 0.01])
    assert mixture.weight.tolist() == pytest.approx([0.5 * (0.25 + 1 / 3) + 0.5,
                                                     0.5 * (0.25 + 1 / 6)])
    assert mixture.initialised.tolist() == [True, True]
    assert int(mixture.num_updates) == 2


def set_mixture(loss, means, var=1.0):
    mixture = loss.mixture
    mixture.mean.copy_(torch.as_tensor(means, dtype=torch.float32).view(-1, 1))
    mixture.var.fill_(var)
    mixture.initialised.fill_(True)


def agmm_plus(**kwargs):
    options = dict(num_classes=2, feat_channels=1, momentum=0.5, warmup_iters=0)
    options.update(kwargs)
    return AGMMLoss(**options)


def test_maximisation_loss_by_hand():
    loss = agmm_plus()
    set_mixture(loss, [0., 4.])
    # One labelled pixel of class 0 at f = 1: log N = -1/2 (f - mu)^2 -> -0.5, -4.5.
    terms = loss(seg_logits=torch.zeros(1, 2, 1, 1), feat=torch.ones(1, 1, 1, 1),
                 data_samples=[sample(torch.tensor([[0]]), tags=[1, 1])])
    assert terms['loss_max'].item() == pytest.approx(math.log1p(math.exp(-4)), rel=1e-5)
    # The temperature divides the log-likelihoods.
    loss = agmm_plus(temperature=2.0)
    set_mixture(loss, [0., 4.])
    terms = loss(seg_logits=torch.zeros(1, 2, 1, 1), feat=torch.ones(1, 1, 1, 1),
                 data_samples=[sample(torch.tensor([[0]]), tags=[1, 1])])
    assert terms['loss_max'].item() == pytest.approx(math.log1p(math.exp(-2)), rel=1e-5)


@pytest.mark.parametrize('temperature,pseudo_labelled', [(1.0, True), (2.0, False)])
def test_confident_pseudo_labels_join_the_m_step(temperature, pseudo_labelled):
    # Unlabelled f = 1 between running centres 0 and 4: posterior of class 0 is
    # 1 / (1 + e^-4) = 0.982 at T = 1 (>= 0.95), 1 / (1 + e^-2) = 0.881 at T = 2.
    # The padding pixel (f = 0.5) never gets a pseudo-label.
    loss = agmm_plus(temperature=temperature, threshold=0.95)
    set_mixture(loss, [0., 4.])
    logits = torch.tensor([[0., 0.], [0., 0.]]).view(1, 2, 1, 2)
    terms = loss(seg_logits=logits, feat=torch.tensor([1., 0.5]).view(1, 1, 1, 2),
                 data_samples=[sample(torch.tensor([[U, P]]), tags=[1, 1])])
    expected_mean = 0.5 * 0 + 0.5 * 1 if pseudo_labelled else 0.0
    assert loss.mixture.mean[0, 0].item() == pytest.approx(expected_mean)
    assert loss.mixture.mean[1, 0].item() == pytest.approx(4.0)
    # The pseudo-label supervises the network: CE of p = (0.5, 0.5) is log 2.
    assert terms['loss_pseudo'].item() == pytest.approx(math.log(2) if pseudo_labelled else 0)


def test_boxes_restrict_the_posterior_to_background_and_box_class():
    # K = 3; one 2 x 2 image, feature cells = pixels. Box of class 2 covers the
    # right column; the left column is outside (labelled background).
    loss = agmm_plus(num_classes=3, threshold=0.5)
    set_mixture(loss, [0., 5., 4.])
    labels = torch.tensor([[0, U], [0, U]])
    feat = torch.tensor([[0., 4.9], [0., 4.9]]).view(1, 1, 2, 2)
    data = sample(labels, tags=[1, 0, 1], boxes=[[1, 0, 2, 2]], box_labels=[2])
    loss(seg_logits=torch.zeros(1, 3, 2, 2), feat=feat, data_samples=[data])
    # f = 4.9 is nearest to class 1 (mu = 5), which is not a candidate: the
    # pixels inside the box go to class 2, and class 1 is untouched.
    assert loss.mixture.mean[:, 0].tolist() == pytest.approx([0.0, 5.0, 0.5 * 4 + 0.5 * 4.9])


def test_cam_prior_seeds_uninitialised_classes():
    # No mixture yet: with prior_weight = 1 the posterior is the network's
    # probabilities over the tagged classes {0, 2}: p = (0.2, 0.7, 0.1) ->
    # (2/3, 1/3), confident at threshold 0.6, so the pixel seeds class 0.
    loss = agmm_plus(num_classes=3, threshold=0.6, prior_weight=1.0)
    logits = torch.tensor([0.2, 0.7, 0.1]).log().view(1, 3, 1, 1)
    loss(seg_logits=logits, feat=torch.full((1, 1, 1, 1), 3.0),
         data_samples=[sample(torch.tensor([[U]]), tags=[1, 0, 1])])
    assert loss.mixture.initialised.tolist() == [True, False, False]
    assert loss.mixture.mean[0, 0].item() == pytest.approx(3.0)


def test_unmodelled_box_class_starts_from_its_box():
    # Class 2 has no component yet: the cells inside its box (f = 4 and 6)
    # start it; the cells outside are labelled background.
    loss = agmm_plus(num_classes=3)
    labels = torch.tensor([[0, 0, U, U]])
    feat = torch.tensor([0., 0., 4., 6.]).view(1, 1, 1, 4)
    data = sample(labels, tags=[1, 0, 1], boxes=[[2, 0, 4, 1]], box_labels=[2])
    loss(seg_logits=torch.zeros(1, 3, 1, 4), feat=feat, data_samples=[data])
    assert loss.mixture.initialised.tolist() == [True, False, True]
    assert loss.mixture.mean[:, 0].tolist() == pytest.approx([0.0, 0.0, 5.0])


def test_fill_assignment_takes_the_most_probable_cells_of_each_region():
    # One image, K = 3, a 1 x 4 grid. Region A (class 1, fill 0.5) covers all
    # four cells: ceil(0.5 * 4) = 2 cells, the two most probable for class 1
    # (posterior 0.9 and 0.6). Region B (class 2, fill 0.3) covers cells 2-3:
    # ceil(0.3 * 2) = 1 cell, cell 3 (0.7); cell 3 is class 1's too, with
    # 0.6 < 0.7, so class 2 keeps it. A region of fill 0 picks nothing.
    posterior = torch.tensor([[[0.1, 0.3, 0.8, 0.1],
                               [0.9, 0.2, 0.1, 0.6],
                               [0.0, 0.5, 0.1, 0.7]]])[..., None, :]
    cells = torch.tensor([[True] * 4, [False, False, True, True], [True] * 4])[:, None]
    regions = Regions(torch.tensor([0, 0, 0]), torch.tensor([1, 2, 0]), cells,
                      torch.tensor([0.5, 0.3, 0.0]))
    assert fill_assignment(posterior, regions).tolist() == [[[1, U, U, 2]]]
    # Ties are all taken: a uniform posterior fills the whole region (and
    # where two regions tie, the lower class id keeps the cell).
    uniform = torch.full((1, 3, 1, 4), 1 / 3)
    assert fill_assignment(uniform, regions).tolist() == [[[1, 1, 1, 1]]]
    regions = regions._replace(cells=regions.cells[[1, 0, 2]], label=torch.tensor([2, 1, 0]))
    assert fill_assignment(uniform, regions).tolist() == [[[1, 1, 1, 1]]]


def test_box_fill_overrides_a_confident_background():
    # K = 2; a box of class 1 over the four cells of a 1 x 4 crop whose
    # running mixture calls every cell background (f = 0, 1, 2, 3 against
    # centres 0 and 10): the fill prior still gives the box class the
    # ceil(0.5 * 4) = 2 cells least like background (f = 2, 3), and they
    # update class 1's centre; without it (fill 0) only background would.
    for fill, class1_mean in [(0.5, 0.5 * 10 + 0.5 * 2.5), (0.0, 10.0)]:
        loss = agmm_plus(num_classes=2, threshold=0.9, fill_ratio=dict(box=fill))
        set_mixture(loss, [0., 10.], var=4.0)
        labels = torch.full((1, 4), U)
        feat = torch.tensor([0., 1., 2., 3.]).view(1, 1, 1, 4)
        data = sample(labels, tags=[1, 1], boxes=[[0, 0, 4, 1]], box_labels=[1])
        terms = loss(seg_logits=torch.zeros(1, 2, 1, 4), feat=feat, data_samples=[data])
        assert loss.mixture.mean[1, 0].item() == pytest.approx(class1_mean)
        assert terms['loss_pseudo'].item() == pytest.approx(math.log(2))


def test_box_fill_of_the_pseudo_labels_is_at_pixel_resolution():
    # A 1 x 4 input, two feature cells of 2 pixels (f = 2 and 6, running
    # centres 0 and 10). The box of class 1 spans pixels 0-2. Its pixels are
    # ranked by the upsampled posterior: the ceil(0.5 * 3) = 2 most probable
    # for class 1 are pixels 2 and 1. (On the cells, the box's best cell
    # would also label pixel 3, outside the box.) At threshold 1 nothing
    # is confident, so only the fill prior's pixels are pseudo-labelled.
    loss = agmm_plus(num_classes=2, threshold=1.0)
    set_mixture(loss, [0., 10.], var=4.0)
    logits = torch.tensor([[0., 0., 0., 0.], [0., 1., 2., 3.]]).view(1, 2, 1, 4)
    data = sample(torch.full((1, 4), U), tags=[1, 1], boxes=[[0, 0, 3, 1]], box_labels=[1])
    terms = loss(seg_logits=logits, feat=torch.tensor([2., 6.]).view(1, 1, 1, 2),
                 data_samples=[data])
    expected = (math.log1p(math.exp(-1)) + math.log1p(math.exp(-2))) / 2
    assert terms['loss_pseudo'].item() == pytest.approx(expected, rel=1e-5)


def test_tag_fill_seeds_each_tagged_class_and_background_from_cams():
    # Tags only (no labelled pixel), no mixture yet. The CAMs are the
    # logits: class 1 takes the ceil(0.25 * 4) = 1 cell of its highest
    # logit (cell 2), background the ceil(0.5 * 4) = 2 cells where the
    # tagged object's CAM is lowest (cells 0 and 1). Class 2 is not tagged,
    # so its high logit in cell 3 seeds nothing.
    loss = agmm_plus(num_classes=3, threshold=0.99,
                     fill_ratio=dict(tag=0.25, background=0.5))
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0],
                           [-2.0, -1.0, 3.0, 2.0],
                           [0.0, 0.0, 0.0, 9.0]]).view(1, 3, 1, 4)
    feat = torch.tensor([0., 1., 5., 7.]).view(1, 1, 1, 4)
    data = sample(torch.full((1, 4), U), tags=[1, 1, 0])
    terms = loss(seg_logits=logits, feat=feat, data_samples=[data])
    assert loss.mixture.initialised.tolist() == [True, True, False]
    assert loss.mixture.mean[:, 0].tolist() == pytest.approx([0.5, 5.0, 0.0])
    # The seeds supervise the network: CE at cells 0, 1 (class 0) and 2 (class 1).
    log_p = logits.log_softmax(1)[0, :, 0]
    expected = -(log_p[0, 0] + log_p[0, 1] + log_p[1, 2]) / 3
    assert terms['loss_pseudo'].item() == pytest.approx(expected.item(), rel=1e-5)


def test_cam_head_seeds_tags_and_learns_from_the_image_tags_alone():
    # As above, but the CAMs come from a 1x1 head on the features: its class-1
    # map is -feat = [0, -1, -5, -7], so class 1 now takes cell 0 and
    # background cells 3 and 2, whatever the logits say.
    loss = agmm_plus(num_classes=3, threshold=0.99, cam_head=True,
                     fill_ratio=dict(tag=0.25, background=0.5))
    with torch.no_grad():
        loss.cam_head.weight.copy_(torch.tensor([0., -1., 0.]).view(3, 1, 1, 1))
        loss.cam_head.bias.zero_()
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0],
                           [-2.0, -1.0, 3.0, 2.0],
                           [0.0, 0.0, 0.0, 9.0]]).view(1, 3, 1, 4).requires_grad_()
    feat = torch.tensor([0., 1., 5., 7.]).view(1, 1, 1, 4)
    data = sample(torch.full((1, 4), U), tags=[1, 1, 0])
    terms = loss(seg_logits=logits, feat=feat, data_samples=[data])
    log_p = logits.detach().log_softmax(1)[0, :, 0]
    expected = -(log_p[0, 3] + log_p[0, 2] + log_p[1, 0]) / 3
    assert terms['loss_pseudo'].item() == pytest.approx(expected.item(), rel=1e-5)
    # Term 10 scores the head's maps (mean over the 4 cells): [0, -3.25, 0];
    # background and class 1 are tagged, class 2 is absent.
    scores = torch.tensor([0.0, -3.25, 0.0])
    expected_cls = F.binary_cross_entropy_with_logits(scores, torch.tensor([1., 1., 0.]))
    assert terms['loss_cls'].item() == pytest.approx(expected_cls.item(), rel=1e-5)
    # ... and trains the head, not the segmentation logits.
    terms['loss_cls'].backward()
    assert logits.grad is None or not logits.grad.any()
    assert loss.cam_head.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='cam_head'):
        AGMMLoss(num_classes=3, feat_channels=1, reference_mode=True, cam_head=True)


def test_pseudo_label_ramp_starts_after_warmup_start():
    loss = agmm_plus(warmup_iters=4, warmup_start=10)
    assert [loss._ramp(i) for i in (0, 9, 10, 12, 14, 100)] == [0, 0, 0, 0.5, 1, 1]
    assert [agmm_plus(warmup_start=3)._ramp(i) for i in (2, 3)] == [0, 1]


def test_fill_ratio_rejects_unknown_kinds_and_bad_values():
    with pytest.raises(ValueError, match='boxes'):
        agmm_plus(fill_ratio=dict(boxes=0.5))
    with pytest.raises(ValueError, match='fill_ratio'):
        agmm_plus(fill_ratio=dict(box=1.5))


def test_class_slots_gather_each_images_classes():
    classes = torch.tensor([[False, True, False, True], [True, False, False, False]])
    slots = ClassSlots.of(classes)
    assert slots.index[0].tolist() == [1, 3]
    assert slots.index[1, 0].item() == 0 and not classes[1, slots.index[1, 1]]
    values = torch.arange(8.).view(2, 4, 1, 1)
    assert slots.gather(values)[0].flatten().tolist() == [1., 3.]
