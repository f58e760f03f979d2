"""MarvelOVD's pieces: the PL file, stratified assignment, mining scores,
adaptive reweighting, the text-embedding classifier and a training step."""
import json
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from wsvision.datasets.io import DataError
from wsvision.models.ovd import (OVDPseudoLabelDataset, StratifiedAssigner,
                                 adaptive_weights, crop_boxes, mining_scores,
                                 pseudo_label_coco, select_pseudo_labels)
from wsvision.models.roi_heads import (BACKGROUND, MaxIoUAssigner,
                                       RoIHeadOutput, RoITargets)
from wsvision.registry import MODELS

from tests.detection.helpers import synthetic_batch
from tests.ovd.helpers import CLASS_NAMES, TINY_VLM, ensure_ovd, tiny_marvel_cfg

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadOVDAnnotations'),
            dict(type='PackOVDInputs')]


def set_iter(it):
    MessageHub.get_current_instance().update_info('iter', it)


def test_pseudo_label_file_round_trips(tiny_scenes, tmp_path):
    init_default_scope('wsvision')
    root = ensure_ovd(tiny_scenes)
    base = json.load(open(f'{root}/ovd/instances_train_base.json'))
    novel_ids = base['info']['novel_ids']
    img_id = base['images'][0]['id']
    # A PL whose score rounds to 1 must stay a PL.
    pls = {img_id: InstanceData(bboxes=torch.tensor([[1., 2., 21., 30.]]),
                                scores=torch.tensor([0.99997]),
                                labels=torch.tensor([2]))}
    coco = pseudo_label_coco(base, pls, novel_ids, dict(score_thr=0.5))
    out = tmp_path / 'pl.json'
    out.write_text(json.dumps(coco))
    loaded = json.loads(out.read_text())
    assert loaded['info']['pseudo_labels'] == dict(score_thr=0.5)
    pl_anns = [a for a in loaded['annotations'] if a['pseudo_label']]
    assert len(pl_anns) == 1 and pl_anns[0]['score'] == 1.0
    assert pl_anns[0]['category_id'] == novel_ids[2]
    assert pl_anns[0]['bbox'] == [1.0, 2.0, 20.0, 28.0]
    assert sum(not a['pseudo_label'] for a in loaded['annotations']) == \
        len(base['annotations'])

    dataset = OVDPseudoLabelDataset(data_root=root, ann_file=str(out),
                                    hidden_ann_file='train/instances.json',
                                    pipeline=PIPELINE)
    index = [dataset.get_data_info(i)['img_id']
             for i in range(len(dataset))].index(img_id)
    gt = dataset[index]['data_samples'].gt_instances
    num_base = sum(a['image_id'] == img_id for a in base['annotations'])
    assert gt.pl_flags.tolist() == [False] * num_base + [True]
    assert gt.scores.tolist() == [1.0] * (num_base + 1)
    torch.testing.assert_close(gt.bboxes[-1], torch.tensor([1., 2., 21., 30.]))
    classes = dataset.metainfo['classes']
    assert classes[gt.labels[-1]] == base['info']['novel_classes'][2]
    hidden = dataset[index]['data_samples'].hidden_instances
    full = json.load(open(f'{root}/train/instances.json'))
    assert len(hidden) == sum(a['image_id'] == img_id
                              for a in full['annotations'])


def test_pseudo_label_file_without_the_field_is_refused(tiny_scenes, tmp_path):
    root = ensure_ovd(tiny_scenes)
    base = json.load(open(f'{root}/ovd/instances_train_base.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(base))
    with pytest.raises(DataError, match='bad.json.*pseudo_label'):
        OVDPseudoLabelDataset(data_root=root, ann_file=str(bad),
                              pipeline=PIPELINE)


def test_stratified_assignment_gives_overlaps_to_base_first():
    gt = InstanceData(
        bboxes=torch.tensor([[0., 0., 20., 20.], [2., 2., 22., 22.],
                             [40., 40., 60., 60.]]),
        labels=torch.tensor([1, 2, 2]),
        pl_flags=torch.tensor([False, True, True]))
    proposals = torch.tensor([[0., 0., 20., 20.],    # base IoU 1
                              [3., 3., 23., 23.],    # base 0.57, PL 0.82
                              [41., 41., 61., 61.],  # the lone PL
                              [90., 90., 99., 99.]])  # nothing
    stratified = StratifiedAssigner(num_classes=3).assign(proposals, gt)
    assert stratified.matched_gt_idx.tolist() == [0, 0, 2, BACKGROUND]
    assert stratified.labels.tolist() == [1, 1, 2, 3]
    # Plain max-IoU hands the contested proposal to the overlapping PL.
    plain = MaxIoUAssigner(num_classes=3).assign(proposals, gt)
    assert plain.matched_gt_idx.tolist() == [0, 1, 2, BACKGROUND]
    assert plain.labels.tolist() == [1, 2, 2, 3]
    # Without PLs, or without base boxes, it is the plain assigner.
    only_pl = gt[torch.tensor([1, 2])]
    assert StratifiedAssigner(3).assign(proposals, only_pl).labels.tolist() \
        == MaxIoUAssigner(3).assign(proposals, only_pl).labels.tolist()


def test_mining_score_is_max_normalised_within_the_image():
    vlm = torch.tensor([0.9, 0.8, 1.0])
    novelty = torch.tensor([0.2, 0.4, 0.1])
    s = mining_scores(vlm, novelty)
    torch.testing.assert_close(s, 0.5 * vlm + 0.5 * torch.tensor([0.5, 1., .25]))
    # Scaling the novelty of the whole image changes nothing.
    torch.testing.assert_close(mining_scores(vlm, 3 * novelty), s)
    torch.testing.assert_close(mining_scores(vlm, torch.zeros(3)), 0.5 * vlm)
    torch.testing.assert_close(mining_scores(vlm, novelty, vlm_weight=1.0), vlm)


def test_reweighting_formula_and_which_proposals_it_touches():
    b = torch.tensor([0.0, 1.0, 0.5, 0.2])
    s = torch.tensor([1.0, 0.0, 0.9, 0.95])
    torch.testing.assert_close(adaptive_weights(b, s),
                               2 * (0.5 * (1 - b) + 0.5 * s))
    assert adaptive_weights(torch.tensor(0.), torch.tensor(1.)) == 2.0
    assert adaptive_weights(torch.tensor(1.), torch.tensor(0.)) == 0.0

    model = MODELS.build(tiny_marvel_cfg())
    gt = InstanceData(bboxes=torch.zeros(2, 4), labels=torch.tensor([0, 2]),
                      pl_flags=torch.tensor([False, True]),
                      scores=torch.tensor([1.0, 0.92]))
    # RoIs: on the base box, on the PL, background.
    logits = torch.tensor([[2., 0., 0., 0.], [0., 0., 1., 0.5],
                           [0., 0., 0., 3.]])
    targets = RoITargets([torch.zeros(3, 4)], torch.tensor([0, 2, 3]),
                         torch.tensor([0, 1, -1]), torch.zeros(3, 4),
                         torch.ones(3), torch.ones(3))
    output = RoIHeadOutput([torch.zeros(3, 4)], None, None, logits, None)
    weights = model._adaptive_label_weights(output, targets, [gt])
    b = logits.softmax(-1)[1, -1]
    torch.testing.assert_close(
        weights, torch.stack([torch.tensor(1.), 2 * (0.5 * (1 - b) + 0.5 * 0.92),
                              torch.tensor(1.)]))


def test_text_classifier_has_a_zero_background_row_and_frozen_names():
    from wsvision.registry import ENCODERS
    model = MODELS.build(tiny_marvel_cfg())
    classifier = model.roi_head.classifier
    logits = classifier(torch.randn(5, 64))
    assert logits.shape == (5, len(CLASS_NAMES) + 1)
    assert torch.all(logits[:, -1] == 0)
    torch.testing.assert_close(
        classifier.text_embeds,
        ENCODERS.build(TINY_VLM).class_embeddings(CLASS_NAMES))
    assert 'text_embeds' not in dict(classifier.named_parameters())
    assert model.novel_labels.tolist() == [2]
    with pytest.raises(ValueError, match='class_names'):
        MODELS.build(dict(type='TextEmbeddingClassifier', in_channels=8,
                          num_classes=2, vlm=TINY_VLM, class_names=['a']))
    with pytest.raises(ValueError, match="'shirt'"):
        MODELS.build(tiny_marvel_cfg(novel_classes=['shirt']))


def test_box_selection_burn_in_then_mining(monkeypatch):
    model = MODELS.build(tiny_marvel_cfg(burn_in_iters=5))
    gt = InstanceData(bboxes=torch.tensor([[0., 0., 9., 9.], [1., 1., 9., 9.],
                                           [2., 2., 9., 9.], [3., 3., 9., 9.]]),
                      labels=torch.tensor([0, 2, 2, 2]),
                      pl_flags=torch.tensor([False, True, True, True]),
                      scores=torch.tensor([1.0, 0.95, 0.85, 0.5]))
    kept = model.select_boxes({}, [gt], burn_in=True)[0]
    assert kept.scores.tolist() == pytest.approx([1.0, 0.95])
    # Novel probabilities 0.9, 0.9, 0.45 -> z / max z = 1, 1, 0.5.
    probs = torch.tensor([[0.05, 0.05, 0.9, 0.0], [0.05, 0.05, 0.9, 0.0],
                          [0.5, 0.05, 0.45, 0.0]])
    monkeypatch.setattr(model, 'roi_forward', lambda feats, boxes: (
        SimpleNamespace(cls_logits=probs.log())))
    kept = model.select_boxes({}, [gt], burn_in=False)[0]
    # s = 0.975, 0.925, 0.5: the PL the VLM doubted is mined back in.
    assert kept.pl_flags.tolist() == [False, True, True]
    assert kept.scores.tolist() == pytest.approx([1.0, 0.975, 0.925])
    assert model.mining_stats['pl_kept'] == 2
    model.mining = False
    assert len(model.select_boxes({}, [gt], burn_in=False)[0]) == 2


def test_pseudo_label_selection_and_crops():
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
                          [0., 0., 10., 10.], [30., 30., 40., 40.]])
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.55, 0.45]])
    kept, scores, labels = select_pseudo_labels(boxes, probs, 0.6, 0.6)
    # Box 1 is suppressed by box 0 (same class, IoU 0.68); box 2 is another
    # class; box 3 falls under the threshold.
    assert scores.tolist() == pytest.approx([0.9, 0.7])
    assert labels.tolist() == [0, 1]
    image = torch.arange(3 * 20 * 30).view(3, 20, 30)
    crop, = crop_boxes(image, torch.tensor([[10., 4., 20., 12.]]), 1.0)
    assert crop.shape == (3, 8, 10)
    torch.testing.assert_close(crop, image[:, 4:12, 10:20])
    big, = crop_boxes(image, torch.tensor([[10., 4., 20., 12.]]), 1.5)
    assert big.shape == (3, 12, 15)
    edge, = crop_boxes(image, torch.tensor([[0., 0., 10., 10.]]), 1.5)
    assert edge.shape == (3, 12, 12)


def test_training_step_on_both_views_after_burn_in():
    torch.manual_seed(0)
    model = MODELS.build(tiny_marvel_cfg(burn_in_iters=1))
    batch = synthetic_batch()
    for i, sample in enumerate(batch['data_samples']):
        gt = sample.gt_instances
        gt.pl_flags = gt.labels == 2
        gt.scores = torch.where(gt.pl_flags, torch.tensor(0.95), torch.tensor(1.))
        sample.strong_inputs = 255 - batch['inputs'][i]
    set_iter(5)
    try:
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
    finally:
        set_iter(0)
    for key in ('loss_cls', 'loss_bbox', 'loss_rpn_cls', 'loss_rpn_bbox'):
        assert torch.isfinite(losses[key])
    assert losses['pl_given'] == 1
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.roi_head.classifier.proj.weight.grad.abs().sum() > 0
    model.strong_view = True
    del batch['data_samples'][0].strong_inputs
    with pytest.raises(ValueError, match='strong_inputs'):
        model(**model.data_preprocessor(batch, training=True), mode='loss')
