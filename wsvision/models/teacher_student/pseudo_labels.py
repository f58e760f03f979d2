"""Pseudo-label filtering: hard labels, an "uncertain" band, class filtering.

``split_pseudo_labels`` turns a teacher's detections of one image into

- ``hard``: score >= ``hard_thr`` (or the class's own threshold in
  ``class_thr``): trusted labels for cross-entropy;
- ``uncertain``: ``uncertain_thr <= score < hard_thr``, after NMS at
  ``nms_iou`` against the hard boxes (any class) and among themselves
  (PS-TTL, methods.md section 3: "NMS at IoU 0.5 against the hard boxes and
  against each other").

With ``allowed_classes`` only those labels are kept (class-aware filtering,
e.g. novel classes only).
"""
from dataclasses import dataclass
from typing import Dict, Iterable, Optional

import torch
from mmengine.structures import InstanceData
from torchvision.ops import box_iou, nms


@dataclass
class PseudoLabels:
    """Pseudo-labels of one image; both fields hold ``bboxes`` (n, 4),
    ``labels`` (n,) int64 and ``scores`` (n,)."""
    hard: InstanceData
    uncertain: InstanceData


def _subset(boxes, scores, labels, keep) -> InstanceData:
    return InstanceData(bboxes=boxes[keep], scores=scores[keep],
                        labels=labels[keep])


def split_pseudo_labels(boxes: torch.Tensor, scores: torch.Tensor,
                        labels: torch.Tensor, hard_thr: float,
                        uncertain_thr: Optional[float] = None,
                        nms_iou: float = 0.5,
                        class_thr: Optional[Dict[int, float]] = None,
                        allowed_classes: Optional[Iterable[int]] = None
                        ) -> PseudoLabels:
    """Split detections (``boxes`` (n, 4) xyxy, ``scores`` (n,), ``labels``
    (n,)) into hard and uncertain pseudo-labels (see module doc).

    ``class_thr``: {label: hard threshold} overriding ``hard_thr`` for those
    classes. Without ``uncertain_thr`` no box is uncertain.
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'boxes must be (n, 4), got {tuple(boxes.shape)}')
    if not (scores.shape == labels.shape == boxes.shape[:1]):
        raise ValueError(f'scores {tuple(scores.shape)} and labels '
                         f'{tuple(labels.shape)} must be ({boxes.shape[0]},)')
    if uncertain_thr is not None and uncertain_thr > hard_thr:
        raise ValueError(f'uncertain_thr ({uncertain_thr}) must not exceed '
                         f'hard_thr ({hard_thr})')
    labels = labels.long()
    thresholds = torch.full_like(scores, float(hard_thr))
    for cls, thr in (class_thr or {}).items():
        thresholds[labels == int(cls)] = float(thr)
    allowed = torch.ones_like(labels, dtype=torch.bool)
    if allowed_classes is not None:
        allowed = torch.isin(labels, torch.as_tensor(list(allowed_classes),
                                                     dtype=torch.long,
                                                     device=labels.device))
    is_hard = allowed & (scores >= thresholds)
    hard = _subset(boxes, scores, labels, is_hard)
    if uncertain_thr is None:
        is_uncertain = torch.zeros_like(is_hard)
    else:
        is_uncertain = allowed & ~is_hard & (scores >= uncertain_thr)
    candidates = torch.where(is_uncertain)[0]
    if len(candidates) and len(hard):
        overlaps = box_iou(boxes[candidates], hard.bboxes).amax(dim=1)
        candidates = candidates[overlaps <= nms_iou]
    if len(candidates):
        candidates = candidates[nms(boxes[candidates], scores[candidates],
                                    nms_iou)]
    return PseudoLabels(hard, _subset(boxes, scores, labels, candidates))
