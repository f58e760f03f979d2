"""Proposal-to-ground-truth assignment for the RoI head.

An assigner is any object with ``assign(proposals, gt_instances) ->
AssignResult``; the RoI head builds it from its config with ``num_classes``
filled in, so a method swaps the assignment rule (e.g. MarvelOVD's stratified
base-then-novel matching) without touching the head. Sampling, regression
targets and loss weights stay in the head and are shared by every assigner.
"""
from dataclasses import dataclass

import torch
from mmengine.structures import InstanceData
from torchvision.models.detection._utils import Matcher
from torchvision.ops import box_iou

from ...registry import MODELS

#: ``AssignResult.matched_gt_idx`` of a background proposal.
BACKGROUND = Matcher.BELOW_LOW_THRESHOLD
#: ``AssignResult.matched_gt_idx`` of a proposal left out of the loss.
IGNORED = Matcher.BETWEEN_THRESHOLDS


@dataclass
class AssignResult:
    """Assignment of n proposals of one image.

    matched_gt_idx: (n,) int64 index into the image's ``gt_instances``;
        ``BACKGROUND`` (-1) or ``IGNORED`` (-2) when unmatched.
    labels: (n,) int64 class in 0..K-1 for foreground, K for background,
        -1 for ignored proposals.
    """
    matched_gt_idx: torch.Tensor
    labels: torch.Tensor


@MODELS.register_module()
class MaxIoUAssigner:
    """Match each proposal to its highest-IoU ground-truth box.

    IoU >= ``fg_iou_thr``: foreground with that box's label; IoU <
    ``bg_iou_thr``: background; in between: ignored. ``allow_low_quality``
    also makes each box's best proposal foreground (as the RPN does).
    """

    def __init__(self, num_classes: int, fg_iou_thr: float = 0.5,
                 bg_iou_thr: float = 0.5, allow_low_quality: bool = False):
        if bg_iou_thr > fg_iou_thr:
            raise ValueError(f'bg_iou_thr ({bg_iou_thr}) must not exceed '
                             f'fg_iou_thr ({fg_iou_thr})')
        self.num_classes = num_classes
        self.matcher = Matcher(fg_iou_thr, bg_iou_thr, allow_low_quality)

    def assign(self, proposals: torch.Tensor,
               gt_instances: InstanceData) -> AssignResult:
        """proposals: (n, 4) xyxy; gt_instances: ``bboxes`` (m, 4) and
        ``labels`` (m,)."""
        num = proposals.shape[0]
        if len(gt_instances) == 0 or num == 0:
            return AssignResult(
                proposals.new_full((num,), BACKGROUND, dtype=torch.long),
                proposals.new_full((num,), self.num_classes, dtype=torch.long))
        matched = self.matcher(box_iou(gt_instances.bboxes, proposals))
        labels = gt_instances.labels[matched.clamp(min=0)].clone()
        labels[matched == BACKGROUND] = self.num_classes
        labels[matched == IGNORED] = -1
        return AssignResult(matched, labels)
