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
    return torch.cat([(sample.gt_weak_seg if 'gt_weak_seg' in sample else sample.gt_sem_seg).data
                      for sample in data_samples])


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Half precision would underflow the probabilities; float64 stays."""
    return x if x.dtype == torch.float64 else x.float()


def stack_boxes(data_samples: List[SegDataSample], num_classes: int, device):
    """(image index (N,), class (N,), box (N, 4) x1 y1 x2 y2) of every box."""
    images, classes, boxes = [], [], []
    for index, sample in enumerate(data_samples):
        if 'gt_instances' not in sample:
            continue
        b = sample.gt_instances.bboxes.to(device).float().reshape(-1, 4)
        c = sample.gt_instances.labels.to(device).long().reshape(-1)
        if c.numel() and (c.min() < 0 or c.max() >= num_classes):
            raise ValueError(f'{sample.metainfo.get("img_path", f"sample {index}")}: box '
                             f'classes {c.tolist()} are not all in [0, {num_classes})')
        images.append(torch.full_like(c, index))
        classes.append(c)
        boxes.append(b)
    if not images:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty, torch.zeros(0, 4, device=device)
    return torch.cat(images), torch.cat(classes), torch.cat(boxes)


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
