"""What a person-search model hands to its re-identification loss."""
from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class ReIDBatch:
    """The re-ID embeddings of one training batch (G ground-truth boxes over
    the batch, R positive RoIs, D the embedding width; all L2-normalised).

    roi_embeds: (R, D) embeddings of the sampled RoIs matched to a box.
    roi_gt: (R,) int64 index of each RoI's box among the G boxes.
    gt_embeds: (G, D) embeddings of the boxes themselves (instance features).
    gt_image: (G,) int64 index of each box's image in the batch.
    gt_instance_ids: (G,) int64 index of each box over the training set.
    gt_person_ids: (G,) int64 identities (-1 unknown), or None when the data
        has none (weak supervision).
    exemplar_embeds: (G, K + 1, D) multi-scale exemplar embeddings, the
        original scale first, or None without the exemplar branch.
    """
    roi_embeds: torch.Tensor
    roi_gt: torch.Tensor
    gt_embeds: torch.Tensor
    gt_image: torch.Tensor
    gt_instance_ids: torch.Tensor
    gt_person_ids: Optional[torch.Tensor] = None
    exemplar_embeds: Optional[torch.Tensor] = None
