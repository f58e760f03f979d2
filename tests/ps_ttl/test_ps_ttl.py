"""PS-TTL's parts: gradient-decoupled layers, soft labels, prototype update,
the pseudo-label losses and loading a fine-tuned detector."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from tests.detection.helpers import (det_sample, synthetic_batch,
                                     tiny_detector_cfg)
from wsvision.evaluation.metrics import FewShotCocoMetric
from wsvision.models.detectors.ps_ttl import (GradientDecoupledLayer,
                                              prototype_soft_labels,
                                              soft_label_kl,
                                              updated_prototypes)
from wsvision.registry import MODELS


def ps_ttl_cfg(**overrides):
    detector = tiny_detector_cfg()
    detector.update(
        rpn_adapter=dict(type='GradientDecoupledLayer', in_channels=16,
                         grad_scale=0.0),
        roi_adapter=dict(type='GradientDecoupledLayer', in_channels=16,
                         grad_scale=0.001))
    return dict(type='PSTTL', detector=detector, queue_size=8, **overrides)


def test_gradient_decoupled_layer_scales_backbone_gradient_only():
    layer = GradientDecoupledLayer(in_channels=2, grad_scale=0.25)
    with torch.no_grad():
        layer.weight.fill_(3.0)
    x = torch.ones(1, 2, 2, 2, requires_grad=True)
    out = layer({'0': x})['0']
    torch.testing.assert_close(out, 3.0 * x.detach())
    out.sum().backward()
    # d out / d x = weight = 3, scaled by 0.25; the affine weight gets all
    torch.testing.assert_close(x.grad, torch.full_like(x, 0.75))
    torch.testing.assert_close(layer.weight.grad, torch.full((1, 2, 1, 1), 4.0))
    frozen = GradientDecoupledLayer(in_channels=2, grad_scale=0.0)
    y = torch.ones(1, 2, 1, 1, requires_grad=True)
    frozen({'0': y})['0'].sum().backward()
    assert torch.count_nonzero(y.grad) == 0


def test_soft_labels_match_a_hand_example():
    # f = (1, 0); prototypes at 0, 60 and 90 degrees (and one of norm 2):
    # cos = 1, 0.5, 0 -> softmax(10 * cos)
    feats = torch.tensor([[2.0, 0.0]])
    prototypes = torch.tensor([[1.0, 0.0], [1.0, math.sqrt(3.0)], [0.0, 2.0]])
    soft = prototype_soft_labels(feats, prototypes, temperature=10.0)
    weights = [math.exp(10.0), math.exp(5.0), math.exp(0.0)]
    expected = torch.tensor([[w / sum(weights) for w in weights]])
    torch.testing.assert_close(soft, expected)
    # KL(soft || student): sum_k p_k log(p_k / q_k), q over K + 1 columns
    logits = torch.tensor([[1.0, 0.0, 0.0, 2.0]])
    q = torch.softmax(logits, dim=1)[0, :3]
    by_hand = sum(p * math.log(p / qk) for p, qk in zip(expected[0], q))
    torch.testing.assert_close(soft_label_kl(logits, soft),
                               torch.tensor(float(by_hand)))


def test_prototype_update_half_old_half_queue_mean():
    old = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    means = torch.tensor([[3.0, 2.0], [9.0, 9.0], [0.0, 0.0]])
    seen = torch.tensor([True, False, True])
    new = updated_prototypes(old, means, seen, momentum=0.5)
    torch.testing.assert_close(new, torch.tensor([[2.0, 1.0], [0.0, 1.0],
                                                  [1.0, 1.0]]))


def with_strong_view(batch, labelled):
    for sample, flag in zip(batch['data_samples'], labelled):
        sample.strong_inputs = 255 - torch.as_tensor(batch['inputs'][0])
        sample.set_metainfo(dict(labelled=flag))
    return batch


def test_pseudo_label_losses_uncertain_boxes_and_prototypes(monkeypatch):
    torch.manual_seed(0)
    model = MODELS.build(ps_ttl_cfg())
    batch = with_strong_view(synthetic_batch(), labelled=[False, True])
    model.add_prototype_features(*model.data_preprocessor(
        synthetic_batch(), False).values())
    model.reset_prototypes()
    assert model.prototype_queue.counts.tolist() == [1, 1, 1]
    initial = model.prototypes.clone()

    # The teacher "detects" one hard box (0.95), one uncertain box (0.7)
    # and one below the band (0.3) in the unlabelled image.
    detections = InstanceData(
        bboxes=torch.tensor([[8., 8, 30, 36], [36, 20, 60, 44],
                             [0, 40, 20, 60]]),
        scores=torch.tensor([0.95, 0.7, 0.3]), labels=torch.tensor([0, 2, 1]))
    monkeypatch.setattr(model.teacher.roi_head, 'predict',
                        lambda *args: [detections])
    seen = {}
    original = model.student.roi_head.loss_by_output

    def spy(output, targets):
        seen['targets'] = targets
        return original(output, targets)
    monkeypatch.setattr(model.student.roi_head, 'loss_by_output', spy)

    data = model.data_preprocessor(batch, True)
    losses = model.loss(**data)
    assert {'sup_loss_cls', 'sup_loss_bbox', 'sup_loss_rpn_cls',
            'loss_rpn_cls_pl', 'loss_cls_pl', 'loss_soft_pl'} <= set(losses)
    assert 'loss_bbox_pl' not in losses
    assert losses['loss_soft_pl'] > 0
    sum(losses.values()).backward()
    # The pseudo-label RoI losses saw the hard and uncertain boxes; RoIs of
    # the uncertain box (index 1) have no cross-entropy and no regression.
    targets = seen['targets']
    pseudo_rows = targets.matched_gt_idx[:len(targets.proposals[0])]
    weights = targets.label_weights[:len(pseudo_rows)]
    assert (pseudo_rows == 1).any() and (pseudo_rows == 0).any()
    assert torch.all(weights[pseudo_rows == 1] == 0)
    assert torch.all(weights[pseudo_rows == 0] == 1)
    assert torch.all(targets.bbox_weights[:len(pseudo_rows)] == 0)
    # Hard-matched RoIs fed class 0's queue and moved its prototype only.
    counts = model.prototype_queue.counts.tolist()
    assert counts[0] > 1 and counts[1:] == [1, 1]
    assert not torch.equal(model.prototypes[0], initial[0])
    torch.testing.assert_close(model.prototypes[1:], initial[1:])
    # Quality stats against the hidden ground truth of the stream image: the
    # hard box is right; the uncertain box covers the class-2 object, and
    # both the teacher and the soft label (prototype 2 came from this very
    # box) name class 2.
    assert model.pl_stats == dict(tp=1, num_pred=1, num_gt=2, unc_matched=1,
                                  unc_teacher_correct=1, unc_soft_correct=1)
    # Prototypes in the wrong slots: the soft label is now wrong.
    with torch.no_grad():
        model.prototypes.copy_(initial[[2, 0, 1]])
    model.pl_stats = {}
    model.loss(**model.data_preprocessor(batch, True))
    assert model.pl_stats['unc_matched'] == 1
    assert model.pl_stats['unc_teacher_correct'] == 1
    assert model.pl_stats['unc_soft_correct'] == 0


def test_soft_label_weight_zero_turns_the_kl_off(monkeypatch):
    torch.manual_seed(0)
    model = MODELS.build(ps_ttl_cfg(soft_label_weight=0.0))
    batch = with_strong_view(synthetic_batch(), labelled=[False, False])
    monkeypatch.setattr(model.teacher.roi_head, 'predict', lambda *a: [
        InstanceData(bboxes=torch.tensor([[36., 20, 60, 44]]),
                     scores=torch.tensor([0.7]), labels=torch.tensor([2]))] * 2)
    losses = model.loss(**model.data_preprocessor(batch, True))
    assert losses['loss_soft_pl'].item() == 0.0
    assert not any(k.startswith('sup_') for k in losses)


def test_detector_checkpoint_loads_into_student_and_teacher():
    torch.manual_seed(0)
    detector = MODELS.build(ps_ttl_cfg()['detector'])
    torch.manual_seed(1)
    model = MODELS.build(ps_ttl_cfg())
    model.load_state_dict(detector.state_dict(), strict=False)
    for part in (model.student, model.teacher):
        for name, value in detector.state_dict().items():
            assert torch.equal(part.state_dict()[name], value), name
    model.teacher.backbone.conv1.weight.data.add_(1.0)
    # a PS-TTL checkpoint loads as it is
    state = model.state_dict()
    fresh = MODELS.build(ps_ttl_cfg())
    fresh.load_state_dict(state)
    assert torch.equal(fresh.teacher.backbone.conv1.weight,
                       model.teacher.backbone.conv1.weight)


def test_fewshot_metric_novel_and_base_ap50():
    metric = FewShotCocoMetric(novel_classes=['b'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    sample = det_sample([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 60, 60]],
                        [0, 1, 2]).to_dict()
    # a and b detected exactly, c missed
    sample['pred_instances'] = dict(
        bboxes=torch.tensor([[0., 0, 10, 10], [20, 20, 30, 30]]),
        scores=torch.tensor([0.9, 0.8]), labels=torch.tensor([0, 1]))
    metric.process({}, [sample])
    metrics = metric.evaluate(1)
    assert metrics['coco/nAP50'] == pytest.approx(1.0)
    assert metrics['coco/bAP50'] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="'z'"):
        bad = FewShotCocoMetric(novel_classes=['z'])
        bad.dataset_meta = dict(classes=('a',))
        bad.compute_metrics([])
