"""Offline candidate pseudo-labels from a VLM (methods.md section 2,
"Offline candidate pseudo-labels").

- ``crop_boxes``: crops of an image around boxes, enlarged by a scale factor;
- ``vlm_box_probs``: image embeddings averaged over the crop scales (1.0 and
  1.5), scored by a softmax over the *novel* class names only, with prompt-
  ensemble text embeddings and temperature 0.01;
- ``select_pseudo_labels``: top-1 class kept when its score exceeds 0.5, then
  per-class NMS at IoU 0.6;
- ``pseudo_label_coco``: the PL file, base ground truth and PLs told apart by
  the explicit ``pseudo_label`` field.
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torchvision.ops import batched_nms

from ..vlm import VisionLanguageModel, zero_shot_probs
from .data import PL_FIELD


def crop_boxes(image: torch.Tensor, boxes: torch.Tensor,
               scale: float) -> List[torch.Tensor]:
    """Crops (3, h, w) of ``image`` (3, H, W) around each xyxy box of
    ``boxes`` (n, 4), the box enlarged ``scale`` times about its centre and
    clipped to the image (at least one pixel)."""
    height, width = image.shape[-2:]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * scale / 2
    crops = []
    for (cx, cy), (hw, hh) in zip(centre.tolist(), half.tolist()):
        x1, y1 = max(int(cx - hw), 0), max(int(cy - hh), 0)
        x2 = min(max(int(round(cx + hw)), x1 + 1), width)
        y2 = min(max(int(round(cy + hh)), y1 + 1), height)
        crops.append(image[:, min(y1, y2 - 1):y2, min(x1, x2 - 1):x2])
    return crops


@torch.no_grad()
def vlm_box_probs(vlm: VisionLanguageModel, image: torch.Tensor,
                  boxes: torch.Tensor, class_embeds: torch.Tensor,
                  scales: Sequence[float] = (1.0, 1.5),
                  temperature: float = 0.01) -> torch.Tensor:
    """(n, K) softmax scores of n boxes over the K classes of ``class_embeds``
    (K, D); the crop embeddings of all ``scales`` are averaged first."""
    if boxes.numel() == 0:
        return boxes.new_zeros((0, class_embeds.shape[0]))
    embeds = torch.stack([vlm.encode_image(crop_boxes(image, boxes, s))
                          for s in scales]).mean(0)
    return zero_shot_probs(F.normalize(embeds, dim=-1),
                           class_embeds.to(embeds), temperature)


def select_pseudo_labels(boxes: torch.Tensor, probs: torch.Tensor,
                         score_thr: float = 0.5, nms_thr: float = 0.6
                         ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-1 class per box, kept above ``score_thr``, then per-class NMS.

    Returns (boxes (m, 4), scores (m,), labels (m,) indices into the columns
    of ``probs``), highest score first.
    """
    scores, labels = probs.max(dim=1) if probs.numel() else (
        probs.new_zeros(0), probs.new_zeros(0, dtype=torch.long))
    keep = torch.where(scores > score_thr)[0]
    keep = keep[batched_nms(boxes[keep].float(), scores[keep], labels[keep],
                            nms_thr)]
    return boxes[keep], scores[keep], labels[keep]


def pseudo_label_coco(base: dict, pseudo_labels: Dict[int, InstanceData],
                      category_ids: Sequence[int], settings: dict) -> dict:
    """The PL file: ``base`` (a COCO dict of ground truth) with every
    annotation marked ``pseudo_label: false``, plus one annotation per PL
    (``pseudo_label: true``, its ``score``).

    ``pseudo_labels``: {image id: InstanceData with ``bboxes`` (m, 4) xyxy,
    ``scores`` and ``labels`` indexing ``category_ids``}. ``settings`` go to
    ``info.pseudo_labels``.
    """
    annotations = [dict(ann, **{PL_FIELD: False}) for ann in base['annotations']]
    next_id = max([ann['id'] for ann in annotations], default=0) + 1
    for img_id, pls in pseudo_labels.items():
        for box, score, label in zip(pls.bboxes.tolist(), pls.scores.tolist(),
                                     pls.labels.tolist()):
            x1, y1, x2, y2 = box
            annotations.append({
                'id': next_id, 'image_id': img_id,
                'category_id': int(category_ids[label]),
                'bbox': [round(x1, 2), round(y1, 2), round(x2 - x1, 2),
                         round(y2 - y1, 2)],
                'area': round((x2 - x1) * (y2 - y1), 2), 'iscrowd': 0,
                PL_FIELD: True, 'score': round(float(score), 4)})
            next_id += 1
    info = dict(base.get('info', {}), pseudo_labels=settings)
    return dict(base, annotations=annotations, info=info)
