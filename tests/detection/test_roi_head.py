"""The RoI head's replaceable parts: assigner, classifier, loss weights."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from wsvision.models.roi_heads import (BACKGROUND, IGNORED, AssignResult,
                                       MaxIoUAssigner, RoIHeadOutput)
from wsvision.registry import MODELS
from wsvision.structures import InstanceData

from tests.detection.helpers import NUM_CLASSES, tiny_detector_cfg

GT = InstanceData(bboxes=torch.tensor([[10., 10., 30., 30.], [40., 40., 60., 60.]]),
                  labels=torch.tensor([2, 0]))


def build_head(**overrides):
    torch.manual_seed(0)
    return MODELS.build(tiny_detector_cfg(**overrides)['roi_head'])


def pyramid(batch=1, size=64):
    torch.manual_seed(0)
    return {str(i): torch.randn(batch, 16, size // s, size // s)
            for i, s in enumerate((4, 8, 16))}


def test_max_iou_assigner_matches_hand_computed_ious():
    assigner = MaxIoUAssigner(NUM_CLASSES, fg_iou_thr=0.5, bg_iou_thr=0.3)
    proposals = torch.tensor([
        [10., 10., 30., 30.],   # IoU 1 with box 0
        [12., 10., 32., 30.],   # IoU 18*20 / (2*400 - 360) = 0.818 with box 0
        [20., 10., 40., 30.],   # IoU 200 / 600 = 0.333 with box 0: ignored
        [0., 40., 20., 60.],    # IoU 0: background
        [45., 40., 65., 60.]])  # IoU 300 / 500 = 0.6 with box 1
    result = assigner.assign(proposals, GT)
    assert result.matched_gt_idx.tolist() == [0, 0, IGNORED, BACKGROUND, 1]
    assert result.labels.tolist() == [2, 2, -1, NUM_CLASSES, 0]


def test_assigner_without_ground_truth_gives_background():
    empty = InstanceData(bboxes=torch.zeros(0, 4),
                         labels=torch.zeros(0, dtype=torch.long))
    result = MaxIoUAssigner(NUM_CLASSES).assign(torch.rand(4, 4) * 10, empty)
    assert result.matched_gt_idx.tolist() == [BACKGROUND] * 4
    assert result.labels.tolist() == [NUM_CLASSES] * 4


def test_assigner_rejects_inverted_thresholds():
    with pytest.raises(ValueError, match='bg_iou_thr'):
        MaxIoUAssigner(NUM_CLASSES, fg_iou_thr=0.3, bg_iou_thr=0.5)


def test_assign_and_sample_targets():
    head = build_head(num_samples=8, pos_fraction=0.25)
    proposals = [torch.tensor([[0., 0., 8., 8.], [50., 0., 60., 8.],
                               [0., 50., 8., 60.], [20., 0., 30., 8.],
                               [12., 10., 32., 30.]])]
    targets = head.assign_and_sample(proposals, [GT])
    labels = targets.labels
    # 7 proposals (5 + 2 ground-truth boxes): 3 foreground, 4 background;
    # at most 8 * 0.25 = 2 foreground are sampled, the rest background.
    assert len(labels) == 6 and (labels < NUM_CLASSES).sum() == 2
    assert (labels == NUM_CLASSES).sum() == 4
    foreground = labels < NUM_CLASSES
    matched = targets.matched_gt_idx[foreground]
    assert torch.equal(labels[foreground], GT.labels[matched])
    assert (targets.matched_gt_idx[~foreground] == -1).all()
    assert torch.equal(targets.bbox_weights, foreground.float())
    assert torch.equal(targets.label_weights, torch.ones(6))
    assert (targets.bbox_targets[~foreground] == 0).all()
    # Each regression target decodes back onto its ground-truth box.
    decoded = head.box_coder.decode_single(targets.bbox_targets[foreground],
                                           targets.proposals[0][foreground])
    torch.testing.assert_close(decoded, GT.bboxes[matched])


def head_output_and_targets(head, gt=GT):
    feats = pyramid()
    targets = head.assign_and_sample([torch.tensor([[11., 9., 31., 29.],
                                                    [0., 40., 20., 60.]])], [gt])
    return head(feats, targets.proposals), targets


def test_losses_match_hand_computed_values():
    head = build_head()
    output, targets = head_output_and_targets(head)
    losses = head.loss_by_output(output, targets)
    expected_ce = F.cross_entropy(output.cls_logits, targets.labels)
    torch.testing.assert_close(losses['loss_cls'], expected_ce)
    foreground = torch.where(targets.labels < NUM_CLASSES)[0]
    deltas = output.bbox_deltas.view(-1, NUM_CLASSES, 4)[
        foreground, targets.labels[foreground]]
    expected_l1 = F.smooth_l1_loss(deltas, targets.bbox_targets[foreground],
                                   beta=1 / 9, reduction='sum') / len(targets.labels)
    torch.testing.assert_close(losses['loss_bbox'], expected_l1)


def test_zero_proposal_weights_give_zero_classification_loss():
    head = build_head()
    output, targets = head_output_and_targets(head)
    targets.label_weights = torch.zeros_like(targets.label_weights)
    losses = head.loss_by_output(output, targets)
    assert losses['loss_cls'].item() == 0
    assert losses['loss_bbox'].item() > 0


def test_ground_truth_weights_reach_the_matched_proposals():
    head = build_head()
    weighted = InstanceData(bboxes=GT.bboxes, labels=GT.labels,
                            label_weights=torch.tensor([0.25, 0.5]),
                            bbox_weights=torch.tensor([0.0, 0.0]))
    output, targets = head_output_and_targets(head, weighted)
    foreground = targets.labels < NUM_CLASSES
    assert foreground.any() and (~foreground).any()
    expected = torch.tensor([0.25, 0.5])[targets.matched_gt_idx[foreground]]
    torch.testing.assert_close(targets.label_weights[foreground], expected)
    assert (targets.label_weights[~foreground] == 1).all()
    ce = F.cross_entropy(output.cls_logits, targets.labels, reduction='none')
    losses = head.loss_by_output(output, targets)
    torch.testing.assert_close(
        losses['loss_cls'], (ce * targets.label_weights).sum() / len(ce))
    assert losses['loss_bbox'].item() == 0


@MODELS.register_module(force=True)
class ZeroBackgroundClassifierForTest(nn.Module):
    """Cosine scores against fixed class embeddings; background logit 0."""

    def __init__(self, in_channels, num_classes, embed_dim=8):
        super().__init__()
        self.project = nn.Linear(in_channels, embed_dim)
        self.register_buffer('embeddings', torch.randn(num_classes, embed_dim))

    def forward(self, roi_feats):
        logits = F.normalize(self.project(roi_feats), dim=1) @ F.normalize(
            self.embeddings, dim=1).t()
        return torch.cat([logits, logits.new_zeros(len(logits), 1)], dim=1)


@MODELS.register_module(force=True)
class EverythingBackgroundAssignerForTest:
    def __init__(self, num_classes):
        self.num_classes = num_classes

    def assign(self, proposals, gt_instances):
        n = len(proposals)
        return AssignResult(torch.full((n,), BACKGROUND),
                            torch.full((n,), self.num_classes))


def test_classifier_and_assigner_are_replaceable_from_config():
    head = build_head(
        classifier=dict(type='ZeroBackgroundClassifierForTest', embed_dim=8),
        assigner=dict(type='EverythingBackgroundAssignerForTest'),
        class_agnostic_reg=True)
    assert head.classifier.project.in_features == 64
    output, targets = head_output_and_targets(head)
    assert output.cls_logits.shape == (len(targets.labels), NUM_CLASSES + 1)
    assert (output.cls_logits[:, -1] == 0).all()
    assert output.bbox_deltas.shape == (len(targets.labels), 4)
    assert (targets.labels == NUM_CLASSES).all()
    losses = head.loss_by_output(output, targets)
    assert losses['loss_bbox'].item() == 0
    torch.testing.assert_close(
        losses['loss_cls'],
        F.cross_entropy(output.cls_logits, targets.labels))


def test_postprocess_scores_nms_and_class_agnostic_boxes():
    head = build_head(class_agnostic_reg=True, nms_thr=0.5, score_thr=0.05)
    proposals = [torch.tensor([[10., 10., 30., 30.], [11., 10., 31., 30.],
                               [40., 40., 60., 60.]])]
    logits = torch.tensor([[0., 5., 0., 0.],     # class 1, p = e^5 / (e^5 + 3)
                           [0., 4., 0., 0.],     # suppressed by the first box
                           [0., 0., 0., 6.]])    # background
    output = RoIHeadOutput(proposals, torch.zeros(3, 16, 7, 7),
                           torch.zeros(3, 64), logits, torch.zeros(3, 4))
    result = head.postprocess(output, [(64, 64)])[0]
    top = result.scores.argmax()
    assert result.labels[top] == 1
    assert math.isclose(result.scores[top].item(),
                        math.exp(5) / (math.exp(5) + 3), rel_tol=1e-5)
    torch.testing.assert_close(result.bboxes[top], proposals[0][0])
    # The near-duplicate class-1 box is suppressed; what remains are other
    # classes of the same boxes above the score threshold.
    class1 = result.bboxes[result.labels == 1]
    assert len(class1) == 1
    assert (result.scores > 0.05).all()
