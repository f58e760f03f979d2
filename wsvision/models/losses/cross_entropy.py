"""Pixel-wise cross-entropy on the labels each sample carries.

Weak labels (``gt_weak_seg``) take precedence over dense ones
(``gt_sem_seg``) when a sample has both: a run configured with a weak-label
set trains on it. Both the "unlabelled" value (254) and padding (255) are
excluded, so on sparse labels this is the partial cross-entropy.
"""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import MODELS
from ...structures import IGNORE_INDEX, UNLABELLED, SegDataSample


def stack_labels(data_samples: List[SegDataSample]) -> torch.Tensor:
    """The training label map of each sample, stacked to (B, H, W) int64."""
    labels = []
    for sample in data_samples:
        field = sample.gt_weak_seg if 'gt_weak_seg' in sample else sample.gt_sem_seg
        labels.append(field.data[0])
    return torch.stack(labels)


def labelled_mask(labels: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool: pixels that carry a class id."""
    return (labels != UNLABELLED) & (labels != IGNORE_INDEX)


@MODELS.register_module()
class PartialCrossEntropyLoss(nn.Module):
    """Mean cross-entropy over labelled pixels (dense labels: every valid pixel)."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_ce'):
        super().__init__()
        self.loss_weight = loss_weight
        self.loss_name = loss_name

    def forward(self, seg_logits: torch.Tensor, data_samples, **kwargs):
        labels = stack_labels(data_samples).to(seg_logits.device)
        mask = labelled_mask(labels)
        target = torch.where(mask, labels, torch.full_like(labels, IGNORE_INDEX))
        if not mask.any():
            # Keep the graph connected so DDP sees a gradient for every parameter.
            return {self.loss_name: seg_logits.sum() * 0}
        loss = F.cross_entropy(seg_logits, target, ignore_index=IGNORE_INDEX)
        return {self.loss_name: self.loss_weight * loss}
